//! The flags shared by `run`, `plan` and `drain` (and the journal flags `resume` and `status`
//! use too), merged with `recycle.yaml`, and resolved into [`RunOptions`] before anything is
//! touched.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{ArgMatches, Args, ValueEnum};
use serde_json::json;

use super::access::{CloudArgs, KubeArgs};
use super::args::{EngineArgs, Format, PolicySelection, UsageError};
use super::config::RecycleConfig;
use super::progress::Progress;
use crate::bindings::RunMode;
use crate::bundled::{self, Phase};
use crate::checks::{PolicySource, PolicySpec};
use crate::engine::{Limits, Runtime};
use crate::k8s::client::Clients;
use crate::run::journal::{self, JournalBackend};
use crate::run::runner::{self, LockOptions, RunOptions, RunOutcome, RunbookSource};
use crate::runbook::Cancel;
use crate::tke::client::TcClient;

fn usage(message: impl Into<String>) -> anyhow::Error {
    UsageError(message.into()).into()
}

/// What to do when a node's drain cannot finish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnBlocked {
    /// Uncordon the node and stop the run.
    Stop,
    /// Uncordon the node and go on with the next one.
    Skip,
}

/// Where the journal lives.
#[derive(Debug, Args)]
pub struct JournalArgs {
    /// State directory of the file journal (default: $TKE_RECYCLE_STATE_DIR, else the user's
    /// state directory + tke-recycle).
    #[arg(long = "journal", value_name = "DIR")]
    pub journal_dir: Option<PathBuf>,
    /// Keep the journal in a ConfigMap in the cluster, so any machine can resume the run.
    #[arg(long)]
    pub journal_in_cluster: bool,
    /// Namespace of the in-cluster journal.
    #[arg(long, value_name = "NS", default_value = "kube-system")]
    pub journal_namespace: String,
}

impl JournalArgs {
    /// The backend these flags (and the config) name.
    pub fn backend(
        &self,
        clients: Option<&Clients>,
        config: Option<&RecycleConfig>,
    ) -> anyhow::Result<JournalBackend> {
        let in_cluster = self.journal_in_cluster || config.is_some_and(|c| c.journal.in_cluster);
        if in_cluster {
            let client = clients
                .ok_or_else(|| usage("--journal-in-cluster needs a cluster (--kubeconfig)"))?
                .direct
                .clone();
            let namespace = config
                .and_then(|c| c.journal.namespace.clone())
                .filter(|_| self.journal_namespace == "kube-system")
                .unwrap_or_else(|| self.journal_namespace.clone());
            return Ok(JournalBackend::InCluster { client, namespace });
        }
        let flag = self
            .journal_dir
            .clone()
            .or_else(|| config.and_then(|c| c.journal.dir.clone()));
        let dir = journal::state_dir(flag.as_deref()).ok_or_else(|| {
            usage("cannot find a state directory for the journal; pass --journal DIR")
        })?;
        Ok(JournalBackend::File { dir })
    }

    /// The flags to repeat in a `resume` hint.
    pub fn hint(&self) -> String {
        let mut s = String::new();
        if let Some(d) = &self.journal_dir {
            s.push_str(&format!(" --journal {}", d.display()));
        }
        if self.journal_in_cluster {
            s.push_str(" --journal-in-cluster");
            if self.journal_namespace != "kube-system" {
                s.push_str(&format!(" --journal-namespace {}", self.journal_namespace));
            }
        }
        s
    }
}

/// How the run talks to the operator.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Output: a live view (or plain lines when not a terminal), or one JSON event per line.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// Flags of `run` and `plan`.
#[derive(Debug, Args)]
pub struct RecycleArgs {
    /// A node to recycle, in order; repeat for more.
    #[arg(long = "node", value_name = "NAME")]
    pub nodes: Vec<String>,
    /// Choose the nodes by label selector instead (sorted by name), e.g. tke.cloud.tencent.com/nodepool-id=np-1.
    #[arg(long, value_name = "SELECTOR")]
    pub selector: Option<String>,
    /// recycle.yaml with the run's settings; flags override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// TKE cluster ID (cls-...).
    #[arg(long, value_name = "CLUSTER_ID")]
    pub cluster: Option<String>,
    /// SSH key ID for the reinstalled nodes (default: the keys the VM has now); repeatable.
    #[arg(long = "login-key-id", value_name = "KEY_ID")]
    pub login_key_ids: Vec<String>,
    /// Keep the image's login settings instead of keys (custom images).
    #[arg(long, conflicts_with = "login_key_ids")]
    pub keep_image_login: bool,
    /// Keep this data disk's content: TKE does not mount (or format) it; a generated init
    /// script mounts it and points the container runtime at it. DEVICE:MOUNT, e.g. /dev/vdb:/data.
    #[arg(long, value_name = "DEVICE:MOUNT")]
    pub keep_data_disk: Option<String>,
    #[command(flatten)]
    pub common: CommonRunArgs,
    #[command(flatten)]
    pub cloud: CloudArgs,
}

/// Flags of every run (`run`, `plan`, `drain`).
#[derive(Debug, Args)]
pub struct CommonRunArgs {
    /// Accept deny findings with this code for this run (e.g. pdb.exhausted); repeatable.
    #[arg(long = "accept", value_name = "CODE")]
    pub accept: Vec<String>,
    /// Go on despite warnings without asking.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Seconds a node's drain may take before the node is uncordoned and the run stops (or skips it).
    #[arg(long, value_name = "SECONDS")]
    pub drain_timeout: Option<u64>,
    /// When a drain is blocked past its timeout: stop the run, or skip the node.
    #[arg(long, value_enum)]
    pub on_blocked: Option<OnBlocked>,
    /// Delete pods instead of evicting them (bypasses PodDisruptionBudgets; journaled).
    #[arg(long)]
    pub disable_eviction: bool,
    /// A runbook component to use instead of the bundled one.
    #[arg(long, value_name = "FILE.wasm")]
    pub runbook: Option<PathBuf>,
    #[command(flatten)]
    pub journal: JournalArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub kube: KubeArgs,
    #[command(flatten)]
    pub selection: PolicySelection,
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// A policy as the journal keeps it, so that `resume` runs the same set.
fn policy_record(specs: &[PolicySpec]) -> serde_json::Value {
    specs
        .iter()
        .map(|s| match &s.source {
            PolicySource::Bundled(m) => {
                json!({"name": s.name, "bundled": m.name, "settings": s.settings})
            }
            PolicySource::File(p) => json!({"name": s.name, "path": p, "settings": s.settings}),
        })
        .collect()
}

/// Options of a run with what every command shares: the policies and how the journal records
/// them, the progress output and prompt, a fresh stop signal, the default lock and the
/// runbook's limits; no cluster, no resume, nothing assumed (callers override those fields).
pub(super) fn run_options(
    mode: RunMode,
    nodes: Vec<String>,
    settings: serde_json::Value,
    runbook: RunbookSource,
    (pre, post): (Vec<PolicySpec>, Vec<PolicySpec>),
    journal: JournalBackend,
    progress: &Progress,
) -> RunOptions {
    RunOptions {
        mode,
        nodes,
        settings,
        runbook,
        policies_record: json!({"pre": policy_record(&pre), "post": policy_record(&post)}),
        pre,
        post,
        cluster_id: None,
        journal,
        resume: None,
        assume_yes: false,
        allow_delete: false,
        events: progress.sink(),
        prompter: progress.prompter(),
        cancel: Cancel::default(),
        lock: LockOptions::default(),
        limits: Limits::runbook(),
        kube_context: None,
        own_pod: crate::k8s::own_pod::OwnPod::from_env(),
        run_key: None,
    }
}

/// Headroom's settings with `report_placements` on: a plan shows where each evicted pod is
/// expected to land. Settings that are not a JSON object are left for headroom to reject.
fn with_placements(settings: &str) -> String {
    match serde_json::from_str::<serde_json::Value>(settings) {
        Ok(serde_json::Value::Object(mut m)) => {
            m.insert("report_placements".into(), serde_json::Value::Bool(true));
            serde_json::Value::Object(m).to_string()
        }
        _ => settings.to_owned(),
    }
}

/// The policy set a journal recorded.
pub fn policies_from_record(value: &serde_json::Value) -> anyhow::Result<Vec<PolicySpec>> {
    let mut specs = Vec::new();
    for p in value.as_array().into_iter().flatten() {
        let name = p["name"].as_str().unwrap_or_default().to_owned();
        let settings = p["settings"].as_str().unwrap_or("{}").to_owned();
        if let Some(b) = p["bundled"].as_str() {
            let module = bundled::find(b).ok_or_else(|| {
                usage(format!(
                    "the run used bundled policy {b}, which this tke-recycle does not have"
                ))
            })?;
            specs.push(PolicySpec {
                name,
                settings,
                ..PolicySpec::bundled(module)
            });
        } else if let Some(path) = p["path"].as_str() {
            specs.push(PolicySpec {
                name,
                source: PolicySource::File(PathBuf::from(path)),
                settings,
            });
        }
    }
    Ok(specs)
}

/// The runbook's settings (`policies/runbook/README.md`).
#[allow(
    clippy::too_many_arguments,
    reason = "one place that builds the settings object"
)]
fn runbook_settings(
    common: &CommonRunArgs,
    config: Option<&RecycleConfig>,
    login_key_ids: &[String],
    keep_image_login: bool,
    keep_data_disk: Option<&str>,
    uncordon_after_drain: bool,
) -> anyhow::Result<serde_json::Value> {
    let mut accept: Vec<String> = config.map(|c| c.accept.clone()).unwrap_or_default();
    accept.extend(common.accept.iter().cloned());
    accept.sort();
    accept.dedup();
    for code in &accept {
        if !code.contains('.') {
            return Err(usage(format!(
                "--accept {code}: finding codes look like area.rule (e.g. pdb.exhausted)"
            )));
        }
    }
    let timeouts = config.map(|c| &c.timeouts);
    let mut s = json!({
        "accept": accept,
        "assume_yes": common.yes || config.is_some_and(|c| c.yes),
        "disable_eviction": common.disable_eviction || config.is_some_and(|c| c.disable_eviction),
        "uncordon_after_drain": uncordon_after_drain,
    });
    let on_blocked = match common.on_blocked {
        Some(OnBlocked::Skip) => Some("skip".to_owned()),
        Some(OnBlocked::Stop) => Some("stop".to_owned()),
        None => config.and_then(|c| c.on_blocked.clone()),
    };
    if let Some(o) = on_blocked {
        s["on_blocked"] = json!(o);
    }
    if let Some(t) = common.drain_timeout.or(timeouts.and_then(|t| t.drain)) {
        if t == 0 {
            return Err(usage("--drain-timeout must be greater than 0"));
        }
        s["drain_timeout_seconds"] = json!(t);
    }
    if let Some(t) = timeouts {
        for (key, value) in [
            ("node_gone_timeout_seconds", t.node_gone),
            ("instance_running_timeout_seconds", t.instance_running),
            ("node_ready_timeout_seconds", t.node_ready),
            ("post_check_timeout_seconds", t.post_check),
        ] {
            if let Some(v) = value {
                s[key] = json!(v);
            }
        }
    }
    let config_login = config.and_then(|c| c.login.as_ref());
    if keep_image_login
        || config_login.is_some_and(|l| l.keep_image_login) && login_key_ids.is_empty()
    {
        s["login"] = json!({"keep_image_login": true});
    } else if !login_key_ids.is_empty() {
        s["login"] = json!({"key_ids": login_key_ids});
    } else if let Some(l) = config_login.filter(|l| !l.key_ids.is_empty()) {
        s["login"] = json!({"key_ids": l.key_ids});
    }
    let disk = keep_data_disk
        .map(str::to_owned)
        .or_else(|| config.and_then(|c| c.keep_data_disk.clone()));
    if let Some(d) = disk {
        let (device, mount) = d.split_once(':').ok_or_else(|| {
            usage(format!(
                "--keep-data-disk {d}: expected DEVICE:MOUNT, e.g. /dev/vdb:/data"
            ))
        })?;
        if !device.starts_with("/dev/") || !mount.starts_with('/') || mount == "/" {
            return Err(usage(format!(
                "--keep-data-disk {d}: the device must be under /dev/ and the mount point an absolute path other than /, e.g. /dev/vdb:/data"
            )));
        }
        s["keep_data_disk"] = json!({"device": device, "mount_target": mount});
    }
    Ok(s)
}

/// Everything a run needs, resolved from flags and config, before anything is touched.
pub struct PreparedRun {
    /// The clients.
    pub clients: Clients,
    /// Cloud client (recycle and plan).
    pub cloud: Option<TcClient>,
    /// The engine.
    pub runtime: Arc<Runtime>,
    /// The options.
    pub options: RunOptions,
    /// Output.
    pub progress: Progress,
    /// The journal flags, for the resume hint.
    pub journal_hint: String,
}

/// Resolve the target nodes: flags, else config nodes, else a selector.
async fn target_nodes(
    clients: &Clients,
    nodes: &[String],
    selector: Option<&str>,
) -> anyhow::Result<Vec<String>> {
    let api = kube::Api::<k8s_openapi::api::core::v1::Node>::all(clients.reads.clone());
    let names: Vec<String> = match selector {
        Some(sel) => {
            let list = api
                .list(&kube::api::ListParams::default().labels(sel))
                .await
                .with_context(|| format!("cannot list nodes with selector {sel}"))?;
            let mut names: Vec<String> = list
                .items
                .into_iter()
                .filter_map(|n| n.metadata.name)
                .collect();
            names.sort();
            if names.is_empty() {
                return Err(usage(format!("no node matches the selector {sel}")));
            }
            names
        }
        None => nodes.to_vec(),
    };
    if names.is_empty() {
        return Err(usage(
            "no nodes given: pass --node NAME (repeatable), --selector, or a config with nodes",
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for n in &names {
        if !seen.insert(n) {
            return Err(usage(format!("node {n} is given twice")));
        }
    }
    let all = api
        .list(&kube::api::ListParams::default())
        .await
        .context("cannot list the cluster's nodes")?;
    let known: std::collections::BTreeSet<String> = all
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    let missing: Vec<&str> = names
        .iter()
        .filter(|n| !known.contains(*n))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(usage(format!(
            "no such node in the cluster: {} (`tke-recycle nodes --cluster ...` or `kubectl get nodes` lists them)",
            missing.join(", ")
        )));
    }
    Ok(names)
}

/// What kind of run the flags are for.
pub struct Target<'a> {
    /// recycle, drain or plan.
    pub mode: RunMode,
    /// Nodes from flags.
    pub nodes: &'a [String],
    /// A selector from flags.
    pub selector: Option<&'a str>,
    /// `--cluster`.
    pub cluster: Option<&'a str>,
    /// Cloud flags (recycle and plan).
    pub cloud: Option<&'a CloudArgs>,
    /// Login keys.
    pub login_key_ids: &'a [String],
    /// Keep image login.
    pub keep_image_login: bool,
    /// Data disk.
    pub keep_data_disk: Option<&'a str>,
    /// `drain --uncordon`.
    pub uncordon_after_drain: bool,
    /// The config file's settings, already loaded and checked.
    pub config: Option<&'a RecycleConfig>,
}

impl CommonRunArgs {
    /// Check and resolve everything; connect; nothing is changed yet.
    pub async fn prepare(
        &self,
        target: Target<'_>,
        matches: Option<&ArgMatches>,
    ) -> anyhow::Result<PreparedRun> {
        let config = target.config;
        let settings = runbook_settings(
            self,
            config,
            target.login_key_ids,
            target.keep_image_login,
            target.keep_data_disk,
            target.uncordon_after_drain,
        )?;
        let config_only =
            config.is_some_and(|c| c.no_bundled_policies) && self.selection.policies.is_empty();
        let mut pre = if config_only {
            Vec::new()
        } else {
            self.selection.resolve(Phase::Pre, matches)?
        };
        let mut post: Vec<PolicySpec> = if self.selection.no_bundled {
            Vec::new()
        } else {
            bundled::policies(Phase::Post)
                .map(PolicySpec::bundled)
                .collect()
        };
        for p in config.iter().flat_map(|c| &c.policies) {
            let settings = p
                .settings
                .as_ref()
                .map_or_else(|| "{}".to_owned(), serde_json::Value::to_string);
            let spec = match (&p.name, &p.path) {
                (Some(name), _) => {
                    let module = bundled::find(name).ok_or_else(|| {
                        usage(format!(
                            "config: policy {name} is not bundled (bundled: {})",
                            bundled::BUNDLED
                                .iter()
                                .map(|m| m.name)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                    })?;
                    PolicySpec {
                        settings,
                        ..PolicySpec::bundled(module)
                    }
                }
                (None, Some(path)) => {
                    if !path.is_file() {
                        return Err(usage(format!(
                            "config: policy file {} does not exist",
                            path.display()
                        )));
                    }
                    PolicySpec::file(path.clone(), settings)
                }
                (None, None) => continue,
            };
            let list = if p.phase.as_deref() == Some("post") {
                &mut post
            } else {
                &mut pre
            };
            match list.iter_mut().find(|s| s.name == spec.name) {
                Some(existing) => *existing = spec,
                None => list.push(spec),
            }
        }
        if target.mode == RunMode::Plan {
            for spec in pre
                .iter_mut()
                .filter(|s| s.name == "headroom" && matches!(s.source, PolicySource::Bundled(_)))
            {
                spec.settings = with_placements(&spec.settings);
            }
        }
        let runbook_path = self
            .runbook
            .clone()
            .or_else(|| config.and_then(|c| c.runbook.clone()));
        if let Some(p) = &runbook_path
            && !p.is_file()
        {
            return Err(usage(format!(
                "--runbook {}: no such file (a component built for the runbook world)",
                p.display()
            )));
        }
        let cluster_id = target
            .cluster
            .map(str::to_owned)
            .or_else(|| config.and_then(|c| c.cluster.clone()));
        if target.mode != RunMode::Drain && cluster_id.is_none() {
            return Err(usage(
                "--cluster cls-... is required: the TKE cluster the nodes are removed from and added back to",
            ));
        }
        let cloud = match (target.mode, target.cloud) {
            (RunMode::Drain, _) | (_, None) => None,
            (_, Some(c)) => Some(c.client()?),
        };
        let runtime = Arc::new(
            self.engine
                .runtime()
                .context("cannot start the WebAssembly engine")?,
        );
        let clients = self.kube.clients().await?;
        let config_nodes = config.map(|c| c.nodes.clone()).unwrap_or_default();
        let nodes_given = if target.nodes.is_empty() {
            &config_nodes[..]
        } else {
            target.nodes
        };
        let selector = target
            .selector
            .map(str::to_owned)
            .or_else(|| config.and_then(|c| c.selector.clone()))
            .filter(|_| target.nodes.is_empty());
        let nodes = target_nodes(&clients, nodes_given, selector.as_deref()).await?;
        let journal = self.journal.backend(Some(&clients), config)?;
        let progress = Progress::new(self.output.format, &nodes);
        let options = RunOptions {
            cluster_id,
            assume_yes: self.yes || config.is_some_and(|c| c.yes),
            allow_delete: self.disable_eviction || config.is_some_and(|c| c.disable_eviction),
            kube_context: self.kube.context.clone(),
            ..run_options(
                target.mode,
                nodes,
                settings,
                runbook_path.map_or(RunbookSource::Bundled, RunbookSource::File),
                (pre, post),
                journal,
                &progress,
            )
        };
        Ok(PreparedRun {
            clients,
            cloud,
            runtime,
            options,
            progress,
            journal_hint: self.journal.hint(),
        })
    }
}

/// Run a prepared run with Ctrl-C handling and the closing summary; the exit code.
pub async fn execute_prepared(prepared: PreparedRun) -> anyhow::Result<u8> {
    let PreparedRun {
        clients,
        cloud,
        runtime,
        options,
        progress,
        journal_hint,
    } = prepared;
    let cancel = options.cancel.clone();
    let progress_for_signal = progress.clone();
    let signal = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            progress_for_signal.note(
                "interrupted: stopping at the next safe point (Ctrl-C again to abort at once)",
            );
            cancel.cancel("interrupted by the operator (Ctrl-C)");
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
    let dry_run = options.mode == RunMode::Plan;
    let outcome = runner::execute(clients, cloud, runtime, options).await;
    signal.abort();
    let outcome: RunOutcome = outcome.map_err(|e| match e {
        runner::RunError::NotResumable(m) => usage(m),
        e @ runner::RunError::OwnPodOnTarget { .. } => usage(e.to_string()),
        runner::RunError::Lock(l) => {
            anyhow::Error::new(l).context("another recycle is running on this cluster")
        }
        other => anyhow::Error::new(other),
    })?;
    progress.finish(&outcome, dry_run, &journal_hint);
    Ok(outcome.exit_code())
}

//! `tke-recycle fleet`: recycle many clusters in batches, with the fleet's state kept only in
//! the clusters. Each cluster gets an ordinary run (`run --journal-in-cluster` with the run key
//! `fleet-NAME-CLUSTER`): its journal and Lease live in that cluster, so a killed fleet resumed
//! from any machine finds every run where it stopped and never starts one twice. Before a
//! cluster is touched its nodes are planned (a dry run): a deny, a node unfit for recycling or
//! an unconfirmed warning skips the cluster whole, never half-done. After each cluster, the
//! health gate (post-check policies over everything, every node Ready and schedulable); a
//! cluster that fails it, or whose run stops, stops the fleet before the next batch.

mod config;
mod output;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use serde_json::json;
use tokio::sync::Mutex;

use self::config::{ClusterTarget, FleetConfig};
use self::output::FleetOutput;
use super::access::KubeArgs;
use super::args::{EngineArgs, Format, UsageError};
use super::progress::Progress;
use super::resume::resume_options;
use super::run_args::{CommonRunArgs, Target, policies_from_record};
use super::{EXIT_DENY, EXIT_FAILED, EXIT_OK};
use crate::bindings::RunMode;
use crate::engine::Runtime;
use crate::fleet::gate;
use crate::fleet::record::{ClusterState, FleetRecord, GATE_ENTRY, RecordStore, run_key};
use crate::fleet::select;
use crate::k8s::api_error;
use crate::k8s::client::Clients;
use crate::run::journal::{Journal, JournalBackend, RunRecord, RunStatus};
use crate::run::runner::{self, RunOutcome, RunbookSource};
use crate::runbook::{Cancel, RunEvent};

/// The namespace of every fleet run's journal and lock.
const JOURNAL_NAMESPACE: &str = "kube-system";

/// Recycle the nodes of many clusters, a batch of clusters at a time, with a health gate after
/// each cluster; `fleet --config fleet.yaml` starts or continues the fleet.
#[derive(Debug, Args)]
pub struct FleetCommand {
    /// `plan`, `status` or `resume`; none: run the fleet (start it, or continue it).
    #[command(subcommand)]
    pub action: Option<FleetAction>,
    /// fleet.yaml: the clusters, which of their nodes, batches, gate, record, recycle settings.
    #[arg(long, value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
    /// Output: plain lines, or one JSON event per line.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Table, global = true)]
    pub format: Format,
    /// Accept warnings without asking (a fleet asks nobody: without it a cluster with warnings
    /// is skipped).
    #[arg(long, short = 'y', global = true)]
    pub yes: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// What to do with the fleet.
#[derive(Debug, Subcommand)]
pub enum FleetAction {
    /// Dry run: the batches, and per cluster its nodes and whether its pre-checks pass.
    Plan,
    /// Where the fleet stands: the record (or the clusters' journals), cluster by cluster.
    Status,
    /// Finish a fleet that stopped or whose process died, from any machine.
    Resume,
}

/// `CommonRunArgs` with every flag at its default, as a plain `run` gets them.
#[derive(Debug, Parser)]
struct RunDefaults {
    #[command(flatten)]
    common: CommonRunArgs,
}

/// What every cluster's task shares.
struct Fleet {
    config: FleetConfig,
    out: FleetOutput,
    runtime: Arc<Runtime>,
    engine: EngineArgs,
    yes: bool,
    interrupt: Interrupt,
    book: Mutex<Book>,
}

/// Ctrl-C for every run of the fleet. Each run has its own [`Cancel`] (a run cancels its own
/// when it ends, to stop its lease renewal, which must not stop the others); an interrupt
/// cancels them all, and every run started after it.
#[derive(Default)]
struct Interrupt {
    state: std::sync::Mutex<(Option<String>, Vec<Cancel>)>,
}

impl Interrupt {
    /// A stop signal for one more run.
    fn cancel_for_run(&self) -> Cancel {
        let cancel = Cancel::default();
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(reason) = &state.0 {
            cancel.cancel(reason.clone());
        }
        state.1.push(cancel.clone());
        cancel
    }

    /// Why the fleet was interrupted, if it was.
    fn reason(&self) -> Option<String> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .0
            .clone()
    }

    /// Stop every run at its next safe point.
    fn interrupt(&self, reason: &str) {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        state.0 = Some(reason.to_owned());
        for c in &state.1 {
            c.cancel(reason);
        }
    }
}

/// The record and where it is kept (nowhere: rebuilt from the journals each time).
struct Book {
    record: FleetRecord,
    store: Option<RecordStore>,
}

impl Book {
    async fn save(&mut self) -> anyhow::Result<()> {
        if let Some(store) = &mut self.store {
            store.write(&self.record).await?;
        }
        Ok(())
    }
}

impl FleetCommand {
    /// Run the subcommand; the exit code.
    pub async fn execute(self) -> anyhow::Result<u8> {
        let path = self.config.clone().ok_or_else(|| {
            UsageError("--config fleet.yaml is required (see the README's Fleet section)".into())
        })?;
        let config = FleetConfig::load(&path)?;
        match self.action {
            Some(FleetAction::Status) => status(&config, self.format).await,
            Some(FleetAction::Plan) => plan(config, self.format, self.yes, self.engine).await,
            Some(FleetAction::Resume) => {
                run(config, self.format, self.yes, self.engine, true).await
            }
            None => run(config, self.format, self.yes, self.engine, false).await,
        }
    }
}

async fn connect(target: &ClusterTarget) -> anyhow::Result<Clients> {
    KubeArgs {
        kubeconfig: target.kubeconfig.clone(),
        context: target.context.clone(),
    }
    .clients()
    .await
    .with_context(|| format!("cluster {}", target.id))
}

fn journal_backend(clients: &Clients) -> JournalBackend {
    JournalBackend::InCluster {
        client: clients.direct.clone(),
        namespace: JOURNAL_NAMESPACE.into(),
    }
}

/// The run the fleet started on a cluster, from that cluster's journal.
async fn fleet_run(
    clients: &Clients,
    fleet: &str,
    cluster_id: &str,
) -> anyhow::Result<Option<Journal>> {
    let backend = journal_backend(clients);
    let key = run_key(fleet, cluster_id);
    let runs = Journal::list(&backend)
        .await
        .with_context(|| format!("cluster {cluster_id}: cannot list the run journals"))?;
    let Some(record) = runs
        .into_iter()
        .filter(|r| r.key.as_deref() == Some(key.as_str()))
        .max_by(|a, b| a.created_at.cmp(&b.created_at))
    else {
        return Ok(None);
    };
    let journal = Journal::open(&backend, &record.run_id)
        .await
        .with_context(|| format!("cluster {cluster_id}: cannot open run {}", record.run_id))?;
    Ok(Some(journal))
}

fn nodes_done(journal: &Journal) -> usize {
    journal
        .run()
        .nodes
        .iter()
        .filter(|n| journal.get(&format!("node/{n}/step")) == Some("done"))
        .count()
}

/// Bring one cluster's line up to date with its journal: the journal is the truth of a run;
/// the record only knows what no journal does (skipped, the gate's last failure).
fn merge_journal(record: &mut FleetRecord, cluster_id: &str, journal: Option<&Journal>) {
    let Some(j) = journal else { return };
    let gate_passed = j.get(GATE_ENTRY) == Some("passed");
    let from_journal = ClusterState::from_journal(Some(j.run()), gate_passed);
    record.update(cluster_id, |e| {
        let keep_gate_failure =
            e.state == ClusterState::GateFailed && from_journal == ClusterState::Recycled;
        if !keep_gate_failure {
            e.state = from_journal;
        }
        e.run = Some(j.run().run_id.clone());
        e.nodes.clone_from(&j.run().nodes);
        e.nodes_done = nodes_done(j);
        if let RunStatus::Stopped { reason } | RunStatus::Failed { reason } = &j.run().status {
            e.message = Some(reason.clone());
        }
    });
}

/// The record, read from its ConfigMap or made anew, with every cluster's journal merged in.
/// `Ok(None)` from `existing_only` when the fleet has neither a record nor any run.
async fn open_book(
    config: &FleetConfig,
    targets: &[ClusterTarget],
    out: Option<&FleetOutput>,
) -> anyhow::Result<(Book, bool)> {
    let ids: Vec<String> = targets.iter().map(|t| t.id.clone()).collect();
    let mut store = None;
    let mut existing = None;
    if let Some(r) = &config.record {
        let holder = targets.iter().find(|t| t.id == r.cluster).ok_or_else(|| {
            UsageError(format!(
                "record.cluster {} is not one of the fleet's clusters ({})",
                r.cluster,
                ids.join(", ")
            ))
        })?;
        let clients = connect(holder).await?;
        let mut s = RecordStore::new(&clients.direct, &r.namespace, &config.fleet);
        existing = s.read().await?;
        store = Some(s);
    }
    let mut found_any = existing.is_some();
    let mut record = match existing {
        Some(rec) => {
            let recorded: std::collections::BTreeSet<&String> = rec.clusters.keys().collect();
            let configured: std::collections::BTreeSet<&String> = ids.iter().collect();
            if recorded != configured {
                let added: Vec<&str> = configured
                    .difference(&recorded)
                    .map(|s| s.as_str())
                    .collect();
                let gone: Vec<&str> = recorded
                    .difference(&configured)
                    .map(|s| s.as_str())
                    .collect();
                return Err(UsageError(format!(
                    "fleet {} was started with other clusters (not in the record: {}; in the record but not in the config: {}); its batches are fixed, so finish it with its clusters or start a fleet with another name",
                    config.fleet,
                    if added.is_empty() { "none".into() } else { added.join(", ") },
                    if gone.is_empty() { "none".into() } else { gone.join(", ") },
                ))
                .into());
            }
            rec
        }
        None => FleetRecord::new(&config.fleet, &ids, config.batch_size),
    };
    for t in targets {
        let journal = match connect(t).await {
            Ok(clients) => fleet_run(&clients, &config.fleet, &t.id).await,
            Err(e) => Err(e),
        };
        match journal {
            Ok(j) => {
                found_any |= j.is_some();
                merge_journal(&mut record, &t.id, j.as_ref());
            }
            Err(e) => {
                if let Some(out) = out {
                    out.event(
                        &t.id,
                        "",
                        "unreachable",
                        &api_error::render(e.as_ref()),
                        None,
                    );
                }
            }
        }
    }
    Ok((Book { record, store }, found_any))
}

fn target<'a>(targets: &'a [ClusterTarget], id: &str) -> anyhow::Result<&'a ClusterTarget> {
    targets
        .iter()
        .find(|t| t.id == id)
        .ok_or_else(|| anyhow::anyhow!("cluster {id} is in the record but not in the config"))
}

async fn run(
    config: FleetConfig,
    format: Format,
    yes: bool,
    engine: EngineArgs,
    resume: bool,
) -> anyhow::Result<u8> {
    let out = FleetOutput::new(format);
    let targets = config.targets().await?;
    let (book, found_any) = open_book(&config, &targets, Some(&out)).await?;
    if resume && !found_any {
        return Err(UsageError(format!(
            "fleet {} has no record and no run in its clusters: there is nothing to resume; start it with `tke-recycle fleet --config ...`",
            config.fleet
        ))
        .into());
    }
    let runtime = Arc::new(
        engine
            .runtime()
            .context("cannot start the WebAssembly engine")?,
    );
    let fleet = Arc::new(Fleet {
        config,
        out: out.clone(),
        runtime,
        engine,
        yes,
        interrupt: Interrupt::default(),
        book: Mutex::new(book),
    });
    {
        let mut book = fleet.book.lock().await;
        if let Some(why) = book.record.stopped.take() {
            out.event(
                "",
                "",
                "resume",
                &format!(
                    "fleet {} stopped earlier ({why}); going on",
                    fleet.config.fleet
                ),
                None,
            );
        }
        let n = book.record.batches.len();
        let where_ = book.store.as_ref().map_or_else(
            || "rebuilt from the clusters' journals".to_owned(),
            |s| format!("record in {}", s.location()),
        );
        out.event(
            "",
            "",
            "fleet",
            &format!(
                "fleet {}: {} clusters in {n} batches of up to {} ({where_})",
                fleet.config.fleet,
                book.record.clusters.len(),
                book.record.batch_size
            ),
            Some(json!({"batches": book.record.batches})),
        );
        book.save().await?;
    }
    let for_signal = fleet.clone();
    let signal = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            for_signal.out.event(
                "",
                "",
                "interrupted",
                "stopping every cluster at its next safe point (Ctrl-C again to abort at once)",
                None,
            );
            for_signal
                .interrupt
                .interrupt("interrupted by the operator (Ctrl-C)");
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
    let code = run_batches(&fleet, &targets).await;
    signal.abort();
    code
}

async fn run_batches(fleet: &Arc<Fleet>, targets: &[ClusterTarget]) -> anyhow::Result<u8> {
    let out = &fleet.out;
    loop {
        let (index, total, clusters) = {
            let book = fleet.book.lock().await;
            let Some(index) = book.record.next_batch() else {
                break;
            };
            let clusters: Vec<String> = book.record.batches[index]
                .iter()
                .filter(|c| {
                    book.record
                        .clusters
                        .get(*c)
                        .is_none_or(|e| !e.state.is_final())
                })
                .cloned()
                .collect();
            (index, book.record.batches.len(), clusters)
        };
        out.event(
            "",
            "",
            "batch",
            &format!("batch {}/{total}: {}", index + 1, clusters.join(", ")),
            None,
        );
        let mut tasks = Vec::new();
        for id in &clusters {
            let t = target(targets, id)?;
            tasks.push(do_cluster(fleet, t));
        }
        futures::future::join_all(tasks).await;
        let mut book = fleet.book.lock().await;
        let stoppers: Vec<String> = clusters
            .iter()
            .filter_map(|c| {
                let e = book.record.clusters.get(c)?;
                (!e.state.is_final()).then(|| {
                    format!(
                        "{c} {}{}",
                        e.state,
                        e.message
                            .as_deref()
                            .map(|m| format!(": {m}"))
                            .unwrap_or_default()
                    )
                })
            })
            .collect();
        let interrupted = fleet.interrupt.reason();
        if !stoppers.is_empty() || interrupted.is_some() {
            let mut why = format!(
                "batch {} did not finish: {}",
                index + 1,
                stoppers.join("; ")
            );
            if stoppers.is_empty() {
                why = format!(
                    "after batch {}: {}",
                    index + 1,
                    interrupted.unwrap_or_default()
                );
            }
            book.record.stopped = Some(why.clone());
            book.save().await?;
            out.event(
                "",
                "",
                "end",
                &format!("fleet {} stopped before the next batch: {why}; fix it, then `tke-recycle fleet resume --config ...`", fleet.config.fleet),
                Some(json!({"status": "stopped", "exit_code": EXIT_FAILED, "clusters": book.record.clusters})),
            );
            return Ok(EXIT_FAILED);
        }
        book.save().await?;
    }
    let book = fleet.book.lock().await;
    let skipped: Vec<&String> = book
        .record
        .clusters
        .iter()
        .filter(|(_, e)| e.state == ClusterState::Skipped)
        .map(|(c, _)| c)
        .collect();
    let code = if skipped.is_empty() {
        EXIT_OK
    } else {
        EXIT_DENY
    };
    let mut message = format!("fleet {} is done", fleet.config.fleet);
    if !skipped.is_empty() {
        message.push_str(&format!(
            "; skipped (pre-checks did not pass, nothing changed): {}",
            skipped
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    out.event(
        "",
        "",
        "end",
        &message,
        Some(json!({"status": "done", "exit_code": code, "clusters": book.record.clusters})),
    );
    Ok(code)
}

/// One cluster of a batch to its end: its run (started or resumed), then the gate. Every
/// outcome, failures included, ends up in the record; nothing is returned.
async fn do_cluster(fleet: &Arc<Fleet>, t: &ClusterTarget) {
    let out = &fleet.out;
    let result = cluster_steps(fleet, t).await;
    let mut book = fleet.book.lock().await;
    if let Err(e) = result {
        let message = api_error::render(e.as_ref());
        out.event(&t.id, "", "failed", &message, None);
        book.record.update(&t.id, |e| {
            e.state = ClusterState::Failed;
            e.message = Some(message);
        });
    }
    if let Err(e) = book.save().await {
        out.event(
            &t.id,
            "",
            "failed",
            &format!(
                "cannot write the fleet record: {}",
                api_error::render(e.as_ref())
            ),
            None,
        );
    }
}

async fn set_state(
    fleet: &Fleet,
    id: &str,
    change: impl FnOnce(&mut crate::fleet::record::ClusterEntry),
) -> anyhow::Result<()> {
    let mut book = fleet.book.lock().await;
    book.record.update(id, change);
    book.save().await
}

async fn cluster_steps(fleet: &Arc<Fleet>, t: &ClusterTarget) -> anyhow::Result<()> {
    let out = &fleet.out;
    let id = t.id.as_str();
    let clients = connect(t).await?;
    let key = run_key(&fleet.config.fleet, id);
    let journal = fleet_run(&clients, &fleet.config.fleet, id).await?;
    let record: RunRecord = match journal {
        Some(j) if matches!(j.run().status, RunStatus::Done) => {
            out.event(
                id,
                "",
                "recycled",
                &format!("run {} is done", j.run().run_id),
                None,
            );
            j.run().clone()
        }
        Some(j) => {
            let previous = j.run().clone();
            out.event(
                id,
                "",
                "resume",
                &format!(
                    "resuming run {} (run key {key}) from its journal",
                    previous.run_id
                ),
                None,
            );
            set_state(fleet, id, |e| {
                e.state = ClusterState::Running;
                e.run = Some(previous.run_id.clone());
                e.nodes.clone_from(&previous.nodes);
                e.message = None;
            })
            .await?;
            let outcome = resume_cluster(fleet, t, &clients, &previous).await?;
            finish_run(fleet, id, &clients, outcome).await?
        }
        None => {
            let nodes = select::choose(&clients.reads, &t.nodes)
                .await
                .map_err(|e| UsageError(format!("cluster {id}: {e}")))?;
            out.event(
                id,
                "",
                "nodes",
                &format!(
                    "{}: {}",
                    t.nodes.describe(),
                    if nodes.is_empty() {
                        "none".into()
                    } else {
                        nodes.join(", ")
                    }
                ),
                Some(json!({"nodes": nodes})),
            );
            if nodes.is_empty() {
                set_state(fleet, id, |e| {
                    e.state = ClusterState::Done;
                    e.message = Some(format!("no node matches: {}", t.nodes.describe()));
                })
                .await?;
                return Ok(());
            }
            let verdict = precheck(fleet, t, &nodes).await?;
            if let Some(why) = verdict {
                out.event(
                    id,
                    "",
                    "skipped",
                    &format!("skipped, nothing changed: {why}"),
                    None,
                );
                set_state(fleet, id, |e| {
                    e.state = ClusterState::Skipped;
                    e.nodes.clone_from(&nodes);
                    e.message = Some(why);
                })
                .await?;
                return Ok(());
            }
            set_state(fleet, id, |e| {
                e.state = ClusterState::Running;
                e.nodes.clone_from(&nodes);
                e.message = None;
            })
            .await?;
            let outcome = start_cluster(fleet, t, &nodes, &key).await?;
            set_state(fleet, id, |e| e.run = Some(outcome.run_id.clone())).await?;
            finish_run(fleet, id, &clients, outcome).await?
        }
    };
    if !matches!(record.status, RunStatus::Done) {
        return Ok(());
    }
    run_gate(fleet, t, &clients, &record).await
}

/// After a run: its record, and the cluster's line updated (failed when it did not finish).
async fn finish_run(
    fleet: &Fleet,
    id: &str,
    clients: &Clients,
    outcome: RunOutcome,
) -> anyhow::Result<RunRecord> {
    let journal = Journal::open(&journal_backend(clients), &outcome.run_id)
        .await
        .with_context(|| format!("cluster {id}: cannot read run {} back", outcome.run_id))?;
    let done = nodes_done(&journal);
    let record = journal.run().clone();
    let finished = matches!(outcome.status, RunStatus::Done) && !outcome.blocked;
    set_state(fleet, id, |e| {
        e.nodes_done = done;
        if finished {
            e.state = ClusterState::Recycled;
        } else {
            e.state = ClusterState::Failed;
            e.message = Some(match &outcome.status {
                RunStatus::Done => "a node's drain was blocked and the node skipped".to_owned(),
                other => other.to_string(),
            });
        }
    })
    .await?;
    if !finished {
        fleet.out.event(
            id,
            "",
            "failed",
            &format!("run {} did not finish: {}", outcome.run_id, outcome.status),
            None,
        );
        return Ok(RunRecord {
            status: RunStatus::Stopped {
                reason: "not finished".into(),
            },
            ..record
        });
    }
    Ok(record)
}

async fn run_gate(
    fleet: &Fleet,
    t: &ClusterTarget,
    clients: &Clients,
    record: &RunRecord,
) -> anyhow::Result<()> {
    let id = t.id.as_str();
    let out = &fleet.out;
    let post = policies_from_record(&record.policies["post"])?;
    out.event(id, "", "gate", &format!(
            "health gate: post-checks ({}) over every workload and PDB, every node Ready and schedulable (up to {} s)",
            post.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", "),
            fleet.config.gate.timeout
        ), None);
    let problems = gate::wait_healthy(
        &clients.reads,
        &fleet.runtime,
        &post,
        Some(id.to_owned()),
        Duration::from_secs(fleet.config.gate.timeout),
        Duration::from_secs(fleet.config.gate.interval),
    )
    .await
    .with_context(|| format!("cluster {id}"))?;
    let mut journal = Journal::open(&journal_backend(clients), &record.run_id)
        .await
        .with_context(|| format!("cluster {id}: cannot open run {}", record.run_id))?;
    if problems.is_empty() {
        journal
            .put(GATE_ENTRY, "passed")
            .await
            .with_context(|| format!("cluster {id}: cannot journal the gate"))?;
        out.event(id, "", "done", "health gate passed", None);
        set_state(fleet, id, |e| {
            e.state = ClusterState::Done;
            e.message = None;
        })
        .await
    } else {
        let text = problems.join("; ");
        journal
            .put(GATE_ENTRY, &format!("failed: {text}"))
            .await
            .with_context(|| format!("cluster {id}: cannot journal the gate"))?;
        out.event(
            id,
            "",
            "gate-failed",
            &format!(
                "health gate failed after {} s: {text}",
                fleet.config.gate.timeout
            ),
            Some(json!({"problems": problems})),
        );
        set_state(fleet, id, |e| {
            e.state = ClusterState::GateFailed;
            e.message = Some(text);
        })
        .await
    }
}

/// `run`'s flags at their defaults, pointed at one cluster with its journal in the cluster.
fn run_flags(fleet: &Fleet, t: &ClusterTarget) -> anyhow::Result<CommonRunArgs> {
    let mut flags = RunDefaults::try_parse_from(["tke-recycle"])
        .context("cannot build the run's default flags")?
        .common;
    flags.kube = KubeArgs {
        kubeconfig: t.kubeconfig.clone(),
        context: t.context.clone(),
    };
    flags.journal.journal_in_cluster = true;
    flags.journal.journal_namespace = JOURNAL_NAMESPACE.into();
    // Events go to the fleet's sink; the run's own output is never shown.
    flags.output.format = Format::Json;
    flags.yes = fleet.yes;
    flags.engine = fleet.engine.clone();
    Ok(flags)
}

async fn prepared(
    fleet: &Fleet,
    t: &ClusterTarget,
    nodes: &[String],
    mode: RunMode,
) -> anyhow::Result<super::run_args::PreparedRun> {
    let flags = run_flags(fleet, t)?;
    let target = Target {
        mode,
        nodes,
        selector: None,
        cluster: Some(t.id.as_str()),
        cloud: Some(&t.cloud),
        login_key_ids: &[],
        keep_image_login: false,
        keep_data_disk: None,
        uncordon_after_drain: false,
        config: Some(&fleet.config.recycle),
    };
    let mut p = flags.prepare(target, None).await?;
    p.runtime = fleet.runtime.clone();
    p.options.prompter = None;
    p.options.cancel = fleet.interrupt.cancel_for_run();
    Ok(p)
}

async fn execute(p: super::run_args::PreparedRun) -> anyhow::Result<RunOutcome> {
    runner::execute(p.clients, p.cloud, p.runtime, p.options)
        .await
        .map_err(|e| match e {
            runner::RunError::NotResumable(m) => UsageError(m).into(),
            runner::RunError::Lock(l) => {
                anyhow::Error::new(l).context("another recycle is running on this cluster")
            }
            other => anyhow::Error::new(other),
        })
}

/// Plan the cluster's nodes; why it must be skipped, or `None` when every node may go.
async fn precheck(
    fleet: &Fleet,
    t: &ClusterTarget,
    nodes: &[String],
) -> anyhow::Result<Option<String>> {
    let mut p = prepared(fleet, t, nodes, RunMode::Plan).await?;
    let seen: Arc<std::sync::Mutex<Vec<RunEvent>>> = Arc::default();
    let keep = seen.clone();
    let sink = fleet.out.sink(&t.id);
    p.options.events = Arc::new(move |e: &RunEvent| {
        if let Ok(mut v) = keep.lock() {
            v.push(e.clone());
        }
        sink(e);
    });
    let outcome = execute(p).await?;
    let events = seen.lock().map(|v| v.clone()).unwrap_or_default();
    let reasons: Vec<String> = events
        .iter()
        .filter(|e| matches!(e.step.as_str(), "denied" | "invalid"))
        .map(|e| e.message.clone())
        .collect();
    if outcome.denied || outcome.invalid {
        return Ok(Some(if reasons.is_empty() {
            format!(
                "the pre-checks did not pass (run `tke-recycle fleet plan` for the findings): {}",
                outcome.status
            )
        } else {
            reasons.join("; ")
        }));
    }
    let yes = fleet.yes || fleet.config.recycle.yes;
    let warned: Vec<String> = events
        .iter()
        .filter(|e| e.step == "plan" && !e.node.is_empty())
        .filter_map(|e| {
            let codes = e.data.as_ref()?.get("warnings")?.as_array()?;
            (!codes.is_empty()).then(|| {
                let codes: Vec<&str> = codes.iter().filter_map(|c| c.as_str()).collect();
                format!("{}: {}", e.node, codes.join(", "))
            })
        })
        .collect();
    if !warned.is_empty() && !yes {
        return Ok(Some(format!(
            "warnings need a yes and a fleet asks nobody ({}); pass --yes or set recycle.yes: true",
            warned.join("; ")
        )));
    }
    Ok(None)
}

async fn start_cluster(
    fleet: &Fleet,
    t: &ClusterTarget,
    nodes: &[String],
    key: &str,
) -> anyhow::Result<RunOutcome> {
    let mut p = prepared(fleet, t, nodes, RunMode::Recycle).await?;
    p.options.events = fleet.out.sink(&t.id);
    p.options.run_key = Some(key.to_owned());
    execute(p).await
}

async fn resume_cluster(
    fleet: &Fleet,
    t: &ClusterTarget,
    clients: &Clients,
    previous: &RunRecord,
) -> anyhow::Result<RunOutcome> {
    let progress = Progress::new(Format::Json, &[]);
    let runbook = fleet
        .config
        .recycle
        .runbook
        .clone()
        .map_or(RunbookSource::Bundled, RunbookSource::File);
    let mut options = resume_options(
        previous,
        journal_backend(clients),
        runbook,
        t.context.clone(),
        &progress,
    )?;
    options.events = fleet.out.sink(&t.id);
    options.prompter = None;
    options.cancel = fleet.interrupt.cancel_for_run();
    let cloud = t.cloud.client()?;
    runner::execute(clients.clone(), Some(cloud), fleet.runtime.clone(), options)
        .await
        .map_err(|e| match e {
            runner::RunError::NotResumable(m) => UsageError(m).into(),
            other => anyhow::Error::new(other),
        })
}

async fn plan(
    config: FleetConfig,
    format: Format,
    yes: bool,
    engine: EngineArgs,
) -> anyhow::Result<u8> {
    let out = FleetOutput::new(format);
    let targets = config.targets().await?;
    let ids: Vec<String> = targets.iter().map(|t| t.id.clone()).collect();
    let batches = crate::fleet::record::batches(&ids, config.batch_size);
    out.event(
        "",
        "",
        "fleet",
        &format!(
            "fleet {}: {} clusters in {} batches of up to {}",
            config.fleet,
            ids.len(),
            batches.len(),
            config.batch_size
        ),
        Some(json!({"batches": batches})),
    );
    let runtime = Arc::new(
        engine
            .runtime()
            .context("cannot start the WebAssembly engine")?,
    );
    let fleet = Fleet {
        config,
        out: out.clone(),
        runtime,
        engine,
        yes,
        interrupt: Interrupt::default(),
        book: Mutex::new(Book {
            record: FleetRecord::new("plan", &ids, 1),
            store: None,
        }),
    };
    let mut code = EXIT_OK;
    for (i, batch) in batches.iter().enumerate() {
        out.event(
            "",
            "",
            "batch",
            &format!("batch {}/{}: {}", i + 1, batches.len(), batch.join(", ")),
            None,
        );
        for id in batch {
            let t = target(&targets, id)?;
            let result = async {
                let clients = connect(t).await?;
                let nodes = select::choose(&clients.reads, &t.nodes)
                    .await
                    .map_err(|e| UsageError(format!("cluster {id}: {e}")))?;
                out.event(
                    id,
                    "",
                    "nodes",
                    &format!(
                        "{}: {}",
                        t.nodes.describe(),
                        if nodes.is_empty() {
                            "none".into()
                        } else {
                            nodes.join(", ")
                        }
                    ),
                    Some(json!({"nodes": nodes})),
                );
                if nodes.is_empty() {
                    return Ok::<_, anyhow::Error>(None);
                }
                precheck(&fleet, t, &nodes).await
            }
            .await;
            match result {
                Ok(None) => out.event(id, "", "ok", "would be recycled", None),
                Ok(Some(why)) => {
                    code = code.max(EXIT_DENY);
                    out.event(id, "", "skipped", &format!("would be skipped: {why}"), None);
                }
                Err(e) => {
                    code = EXIT_FAILED;
                    out.event(id, "", "failed", &api_error::render(e.as_ref()), None);
                }
            }
        }
    }
    Ok(code)
}

async fn status(config: &FleetConfig, format: Format) -> anyhow::Result<u8> {
    let targets = config.targets().await?;
    let out = FleetOutput::new(format);
    let (book, found_any) = open_book(config, &targets, Some(&out)).await?;
    let r = &book.record;
    let source = match (&book.store, found_any) {
        (Some(s), _) => format!("record {}", s.location()),
        (None, true) => "rebuilt from the clusters' journals".into(),
        (None, false) => "not started".into(),
    };
    if format == Format::Json {
        println!(
            "{}",
            json!({"fleet": config.fleet, "source": source, "finished": r.finished(), "stopped": r.stopped, "batches": r.batches, "clusters": r.clusters})
        );
        return Ok(EXIT_OK);
    }
    println!(
        "fleet {} ({source}): {}",
        config.fleet,
        if r.finished() {
            "done".to_owned()
        } else if let Some(s) = &r.stopped {
            format!("stopped: {s}")
        } else {
            "not finished".to_owned()
        }
    );
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(["BATCH", "CLUSTER", "STATE", "NODES", "RUN", "MESSAGE"]);
    for (i, batch) in r.batches.iter().enumerate() {
        for c in batch {
            let Some(e) = r.clusters.get(c) else { continue };
            table.add_row([
                (i + 1).to_string(),
                c.clone(),
                e.state.to_string(),
                format!("{}/{}", e.nodes_done, e.nodes.len()),
                e.run.clone().unwrap_or_default(),
                e.message.clone().unwrap_or_default(),
            ]);
        }
    }
    println!("{table}");
    Ok(EXIT_OK)
}

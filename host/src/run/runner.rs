//! Running (or resuming) one recycle: the journal, the cluster lock, the live view, the runbook,
//! and what the run's end means. The commands (`run`, `drain`, `plan`, `resume`, `demo`) build a
//! [`RunOptions`] and call [`execute`]; nothing here prints.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use super::journal::{Journal, JournalBackend, JournalError, RunRecord, RunStatus, RunbookRef};
use crate::bindings::{RunMode, RunRequest};
use crate::bundled;
use crate::checks::PolicySpec;
use crate::engine::{Limits, LoadError, Runtime};
use crate::k8s::api_error;
use crate::k8s::client::Clients;
use crate::k8s::events::{self, RecycleStep};
use crate::k8s::lease::{LeaseError, LeaseLock};
use crate::k8s::live::{LiveCluster, LiveError};
use crate::k8s::served::{self, ServedError};
use crate::runbook::context::{Prompter, empty_view};
use crate::runbook::{Cancel, EventSink, PolicySet, RunContext, RunEvent, RunbookModule};
use crate::tke::client::TcClient;

/// Where the runbook comes from.
#[derive(Debug, Clone)]
pub enum RunbookSource {
    /// The one embedded in the binary.
    Bundled,
    /// A component file (`--runbook FILE.wasm`).
    File(PathBuf),
}

/// The cluster lock: a Lease.
#[derive(Debug, Clone)]
pub struct LockOptions {
    /// Namespace of the Lease.
    pub namespace: String,
    /// Name of the Lease.
    pub name: String,
    /// How long the lock holds without renewal; renewed every third of it.
    pub ttl: Duration,
}

impl Default for LockOptions {
    fn default() -> Self {
        Self {
            namespace: "kube-system".into(),
            name: "tke-recycle".into(),
            ttl: Duration::from_secs(30),
        }
    }
}

/// What to run.
pub struct RunOptions {
    /// recycle, drain or plan.
    pub mode: RunMode,
    /// Nodes, in order (ignored on resume: the journal has them).
    pub nodes: Vec<String>,
    /// The runbook's settings (ignored on resume).
    pub settings: serde_json::Value,
    /// The runbook component.
    pub runbook: RunbookSource,
    /// Pre-check policies.
    pub pre: Vec<PolicySpec>,
    /// Post-check policies.
    pub post: Vec<PolicySpec>,
    /// How the policies were chosen, kept in the journal so `resume` can choose them again.
    pub policies_record: serde_json::Value,
    /// TKE cluster ID.
    pub cluster_id: Option<String>,
    /// Where the journal lives.
    pub journal: JournalBackend,
    /// Resume this run instead of starting one.
    pub resume: Option<String>,
    /// `--yes`.
    pub assume_yes: bool,
    /// `--disable-eviction`.
    pub allow_delete: bool,
    /// Events go here.
    pub events: EventSink,
    /// Asks the operator, when there is a terminal.
    pub prompter: Option<Prompter>,
    /// The stop signal (Ctrl-C).
    pub cancel: Cancel,
    /// The cluster lock.
    pub lock: LockOptions,
    /// Limits of the runbook's call.
    pub limits: Limits,
    /// The kubeconfig context, recorded for `status`.
    pub kube_context: Option<String>,
    /// The pod this process runs in (a Job): a run refuses the node it is on and never evicts it.
    pub own_pod: Option<crate::k8s::own_pod::OwnPod>,
    /// The run's key (`run --run-key`), recorded so that the same key resumes this run.
    pub run_key: Option<String>,
}

/// How a run ended (a run that could not start is a [`RunError`]).
#[derive(Debug)]
pub struct RunOutcome {
    /// The run.
    pub run_id: String,
    /// Its status now.
    pub status: RunStatus,
    /// A pre-check denied a node (exit 1).
    pub denied: bool,
    /// A node was not fit for the run (exit 2): not in the cluster, not in TKE, no login.
    pub invalid: bool,
    /// A node's drain was blocked and the node skipped (the run went on): not a success.
    pub blocked: bool,
    /// Where the journal is.
    pub journal_location: String,
    /// Durable journal writes of the run so far.
    pub journal_writes: u64,
    /// Wall time of this process's part of the run, in milliseconds.
    pub wall_ms: u64,
    /// Of that, time spent waiting on the cluster and TKE.
    pub waited_ms: u64,
}

/// The run could not be started, or its machinery failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The journal could not be created, opened or written.
    #[error("journal")]
    Journal(#[from] JournalError),
    /// Another run holds the cluster lock, or the lock could not be taken.
    #[error("cannot take the cluster lock")]
    Lock(#[source] LeaseError),
    /// The live view of the cluster could not be started.
    #[error("cannot watch the cluster")]
    Live(#[source] LiveError),
    /// Discovery failed, or the cluster lacks the PDB or eviction API.
    #[error("cannot find which API versions the cluster serves")]
    Discovery(#[source] ServedError),
    /// The runbook component could not be loaded.
    #[error("cannot load the runbook")]
    Load(#[source] LoadError),
    /// `resume` was asked for a run that cannot be resumed.
    #[error("{0}")]
    NotResumable(String),
    /// The pod this process runs in is on one of the run's nodes: draining that node would
    /// evict the run itself.
    #[error(
        "node {node} runs this tke-recycle's own pod {pod}; keep the Job off the nodes it recycles (deploy/job.yaml's node affinity)"
    )]
    OwnPodOnTarget {
        /// The node.
        node: String,
        /// The pod, `namespace/name`.
        pod: String,
    },
}

impl RunOutcome {
    /// The process exit code: 0 done, 1 denied, 2 invalid input, 3 stopped or failed.
    pub fn exit_code(&self) -> u8 {
        if self.denied {
            1
        } else if self.invalid {
            2
        } else if matches!(self.status, RunStatus::Done) && !self.blocked {
            0
        } else {
            3
        }
    }
}

fn mode_name(mode: RunMode) -> &'static str {
    match mode {
        RunMode::Recycle => "recycle",
        RunMode::Drain => "drain",
        RunMode::Plan => "plan",
    }
}

fn mode_from(name: &str) -> Option<RunMode> {
    match name {
        "recycle" => Some(RunMode::Recycle),
        "drain" => Some(RunMode::Drain),
        _ => None,
    }
}

/// The Event a runbook report becomes on the Node, if any: the milestones, not every line. A
/// step that happens once (cordon, uncordon, blocked, failed) is one by its name; the reports
/// that end a longer step say so with `"milestone"` in their data.
fn node_event_step(step: &str, data: Option<&serde_json::Value>) -> Option<RecycleStep> {
    let milestone = data
        .and_then(|d| d.get("milestone"))
        .and_then(serde_json::Value::as_str);
    Some(match (step, milestone) {
        ("cordon", _) => RecycleStep::RecycleStarted,
        (_, Some("drained")) => RecycleStep::Drained,
        (_, Some("removed")) => RecycleStep::RemovedFromCluster,
        (_, Some("ready")) => RecycleStep::ReAdded,
        ("uncordon", _) => RecycleStep::Uncordoned,
        ("blocked" | "failed", _) => RecycleStep::RecycleFailed,
        _ => return None,
    })
}

#[allow(clippy::result_large_err, reason = "called once per run; see execute")]
fn runbook_bytes(source: &RunbookSource) -> Result<(String, Vec<u8>, Option<PathBuf>), RunError> {
    match source {
        RunbookSource::Bundled => {
            let m = bundled::find("runbook").ok_or_else(|| {
                RunError::Load(LoadError::NotAComponent {
                    module: "runbook".into(),
                    reason: "this binary was built without the bundled runbook".into(),
                })
            })?;
            Ok(("runbook".into(), m.wasm.to_vec(), None))
        }
        RunbookSource::File(path) => {
            let wasm = std::fs::read(path).map_err(|source| {
                RunError::Load(LoadError::Read {
                    path: path.clone(),
                    source,
                })
            })?;
            let name = path
                .file_stem()
                .map_or_else(|| "runbook".into(), |s| s.to_string_lossy().into_owned());
            Ok((name, wasm, Some(path.clone())))
        }
    }
}

/// Run or resume a recycle.
#[allow(
    clippy::result_large_err,
    reason = "returned once per run; the errors carry the kube and journal causes whole"
)]
pub async fn execute(
    clients: Clients,
    cloud: Option<TcClient>,
    runtime: Arc<Runtime>,
    opts: RunOptions,
) -> Result<RunOutcome, RunError> {
    let started = Instant::now();
    let (module_name, wasm, module_path) = runbook_bytes(&opts.runbook)?;
    let sha256 = crate::tke::sign::sha256_hex(&wasm);
    let dry_run = opts.mode == RunMode::Plan;

    // The journal first: a run that cannot record what it does must not do anything.
    let (mut journal, resume) = match &opts.resume {
        Some(run_id) => {
            let j = Journal::open(&opts.journal, run_id).await?;
            if matches!(j.run().status, RunStatus::Done) {
                return Err(RunError::NotResumable(format!(
                    "run {run_id} is done; there is nothing to resume (`tke-recycle status {run_id}`)"
                )));
            }
            (j, true)
        }
        None => {
            let now = jiff::Timestamp::now();
            let run_id = super::journal::new_run_id(now);
            let record = RunRecord {
                run_id: run_id.clone(),
                cluster_id: opts.cluster_id.clone(),
                mode: mode_name(opts.mode).into(),
                nodes: opts.nodes.clone(),
                settings: opts.settings.clone(),
                runbook: RunbookRef {
                    name: module_name.clone(),
                    sha256: sha256.clone(),
                    path: module_path.clone(),
                },
                policies: opts.policies_record.clone(),
                created_at: now.to_string(),
                updated_at: now.to_string(),
                status: RunStatus::Running,
                holder: crate::k8s::lease::default_identity(),
                kube_context: opts.kube_context.clone(),
                key: opts.run_key.clone(),
                journal_writes: 0,
            };
            let backend = if dry_run {
                JournalBackend::Memory
            } else {
                opts.journal.clone()
            };
            (Journal::create(&backend, record).await?, false)
        }
    };
    let record = journal.run().clone();
    let mode = if dry_run {
        RunMode::Plan
    } else {
        mode_from(&record.mode).ok_or_else(|| {
            RunError::NotResumable(format!(
                "run {} has mode {:?}, which this tke-recycle does not run",
                record.run_id, record.mode
            ))
        })?
    };
    let run_id = record.run_id.clone();

    // One run per cluster: the Lease. A resumed run has the same identity, so it takes over the
    // lock its crashed predecessor left without waiting for it to expire.
    let mut lock = None;
    if !dry_run {
        let holder = format!("tke-recycle run {run_id}");
        let mut attempt = 0;
        let l = loop {
            match LeaseLock::acquire(
                &clients.direct,
                &opts.lock.namespace,
                &opts.lock.name,
                &holder,
                opts.lock.ttl,
            )
            .await
            {
                Ok(l) => break l,
                // A server error is worth another try; a lock held by another run is not.
                Err(LeaseError::Api { .. }) if attempt < 4 => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(250 << attempt)).await;
                }
                Err(e) => return Err(RunError::Lock(e)),
            }
        };
        lock = Some(l);
        journal
            .set_holder(&crate::k8s::lease::default_identity())
            .await?;
        journal.set_status(RunStatus::Running).await?;
    }
    let cancel = opts.cancel.clone();
    let renewal = lock.map(|mut l| {
        let cancel = cancel.clone();
        let every = l.ttl() / 6;
        tokio::spawn(async move {
            let mut last_renewed = Instant::now();
            loop {
                tokio::select! {
                    () = tokio::time::sleep(every) => {}
                    () = cancel.cancelled() => return Some(l),
                }
                match l.renew().await {
                    Ok(()) => last_renewed = Instant::now(),
                    Err(e @ LeaseError::Lost { .. }) => {
                        cancel.cancel(format!("lost the cluster lock: {e}"));
                        return None;
                    }
                    // A failed write is retried at the next tick; only a lease that may have
                    // expired unrenewed stops the run.
                    Err(e) if last_renewed.elapsed() >= l.ttl() * 2 / 3 => {
                        cancel.cancel(format!("cannot renew the cluster lock: {e}"));
                        return None;
                    }
                    Err(e) => {
                        tracing::warn!(error = %api_error::render(&e), "renewing the cluster lock failed; retrying")
                    }
                }
            }
        })
    });

    let result = run_with_lock(
        &clients,
        cloud,
        runtime,
        &opts,
        journal,
        resume,
        mode,
        &record,
        module_name,
        &wasm,
        started,
    )
    .await;

    // Give the lock back; after a crash it expires by itself or the resume takes it over.
    if let Some(task) = renewal {
        cancel.cancel("the run ended");
        if let Ok(Some(l)) = task.await
            && let Err(e) = l.release().await
        {
            tracing::warn!(error = %api_error::render(&e), "could not release the cluster lock; it expires by itself");
        }
    }
    result
}

#[allow(
    clippy::too_many_arguments,
    reason = "the pieces execute() prepared, passed once"
)]
async fn run_with_lock(
    clients: &Clients,
    cloud: Option<TcClient>,
    runtime: Arc<Runtime>,
    opts: &RunOptions,
    journal: Journal,
    resume: bool,
    mode: RunMode,
    record: &RunRecord,
    module_name: String,
    wasm: &[u8],
    started: Instant,
) -> Result<RunOutcome, RunError> {
    // Once per run, as kubectl does: which PDB and eviction versions this cluster serves.
    let served = served::discover(&clients.reads)
        .await
        .map_err(RunError::Discovery)?;
    let live = LiveCluster::start(&clients.reads, record.cluster_id.clone(), served.pdb)
        .await
        .map_err(RunError::Live)?;
    let eviction_version = served.eviction;
    let module = RunbookModule::load(&runtime, &module_name, wasm, opts.limits.clone())
        .map_err(RunError::Load)?;
    if resume && journal.run().runbook.sha256 != crate::tke::sign::sha256_hex(wasm) {
        tracing::info!(
            run = %record.run_id,
            "resuming with another runbook module than the run started with"
        );
    }

    let denied = Arc::new(AtomicBool::new(false));
    let invalid = Arc::new(AtomicBool::new(false));
    let blocked = Arc::new(AtomicBool::new(false));
    let sink = {
        let outer = opts.events.clone();
        let denied = denied.clone();
        let invalid = invalid.clone();
        let blocked = blocked.clone();
        let client = clients.direct.clone();
        let record_events = mode != RunMode::Plan;
        Arc::new(move |e: &RunEvent| {
            match e.step.as_str() {
                "denied" => denied.store(true, Ordering::Relaxed),
                "invalid" => invalid.store(true, Ordering::Relaxed),
                "blocked" => blocked.store(true, Ordering::Relaxed),
                _ => {}
            }
            if record_events
                && !e.node.is_empty()
                && let Some(step) = node_event_step(&e.step, e.data.as_ref())
            {
                let (client, node, message) = (client.clone(), e.node.clone(), e.message.clone());
                // Events are a courtesy to whoever runs `kubectl describe node`; a failed one
                // must not slow or stop the recycle.
                tokio::spawn(async move {
                    if let Err(err) = events::record(&client, &node, step, &message).await {
                        tracing::debug!(error = %api_error::render(&err), "node event not recorded");
                    }
                });
            }
            outer(e);
        }) as EventSink
    };
    let journal_location = journal.location();
    let journal = Arc::new(Mutex::new(journal));
    let ctx = Arc::new(RunContext {
        mode,
        cluster_id: record.cluster_id.clone(),
        kube: clients.clone(),
        eviction_version,
        live: Arc::new(live),
        view: empty_view(),
        cloud: cloud.map(Arc::new),
        journal: journal.clone(),
        policies: PolicySet {
            runtime,
            pre: opts.pre.clone(),
            post: opts.post.clone(),
        },
        assume_yes: opts.assume_yes,
        allow_delete: opts.allow_delete,
        own_pod: opts.own_pod.clone(),
        prompter: opts.prompter.clone(),
        events: sink,
        cancel: opts.cancel.clone(),
        started,
        waited_ms: std::sync::atomic::AtomicU64::new(0),
        projected_generation: std::sync::atomic::AtomicU64::new(u64::MAX),
    });
    if let Err(e) = ctx.refresh() {
        return Err(RunError::NotResumable(format!(
            "cannot read the cluster's current state: {e}"
        )));
    }
    // Checked on every start, resumes included: a rescheduled Job pod may land anywhere its
    // affinity allows, and a wrong affinity must stop the run before the first cordon.
    if let Some(own) = &opts.own_pod
        && let Some(node) = record.nodes.iter().find(|n| {
            ctx.live.pods_on_node(n).iter().any(|p| {
                own.is(
                    p.metadata.namespace.as_deref().unwrap_or_default(),
                    p.metadata.name.as_deref().unwrap_or_default(),
                )
            })
        })
    {
        return Err(RunError::OwnPodOnTarget {
            node: node.clone(),
            pod: own.to_string(),
        });
    }
    ctx.emit(
        "",
        "start",
        format!(
            "{} run {} of {} node(s){}; journal: {journal_location}",
            if resume { "resuming" } else { mode_name(mode) },
            record.run_id,
            record.nodes.len(),
            record
                .cluster_id
                .as_deref()
                .map(|c| format!(" in {c}"))
                .unwrap_or_default()
        ),
        None,
    );
    let request = RunRequest {
        cluster_id: record.cluster_id.clone().unwrap_or_default(),
        mode,
        nodes: record.nodes.clone(),
        settings: record.settings.to_string(),
        resume,
    };
    let called = module.run(&ctx, &request).await;
    let cancelled = ctx.cancel.reason();
    let status = match called {
        Ok(Ok(())) => RunStatus::Done,
        Ok(Err(why)) => match cancelled {
            Some(reason) => RunStatus::Stopped { reason },
            None => RunStatus::Failed { reason: why },
        },
        Err(e) => RunStatus::Failed {
            reason: format!("runbook {} {}", module.name(), e),
        },
    };
    let mut journal = journal.lock().await;
    if mode != RunMode::Plan {
        journal.set_status(status.clone()).await?;
    }
    Ok(RunOutcome {
        run_id: record.run_id.clone(),
        status,
        denied: denied.load(Ordering::Relaxed),
        invalid: invalid.load(Ordering::Relaxed),
        blocked: blocked.load(Ordering::Relaxed),
        journal_location,
        journal_writes: journal.run().journal_writes,
        wall_ms: ctx.elapsed_ms(),
        waited_ms: ctx.waited_ms.load(Ordering::Relaxed),
    })
}

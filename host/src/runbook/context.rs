//! What the runbook's imports share during one run: the clients, the live view, the journal,
//! the policies, the operator's choices, the event sink and the cancellation signal.

use std::sync::{Arc, RwLock};
use std::time::Instant;

use serde::Serialize;
use tokio::sync::Mutex;

use crate::bindings::RunMode;
use crate::bindings::cluster::SharedView;
use crate::checks::PolicySpec;
use crate::engine::Runtime;
use crate::k8s::client::Clients;
use crate::k8s::evict::EvictionVersion;
use crate::k8s::live::LiveCluster;
use crate::run::journal::{Journal, StepPhase};
use crate::snapshot::ClusterView;
use crate::tke::client::TcClient;

/// One progress event: from the runbook's `report`, or from the host itself.
#[derive(Debug, Clone, Serialize)]
pub struct RunEvent {
    /// Milliseconds since the run (or resume) started.
    pub at_ms: u64,
    /// The node it is about; empty for the run as a whole.
    pub node: String,
    /// Step name (`drain`, `remove`, ...).
    pub step: String,
    /// Human text.
    pub message: String,
    /// Machine-readable detail, when the runbook gave it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
}

/// Why an import call is turned away before it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// The run is stopping.
    Cancelled,
    /// A change in a dry run; the message says so.
    Refused(String),
}

/// Where events go (the terminal view, plain lines, JSON lines, tests).
pub type EventSink = Arc<dyn Fn(&RunEvent) + Send + Sync>;

/// Asks the operator a yes/no question; `None` when nobody can be asked (no terminal).
pub type Prompter = Arc<dyn Fn(&str) -> Option<bool> + Send + Sync>;

/// Stops a run at its next safe point: every import the runbook calls next answers `cancelled`,
/// and waits in progress end early.
#[derive(Debug, Clone)]
pub struct Cancel {
    tx: Arc<tokio::sync::watch::Sender<Option<String>>>,
}

impl Default for Cancel {
    fn default() -> Self {
        Self {
            tx: Arc::new(tokio::sync::watch::channel(None).0),
        }
    }
}

impl Cancel {
    /// Ask the run to stop, saying why (the first reason wins).
    pub fn cancel(&self, reason: impl Into<String>) {
        let reason = reason.into();
        self.tx.send_if_modified(|r| {
            if r.is_none() {
                *r = Some(reason);
                true
            } else {
                false
            }
        });
    }

    /// Why the run was asked to stop, if it was.
    pub fn reason(&self) -> Option<String> {
        self.tx.borrow().clone()
    }

    /// Resolves once the run is asked to stop.
    pub async fn cancelled(&self) {
        let mut rx = self.tx.subscribe();
        // An error means the sender is gone, which cannot happen while `self` holds it.
        let _ = rx.wait_for(Option::is_some).await;
    }
}

/// The policies a run evaluates, per phase, with the engine that runs them.
pub struct PolicySet {
    /// The engine (shared with the runbook).
    pub runtime: Arc<Runtime>,
    /// Pre-checks.
    pub pre: Vec<PolicySpec>,
    /// Post-checks (the gate between nodes).
    pub post: Vec<PolicySpec>,
}

/// Everything the runbook's imports act on during one run.
pub struct RunContext {
    /// recycle, drain or plan.
    pub mode: RunMode,
    /// The TKE cluster ID (for the `tke` imports and the snapshot).
    pub cluster_id: Option<String>,
    /// Kubernetes clients: reads retry; `direct` does not (evictions, writes).
    pub kube: Clients,
    /// Which Eviction API version the server serves.
    pub eviction_version: EvictionVersion,
    /// The cluster kept current from watches.
    pub live: Arc<LiveCluster>,
    /// The view the runbook's `cluster` queries read; replaced on refresh.
    pub view: SharedView,
    /// Tencent Cloud client; `None` for runs without TKE steps (drain).
    pub cloud: Option<Arc<TcClient>>,
    /// The run's journal.
    pub journal: Arc<Mutex<Journal>>,
    /// Policies per phase.
    pub policies: PolicySet,
    /// `--yes`: warnings need no confirmation.
    pub assume_yes: bool,
    /// `--disable-eviction`: the operator allowed deleting pods without the Eviction API.
    pub allow_delete: bool,
    /// The pod this process runs in (a Job), which is never evicted or deleted.
    pub own_pod: Option<crate::k8s::own_pod::OwnPod>,
    /// Asks the operator (a terminal); `None` when there is none.
    pub prompter: Option<Prompter>,
    /// Where events go.
    pub events: EventSink,
    /// The stop signal.
    pub cancel: Cancel,
    /// When this process started the run.
    pub started: Instant,
    /// Milliseconds spent waiting on the cluster and TKE (drains, removal, reinstall, Ready,
    /// sleeps): the run's wall time minus this is the host's own overhead.
    pub waited_ms: std::sync::atomic::AtomicU64,
    /// The live view's generation when the view was last projected (`u64::MAX`: never).
    pub projected_generation: std::sync::atomic::AtomicU64,
}

/// A view that holds no cluster yet (replaced by the first refresh).
pub fn empty_view() -> SharedView {
    Arc::new(RwLock::new(Arc::new(ClusterView::new(
        crate::snapshot::Snapshot::default(),
    ))))
}

impl RunContext {
    /// Milliseconds since this process started the run.
    pub fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Count time spent waiting on the cluster or TKE.
    pub fn add_waited(&self, d: std::time::Duration) {
        self.waited_ms.fetch_add(
            u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// Send an event.
    pub fn emit(&self, node: &str, step: &str, message: String, data: Option<serde_json::Value>) {
        (self.events)(&RunEvent {
            at_ms: self.elapsed_ms(),
            node: node.to_owned(),
            step: step.to_owned(),
            message,
            data,
        });
    }

    /// Why a call may not run now: the run is stopping, or it is a change and this is a dry run.
    /// `None` when it may run. Each interface turns this into its own error.
    pub fn gate(&self, mutating: bool, what: &str) -> Option<Gate> {
        if self.cancel.reason().is_some() {
            return Some(Gate::Cancelled);
        }
        if mutating && self.dry_run() {
            return Some(Gate::Refused(format!(
                "{what} is a change, and this is a dry run (plan): nothing is changed"
            )));
        }
        None
    }

    /// Whether this is a dry run.
    pub fn dry_run(&self) -> bool {
        self.mode == RunMode::Plan
    }

    /// Re-project the live view into the view the runbook and the policies read.
    pub fn refresh(&self) -> Result<Arc<ClusterView>, String> {
        use std::sync::atomic::Ordering;
        // Projecting every object costs time on a large cluster: skip it when no watch event
        // arrived since the last projection.
        let generation = self.live.generation();
        if self.projected_generation.load(Ordering::Acquire) == generation {
            return Ok(self
                .view
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone());
        }
        let mut snapshot = self
            .live
            .snapshot()
            .map_err(|e| format!("cannot project the live cluster: {e}"))?;
        snapshot.cluster_id = self.cluster_id.clone();
        let view = Arc::new(ClusterView::new(snapshot));
        *self
            .view
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = view.clone();
        self.projected_generation
            .store(generation, Ordering::Release);
        Ok(view)
    }
}

impl RunContext {
    /// Journal the start of a mutating step. A journal that cannot be written stops the run (the
    /// runbook traps): a step the journal does not know about must never run.
    pub async fn step_begin(&self, op: &str, subject: &str) -> wasmtime::Result<()> {
        self.journal
            .lock()
            .await
            .record_step(op, subject, StepPhase::Begin)
            .await
            .map(|_| ())
            .map_err(|e| {
                wasmtime::Error::msg(format!("cannot journal the start of {op} {subject}: {e}"))
            })
    }

    /// Journal how a mutating step ended.
    pub async fn step_end(&self, op: &str, subject: &str, outcome: String) -> wasmtime::Result<()> {
        self.journal
            .lock()
            .await
            .record_step(op, subject, StepPhase::End { outcome })
            .await
            .map(|_| ())
            .map_err(|e| {
                wasmtime::Error::msg(format!("cannot journal the end of {op} {subject}: {e}"))
            })
    }
}

/// Time spent awaiting `fut` is the host's, not the guest's: it is taken off the guest's budget.
pub(crate) async fn host_time<T>(
    clock: &crate::engine::deadline::CallClock,
    fut: impl std::future::Future<Output = T>,
) -> T {
    let started = Instant::now();
    let out = fut.await;
    clock.add_host_time(started.elapsed());
    out
}

/// Await `fut` unless the run is cancelled first (`None`).
pub(crate) async fn unless_cancelled<T>(
    cancel: &Cancel,
    fut: impl std::future::Future<Output = T>,
) -> Option<T> {
    if cancel.reason().is_some() {
        return None;
    }
    tokio::select! {
        out = fut => Some(out),
        () = cancel.cancelled() => None,
    }
}

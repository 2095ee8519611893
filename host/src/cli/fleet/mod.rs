//! `tke-recycle fleet`: recycle many clusters in batches, with the fleet's state kept only in
//! the clusters. Each cluster gets an ordinary run (`run --journal-in-cluster` with the run key
//! `fleet-NAME-CLUSTER`): its journal and Lease live in that cluster, so a killed fleet resumed
//! from any machine finds every run where it stopped and never starts one twice. Before a
//! cluster is touched its nodes are planned (a dry run): a deny, a node unfit for recycling or
//! an unconfirmed warning skips the cluster whole, never half-done. After each cluster, the
//! health gate (post-check policies over everything, every node Ready and schedulable); a
//! cluster that fails it, or whose run stops, stops the fleet before the next batch.

mod book;
mod cluster;
mod config;
mod output;
mod run;
mod show;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use tokio::sync::Mutex;

use self::book::Book;
use self::config::{ClusterTarget, FleetConfig};
use self::output::FleetOutput;
use super::access::KubeArgs;
use super::args::{EngineArgs, Format, UsageError};
use crate::engine::Runtime;
use crate::k8s::client::Clients;
use crate::run::journal::JournalBackend;
use crate::runbook::Cancel;

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

/// What every cluster's run is made from: the config, the output, the engine and its flags,
/// `--yes`, and the interrupt that stops them all. `fleet plan` needs only this.
struct Runs {
    config: FleetConfig,
    out: FleetOutput,
    runtime: Arc<Runtime>,
    engine: EngineArgs,
    yes: bool,
    interrupt: Interrupt,
}

impl Runs {
    /// Start the engine for a fleet's runs.
    fn new(
        config: FleetConfig,
        out: FleetOutput,
        engine: EngineArgs,
        yes: bool,
    ) -> anyhow::Result<Self> {
        let runtime = Arc::new(
            engine
                .runtime()
                .context("cannot start the WebAssembly engine")?,
        );
        Ok(Self {
            config,
            out,
            runtime,
            engine,
            yes,
            interrupt: Interrupt::default(),
        })
    }
}

/// A running fleet: its runs and the record they update.
struct Fleet {
    runs: Runs,
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

impl FleetCommand {
    /// Run the subcommand; the exit code.
    pub async fn execute(self) -> anyhow::Result<u8> {
        let path = self.config.clone().ok_or_else(|| {
            UsageError("--config fleet.yaml is required (see the README's Fleet section)".into())
        })?;
        let config = FleetConfig::load(&path)?;
        match self.action {
            Some(FleetAction::Status) => show::status(&config, self.format).await,
            Some(FleetAction::Plan) => show::plan(config, self.format, self.yes, self.engine).await,
            Some(FleetAction::Resume) => {
                run::run(config, self.format, self.yes, self.engine, true).await
            }
            None => run::run(config, self.format, self.yes, self.engine, false).await,
        }
    }
}

pub(super) async fn connect(target: &ClusterTarget) -> anyhow::Result<Clients> {
    KubeArgs {
        kubeconfig: target.kubeconfig.clone(),
        context: target.context.clone(),
    }
    .clients()
    .await
    .with_context(|| format!("cluster {}", target.id))
}

pub(super) fn journal_backend(clients: &Clients) -> JournalBackend {
    JournalBackend::InCluster {
        client: clients.direct.clone(),
        namespace: JOURNAL_NAMESPACE.into(),
    }
}

pub(super) fn target<'a>(
    targets: &'a [ClusterTarget],
    id: &str,
) -> anyhow::Result<&'a ClusterTarget> {
    targets
        .iter()
        .find(|t| t.id == id)
        .ok_or_else(|| anyhow::anyhow!("cluster {id} is in the record but not in the config"))
}

//! `tke-recycle run` and `tke-recycle plan`: recycle nodes one at a time with the runbook, or
//! show what that would do without changing anything. `run --run-key` makes a run idempotent
//! (what a Job whose pod may be rescheduled needs): the same key resumes the journaled run.

use anyhow::Context as _;
use clap::{ArgMatches, Args};

use super::args::UsageError;
use super::config::RecycleConfig;
use super::resume::{Resumer, resume_run};
use super::run_args::{RecycleArgs, Target, execute_prepared};
use crate::bindings::RunMode;
use crate::run::journal::{Journal, RunStatus};

/// Recycle nodes: check, capture, cordon, drain, remove (keeping the VM), add back, wait, restore
/// labels and taints, uncordon, post-check; one node at a time.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub recycle: RecycleArgs,
    /// A key naming this run (a Job sets its UID): if a run with this key is in the journal,
    /// resume it when unfinished, or exit 0 when done, instead of starting another.
    #[arg(long, value_name = "KEY")]
    pub run_key: Option<String>,
}

/// Dry run: per node the findings, the pods that would be evicted, the instance and the
/// settings it would be added back with. Changes nothing; exit 1 if a deny stands.
#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub recycle: RecycleArgs,
}

async fn go(
    args: &RecycleArgs,
    mode: RunMode,
    run_key: Option<&str>,
    matches: Option<&ArgMatches>,
) -> anyhow::Result<u8> {
    let config = args
        .config
        .as_deref()
        .map(RecycleConfig::load)
        .transpose()?;
    let target = Target {
        mode,
        nodes: &args.nodes,
        selector: args.selector.as_deref(),
        cluster: args.cluster.as_deref(),
        cloud: Some(&args.cloud),
        login_key_ids: &args.login_key_ids,
        keep_image_login: args.keep_image_login,
        keep_data_disk: args.keep_data_disk.as_deref(),
        uncordon_after_drain: false,
        config: config.as_ref(),
    };
    let mut prepared = args.common.prepare(target, matches).await?;
    prepared.options.run_key = run_key.map(str::to_owned);
    execute_prepared(prepared).await
}

/// The run journaled under `key`, resumed (unfinished) or reported (done); `None` when there is
/// none and a new run must start. Looked up before the nodes are resolved: a node the run has
/// removed from the cluster is not there to be found until the run adds it back.
async fn resume_by_key(args: &RecycleArgs, key: &str) -> anyhow::Result<Option<u8>> {
    let common = &args.common;
    let config = args
        .config
        .as_deref()
        .map(RecycleConfig::load)
        .transpose()?;
    let clients = common.kube.clients().await?;
    let backend = common.journal.backend(Some(&clients), config.as_ref())?;
    let runs = Journal::list(&backend)
        .await
        .with_context(|| format!("cannot list the runs to look for run key {key}"))?;
    // The newest first: a key is only ever given to one run, but a journal copied between
    // clusters must not resume a stale one.
    let Some(record) = runs
        .into_iter()
        .filter(|r| r.key.as_deref() == Some(key))
        .max_by(|a, b| a.created_at.cmp(&b.created_at))
    else {
        return Ok(None);
    };
    if matches!(record.status, RunStatus::Done) {
        eprintln!(
            "run {} (run key {key}) is done; nothing to do (`tke-recycle status {}`)",
            record.run_id, record.run_id
        );
        return Ok(Some(0));
    }
    eprintln!(
        "resuming run {} (run key {key}) from its journal",
        record.run_id
    );
    resume_run(
        clients,
        backend,
        record.run_id,
        Resumer {
            runbook: common.runbook.clone(),
            output: &common.output,
            cloud: &args.cloud,
            engine: &common.engine,
            kube_context: common.kube.context.clone(),
            journal_hint: common.journal.hint(),
        },
    )
    .await
    .map(Some)
}

impl RunArgs {
    /// Run it; the exit code.
    pub async fn execute(self, matches: Option<&ArgMatches>) -> anyhow::Result<u8> {
        if let Some(key) = &self.run_key {
            if key.trim().is_empty() {
                return Err(UsageError(
                    "--run-key is empty (a Job passes its UID: --run-key=$(JOB_UID))".into(),
                )
                .into());
            }
            if let Some(code) = resume_by_key(&self.recycle, key).await? {
                return Ok(code);
            }
        }
        go(
            &self.recycle,
            RunMode::Recycle,
            self.run_key.as_deref(),
            matches,
        )
        .await
    }
}

impl PlanArgs {
    /// Plan it; the exit code.
    pub async fn execute(self, matches: Option<&ArgMatches>) -> anyhow::Result<u8> {
        go(&self.recycle, RunMode::Plan, None, matches).await
    }
}

//! `tke-recycle resume [RUN]`: finish a crashed or stopped run from its journal and the live
//! state, whatever step it died in, from this machine or another (with `--journal-in-cluster`).
//! The run's nodes, settings and policies come from the journal; the runbook is the bundled one
//! unless `--runbook` names another (a custom runbook that trapped is not run again by default).

use anyhow::Context as _;
use clap::Args;

use super::access::{CloudArgs, KubeArgs};
use super::args::{EngineArgs, UsageError};
use super::progress::Progress;
use super::run_args::{
    JournalArgs, OutputArgs, PreparedRun, execute_prepared, policies_from_record, run_options,
};
use crate::bindings::RunMode;
use crate::k8s::api_error;
use crate::run::journal::{Journal, RunStatus};
use crate::run::runner::{RunOptions, RunbookSource};

/// Finish a crashed or stopped run from its journal.
#[derive(Debug, Args)]
pub struct ResumeArgs {
    /// The run (default: the newest run that is not done).
    #[arg(value_name = "RUN")]
    pub run: Option<String>,
    /// A runbook component to resume with instead of the bundled one.
    #[arg(long, value_name = "FILE.wasm")]
    pub runbook: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub journal: JournalArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    #[command(flatten)]
    pub kube: KubeArgs,
    #[command(flatten)]
    pub cloud: CloudArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
}

impl ResumeArgs {
    /// Resume; the exit code.
    pub async fn execute(self) -> anyhow::Result<u8> {
        let clients = self.kube.clients().await?;
        let backend = self.journal.backend(Some(&clients), None)?;
        let run_id = match &self.run {
            Some(r) => r.clone(),
            None => Journal::latest(&backend, |r| !matches!(r.status, RunStatus::Done))
                .await
                .context("cannot list the runs")?
                .map(|r| r.run_id)
                .ok_or_else(|| {
                    UsageError(
                        "there is no run to resume (`tke-recycle status` lists the runs)".into(),
                    )
                })?,
        };
        resume_run(
            clients,
            backend,
            run_id,
            Resumer {
                runbook: self.runbook.clone(),
                output: &self.output,
                cloud: &self.cloud,
                engine: &self.engine,
                kube_context: self.kube.context.clone(),
                journal_hint: self.journal.hint(),
            },
        )
        .await
    }
}

/// What a resume takes from the command line besides the run: `resume`'s flags, or `run`'s
/// when `run --run-key` finds its run unfinished.
pub(super) struct Resumer<'a> {
    /// `--runbook`.
    pub runbook: Option<std::path::PathBuf>,
    /// Output flags.
    pub output: &'a OutputArgs,
    /// Cloud credentials and endpoint.
    pub cloud: &'a CloudArgs,
    /// Engine flags.
    pub engine: &'a EngineArgs,
    /// `--context`, recorded for `status`.
    pub kube_context: Option<String>,
    /// The journal flags to repeat in a resume hint.
    pub journal_hint: String,
}

/// Resume the journaled run `run_id` to its end; the exit code.
pub(super) async fn resume_run(
    clients: crate::k8s::client::Clients,
    backend: crate::run::journal::JournalBackend,
    run_id: String,
    how: Resumer<'_>,
) -> anyhow::Result<u8> {
    let journal = Journal::open(&backend, &run_id)
        .await
        .map_err(|e| UsageError(api_error::render(&e)))?;
    let record = journal.run().clone();
    drop(journal);
    let cloud = match record.mode.as_str() {
        "drain" => None,
        _ => Some(how.cloud.client()?),
    };
    let runtime = std::sync::Arc::new(
        how.engine
            .runtime()
            .context("cannot start the WebAssembly engine")?,
    );
    if let Some(p) = &how.runbook
        && !p.is_file()
    {
        return Err(UsageError(format!("--runbook {}: no such file", p.display())).into());
    }
    let progress = Progress::new(how.output.format, &record.nodes);
    let runbook = how
        .runbook
        .clone()
        .map_or(RunbookSource::Bundled, RunbookSource::File);
    let options = resume_options(
        &record,
        backend,
        runbook,
        how.kube_context.clone(),
        &progress,
    )?;
    execute_prepared(PreparedRun {
        clients,
        cloud,
        runtime,
        options,
        progress,
        journal_hint: how.journal_hint,
    })
    .await
}

/// The options that resume the journaled run `record` as it was started: its mode, nodes,
/// settings and policies come from the journal.
pub(super) fn resume_options(
    record: &crate::run::journal::RunRecord,
    backend: crate::run::journal::JournalBackend,
    runbook: RunbookSource,
    kube_context: Option<String>,
    progress: &Progress,
) -> anyhow::Result<RunOptions> {
    let mode = match record.mode.as_str() {
        "drain" => RunMode::Drain,
        _ => RunMode::Recycle,
    };
    let policies = &record.policies;
    let pre = policies_from_record(&policies["pre"])?;
    let post = policies_from_record(&policies["post"])?;
    let flag = |key: &str| {
        record
            .settings
            .get(key)
            .and_then(serde_json::Value::as_bool)
            == Some(true)
    };
    Ok(RunOptions {
        policies_record: record.policies.clone(),
        cluster_id: record.cluster_id.clone(),
        resume: Some(record.run_id.clone()),
        assume_yes: flag("assume_yes"),
        allow_delete: flag("disable_eviction"),
        kube_context,
        ..run_options(
            mode,
            record.nodes.clone(),
            record.settings.clone(),
            runbook,
            (pre, post),
            backend,
            progress,
        )
    })
}

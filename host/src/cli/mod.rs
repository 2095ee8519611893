//! The `tke-recycle` command line: clap derive, one file per subcommand, shared flag groups in
//! [`args`]. `main` is thin: parse, run, print the error chain once, map to an exit code.
//!
//! Exit codes (also in `--help` and the README): 0 the command succeeded and no policy denied;
//! 1 a policy denied (an answer, not a failure); 2 bad usage, configuration or input; 3 the command
//! could not complete (cluster or cloud unreachable, a step failed).

mod access;
mod args;
mod check;
mod config;
mod demo;
mod drain;
mod fleet;
mod nodes;
mod output;
mod policy;
mod policy_check;
mod policy_list;
mod progress;
mod recycle;
mod resume;
mod run_args;
mod sim;
mod snapshot_cmd;
mod status;

use crate::k8s::api_error;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

pub use args::UsageError;

/// Exit code: success, and no policy denied.
pub const EXIT_OK: u8 = 0;
/// Exit code: a policy denied.
pub const EXIT_DENY: u8 = 1;
/// Exit code: bad usage, configuration or input.
pub const EXIT_USAGE: u8 = 2;
/// Exit code: the command could not complete.
pub const EXIT_FAILED: u8 = 3;

const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success; no policy denied (warnings allowed); a run finished every node
  1  a policy denied (a run stops before touching the denied node)
  2  bad usage, configuration or input (e.g. an unknown node, a node TKE does not have)
  3  the command could not complete (cluster or cloud unreachable, a step failed, a run was
     stopped or blocked: `tke-recycle resume` continues it)

Logs go to stderr; set TKE_RECYCLE_LOG (e.g. debug, or tke_recycle=trace) to see more.";

/// Recycle TKE nodes safely: check, cordon, drain, remove keeping the VM, add back, verify.
#[derive(Debug, Parser)]
#[command(name = "tke-recycle", version, about, after_help = EXIT_CODES_HELP)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List policies and check them offline against a snapshot file.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Write a snapshot of the live cluster to a file (the format `policy check` reads).
    Snapshot(snapshot_cmd::SnapshotArgs),
    /// List nodes with their Tencent Cloud instance, LAN IP, node pool, TKE state and charge type.
    Nodes(nodes::NodesArgs),
    /// Take a live snapshot and run the pre-check policies for the given nodes.
    Check(check::LiveCheckArgs),
    /// Recycle nodes one at a time: check, cordon, drain, remove keeping the VM, add back,
    /// wait Ready, restore, uncordon, post-check.
    Run(recycle::RunArgs),
    /// Dry run of `run`: findings, pods to evict, instance and add-back settings; changes nothing.
    Plan(recycle::PlanArgs),
    /// Drain nodes safely on any cluster (checks, cordon, evict with PDBs, wait), no TKE steps.
    Drain(drain::DrainArgs),
    /// Finish a crashed or stopped run from its journal.
    Resume(resume::ResumeArgs),
    /// Recycle many clusters in batches, with a health gate after each; the state stays in the
    /// clusters (`fleet plan`, `fleet status`, `fleet resume`).
    Fleet(fleet::FleetCommand),
    /// Runs and where each stands.
    Status(status::StatusArgs),
    /// Recycle two nodes of a built-in practice cluster end to end (no account needed).
    Demo(demo::DemoArgs),
    /// Run the practice cluster (a Kubernetes API and a TKE API on 127.0.0.1).
    Sim(sim::SimCommand),
}

/// Parse the command line, run, print errors once, return the exit code.
pub fn main() -> ExitCode {
    init_logging();
    let matches = match Cli::command().try_get_matches() {
        Ok(m) => m,
        // clap prints usage errors with exit code 2 and --help/--version with 0.
        Err(e) => e.exit(),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Policy(cmd) => cmd
                .execute(policy::sub_matches(&matches))
                .await
                .map(ExitCode::from),
            Command::Sim(cmd) => cmd.execute().await,
            Command::Snapshot(args) => args.execute().await.map(ExitCode::from),
            Command::Nodes(args) => args.execute().await.map(ExitCode::from),
            Command::Check(args) => args
                .execute(matches.subcommand_matches("check"))
                .await
                .map(ExitCode::from),
            Command::Run(args) => args
                .execute(matches.subcommand_matches("run"))
                .await
                .map(ExitCode::from),
            Command::Plan(args) => args
                .execute(matches.subcommand_matches("plan"))
                .await
                .map(ExitCode::from),
            Command::Drain(args) => args
                .execute(matches.subcommand_matches("drain"))
                .await
                .map(ExitCode::from),
            Command::Resume(args) => args.execute().await.map(ExitCode::from),
            Command::Fleet(cmd) => cmd.execute().await.map(ExitCode::from),
            Command::Status(args) => args.execute().await.map(ExitCode::from),
            Command::Demo(args) => args.execute().await.map(ExitCode::from),
        }
    });
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {}", api_error::render(err.as_ref()));
            ExitCode::from(exit_code_for(&err))
        }
    }
}

/// Bad input (usage, configuration, an unreadable snapshot) is 2; anything else is 3.
fn exit_code_for(err: &anyhow::Error) -> u8 {
    let is_input = err
        .chain()
        .any(|e| e.is::<UsageError>() || e.is::<crate::snapshot::SnapshotError>());
    if is_input { EXIT_USAGE } else { EXIT_FAILED }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TKE_RECYCLE_LOG")
        // kube-rs logs every failed request at ERROR before returning it; the error itself is
        // reported once, as a sentence (`k8s::api_error`), so its log is noise by default.
        .unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new("warn,kube_client::client::builder=off")
        });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}

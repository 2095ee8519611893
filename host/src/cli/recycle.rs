//! `tke-recycle run` and `tke-recycle plan`: recycle nodes one at a time with the runbook, or
//! show what that would do without changing anything.

use clap::{ArgMatches, Args};

use super::run_args::{RecycleArgs, Target, execute_prepared};
use crate::bindings::RunMode;

/// Recycle nodes: check, capture, cordon, drain, remove (keeping the VM), add back, wait, restore
/// labels and taints, uncordon, post-check; one node at a time.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub recycle: RecycleArgs,
}

/// Dry run: per node the findings, the pods that would be evicted, the instance and the
/// settings it would be added back with. Changes nothing; exit 1 if a deny stands.
#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub recycle: RecycleArgs,
}

async fn go(args: &RecycleArgs, mode: RunMode, matches: Option<&ArgMatches>) -> anyhow::Result<u8> {
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
        config: args.config.as_deref(),
    };
    let prepared = args.common.prepare(target, matches).await?;
    execute_prepared(prepared).await
}

impl RunArgs {
    /// Run it; the exit code.
    pub async fn execute(self, matches: Option<&ArgMatches>) -> anyhow::Result<u8> {
        go(&self.recycle, RunMode::Recycle, matches).await
    }
}

impl PlanArgs {
    /// Plan it; the exit code.
    pub async fn execute(self, matches: Option<&ArgMatches>) -> anyhow::Result<u8> {
        go(&self.recycle, RunMode::Plan, matches).await
    }
}

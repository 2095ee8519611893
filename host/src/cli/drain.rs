//! `tke-recycle drain NODE...`: the runbook without the TKE steps, for any cluster: pre-checks,
//! cordon, evictions in parallel with backoff and the blocking PDB named live, a timeout that
//! uncordons, a journal and `resume`.

use clap::{ArgMatches, Args};

use super::run_args::{CommonRunArgs, Target, execute_prepared};
use crate::bindings::RunMode;

/// Drain nodes safely (a better `kubectl drain`): checks, cordon, evict, wait.
#[derive(Debug, Args)]
pub struct DrainArgs {
    /// The nodes, drained one after the other.
    #[arg(value_name = "NODE", required = true)]
    pub nodes: Vec<String>,
    /// Uncordon each node after its drain (e.g. to test PDBs); default: leave it cordoned.
    #[arg(long)]
    pub uncordon: bool,
    #[command(flatten)]
    pub common: CommonRunArgs,
}

impl DrainArgs {
    /// Drain; the exit code.
    pub async fn execute(self, matches: Option<&ArgMatches>) -> anyhow::Result<u8> {
        let target = Target {
            mode: RunMode::Drain,
            nodes: &self.nodes,
            selector: None,
            cluster: None,
            cloud: None,
            login_key_ids: &[],
            keep_image_login: false,
            keep_data_disk: None,
            uncordon_after_drain: self.uncordon,
            config: None,
        };
        let prepared = self.common.prepare(target, matches).await?;
        execute_prepared(prepared).await
    }
}

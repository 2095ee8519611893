//! `tke-recycle snapshot -o FILE`: read the live cluster once and write the snapshot file that
//! `policy check --snapshot` reads.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;

use super::EXIT_OK;
use super::access::KubeArgs;
use crate::k8s::snapshot::{SnapshotReadError, write_snapshot};

/// Write a snapshot of the live cluster to a file.
#[derive(Debug, Args)]
pub struct SnapshotArgs {
    /// Where to write it (JSON).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
    /// TKE cluster ID to record in the snapshot (cls-...).
    #[arg(long, value_name = "CLUSTER_ID")]
    pub cluster: Option<String>,
    #[command(flatten)]
    pub kube: KubeArgs,
}

impl SnapshotArgs {
    /// Run it.
    pub async fn execute(self) -> anyhow::Result<u8> {
        let clients = self.kube.clients().await?;
        let written = match write_snapshot(&clients.reads, self.cluster.clone(), &self.output).await
        {
            Ok(written) => written,
            // The file's error names the file and says why.
            Err(SnapshotReadError::Write(e)) => return Err(e.into()),
            Err(e) => return Err(e).context("cannot read the cluster"),
        };
        eprintln!(
            "wrote {}: {} nodes, {} pods, {} PDBs, {} workloads",
            self.output.display(),
            written.head.nodes.len(),
            written.pods,
            written.head.pdbs.len(),
            written.head.workloads.len()
        );
        Ok(EXIT_OK)
    }
}

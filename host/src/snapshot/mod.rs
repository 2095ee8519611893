//! The compact cluster model and the indexed view that policies query.
//!
//! A [`Snapshot`] is what the host reads from the cluster once per check run (or from a file for
//! offline checks): nodes, pods, PDBs and workloads already projected into the WIT records. Its
//! JSON form is the snapshot file format. [`ClusterView`] indexes it for the narrow queries of the
//! `cluster` interface. This module does no I/O beyond reading and writing snapshot files.

mod node_table;
mod selectors;
mod synthetic;
mod view;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::bindings::types::{Node, Pdb, Pod, Workload};

pub use node_table::NodeTableTooLarge;
pub use selectors::label_selector_matches;
pub use synthetic::{node_name as synthetic_node_name, synthetic};
pub use view::ClusterView;

/// One consistent read of the cluster, as the snapshot file stores it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    /// TKE cluster ID (`cls-...`), when known.
    #[serde(default)]
    pub cluster_id: Option<String>,
    /// When it was taken, Unix seconds.
    #[serde(default)]
    pub taken_at: u64,
    /// Nodes.
    #[serde(default)]
    pub nodes: Vec<Node>,
    /// Pods, bound or pending.
    #[serde(default)]
    pub pods: Vec<Pod>,
    /// PodDisruptionBudgets with status.
    #[serde(default)]
    pub pdbs: Vec<Pdb>,
    /// Deployments, StatefulSets, ReplicaSets without a Deployment, DaemonSets, Jobs.
    #[serde(default)]
    pub workloads: Vec<Workload>,
}

/// Reading or writing a snapshot file failed.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The file could not be read.
    #[error("cannot read snapshot file {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a snapshot (bad JSON, unknown field, wrong type).
    #[error(
        "snapshot file {path} is not a valid snapshot: {source} (the format is documented in wit/types.wit; `tke-recycle snapshot -o FILE` writes one)"
    )]
    Parse {
        /// The file.
        path: PathBuf,
        /// Where and why.
        source: serde_json::Error,
    },
    /// The file could not be written.
    #[error("cannot write snapshot file {path}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl Snapshot {
    /// Read a snapshot file.
    pub fn load(path: &Path) -> Result<Self, SnapshotError> {
        let text = std::fs::read_to_string(path).map_err(|source| SnapshotError::Read {
            path: path.to_owned(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| SnapshotError::Parse {
            path: path.to_owned(),
            source,
        })
    }

    /// Write a snapshot file (compact JSON).
    pub fn save(&self, path: &Path) -> Result<(), SnapshotError> {
        let write_err = |source| SnapshotError::Write {
            path: path.to_owned(),
            source,
        };
        let json = serde_json::to_vec(self).map_err(|e| write_err(std::io::Error::other(e)))?;
        std::fs::write(path, json).map_err(write_err)
    }
}

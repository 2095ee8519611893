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
    ///
    /// The JSON is streamed to a temporary file next to `path`, which then replaces `path`: a
    /// snapshot of a large cluster is ~100 MB of JSON that is never held in memory whole, and a
    /// failed write leaves any earlier file at `path` as it was.
    pub fn save(&self, path: &Path) -> Result<(), SnapshotError> {
        use std::io::Write;
        let write_err = |source| SnapshotError::Write {
            path: path.to_owned(),
            source,
        };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let file = tempfile::NamedTempFile::new_in(dir).map_err(write_err)?;
        let mut out = std::io::BufWriter::with_capacity(1 << 16, file);
        serde_json::to_writer(&mut out, self).map_err(|e| write_err(e.into()))?;
        out.flush().map_err(write_err)?;
        let file = out.into_inner().map_err(|e| write_err(e.into_error()))?;
        file.persist(path).map_err(|e| write_err(e.error))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Snapshot {
        Snapshot {
            cluster_id: Some("cls-test".into()),
            taken_at: 1_700_000_000,
            ..Snapshot::default()
        }
    }

    #[test]
    fn a_saved_snapshot_loads_back_and_replaces_the_old_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("s.json");
        std::fs::write(&path, "old").expect("old file");
        small().save(&path).expect("saves");
        let back = Snapshot::load(&path).expect("loads");
        assert_eq!(back.cluster_id.as_deref(), Some("cls-test"));
        assert_eq!(back.taken_at, 1_700_000_000);
        // Only the snapshot is left: the temporary file was renamed over the old one.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("s.json")]);
    }

    #[test]
    fn a_failed_save_names_the_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("missing").join("s.json");
        let err = small().save(&path).expect_err("no such directory");
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
    }
}

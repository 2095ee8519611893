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
    /// A record could not be serialized (not expected of the WIT records; reported, not hidden).
    #[error("cannot serialize the snapshot")]
    Serialize(#[source] serde_json::Error),
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
    /// Written through a [`SnapshotFile`]: streamed to a temporary file next to `path`, which
    /// then replaces it.
    pub fn save(&self, path: &Path) -> Result<(), SnapshotError> {
        let mut file = SnapshotFile::create(path, self)?;
        // In batches, so that the JSON in memory stays small.
        for batch in self.pods.chunks(500) {
            file.append_pods(&SnapshotFile::pods_json(batch)?, batch.len())?;
        }
        file.finish().map(|_| ())
    }
}

/// A snapshot file being written, its pods appended in batches as they are read.
///
/// The file is a temporary one next to the destination until [`finish`](Self::finish) renames it
/// over the destination, so a failed or abandoned write leaves any earlier file as it was. The
/// JSON is streamed: a 150,000-pod snapshot is ~100 MB of it, never held in memory whole, and the
/// pods need not be held at all (they can be serialized page by page as they are read, see
/// [`pods_json`](Self::pods_json)). The keys are written in the order nodes, PDBs, workloads, pods,
/// which readers of JSON objects do not depend on.
#[derive(Debug)]
pub struct SnapshotFile {
    path: PathBuf,
    out: std::io::BufWriter<tempfile::NamedTempFile>,
    pods: usize,
}

impl SnapshotFile {
    /// Start writing the snapshot file `path` with everything in `head` but its pods (which
    /// are ignored: append them).
    pub fn create(path: &Path, head: &Snapshot) -> Result<Self, SnapshotError> {
        #[derive(Serialize)]
        struct Head<'a> {
            cluster_id: &'a Option<String>,
            taken_at: u64,
            nodes: &'a [Node],
            pdbs: &'a [Pdb],
            workloads: &'a [Workload],
        }
        let write_err = |source| SnapshotError::Write {
            path: path.to_owned(),
            source,
        };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let file = tempfile::NamedTempFile::new_in(dir).map_err(write_err)?;
        let mut file = Self {
            path: path.to_owned(),
            out: std::io::BufWriter::with_capacity(1 << 16, file),
            pods: 0,
        };
        let head = serde_json::to_vec(&Head {
            cluster_id: &head.cluster_id,
            taken_at: head.taken_at,
            nodes: &head.nodes,
            pdbs: &head.pdbs,
            workloads: &head.workloads,
        })
        .map_err(|e| write_err(e.into()))?;
        // The head is a complete object: reopen it for the pods.
        let open = head.strip_suffix(b"}").unwrap_or(&head);
        file.write(open)?;
        file.write(br#","pods":["#)?;
        Ok(file)
    }

    /// Pods as the JSON the file holds for them, comma-separated, for
    /// [`append_pods`](Self::append_pods): what a reader can prepare away from the writer.
    pub fn pods_json(pods: &[Pod]) -> Result<Vec<u8>, SnapshotError> {
        let mut json = Vec::with_capacity(pods.len() * 640);
        for (i, pod) in pods.iter().enumerate() {
            if i > 0 {
                json.push(b',');
            }
            serde_json::to_writer(&mut json, pod).map_err(SnapshotError::Serialize)?;
        }
        Ok(json)
    }

    /// Append `count` pods, given as [`pods_json`](Self::pods_json) made them.
    pub fn append_pods(&mut self, json: &[u8], count: usize) -> Result<(), SnapshotError> {
        if json.is_empty() {
            return Ok(());
        }
        if self.pods > 0 {
            self.write(b",")?;
        }
        self.write(json)?;
        self.pods += count;
        Ok(())
    }

    /// Close the pods and the object, and put the file in place. Returns the pods written.
    pub fn finish(mut self) -> Result<usize, SnapshotError> {
        use std::io::Write;
        self.write(b"]}")?;
        let write_err = |source| SnapshotError::Write {
            path: self.path.clone(),
            source,
        };
        self.out.flush().map_err(write_err)?;
        let file = self
            .out
            .into_inner()
            .map_err(|e| write_err(e.into_error()))?;
        file.persist(&self.path).map_err(|e| write_err(e.error))?;
        Ok(self.pods)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), SnapshotError> {
        use std::io::Write;
        self.out
            .write_all(bytes)
            .map_err(|source| SnapshotError::Write {
                path: self.path.clone(),
                source,
            })
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

    fn pod(name: &str) -> Pod {
        let mut snapshot = synthetic(2, 1);
        let mut pod = snapshot.pods.swap_remove(0);
        pod.name = name.into();
        pod
    }

    #[test]
    fn pods_appended_in_batches_read_back_in_order_after_the_rest() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("s.json");
        let mut head = synthetic(3, 1);
        head.pods.clear();
        let mut file = SnapshotFile::create(&path, &head).expect("creates");
        let (a, b) = ([pod("a"), pod("b")], [pod("c")]);
        file.append_pods(&SnapshotFile::pods_json(&a).expect("json"), a.len())
            .expect("first batch");
        file.append_pods(&SnapshotFile::pods_json(&[]).expect("json"), 0)
            .expect("an empty batch");
        file.append_pods(&SnapshotFile::pods_json(&b).expect("json"), b.len())
            .expect("second batch");
        assert_eq!(file.finish().expect("finishes"), 3);
        let back = Snapshot::load(&path).expect("loads");
        let names: Vec<_> = back.pods.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(back.nodes.len(), head.nodes.len());
        assert_eq!(back.workloads.len(), head.workloads.len());
        assert_eq!(back.pdbs.len(), head.pdbs.len());
    }

    #[test]
    fn a_snapshot_without_pods_is_a_valid_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("s.json");
        SnapshotFile::create(&path, &small())
            .expect("creates")
            .finish()
            .expect("finishes");
        assert!(Snapshot::load(&path).expect("loads").pods.is_empty());
    }

    #[test]
    fn an_abandoned_write_leaves_the_old_file_and_no_other() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("s.json");
        std::fs::write(&path, "old").expect("old file");
        let mut file = SnapshotFile::create(&path, &small()).expect("creates");
        file.append_pods(b"{", 1).expect("half a pod");
        drop(file); // e.g. the read failed half-way
        assert_eq!(std::fs::read_to_string(&path).expect("reads"), "old");
        assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 1);
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

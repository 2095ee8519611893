//! The read-only cluster a policy queries: the host's snapshot inside Wasm, an in-memory one in
//! native tests and benchmarks.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::selectors::{label_selector_matches, pod_is_finished};
use crate::{
    CoveringPdb, Label, LabelSelector, Node, NodeSummary, ObjectRef, Pdb, Pod, Resources,
    SnapshotInfo, Workload, WorkloadKind,
};

/// The queries of the `cluster` interface. Object safe, so decision code takes `&dyn Cluster`.
pub trait Cluster {
    /// What the snapshot is of.
    fn info(&self) -> SnapshotInfo;
    /// Every node with allocatable and requested totals, sorted by name.
    fn nodes(&self) -> Vec<NodeSummary>;
    /// One node by name.
    fn node(&self, name: &str) -> Option<NodeSummary>;
    /// Pods bound to a node.
    fn pods_on_node(&self, node: &str) -> Vec<Pod>;
    /// Pods in a namespace matched by a selector.
    fn pods_matching(&self, namespace: &str, selector: &LabelSelector) -> Vec<Pod>;
    /// Nodes running an unfinished pod matched by the selector in one of the namespaces.
    fn nodes_with_pods_matching(
        &self,
        namespaces: &[String],
        selector: &LabelSelector,
    ) -> Vec<String>;
    /// Bound, unfinished pods with a required anti-affinity term that selects a pod of
    /// `namespace` with `labels`: the pods that refuse such a pod in their topology domain.
    fn pods_with_anti_affinity_matching(&self, namespace: &str, labels: &[Label]) -> Vec<Pod>;
    /// PDBs covering any of the pods, each with the pods it covers.
    fn pdbs_covering(&self, pods: &[ObjectRef]) -> Vec<CoveringPdb>;
    /// One workload.
    fn workload(&self, namespace: &str, kind: &WorkloadKind, name: &str) -> Option<Workload>;
}

/// The host's snapshot, through the `cluster` imports. Only usable inside a component.
pub struct HostCluster;

#[cfg(target_arch = "wasm32")]
impl Cluster for HostCluster {
    fn info(&self) -> SnapshotInfo {
        crate::bindings::tke::recycle::cluster::info()
    }
    fn nodes(&self) -> Vec<NodeSummary> {
        let table = crate::bindings::tke::recycle::cluster::nodes();
        // Only the host writes the table; a bad one is a host bug. Panicking makes the host
        // report the policy as failed with this message, which is failing closed.
        crate::node_table::decode_node_table(&table)
            .unwrap_or_else(|e| panic!("{e}; this is a bug in the tke-recycle host"))
    }
    fn node(&self, name: &str) -> Option<NodeSummary> {
        crate::bindings::tke::recycle::cluster::node(name)
    }
    fn pods_on_node(&self, node: &str) -> Vec<Pod> {
        crate::bindings::tke::recycle::cluster::pods_on_node(node)
    }
    fn pods_matching(&self, namespace: &str, selector: &LabelSelector) -> Vec<Pod> {
        crate::bindings::tke::recycle::cluster::pods_matching(namespace, selector)
    }
    fn nodes_with_pods_matching(
        &self,
        namespaces: &[String],
        selector: &LabelSelector,
    ) -> Vec<String> {
        crate::bindings::tke::recycle::cluster::nodes_with_pods_matching(namespaces, selector)
    }
    fn pods_with_anti_affinity_matching(&self, namespace: &str, labels: &[Label]) -> Vec<Pod> {
        crate::bindings::tke::recycle::cluster::pods_with_anti_affinity_matching(namespace, labels)
    }
    fn pdbs_covering(&self, pods: &[ObjectRef]) -> Vec<CoveringPdb> {
        crate::bindings::tke::recycle::cluster::pdbs_covering(pods)
    }
    fn workload(&self, namespace: &str, kind: &WorkloadKind, name: &str) -> Option<Workload> {
        crate::bindings::tke::recycle::cluster::find_workload(namespace, kind, name)
    }
}

/// The snapshot file: the compact model as JSON, exactly what `tke-recycle snapshot` writes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapshotFile {
    /// TKE cluster ID, when known.
    #[serde(default)]
    pub cluster_id: Option<String>,
    /// When it was taken, Unix seconds.
    #[serde(default)]
    pub taken_at: u64,
    /// Nodes.
    #[serde(default)]
    pub nodes: Vec<Node>,
    /// Pods.
    #[serde(default)]
    pub pods: Vec<Pod>,
    /// PodDisruptionBudgets.
    #[serde(default)]
    pub pdbs: Vec<Pdb>,
    /// Workloads.
    #[serde(default)]
    pub workloads: Vec<Workload>,
}

/// An in-memory [`Cluster`] for native tests and benchmarks, with the host's query semantics.
///
/// Indexed once at construction (node summaries, pods by node, by namespace and by name) so that
/// a native benchmark on a 150,000-pod snapshot measures the policy, not a linear scan here.
pub struct MemoryCluster {
    snapshot: SnapshotFile,
    summaries: Vec<NodeSummary>,
    node_index: HashMap<String, usize>,
    pods_by_node: HashMap<String, Vec<usize>>,
    pods_by_namespace: HashMap<String, Vec<usize>>,
    pod_index: HashMap<(String, String), usize>,
}

impl MemoryCluster {
    /// Index a snapshot.
    pub fn new(snapshot: SnapshotFile) -> Self {
        let mut pods_by_node: HashMap<String, Vec<usize>> = HashMap::new();
        let mut pods_by_namespace: HashMap<String, Vec<usize>> = HashMap::new();
        let mut pod_index = HashMap::new();
        for (i, pod) in snapshot.pods.iter().enumerate() {
            if let Some(node) = &pod.node_name {
                pods_by_node.entry(node.clone()).or_default().push(i);
            }
            pods_by_namespace
                .entry(pod.namespace.clone())
                .or_default()
                .push(i);
            pod_index.insert((pod.namespace.clone(), pod.name.clone()), i);
        }
        let mut cluster = Self {
            snapshot,
            summaries: Vec::new(),
            node_index: HashMap::new(),
            pods_by_node,
            pods_by_namespace,
            pod_index,
        };
        // In name order, as the host answers `nodes()`.
        cluster.summaries = cluster
            .snapshot
            .nodes
            .iter()
            .map(|n| cluster.summary(n))
            .collect();
        cluster
            .summaries
            .sort_by(|a, b| a.node.name.cmp(&b.node.name));
        cluster.node_index = cluster
            .snapshot
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.clone(), i))
            .collect();
        cluster
    }

    /// Parse and index a snapshot file's JSON.
    pub fn from_json(json: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(json).map(Self::new)
    }

    fn summary(&self, node: &Node) -> NodeSummary {
        let mut requested = Resources {
            cpu_millis: 0,
            memory_bytes: 0,
            pods: 0,
            ephemeral_storage_bytes: 0,
            extended: Vec::new(),
        };
        for &i in self.pods_by_node.get(&node.name).into_iter().flatten() {
            let pod = &self.snapshot.pods[i];
            if !pod_is_finished(pod) {
                crate::quantity::add_resources(&mut requested, &pod.requests);
                requested.pods += 1;
            }
        }
        NodeSummary {
            node: node.clone(),
            requested,
        }
    }

    fn in_namespace(&self, namespace: &str) -> impl Iterator<Item = &Pod> {
        self.pods_by_namespace
            .get(namespace)
            .into_iter()
            .flatten()
            .map(|&i| &self.snapshot.pods[i])
    }
}

impl Cluster for MemoryCluster {
    fn info(&self) -> SnapshotInfo {
        SnapshotInfo {
            cluster_id: self.snapshot.cluster_id.clone(),
            taken_at: self.snapshot.taken_at,
            node_count: u32::try_from(self.snapshot.nodes.len()).unwrap_or(u32::MAX),
            pod_count: u32::try_from(self.snapshot.pods.len()).unwrap_or(u32::MAX),
        }
    }

    fn nodes(&self) -> Vec<NodeSummary> {
        self.summaries.clone()
    }

    fn node(&self, name: &str) -> Option<NodeSummary> {
        self.node_index
            .get(name)
            .map(|&i| self.summaries[i].clone())
    }

    fn pods_on_node(&self, node: &str) -> Vec<Pod> {
        self.pods_by_node
            .get(node)
            .into_iter()
            .flatten()
            .map(|&i| self.snapshot.pods[i].clone())
            .collect()
    }

    fn pods_matching(&self, namespace: &str, selector: &LabelSelector) -> Vec<Pod> {
        self.in_namespace(namespace)
            .filter(|p| label_selector_matches(selector, &p.labels))
            .cloned()
            .collect()
    }

    fn nodes_with_pods_matching(
        &self,
        namespaces: &[String],
        selector: &LabelSelector,
    ) -> Vec<String> {
        let mut nodes: Vec<&str> = namespaces
            .iter()
            .flat_map(|ns| self.in_namespace(ns))
            .filter(|p| !pod_is_finished(p))
            .filter(|p| label_selector_matches(selector, &p.labels))
            .filter_map(|p| p.node_name.as_deref())
            .collect();
        nodes.sort_unstable();
        nodes.dedup();
        nodes.into_iter().map(str::to_owned).collect()
    }

    fn pods_with_anti_affinity_matching(&self, namespace: &str, labels: &[Label]) -> Vec<Pod> {
        self.snapshot
            .pods
            .iter()
            .filter(|p| p.node_name.is_some() && !pod_is_finished(p))
            .filter(|holder| {
                holder.required_anti_affinity.iter().any(|t| {
                    let in_scope = if t.namespaces.is_empty() {
                        holder.namespace == namespace
                    } else {
                        t.namespaces.iter().any(|n| n == namespace)
                    };
                    in_scope && label_selector_matches(&t.selector, labels)
                })
            })
            .cloned()
            .collect()
    }

    fn pdbs_covering(&self, pods: &[ObjectRef]) -> Vec<CoveringPdb> {
        let asked: Vec<&Pod> = pods
            .iter()
            .filter_map(|r| {
                let key = (r.namespace.clone()?, r.name.clone());
                self.pod_index.get(&key).map(|&i| &self.snapshot.pods[i])
            })
            .collect();
        self.snapshot
            .pdbs
            .iter()
            .filter_map(|pdb| {
                let covered: Vec<String> = asked
                    .iter()
                    .filter(|p| p.namespace == pdb.namespace)
                    .filter(|p| label_selector_matches(&pdb.selector, &p.labels))
                    .map(|p| p.name.clone())
                    .collect();
                (!covered.is_empty()).then(|| CoveringPdb {
                    pdb: pdb.clone(),
                    pods: covered,
                })
            })
            .collect()
    }

    fn workload(&self, namespace: &str, kind: &WorkloadKind, name: &str) -> Option<Workload> {
        self.snapshot
            .workloads
            .iter()
            .find(|w| w.namespace == namespace && &w.kind == kind && w.name == name)
            .cloned()
    }
}

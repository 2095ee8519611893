//! [`ClusterView`]: a [`Snapshot`] indexed for the `cluster` interface's queries.

use std::collections::HashMap;

use super::Snapshot;
use super::node_table::{self, NodeTableTooLarge};
use super::selectors::label_selector_matches;
use crate::bindings::types::{
    CoveringPdb, ExtendedResource, Label, LabelSelector, NodeSummary, NodeTable, ObjectRef, Pod,
    PodPhase, Resources, SnapshotInfo, Workload, WorkloadKind,
};

/// A snapshot plus the indexes that make each query proportional to its answer, not to the
/// cluster: pods by node and by namespace, per-node requested totals computed once.
#[derive(Debug)]
pub struct ClusterView {
    snapshot: Snapshot,
    node_by_name: HashMap<String, usize>,
    /// Pod indexes per node index.
    pods_by_node: Vec<Vec<u32>>,
    /// Pod indexes per namespace, sorted by pod name: a pod is found by binary search, so no
    /// second copy of every pod's namespace and name is kept (150,000 pods: ~15 MB saved).
    pods_by_namespace: HashMap<String, Vec<u32>>,
    /// Requested totals per node index.
    requested: Vec<Resources>,
    /// Bound, unfinished pods with required anti-affinity terms: few in any cluster, so the
    /// "who refuses this pod" query scans them instead of every pod.
    anti_affinity_holders: Vec<u32>,
    /// Every node summary in name order (so guests need not sort), encoded once for `nodes()`.
    node_table: Result<NodeTable, NodeTableTooLarge>,
}

fn empty_resources() -> Resources {
    Resources {
        cpu_millis: 0,
        memory_bytes: 0,
        pods: 0,
        ephemeral_storage_bytes: 0,
        extended: Vec::new(),
    }
}

fn add_requests(total: &mut Resources, pod: &Resources) {
    total.cpu_millis = total.cpu_millis.saturating_add(pod.cpu_millis);
    total.memory_bytes = total.memory_bytes.saturating_add(pod.memory_bytes);
    total.ephemeral_storage_bytes = total
        .ephemeral_storage_bytes
        .saturating_add(pod.ephemeral_storage_bytes);
    total.pods += 1;
    for ext in &pod.extended {
        match total.extended.iter_mut().find(|e| e.name == ext.name) {
            Some(e) => e.amount = e.amount.saturating_add(ext.amount),
            None => total.extended.push(ExtendedResource {
                name: ext.name.clone(),
                amount: ext.amount,
            }),
        }
    }
}

/// Finished pods hold no resources and no longer count for anti-affinity.
fn is_finished(pod: &Pod) -> bool {
    matches!(pod.phase, PodPhase::Succeeded | PodPhase::Failed)
}

impl ClusterView {
    /// Index a snapshot. Pods bound to a node that is not in the snapshot are kept (they are
    /// still found by namespace) but count towards no node.
    pub fn new(snapshot: Snapshot) -> Self {
        let node_by_name: HashMap<String, usize> = snapshot
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.clone(), i))
            .collect();
        let mut pods_by_node = vec![Vec::new(); snapshot.nodes.len()];
        let mut requested = vec![empty_resources(); snapshot.nodes.len()];
        let mut pods_by_namespace: HashMap<String, Vec<u32>> = HashMap::new();
        let mut anti_affinity_holders = Vec::new();
        for (i, pod) in snapshot.pods.iter().enumerate() {
            let i = u32::try_from(i).expect("fewer than 4 billion pods");
            if !pod.required_anti_affinity.is_empty()
                && pod.node_name.is_some()
                && !is_finished(pod)
            {
                anti_affinity_holders.push(i);
            }
            pods_by_namespace
                .entry(pod.namespace.clone())
                .or_default()
                .push(i);
            if let Some(n) = pod.node_name.as_ref().and_then(|n| node_by_name.get(n)) {
                pods_by_node[*n].push(i);
                if !is_finished(pod) {
                    add_requests(&mut requested[*n], &pod.requests);
                }
            }
        }
        for pods in pods_by_namespace.values_mut() {
            pods.sort_by(|&a, &b| {
                snapshot.pods[a as usize]
                    .name
                    .cmp(&snapshot.pods[b as usize].name)
            });
        }
        for r in &mut requested {
            r.extended.sort_by(|a, b| a.name.cmp(&b.name));
        }
        let mut nodes_by_name: Vec<usize> = (0..snapshot.nodes.len()).collect();
        nodes_by_name.sort_by(|&a, &b| snapshot.nodes[a].name.cmp(&snapshot.nodes[b].name));
        let node_table = node_table::encode(
            nodes_by_name
                .iter()
                .map(|&i| (&snapshot.nodes[i], &requested[i])),
        );
        Self {
            snapshot,
            node_by_name,
            pods_by_node,
            pods_by_namespace,
            requested,
            anti_affinity_holders,
            node_table,
        }
    }

    /// The snapshot behind the view.
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    fn pod(&self, i: u32) -> &Pod {
        &self.snapshot.pods[i as usize]
    }

    fn summary(&self, i: usize) -> NodeSummary {
        NodeSummary {
            node: self.snapshot.nodes[i].clone(),
            requested: self.requested[i].clone(),
        }
    }

    /// What the snapshot is of.
    pub fn info(&self) -> SnapshotInfo {
        SnapshotInfo {
            cluster_id: self.snapshot.cluster_id.clone(),
            taken_at: self.snapshot.taken_at,
            node_count: u32::try_from(self.snapshot.nodes.len()).unwrap_or(u32::MAX),
            pod_count: u32::try_from(self.snapshot.pods.len()).unwrap_or(u32::MAX),
        }
    }

    /// Every node summary in name order as one flat `node-table`, what the `nodes` query hands
    /// a guest. Encoded once when the view is built; an error if the nodes are too large for it.
    pub fn node_table(&self) -> Result<&NodeTable, NodeTableTooLarge> {
        self.node_table.as_ref().map_err(Clone::clone)
    }

    /// One node by name.
    pub fn node(&self, name: &str) -> Option<NodeSummary> {
        self.node_by_name.get(name).map(|&i| self.summary(i))
    }

    /// Pods bound to a node.
    pub fn pods_on_node(&self, node: &str) -> Vec<Pod> {
        self.node_by_name
            .get(node)
            .map(|&n| {
                self.pods_by_node[n]
                    .iter()
                    .map(|&i| self.pod(i).clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Pods of a namespace matched by a selector.
    pub fn pods_matching(&self, namespace: &str, selector: &LabelSelector) -> Vec<Pod> {
        self.pods_by_namespace
            .get(namespace)
            .into_iter()
            .flatten()
            .map(|&i| self.pod(i))
            .filter(|p| label_selector_matches(selector, &p.labels))
            .cloned()
            .collect()
    }

    /// Nodes running an unfinished matched pod in one of the namespaces, sorted.
    pub fn nodes_with_pods_matching(
        &self,
        namespaces: &[String],
        selector: &LabelSelector,
    ) -> Vec<String> {
        let mut nodes: Vec<String> = namespaces
            .iter()
            .filter_map(|ns| self.pods_by_namespace.get(ns))
            .flatten()
            .map(|&i| self.pod(i))
            .filter(|p| !is_finished(p) && label_selector_matches(selector, &p.labels))
            .filter_map(|p| p.node_name.clone())
            .collect();
        nodes.sort();
        nodes.dedup();
        nodes
    }

    /// Bound, unfinished pods with a required anti-affinity term selecting a pod of `namespace`
    /// with `labels` (a term without namespaces selects in its own pod's namespace).
    pub fn pods_with_anti_affinity_matching(&self, namespace: &str, labels: &[Label]) -> Vec<Pod> {
        self.anti_affinity_holders
            .iter()
            .map(|&i| self.pod(i))
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

    /// A pod by namespace and name.
    fn find_pod(&self, namespace: &str, name: &str) -> Option<&Pod> {
        let pods = self.pods_by_namespace.get(namespace)?;
        let at = pods
            .binary_search_by(|&i| self.pod(i).name.as_str().cmp(name))
            .ok()?;
        Some(self.pod(pods[at]))
    }

    /// PDBs matching any of the given pods, each with the pods (by name) it covers. Pods that are
    /// not in the snapshot are ignored.
    pub fn pdbs_covering(&self, pods: &[ObjectRef]) -> Vec<CoveringPdb> {
        let known: Vec<&Pod> = pods
            .iter()
            .filter_map(|r| self.find_pod(r.namespace.as_deref()?, &r.name))
            .collect();
        self.snapshot
            .pdbs
            .iter()
            .filter_map(|pdb| {
                let covered: Vec<String> = known
                    .iter()
                    .filter(|p| {
                        p.namespace == pdb.namespace
                            && label_selector_matches(&pdb.selector, &p.labels)
                    })
                    .map(|p| p.name.clone())
                    .collect();
                (!covered.is_empty()).then(|| CoveringPdb {
                    pdb: pdb.clone(),
                    pods: covered,
                })
            })
            .collect()
    }

    /// One workload.
    pub fn workload(&self, namespace: &str, kind: &WorkloadKind, name: &str) -> Option<Workload> {
        self.snapshot
            .workloads
            .iter()
            .find(|w| w.namespace == namespace && &w.kind == kind && w.name == name)
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::types::{Label, Node, Pdb, UnhealthyPodEvictionPolicy};

    fn res(cpu: u64, mem: u64) -> Resources {
        Resources {
            cpu_millis: cpu,
            memory_bytes: mem,
            pods: 0,
            ephemeral_storage_bytes: 0,
            extended: vec![],
        }
    }

    fn node(name: &str) -> Node {
        Node {
            name: name.into(),
            instance_id: None,
            internal_ip: None,
            labels: vec![],
            taints: vec![],
            unschedulable: false,
            ready: true,
            allocatable: res(2000, 4 << 30),
        }
    }

    fn pod(name: &str, node: Option<&str>, phase: PodPhase, app: &str) -> Pod {
        Pod {
            namespace: "default".into(),
            name: name.into(),
            uid: format!("uid-{name}"),
            node_name: node.map(Into::into),
            phase,
            ready: phase == PodPhase::Running,
            terminating: false,
            labels: vec![Label {
                key: "app".into(),
                value: app.into(),
            }],
            owner: None,
            mirror: false,
            priority: 0,
            requests: res(100, 1 << 20),
            node_selector: vec![],
            required_node_affinity: vec![],
            tolerations: vec![],
            required_anti_affinity: vec![],
            required_affinity: None,
            topology_spread: None,
            preempts: None,
            volumes: vec![],
            termination_grace_seconds: 30,
        }
    }

    fn selector(app: &str) -> LabelSelector {
        LabelSelector {
            match_labels: vec![Label {
                key: "app".into(),
                value: app.into(),
            }],
            match_expressions: vec![],
        }
    }

    fn view() -> ClusterView {
        ClusterView::new(Snapshot {
            nodes: vec![node("10.0.0.2"), node("10.0.0.1")],
            pods: vec![
                pod("web-1", Some("10.0.0.1"), PodPhase::Running, "web"),
                pod("web-2", Some("10.0.0.2"), PodPhase::Running, "web"),
                pod("job-1", Some("10.0.0.1"), PodPhase::Succeeded, "job"),
                pod("pending", None, PodPhase::Pending, "web"),
            ],
            pdbs: vec![Pdb {
                namespace: "default".into(),
                name: "web".into(),
                selector: selector("web"),
                min_available: None,
                max_unavailable: None,
                disruptions_allowed: 1,
                current_healthy: 2,
                desired_healthy: 1,
                expected_pods: 2,
                unhealthy_pod_eviction_policy: UnhealthyPodEvictionPolicy::IfHealthyBudget,
            }],
            ..Snapshot::default()
        })
    }

    #[test]
    fn requested_totals_skip_finished_pods() {
        let n = view().node("10.0.0.1").expect("node exists");
        assert_eq!((n.requested.cpu_millis, n.requested.pods), (100, 1));
    }

    #[test]
    fn pdbs_covering_finds_each_pod_by_name_and_ignores_unknown_ones() {
        let r = |name: &str| ObjectRef {
            kind: "Pod".into(),
            namespace: Some("default".into()),
            name: name.into(),
        };
        let covering = view().pdbs_covering(&[r("web-2"), r("job-1"), r("pending"), r("ghost")]);
        assert_eq!(covering.len(), 1);
        assert_eq!(covering[0].pods, vec!["web-2", "pending"]);
    }

    #[test]
    fn nodes_come_in_name_order() {
        let view = view();
        let table = view.node_table().expect("small");
        // A name is never string 0 ("absent"), so string `s` starts where `s - 1` ends.
        let names: Vec<&str> = table
            .node_name
            .iter()
            .map(|&s| {
                let (start, end) = (
                    table.string_ends[s as usize - 1],
                    table.string_ends[s as usize],
                );
                &table.text[start as usize..end as usize]
            })
            .collect();
        assert_eq!(names, ["10.0.0.1", "10.0.0.2"]);
    }

    #[test]
    fn pods_on_node_include_finished_ones() {
        assert_eq!(view().pods_on_node("10.0.0.1").len(), 2);
        assert!(view().pods_on_node("nope").is_empty());
    }

    #[test]
    fn nodes_with_matching_pods_are_sorted_and_unique() {
        let v = view();
        assert_eq!(
            v.nodes_with_pods_matching(&["default".into()], &selector("web")),
            vec!["10.0.0.1", "10.0.0.2"]
        );
        assert!(
            v.nodes_with_pods_matching(&["default".into()], &selector("job"))
                .is_empty()
        );
    }

    #[test]
    fn pods_with_anti_affinity_matching_finds_the_bound_pods_whose_terms_select_the_labels() {
        let term = |namespaces: &[&str]| crate::bindings::types::PodAffinityTerm {
            selector: selector("web"),
            namespaces: namespaces.iter().map(|n| (*n).to_owned()).collect(),
            topology_key: "kubernetes.io/hostname".into(),
        };
        let mut loner = pod("loner", Some("10.0.0.1"), PodPhase::Running, "loner");
        loner.required_anti_affinity.push(term(&[]));
        let mut other_ns = pod("guard", Some("10.0.0.2"), PodPhase::Running, "guard");
        other_ns.namespace = "ops".into();
        other_ns.required_anti_affinity.push(term(&["default"]));
        let mut done = pod("done", Some("10.0.0.2"), PodPhase::Succeeded, "done");
        done.required_anti_affinity.push(term(&[]));
        let mut unbound = pod("unbound", None, PodPhase::Pending, "unbound");
        unbound.required_anti_affinity.push(term(&[]));
        let v = ClusterView::new(Snapshot {
            nodes: vec![node("10.0.0.1"), node("10.0.0.2")],
            pods: vec![loner, other_ns, done, unbound],
            ..Snapshot::default()
        });
        let web = selector("web").match_labels;
        let names = |pods: Vec<Pod>| pods.into_iter().map(|p| p.name).collect::<Vec<_>>();
        assert_eq!(
            names(v.pods_with_anti_affinity_matching("default", &web)),
            ["loner", "guard"]
        );
        // In `ops` only the term naming `ops` would select; none does.
        assert!(v.pods_with_anti_affinity_matching("ops", &web).is_empty());
        assert!(
            v.pods_with_anti_affinity_matching("default", &selector("db").match_labels)
                .is_empty()
        );
    }

    #[test]
    fn pdbs_covering_names_the_covered_pods() {
        let refs = [ObjectRef {
            kind: "Pod".into(),
            namespace: Some("default".into()),
            name: "web-1".into(),
        }];
        let covering = view().pdbs_covering(&refs);
        assert_eq!(covering.len(), 1);
        assert_eq!(covering[0].pods, vec!["web-1"]);
    }
}

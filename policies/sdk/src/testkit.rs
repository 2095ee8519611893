//! Small constructors for native tests of policies: a TKE-like node, a running pod, a workload, a
//! check request. Every field is public on the records, so a test builds the default and changes
//! what its case is about.
//!
//! Not for production code paths: the defaults (allocatable of a small TKE node, 100m/128Mi
//! requests) are only meant to make case tables short.

use crate::{
    CheckRequest, Label, LabelSelector, Node, Phase, Pod, PodPhase, Resources, Workload,
    WorkloadKind, WorkloadRef,
};

/// `Ki`.
pub const KI: u64 = 1 << 10;
/// `Mi`.
pub const MI: u64 = 1 << 20;
/// `Gi`.
pub const GI: u64 = 1 << 30;

/// Labels from pairs.
pub fn labels(pairs: &[(&str, &str)]) -> Vec<Label> {
    pairs
        .iter()
        .map(|(k, v)| Label {
            key: (*k).to_owned(),
            value: (*v).to_owned(),
        })
        .collect()
}

/// CPU and memory; no pods, storage or extended resources.
pub fn resources(cpu_millis: u64, memory_bytes: u64) -> Resources {
    Resources {
        cpu_millis,
        memory_bytes,
        pods: 0,
        ephemeral_storage_bytes: 0,
        extended: Vec::new(),
    }
}

/// A Ready, schedulable node with the allocatable of a TKE S5.MEDIUM4 (`cpu 1900m / memory
/// 2607596Ki / pods 61`) and the hostname label.
pub fn node(name: &str) -> Node {
    Node {
        name: name.to_owned(),
        instance_id: None,
        internal_ip: Some(name.to_owned()),
        labels: labels(&[("kubernetes.io/hostname", name)]),
        taints: Vec::new(),
        unschedulable: false,
        ready: true,
        allocatable: Resources {
            pods: 61,
            ..resources(1900, 2_607_596 * KI)
        },
    }
}

/// A Running, Ready bare pod bound to `node_name` requesting `100m` / `128Mi`.
pub fn pod(namespace: &str, name: &str, node_name: &str) -> Pod {
    Pod {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        uid: format!("uid-{namespace}-{name}"),
        node_name: Some(node_name.to_owned()),
        phase: PodPhase::Running,
        ready: true,
        terminating: false,
        labels: Vec::new(),
        owner: None,
        mirror: false,
        priority: 0,
        requests: resources(100, 128 * MI),
        node_selector: Vec::new(),
        required_node_affinity: Vec::new(),
        tolerations: Vec::new(),
        required_anti_affinity: Vec::new(),
        required_affinity: None,
        topology_spread: None,
        preempts: None,
        volumes: Vec::new(),
        termination_grace_seconds: 30,
    }
}

/// An owner reference.
pub fn owner(kind: WorkloadKind, name: &str) -> WorkloadRef {
    WorkloadRef {
        kind,
        name: name.to_owned(),
    }
}

/// A selector with only `matchLabels`.
pub fn selector(pairs: &[(&str, &str)]) -> LabelSelector {
    LabelSelector {
        match_labels: labels(pairs),
        match_expressions: Vec::new(),
    }
}

/// A workload selecting `app=<name>`.
pub fn workload(
    namespace: &str,
    kind: WorkloadKind,
    name: &str,
    replicas: u32,
    ready: u32,
) -> Workload {
    Workload {
        namespace: namespace.to_owned(),
        kind,
        name: name.to_owned(),
        replicas,
        ready_replicas: ready,
        selector: selector(&[("app", name)]),
    }
}

/// A pre-phase request for `targets` with `settings` at `now = 0`.
pub fn request(targets: &[&str], settings: &str) -> CheckRequest {
    CheckRequest {
        targets: targets.iter().map(|t| (*t).to_owned()).collect(),
        phase: Phase::Pre,
        settings: settings.to_owned(),
        now: 0,
        affected: Vec::new(),
    }
}

/// Every string literal in `sources` that looks like a finding code of `policy`
/// (`"<policy>.<rule>"`, rule in lower-case letters, digits and `-`), sorted and deduplicated.
/// Each source is read up to its first `#[cfg(test)]`, so test modules may use made-up codes.
/// With `include_str!` of a crate's sources it keeps the `CODES` list (what `severity_overrides`
/// accepts) and the README in step with what the code emits.
pub fn codes_in_source(policy: &str, sources: &[&str]) -> Vec<String> {
    let needle = format!("\"{policy}.");
    let mut codes: Vec<String> = sources
        .iter()
        .map(|source| source.split("#[cfg(test)]").next().unwrap_or_default())
        .flat_map(|source| {
            source
                .match_indices(&needle)
                .map(move |(i, _)| &source[i + 1..])
        })
        .filter_map(|rest| {
            let end = rest.find('"')?;
            let code = &rest[..end];
            let rule = &code[policy.len() + 1..];
            let valid = !rule.is_empty()
                && rule
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            valid.then(|| code.to_owned())
        })
        .collect();
    codes.sort();
    codes.dedup();
    codes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Cluster, MemoryCluster, SnapshotFile, object_ref};

    #[test]
    fn finds_codes_in_string_literals_only() {
        let src = r#"finding("pdb.zero-budget", ..); "pdb.bad code"; "pdb.exhausted" "pdbx.no"
            #[cfg(test)] "pdb.made-up""#;
        assert_eq!(
            codes_in_source("pdb", &[src]),
            ["pdb.exhausted", "pdb.zero-budget"]
        );
    }

    #[test]
    fn memory_cluster_answers_like_the_host() {
        let mut web = pod("shop", "web-0", "10.0.1.11");
        web.labels = labels(&[("app", "web")]);
        let mut done = pod("shop", "web-old", "10.0.1.12");
        done.labels = web.labels.clone();
        done.phase = PodPhase::Succeeded;
        let mut other_ns = pod("ops", "web-0", "10.0.1.13");
        other_ns.labels = web.labels.clone();
        let cluster = MemoryCluster::new(SnapshotFile {
            nodes: vec![node("10.0.1.11"), node("10.0.1.12"), node("10.0.1.13")],
            pods: vec![web, done, other_ns],
            pdbs: vec![crate::Pdb {
                namespace: "shop".into(),
                name: "web".into(),
                selector: selector(&[("app", "web")]),
                min_available: None,
                max_unavailable: Some(crate::IntOrPercent::Count(1)),
                disruptions_allowed: 1,
                current_healthy: 1,
                desired_healthy: 0,
                expected_pods: 1,
                unhealthy_pod_eviction_policy: crate::UnhealthyPodEvictionPolicy::IfHealthyBudget,
            }],
            ..Default::default()
        });
        let app = selector(&[("app", "web")]);
        assert_eq!(
            cluster.nodes_with_pods_matching(&["shop".into()], &app),
            ["10.0.1.11"],
            "finished pods and other namespaces do not count"
        );
        assert_eq!(cluster.pods_matching("shop", &app).len(), 2);
        assert_eq!(cluster.node("10.0.1.12").map(|n| n.requested.pods), Some(0));
        assert_eq!(
            cluster.node("10.0.1.11").map(|n| n.requested.cpu_millis),
            Some(100)
        );
        let covering = cluster.pdbs_covering(&[
            object_ref("Pod", Some("shop"), "web-0"),
            object_ref("Pod", Some("ops"), "web-0"),
        ]);
        assert_eq!(covering.len(), 1);
        assert_eq!(covering[0].pods, ["web-0"]);
    }
}

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

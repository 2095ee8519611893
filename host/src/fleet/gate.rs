//! The health gate after each cluster of a fleet: the post-check policies over the whole
//! cluster (every workload and PodDisruptionBudget it has, not just those a node affected), plus
//! every node Ready and schedulable. Read-only: it can run any number of times, which is what
//! lets a resumed fleet simply check again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::bindings::types::{CheckRequest, ObjectRef, Phase, Severity, WorkloadKind};
use crate::checks::{OutputLimits, PolicySpec, run_policies};
use crate::engine::Runtime;
use crate::k8s::snapshot::{SnapshotReadError, read_snapshot};
use crate::snapshot::{ClusterView, Snapshot};

/// The gate could not look at the cluster.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the cluster for the health gate")]
pub struct GateError(#[source] pub SnapshotReadError);

/// What one look at the cluster found wrong; empty when the gate passes.
pub type Problems = Vec<String>;

fn kind_name(kind: &WorkloadKind) -> &str {
    match kind {
        WorkloadKind::Deployment => "Deployment",
        WorkloadKind::ReplicaSet => "ReplicaSet",
        WorkloadKind::StatefulSet => "StatefulSet",
        WorkloadKind::DaemonSet => "DaemonSet",
        WorkloadKind::Job => "Job",
        WorkloadKind::Other(k) => k,
    }
}

/// Every workload and PDB of the cluster, as the post-check's `affected`.
pub fn everything(snapshot: &Snapshot) -> Vec<ObjectRef> {
    let workloads = snapshot.workloads.iter().map(|w| ObjectRef {
        kind: kind_name(&w.kind).to_owned(),
        namespace: Some(w.namespace.clone()),
        name: w.name.clone(),
    });
    let pdbs = snapshot.pdbs.iter().map(|p| ObjectRef {
        kind: "PodDisruptionBudget".to_owned(),
        namespace: Some(p.namespace.clone()),
        name: p.name.clone(),
    });
    workloads.chain(pdbs).collect()
}

/// Nodes that are not Ready or not schedulable, as sentences.
pub fn node_problems(snapshot: &Snapshot) -> Problems {
    let mut out = Vec::new();
    for n in &snapshot.nodes {
        if !n.ready {
            out.push(format!("node {} is not Ready", n.name));
        }
        if n.unschedulable {
            out.push(format!("node {} is cordoned (SchedulingDisabled)", n.name));
        }
    }
    out
}

/// Look once: the nodes, then the post-check policies over everything.
pub async fn check_once(
    client: &kube::Client,
    runtime: &Runtime,
    post: &[PolicySpec],
    cluster_id: Option<String>,
) -> Result<Problems, GateError> {
    let snapshot = read_snapshot(client, cluster_id).await.map_err(GateError)?;
    let mut problems = node_problems(&snapshot);
    let request = CheckRequest {
        targets: snapshot.nodes.iter().map(|n| n.name.clone()).collect(),
        phase: Phase::Post,
        settings: String::new(),
        now: u64::try_from(jiff::Timestamp::now().as_second()).unwrap_or(0),
        affected: everything(&snapshot),
    };
    let view = Arc::new(ClusterView::new(snapshot));
    let report = run_policies(runtime, post, view, &request, &OutputLimits::default()).await;
    for f in report.findings().filter(|f| f.severity == Severity::Deny) {
        problems.push(format!("{}: {}", f.code, f.message));
    }
    Ok(problems)
}

/// Look until the gate passes or `timeout` has passed, every `interval`; the problems of the
/// last look (empty: passed).
pub async fn wait_healthy(
    client: &kube::Client,
    runtime: &Runtime,
    post: &[PolicySpec],
    cluster_id: Option<String>,
    timeout: Duration,
    interval: Duration,
) -> Result<Problems, GateError> {
    let started = Instant::now();
    loop {
        let problems = check_once(client, runtime, post, cluster_id.clone()).await?;
        if problems.is_empty() || started.elapsed() + interval > timeout {
            return Ok(problems);
        }
        tokio::time::sleep(interval).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(v: serde_json::Value) -> Snapshot {
        serde_json::from_value(v).expect("snapshot")
    }

    fn node(name: &str, ready: bool, unschedulable: bool) -> serde_json::Value {
        serde_json::json!({"name": name, "labels": [], "taints": [], "unschedulable": unschedulable,
            "ready": ready, "allocatable": {"cpu_millis": 1000, "memory_bytes": 1, "pods": 10,
            "ephemeral_storage_bytes": 0, "extended": []}})
    }

    #[test]
    fn every_node_must_be_ready_and_schedulable() {
        let s = snapshot(serde_json::json!({"nodes": [
            node("a", true, false), node("b", false, false), node("c", true, true)]}));
        assert_eq!(
            node_problems(&s),
            [
                "node b is not Ready",
                "node c is cordoned (SchedulingDisabled)"
            ]
        );
    }

    #[test]
    fn the_gate_covers_every_workload_and_pdb() {
        let selector = serde_json::json!({"match_labels": [], "match_expressions": []});
        let s = snapshot(serde_json::json!({
            "workloads": [{"namespace": "shop", "kind": {"Other": "CronJob"}, "name": "report",
                "replicas": 1, "ready_replicas": 1, "selector": selector}],
            "pdbs": [{"namespace": "shop", "name": "web", "selector": selector,
                "min_available": null, "max_unavailable": null, "disruptions_allowed": 0,
                "current_healthy": 0, "desired_healthy": 0, "expected_pods": 0,
                "unhealthy_pod_eviction_policy": "IfHealthyBudget"}]
        }));
        let refs: Vec<(String, String)> = everything(&s)
            .into_iter()
            .map(|r| (r.kind, r.name))
            .collect();
        assert_eq!(
            refs,
            [
                ("CronJob".to_owned(), "report".to_owned()),
                ("PodDisruptionBudget".to_owned(), "web".to_owned())
            ]
        );
    }
}

//! What a drain does to a pod, and naming workloads: the facts every pre-check starts from.
//!
//! These mirror `kubectl drain` (k8s.io/kubectl/pkg/drain): mirror pods and DaemonSet pods are
//! skipped, finished pods hold nothing, everything else is evicted. Whether an evicted pod comes
//! back depends on its controller: a bare pod is gone for good.

use crate::selectors::pod_is_finished;
use crate::{Cluster, ObjectRef, Pod, WorkloadKind, WorkloadRef};

/// The pod belongs to a DaemonSet: drain leaves it alone (it dies with the node).
pub fn is_daemon_set_pod(pod: &Pod) -> bool {
    pod.owner
        .as_ref()
        .is_some_and(|o| o.kind == WorkloadKind::DaemonSet)
}

/// A drain would evict this pod: not finished, not a static pod's mirror, not a DaemonSet pod.
pub fn evicted_by_drain(pod: &Pod) -> bool {
    !pod_is_finished(pod) && !pod.mirror && !is_daemon_set_pod(pod)
}

/// A controller creates a replacement when this pod is evicted (it has an owner that is not a
/// DaemonSet). Bare pods are deleted for good.
pub fn is_replaced_after_eviction(pod: &Pod) -> bool {
    pod.owner.is_some() && !is_daemon_set_pod(pod)
}

/// The kind name of batch/v1 CronJobs, which the contract carries as `WorkloadKind::Other`.
pub const CRON_JOB: &str = "CronJob";

/// A workload whose pods run to completion (a Job, or a CronJob through its Jobs): its pods are
/// not replicas to keep spread or ready, and once finished it wants none.
pub fn runs_to_completion(kind: &WorkloadKind) -> bool {
    match kind {
        WorkloadKind::Job => true,
        WorkloadKind::Other(k) => k == CRON_JOB,
        _ => false,
    }
}

/// The Kubernetes kind name: `Deployment`, `StatefulSet`, ..., or the kind of `Other`.
pub fn workload_kind_name(kind: &WorkloadKind) -> &str {
    match kind {
        WorkloadKind::Deployment => "Deployment",
        WorkloadKind::ReplicaSet => "ReplicaSet",
        WorkloadKind::StatefulSet => "StatefulSet",
        WorkloadKind::DaemonSet => "DaemonSet",
        WorkloadKind::Job => "Job",
        WorkloadKind::Other(kind) => kind,
    }
}

/// The inverse of [`workload_kind_name`]: any unknown kind becomes `Other`.
pub fn parse_workload_kind(kind: &str) -> WorkloadKind {
    match kind {
        "Deployment" => WorkloadKind::Deployment,
        "ReplicaSet" => WorkloadKind::ReplicaSet,
        "StatefulSet" => WorkloadKind::StatefulSet,
        "DaemonSet" => WorkloadKind::DaemonSet,
        "Job" => WorkloadKind::Job,
        other => WorkloadKind::Other(other.to_owned()),
    }
}

/// An object reference to a pod's workload.
pub fn workload_ref(namespace: &str, owner: &WorkloadRef) -> ObjectRef {
    ObjectRef {
        kind: workload_kind_name(&owner.kind).to_owned(),
        namespace: Some(namespace.to_owned()),
        name: owner.name.clone(),
    }
}

/// The pods bound to the target nodes, and the targets the snapshot does not know.
#[derive(Debug, Default)]
pub struct TargetPods {
    /// Every pod bound to a known target (finished ones included), in target order.
    pub pods: Vec<Pod>,
    /// Target names with no node in the snapshot.
    pub missing: Vec<String>,
}

/// One `node` and one `pods-on-node` query per target: the narrow way to see what a drain touches.
pub fn target_pods(cluster: &dyn Cluster, targets: &[String]) -> TargetPods {
    let mut out = TargetPods::default();
    for target in targets {
        if cluster.node(target).is_none() {
            out.missing.push(target.clone());
            continue;
        }
        out.pods.extend(cluster.pods_on_node(target));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit;

    #[test]
    fn drain_skips_daemon_set_mirror_and_finished_pods() {
        let mut p = testkit::pod("default", "web-1", "10.0.1.11");
        assert!(evicted_by_drain(&p));
        assert!(!is_replaced_after_eviction(&p), "bare pod is gone for good");
        p.owner = Some(testkit::owner(WorkloadKind::DaemonSet, "kube-proxy"));
        assert!(!evicted_by_drain(&p));
        p.owner = Some(testkit::owner(WorkloadKind::Deployment, "web"));
        assert!(evicted_by_drain(&p) && is_replaced_after_eviction(&p));
        p.mirror = true;
        assert!(!evicted_by_drain(&p));
        p.mirror = false;
        p.phase = crate::PodPhase::Succeeded;
        assert!(!evicted_by_drain(&p));
    }

    #[test]
    fn jobs_and_cron_jobs_run_to_completion_other_controllers_do_not() {
        assert!(runs_to_completion(&WorkloadKind::Job));
        assert!(runs_to_completion(&WorkloadKind::Other(CRON_JOB.into())));
        for kind in [
            WorkloadKind::Deployment,
            WorkloadKind::StatefulSet,
            WorkloadKind::DaemonSet,
            WorkloadKind::Other("Rollout".into()),
        ] {
            assert!(!runs_to_completion(&kind), "{kind:?}");
        }
    }

    #[test]
    fn kind_names_round_trip() {
        for kind in [
            WorkloadKind::Deployment,
            WorkloadKind::ReplicaSet,
            WorkloadKind::StatefulSet,
            WorkloadKind::DaemonSet,
            WorkloadKind::Job,
            WorkloadKind::Other(CRON_JOB.into()),
            WorkloadKind::Other("Rollout".into()),
        ] {
            assert_eq!(parse_workload_kind(workload_kind_name(&kind)), kind);
        }
    }
}

//! Which pods a drain must evict, decided as `kubectl drain --ignore-daemonsets` decides it.
//!
//! Pure: the caller lists the node's pods (from the live view or a list with
//! `fieldSelector=spec.nodeName=NODE`). Skipped are pods that eviction cannot or need not move:
//! mirror pods (the kubelet's copy of a static pod; deleting it does nothing), pods a DaemonSet
//! controls (the DaemonSet controller would put them back, and they tolerate the cordon), pods
//! that have finished, and pods already terminating. Refusing pods with local data or without a
//! controller is a policy decision and is left to the runbook and its policies.

use std::borrow::Borrow;

use k8s_openapi::api::core::v1::Pod;

use super::project::MIRROR_ANNOTATION;

/// Why a drain leaves a pod alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// The API mirror of a static pod (annotation `kubernetes.io/config.mirror`).
    Mirror,
    /// Controlled by a DaemonSet.
    DaemonSet,
    /// Phase `Succeeded` or `Failed`: nothing runs any more.
    Finished,
    /// Already has a deletionTimestamp: it is going away on its own.
    Terminating,
}

/// Why a drain skips `pod`, or `None` when it must be evicted.
pub fn skip_reason(pod: &Pod) -> Option<Skip> {
    let meta = &pod.metadata;
    if meta
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(MIRROR_ANNOTATION))
    {
        return Some(Skip::Mirror);
    }
    // kubectl looks at the controller reference only (metav1.GetControllerOf), by kind.
    if meta
        .owner_references
        .iter()
        .flatten()
        .any(|r| r.controller == Some(true) && r.kind == "DaemonSet")
    {
        return Some(Skip::DaemonSet);
    }
    if matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    ) {
        return Some(Skip::Finished);
    }
    if meta.deletion_timestamp.is_some() {
        return Some(Skip::Terminating);
    }
    None
}

/// The pods a drain must evict, in the order given. Takes pods or `Arc`s of pods (what
/// [`LiveCluster::pods_on_node`](super::live::LiveCluster::pods_on_node) returns).
pub fn drain_candidates<P: Borrow<Pod>>(pods: &[P]) -> Vec<&P> {
    pods.iter()
        .filter(|p| skip_reason((*p).borrow()).is_none())
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::{Value, json};

    use super::*;

    fn pod(name: &str, meta: Value, phase: &str) -> Pod {
        let mut m = json!({"namespace": "shop", "name": name, "uid": format!("u-{name}")});
        if let (Some(m), Some(extra)) = (m.as_object_mut(), meta.as_object()) {
            m.extend(extra.clone());
        }
        serde_json::from_value(json!({"metadata": m,
            "spec": {"nodeName": "10.0.1.11", "containers": [{"name": "c"}]},
            "status": {"phase": phase}}))
        .expect("valid pod")
    }

    fn owner(kind: &str, controller: bool) -> Value {
        json!({"ownerReferences": [{"apiVersion": "apps/v1", "kind": kind, "name": "x",
                                    "uid": "o", "controller": controller}]})
    }

    #[test]
    fn drain_skips_as_kubectl_does() {
        // (case, pod, expected reason to skip; None = evict)
        let cases: Vec<(&str, Pod, Option<Skip>)> = vec![
            (
                "evict_replica_set_pod",
                pod("a", owner("ReplicaSet", true), "Running"),
                None,
            ),
            ("evict_bare_pod", pod("b", json!({}), "Running"), None),
            ("evict_pending_pod", pod("c", json!({}), "Pending"), None),
            (
                "evict_stateful_set_pod",
                pod("d", owner("StatefulSet", true), "Running"),
                None,
            ),
            (
                "skip_mirror_pod",
                pod(
                    "etcd",
                    json!({"annotations": {"kubernetes.io/config.mirror": "abc"}}),
                    "Running",
                ),
                Some(Skip::Mirror),
            ),
            (
                "skip_daemon_set_pod",
                pod("proxy", owner("DaemonSet", true), "Running"),
                Some(Skip::DaemonSet),
            ),
            (
                "evict_pod_a_daemon_set_owns_without_controlling",
                pod("e", owner("DaemonSet", false), "Running"),
                None,
            ),
            (
                "skip_succeeded_pod",
                pod("job-1", owner("Job", true), "Succeeded"),
                Some(Skip::Finished),
            ),
            (
                "skip_failed_pod",
                pod("job-2", json!({}), "Failed"),
                Some(Skip::Finished),
            ),
            (
                "skip_terminating_pod",
                pod(
                    "f",
                    json!({"deletionTimestamp": "2026-11-27T10:00:00Z"}),
                    "Running",
                ),
                Some(Skip::Terminating),
            ),
            (
                "mirror_wins_over_terminating",
                pod(
                    "g",
                    json!({"annotations": {"kubernetes.io/config.mirror": "x"},
                           "deletionTimestamp": "2026-11-27T10:00:00Z"}),
                    "Running",
                ),
                Some(Skip::Mirror),
            ),
        ];
        for (case, p, want) in &cases {
            assert_eq!(skip_reason(p), *want, "{case}");
        }
        let pods: Vec<Pod> = cases.into_iter().map(|(_, p, _)| p).collect();
        let names: Vec<&str> = drain_candidates(&pods)
            .into_iter()
            .filter_map(|p| p.metadata.name.as_deref())
            .collect();
        assert_eq!(names, ["a", "b", "c", "d", "e"]);
    }

    #[test]
    fn candidates_from_shared_pods() {
        let pods = vec![
            Arc::new(pod("a", json!({}), "Running")),
            Arc::new(pod("proxy", owner("DaemonSet", true), "Running")),
        ];
        let got = drain_candidates(&pods);
        assert_eq!(got.len(), 1);
        assert!(Arc::ptr_eq(got[0], &pods[0]));
    }
}

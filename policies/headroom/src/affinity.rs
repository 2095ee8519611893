//! Required pod affinity, as the scheduler's InterPodAffinity filter applies it.
//!
//! A pod with required affinity terms may only go to a node that carries every term's topology
//! key and whose domain, for every term, already runs a pod that matches all the terms (a single
//! pod must match them all, as the scheduler counts it). One exception lets the first pod of a
//! group with affinity to itself start: when no pod anywhere matches the terms and the pod
//! matches all of its own terms, any node with the topology keys will do.
//!
//! What counts: pods that stay bound after the drain (not on a target unless the drain leaves
//! them, not terminating, not finished), and the evicted pods as the simulation places them. The
//! real scheduler also counts a pod that is still terminating on the drained node for the seconds
//! of its grace period; a replacement relying on that would stay Pending once it is gone, so the
//! stricter view is the one that predicts the steady state.

use std::collections::BTreeMap;

use tke_recycle_policy_sdk::{Node, Pod, PodAffinityTerm};

use crate::simulate::{node_label, term_selects};

/// (topology key, value) -> pods matching all of a pod's affinity terms in that domain.
pub type DomainCounts = BTreeMap<(String, String), u32>;

/// The pod's required affinity terms.
pub fn terms(pod: &Pod) -> &[PodAffinityTerm] {
    pod.required_affinity.as_deref().unwrap_or_default()
}

/// Whether `other` matches every one of `pod`'s affinity terms.
pub fn matches_all(pod: &Pod, other: &Pod) -> bool {
    terms(pod)
        .iter()
        .all(|t| term_selects(t, &pod.namespace, other))
}

/// Count `other`, placed or staying on `node`, in the domains of `pod`'s terms if it matches
/// them all.
pub fn record(pod: &Pod, counts: &mut DomainCounts, other: &Pod, node: &Node) {
    if !matches_all(pod, other) {
        return;
    }
    for t in terms(pod) {
        if let Some(value) = node_label(node, &t.topology_key) {
            *counts
                .entry((t.topology_key.clone(), value.to_owned()))
                .or_insert(0) += 1;
        }
    }
}

/// The filter: whether `node` satisfies the pod's required affinity given `counts`.
pub fn allows(pod: &Pod, counts: &DomainCounts, node: &Node) -> bool {
    let mut pods_exist = true;
    for t in terms(pod) {
        let Some(value) = node_label(node, &t.topology_key) else {
            return false;
        };
        let key = (t.topology_key.clone(), value.to_owned());
        if counts.get(&key).copied().unwrap_or(0) == 0 {
            pods_exist = false;
        }
    }
    pods_exist || (counts.is_empty() && matches_all(pod, pod))
}

//! Topology spread constraints with `whenUnsatisfiable: DoNotSchedule`, as the scheduler's
//! PodTopologySpread filter applies them.
//!
//! The rule, per hard constraint of the pod being placed: on a node whose domain (the value of
//! the constraint's topology key) already holds `n` matching pods, the pod fits when
//! `n + (1 if the pod matches its own selector) - min <= maxSkew`, where `min` is the fewest
//! matching pods of any eligible domain, or 0 when there are fewer eligible domains than
//! `minDomains`. A node without the key is rejected outright.
//!
//! Which nodes make the domains matters for a drain: a node counts when it carries every hard
//! constraint's topology key and passes the inclusion policies: `nodeAffinityPolicy: Honor` (the
//! default) keeps only nodes the pod's nodeSelector/required affinity allows; `nodeTaintsPolicy`
//! defaults to `Ignore`, so a cordoned node, the drained target included, still counts as a domain.
//! Emptied by the drain, it holds the minimum of 0, which is why a hostname spread with maxSkew 1
//! can leave replacements Pending although the other nodes have room. Matching pods are counted in
//! the pod's namespace, bound, neither terminating nor finished.
//!
//! Soft constraints (`ScheduleAnyway`) only score nodes and never leave a pod Pending; they are
//! not modelled. This module owns the counts and the filter, not the queries (see `lib.rs`).

use std::collections::BTreeMap;
use std::rc::Rc;

use tke_recycle_policy_sdk::selectors::{
    label_selector_matches, pod_node_affinity_allows, tolerates,
};
use tke_recycle_policy_sdk::{
    Node, NodeInclusionPolicy, Pod, Taint, TaintEffect, TopologySpreadConstraint,
    UnsatisfiableAction,
};

use crate::simulate::node_label;

/// Matching pods per node name, before the drain (pods that the drain evicts left out).
pub type NodeCounts = BTreeMap<String, u32>;

/// The pod's hard constraints, in spec order.
pub fn hard_constraints(pod: &Pod) -> impl Iterator<Item = &TopologySpreadConstraint> {
    pod.topology_spread
        .iter()
        .flatten()
        .filter(|c| c.when_unsatisfiable == UnsatisfiableAction::DoNotSchedule)
}

/// One hard constraint with its domain counts, for one pod.
#[derive(Debug, Clone)]
pub struct Counted {
    /// The constraint.
    pub constraint: TopologySpreadConstraint,
    /// The pod matches its own selector (it adds one to the domain it lands in).
    pub self_match: bool,
    /// Eligible domain -> matching pods in it.
    pub counts: BTreeMap<String, u32>,
}

/// How a node looks to the inclusion policies: its labels and its taints, plus the taints the
/// node controllers add for a cordon (`node.kubernetes.io/unschedulable`) and for NotReady.
pub struct NodeView<'a> {
    /// The node.
    pub node: &'a Node,
    /// Cordoned, or a target (the drain cordons it).
    pub cordoned: bool,
}

impl NodeView<'_> {
    fn taints(&self) -> impl Iterator<Item = Taint> + '_ {
        let extra = [
            self.cordoned.then_some("node.kubernetes.io/unschedulable"),
            (!self.node.ready).then_some("node.kubernetes.io/not-ready"),
        ];
        self.node
            .taints
            .iter()
            .cloned()
            .chain(extra.into_iter().flatten().map(|key| Taint {
                key: key.to_owned(),
                value: String::new(),
                effect: TaintEffect::NoSchedule,
            }))
    }
}

/// Whether `node` counts as a domain of `constraint` for `pod`.
pub fn eligible(pod: &Pod, constraint: &TopologySpreadConstraint, node: &NodeView<'_>) -> bool {
    if !hard_constraints(pod).all(|c| node_label(node.node, &c.topology_key).is_some()) {
        return false;
    }
    if constraint.node_affinity_policy == NodeInclusionPolicy::Honor
        && !pod_node_affinity_allows(pod, node.node)
    {
        return false;
    }
    if constraint.node_taints_policy == NodeInclusionPolicy::Honor {
        let untolerated = node.taints().any(|t| {
            matches!(t.effect, TaintEffect::NoSchedule | TaintEffect::NoExecute)
                && !pod.tolerations.iter().any(|tol| tolerates(tol, &t))
        });
        if untolerated {
            return false;
        }
    }
    true
}

/// The pod's hard constraints with their counts over `nodes`; `existing[i]` holds the matching
/// pods per node of the `i`th hard constraint.
pub fn count(pod: &Pod, nodes: &[NodeView<'_>], existing: &[Rc<NodeCounts>]) -> Vec<Counted> {
    hard_constraints(pod)
        .zip(existing)
        .map(|(c, per_node)| {
            let mut counts = BTreeMap::new();
            for view in nodes.iter().filter(|v| eligible(pod, c, v)) {
                if let Some(domain) = node_label(view.node, &c.topology_key) {
                    *counts.entry(domain.to_owned()).or_insert(0) +=
                        per_node.get(&view.node.name).copied().unwrap_or(0);
                }
            }
            Counted {
                self_match: label_selector_matches(&c.selector, &pod.labels),
                constraint: c.clone(),
                counts,
            }
        })
        .collect()
}

/// Why a node fails a pod's spread constraints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpreadMisfit {
    /// The node lacks a constraint's topology key.
    MissingLabel,
    /// Placing the pod there would exceed a constraint's maxSkew.
    Skew,
}

/// The filter: the first constraint the node fails, if any.
pub fn filter(counted: &[Counted], node: &Node) -> Option<SpreadMisfit> {
    for c in counted {
        let Some(domain) = node_label(node, &c.constraint.topology_key) else {
            return Some(SpreadMisfit::MissingLabel);
        };
        let Some(&least) = c.counts.values().min() else {
            // No eligible domain at all: nothing to be skewed against.
            continue;
        };
        let domains = u32::try_from(c.counts.len()).unwrap_or(u32::MAX);
        let min = if domains < c.constraint.min_domains.unwrap_or(1) {
            0
        } else {
            least
        };
        let here = c.counts.get(domain).copied().unwrap_or(0) + u32::from(c.self_match);
        if here.saturating_sub(min) > c.constraint.max_skew {
            return Some(SpreadMisfit::Skew);
        }
    }
    None
}

/// After `placed` landed on `node`, count it in `later`'s domains where it matches.
pub fn record_placement(later: &Pod, counted: &mut [Counted], placed: &Pod, node: &NodeView<'_>) {
    if placed.namespace != later.namespace {
        return;
    }
    for c in counted.iter_mut() {
        if label_selector_matches(&c.constraint.selector, &placed.labels)
            && eligible(later, &c.constraint, node)
            && let Some(domain) = node_label(node.node, &c.constraint.topology_key)
        {
            *c.counts.entry(domain.to_owned()).or_insert(0) += 1;
        }
    }
}

//! The scheduler's InterPodAffinity filter for required pod affinity: a node fits when it has
//! every term's topology key and, for every term, its domain already runs a pod matching all the
//! terms; when no pod matches anywhere and the pod matches its own terms (the first of a group
//! with affinity to itself), any node with the keys fits. Terms select in their `namespaces`, or
//! the pod's own; `namespaceSelector` is not modelled. Terminating pods are not counted (see
//! `on_node` in the scheduler).

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use super::matching::NodeInfo;
use super::pod_term::Term;
use crate::sim::store::Object;

/// The real filter's reason.
pub const REASON: &str = "node(s) didn't match pod affinity rules";

/// A pending pod's required affinity with the matching pods counted per domain.
pub struct Affinity {
    terms: Vec<Term>,
    self_match: bool,
    counts: HashMap<(String, String), usize>,
}

fn matches_all(terms: &[Term], o: &Object) -> bool {
    terms.iter().all(|t| t.selects(o))
}

/// The pod's required affinity, counted over the bound pods (`on_node`, without terminating
/// ones) and those bound earlier in this pass; `None` when it has none.
pub fn prepare(
    pod: &Object,
    spec: &Value,
    nodes: &[NodeInfo],
    on_node: &HashMap<&str, Vec<&Arc<Object>>>,
    placed_here: &[(String, Arc<Object>)],
) -> Option<Affinity> {
    let raw = spec
        .pointer("/affinity/podAffinity/requiredDuringSchedulingIgnoredDuringExecution")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())?;
    let terms = Term::parse_all(&pod.namespace, raw);
    let mut counts = HashMap::new();
    for node in nodes {
        let here = on_node
            .get(node.name.as_str())
            .into_iter()
            .flatten()
            .map(|o| &***o)
            .chain(
                placed_here
                    .iter()
                    .filter(|(n, _)| *n == node.name)
                    .map(|(_, o)| &**o),
            );
        let finished = |o: &Object| {
            o.pod
                .as_ref()
                .is_some_and(|f| matches!(&*f.phase, "Succeeded" | "Failed"))
        };
        let matching = here
            .filter(|o| o.uid != pod.uid && !finished(o) && matches_all(&terms, o))
            .count();
        if matching == 0 {
            continue;
        }
        for t in &terms {
            if let Some(v) = node.labels.get(&t.key).and_then(Value::as_str) {
                *counts.entry((t.key.clone(), v.to_owned())).or_insert(0) += matching;
            }
        }
    }
    Some(Affinity {
        self_match: matches_all(&terms, pod),
        terms,
        counts,
    })
}

/// Whether `node` satisfies the pod's required affinity.
pub fn allows(a: &Affinity, node: &NodeInfo) -> bool {
    let mut pods_exist = true;
    for t in &a.terms {
        let Some(v) = node.labels.get(&t.key).and_then(Value::as_str) else {
            return false;
        };
        if a.counts
            .get(&(t.key.clone(), v.to_owned()))
            .copied()
            .unwrap_or(0)
            == 0
        {
            pods_exist = false;
        }
    }
    pods_exist || (a.counts.is_empty() && a.self_match)
}

//! The scheduler's PodTopologySpread filter: `whenUnsatisfiable: DoNotSchedule` constraints on
//! any topology key, with `maxSkew`, `minDomains`, `matchLabelKeys` and the node inclusion
//! policies at the real defaults (`nodeAffinityPolicy: Honor`, `nodeTaintsPolicy: Ignore`).
//!
//! A node counts as a domain when it has every hard constraint's topology key and passes the
//! inclusion policies; a cordoned node does (its `node.kubernetes.io/unschedulable` taint is only
//! looked at with `nodeTaintsPolicy: Honor`). Matching pods are counted per domain in the pod's
//! namespace, bound and not terminating or finished. A node fits when
//! `its domain's count + self-match - min <= maxSkew`, `min` being the least count over the
//! domains, or 0 with fewer domains than `minDomains`. `ScheduleAnyway` only scores, and the sim
//! does not score by spreading.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};

use super::matching::{NodeInfo, pod_matches_node, untolerated_taint};
use crate::sim::selector::LabelSelector;
use crate::sim::store::Object;

/// The real filter's reason when the skew would be exceeded.
pub const REASON_SKEW: &str = "node(s) didn't match pod topology spread constraints";
/// The real filter's reason when the node lacks the topology key.
pub const REASON_LABEL: &str =
    "node(s) didn't match pod topology spread constraints (missing required label)";

/// One hard constraint of the pod being scheduled, with its domain counts.
pub struct Hard {
    key: String,
    max_skew: u32,
    min_domains: u32,
    selector: LabelSelector,
    self_match: bool,
    honor_affinity: bool,
    honor_taints: bool,
    counts: HashMap<String, u32>,
}

/// The pod's hard constraints, `matchLabelKeys` merged into each selector (the API server does
/// the same); constraints without a selector count nothing and are skipped.
fn hard_constraints(pod: &Object, spec: &Value) -> Vec<Hard> {
    let labels = pod.value().pointer("/metadata/labels").cloned();
    let mut out = Vec::new();
    for c in spec
        .get("topologySpreadConstraints")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if c.get("whenUnsatisfiable").and_then(Value::as_str) != Some("DoNotSchedule") {
            continue;
        }
        let Some(mut sel) = c.get("labelSelector").filter(|s| !s.is_null()).cloned() else {
            continue;
        };
        for key in c
            .get("matchLabelKeys")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if let Some(v) = labels.as_ref().and_then(|l| l.get(key)) {
                let expr = json!({"key": key, "operator": "In", "values": [v]});
                match sel
                    .get_mut("matchExpressions")
                    .and_then(Value::as_array_mut)
                {
                    Some(exprs) => exprs.push(expr),
                    None => sel["matchExpressions"] = json!([expr]),
                }
            }
        }
        let selector = LabelSelector::from_object(Some(&sel)).unwrap_or_default();
        let number = |k: &str, default: u64| {
            u32::try_from(c.get(k).and_then(Value::as_u64).unwrap_or(default)).unwrap_or(u32::MAX)
        };
        out.push(Hard {
            key: c
                .get("topologyKey")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            max_skew: number("maxSkew", 1),
            min_domains: number("minDomains", 1),
            self_match: selector.matches(pod),
            selector,
            honor_affinity: c.get("nodeAffinityPolicy").and_then(Value::as_str) != Some("Ignore"),
            honor_taints: c.get("nodeTaintsPolicy").and_then(Value::as_str) == Some("Honor"),
            counts: HashMap::new(),
        });
    }
    out
}

fn label<'a>(node: &'a NodeInfo, key: &str) -> Option<&'a str> {
    node.labels.get(key).and_then(Value::as_str)
}

/// The pod's hard constraints with the matching pods counted per eligible domain: the pods bound
/// before this pass (`on_node`, terminating ones already left out) and those bound earlier in it.
pub fn prepare(
    pod: &Object,
    spec: &Value,
    nodes: &[NodeInfo],
    on_node: &HashMap<&str, Vec<&Arc<Object>>>,
    placed_here: &[(String, Arc<Object>)],
) -> Vec<Hard> {
    let mut hard = hard_constraints(pod, spec);
    if hard.is_empty() {
        return hard;
    }
    let tolerations: Vec<Value> = spec
        .get("tolerations")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let counted = |o: &Object| {
        o.namespace == pod.namespace
            && o.uid != pod.uid
            && o.pod
                .as_ref()
                .is_some_and(|f| !matches!(&*f.phase, "Succeeded" | "Failed"))
    };
    for node in nodes {
        if !hard.iter().all(|h| label(node, &h.key).is_some()) {
            continue;
        }
        let affinity_ok = pod_matches_node(spec, node);
        let taints_ok = {
            let mut taints = node.taints.clone();
            if node.unschedulable {
                taints.push(
                    json!({"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}),
                );
            }
            untolerated_taint(&taints, &tolerations).is_none()
        };
        let here = on_node.get(node.name.as_str());
        for h in &mut hard {
            if (h.honor_affinity && !affinity_ok) || (h.honor_taints && !taints_ok) {
                continue;
            }
            let matching = here
                .into_iter()
                .flatten()
                .filter(|o| counted(o) && h.selector.matches(o))
                .count()
                + placed_here
                    .iter()
                    .filter(|(n, o)| *n == node.name && counted(o) && h.selector.matches(o))
                    .count();
            let domain = label(node, &h.key).unwrap_or("").to_owned();
            *h.counts.entry(domain).or_insert(0) += u32::try_from(matching).unwrap_or(u32::MAX);
        }
    }
    hard
}

/// The reason `node` fails the constraints, if it does.
pub fn filter(hard: &[Hard], node: &NodeInfo) -> Option<&'static str> {
    for h in hard {
        let Some(domain) = label(node, &h.key) else {
            return Some(REASON_LABEL);
        };
        let Some(&least) = h.counts.values().min() else {
            continue;
        };
        let domains = u32::try_from(h.counts.len()).unwrap_or(u32::MAX);
        let min = if domains < h.min_domains { 0 } else { least };
        let here = h.counts.get(domain).copied().unwrap_or(0) + u32::from(h.self_match);
        if here.saturating_sub(min) > h.max_skew {
            return Some(REASON_SKEW);
        }
    }
    None
}

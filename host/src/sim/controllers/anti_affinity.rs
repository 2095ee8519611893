//! The scheduler's InterPodAffinity filter for required pod anti-affinity, both directions:
//! a node is refused when its topology domain runs a pod that the pending pod's own terms select
//! ("didn't match pod anti-affinity rules"), or a pod whose own terms select the pending pod
//! ("didn't satisfy existing pods anti-affinity rules"). Any topology key works (hostname, zone);
//! a node without the key is no domain and refuses nothing. Terms select in their `namespaces`,
//! or their pod's own; `namespaceSelector` is not modelled. Terminating pods are not counted (see
//! `on_node` in the scheduler): the steady state after a drain is what the practice cluster shows.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::Value;

use super::matching::NodeInfo;
use super::pod_term::Term;
use crate::sim::store::Object;

/// The real filter's reason for the pending pod's own terms.
pub const REASON_OWN: &str = "node(s) didn't match pod anti-affinity rules";
/// The real filter's reason for the terms of the pods already there.
pub const REASON_EXISTING: &str = "node(s) didn't satisfy existing pods anti-affinity rules";

/// A pod's required anti-affinity terms; empty when it has none.
fn terms_of(pod: &Object) -> Vec<Term> {
    // Most pods have no anti-affinity: a byte search spares parsing their JSON.
    if !pod
        .json
        .windows(b"podAntiAffinity".len())
        .any(|w| w == b"podAntiAffinity")
    {
        return Vec::new();
    }
    let v = pod.value();
    let Some(raw) = v
        .pointer("/spec/affinity/podAntiAffinity/requiredDuringSchedulingIgnoredDuringExecution")
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    Term::parse_all(&pod.namespace, raw)
}

/// The bound pods that carry anti-affinity terms, with their node: read once per scheduling
/// pass, extended with each pod bound during the pass.
#[derive(Default)]
pub struct Holders {
    holders: Vec<(String, Arc<Object>, Vec<Term>)>,
}

impl Holders {
    /// The holders among the bound pods (`on_node`: without terminating ones).
    pub fn new(on_node: &HashMap<&str, Vec<&Arc<Object>>>) -> Self {
        let mut holders = Vec::new();
        for (node, pods) in on_node {
            for p in pods {
                let finished = p
                    .pod
                    .as_ref()
                    .is_some_and(|f| matches!(&*f.phase, "Succeeded" | "Failed"));
                if finished {
                    continue;
                }
                let terms = terms_of(p);
                if !terms.is_empty() {
                    holders.push(((*node).to_owned(), Arc::clone(p), terms));
                }
            }
        }
        Self { holders }
    }

    /// Count a pod bound during this pass.
    pub fn bound(&mut self, node: &str, pod: &Arc<Object>) {
        let terms = terms_of(pod);
        if !terms.is_empty() {
            self.holders.push((node.to_owned(), Arc::clone(pod), terms));
        }
    }
}

/// The (topology key, value) domains a pending pod may not go to, by reason.
#[derive(Default)]
pub struct Forbidden {
    own: HashSet<(String, String)>,
    existing: HashSet<(String, String)>,
}

fn domain(nodes: &HashMap<&str, &NodeInfo>, node: &str, key: &str) -> Option<(String, String)> {
    let value = nodes.get(node)?.labels.get(key)?.as_str()?;
    Some((key.to_owned(), value.to_owned()))
}

/// The domains `pod` may not go to: those of the pods its own terms select (bound, or bound
/// earlier in this pass) and those of the holders whose terms select it.
pub fn prepare(
    pod: &Object,
    by_name: &HashMap<&str, &NodeInfo>,
    on_node: &HashMap<&str, Vec<&Arc<Object>>>,
    placed_here: &[(String, Arc<Object>)],
    holders: &Holders,
) -> Forbidden {
    let mut out = Forbidden::default();
    let own = terms_of(pod);
    if !own.is_empty() {
        let finished = |o: &Object| {
            o.pod
                .as_ref()
                .is_some_and(|f| matches!(&*f.phase, "Succeeded" | "Failed"))
        };
        let bound = on_node
            .iter()
            .flat_map(|(n, pods)| pods.iter().map(move |p| (*n, &***p)))
            .chain(placed_here.iter().map(|(n, p)| (n.as_str(), &**p)));
        for (node, other) in bound {
            if other.uid == pod.uid || finished(other) {
                continue;
            }
            for t in own.iter().filter(|t| t.selects(other)) {
                out.own.extend(domain(by_name, node, &t.key));
            }
        }
    }
    for (node, holder, terms) in &holders.holders {
        if holder.uid == pod.uid {
            continue;
        }
        for t in terms.iter().filter(|t| t.selects(pod)) {
            out.existing.extend(domain(by_name, node, &t.key));
        }
    }
    out
}

/// The filter: the reason `node` refuses the pod, if it does.
pub fn filter(f: &Forbidden, node: &NodeInfo) -> Option<&'static str> {
    let hit = |set: &HashSet<(String, String)>| {
        set.iter().any(|(key, value)| {
            node.labels
                .get(key)
                .and_then(Value::as_str)
                .is_some_and(|v| v == value)
        })
    };
    if hit(&f.own) {
        Some(REASON_OWN)
    } else if hit(&f.existing) {
        Some(REASON_EXISTING)
    } else {
        None
    }
}

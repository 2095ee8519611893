//! A required pod (anti-)affinity term as the scheduler reads it: a topology key, the namespaces
//! it selects in (its own pod's when the term names none), and a label selector (an absent one
//! selects nothing). Shared by the affinity and anti-affinity filters.

use serde_json::Value;

use crate::sim::selector::{LabelSelector, Req};
use crate::sim::store::Object;

/// One required term.
pub struct Term {
    /// Node label whose values are the domains.
    pub key: String,
    /// Namespaces the selector applies in.
    pub namespaces: Vec<String>,
    /// Which pods the term selects.
    pub selector: LabelSelector,
}

impl Term {
    /// The terms of the JSON array `raw` (a `requiredDuringSchedulingIgnoredDuringExecution`) of a
    /// pod in `namespace`.
    pub fn parse_all(namespace: &str, raw: &[Value]) -> Vec<Term> {
        raw.iter()
            .map(|t| Term {
                key: t
                    .get("topologyKey")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                namespaces: t
                    .get("namespaces")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect::<Vec<_>>()
                    })
                    .filter(|n| !n.is_empty())
                    .unwrap_or_else(|| vec![namespace.to_owned()]),
                // An absent selector selects nothing.
                selector: LabelSelector::from_object(t.get("labelSelector"))
                    .unwrap_or_else(|| LabelSelector(vec![Req::In(String::new(), Vec::new())])),
            })
            .collect()
    }

    /// Whether the term selects `o`.
    pub fn selects(&self, o: &Object) -> bool {
        self.namespaces.iter().any(|n| **n == *o.namespace) && self.selector.matches(o)
    }
}

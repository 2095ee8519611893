//! Label-selector matching with Kubernetes semantics, for the host's queries.
//!
//! The policy SDK has the same rules for guests (`policies/sdk/src/selectors.rs`) over its own
//! generated types; the host's copy is the one that answers `cluster` queries.

use crate::bindings::types::{Label, LabelSelector, SelectorOperator, SelectorRequirement};

fn value<'a>(labels: &'a [Label], key: &str) -> Option<&'a str> {
    labels
        .iter()
        .find(|l| l.key == key)
        .map(|l| l.value.as_str())
}

fn requirement_matches(req: &SelectorRequirement, labels: &[Label]) -> bool {
    let v = value(labels, &req.key);
    match req.operator {
        SelectorOperator::In => v.is_some_and(|v| req.values.iter().any(|x| x == v)),
        SelectorOperator::NotIn => v.is_none_or(|v| !req.values.iter().any(|x| x == v)),
        SelectorOperator::Exists => v.is_some(),
        SelectorOperator::DoesNotExist => v.is_none(),
        // Label selectors do not allow Gt/Lt; the API server would have rejected the object.
        SelectorOperator::Gt | SelectorOperator::Lt => false,
    }
}

/// Whether `selector` matches `labels`. An empty selector matches everything.
pub fn label_selector_matches(selector: &LabelSelector, labels: &[Label]) -> bool {
    selector
        .match_labels
        .iter()
        .all(|m| value(labels, &m.key) == Some(m.value.as_str()))
        && selector
            .match_expressions
            .iter()
            .all(|r| requirement_matches(r, labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Vec<Label> {
        pairs
            .iter()
            .map(|(k, v)| Label {
                key: (*k).into(),
                value: (*v).into(),
            })
            .collect()
    }

    fn selector(pairs: &[(&str, &str)], exprs: Vec<SelectorRequirement>) -> LabelSelector {
        LabelSelector {
            match_labels: labels(pairs),
            match_expressions: exprs,
        }
    }

    #[test]
    fn match_labels_must_all_hold() {
        let l = labels(&[("app", "web"), ("tier", "front")]);
        assert!(label_selector_matches(
            &selector(&[("app", "web")], vec![]),
            &l
        ));
        assert!(!label_selector_matches(
            &selector(&[("app", "web"), ("tier", "back")], vec![]),
            &l
        ));
        assert!(label_selector_matches(&selector(&[], vec![]), &l));
    }

    #[test]
    fn expressions_follow_kubernetes_semantics() {
        let l = labels(&[("app", "web")]);
        let req = |key: &str, operator, values: &[&str]| SelectorRequirement {
            key: key.into(),
            operator,
            values: values.iter().map(|v| (*v).into()).collect(),
        };
        assert!(label_selector_matches(
            &selector(&[], vec![req("app", SelectorOperator::In, &["web", "api"])]),
            &l
        ));
        assert!(label_selector_matches(
            &selector(&[], vec![req("tier", SelectorOperator::NotIn, &["db"])]),
            &l
        ));
        assert!(!label_selector_matches(
            &selector(&[], vec![req("tier", SelectorOperator::Exists, &[])]),
            &l
        ));
        assert!(label_selector_matches(
            &selector(&[], vec![req("tier", SelectorOperator::DoesNotExist, &[])]),
            &l
        ));
    }
}

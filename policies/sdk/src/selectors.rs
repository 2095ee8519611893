//! Kubernetes matching rules a policy needs: label selectors, node selectors and affinity,
//! taints and tolerations.

use crate::{
    Label, LabelSelector, Node, NodeSelectorTerm, Pod, PodPhase, SelectorOperator,
    SelectorRequirement, Taint, TaintEffect, Toleration, TolerationOperator,
};

fn label<'a>(labels: &'a [Label], key: &str) -> Option<&'a str> {
    labels
        .iter()
        .find(|l| l.key == key)
        .map(|l| l.value.as_str())
}

/// One requirement against a set of labels (or fields), with Kubernetes semantics: `NotIn` and
/// `DoesNotExist` hold for an absent key; `Gt`/`Lt` compare integers and fail on anything else.
pub fn requirement_matches(req: &SelectorRequirement, labels: &[Label]) -> bool {
    let value = label(labels, &req.key);
    match req.operator {
        SelectorOperator::In => value.is_some_and(|v| req.values.iter().any(|x| x == v)),
        SelectorOperator::NotIn => value.is_none_or(|v| !req.values.iter().any(|x| x == v)),
        SelectorOperator::Exists => value.is_some(),
        SelectorOperator::DoesNotExist => value.is_none(),
        SelectorOperator::Gt | SelectorOperator::Lt => {
            let (Some(v), [bound]) = (value, req.values.as_slice()) else {
                return false;
            };
            match (v.parse::<i64>(), bound.parse::<i64>()) {
                (Ok(v), Ok(b)) if req.operator == SelectorOperator::Gt => v > b,
                (Ok(v), Ok(b)) => v < b,
                _ => false,
            }
        }
    }
}

/// A label selector against labels. An empty selector matches everything.
pub fn label_selector_matches(selector: &LabelSelector, labels: &[Label]) -> bool {
    selector
        .match_labels
        .iter()
        .all(|m| label(labels, &m.key) == Some(m.value.as_str()))
        && selector
            .match_expressions
            .iter()
            .all(|r| requirement_matches(r, labels))
}

/// Whether a node satisfies one node-selector term (its expressions and fields all hold).
pub fn node_selector_term_matches(term: &NodeSelectorTerm, node: &Node) -> bool {
    let fields = [Label {
        key: "metadata.name".into(),
        value: node.name.clone(),
    }];
    term.match_expressions
        .iter()
        .all(|r| requirement_matches(r, &node.labels))
        && term
            .match_fields
            .iter()
            .all(|r| requirement_matches(r, &fields))
}

/// Whether a pod's nodeSelector and required node affinity allow the node.
pub fn pod_node_affinity_allows(pod: &Pod, node: &Node) -> bool {
    pod.node_selector
        .iter()
        .all(|m| label(&node.labels, &m.key) == Some(m.value.as_str()))
        && (pod.required_node_affinity.is_empty()
            || pod
                .required_node_affinity
                .iter()
                .any(|t| node_selector_term_matches(t, node)))
}

/// Whether one toleration tolerates one taint.
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    if toleration.effect.is_some_and(|e| e != taint.effect) {
        return false;
    }
    match (toleration.operator, &toleration.key) {
        (TolerationOperator::Exists, None) => true,
        (TolerationOperator::Exists, Some(key)) => *key == taint.key,
        (TolerationOperator::Equal, key) => {
            key.as_deref() == Some(taint.key.as_str())
                && toleration.value.as_deref().unwrap_or("") == taint.value
        }
    }
}

/// The first taint with effect NoSchedule or NoExecute that the pod does not tolerate; such a
/// taint keeps the scheduler from placing the pod on the node.
pub fn untolerated_taint<'a>(pod: &Pod, node: &'a Node) -> Option<&'a Taint> {
    node.taints
        .iter()
        .filter(|t| t.effect != TaintEffect::PreferNoSchedule)
        .find(|t| !pod.tolerations.iter().any(|tol| tolerates(tol, t)))
}

/// Succeeded and Failed pods hold no resources and are not evicted.
pub fn pod_is_finished(pod: &Pod) -> bool {
    matches!(pod.phase, PodPhase::Succeeded | PodPhase::Failed)
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

    fn req(key: &str, operator: SelectorOperator, values: &[&str]) -> SelectorRequirement {
        SelectorRequirement {
            key: key.into(),
            operator,
            values: values.iter().map(|v| (*v).into()).collect(),
        }
    }

    #[test]
    fn not_in_and_does_not_exist_hold_for_absent_keys() {
        let l = labels(&[("app", "web")]);
        assert!(requirement_matches(
            &req("tier", SelectorOperator::NotIn, &["db"]),
            &l
        ));
        assert!(requirement_matches(
            &req("tier", SelectorOperator::DoesNotExist, &[]),
            &l
        ));
        assert!(!requirement_matches(
            &req("tier", SelectorOperator::In, &["db"]),
            &l
        ));
        assert!(!requirement_matches(
            &req("app", SelectorOperator::NotIn, &["web"]),
            &l
        ));
    }

    #[test]
    fn gt_and_lt_compare_integers_only() {
        let l = labels(&[("gen", "5"), ("name", "x")]);
        assert!(requirement_matches(
            &req("gen", SelectorOperator::Gt, &["4"]),
            &l
        ));
        assert!(!requirement_matches(
            &req("gen", SelectorOperator::Lt, &["4"]),
            &l
        ));
        assert!(!requirement_matches(
            &req("name", SelectorOperator::Gt, &["1"]),
            &l
        ));
        assert!(!requirement_matches(
            &req("gen", SelectorOperator::Gt, &["1", "2"]),
            &l
        ));
    }

    #[test]
    fn empty_selector_matches_everything() {
        let s = LabelSelector {
            match_labels: vec![],
            match_expressions: vec![],
        };
        assert!(label_selector_matches(&s, &[]));
    }

    #[test]
    fn toleration_rules() {
        let taint = Taint {
            key: "dedicated".into(),
            value: "gpu".into(),
            effect: TaintEffect::NoSchedule,
        };
        let exists_all = Toleration {
            key: None,
            operator: TolerationOperator::Exists,
            value: None,
            effect: None,
        };
        let equal_ok = Toleration {
            key: Some("dedicated".into()),
            operator: TolerationOperator::Equal,
            value: Some("gpu".into()),
            effect: Some(TaintEffect::NoSchedule),
        };
        let wrong_effect = Toleration {
            effect: Some(TaintEffect::NoExecute),
            ..equal_ok.clone()
        };
        let wrong_value = Toleration {
            value: Some("cpu".into()),
            ..equal_ok.clone()
        };
        assert!(tolerates(&exists_all, &taint));
        assert!(tolerates(&equal_ok, &taint));
        assert!(!tolerates(&wrong_effect, &taint));
        assert!(!tolerates(&wrong_value, &taint));
    }
}

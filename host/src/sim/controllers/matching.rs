//! Node-side matching shared by the scheduler and the DaemonSet controller: taints and
//! tolerations, node selectors and required node affinity.

use serde_json::Value;

/// A node as the scheduler sees it.
#[derive(Debug, Clone)]
pub struct NodeInfo {
    /// Name.
    pub name: String,
    /// Labels.
    pub labels: serde_json::Map<String, Value>,
    /// `spec.unschedulable`.
    pub unschedulable: bool,
    /// `spec.taints`.
    pub taints: Vec<Value>,
    /// Allocatable resources.
    pub allocatable: crate::sim::quantity::Resources,
}

impl NodeInfo {
    /// From a Node object.
    pub fn from_value(v: &Value) -> Self {
        NodeInfo {
            name: v
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            labels: v
                .pointer("/metadata/labels")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
            unschedulable: v
                .pointer("/spec/unschedulable")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            taints: v
                .pointer("/spec/taints")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
            allocatable: crate::sim::quantity::Resources::from_list(
                v.pointer("/status/allocatable"),
            ),
        }
    }
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// Whether one toleration tolerates one taint.
pub fn tolerates(tol: &Value, taint: &Value) -> bool {
    let effect = s(tol, "effect");
    if !effect.is_empty() && effect != s(taint, "effect") {
        return false;
    }
    let key = s(tol, "key");
    match s(tol, "operator") {
        "Exists" => key.is_empty() || key == s(taint, "key"),
        _ => key == s(taint, "key") && s(tol, "value") == s(taint, "value"),
    }
}

/// The first NoSchedule/NoExecute taint of `node` that `tolerations` do not tolerate.
pub fn untolerated_taint<'a>(taints: &'a [Value], tolerations: &[Value]) -> Option<&'a Value> {
    taints.iter().find(|t| {
        matches!(s(t, "effect"), "NoSchedule" | "NoExecute")
            && !tolerations.iter().any(|tol| tolerates(tol, t))
    })
}

fn expr_matches(expr: &Value, get: impl Fn(&str) -> Option<String>) -> bool {
    let key = s(expr, "key");
    let values: Vec<&str> = expr
        .get("values")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let have = get(key);
    match s(expr, "operator") {
        "In" => have.is_some_and(|h| values.contains(&h.as_str())),
        "NotIn" => have.is_none_or(|h| !values.contains(&h.as_str())),
        "Exists" => have.is_some(),
        "DoesNotExist" => have.is_none(),
        op @ ("Gt" | "Lt") => {
            let (Some(h), Some(v)) = (
                have.and_then(|h| h.parse::<i64>().ok()),
                values.first().and_then(|v| v.parse::<i64>().ok()),
            ) else {
                return false;
            };
            if op == "Gt" { h > v } else { h < v }
        }
        _ => false,
    }
}

/// Whether a `NodeSelector` (terms ORed, expressions ANDed) matches the node.
pub fn node_selector_matches(selector: &Value, node: &NodeInfo) -> bool {
    let Some(terms) = selector.get("nodeSelectorTerms").and_then(Value::as_array) else {
        return true;
    };
    terms.iter().any(|term| {
        let exprs = term.get("matchExpressions").and_then(Value::as_array);
        let fields = term.get("matchFields").and_then(Value::as_array);
        if exprs.is_none_or(|e| e.is_empty()) && fields.is_none_or(|f| f.is_empty()) {
            return false;
        }
        exprs.is_none_or(|e| {
            e.iter().all(|x| {
                expr_matches(x, |k| {
                    node.labels
                        .get(k)
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
            })
        }) && fields.is_none_or(|f| {
            f.iter()
                .all(|x| expr_matches(x, |k| (k == "metadata.name").then(|| node.name.clone())))
        })
    })
}

/// Pod `nodeSelector` plus required node affinity.
pub fn pod_matches_node(spec: &Value, node: &NodeInfo) -> bool {
    if let Some(sel) = spec.get("nodeSelector").and_then(Value::as_object)
        && !sel.iter().all(|(k, v)| node.labels.get(k) == Some(v))
    {
        return false;
    }
    match spec.pointer("/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution") {
        Some(sel) if !sel.is_null() => node_selector_matches(sel, node),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node() -> NodeInfo {
        NodeInfo::from_value(
            &json!({"metadata": {"name": "n1", "labels": {"zone": "a", "gpu": "2"}},
            "spec": {"taints": [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}]}}),
        )
    }

    #[test]
    fn tolerations_match_taints() {
        let n = node();
        assert!(untolerated_taint(&n.taints, &[]).is_some());
        assert!(
            untolerated_taint(
                &n.taints,
                &[json!({"key": "dedicated", "operator": "Equal", "value": "db"})]
            )
            .is_none()
        );
        assert!(untolerated_taint(&n.taints, &[json!({"operator": "Exists"})]).is_none());
        assert!(
            untolerated_taint(&n.taints, &[json!({"key": "dedicated", "value": "web"})]).is_some()
        );
    }

    #[test]
    fn selectors_and_affinity() {
        let n = node();
        assert!(pod_matches_node(
            &json!({"nodeSelector": {"zone": "a"}}),
            &n
        ));
        assert!(!pod_matches_node(
            &json!({"nodeSelector": {"zone": "b"}}),
            &n
        ));
        let aff = json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "gpu", "operator": "Gt", "values": ["1"]}]}]}}}});
        assert!(pod_matches_node(&aff, &n));
        let by_name = json!({"nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n2"]}]}]});
        assert!(!node_selector_matches(&by_name, &n));
    }
}

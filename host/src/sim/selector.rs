//! Label and field selectors: the query-string syntax (`app=web,tier in (a,b),!canary`) and
//! `metav1.LabelSelector` objects (PDB, ReplicaSet and Deployment selectors).

use serde_json::Value;

use super::store::Object;

/// One label requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Req {
    /// key in (values); `=` and `==` are a one-value In.
    In(String, Vec<String>),
    /// key notin (values); `!=` is a one-value NotIn (which also matches when the key is absent).
    NotIn(String, Vec<String>),
    /// key exists.
    Exists(String),
    /// key does not exist.
    DoesNotExist(String),
}

/// A label selector: all requirements must hold. Empty matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector(pub Vec<Req>);

/// Why a selector could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// The label selector string is malformed.
    #[error("unable to parse requirement: {0}")]
    BadLabelSelector(String),
    /// The field selector names an unsupported field or is malformed.
    #[error("field label not supported: {0}")]
    UnsupportedField(String),
}

fn split_top_level(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn values_in_parens(s: &str) -> Option<Vec<String>> {
    let s = s.trim();
    let inner = s.strip_prefix('(')?.strip_suffix(')')?;
    Some(
        inner
            .split(',')
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect(),
    )
}

impl LabelSelector {
    /// Parse the `labelSelector` query syntax.
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        let mut reqs = Vec::new();
        for part in split_top_level(s) {
            let p = part.trim();
            if p.is_empty() {
                continue;
            }
            let bad = || SelectorError::BadLabelSelector(p.to_owned());
            if let Some((k, v)) = p.split_once("!=") {
                reqs.push(Req::NotIn(k.trim().to_owned(), vec![v.trim().to_owned()]));
            } else if let Some((k, v)) = p.split_once("==").or_else(|| p.split_once('=')) {
                reqs.push(Req::In(k.trim().to_owned(), vec![v.trim().to_owned()]));
            } else if let Some(k) = p.strip_prefix('!') {
                reqs.push(Req::DoesNotExist(k.trim().to_owned()));
            } else if let Some((k, rest)) = p.split_once(" notin ") {
                reqs.push(Req::NotIn(
                    k.trim().to_owned(),
                    values_in_parens(rest).ok_or_else(bad)?,
                ));
            } else if let Some((k, rest)) = p.split_once(" in ") {
                reqs.push(Req::In(
                    k.trim().to_owned(),
                    values_in_parens(rest).ok_or_else(bad)?,
                ));
            } else if p.contains([' ', '(', ')']) {
                return Err(bad());
            } else {
                reqs.push(Req::Exists(p.to_owned()));
            }
        }
        Ok(LabelSelector(reqs))
    }

    /// From a `metav1.LabelSelector` object. `None` (the field absent) selects nothing, as for
    /// a PDB; an empty object selects everything.
    pub fn from_object(v: Option<&Value>) -> Option<Self> {
        let v = v?;
        if v.is_null() {
            return None;
        }
        let mut reqs = Vec::new();
        if let Some(m) = v.get("matchLabels").and_then(Value::as_object) {
            for (k, val) in m {
                reqs.push(Req::In(
                    k.clone(),
                    vec![val.as_str().unwrap_or("").to_owned()],
                ));
            }
        }
        if let Some(exprs) = v.get("matchExpressions").and_then(Value::as_array) {
            for e in exprs {
                let key = e
                    .get("key")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                let vals: Vec<String> = e
                    .get("values")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default();
                reqs.push(match e.get("operator").and_then(Value::as_str) {
                    Some("In") => Req::In(key, vals),
                    Some("NotIn") => Req::NotIn(key, vals),
                    Some("Exists") => Req::Exists(key),
                    _ => Req::DoesNotExist(key),
                });
            }
        }
        Some(LabelSelector(reqs))
    }

    /// Whether the label lookup satisfies every requirement.
    pub fn matches_with<'a>(&self, get: impl Fn(&str) -> Option<&'a str>) -> bool {
        self.0.iter().all(|r| match r {
            Req::In(k, vs) => get(k).is_some_and(|v| vs.iter().any(|x| x == v)),
            Req::NotIn(k, vs) => get(k).is_none_or(|v| !vs.iter().any(|x| x == v)),
            Req::Exists(k) => get(k).is_some(),
            Req::DoesNotExist(k) => get(k).is_none(),
        })
    }

    /// Whether a stored object's labels match.
    pub fn matches(&self, obj: &Object) -> bool {
        self.matches_with(|k| obj.label(k))
    }

    /// Whether a JSON labels map matches.
    pub fn matches_map(&self, labels: Option<&Value>) -> bool {
        self.matches_with(|k| labels.and_then(|l| l.get(k)).and_then(Value::as_str))
    }

    /// True when it has no requirements.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A field selector over the fields the API server supports for our resources.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector(pub Vec<(String, bool, String)>);

impl FieldSelector {
    /// Parse `spec.nodeName=NODE,metadata.name!=x`; `allowed` lists the supported field paths.
    pub fn parse(s: &str, allowed: &[&str]) -> Result<Self, SelectorError> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, eq, v) = if let Some((k, v)) = part.split_once("!=") {
                (k, false, v)
            } else if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
                (k, true, v)
            } else {
                return Err(SelectorError::UnsupportedField(part.to_owned()));
            };
            let k = k.trim();
            if !allowed.contains(&k) {
                return Err(SelectorError::UnsupportedField(k.to_owned()));
            }
            out.push((k.to_owned(), eq, v.trim().to_owned()));
        }
        Ok(FieldSelector(out))
    }

    /// Whether a stored object matches, reading fields from the indexed facts when possible.
    pub fn matches(&self, obj: &Object) -> bool {
        self.0.iter().all(|(k, eq, want)| {
            let have: String = match k.as_str() {
                "metadata.name" => obj.name.to_string(),
                "metadata.namespace" => obj.namespace.to_string(),
                "spec.nodeName" => obj
                    .pod
                    .as_ref()
                    .and_then(|p| p.node_name.as_deref())
                    .unwrap_or("")
                    .to_owned(),
                "status.phase" => obj
                    .pod
                    .as_ref()
                    .map(|p| p.phase.to_string())
                    .unwrap_or_default(),
                // The API server's field set prints the boolean, so an uncordoned node (the
                // field absent) is `false`, not empty.
                "spec.unschedulable" => obj
                    .value()
                    .pointer("/spec/unschedulable")
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
                    .to_string(),
                other => {
                    let ptr = format!("/{}", other.replace('.', "/"));
                    match obj.value().pointer(&ptr) {
                        Some(Value::String(s)) => s.clone(),
                        Some(Value::Null) | None => String::new(),
                        Some(v) => v.to_string(),
                    }
                }
            };
            (have == *want) == *eq
        })
    }

    /// True when it has no terms.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn label_selector_syntax() {
        let s =
            LabelSelector::parse("app=web,tier in (a, b),!canary,env!=prod,zone").expect("parse");
        assert_eq!(s.0.len(), 5);
        let labels = json!({"app": "web", "tier": "b", "zone": "z1"});
        assert!(s.matches_map(Some(&labels)));
        let labels = json!({"app": "web", "tier": "c", "zone": "z1"});
        assert!(!s.matches_map(Some(&labels)));
        assert!(LabelSelector::parse("a in b").is_err());
    }

    #[test]
    fn label_selector_objects() {
        let sel = LabelSelector::from_object(Some(&json!({"matchLabels": {"app": "x"},
            "matchExpressions": [{"key": "t", "operator": "NotIn", "values": ["y"]}]})))
        .expect("sel");
        assert!(sel.matches_map(Some(&json!({"app": "x"}))));
        assert!(!sel.matches_map(Some(&json!({"app": "x", "t": "y"}))));
        assert!(LabelSelector::from_object(None).is_none());
        assert!(
            LabelSelector::from_object(Some(&json!({})))
                .expect("empty")
                .is_empty()
        );
    }

    #[test]
    fn field_selector_rejects_unknown_fields() {
        assert!(FieldSelector::parse("spec.nodeName=n1", &["spec.nodeName"]).is_ok());
        assert_eq!(
            FieldSelector::parse("spec.foo=1", &["spec.nodeName"]),
            Err(SelectorError::UnsupportedField("spec.foo".into()))
        );
    }

    #[test]
    fn an_uncordoned_node_has_unschedulable_false() {
        let store = crate::sim::store::Store::new();
        let node = |name: &str, spec: serde_json::Value| {
            store
                .create(
                    crate::sim::resource::Res::Nodes,
                    json!({"metadata": {"name": name}, "spec": spec}),
                    false,
                )
                .expect("node")
        };
        let (plain, cordoned) = (
            node("a", json!({})),
            node("b", json!({"unschedulable": true})),
        );
        let allowed = ["spec.unschedulable"];
        let schedulable =
            FieldSelector::parse("spec.unschedulable=false", &allowed).expect("parse");
        assert!(schedulable.matches(&plain));
        assert!(!schedulable.matches(&cordoned));
        let not = FieldSelector::parse("spec.unschedulable!=true", &allowed).expect("parse");
        assert!(not.matches(&plain));
    }
}

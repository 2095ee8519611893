//! The three patch types kubectl and kube-rs send: JSON merge patch (RFC 7386), JSON patch
//! (RFC 6902) and strategic merge patch.
//!
//! Strategic merge is modelled for what clients patch in practice: maps merge, `null` deletes,
//! and the well-known lists (containers, volumes, env, conditions...) merge by their key; any
//! other list is replaced. `$patch` and `$setElementOrder` directives are honoured or ignored.

use serde_json::{Map, Value};

/// Which patch format the Content-Type names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    /// application/json-patch+json
    Json,
    /// application/merge-patch+json
    Merge,
    /// application/strategic-merge-patch+json
    Strategic,
}

impl PatchType {
    /// From a Content-Type header value.
    pub fn from_content_type(ct: &str) -> Option<Self> {
        match ct.split(';').next().unwrap_or("").trim() {
            "application/json-patch+json" => Some(PatchType::Json),
            "application/merge-patch+json" => Some(PatchType::Merge),
            "application/strategic-merge-patch+json" => Some(PatchType::Strategic),
            _ => None,
        }
    }
}

/// Why a patch could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    /// The body is not valid for the patch type.
    #[error("failed to parse patch: {0}")]
    ParseFailed(String),
    /// A JSON patch operation failed (test failed, path missing).
    #[error("failed to apply JSON patch: {0}")]
    ApplyFailed(String),
}

/// Apply `patch` to `target` in place.
pub fn apply(kind: PatchType, target: &mut Value, patch: &[u8]) -> Result<(), PatchError> {
    match kind {
        PatchType::Json => {
            let p: json_patch::Patch = serde_json::from_slice(patch)
                .map_err(|e| PatchError::ParseFailed(e.to_string()))?;
            json_patch::patch(target, &p).map_err(|e| PatchError::ApplyFailed(e.to_string()))
        }
        PatchType::Merge => {
            let p: Value = serde_json::from_slice(patch)
                .map_err(|e| PatchError::ParseFailed(e.to_string()))?;
            json_patch::merge(target, &p);
            Ok(())
        }
        PatchType::Strategic => {
            let p: Value = serde_json::from_slice(patch)
                .map_err(|e| PatchError::ParseFailed(e.to_string()))?;
            if !p.is_object() {
                return Err(PatchError::ParseFailed(
                    "strategic merge patch must be an object".into(),
                ));
            }
            strategic_merge(target, &p);
            Ok(())
        }
    }
}

/// The merge key of well-known lists (patchMergeKey in the Kubernetes API types).
fn merge_key(field: &str) -> Option<&'static str> {
    Some(match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "env"
        | "imagePullSecrets"
        | "containerStatuses"
        | "initContainerStatuses" => "name",
        "ports" => "containerPort",
        "volumeMounts" => "mountPath",
        "conditions" => "type",
        "ownerReferences" => "uid",
        "addresses" => "type",
        _ => return None,
    })
}

/// Strategic merge of `patch` into `target`.
pub fn strategic_merge(target: &mut Value, patch: &Value) {
    let Some(pm) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if pm.get("$patch").and_then(Value::as_str) == Some("replace") {
        let mut clean = pm.clone();
        clean.remove("$patch");
        *target = Value::Object(clean);
        return;
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Some(tm) = target.as_object_mut() else {
        return;
    };
    for (k, v) in pm {
        if k.starts_with('$') {
            continue;
        }
        if v.is_null() {
            tm.remove(k);
            continue;
        }
        match (tm.get_mut(k), v, merge_key(k)) {
            (Some(t @ Value::Object(_)), Value::Object(_), _) => strategic_merge(t, v),
            (Some(Value::Array(t)), Value::Array(p), Some(key)) => merge_list(t, p, key),
            _ => {
                let mut v = v.clone();
                strip_directives(&mut v);
                tm.insert(k.clone(), v);
            }
        }
    }
}

fn strip_directives(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|k, _| !k.starts_with('$'));
            m.values_mut().for_each(strip_directives);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_directives),
        _ => {}
    }
}

fn merge_list(target: &mut Vec<Value>, patch: &[Value], key: &str) {
    for p in patch {
        let Some(pk) = p.get(key) else {
            target.push(p.clone());
            continue;
        };
        let pos = target.iter().position(|t| t.get(key) == Some(pk));
        if p.get("$patch").and_then(Value::as_str) == Some("delete") {
            if let Some(i) = pos {
                target.remove(i);
            }
            continue;
        }
        match pos {
            Some(i) => strategic_merge(&mut target[i], p),
            None => {
                let mut p = p.clone();
                strip_directives(&mut p);
                target.push(p);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cordon_and_uncordon_patches() {
        let mut node = json!({"spec": {"providerID": "x"}});
        apply(
            PatchType::Strategic,
            &mut node,
            br#"{"spec":{"unschedulable":true}}"#,
        )
        .expect("cordon");
        assert_eq!(node["spec"]["unschedulable"], true);
        apply(
            PatchType::Strategic,
            &mut node,
            br#"{"spec":{"unschedulable":null}}"#,
        )
        .expect("uncordon");
        assert_eq!(node, json!({"spec": {"providerID": "x"}}));
    }

    #[test]
    fn strategic_lists_merge_by_key() {
        let mut pod = json!({"spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "1"}]}});
        let p =
            br#"{"spec":{"containers":[{"name":"b","image":"2"},{"name":"a","$patch":"delete"}]}}"#;
        apply(PatchType::Strategic, &mut pod, p).expect("patch");
        assert_eq!(
            pod,
            json!({"spec": {"containers": [{"name": "b", "image": "2"}]}})
        );
    }

    #[test]
    fn json_and_merge_patches() {
        let mut v = json!({"metadata": {"labels": {"a": "1"}}});
        apply(
            PatchType::Json,
            &mut v,
            br#"[{"op":"add","path":"/metadata/labels/b","value":"2"}]"#,
        )
        .expect("json");
        apply(
            PatchType::Merge,
            &mut v,
            br#"{"metadata":{"labels":{"a":null}}}"#,
        )
        .expect("merge");
        assert_eq!(v, json!({"metadata": {"labels": {"b": "2"}}}));
        assert!(
            apply(
                PatchType::Json,
                &mut v,
                br#"[{"op":"test","path":"/x","value":1}]"#
            )
            .is_err()
        );
    }
}

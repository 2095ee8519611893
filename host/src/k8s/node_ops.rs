//! Cordon and uncordon by strategic-merge patch, as `kubectl cordon` does; labels and taints
//! by JSON merge patch.
//!
//! Like kubectl, a node already in the wanted state gets no PATCH at all, so a resumed run does not
//! bump the node's resourceVersion for nothing. Uncordon sends `"unschedulable": null` (kubectl's
//! form, which removes the field) rather than kube-rs' `false`.
//!
//! Taints are a list that a merge patch replaces whole, and the kubelet and node controllers add
//! and remove their own taints concurrently (`node.kubernetes.io/not-ready`, ...): the patch
//! carries the node's resourceVersion, so a taint list built from a stale read is refused (409)
//! instead of silently dropping someone else's taint; one re-read and retry follows.

use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Map, Value, json};

/// Cordoning or uncordoning failed.
#[derive(Debug, thiserror::Error)]
pub enum NodeOpError {
    /// Reading the node failed (including: it does not exist).
    #[error("failed to read node {node}")]
    Get {
        /// Node.
        node: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// The patch was refused.
    #[error("failed to {action} node {node}")]
    Patch {
        /// `cordon`, `uncordon` or `label and taint`.
        action: &'static str,
        /// Node.
        node: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
}

impl NodeOpError {
    /// Whether trying again may succeed: the server failed (5xx), throttled (429) or did not
    /// answer. Cordon, uncordon and setting labels and taints are idempotent, so a caller may.
    pub fn is_transient(&self) -> bool {
        let source = match self {
            Self::Get { source, .. } | Self::Patch { source, .. } => source,
        };
        match source {
            kube::Error::Api(s) => s.code >= 500 || s.code == 429,
            kube::Error::HyperError(_) | kube::Error::Service(_) => true,
            _ => false,
        }
    }

    /// Whether the node does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Get { source: kube::Error::Api(s), .. } if s.code == 404)
    }
}

/// The patch that sets `spec.unschedulable`.
pub fn unschedulable_patch(cordon: bool) -> serde_json::Value {
    if cordon {
        serde_json::json!({"spec": {"unschedulable": true}})
    } else {
        serde_json::json!({"spec": {"unschedulable": null}})
    }
}

async fn set(client: &kube::Client, node: &str, cordon: bool) -> Result<bool, NodeOpError> {
    let api = Api::<Node>::all(client.clone());
    let current = api.get(node).await.map_err(|source| NodeOpError::Get {
        node: node.to_owned(),
        source,
    })?;
    let is = current
        .spec
        .as_ref()
        .and_then(|s| s.unschedulable)
        .unwrap_or(false);
    if is == cordon {
        return Ok(false);
    }
    api.patch(
        node,
        &PatchParams::default(),
        &Patch::Strategic(unschedulable_patch(cordon)),
    )
    .await
    .map_err(|source| NodeOpError::Patch {
        action: if cordon { "cordon" } else { "uncordon" },
        node: node.to_owned(),
        source,
    })?;
    Ok(true)
}

/// Mark the node unschedulable. Returns whether it changed anything.
pub async fn cordon(client: &kube::Client, node: &str) -> Result<bool, NodeOpError> {
    set(client, node, true).await
}

/// Make the node schedulable again. Returns whether it changed anything.
pub async fn uncordon(client: &kube::Client, node: &str) -> Result<bool, NodeOpError> {
    set(client, node, false).await
}

/// The JSON merge patch that gives `node` each of `labels` (key, value) and adds each of
/// `taints` (key, value, effect: `NoSchedule`, `PreferNoSchedule` or `NoExecute`) it lacks, or
/// `None` when nothing is missing. A taint is identified by key and effect, as Kubernetes does:
/// one with the same key and effect but another value is left as it is.
///
/// Labels are patched one by one; taints as the node's full list (existing ones first, with all
/// their fields, then the new ones), under `metadata.resourceVersion` as a precondition.
pub fn metadata_patch(
    node: &Node,
    labels: &[(String, String)],
    taints: &[(String, String, String)],
) -> Option<Value> {
    let current_labels = node.metadata.labels.as_ref();
    let mut label_patch = Map::new();
    for (key, value) in labels {
        if current_labels.and_then(|c| c.get(key)) != Some(value) {
            label_patch.insert(key.clone(), Value::String(value.clone()));
        }
    }
    let existing = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_deref())
        .unwrap_or_default();
    let mut keys: Vec<(&str, &str)> = existing
        .iter()
        .map(|t| (t.key.as_str(), t.effect.as_str()))
        .collect();
    let mut added = Vec::new();
    for (key, value, effect) in taints {
        if keys.contains(&(key.as_str(), effect.as_str())) {
            continue;
        }
        keys.push((key.as_str(), effect.as_str()));
        // An empty value is left out, as `kubectl taint node N key:Effect` leaves it out.
        let mut taint = json!({"key": key, "effect": effect});
        if !value.is_empty() {
            taint["value"] = Value::String(value.clone());
        }
        added.push(taint);
    }
    if label_patch.is_empty() && added.is_empty() {
        return None;
    }
    let mut metadata = Map::new();
    if let Some(rv) = &node.metadata.resource_version {
        metadata.insert("resourceVersion".into(), Value::String(rv.clone()));
    }
    if !label_patch.is_empty() {
        metadata.insert("labels".into(), Value::Object(label_patch));
    }
    let mut patch = json!({"metadata": metadata});
    if !added.is_empty() {
        let mut all: Vec<Value> = existing
            .iter()
            .map(|t| serde_json::to_value(t).unwrap_or(Value::Null))
            .collect();
        all.extend(added);
        patch["spec"] = json!({"taints": all});
    }
    Some(patch)
}

/// Set `labels` (key, value) on `node` and add the `taints` (key, value, effect) it lacks (see
/// [`metadata_patch`]). Returns whether anything changed; a node that already has them all gets
/// no PATCH. A conflict (the node changed between the read and the patch) is retried once from a
/// fresh read.
pub async fn set_metadata(
    client: &kube::Client,
    node: &str,
    labels: &[(String, String)],
    taints: &[(String, String, String)],
) -> Result<bool, NodeOpError> {
    let api = Api::<Node>::all(client.clone());
    let mut attempt = 0;
    loop {
        attempt += 1;
        let current = api.get(node).await.map_err(|source| NodeOpError::Get {
            node: node.to_owned(),
            source,
        })?;
        let Some(patch) = metadata_patch(&current, labels, taints) else {
            return Ok(false);
        };
        match api
            .patch(node, &PatchParams::default(), &Patch::Merge(patch))
            .await
        {
            Ok(_) => return Ok(true),
            Err(kube::Error::Api(status)) if status.code == 409 && attempt < 2 => {
                tracing::debug!(
                    node,
                    "node changed while adding labels and taints; retrying"
                );
            }
            Err(source) => {
                return Err(NodeOpError::Patch {
                    action: "label and taint",
                    node: node.to_owned(),
                    source,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patches_match_kubectl() {
        assert_eq!(
            unschedulable_patch(true).to_string(),
            r#"{"spec":{"unschedulable":true}}"#
        );
        assert_eq!(
            unschedulable_patch(false).to_string(),
            r#"{"spec":{"unschedulable":null}}"#
        );
    }

    fn node(v: Value) -> Node {
        serde_json::from_value(v).expect("valid node")
    }

    fn label(k: &str, v: &str) -> (String, String) {
        (k.into(), v.into())
    }

    fn taint(k: &str, v: &str, effect: &str) -> (String, String, String) {
        (k.into(), v.into(), effect.into())
    }

    #[test]
    fn metadata_patch_sets_labels_and_adds_missing_taints() {
        let n = node(json!({
            "metadata": {"name": "10.0.1.11", "resourceVersion": "77",
                         "labels": {"pool": "a", "keep": "me"}},
            "spec": {"taints": [
                {"key": "node.kubernetes.io/not-ready", "effect": "NoExecute",
                 "timeAdded": "2026-11-27T10:00:00Z"},
                {"key": "dedicated", "value": "db", "effect": "NoSchedule"}]}}));
        // (case, labels, taints, expected patch)
        type Case<'a> = (
            &'a str,
            Vec<(String, String)>,
            Vec<(String, String, String)>,
            Option<Value>,
        );
        let cases: Vec<Case<'_>> = vec![
            (
                "nothing_missing_sends_nothing",
                vec![label("pool", "a")],
                vec![taint("dedicated", "db", "NoSchedule")],
                None,
            ),
            (
                "same_key_and_effect_with_another_value_is_not_added",
                vec![],
                vec![taint("dedicated", "web", "NoSchedule")],
                None,
            ),
            (
                "changed_and_new_labels_only",
                vec![label("pool", "b"), label("keep", "me"), label("new", "1")],
                vec![],
                Some(json!({"metadata": {"resourceVersion": "77",
                                         "labels": {"pool": "b", "new": "1"}}})),
            ),
            (
                "new_taint_keeps_existing_ones_whole",
                vec![],
                vec![
                    taint("tke-recycle/recycling", "", "NoSchedule"),
                    // Same key, another effect: a different taint.
                    taint("dedicated", "db", "NoExecute"),
                    // Given twice: added once.
                    taint("tke-recycle/recycling", "", "NoSchedule"),
                ],
                Some(
                    json!({"metadata": {"resourceVersion": "77"}, "spec": {"taints": [
                    {"key": "node.kubernetes.io/not-ready", "effect": "NoExecute",
                     "timeAdded": "2026-11-27T10:00:00Z"},
                    {"key": "dedicated", "value": "db", "effect": "NoSchedule"},
                    {"key": "tke-recycle/recycling", "effect": "NoSchedule"},
                    {"key": "dedicated", "value": "db", "effect": "NoExecute"}]}}),
                ),
            ),
        ];
        for (case, labels, taints, want) in cases {
            assert_eq!(metadata_patch(&n, &labels, &taints), want, "{case}");
        }
    }

    #[test]
    fn metadata_patch_on_a_bare_node() {
        let n = node(json!({"metadata": {"name": "n"}}));
        assert_eq!(
            metadata_patch(
                &n,
                &[label("a", "b")],
                &[taint("k", "v", "PreferNoSchedule")]
            ),
            Some(json!({"metadata": {"labels": {"a": "b"}},
                        "spec": {"taints": [{"key": "k", "value": "v",
                                             "effect": "PreferNoSchedule"}]}}))
        );
    }
}

//! Cordon and uncordon by strategic-merge patch, as `kubectl cordon` does.
//!
//! Like kubectl, a node already in the wanted state gets no PATCH at all, so a resumed run does not
//! bump the node's resourceVersion for nothing. Uncordon sends `"unschedulable": null` (kubectl's
//! form, which removes the field) rather than kube-rs' `false`.

use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, Patch, PatchParams};

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
        /// `cordon` or `uncordon`.
        action: &'static str,
        /// Node.
        node: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
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
}

//! Kubernetes Events on the Node for each step of a recycle, as kured and Karpenter users expect
//! to find them in `kubectl describe node`.
//!
//! Node events follow the kubelet's convention: they live in the `default` namespace and their
//! `involvedObject.uid` is the node's *name*. That is what `kubectl describe node` searches for,
//! and it keeps the history visible across the remove/re-add, when the Node object (and its real
//! UID) is replaced.

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use kube::api::{Api, PostParams};

/// The component name events are reported by.
pub const COMPONENT: &str = "tke-recycle";
/// Where node events live.
pub const NAMESPACE: &str = "default";

/// A step of a recycle, the Event reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecycleStep {
    /// The node was selected and checked; it is being cordoned.
    RecycleStarted,
    /// Every evictable pod left.
    Drained,
    /// DeleteClusterInstances (retain) removed the node; the VM is kept.
    RemovedFromCluster,
    /// AddExistedInstances re-added the VM; the node is back.
    ReAdded,
    /// The node is schedulable again.
    Uncordoned,
    /// A step failed; the message says which and what state the node is left in.
    RecycleFailed,
}

impl RecycleStep {
    /// The reason string.
    pub fn reason(self) -> &'static str {
        match self {
            Self::RecycleStarted => "RecycleStarted",
            Self::Drained => "Drained",
            Self::RemovedFromCluster => "RemovedFromCluster",
            Self::ReAdded => "ReAdded",
            Self::Uncordoned => "Uncordoned",
            Self::RecycleFailed => "RecycleFailed",
        }
    }

    /// `Normal`, or `Warning` for a failure.
    pub fn event_type(self) -> &'static str {
        match self {
            Self::RecycleFailed => "Warning",
            _ => "Normal",
        }
    }
}

/// Recording an event failed.
#[derive(Debug, thiserror::Error)]
#[error("failed to record event {reason} on node {node}")]
pub struct EventError {
    /// Reason.
    pub reason: &'static str,
    /// Node.
    pub node: String,
    /// Why.
    #[source]
    pub source: kube::Error,
}

/// The Event object for `step` on `node`.
pub fn node_event(node: &str, step: RecycleStep, message: &str, now: jiff::Timestamp) -> Event {
    Event {
        metadata: ObjectMeta {
            // The API server fills in a unique suffix.
            generate_name: Some(format!("{node}.tke-recycle.")),
            namespace: Some(NAMESPACE.into()),
            ..ObjectMeta::default()
        },
        involved_object: ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Node".into()),
            name: Some(node.into()),
            uid: Some(node.into()),
            ..ObjectReference::default()
        },
        reason: Some(step.reason().into()),
        message: Some(message.into()),
        type_: Some(step.event_type().into()),
        source: Some(EventSource {
            component: Some(COMPONENT.into()),
            host: None,
        }),
        reporting_component: Some(COMPONENT.into()),
        reporting_instance: Some(super::lease::default_identity()),
        action: Some(step.reason().into()),
        // No eventTime: with one, a v1.20 API server accepts an Event about a Node only in
        // kube-system (seen on a real v1.20.2: 422 "involvedObject.namespace ... does not match
        // event.namespace"); without one, every version takes it in `default`, where the
        // kubelet writes node events too.
        first_timestamp: Some(Time(now)),
        last_timestamp: Some(Time(now)),
        count: Some(1),
        ..Event::default()
    }
}

/// Record `step` on `node`.
pub async fn record(
    client: &kube::Client,
    node: &str,
    step: RecycleStep,
    message: &str,
) -> Result<(), EventError> {
    let api = Api::<Event>::namespaced(client.clone(), NAMESPACE);
    api.create(
        &PostParams::default(),
        &node_event(node, step, message, jiff::Timestamp::now()),
    )
    .await
    .map_err(|source| EventError {
        reason: step.reason(),
        node: node.to_owned(),
        source,
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_is_found_by_kubectl_describe_node() {
        let e = node_event(
            "10.0.1.12",
            RecycleStep::RecycleFailed,
            "drain timed out; node left cordoned",
            jiff::Timestamp::UNIX_EPOCH,
        );
        let r = &e.involved_object;
        assert_eq!(
            (r.kind.as_deref(), r.name.as_deref(), r.uid.as_deref()),
            (Some("Node"), Some("10.0.1.12"), Some("10.0.1.12"))
        );
        assert_eq!(e.metadata.namespace.as_deref(), Some("default"));
        assert_eq!(e.type_.as_deref(), Some("Warning"));
        assert_eq!(e.reason.as_deref(), Some("RecycleFailed"));
        assert_eq!(RecycleStep::ReAdded.event_type(), "Normal");
    }
}

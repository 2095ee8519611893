//! Kubernetes API errors as sentences an operator can act on.
//!
//! kube-rs shows an API error as `ApiError: <message>: <reason> (Status { status: Some(Failure),
//! code: 404, ... })`: a Rust `Debug` structure that does not say what was missing or what to do.
//! [`render`] is how every command turns an error chain into text for a user: each link's own
//! words, and a Kubernetes error as what the server answered (HTTP code, reason, its message)
//! followed by what to do about it, by class (401, 403, a resource type the cluster does not
//! serve, an object that is gone, conflicts, throttling, server failures, no connection).

use std::error::Error as StdError;

use kube::core::Status;
use kube::runtime::watcher;

use super::live::LiveError;
use super::snapshot::SnapshotReadError;

/// Kubernetes versions tke-recycle supports, for the messages.
pub const SUPPORTED: &str = "Kubernetes 1.20 to 1.32";

/// An error chain as one line of text for a user: the links' own messages joined by `: `, each
/// Kubernetes error described by [`describe`] (which ends the chain: it says everything its
/// sources would).
pub fn render(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut resource = None;
    let mut link = Some(err);
    while let Some(e) = link {
        if let Some(k) = e.downcast_ref::<kube::Error>() {
            parts.push(describe(k, resource));
            break;
        }
        if let Some(w) = e.downcast_ref::<watcher::Error>() {
            parts.push(describe_watch(w, resource));
            break;
        }
        resource = resource.or_else(|| resource_of(e));
        let text = e.to_string();
        // thiserror types that print their source inside their own message (`{0}`) would
        // otherwise say it twice.
        if !parts.last().is_some_and(|last| last.contains(&text)) {
            parts.push(text);
        }
        link = e.source();
    }
    parts.join(": ")
}

/// The plural resource an error of ours says it was reading, when it says one.
fn resource_of(e: &(dyn StdError + 'static)) -> Option<&'static str> {
    if let Some(SnapshotReadError::List { what, .. }) = e.downcast_ref::<SnapshotReadError>() {
        return Some(what);
    }
    if let Some(LiveError::WatchFailed { what, .. }) = e.downcast_ref::<LiveError>() {
        return Some(what);
    }
    None
}

fn describe_watch(e: &watcher::Error, resource: Option<&str>) -> String {
    match e {
        watcher::Error::InitialListFailed(k)
        | watcher::Error::WatchStartFailed(k)
        | watcher::Error::WatchFailed(k) => describe(k, resource),
        watcher::Error::WatchError(status) => describe_status(status, resource),
        watcher::Error::NoResourceVersion => {
            "the API server's watch answer had no resourceVersion; is this a Kubernetes API server?"
                .into()
        }
    }
}

/// One Kubernetes client error: what the server answered and what to do, or why no answer came.
/// `resource` is the plural resource being read, when the caller knows it.
pub fn describe(err: &kube::Error, resource: Option<&str>) -> String {
    match err {
        kube::Error::Api(status) => describe_status(status, resource),
        kube::Error::HyperError(_) | kube::Error::Service(_) => format!(
            "cannot reach the Kubernetes API server: {}. Check that the server address in the \
             kubeconfig is reachable from this machine (TKE clusters have an internal and a \
             public endpoint; the public one must be enabled), then run the command again",
            sources_text(err)
        ),
        kube::Error::Auth(_) => format!(
            "cannot get credentials from the kubeconfig: {}. Refresh the kubeconfig (TKE \
             console: the cluster's basic information, or `tccli tke DescribeClusterKubeconfig`)",
            sources_text(err)
        ),
        kube::Error::InferConfig(_) | kube::Error::InferKubeconfig(_) => format!(
            "cannot load a kubeconfig: {}. Point --kubeconfig or KUBECONFIG at the cluster's \
             kubeconfig, or pick a context with --context",
            sources_text(err)
        ),
        kube::Error::RustlsTls(_) => format!(
            "the TLS connection to the API server failed: {}. Check the kubeconfig's \
             certificate-authority-data and server address",
            sources_text(err)
        ),
        kube::Error::SerdeError(e) => format!(
            "the API server's answer does not read as the expected object ({e}); is the server \
             address that of a Kubernetes API server ({SUPPORTED})?"
        ),
        other => sources_text(other),
    }
}

/// A `Status` answer: `HTTP <code> <reason>: <message>`, then the remedy for its class.
fn describe_status(status: &Status, resource: Option<&str>) -> String {
    let reason = if status.reason.is_empty() {
        "(no reason)"
    } else {
        &status.reason
    };
    let message = status.message.trim_end_matches('.');
    let answer = format!(
        "the API server answered HTTP {} {reason}: {message}",
        status.code
    );
    match remedy(status, resource) {
        Some(remedy) => format!("{answer}. {remedy}"),
        None => answer,
    }
}

fn remedy(status: &Status, resource: Option<&str>) -> Option<String> {
    let details = status.details.as_ref();
    Some(match status.code {
        401 => "The cluster did not accept the kubeconfig's credentials (token or client \
                certificate missing, expired, or for another cluster). Get a fresh kubeconfig \
                (TKE console: the cluster's basic information, or `tccli tke \
                DescribeClusterKubeconfig`) and point --kubeconfig or KUBECONFIG at it"
            .into(),
        403 => {
            let what = details
                .filter(|d| !d.kind.is_empty())
                .map(|d| {
                    let group = if d.group.is_empty() { "core" } else { &d.group };
                    format!(" on {} (API group {group})", d.kind)
                })
                .unwrap_or_default();
            format!(
                "The kubeconfig's identity lacks an RBAC permission{what}; the message names the \
                 user and the verb. Have a cluster admin grant it (a ClusterRole rule bound to \
                 that user; `kubectl auth can-i <verb> <resource>` checks it), or use a \
                 kubeconfig whose identity has it"
            )
        }
        404 if is_unserved_type(status) => unserved(resource),
        404 => "It no longer exists (deleted meanwhile?); check with kubectl and run the \
                command again"
            .into(),
        409 => "Another client changed the object at the same time; run the command again \
                (a run continues with `tke-recycle resume`)"
            .into(),
        410 => "The server no longer has the version asked for; run the command again".into(),
        429 => "The API server is throttling requests; wait a minute and run the command \
                again (a run continues with `tke-recycle resume`)"
            .into(),
        500..=599 => "The API server failed to answer (overloaded, or its etcd unhealthy); \
                      check the control plane in the TKE console and run the command again"
            .into(),
        _ => return None,
    })
}

/// A 404 about the resource type itself, not about a named object: no details name an object.
fn is_unserved_type(status: &Status) -> bool {
    status.details.as_ref().is_none_or(|d| d.name.is_empty())
        && status
            .message
            .contains("could not find the requested resource")
}

/// What to do when the cluster does not serve a resource type at the version asked for.
fn unserved(resource: Option<&str>) -> String {
    let history = resource.and_then(|r| {
        Some(match r {
            "poddisruptionbudgets" => "PodDisruptionBudgets are served as policy/v1 from \
                Kubernetes 1.21 on and as policy/v1beta1 up to 1.24; tke-recycle reads the one \
                the cluster's discovery names"
                .to_owned(),
            "leases" => "Leases are coordination.k8s.io/v1, served since Kubernetes 1.14".into(),
            "deployments" | "replicasets" | "statefulsets" | "daemonsets" => {
                format!("{r} are apps/v1, served since Kubernetes 1.9")
            }
            "nodes"
            | "pods"
            | "persistentvolumes"
            | "persistentvolumeclaims"
            | "events"
            | "configmaps" => format!("{r} are core v1, served by every Kubernetes version"),
            _ => return None,
        })
    });
    let what = resource.map_or_else(|| "the resource type asked for".to_owned(), str::to_owned);
    match history {
        Some(h) => format!(
            "The cluster does not serve {what} at the API version asked for. {h}. Check the \
             cluster's version with `kubectl version` and what it serves with `kubectl \
             api-resources`; tke-recycle supports {SUPPORTED}"
        ),
        None => format!(
            "The cluster does not serve {what}. Check the cluster's version with `kubectl \
             version` and what it serves with `kubectl api-resources`; tke-recycle supports \
             {SUPPORTED}"
        ),
    }
}

/// An error and its sources in their own words, without kube's `Debug` dump of a `Status` (only
/// the API variant has one, and it is never rendered here) and without repeating a source that
/// a message already quotes.
fn sources_text(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut link = Some(err);
    while let Some(e) = link {
        let text = strip_kube_prefix(&e.to_string());
        if !parts.iter().any(|p| p.contains(&text)) {
            // A message that quotes its source is replaced by the more precise source.
            parts.retain(|p| !text.contains(p.as_str()));
            parts.push(text);
        }
        link = e.source();
    }
    parts.join(": ")
}

/// kube prefixes its messages with the variant's name (`HyperError: `, `ServiceError: `).
fn strip_kube_prefix(text: &str) -> String {
    for prefix in [
        "HyperError: ",
        "ServiceError: ",
        "auth error: ",
        "rustls tls error: ",
    ] {
        if let Some(rest) = text.strip_prefix(prefix) {
            return rest.to_owned();
        }
    }
    text.to_owned()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::k8s::snapshot::SnapshotReadError;

    fn api(
        code: u16,
        reason: &str,
        message: &str,
        details: Option<serde_json::Value>,
    ) -> kube::Error {
        let mut status =
            json!({"status": "Failure", "code": code, "reason": reason, "message": message});
        if let Some(d) = details {
            status["details"] = d;
        }
        kube::Error::Api(Box::new(serde_json::from_value(status).expect("a Status")))
    }

    /// As the snapshot command shows it: its context, the list that failed, the answer.
    fn listing(what: &'static str, source: kube::Error) -> String {
        let err = anyhow::Error::new(SnapshotReadError::List { what, source })
            .context("cannot read the cluster");
        render(err.as_ref())
    }

    #[test]
    fn each_class_of_api_error_reads_as_a_sentence_with_what_to_do() {
        let cases = [
            (
                "401",
                listing("nodes", api(401, "Unauthorized", "Unauthorized", None)),
                "cannot read the cluster: failed to list nodes: the API server answered HTTP 401 \
                 Unauthorized: Unauthorized. The cluster did not accept the kubeconfig's \
                 credentials (token or client certificate missing, expired, or for another \
                 cluster). Get a fresh kubeconfig (TKE console: the cluster's basic information, \
                 or `tccli tke DescribeClusterKubeconfig`) and point --kubeconfig or KUBECONFIG at it",
            ),
            (
                "403",
                listing(
                    "nodes",
                    api(
                        403,
                        "Forbidden",
                        r#"nodes is forbidden: User "limited" cannot list resource "nodes" in API group "" at the cluster scope"#,
                        Some(json!({"kind": "nodes"})),
                    ),
                ),
                r#"cannot read the cluster: failed to list nodes: the API server answered HTTP 403 Forbidden: nodes is forbidden: User "limited" cannot list resource "nodes" in API group "" at the cluster scope. The kubeconfig's identity lacks an RBAC permission on nodes (API group core); the message names the user and the verb. Have a cluster admin grant it (a ClusterRole rule bound to that user; `kubectl auth can-i <verb> <resource>` checks it), or use a kubeconfig whose identity has it"#,
            ),
            (
                "404 on a resource type",
                listing(
                    "poddisruptionbudgets",
                    api(
                        404,
                        "NotFound",
                        "the server could not find the requested resource",
                        None,
                    ),
                ),
                "cannot read the cluster: failed to list poddisruptionbudgets: the API server \
                 answered HTTP 404 NotFound: the server could not find the requested resource. \
                 The cluster does not serve poddisruptionbudgets at the API version asked for. \
                 PodDisruptionBudgets are served as policy/v1 from Kubernetes 1.21 on and as \
                 policy/v1beta1 up to 1.24; tke-recycle reads the one the cluster's discovery \
                 names. Check the cluster's version with `kubectl version` and what it serves with \
                 `kubectl api-resources`; tke-recycle supports Kubernetes 1.20 to 1.32",
            ),
            (
                "404 on an object",
                render(&api(
                    404,
                    "NotFound",
                    r#"nodes "10.0.0.9" not found"#,
                    Some(json!({"name": "10.0.0.9", "kind": "nodes"})),
                )),
                r#"the API server answered HTTP 404 NotFound: nodes "10.0.0.9" not found. It no longer exists (deleted meanwhile?); check with kubectl and run the command again"#,
            ),
            (
                "409",
                render(&api(
                    409,
                    "Conflict",
                    "the object has been modified; please apply your changes to the latest version and try again",
                    None,
                )),
                "the API server answered HTTP 409 Conflict: the object has been modified; please \
                 apply your changes to the latest version and try again. Another client changed \
                 the object at the same time; run the command again (a run continues with \
                 `tke-recycle resume`)",
            ),
            (
                "429",
                render(&api(
                    429,
                    "TooManyRequests",
                    "too many requests, please try again later.",
                    None,
                )),
                "the API server answered HTTP 429 TooManyRequests: too many requests, please try \
                 again later. The API server is throttling requests; wait a minute and run the \
                 command again (a run continues with `tke-recycle resume`)",
            ),
            (
                "5xx",
                render(&api(
                    500,
                    "InternalError",
                    "Internal error occurred: etcdserver: request timed out",
                    None,
                )),
                "the API server answered HTTP 500 InternalError: Internal error occurred: \
                 etcdserver: request timed out. The API server failed to answer (overloaded, or \
                 its etcd unhealthy); check the control plane in the TKE console and run the \
                 command again",
            ),
            (
                "another code",
                render(&api(
                    422,
                    "Invalid",
                    r#"Node "x" is invalid: metadata.labels: Invalid value"#,
                    None,
                )),
                r#"the API server answered HTTP 422 Invalid: Node "x" is invalid: metadata.labels: Invalid value"#,
            ),
            (
                "an answer that is not JSON of the expected kind",
                render(&kube::Error::SerdeError(
                    serde_json::from_str::<u8>("x").expect_err("not JSON"),
                )),
                "the API server's answer does not read as the expected object (expected value at \
                 line 1 column 1); is the server address that of a Kubernetes API server \
                 (Kubernetes 1.20 to 1.32)?",
            ),
        ];
        for (class, got, want) in cases {
            assert_eq!(got, want, "{class}");
        }
    }

    #[test]
    fn a_watch_that_fails_is_described_like_the_request_it_made() {
        let err = LiveError::WatchFailed {
            what: "poddisruptionbudgets",
            source: watcher::Error::InitialListFailed(api(
                404,
                "NotFound",
                "the server could not find the requested resource",
                None,
            )),
        };
        let text = render(&err);
        assert!(
            text.starts_with("failed to watch poddisruptionbudgets: the API server answered HTTP 404 NotFound: the server could not find the requested resource. The cluster does not serve poddisruptionbudgets at the API version asked for. PodDisruptionBudgets are served as"),
            "{text}"
        );
    }
}

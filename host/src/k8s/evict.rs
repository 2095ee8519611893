//! Evicting one pod through the Eviction API, with its UID as precondition, and mapping every
//! answer to exactly what it means.
//!
//! | answer | outcome |
//! |---|---|
//! | 200/201 | [`EvictOutcome::Evicted`] |
//! | 429 with a disruption-budget cause | [`EvictOutcome::Blocked`], naming the PDB |
//! | 429 otherwise | [`EvictOutcome::TooManyRequests`] (API rate limiting) |
//! | 500 "more than one PodDisruptionBudget" | [`EvictOutcome::MultiplePdbs`]: never succeeds by retrying |
//! | 404 | [`EvictOutcome::Gone`] |
//! | 409 | [`EvictOutcome::Replaced`]: the UID precondition failed, a new pod has the name |
//! | 403 with cause NamespaceTerminating | [`EvictOutcome::NamespaceTerminating`] |
//!
//! The request goes through a client without retries ([`super::client::Clients::direct`]) so a
//! 429 reaches the caller at once; this module never retries, the runbook decides. Servers that
//! only serve `policy/v1beta1` evictions (older TKE clusters) get a v1beta1 body, found through
//! discovery as kubectl does ([`super::served`]).

use http_body_util::BodyExt as _;

/// The eviction API version a server serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvictionVersion {
    /// `policy/v1` (Kubernetes 1.22+).
    V1,
    /// `policy/v1beta1` (older clusters).
    V1beta1,
}

impl EvictionVersion {
    /// `apiVersion` of the Eviction body.
    pub fn api_version(self) -> &'static str {
        match self {
            Self::V1 => "policy/v1",
            Self::V1beta1 => "policy/v1beta1",
        }
    }
}

/// What an eviction request achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvictOutcome {
    /// Accepted: the pod terminates gracefully; wait until it is gone or replaced.
    Evicted,
    /// A PodDisruptionBudget does not allow it now; retry later with backoff.
    Blocked {
        /// The blocking PDB, when the server named it.
        pdb: Option<String>,
        /// The server's message.
        message: String,
    },
    /// 429 without a disruption-budget cause: the API server is rate limiting; retry later.
    TooManyRequests {
        /// The server's message.
        message: String,
    },
    /// The pod matches more than one PDB; eviction can never succeed (a configuration error).
    MultiplePdbs {
        /// The server's message.
        message: String,
    },
    /// The pod no longer exists.
    Gone,
    /// A pod of the same name but another UID exists: the one asked about is gone.
    Replaced,
    /// The pod's namespace is being deleted: the pod is going away anyway.
    NamespaceTerminating,
}

/// An eviction could not be sent, or the server answered something that is none of the outcomes.
#[derive(Debug, thiserror::Error)]
pub enum EvictError {
    /// The request got no answer.
    #[error("failed to evict pod {pod}")]
    Send {
        /// `namespace/name`.
        pod: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// An answer that is not an eviction outcome (401, 403 without NamespaceTerminating, 500...).
    #[error("failed to evict pod {pod}: HTTP {status}: {message}")]
    Refused {
        /// `namespace/name`.
        pod: String,
        /// HTTP status.
        status: u16,
        /// The server's message.
        message: String,
    },
}

/// The Eviction body: a proper `policy/v1` (or v1beta1) object with the UID precondition.
pub fn eviction_body(
    version: EvictionVersion,
    namespace: &str,
    name: &str,
    uid: &str,
    grace_period_seconds: Option<i64>,
) -> serde_json::Value {
    let mut delete_options = serde_json::json!({"preconditions": {"uid": uid}});
    if let Some(grace) = grace_period_seconds {
        delete_options["gracePeriodSeconds"] = grace.into();
    }
    serde_json::json!({
        "apiVersion": version.api_version(),
        "kind": "Eviction",
        "metadata": {"name": name, "namespace": namespace},
        "deleteOptions": delete_options,
    })
}

/// The PDB a 429's message or causes name: "The disruption budget NAME needs ...".
fn pdb_name(text: &str) -> Option<String> {
    const MARK: &str = "disruption budget ";
    let lower = text.to_ascii_lowercase();
    let at = lower.find(MARK)? + MARK.len();
    let token: String = text[at..]
        .trim_start_matches(['"', '\''])
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        .collect();
    let token = token.trim_end_matches('.');
    (!token.is_empty()).then(|| token.to_owned())
}

/// Map an eviction answer to its outcome. `body` is the answer's JSON (a `Status` on errors).
pub fn classify(status: u16, body: &[u8]) -> Result<EvictOutcome, (u16, String)> {
    let parsed: Option<kube::core::Status> = serde_json::from_slice(body).ok();
    let message = parsed
        .as_ref()
        .map(|s| s.message.clone())
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| {
            String::from_utf8_lossy(body)
                .trim()
                .chars()
                .take(500)
                .collect()
        });
    let causes: Vec<(String, String)> = parsed
        .as_ref()
        .and_then(|s| s.details.as_ref())
        .map(|d| {
            d.causes
                .iter()
                .map(|c| (c.reason.clone(), c.message.clone()))
                .collect()
        })
        .unwrap_or_default();
    match status {
        200 | 201 => Ok(EvictOutcome::Evicted),
        429 => {
            let budget_cause = causes.iter().find(|(r, _)| r == "DisruptionBudget");
            let names_budget = budget_cause.is_some()
                || message.to_ascii_lowercase().contains("disruption budget");
            if names_budget {
                let pdb = budget_cause
                    .and_then(|(_, m)| pdb_name(m))
                    .or_else(|| causes.iter().find_map(|(_, m)| pdb_name(m)))
                    .or_else(|| pdb_name(&message));
                Ok(EvictOutcome::Blocked { pdb, message })
            } else {
                Ok(EvictOutcome::TooManyRequests { message })
            }
        }
        500 if message.contains("more than one PodDisruptionBudget") => {
            Ok(EvictOutcome::MultiplePdbs { message })
        }
        404 => Ok(EvictOutcome::Gone),
        409 => Ok(EvictOutcome::Replaced),
        403 if causes.iter().any(|(r, _)| r == "NamespaceTerminating")
            || message.contains("because it is being terminated") =>
        {
            Ok(EvictOutcome::NamespaceTerminating)
        }
        other => Err((other, message)),
    }
}

/// Evict `namespace/name` if it still has `uid`. Send it through a client without retries.
pub async fn evict(
    client: &kube::Client,
    version: EvictionVersion,
    namespace: &str,
    name: &str,
    uid: &str,
    grace_period_seconds: Option<i64>,
) -> Result<EvictOutcome, EvictError> {
    let pod = format!("{namespace}/{name}");
    let body = eviction_body(version, namespace, name, uid, grace_period_seconds);
    let path = format!(
        "/api/v1/namespaces/{}/pods/{}/eviction",
        percent(namespace),
        percent(name)
    );
    let mut req = http::Request::new(kube::client::Body::from(body.to_string().into_bytes()));
    *req.method_mut() = http::Method::POST;
    *req.uri_mut() = http::Uri::try_from(path).map_err(|e| EvictError::Refused {
        pod: pod.clone(),
        status: 0,
        message: format!("invalid pod name: {e}"),
    })?;
    req.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    let send_err = |source| EvictError::Send {
        pod: pod.clone(),
        source,
    };
    let resp = client.send(req).await.map_err(send_err)?;
    let status = resp.status().as_u16();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .map_err(send_err)?
        .to_bytes();
    let outcome = classify(status, &bytes).map_err(|(status, message)| EvictError::Refused {
        pod: pod.clone(),
        status,
        message,
    })?;
    tracing::debug!(pod, ?outcome, "eviction answered");
    Ok(outcome)
}

/// Names and namespaces are DNS labels/subdomains, but a hostile snapshot must not be able to
/// change the path: escape anything else.
fn percent(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn status(code: u16, reason: &str, message: &str, causes: serde_json::Value) -> Vec<u8> {
        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code,
               "reason": reason, "message": message, "details": {"causes": causes}})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn every_answer_maps_to_its_outcome() {
        let pdb_429 = status(
            429,
            "TooManyRequests",
            "Cannot evict pod as it would violate the pod's disruption budget.",
            json!([{"reason": "DisruptionBudget",
                    "message": "The disruption budget web-pdb needs 2 healthy pods and has 2 currently"}]),
        );
        let old_429 = status(
            429,
            "TooManyRequests",
            "Cannot evict pod as it would violate the pod's disruption budget.",
            json!([]),
        );
        let apf_429 = status(
            429,
            "TooManyRequests",
            "Too many requests, please try again later.",
            json!([]),
        );
        let multi = status(
            500,
            "InternalError",
            "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
            json!([]),
        );
        let other_500 = status(500, "InternalError", "etcd timeout", json!([]));
        let ns_gone = status(
            403,
            "Forbidden",
            "pods \"web-1\" is forbidden: unable to create new content in namespace shop because it is being terminated",
            json!([{"reason": "NamespaceTerminating", "message": "namespace shop is being terminated",
                    "field": "metadata.namespace"}]),
        );
        let rbac = status(
            403,
            "Forbidden",
            "pods \"web-1\" is forbidden: User cannot create",
            json!([]),
        );
        // (case, HTTP status, body, outcome or the status of the error)
        type Case<'a> = (&'a str, u16, Vec<u8>, Result<EvictOutcome, u16>);
        let cases: Vec<Case<'_>> = vec![
            ("created", 201, b"{}".to_vec(), Ok(EvictOutcome::Evicted)),
            ("ok", 200, b"{}".to_vec(), Ok(EvictOutcome::Evicted)),
            (
                "blocked_names_the_pdb",
                429,
                pdb_429,
                Ok(EvictOutcome::Blocked {
                    pdb: Some("web-pdb".into()),
                    message: "Cannot evict pod as it would violate the pod's disruption budget.".into(),
                }),
            ),
            (
                "blocked_without_a_name",
                429,
                old_429,
                Ok(EvictOutcome::Blocked {
                    pdb: None,
                    message: "Cannot evict pod as it would violate the pod's disruption budget.".into(),
                }),
            ),
            (
                "api_rate_limit_is_not_a_pdb",
                429,
                apf_429,
                Ok(EvictOutcome::TooManyRequests {
                    message: "Too many requests, please try again later.".into(),
                }),
            ),
            (
                "multiple_pdbs",
                500,
                multi,
                Ok(EvictOutcome::MultiplePdbs {
                    message: "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.".into(),
                }),
            ),
            ("other_500_is_an_error", 500, other_500, Err(500)),
            ("gone", 404, status(404, "NotFound", "pods \"web-1\" not found", json!([])), Ok(EvictOutcome::Gone)),
            (
                "replaced",
                409,
                status(409, "Conflict", "Precondition failed: UID in precondition: a, UID in object meta: b", json!([])),
                Ok(EvictOutcome::Replaced),
            ),
            ("namespace_terminating", 403, ns_gone, Ok(EvictOutcome::NamespaceTerminating)),
            ("forbidden_is_an_error", 403, rbac, Err(403)),
            ("unauthorised", 401, b"Unauthorized".to_vec(), Err(401)),
        ];
        for (case, code, body, want) in cases {
            assert_eq!(classify(code, &body).map_err(|(s, _)| s), want, "{case}");
        }
    }

    #[test]
    fn pdb_name_is_taken_from_the_message() {
        let cases = [
            (
                "The disruption budget web-pdb needs 2 healthy pods and has 2 currently",
                Some("web-pdb"),
            ),
            (
                "The disruption budget zk.v1 is still being processed by the server.",
                Some("zk.v1"),
            ),
            (
                "Cannot evict pod as it would violate the pod's disruption budget.",
                None,
            ),
            ("blocked by disruption budget \"db\"", Some("db")),
        ];
        for (text, want) in cases {
            assert_eq!(pdb_name(text).as_deref(), want, "{text}");
        }
    }

    #[test]
    fn body_is_a_typed_eviction_with_uid_precondition() {
        let body = eviction_body(EvictionVersion::V1beta1, "shop", "web-1", "u-1", Some(30));
        assert_eq!(
            body,
            json!({"apiVersion": "policy/v1beta1", "kind": "Eviction",
                   "metadata": {"name": "web-1", "namespace": "shop"},
                   "deleteOptions": {"preconditions": {"uid": "u-1"}, "gracePeriodSeconds": 30}})
        );
    }

    #[test]
    fn path_segments_are_escaped() {
        assert_eq!(percent("web-1.a_b"), "web-1.a_b");
        assert_eq!(percent("../x"), "..%2Fx");
    }
}

//! The Tencent Cloud API 3.0 server of the practice cluster: one listener for TKE (2018-05-25)
//! and CVM (2017-03-12), routed by `X-TC-Version`, with TC3-HMAC-SHA256 verification, the
//! per-action rate limit, injected throttling, and the exact envelopes (HTTP 200,
//! `Content-Type: application/json`, `{"Response": {..., "RequestId"}}`).

mod actions;
pub mod state;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use crate::sim::scenario::nth_is_faulted;
use crate::sim::store::{Store, new_uid};
use crate::tke::sign;
use state::{ActionRecord, TkeState};

/// Largest body accepted.
const MAX_BODY: usize = 10 * 1024 * 1024;
/// Allowed clock skew of X-TC-Timestamp.
const MAX_SKEW_SECS: i64 = 300;

/// An API error as the envelope carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TkeError {
    /// Error code, e.g. `AuthFailure.SignatureFailure`.
    pub code: String,
    /// Message.
    pub message: String,
}

impl TkeError {
    /// An error.
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        TkeError {
            code: code.to_owned(),
            message: message.into(),
        }
    }

    /// MissingParameter for `name`.
    pub fn missing(name: &str) -> Self {
        Self::new(
            "MissingParameter",
            format!("The request is missing a required parameter `{name}`."),
        )
    }

    /// InvalidParameter with a message.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new("InvalidParameter", message)
    }
}

/// Shared state of the TKE/CVM server.
pub struct TkeApi {
    /// The cloud.
    pub state: Arc<Mutex<TkeState>>,
    /// The Kubernetes objects (removing nodes).
    pub store: Arc<Store>,
    /// Accepted SecretId -> SecretKey.
    pub keys: Vec<(String, String)>,
    /// The accelerated clock (add-back delay).
    pub clock: crate::sim::clock::Clock,
}

/// The router.
pub fn router(api: Arc<TkeApi>) -> Router {
    Router::new().fallback(handle).with_state(api)
}

fn envelope(request_id: &str, result: Result<Value, TkeError>) -> Response {
    let mut body = match result {
        Ok(Value::Object(m)) => Value::Object(m),
        Ok(_) => json!({}),
        Err(e) => json!({"Error": {"Code": e.code, "Message": e.message}}),
    };
    body["RequestId"] = json!(request_id);
    let mut r = Response::new(Body::from(
        serde_json::to_vec(&json!({"Response": body})).unwrap_or_default(),
    ));
    *r.status_mut() = StatusCode::OK;
    // Exactly this: the official Python SDK does not recognise errors with a charset suffix.
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn header_str(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// The service a version belongs to.
fn service_of(version: &str) -> Option<&'static str> {
    match version {
        "2018-05-25" => Some("tke"),
        "2017-03-12" => Some("cvm"),
        _ => None,
    }
}

/// Verify the TC3 signature of a request; returns the service.
fn authenticate(
    api: &TkeApi,
    headers: &HeaderMap,
    body: &[u8],
    version: &str,
) -> Result<&'static str, TkeError> {
    let ts_raw =
        header_str(headers, "x-tc-timestamp").ok_or_else(|| TkeError::missing("Timestamp"))?;
    let timestamp: i64 = ts_raw.trim().parse().map_err(|_| {
        TkeError::new(
            "InvalidParameterValue",
            format!("The value `{ts_raw}` of parameter `Timestamp` is not valid."),
        )
    })?;
    let auth_header = header_str(headers, "authorization").ok_or_else(|| {
        TkeError::new(
            "AuthFailure.InvalidAuthorization",
            "The Authorization header is missing.",
        )
    })?;
    let auth = sign::parse_authorization(&auth_header).map_err(|e| {
        TkeError::new(
            "AuthFailure.InvalidAuthorization",
            format!("Authorization is invalid: {e}."),
        )
    })?;
    let server = jiff::Timestamp::now().as_second();
    if (server - timestamp).abs() > MAX_SKEW_SECS {
        return Err(TkeError::new(
            "AuthFailure.SignatureExpire",
            format!(
                "Signature expired. Timestamp is {timestamp}, server time is {server}, the maximum allowed deviation is {MAX_SKEW_SECS} seconds."
            ),
        ));
    }
    let Some((_, key)) = api.keys.iter().find(|(id, _)| *id == auth.secret_id) else {
        return Err(TkeError::new(
            "AuthFailure.SecretIdNotFound",
            "The SecretId is not found, please ensure that your SecretId is correct.",
        ));
    };
    let service = service_of(version).ok_or_else(|| {
        TkeError::new(
            "NoSuchVersion",
            format!("The requested version `{version}` does not exist."),
        )
    })?;
    if auth.service != service {
        return Err(TkeError::new(
            "AuthFailure.InvalidAuthorization",
            format!(
                "The credential scope's service `{}` does not match the requested service `{service}`.",
                auth.service
            ),
        ));
    }
    let payload_hash =
        if header_str(headers, "x-tc-content-sha256").as_deref() == Some(sign::UNSIGNED_PAYLOAD) {
            sign::sha256_hex(sign::UNSIGNED_PAYLOAD.as_bytes())
        } else {
            sign::sha256_hex(body)
        };
    sign::verify(&auth, key, timestamp, |name| header_str(headers, name), &payload_hash).map_err(|e| match e {
        sign::SignError::DateMismatch { .. } | sign::SignError::SignatureMismatch | sign::SignError::SignedHeaderMissing(_) => {
            TkeError::new(
                "AuthFailure.SignatureFailure",
                "The provided credentials could not be validated. Please check your signature is correct.",
            )
        }
        other => TkeError::new("AuthFailure.InvalidAuthorization", other.to_string()),
    })?;
    Ok(service)
}

/// RequestLimitExceeded for this call? The injected share is counted per action and spread
/// deterministically ([`nth_is_faulted`]); then the real per-action, per-second limit applies.
fn throttled(state: &mut TkeState, action: &str) -> bool {
    let ratio = state.faults.tke_throttle_rate;
    if ratio > 0.0 {
        let k = state.throttle_calls.entry(action.to_owned()).or_insert(0);
        *k += 1;
        if nth_is_faulted(*k, ratio) {
            return true;
        }
    }
    let limit = state
        .faults
        .tke_rate_limit
        .unwrap_or(if action == "DescribeInstances" {
            40
        } else {
            20
        });
    let sec = jiff::Timestamp::now().as_second() as u64;
    let entry = state.rate.entry(action.to_owned()).or_insert((sec, 0));
    if entry.0 != sec {
        *entry = (sec, 0);
    }
    entry.1 += 1;
    entry.1 > limit
}

async fn handle(State(api): State<Arc<TkeApi>>, req: Request) -> Response {
    let request_id = new_uid();
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return envelope(
                &request_id,
                Err(TkeError::invalid("The request body is too large.")),
            );
        }
    };
    let headers = &parts.headers;
    if parts.method != axum::http::Method::POST {
        return envelope(
            &request_id,
            Err(TkeError::new(
                "UnsupportedProtocol",
                "Only POST with TC3-HMAC-SHA256 is supported by the practice cluster.",
            )),
        );
    }
    let Some(action) = header_str(headers, "x-tc-action").filter(|a| !a.is_empty()) else {
        return envelope(&request_id, Err(TkeError::missing("Action")));
    };
    let Some(version) = header_str(headers, "x-tc-version").filter(|a| !a.is_empty()) else {
        return envelope(&request_id, Err(TkeError::missing("Version")));
    };
    let service = match authenticate(&api, headers, &body, &version) {
        Ok(s) => s,
        Err(e) => return record(&api, &request_id, "?", &action, Value::Null, Err(e)),
    };
    let Some(region) = header_str(headers, "x-tc-region").filter(|r| !r.is_empty()) else {
        return record(
            &api,
            &request_id,
            service,
            &action,
            Value::Null,
            Err(TkeError::missing("Region")),
        );
    };
    let params: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&body) {
            Ok(v @ Value::Object(_)) => v,
            _ => {
                return record(
                    &api,
                    &request_id,
                    service,
                    &action,
                    Value::Null,
                    Err(TkeError::invalid(
                        "The request body is not a valid JSON object.",
                    )),
                );
            }
        }
    };
    let result = {
        let mut st = match api.state.lock() {
            Ok(g) => g,
            Err(e) => e.into_inner(),
        };
        if throttled(&mut st, &action) {
            Err(TkeError::new(
                "RequestLimitExceeded",
                "Your current request times exceeds the limit, please try again later.",
            ))
        } else if region != st.cluster.region {
            actions::other_region(service, &action, &params, &region)
        } else {
            actions::dispatch(&mut st, &api, service, &action, &params)
        }
    };
    record(&api, &request_id, service, &action, params, result)
}

fn record(
    api: &TkeApi,
    request_id: &str,
    service: &str,
    action: &str,
    params: Value,
    result: Result<Value, TkeError>,
) -> Response {
    if let Ok(mut st) = api.state.lock() {
        st.actions.push(ActionRecord {
            service: service.to_owned(),
            action: action.to_owned(),
            params,
            error: result.as_ref().err().map(|e| e.code.clone()),
        });
    }
    envelope(request_id, result)
}

//! `metav1.Status` error answers, shaped and worded as the real API server sends them.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::sim::resource::Res;
use crate::sim::store::StoreError;

/// An API error that becomes a `Status` object with the matching HTTP code.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status code, also written to `code`.
    pub code: u16,
    /// `reason` (NotFound, Conflict, TooManyRequests...).
    pub reason: &'static str,
    /// `message`.
    pub message: String,
    /// `details`, when the real server sends them.
    pub details: Option<Value>,
    /// `metadata` (a ListMeta), when the real server fills it: the continue token of an
    /// expired paged list.
    pub metadata: Option<Value>,
}

/// `plural` or `plural.group`, as in real messages (`deployments.apps "x" not found`).
pub fn group_resource(res: Res) -> String {
    let d = res.def();
    if d.group.is_empty() {
        d.plural.to_owned()
    } else {
        format!("{}.{}", d.plural, d.group)
    }
}

fn details(res: Res, name: &str) -> Value {
    let d = res.def();
    let mut v = json!({"name": name, "kind": d.plural});
    if !d.group.is_empty() {
        v["group"] = json!(d.group);
    }
    v
}

impl ApiError {
    /// A plain error.
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
            metadata: None,
        }
    }

    /// 404 for an object.
    pub fn not_found(res: Res, name: &str) -> Self {
        ApiError {
            details: Some(details(res, name)),
            ..Self::new(
                404,
                "NotFound",
                format!("{} \"{name}\" not found", group_resource(res)),
            )
        }
    }

    /// 400 BadRequest.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    /// 401 for a missing or wrong bearer token.
    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }

    /// 405 for a verb the resource does not support.
    pub fn method_not_allowed() -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
    }

    /// Map a store error for `res`/`name`.
    pub fn from_store(res: Res, name: &str, e: StoreError) -> Self {
        match e {
            StoreError::NotFound { .. } => Self::not_found(res, name),
            StoreError::AlreadyExists { .. } => ApiError {
                details: Some(details(res, name)),
                ..Self::new(
                    409,
                    "AlreadyExists",
                    format!("{} \"{name}\" already exists", group_resource(res)),
                )
            },
            StoreError::Conflict(m) => ApiError {
                details: Some(details(res, name)),
                ..Self::new(409, "Conflict", m)
            },
            StoreError::Invalid(m) => ApiError {
                details: Some(details(res, name)),
                ..Self::new(
                    422,
                    "Invalid",
                    format!("{} {:?} is invalid: {m}", res.def().kind, name),
                )
            },
        }
    }

    /// The Status object.
    pub fn to_status(&self) -> Value {
        let mut v = json!({
            "kind": "Status", "apiVersion": "v1", "metadata": self.metadata.clone().unwrap_or(json!({})),
            "status": "Failure", "message": self.message, "reason": self.reason, "code": self.code
        });
        if let Some(d) = &self.details {
            v["details"] = d.clone();
        }
        v
    }
}

/// A JSON answer with the given code.
pub fn json_response(code: u16, body: impl Into<axum::body::Body>) -> Response {
    let mut r = Response::new(body.into());
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json_response(
            self.code,
            serde_json::to_vec(&self.to_status()).unwrap_or_default(),
        )
    }
}

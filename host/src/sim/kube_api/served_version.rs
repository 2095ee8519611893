//! Serving an object kind at an older API version than it is stored at: `policy/v1beta1`
//! PodDisruptionBudgets on a practice cluster that plays Kubernetes 1.20 to 1.24.
//!
//! The two versions carry the same fields, so the conversion is the `apiVersion` on the way out,
//! and on the way in the one difference in meaning: an empty v1beta1 selector selects no pod
//! (in v1 it selects every pod of the namespace). The real API server stores such an object with
//! a requirement no pod meets; so does this one.

use axum::body::{Body, Bytes};
use axum::response::Response;
use futures::StreamExt as _;
use serde_json::Value;

use crate::k8s::served::keep_v1beta1_selector_meaning;
use crate::sim::resource::Res;

/// A request body for `res` addressed to `version`, as the stored version reads it.
pub fn request_body(res: Res, version: &str, body: Bytes) -> Bytes {
    if res != Res::PodDisruptionBudgets || version != "v1beta1" || body.is_empty() {
        return body;
    }
    // Not JSON (a patch in another format, or garbage): the handler reports it.
    let Ok(mut object) = serde_json::from_slice::<Value>(&body) else {
        return body;
    };
    if !keep_v1beta1_selector_meaning(&mut object) {
        return body;
    }
    serde_json::to_vec(&object).map_or(body, Bytes::from)
}

/// A response about `res` (an object, a list, or a watch stream of events) as `version` shows it.
pub fn response(res: Res, version: &str, response: Response) -> Response {
    let (parts, body) = response.into_parts();
    let stored = format!(r#""apiVersion":"{}""#, res.api_version()).into_bytes();
    let replacement = format!(r#""apiVersion":"{}/{version}""#, res.def().group).into_bytes();
    // Objects are stored and sent as compact JSON, one object or one watch event per chunk, so
    // the stored apiVersion is replaced chunk by chunk.
    let stream = body
        .into_data_stream()
        .map(move |chunk| chunk.map(|bytes| rewrite(&bytes, &stored, &replacement)));
    Response::from_parts(parts, Body::from_stream(stream))
}

fn rewrite(bytes: &Bytes, stored: &[u8], replacement: &[u8]) -> Bytes {
    if !bytes.windows(stored.len()).any(|w| w == stored) {
        return bytes.clone();
    }
    let mut out = Vec::with_capacity(bytes.len() + 16);
    let mut rest: &[u8] = bytes;
    while let Some(at) = rest.windows(stored.len()).position(|w| w == stored) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(replacement);
        rest = &rest[at + stored.len()..];
    }
    out.extend_from_slice(rest);
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::k8s::served::V1BETA1_EMPTY_SELECTOR_KEY;

    #[test]
    fn the_stored_version_is_replaced_and_nothing_else() {
        let list = br#"{"apiVersion":"policy/v1","kind":"PodDisruptionBudgetList","items":[{"apiVersion":"policy/v1","kind":"PodDisruptionBudget","metadata":{"name":"policy/v1"}}]}"#;
        let out = rewrite(
            &Bytes::from_static(list),
            br#""apiVersion":"policy/v1""#,
            br#""apiVersion":"policy/v1beta1""#,
        );
        let text = String::from_utf8(out.to_vec()).expect("utf-8");
        assert_eq!(
            text.matches(r#""apiVersion":"policy/v1beta1""#).count(),
            2,
            "{text}"
        );
        assert!(text.contains(r#""name":"policy/v1""#), "{text}");
    }

    #[test]
    fn an_empty_v1beta1_selector_selects_no_pod_once_stored() {
        for selector in [json!({}), json!({"matchLabels": {}})] {
            let body = serde_json::to_vec(
                &json!({"apiVersion": "policy/v1beta1", "kind": "PodDisruptionBudget",
                "metadata": {"name": "none"}, "spec": {"minAvailable": 1, "selector": selector}}),
            )
            .expect("json");
            let out: Value = serde_json::from_slice(&request_body(
                Res::PodDisruptionBudgets,
                "v1beta1",
                Bytes::from(body),
            ))
            .expect("json");
            assert_eq!(
                out.pointer("/spec/selector/matchExpressions/0/key"),
                Some(&json!(V1BETA1_EMPTY_SELECTOR_KEY))
            );
        }
        let labelled =
            serde_json::to_vec(&json!({"spec": {"selector": {"matchLabels": {"app": "web"}}}}))
                .expect("json");
        let same = request_body(
            Res::PodDisruptionBudgets,
            "v1beta1",
            Bytes::from(labelled.clone()),
        );
        assert_eq!(same.as_ref(), labelled.as_slice());
    }
}

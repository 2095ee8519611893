//! `POST pods/{name}/eviction` with the real API server's semantics: PDB checks against the
//! budget's status, the 429 / 500 / 404 / 409 answers, `unhealthyPodEvictionPolicy`, and the
//! decrement of `disruptionsAllowed` with the pod recorded in `disruptedPods`.

use axum::response::Response;
use serde_json::{Value, json};

use super::handlers::delete_object;
use super::status::{ApiError, json_response};
use super::{KubeApi, Target};
use crate::sim::clock::Clock;
use crate::sim::resource::Res;
use crate::sim::selector::LabelSelector;
use crate::sim::store::{StoreError, check_preconditions};

fn too_many(message: String, retry_after: i64, cause: Option<String>) -> ApiError {
    let mut details = json!({"retryAfterSeconds": retry_after});
    if retry_after == 0 {
        details = json!({});
    }
    if let Some(c) = cause {
        details["causes"] = json!([{"reason": "DisruptionBudget", "message": c}]);
    }
    ApiError {
        details: Some(details),
        ..ApiError::new(429, "TooManyRequests", message)
    }
}

/// Handle an eviction.
pub fn evict(api: &KubeApi, t: &Target, body: &[u8]) -> Result<Response, ApiError> {
    let ns = t.ns.as_deref().unwrap_or("");
    let name = t.name.as_deref().unwrap_or("");
    let ev: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body of the request was in an unknown format: {e}"
        ))
    })?;
    if let Some(n) = ev.pointer("/metadata/name").and_then(Value::as_str)
        && !n.is_empty()
        && n != name
    {
        return Err(ApiError::bad_request(format!(
            "name in URL does not match name in Eviction object: {name} vs {n}"
        )));
    }
    // The Eviction's own version: kubectl and tke-recycle send the one discovery names.
    if let Some(version) = ev
        .get("apiVersion")
        .and_then(Value::as_str)
        .and_then(|v| v.strip_prefix("policy/"))
        && !api.version.accepts_eviction(version)
    {
        return Err(ApiError::bad_request(format!(
            "no kind \"Eviction\" is registered for version \"policy/{version}\" in scheme \"k8s.io/kubernetes/pkg/api/legacyscheme/scheme.go:30\""
        )));
    }
    let opts = ev.get("deleteOptions").cloned().unwrap_or(json!({}));
    let grace = opts.get("gracePeriodSeconds").and_then(Value::as_i64);
    let uid = opts.pointer("/preconditions/uid").and_then(Value::as_str);
    let rv = opts
        .pointer("/preconditions/resourceVersion")
        .and_then(Value::as_str);
    let dry_run = opts
        .get("dryRun")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());

    let pod = api
        .store
        .get(Res::Pods, ns, name)
        .ok_or_else(|| ApiError::not_found(Res::Pods, name))?;
    check_preconditions(Res::Pods, &pod, uid, rv)
        .map_err(|e| ApiError::from_store(Res::Pods, name, e))?;
    let facts = pod
        .pod
        .as_ref()
        .ok_or_else(|| ApiError::not_found(Res::Pods, name))?;
    let success = || {
        json_response(
            201,
            serde_json::to_vec(&json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}))
                .unwrap_or_default(),
        )
    };
    let delete =
        |dry: bool| delete_object(api, Res::Pods, ns, name, grace, uid, rv, dry).map(|_| success());

    // Pods that are terminal, pending or already terminating do not count against any budget.
    if facts.deleting || matches!(&*facts.phase, "Succeeded" | "Failed" | "Pending") {
        return delete(dry_run);
    }
    let pdbs: Vec<_> = api
        .store
        .list(Res::PodDisruptionBudgets, Some(ns))
        .into_iter()
        .filter(|p| {
            let v = p.value();
            LabelSelector::from_object(v.pointer("/spec/selector")).is_some_and(|s| s.matches(&pod))
        })
        .collect();
    if pdbs.len() > 1 {
        return Err(ApiError::new(
            500,
            "InternalError",
            "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.",
        ));
    }
    let Some(pdb) = pdbs.first() else {
        return delete(dry_run);
    };
    let pdb_name = pdb.name.to_string();
    let v = pdb.value();
    let generation = v
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let observed = v
        .pointer("/status/observedGeneration")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if observed < generation {
        return Err(too_many(
            format!(
                "Cannot evict pod as it would violate the pod's disruption budget. The disruption budget {pdb_name} is still being processed by the server."
            ),
            10,
            None,
        ));
    }
    let current = v
        .pointer("/status/currentHealthy")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let desired = v
        .pointer("/status/desiredHealthy")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let always_allow = v
        .pointer("/spec/unhealthyPodEvictionPolicy")
        .and_then(Value::as_str)
        == Some("AlwaysAllow");
    if !facts.ready && (always_allow || (current >= desired && desired > 0)) {
        // A running but not-Ready pod does not use the budget when the policy lets it go.
        return delete(dry_run);
    }
    let allowed = v
        .pointer("/status/disruptionsAllowed")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if allowed < 0 {
        return Err(ApiError::new(
            403,
            "Forbidden",
            format!(
                "poddisruptionbudgets.policy \"{pdb_name}\" is forbidden: pdb disruptions allowed is negative"
            ),
        ));
    }
    if allowed == 0 {
        return Err(too_many(
            "Cannot evict pod as it would violate the pod's disruption budget.".to_owned(),
            0,
            Some(format!(
                "The disruption budget {pdb_name} needs {desired} healthy pods and has {current} currently"
            )),
        ));
    }
    if dry_run {
        return delete(true);
    }
    let pod_name = name.to_owned();
    let updated = api
        .store
        .update_with(Res::PodDisruptionBudgets, ns, &pdb_name, |p| {
            let now_allowed = p
                .pointer("/status/disruptionsAllowed")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            if now_allowed <= 0 {
                return Err(StoreError::Conflict(String::new()));
            }
            p["status"]["disruptionsAllowed"] = json!(now_allowed - 1);
            if !p["status"]
                .get("disruptedPods")
                .is_some_and(Value::is_object)
            {
                p["status"]["disruptedPods"] = json!({});
            }
            p["status"]["disruptedPods"][&pod_name] = json!(Clock::wall_rfc3339());
            Ok(())
        });
    if updated.is_err() {
        // Another eviction used the last disruption between our read and write.
        return Err(too_many(
            "Cannot evict pod as it would violate the pod's disruption budget.".to_owned(),
            0,
            Some(format!(
                "The disruption budget {pdb_name} needs {desired} healthy pods and has {current} currently"
            )),
        ));
    }
    delete(false)
}

//! The plain resource verbs: get, list (selectors, limit/continue), create, update, patch,
//! delete (graceful for pods), deletecollection, pod binding and scale reads.

use axum::body::Body;
use axum::response::Response;
use base64::Engine;
use bytes::Bytes;
use serde_json::{Value, json};

use super::patch::{self, PatchType};
use super::status::{ApiError, json_response};
use super::table::TableRequest;
use super::{KubeApi, Query, Target, object_response};
use crate::sim::resource::Res;
use crate::sim::selector::{FieldSelector, LabelSelector};
use crate::sim::store::{Key, Object, StoreError, check_preconditions};

/// Field selectors the API server supports per resource (metadata.name/namespace everywhere).
pub fn allowed_fields(res: Res) -> &'static [&'static str] {
    match res {
        Res::Pods => &[
            "metadata.name",
            "metadata.namespace",
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        Res::Nodes => &["metadata.name", "spec.unschedulable"],
        Res::Events => &[
            "metadata.name",
            "metadata.namespace",
            "involvedObject.kind",
            "involvedObject.name",
            "involvedObject.namespace",
            "involvedObject.uid",
            "reason",
            "type",
        ],
        _ => &["metadata.name", "metadata.namespace"],
    }
}

/// Label and field selectors of a request.
pub fn selectors(res: Res, q: &Query) -> Result<(LabelSelector, FieldSelector), ApiError> {
    let labels = LabelSelector::parse(q.get("labelSelector").unwrap_or(""))
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let fields = FieldSelector::parse(q.get("fieldSelector").unwrap_or(""), allowed_fields(res))
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok((labels, fields))
}

/// Where a paged list goes on: after `start`, at resourceVersion `rv` (-1: at the latest, the
/// inconsistent continuation an expired token offers).
struct Continue {
    rv: i64,
    start: Key,
}

fn decode_continue(token: &str) -> Result<Continue, ApiError> {
    let bad = || {
        ApiError::bad_request(
            "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
        )
    };
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    let rv = v.get("rv").and_then(Value::as_i64).ok_or_else(bad)?;
    if rv == 0 || rv < -1 {
        return Err(bad());
    }
    let start = v.get("start").and_then(Value::as_array).ok_or_else(bad)?;
    match start.as_slice() {
        [Value::String(ns), Value::String(name)] => Ok(Continue {
            rv,
            start: (ns.clone(), name.clone()),
        }),
        _ => Err(bad()),
    }
}

fn encode_continue(rv: i64, start: (&str, &str)) -> String {
    let v = json!({"v": "meta.k8s.io/v1", "rv": rv, "start": [start.0, start.1]});
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

/// 410 for a continue token whose snapshot is gone, worded as the real API server (etcd3
/// store) words it, with a token that continues at the latest state.
fn continue_expired(start: &Key) -> ApiError {
    let mut e = ApiError::new(
        410,
        "Expired",
        "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
    );
    e.metadata = Some(json!({"continue": encode_continue(-1, (&start.0, &start.1))}));
    e
}

/// One request's context.
pub struct Handlers<'a> {
    /// The server.
    pub api: &'a KubeApi,
    /// The parsed path.
    pub t: &'a Target,
    /// The query.
    pub query: &'a Query,
    /// The Table the client asked for instead of the objects, if any.
    pub table: Option<TableRequest>,
}

fn parse_body(body: &[u8]) -> Result<Value, ApiError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body of the request was in an unknown format: {e}"
        ))
    })?;
    if !v.is_object() {
        return Err(ApiError::bad_request(
            "the body of the request must be an object",
        ));
    }
    Ok(v)
}

impl Handlers<'_> {
    fn ns(&self) -> &str {
        self.t.ns.as_deref().unwrap_or("")
    }

    fn name(&self) -> &str {
        self.t.name.as_deref().unwrap_or("")
    }

    fn store_err(&self, e: StoreError) -> ApiError {
        ApiError::from_store(self.t.res, self.name(), e)
    }

    /// GET one object (or its status).
    pub fn get(&self) -> Result<Response, ApiError> {
        let obj = self
            .api
            .store
            .get(self.t.res, self.ns(), self.name())
            .ok_or_else(|| ApiError::not_found(self.t.res, self.name()))?;
        Ok(match &self.table {
            Some(table) => table.object(self.t.res, &obj),
            None => object_response(200, &obj),
        })
    }

    /// GET a list, with label/field selectors and limit/continue paging.
    pub fn list(&self) -> Result<Response, ApiError> {
        let res = self.t.res;
        let (labels, fields) = selectors(res, self.query)?;
        let limit = match self.query.get("limit") {
            Some(l) if !l.is_empty() => l
                .parse::<usize>()
                .ok()
                .filter(|l| *l > 0)
                .unwrap_or(usize::MAX),
            _ => usize::MAX,
        };
        let cont = match self.query.get("continue") {
            Some(c) if !c.is_empty() => Some(decode_continue(c)?),
            _ => None,
        };
        let ns = self.t.ns.as_deref();
        let matches = |o: &Object| labels.matches(o) && fields.matches(o);
        // Later pages come from the first page's snapshot, so the pages add up to one list.
        let (page, token_rv) = match &cont {
            None => {
                let page = self.api.store.page(res, ns, None, limit, matches);
                let rv = page.rv as i64;
                (page, rv)
            }
            Some(Continue { rv: -1, start }) => (
                self.api.store.page(res, ns, Some(start), limit, matches),
                -1,
            ),
            Some(Continue { rv, start }) => {
                let page = self
                    .api
                    .store
                    .page_at(res, ns, Some(start), limit, rv.unsigned_abs(), matches)
                    .map_err(|_| continue_expired(start))?;
                (page, *rv)
            }
        };
        let d = res.def();
        let mut meta = json!({"resourceVersion": page.rv.to_string()});
        if page.more
            && let Some(last) = page.items.last()
        {
            meta["continue"] = json!(encode_continue(token_rv, (&last.namespace, &last.name)));
        }
        if let Some(table) = &self.table {
            return Ok(table.list(res, meta, &page.items));
        }
        let head = json!({"kind": format!("{}List", d.kind), "apiVersion": res.api_version(), "metadata": meta});
        let mut head = serde_json::to_vec(&head).unwrap_or_default();
        // The items array goes after the metadata: drop the closing brace.
        head.pop();
        let chunks = super::list_body::chunks(head, page.items).map(Ok::<Bytes, std::io::Error>);
        Ok(json_response(
            200,
            Body::from_stream(futures::stream::iter(chunks)),
        ))
    }

    /// POST a new object.
    pub fn create(&self, body: &[u8]) -> Result<Response, ApiError> {
        let res = self.t.res;
        let mut v = parse_body(body)?;
        if res.def().namespaced {
            let Some(ns) = &self.t.ns else {
                return Err(ApiError::method_not_allowed());
            };
            let body_ns = v
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or("");
            if !body_ns.is_empty() && body_ns != ns {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            if self.api.store.get(Res::Namespaces, "", ns).is_none() {
                return Err(ApiError::not_found(Res::Namespaces, ns));
            }
            if !v.get("metadata").is_some_and(Value::is_object) {
                v["metadata"] = json!({});
            }
            v["metadata"]["namespace"] = json!(ns);
        }
        default_on_create(res, &mut v);
        if res == Res::Events {
            validate_event(&v, self.api.version)?;
        }
        if self.query.get("dryRun").is_some() {
            return Ok(json_response(
                201,
                serde_json::to_vec(&v).unwrap_or_default(),
            ));
        }
        let name = v
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let obj = self
            .api
            .store
            .create(res, v, false)
            .map_err(|e| ApiError::from_store(res, &name, e))?;
        Ok(object_response(201, &obj))
    }

    /// PUT an object or its status.
    pub fn update(&self, body: &[u8]) -> Result<Response, ApiError> {
        let res = self.t.res;
        let mut v = parse_body(body)?;
        let body_name = v
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        if body_name != self.name() {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({})",
                self.name()
            )));
        }
        let current = self
            .api
            .store
            .get(res, self.ns(), self.name())
            .ok_or_else(|| ApiError::not_found(res, self.name()))?;
        protect_subresource(res, self.t.sub.as_deref(), &current.value(), &mut v);
        if res.def().namespaced {
            v["metadata"]["namespace"] = json!(self.ns());
        }
        let rv = v
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let obj = self
            .api
            .store
            .replace(res, v, rv.as_deref())
            .map_err(|e| self.store_err(e))?;
        Ok(object_response(200, &obj))
    }

    /// PATCH an object or its status (JSON, merge or strategic merge patch).
    pub fn patch(&self, content_type: &str, body: &[u8]) -> Result<Response, ApiError> {
        let res = self.t.res;
        let kind = PatchType::from_content_type(content_type).ok_or_else(|| {
            ApiError::new(
                415,
                "UnsupportedMediaType",
                format!("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (got {content_type})"),
            )
        })?;
        let sub = self.t.sub.as_deref();
        let mut patch_err = None;
        let result = self
            .api
            .store
            .update_with(res, self.ns(), self.name(), |v| {
                let before = v.clone();
                if let Err(e) = patch::apply(kind, v, body) {
                    patch_err = Some(e);
                    return Err(StoreError::Invalid(String::new()));
                }
                let rv_before = before.pointer("/metadata/resourceVersion").cloned();
                let rv_after = v.pointer("/metadata/resourceVersion").cloned();
                if rv_after.as_ref().is_some_and(|r| !r.is_null()) && rv_after != rv_before {
                    return Err(crate::sim::store::conflict(res, self.name()));
                }
                protect_subresource(res, sub, &before, v);
                Ok(())
            });
        if let Some(e) = patch_err {
            return Err(ApiError::new(422, "Invalid", e.to_string()));
        }
        let obj = result.map_err(|e| self.store_err(e))?;
        Ok(object_response(200, &obj))
    }

    /// DELETE one object. Pods bound to a node get a deletionTimestamp and are removed by the
    /// kubelet after their grace period; everything else goes at once.
    pub fn delete(&self, body: &[u8]) -> Result<Response, ApiError> {
        let res = self.t.res;
        let opts: Value = if body.is_empty() {
            json!({})
        } else {
            serde_json::from_slice(body).unwrap_or(json!({}))
        };
        let grace = opts
            .get("gracePeriodSeconds")
            .and_then(Value::as_i64)
            .or_else(|| {
                self.query
                    .get("gracePeriodSeconds")
                    .and_then(|g| g.parse().ok())
            });
        let uid = opts.pointer("/preconditions/uid").and_then(Value::as_str);
        let rv = opts
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str);
        let dry_run = opts
            .get("dryRun")
            .is_some_and(|d| d.as_array().is_some_and(|a| !a.is_empty()))
            || self.query.get("dryRun").is_some();
        let obj = delete_object(
            self.api,
            res,
            self.ns(),
            self.name(),
            grace,
            uid,
            rv,
            dry_run,
        )?;
        Ok(object_response(200, &obj))
    }

    /// DELETE a collection (selectors honoured).
    pub fn delete_collection(&self, _body: &[u8]) -> Result<Response, ApiError> {
        let res = self.t.res;
        let (labels, fields) = selectors(res, self.query)?;
        let page = self
            .api
            .store
            .page(res, self.t.ns.as_deref(), None, usize::MAX, |o| {
                labels.matches(o) && fields.matches(o)
            });
        for o in &page.items {
            // Already-gone objects are fine in a collection delete.
            let _ = delete_object(
                self.api,
                res,
                &o.namespace,
                &o.name,
                None,
                None,
                None,
                false,
            );
        }
        self.list()
    }

    /// POST pods/{name}/binding: what a scheduler does.
    pub fn bind(&self, body: &[u8]) -> Result<Response, ApiError> {
        let v = parse_body(body)?;
        let node = v
            .pointer("/target/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let name = self.name().to_owned();
        self.api
            .store
            .update_with(Res::Pods, self.ns(), &name, |p| {
                if p.pointer("/spec/nodeName")
                    .and_then(Value::as_str)
                    .is_some_and(|n| !n.is_empty())
                {
                    return Err(StoreError::Conflict(format!(
                        "pod {name} is already assigned to a node"
                    )));
                }
                p["spec"]["nodeName"] = json!(node);
                Ok(())
            })
            .map_err(|e| self.store_err(e))?;
        Ok(json_response(201, serde_json::to_vec(&json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201})).unwrap_or_default()))
    }

    /// GET {deployments,replicasets,statefulsets}/{name}/scale.
    pub fn get_scale(&self) -> Result<Response, ApiError> {
        let obj = self
            .api
            .store
            .get(self.t.res, self.ns(), self.name())
            .ok_or_else(|| ApiError::not_found(self.t.res, self.name()))?;
        let v = obj.value();
        let scale = json!({"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {"name": v["metadata"]["name"], "namespace": v["metadata"]["namespace"],
                         "uid": v["metadata"]["uid"], "resourceVersion": v["metadata"]["resourceVersion"]},
            "spec": {"replicas": v.pointer("/spec/replicas").cloned().unwrap_or(json!(1))},
            "status": {"replicas": v.pointer("/status/replicas").cloned().unwrap_or(json!(0))}});
        Ok(json_response(
            200,
            serde_json::to_vec(&scale).unwrap_or_default(),
        ))
    }
}

/// Keep the part a write may not change: a main-resource write keeps the old status, a
/// `/status` write keeps everything but the status.
fn protect_subresource(res: Res, sub: Option<&str>, current: &Value, new: &mut Value) {
    if !res.def().has_status {
        return;
    }
    match sub {
        Some("status") => {
            let status = new.get("status").cloned();
            *new = current.clone();
            match status {
                Some(s) => new["status"] = s,
                None => {
                    if let Some(m) = new.as_object_mut() {
                        m.remove("status");
                    }
                }
            }
        }
        _ => match current.get("status") {
            Some(s) => new["status"] = s.clone(),
            None => {
                if let Some(m) = new.as_object_mut() {
                    m.remove("status");
                }
            }
        },
    }
}

/// Defaults the API server fills on create (also used by controllers creating pods).
pub fn default_on_create(res: Res, v: &mut Value) {
    match res {
        Res::Pods => {
            if !v.get("spec").is_some_and(Value::is_object) {
                v["spec"] = json!({});
            }
            let spec = &mut v["spec"];
            for (k, d) in [
                ("terminationGracePeriodSeconds", json!(30)),
                ("schedulerName", json!("default-scheduler")),
                ("restartPolicy", json!("Always")),
                ("dnsPolicy", json!("ClusterFirst")),
            ] {
                if spec.get(k).is_none_or(Value::is_null) {
                    spec[k] = d;
                }
            }
            v["status"] = json!({"phase": "Pending", "qosClass": "BestEffort"});
        }
        Res::Namespaces => v["status"] = json!({"phase": "Active"}),
        Res::Nodes => {}
        r if r.def().has_status => {
            if let Some(m) = v.as_object_mut() {
                m.remove("status");
            }
        }
        _ => {}
    }
}

/// Delete as the API server does; shared by DELETE and eviction.
#[allow(clippy::too_many_arguments, reason = "mirrors DeleteOptions")]
pub fn delete_object(
    api: &KubeApi,
    res: Res,
    ns: &str,
    name: &str,
    grace: Option<i64>,
    uid: Option<&str>,
    rv: Option<&str>,
    dry_run: bool,
) -> Result<std::sync::Arc<Object>, ApiError> {
    let err = |e| ApiError::from_store(res, name, e);
    let current = api
        .store
        .get(res, ns, name)
        .ok_or_else(|| ApiError::not_found(res, name))?;
    check_preconditions(res, &current, uid, rv).map_err(err)?;
    if dry_run {
        return Ok(current);
    }
    if let Some(p) = &current.pod {
        let grace = grace.unwrap_or(p.grace).max(0);
        let terminal = matches!(&*p.phase, "Succeeded" | "Failed");
        // An unbound or finished pod has no kubelet to wait for; grace 0 is a force delete.
        if p.node_name.is_some() && grace > 0 && !terminal {
            return api.store.mark_deleting(res, ns, name, grace).map_err(err);
        }
    }
    api.store.delete(res, ns, name, uid, rv).map_err(err)
}

/// The API server's legacy validation of a core/v1 Event's namespace: an Event about a
/// cluster-scoped object (a Node) goes in `default` when it has no `eventTime`; with an
/// `eventTime` a real v1.20.2 accepts it only in `kube-system` (later versions also in
/// `default`).
fn validate_event(
    event: &Value,
    k8s: crate::sim::kube_version::KubeVersion,
) -> Result<(), ApiError> {
    let text = |p: &str| event.pointer(p).and_then(Value::as_str).unwrap_or("");
    let (ns, involved_ns) = (
        text("/metadata/namespace"),
        text("/involvedObject/namespace"),
    );
    let has_event_time = event.get("eventTime").is_some_and(|t| !t.is_null());
    let allowed = match (involved_ns.is_empty(), has_event_time) {
        (false, _) => ns == involved_ns,
        (true, false) => ns.is_empty() || ns == "default",
        (true, true) => ns == "kube-system" || (k8s.minor > 20 && ns == "default"),
    };
    if allowed {
        return Ok(());
    }
    let name = event
        .pointer("/metadata/name")
        .or_else(|| event.pointer("/metadata/generateName"))
        .and_then(Value::as_str)
        .unwrap_or("");
    Err(ApiError::new(
        422,
        "Invalid",
        format!(
            "Event {name:?} is invalid: involvedObject.namespace: Invalid value: {involved_ns:?}: does not match event.namespace"
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::kube_version::KubeVersion;

    #[test]
    fn node_events_with_an_event_time_go_in_kube_system_on_1_20() {
        let event = |ns: &str, time: bool| {
            let mut e = json!({"metadata": {"namespace": ns, "generateName": "n1.x."},
                "involvedObject": {"kind": "Node", "name": "n1"}});
            if time {
                e["eventTime"] = json!("2026-12-03T08:00:00.000000Z");
            }
            e
        };
        let (old, new) = (
            KubeVersion::parse("1.20").expect("1.20"),
            KubeVersion::parse("1.32").expect("1.32"),
        );
        assert!(validate_event(&event("default", false), old).is_ok());
        assert!(validate_event(&event("kube-system", true), old).is_ok());
        let refused = validate_event(&event("default", true), old).expect_err("1.20 refuses");
        assert_eq!(refused.code, 422);
        assert!(
            refused.message.contains("does not match event.namespace"),
            "{}",
            refused.message
        );
        assert!(validate_event(&event("default", true), new).is_ok());
        assert!(validate_event(&event("shop", false), new).is_err());
    }
}

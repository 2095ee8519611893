//! The Kubernetes API server of the practice cluster: bearer-token auth (one identity per token,
//! each identity's requests recorded: `audit`), discovery, and the
//! resource verbs (get, list with selectors and paging, watch, create, update, patch, delete,
//! eviction, binding) over the [`Store`](crate::sim::store::Store).
//!
//! It serves JSON, and reads as server-side Tables when the client asks for them (`table`,
//! `printers`), as `kubectl get` does. Behaviour that a real API server has and clients rely on
//! is kept: `Status` errors, 409 on stale resourceVersions, paged lists that are one snapshot
//! (410 once it is gone), graceful pod deletion that only the kubelet finishes, and eviction
//! under PodDisruptionBudgets. Controllers run elsewhere (`controllers`).

pub mod audit;
mod discovery;
mod eviction;
mod handlers;
mod list_body;
pub mod patch;
mod printers;
mod served_version;
pub mod status;
mod table;
mod watch;

pub use handlers::default_on_create;

/// A `policy/v1beta1` PDB manifest as the store keeps it: `policy/v1`, with an empty selector
/// made to select no pod, as v1beta1 means it.
pub fn v1beta1_pdb_as_stored(mut manifest: serde_json::Value) -> serde_json::Value {
    crate::k8s::served::keep_v1beta1_selector_meaning(&mut manifest);
    manifest["apiVersion"] = serde_json::json!("policy/v1");
    manifest
}

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};

use crate::sim::kube_version::KubeVersion;
use crate::sim::resource::Res;
use crate::sim::scenario::{Faults, nth_is_faulted};
use crate::sim::store::Store;
use status::{ApiError, json_response};

/// Largest request body accepted.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// Shared state of the Kubernetes API server.
pub struct KubeApi {
    /// The objects.
    pub store: Arc<Store>,
    /// Accepted bearer tokens, their identities, and what each identity requested.
    pub audit: Arc<audit::Audit>,
    /// The Kubernetes version played: `/version`, and which API versions are served.
    pub version: KubeVersion,
    /// `host:port` the server listens on (for `/api`).
    pub address: String,
    /// Injected faults (API 5xx rate).
    pub faults: Faults,
    /// Resource requests so far, for the deterministic 5xx share.
    pub resource_requests: std::sync::atomic::AtomicU64,
    /// Every request served (discovery, lists, watches, writes), for benchmarks that compare
    /// how many requests clients send.
    pub requests: Arc<std::sync::atomic::AtomicU64>,
}

/// The router: everything goes through one handler that parses Kubernetes paths itself.
pub fn router(api: Arc<KubeApi>) -> Router {
    Router::new().fallback(handle).with_state(api)
}

/// Query parameters, percent-decoded.
#[derive(Debug, Default)]
pub struct Query(Vec<(String, String)>);

impl Query {
    fn parse(q: Option<&str>) -> Self {
        let mut out = Vec::new();
        for part in q.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            out.push((decode(k), decode(v)));
        }
        Query(out)
    }

    /// A parameter's value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A boolean parameter (`true`/`1`).
    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true" | "1"))
    }
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16)
                {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A parsed resource path.
#[derive(Debug, Clone)]
pub struct Target {
    /// The resource.
    pub res: Res,
    /// Namespace from the path, if any.
    pub ns: Option<String>,
    /// Object name, if any.
    pub name: Option<String>,
    /// Subresource (`status`, `eviction`, `binding`, `scale`), if any.
    pub sub: Option<String>,
    /// The version the request addressed when it is not the one objects are stored at
    /// (`v1beta1` PDBs, stored as `policy/v1`; the two carry the same fields).
    pub served_as: Option<&'static str>,
}

enum Route {
    Version,
    CoreVersions,
    GroupList,
    Group(String),
    Resources(String, String),
    Resource(Target),
    Health,
}

fn route(path: &str, k8s: KubeVersion) -> Result<Route, ApiError> {
    let segs: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let not_found = || {
        ApiError::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    };
    let (group, version, rest) = match segs.as_slice() {
        ["version"] => return Ok(Route::Version),
        ["healthz" | "readyz" | "livez", ..] => return Ok(Route::Health),
        ["api"] => return Ok(Route::CoreVersions),
        ["apis"] => return Ok(Route::GroupList),
        ["apis", g] => return Ok(Route::Group((*g).to_owned())),
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Err(not_found()),
    };
    if rest.is_empty() {
        return Ok(Route::Resources(group.to_owned(), version.to_owned()));
    }
    let (ns, rest) = match rest {
        ["namespaces", ns, r, more @ ..] if !r.is_empty() => (Some((*ns).to_owned()), {
            let mut v = vec![*r];
            v.extend_from_slice(more);
            v
        }),
        _ => (None, rest.to_vec()),
    };
    let (res, served) = Res::ALL
        .into_iter()
        .filter(|r| r.def().group == group && r.def().plural == rest[0])
        .find_map(|r| {
            let served = k8s.versions(r).iter().find(|v| **v == version)?;
            Some((r, *served))
        })
        .ok_or_else(not_found)?;
    let served_as = (served != res.def().version).then_some(served);
    if ns.is_some() && !res.def().namespaced {
        return Err(not_found());
    }
    Ok(Route::Resource(Target {
        res,
        ns,
        name: rest.get(1).map(|s| (*s).to_owned()),
        sub: rest.get(2).map(|s| (*s).to_owned()),
        served_as,
    }))
}

fn ok_json(v: &serde_json::Value) -> Response {
    json_response(200, serde_json::to_vec(v).unwrap_or_default())
}

async fn handle(State(api): State<Arc<KubeApi>>, req: Request) -> Response {
    api.requests
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let identity = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|t| api.audit.identify(t.trim()));
    let Some(identity) = identity else {
        return ApiError::unauthorized().into_response();
    };
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let query = Query::parse(req.uri().query());
    let content_type = req
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let accept = req
        .headers()
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let route = match route(&path, api.version) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let target = match route {
        Route::Version => return ok_json(&discovery::version(api.version)),
        Route::Health => return json_response(200, "ok"),
        Route::CoreVersions => return ok_json(&discovery::core_versions(&api.address)),
        Route::GroupList => return ok_json(&discovery::group_list(api.version)),
        Route::Group(g) => {
            return match discovery::group(api.version, &g) {
                Some(v) => ok_json(&v),
                None => ApiError::new(
                    404,
                    "NotFound",
                    "the server could not find the requested resource",
                )
                .into_response(),
            };
        }
        Route::Resources(g, v) => {
            return match discovery::resource_list(api.version, &g, &v) {
                Some(v) => ok_json(&v),
                None => ApiError::new(
                    404,
                    "NotFound",
                    "the server could not find the requested resource",
                )
                .into_response(),
            };
        }
        Route::Resource(t) => t,
    };
    if let Some(verb) = audit::verb(&method, &target, &query) {
        let def = target.res.def();
        api.audit.record(
            &identity,
            audit::Access {
                verb: verb.to_owned(),
                group: def.group.to_owned(),
                resource: match &target.sub {
                    Some(sub) => format!("{}/{sub}", def.plural),
                    None => def.plural.to_owned(),
                },
                namespace: target.ns.clone(),
            },
        );
    }
    let ratio = api.faults.api_server_5xx_rate;
    if ratio > 0.0 {
        let k = api
            .resource_requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        if nth_is_faulted(k, ratio) {
            // Alternate the two answers an overloaded API server gives.
            return if k.is_multiple_of(2) {
                ApiError::new(
                    500,
                    "InternalError",
                    "Internal error occurred: injected fault (etcdserver: request timed out)",
                )
            } else {
                ApiError::new(
                    503,
                    "ServiceUnavailable",
                    "the server is currently unable to handle the request (injected fault)",
                )
            }
            .into_response();
        }
    }
    let body = match axum::body::to_bytes(req.into_body(), MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return ApiError::bad_request("request body too large or unreadable").into_response();
        }
    };
    let body = match target.served_as {
        Some(version) => served_version::request_body(target.res, version, body),
        None => body,
    };
    // Reads are what a client prints; kubectl asks for them as Tables.
    let table = if method == Method::GET && target.sub.as_deref() != Some("scale") {
        match table::TableRequest::negotiate(accept.as_deref(), &query) {
            Ok(t) => t,
            Err(e) => return e.into_response(),
        }
    } else {
        None
    };
    let h = handlers::Handlers {
        api: &api,
        t: &target,
        query: &query,
        table,
    };
    let result = match (method, target.name.is_some(), target.sub.as_deref()) {
        (Method::GET, false, _) if query.flag("watch") => {
            let response = watch::watch(&api, &target, &query, table);
            return match target.served_as {
                Some(version) => served_version::response(target.res, version, response),
                None => response,
            };
        }
        (Method::GET, false, _) => h.list(),
        (Method::POST, false, _) => h.create(&body),
        (Method::DELETE, false, _) => h.delete_collection(&body),
        (Method::GET, true, None | Some("status")) => h.get(),
        (Method::PUT, true, None | Some("status")) => h.update(&body),
        (Method::PATCH, true, None | Some("status")) => h.patch(&content_type, &body),
        (Method::DELETE, true, None) => h.delete(&body),
        (Method::POST, true, Some("eviction")) if target.res == Res::Pods => {
            eviction::evict(&api, &target, &body)
        }
        (Method::POST, true, Some("binding")) if target.res == Res::Pods => h.bind(&body),
        (Method::GET, true, Some("scale")) => h.get_scale(),
        _ => Err(ApiError::method_not_allowed()),
    };
    match (result, target.served_as) {
        (Ok(r), Some(version)) => served_version::response(target.res, version, r),
        (Ok(r), None) => r,
        (Err(e), _) => e.into_response(),
    }
}

/// Answer a successful write or read: the object's JSON with `code`.
pub fn object_response(code: u16, obj: &crate::sim::store::Object) -> Response {
    json_response(code, Body::from(obj.json.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_route_to_resources() {
        let k8s = KubeVersion::parse("1.32").expect("version");
        let Ok(Route::Resource(t)) = route("/api/v1/namespaces/default/pods/p1/eviction", k8s)
        else {
            panic!("route")
        };
        assert_eq!(
            (t.res, t.ns.as_deref(), t.name.as_deref(), t.sub.as_deref()),
            (Res::Pods, Some("default"), Some("p1"), Some("eviction"))
        );
        let Ok(Route::Resource(t)) = route("/api/v1/namespaces/kube-system", k8s) else {
            panic!("ns")
        };
        assert_eq!(
            (t.res, t.name.as_deref()),
            (Res::Namespaces, Some("kube-system"))
        );
        let Ok(Route::Resource(t)) = route("/apis/apps/v1/deployments", k8s) else {
            panic!("deploy")
        };
        assert_eq!((t.res, t.ns), (Res::Deployments, None));
        assert!(route("/apis/nope/v1/things", k8s).is_err());
        assert!(matches!(
            route("/apis/policy/v1", k8s),
            Ok(Route::Resources(..))
        ));
        assert!(route("/apis/policy/v1beta1/poddisruptionbudgets", k8s).is_err());
        let old = KubeVersion::parse("1.20").expect("version");
        let Ok(Route::Resource(t)) = route(
            "/apis/policy/v1beta1/namespaces/shop/poddisruptionbudgets",
            old,
        ) else {
            panic!("v1beta1 pdb")
        };
        assert_eq!(
            (t.res, t.served_as),
            (Res::PodDisruptionBudgets, Some("v1beta1"))
        );
        assert!(route("/apis/policy/v1/poddisruptionbudgets", old).is_err());
    }

    #[test]
    fn query_decoding() {
        let q = Query::parse(Some(
            "fieldSelector=spec.nodeName%3D10.0.0.1&limit=500&&labelSelector=a+in+(b)",
        ));
        assert_eq!(q.get("fieldSelector"), Some("spec.nodeName=10.0.0.1"));
        assert_eq!(q.get("labelSelector"), Some("a in (b)"));
        assert_eq!(q.get("limit"), Some("500"));
    }
}

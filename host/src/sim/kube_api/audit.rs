//! Who may call the practice cluster's Kubernetes API, and what each of them did.
//!
//! Every bearer token belongs to one identity: the scenario's token is the cluster admin of the
//! kubeconfig the practice cluster writes; more identities (a service account a Job runs as) are
//! added with [`Audit::add_identity`]. Every resource request is recorded per identity as the
//! API server's RBAC authorizer sees it: verb (`get`, `list`, `watch`, `create`, `update`,
//! `patch`, `delete`, `deletecollection`), API group, resource with its subresource
//! (`pods/eviction`), and namespace. That record is what the RBAC coverage test compares with the
//! shipped Role and ClusterRole.
//!
//! This is recording, not authorization: the practice cluster serves every authenticated request
//! whatever its identity, so that a missing grant shows up as a failed assertion that names the
//! pair, not as a run that fails half-way. Discovery (`/api`, `/apis`, `/version`) is not recorded:
//! a real cluster grants it to every authenticated user (`system:discovery`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, RwLock};

use axum::http::Method;

use super::{Query, Target};

/// The identity of the scenario's token (the kubeconfig's user).
pub const ADMIN: &str = "admin";

/// One request as the RBAC authorizer names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Access {
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`.
    pub verb: String,
    /// API group, "" for core.
    pub group: String,
    /// Resource, with `/subresource` when the request addressed one (`pods/eviction`).
    pub resource: String,
    /// Namespace of the request; `None` for a cluster-scoped resource or a request across all
    /// namespaces (which only a ClusterRole can grant).
    pub namespace: Option<String>,
}

impl std::fmt::Display for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let group = if self.group.is_empty() {
            "core"
        } else {
            &self.group
        };
        match &self.namespace {
            Some(ns) => write!(f, "{} {}.{} in {ns}", self.verb, self.resource, group),
            None => write!(f, "{} {}.{} (cluster)", self.verb, self.resource, group),
        }
    }
}

/// The authorizer's verb for an HTTP request on `target`, or `None` when the method does not
/// map to one (the request is then refused as not allowed anyway).
pub fn verb(method: &Method, target: &Target, query: &Query) -> Option<&'static str> {
    let named = target.name.is_some();
    Some(match *method {
        Method::GET if !named && query.flag("watch") => "watch",
        Method::GET if named => "get",
        Method::GET => "list",
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE if named => "delete",
        Method::DELETE => "deletecollection",
        _ => return None,
    })
}

/// The tokens the API accepts and the requests each identity made.
#[derive(Debug, Default)]
pub struct Audit {
    /// token -> identity.
    tokens: RwLock<BTreeMap<String, String>>,
    /// identity -> what it did.
    seen: Mutex<BTreeMap<String, BTreeSet<Access>>>,
}

impl Audit {
    /// An audit that accepts `admin_token` as [`ADMIN`].
    pub fn new(admin_token: &str) -> Self {
        let a = Self::default();
        a.add_identity(ADMIN, admin_token);
        a
    }

    /// Accept `token` as `identity` from now on (e.g.
    /// `system:serviceaccount:tke-recycle:tke-recycle`).
    pub fn add_identity(&self, identity: &str, token: &str) {
        self.tokens
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(token.to_owned(), identity.to_owned());
    }

    /// Who `token` is, if anyone.
    pub fn identify(&self, token: &str) -> Option<String> {
        self.tokens
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(token)
            .cloned()
    }

    /// Record one resource request of `identity`.
    pub fn record(&self, identity: &str, access: Access) {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        // Look up before inserting: one allocation per identity, not per request.
        match seen.get_mut(identity) {
            Some(set) => {
                set.insert(access);
            }
            None => {
                seen.insert(identity.to_owned(), BTreeSet::from([access]));
            }
        }
    }

    /// Every distinct request `identity` made so far.
    pub fn accesses(&self, identity: &str) -> BTreeSet<Access> {
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(identity)
            .cloned()
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::resource::Res;

    fn target(name: Option<&str>, sub: Option<&str>) -> Target {
        Target {
            res: Res::Pods,
            ns: Some("shop".into()),
            name: name.map(Into::into),
            sub: sub.map(Into::into),
            served_as: None,
        }
    }

    #[test]
    fn verbs_are_named_as_the_authorizer_names_them() {
        let plain = Query::parse(None);
        let watch = Query::parse(Some("watch=true"));
        let cases = [
            ("list", Method::GET, None, &plain, Some("list")),
            ("watch", Method::GET, None, &watch, Some("watch")),
            ("get", Method::GET, Some("p"), &plain, Some("get")),
            ("create", Method::POST, None, &plain, Some("create")),
            (
                "eviction_is_create",
                Method::POST,
                Some("p"),
                &plain,
                Some("create"),
            ),
            ("update", Method::PUT, Some("p"), &plain, Some("update")),
            ("patch", Method::PATCH, Some("p"), &plain, Some("patch")),
            ("delete", Method::DELETE, Some("p"), &plain, Some("delete")),
            (
                "deletecollection",
                Method::DELETE,
                None,
                &plain,
                Some("deletecollection"),
            ),
            ("options_is_none", Method::OPTIONS, None, &plain, None),
        ];
        for (case, method, name, query, want) in cases {
            assert_eq!(verb(&method, &target(name, None), query), want, "{case}");
        }
    }

    #[test]
    fn identities_are_kept_apart() {
        let a = Audit::new("t-admin");
        a.add_identity("sa", "t-sa");
        assert_eq!(a.identify("t-sa").as_deref(), Some("sa"));
        assert_eq!(a.identify("t-admin").as_deref(), Some(ADMIN));
        assert_eq!(a.identify("nope"), None);
        let access = Access {
            verb: "create".into(),
            group: String::new(),
            resource: "pods/eviction".into(),
            namespace: Some("shop".into()),
        };
        a.record("sa", access.clone());
        a.record("sa", access.clone());
        assert_eq!(a.accesses("sa"), BTreeSet::from([access]));
        assert!(a.accesses(ADMIN).is_empty());
    }
}

//! Which versions of the APIs that moved between Kubernetes 1.20 and 1.32 a cluster serves,
//! found by discovery once per run, as kubectl does.
//!
//! Two of the APIs tke-recycle uses changed version in that range:
//!
//! | API | 1.20 | 1.21 | 1.22-1.24 | 1.25+ |
//! |---|---|---|---|---|
//! | PodDisruptionBudget | `policy/v1beta1` | both | both | `policy/v1` |
//! | `pods/eviction` | `policy/v1beta1` | `policy/v1beta1` | `policy/v1` (v1beta1 too) | `policy/v1` |
//!
//! Everything else it reads and writes (nodes, pods, `apps/v1` workloads, PVs and PVCs, core
//! Events, ConfigMaps, `coordination.k8s.io/v1` Leases) is served unchanged by every version
//! a TKE cluster may still run.
//!
//! PDBs are read as dynamic objects at the served version and converted to the `policy/v1`
//! type the projection reads. The two versions carry the same fields; the one difference in
//! meaning is the empty selector, which selects every pod of the namespace in v1 and none in
//! v1beta1. The conversion keeps the v1beta1 meaning the way the API server itself does when it
//! converts such an object to v1: with a requirement no pod can meet.

use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{APIGroup, APIResourceList};
use kube::api::{Api, ApiResource, DynamicObject};
use serde_json::json;

use super::evict::EvictionVersion;

/// The label key the API server uses to keep an empty v1beta1 selector matching no pod when it
/// converts the PDB to v1 (`pdb.kubernetes.io/deprecated-v1beta1-empty-selector-match`).
pub const V1BETA1_EMPTY_SELECTOR_KEY: &str =
    "pdb.kubernetes.io/deprecated-v1beta1-empty-selector-match";

/// The PodDisruptionBudget version a cluster serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PdbVersion {
    /// `policy/v1` (Kubernetes 1.21 and later).
    V1,
    /// `policy/v1beta1` (up to Kubernetes 1.24; the only one before 1.21).
    V1beta1,
}

impl PdbVersion {
    /// `group/version`.
    pub fn api_version(self) -> &'static str {
        match self {
            Self::V1 => "policy/v1",
            Self::V1beta1 => "policy/v1beta1",
        }
    }

    /// The dynamic API resource to list and watch PDBs at this version.
    pub fn resource(self) -> ApiResource {
        let version = match self {
            Self::V1 => "v1",
            Self::V1beta1 => "v1beta1",
        };
        ApiResource {
            group: "policy".into(),
            version: version.into(),
            api_version: self.api_version().into(),
            kind: "PodDisruptionBudget".into(),
            plural: "poddisruptionbudgets".into(),
        }
    }

    /// An `Api` over every namespace's PDBs at this version.
    pub fn api(self, client: &kube::Client) -> Api<DynamicObject> {
        Api::all_with(client.clone(), &self.resource())
    }

    /// A PDB read at this version, as the `policy/v1` object the projection reads.
    pub fn to_v1(self, object: DynamicObject) -> Result<PodDisruptionBudget, serde_json::Error> {
        let mut value = serde_json::to_value(object)?;
        value["apiVersion"] = json!("policy/v1");
        value["kind"] = json!("PodDisruptionBudget");
        if self == Self::V1beta1 {
            keep_v1beta1_selector_meaning(&mut value);
        }
        serde_json::from_value(value)
    }
}

/// Make an empty v1beta1 selector select no pod under v1's rules, as the API server does when it
/// converts such a PDB to v1; true if it changed anything.
pub fn keep_v1beta1_selector_meaning(pdb: &mut serde_json::Value) -> bool {
    match pdb.pointer_mut("/spec/selector") {
        Some(selector) if selects_everything_in_v1(selector) => {
            *selector = json!({"matchExpressions": [
                {"key": V1BETA1_EMPTY_SELECTOR_KEY, "operator": "Exists"}
            ]});
            true
        }
        _ => false,
    }
}

/// `{}`, or a selector whose every field is empty: all pods of the namespace in v1, none in
/// v1beta1.
fn selects_everything_in_v1(selector: &serde_json::Value) -> bool {
    selector.as_object().is_some_and(|fields| {
        fields.values().all(|v| {
            v.is_null()
                || v.as_object().is_some_and(serde_json::Map::is_empty)
                || v.as_array().is_some_and(Vec::is_empty)
        })
    })
}

/// What a cluster serves, as far as tke-recycle cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServedApis {
    /// PodDisruptionBudgets.
    pub pdb: PdbVersion,
    /// The `pods/eviction` subresource.
    pub eviction: EvictionVersion,
}

/// Discovery failed, or the cluster lacks an API tke-recycle needs.
#[derive(Debug, thiserror::Error)]
pub enum ServedError {
    /// A discovery request failed.
    #[error("failed to read the cluster's API discovery document {path}")]
    Discovery {
        /// `/api/v1`, `/apis/policy` or `/apis/batch/v1`.
        path: &'static str,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// The cluster serves no PodDisruptionBudget API.
    #[error(
        "the cluster serves no PodDisruptionBudget API: neither policy/v1 (Kubernetes 1.21 and \
         later) nor policy/v1beta1 (Kubernetes 1.24 and earlier); it serves {served}. tke-recycle \
         supports Kubernetes 1.20 to 1.32"
    )]
    NoPdbApi {
        /// The policy group versions it does serve, or `no policy group`.
        served: String,
    },
    /// The cluster serves no eviction subresource (tke-recycle never deletes pods instead
    /// unless told to with `--disable-eviction`).
    #[error(
        "the cluster offers no pods/eviction subresource in /api/v1 (every Kubernetes version \
         since 1.4 has it; is this a Kubernetes API server?); tke-recycle does not delete pods \
         instead"
    )]
    NoEviction,
}

/// The PDB version from the policy group's document: v1 whenever it is served (kubectl's
/// preferred version from 1.21 on), else v1beta1.
pub fn pdb_version(policy: Option<&APIGroup>) -> Result<PdbVersion, ServedError> {
    let versions: Vec<&str> = policy
        .map(|g| g.versions.iter().map(|v| v.version.as_str()).collect())
        .unwrap_or_default();
    if versions.contains(&"v1") {
        Ok(PdbVersion::V1)
    } else if versions.contains(&"v1beta1") {
        Ok(PdbVersion::V1beta1)
    } else {
        Err(ServedError::NoPdbApi {
            served: if versions.is_empty() {
                "no policy group".into()
            } else {
                versions
                    .iter()
                    .map(|v| format!("policy/{v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        })
    }
}

/// The eviction version from `/api/v1`'s resource list, with kubectl's fallback to the policy
/// group's preferred version when the subresource does not name its group and version.
pub fn eviction_version(
    core_v1: &APIResourceList,
    policy: Option<&APIGroup>,
) -> Option<EvictionVersion> {
    let sub = core_v1
        .resources
        .iter()
        .find(|r| r.name == "pods/eviction")?;
    let version = match (sub.group.as_deref(), sub.version.as_deref()) {
        (Some("policy"), Some(v)) if !v.is_empty() => v.to_owned(),
        _ => policy?.preferred_version.as_ref()?.version.clone(),
    };
    match version.as_str() {
        "v1" => Some(EvictionVersion::V1),
        "v1beta1" => Some(EvictionVersion::V1beta1),
        _ => None,
    }
}

/// Ask the server what it serves: `/api/v1` and `/apis/policy`, two requests.
pub async fn discover(client: &kube::Client) -> Result<ServedApis, ServedError> {
    let core: APIResourceList =
        client
            .request(get("/api/v1"))
            .await
            .map_err(|source| ServedError::Discovery {
                path: "/api/v1",
                source,
            })?;
    let policy = policy_group(client).await?;
    Ok(ServedApis {
        pdb: pdb_version(policy.as_ref())?,
        eviction: eviction_version(&core, policy.as_ref()).ok_or(ServedError::NoEviction)?,
    })
}

/// Only the PDB version: one request (`/apis/policy`), for commands that read but never evict.
pub async fn discover_pdb(client: &kube::Client) -> Result<PdbVersion, ServedError> {
    pdb_version(policy_group(client).await?.as_ref())
}

/// Whether the cluster serves batch/v1 CronJobs (Kubernetes 1.21 and later; 1.20 has only
/// batch/v1beta1, whose CronJobs are not read: the pods of their Jobs still name the CronJob as
/// their owner, it is only missing from the workloads). One request, `/apis/batch/v1`.
pub async fn serves_cron_jobs(client: &kube::Client) -> Result<bool, ServedError> {
    match client
        .request::<APIResourceList>(get("/apis/batch/v1"))
        .await
    {
        Ok(list) => Ok(list.resources.iter().any(|r| r.name == "cronjobs")),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(false),
        Err(source) => Err(ServedError::Discovery {
            path: "/apis/batch/v1",
            source,
        }),
    }
}

/// `/apis/policy`, or None when the group is not served at all (404).
async fn policy_group(client: &kube::Client) -> Result<Option<APIGroup>, ServedError> {
    match client.request::<APIGroup>(get("/apis/policy")).await {
        Ok(group) => Ok(Some(group)),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(None),
        Err(source) => Err(ServedError::Discovery {
            path: "/apis/policy",
            source,
        }),
    }
}

fn get(path: &'static str) -> http::Request<Vec<u8>> {
    let mut req = http::Request::new(Vec::new());
    *req.uri_mut() = http::Uri::from_static(path);
    req
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn group(versions: &[&str], preferred: &str) -> APIGroup {
        serde_json::from_value(json!({
            "name": "policy",
            "versions": versions.iter().map(|v| json!({"groupVersion": format!("policy/{v}"), "version": v})).collect::<Vec<_>>(),
            "preferredVersion": {"groupVersion": format!("policy/{preferred}"), "version": preferred}
        }))
        .expect("APIGroup")
    }

    fn core(eviction: Value) -> APIResourceList {
        serde_json::from_value(json!({"groupVersion": "v1", "resources": [eviction]}))
            .expect("list")
    }

    fn eviction(version: Option<&str>) -> Value {
        let mut r = json!({"name": "pods/eviction", "singularName": "", "namespaced": true,
                           "kind": "Eviction", "verbs": ["create"]});
        if let Some(v) = version {
            r["group"] = json!("policy");
            r["version"] = json!(v);
        }
        r
    }

    #[test]
    fn pdb_version_follows_what_each_kubernetes_version_serves() {
        let cases = [
            ("1.20", group(&["v1beta1"], "v1beta1"), PdbVersion::V1beta1),
            ("1.24", group(&["v1", "v1beta1"], "v1"), PdbVersion::V1),
            ("1.32", group(&["v1"], "v1"), PdbVersion::V1),
        ];
        for (k8s, g, want) in cases {
            assert_eq!(pdb_version(Some(&g)).expect(k8s), want, "{k8s}");
        }
        let none = pdb_version(None).expect_err("no group");
        assert!(
            none.to_string().contains("it serves no policy group"),
            "{none}"
        );
        let odd = pdb_version(Some(&group(&["v2alpha1"], "v2alpha1"))).expect_err("odd");
        assert!(
            odd.to_string().contains("it serves policy/v2alpha1."),
            "{odd}"
        );
    }

    #[test]
    fn eviction_version_from_the_subresource_or_the_preferred_policy_version() {
        let g120 = group(&["v1beta1"], "v1beta1");
        assert_eq!(
            eviction_version(&core(eviction(Some("v1beta1"))), Some(&g120)),
            Some(EvictionVersion::V1beta1)
        );
        assert_eq!(
            eviction_version(&core(eviction(Some("v1"))), None),
            Some(EvictionVersion::V1)
        );
        // No group/version on the subresource: kubectl falls back to policy's preferred version.
        assert_eq!(
            eviction_version(&core(eviction(None)), Some(&g120)),
            Some(EvictionVersion::V1beta1)
        );
        assert_eq!(eviction_version(&core(eviction(None)), None), None);
        let no_sub: APIResourceList =
            serde_json::from_value(json!({"groupVersion": "v1", "resources": []})).expect("list");
        assert_eq!(eviction_version(&no_sub, Some(&g120)), None);
    }

    fn dynamic(v: Value) -> DynamicObject {
        serde_json::from_value(v).expect("object")
    }

    #[test]
    fn a_v1beta1_pdb_converts_to_v1_keeping_what_its_empty_selector_means() {
        let beta = |selector: Value| {
            dynamic(
                json!({"apiVersion": "policy/v1beta1", "kind": "PodDisruptionBudget",
                "metadata": {"name": "web", "namespace": "shop"},
                "spec": {"minAvailable": 2, "selector": selector},
                "status": {"currentHealthy": 3, "desiredHealthy": 2, "disruptionsAllowed": 1, "expectedPods": 3}}),
            )
        };
        let pdb = PdbVersion::V1beta1
            .to_v1(beta(json!({"matchLabels": {"app": "web"}})))
            .expect("converts");
        let spec = pdb.spec.expect("spec");
        let labels = spec
            .selector
            .expect("selector")
            .match_labels
            .expect("labels");
        assert_eq!(labels.get("app").map(String::as_str), Some("web"));
        assert_eq!(pdb.status.expect("status").disruptions_allowed, 1);

        for empty in [
            json!({}),
            json!({"matchLabels": {}}),
            json!({"matchExpressions": []}),
        ] {
            let pdb = PdbVersion::V1beta1
                .to_v1(beta(empty.clone()))
                .expect("converts");
            let sel = pdb.spec.and_then(|s| s.selector).expect("selector");
            let exprs = sel.match_expressions.expect("a requirement no pod meets");
            assert_eq!(exprs[0].key, V1BETA1_EMPTY_SELECTOR_KEY, "{empty}");
            assert_eq!(exprs[0].operator, "Exists");
        }
        // The same empty selector read as v1 means every pod of the namespace: left alone.
        let v1 = dynamic(
            json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": "all", "namespace": "shop"}, "spec": {"maxUnavailable": 1, "selector": {}}}),
        );
        let sel = PdbVersion::V1
            .to_v1(v1)
            .expect("v1")
            .spec
            .and_then(|s| s.selector)
            .expect("selector");
        assert!(sel.match_expressions.is_none() && sel.match_labels.is_none());
    }
}

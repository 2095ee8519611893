//! Discovery documents: `/version`, `/api`, `/apis`, `/apis/{group}` and each group-version's
//! resource list, built from the resource table.
//!
//! Only the legacy (unaggregated) discovery format is served; kubectl v1.32 and kube-rs fall back
//! to it when a plain `application/json` answer comes back. `/api/v1` lists `pods/eviction` with
//! group `policy` and the version the played Kubernetes version has, without which `kubectl
//! drain` deletes pods instead of evicting. PodDisruptionBudgets are listed at every version the
//! played Kubernetes version serves ([`KubeVersion::versions`]).

use serde_json::{Value, json};

use crate::sim::kube_version::KubeVersion;
use crate::sim::resource::Res;

/// `/version`.
pub fn version(k8s: KubeVersion) -> Value {
    json!({
        "major": "1", "minor": k8s.minor.to_string(), "gitVersion": k8s.to_string(),
        "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
        "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.23.4", "compiler": "gc", "platform": "linux/amd64"
    })
}

/// `/api`.
pub fn core_versions(server_address: &str) -> Value {
    json!({"kind": "APIVersions", "versions": ["v1"],
           "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]})
}

/// Each served group with its versions, preferred first.
fn groups(k8s: KubeVersion) -> Vec<(&'static str, Vec<&'static str>)> {
    let mut out: Vec<(&str, Vec<&str>)> = Vec::new();
    for r in Res::ALL {
        let d = r.def();
        if d.group.is_empty() || out.iter().any(|(g, _)| *g == d.group) {
            continue;
        }
        out.push((d.group, k8s.versions(r).to_vec()));
    }
    out
}

fn group_doc(group: &str, versions: &[&str]) -> Value {
    let gv = |v: &str| json!({"groupVersion": format!("{group}/{v}"), "version": v});
    json!({"name": group, "versions": versions.iter().map(|v| gv(v)).collect::<Vec<_>>(),
           "preferredVersion": gv(versions.first().copied().unwrap_or_default())})
}

/// `/apis`.
pub fn group_list(k8s: KubeVersion) -> Value {
    let groups: Vec<Value> = groups(k8s).iter().map(|(g, v)| group_doc(g, v)).collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/{group}`, if served.
pub fn group(k8s: KubeVersion, group: &str) -> Option<Value> {
    groups(k8s)
        .into_iter()
        .find(|(g, _)| *g == group)
        .map(|(g, v)| {
            let mut d = group_doc(g, &v);
            d["kind"] = json!("APIGroup");
            d["apiVersion"] = json!("v1");
            d
        })
}

/// The APIResourceList of `/api/v1` (group "") or `/apis/{group}/{version}`.
pub fn resource_list(k8s: KubeVersion, group: &str, version: &str) -> Option<Value> {
    let mut resources = Vec::new();
    for r in Res::ALL {
        let d = r.def();
        if d.group != group || !k8s.versions(r).contains(&version) {
            continue;
        }
        resources.push(json!({
            "name": d.plural, "singularName": d.singular, "namespaced": d.namespaced, "kind": d.kind,
            "verbs": Res::verbs(), "shortNames": d.short_names
        }));
        if d.has_status {
            resources.push(
                json!({"name": format!("{}/status", d.plural), "singularName": "",
                "namespaced": d.namespaced, "kind": d.kind, "verbs": ["get", "patch", "update"]}),
            );
        }
        match r {
            Res::Pods => {
                resources.push(
                    json!({"name": "pods/eviction", "singularName": "", "namespaced": true,
                    "group": "policy", "version": k8s.eviction_version(), "kind": "Eviction",
                    "verbs": ["create"]}),
                );
                resources.push(
                    json!({"name": "pods/binding", "singularName": "", "namespaced": true,
                    "kind": "Binding", "verbs": ["create"]}),
                );
            }
            Res::Deployments | Res::ReplicaSets | Res::StatefulSets => {
                resources.push(
                    json!({"name": format!("{}/scale", d.plural), "singularName": "",
                    "namespaced": true, "group": "autoscaling", "version": "v1", "kind": "Scale",
                    "verbs": ["get", "patch", "update"]}),
                );
            }
            _ => {}
        }
    }
    if resources.is_empty() {
        return None;
    }
    let gv = if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    };
    Some(
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_v1_lists_policy_eviction() {
        let k8s = KubeVersion::parse("1.32.2").expect("version");
        let list = resource_list(k8s, "", "v1").expect("core");
        let ev = list["resources"]
            .as_array()
            .expect("array")
            .iter()
            .find(|r| r["name"] == "pods/eviction")
            .expect("eviction");
        assert_eq!(ev["group"], "policy");
        assert_eq!(ev["version"], "v1");
        assert!(resource_list(k8s, "policy", "v1").is_some());
        assert!(resource_list(k8s, "policy", "v1beta1").is_none());
        assert!(resource_list(k8s, "nope", "v1").is_none());
        assert_eq!(version(k8s)["minor"], "32");
        assert_eq!(version(k8s)["gitVersion"], "v1.32.2");
    }

    #[test]
    fn an_old_cluster_serves_pdbs_and_evictions_as_v1beta1() {
        let k8s = KubeVersion::parse("1.20").expect("version");
        assert!(resource_list(k8s, "policy", "v1").is_none());
        let beta = resource_list(k8s, "policy", "v1beta1").expect("v1beta1");
        assert_eq!(beta["groupVersion"], "policy/v1beta1");
        assert_eq!(beta["resources"][0]["name"], "poddisruptionbudgets");
        let policy = group(k8s, "policy").expect("policy group");
        assert_eq!(policy["preferredVersion"]["version"], "v1beta1");
        let core = resource_list(k8s, "", "v1").expect("core");
        let ev = core["resources"]
            .as_array()
            .expect("array")
            .iter()
            .find(|r| r["name"] == "pods/eviction")
            .expect("eviction");
        assert_eq!(ev["version"], "v1beta1");

        let both = KubeVersion::parse("1.24").expect("version");
        let policy = group(both, "policy").expect("policy group");
        assert_eq!(policy["versions"].as_array().map(Vec::len), Some(2));
        assert_eq!(policy["preferredVersion"]["version"], "v1");
    }
}

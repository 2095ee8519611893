//! Discovery documents: `/version`, `/api`, `/apis`, `/apis/{group}` and each group-version's
//! resource list, built from the resource table.
//!
//! Only the legacy (unaggregated) discovery format is served; kubectl v1.32 and kube-rs fall back
//! to it when a plain `application/json` answer comes back. `/api/v1` lists `pods/eviction` with
//! group `policy`, version `v1`, without which `kubectl drain` deletes pods instead of evicting.

use serde_json::{Value, json};

use crate::sim::resource::Res;

/// `/version`.
pub fn version(k8s_version: &str) -> Value {
    let mut parts = k8s_version.trim_start_matches('v').split('.');
    let major = parts.next().unwrap_or("1");
    let minor = parts.next().unwrap_or("32");
    json!({
        "major": major, "minor": minor, "gitVersion": format!("v{}", k8s_version.trim_start_matches('v')),
        "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
        "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.23.4", "compiler": "gc", "platform": "linux/amd64"
    })
}

/// `/api`.
pub fn core_versions(server_address: &str) -> Value {
    json!({"kind": "APIVersions", "versions": ["v1"],
           "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]})
}

fn groups() -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for r in Res::ALL {
        let d = r.def();
        if !d.group.is_empty() && !out.contains(&(d.group, d.version)) {
            out.push((d.group, d.version));
        }
    }
    out
}

fn group_doc(group: &str, version: &str) -> Value {
    let gv = format!("{group}/{version}");
    json!({"name": group, "versions": [{"groupVersion": gv, "version": version}],
           "preferredVersion": {"groupVersion": gv, "version": version}})
}

/// `/apis`.
pub fn group_list() -> Value {
    let groups: Vec<Value> = groups().into_iter().map(|(g, v)| group_doc(g, v)).collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/{group}`, if served.
pub fn group(group: &str) -> Option<Value> {
    groups()
        .into_iter()
        .find(|(g, _)| *g == group)
        .map(|(g, v)| {
            let mut d = group_doc(g, v);
            d["kind"] = json!("APIGroup");
            d["apiVersion"] = json!("v1");
            d
        })
}

/// The APIResourceList of `/api/v1` (group "") or `/apis/{group}/{version}`.
pub fn resource_list(group: &str, version: &str) -> Option<Value> {
    let mut resources = Vec::new();
    for r in Res::ALL {
        let d = r.def();
        if d.group != group || d.version != version {
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
                    "group": "policy", "version": "v1", "kind": "Eviction", "verbs": ["create"]}),
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
        let list = resource_list("", "v1").expect("core");
        let ev = list["resources"]
            .as_array()
            .expect("array")
            .iter()
            .find(|r| r["name"] == "pods/eviction")
            .expect("eviction");
        assert_eq!(ev["group"], "policy");
        assert_eq!(ev["version"], "v1");
        assert!(resource_list("policy", "v1").is_some());
        assert!(resource_list("nope", "v1").is_none());
        assert_eq!(version("1.32.2")["minor"], "32");
    }
}

//! Workload controllers: Deployment (one ReplicaSet per pod template, old ones scaled to zero),
//! ReplicaSet, StatefulSet (ordinal names, volumeClaimTemplates, OrderedReady) and DaemonSet
//! (one pod per eligible node, pinned with node affinity on metadata.name), plus their status.
//!
//! Rolling-update pacing is deliberately not modelled: the tool never changes templates.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};

use super::matching::{NodeInfo, pod_matches_node, untolerated_taint};
use crate::sim::kube_api::default_on_create;
use crate::sim::resource::Res;
use crate::sim::store::{Object, Store, name_suffix};

/// Pods grouped by their controller's UID.
pub type ByOwner = HashMap<Box<str>, Vec<Arc<Object>>>;

/// Group pods by controller UID.
pub fn pods_by_owner(pods: &[Arc<Object>]) -> ByOwner {
    let mut m: ByOwner = HashMap::new();
    for p in pods {
        if let Some(c) = &p.controller {
            m.entry(c.uid.clone()).or_default().push(p.clone());
        }
    }
    m
}

pub(super) fn active(p: &Object) -> bool {
    p.pod
        .as_ref()
        .is_some_and(|f| !f.deleting && !matches!(&*f.phase, "Succeeded" | "Failed"))
}

pub(super) fn ready(p: &Object) -> bool {
    p.pod.as_ref().is_some_and(|f| f.ready && !f.deleting)
}

fn owner_ref(kind: &str, obj: &Object) -> Value {
    json!([{"apiVersion": "apps/v1", "kind": kind, "name": &*obj.name, "uid": &*obj.uid,
            "controller": true, "blockOwnerDeletion": true}])
}

/// A pod from a template, with the defaults the API server would add.
pub(super) fn pod_from_template(template: &Value, ns: &str, name: &str, owner: Value) -> Value {
    let mut pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns,
                     "labels": template.pointer("/metadata/labels").cloned().unwrap_or(json!({})),
                     "ownerReferences": owner},
        "spec": template.get("spec").cloned().unwrap_or(json!({}))
    });
    if let Some(a) = template.pointer("/metadata/annotations") {
        pod["metadata"]["annotations"] = a.clone();
    }
    default_on_create(Res::Pods, &mut pod);
    pod
}

/// Delete a pod as a controller does (graceful when bound).
fn delete_pod(store: &Store, p: &Object) {
    let bound = p.pod.as_ref().is_some_and(|f| f.node_name.is_some());
    let grace = p.pod.as_ref().map_or(30, |f| f.grace);
    // Already gone is fine: the next pass sees the new state.
    let _ = if bound && grace > 0 {
        store
            .mark_deleting(Res::Pods, &p.namespace, &p.name, grace)
            .map(|_| ())
    } else {
        store
            .delete(Res::Pods, &p.namespace, &p.name, None, None)
            .map(|_| ())
    };
}

pub(super) fn set_status(store: &Store, res: Res, obj: &Object, current: &Value, status: Value) {
    let unchanged = status.as_object().is_some_and(|m| {
        m.iter()
            .all(|(k, val)| current.get("status").and_then(|s| s.get(k)) == Some(val))
    });
    if unchanged {
        return;
    }
    let _ = store.update_with(res, &obj.namespace, &obj.name, |v| {
        let mut merged = v.get("status").cloned().unwrap_or(json!({}));
        if let (Some(m), Some(s)) = (merged.as_object_mut(), status.as_object()) {
            for (k, val) in s {
                m.insert(k.clone(), val.clone());
            }
        }
        v["status"] = merged;
        Ok(())
    });
}

fn generation(v: &Value) -> i64 {
    v.pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(1)
}

fn replicas(v: &Value) -> i64 {
    v.pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1)
}

/// ReplicaSets: create or delete pods to match replicas; status.
pub fn replicasets(store: &Store, by_owner: &ByOwner) {
    for rs in store.list(Res::ReplicaSets, None) {
        let v = rs.value();
        let want = replicas(&v).max(0) as usize;
        let empty = Vec::new();
        let pods = by_owner.get(&rs.uid).unwrap_or(&empty);
        let mut live: Vec<&Arc<Object>> = pods.iter().filter(|p| active(p)).collect();
        if live.len() < want {
            let template = v.pointer("/spec/template").cloned().unwrap_or(json!({}));
            for _ in live.len()..want {
                let name = format!("{}-{}", rs.name, name_suffix());
                let pod = pod_from_template(
                    &template,
                    &rs.namespace,
                    &name,
                    owner_ref("ReplicaSet", &rs),
                );
                let _ = store.create(Res::Pods, pod, false);
            }
        } else if live.len() > want {
            // Unscheduled, then not-ready pods go first, as the real controller prefers.
            live.sort_by_key(|p| {
                let f = p.pod.as_ref();
                (
                    f.is_some_and(|f| f.node_name.is_some()),
                    f.is_some_and(|f| f.ready),
                )
            });
            for p in &live[..live.len() - want] {
                delete_pod(store, p);
            }
        }
        let n = live.len() as i64;
        let ready_n = pods.iter().filter(|p| ready(p)).count() as i64;
        let status = json!({"replicas": n, "fullyLabeledReplicas": n, "readyReplicas": ready_n,
                            "availableReplicas": ready_n, "observedGeneration": generation(&v)});
        set_status(store, Res::ReplicaSets, &rs, &v, status);
    }
}

/// A short, stable hash of a pod template, in the alphabet Kubernetes uses for names.
pub fn template_hash(template: &Value) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let h = crate::tke::sign::sha256_hex(template.to_string().as_bytes());
    h.bytes()
        .take(10)
        .map(|b| ALPHABET[(b as usize) % ALPHABET.len()] as char)
        .collect()
}

/// Deployments: one ReplicaSet per template; the current one scaled to replicas, older to 0.
pub fn deployments(store: &Store) {
    let all_rs = store.list(Res::ReplicaSets, None);
    let mut rs_by_owner: HashMap<&str, Vec<&Arc<Object>>> = HashMap::new();
    for r in &all_rs {
        if let Some(c) = &r.controller {
            rs_by_owner.entry(&c.uid).or_default().push(r);
        }
    }
    for d in store.list(Res::Deployments, None) {
        let v = d.value();
        let want = replicas(&v);
        let template = v.pointer("/spec/template").cloned().unwrap_or(json!({}));
        let owned: Vec<&Arc<Object>> = rs_by_owner.get(&*d.uid).cloned().unwrap_or_default();
        // Generated scenarios name the hash themselves; reuse any owned RS whose template matches.
        let hash = owned
            .iter()
            .find(|r| {
                let mut t = r
                    .value()
                    .pointer("/spec/template")
                    .cloned()
                    .unwrap_or(json!({}));
                if let Some(l) = t
                    .pointer_mut("/metadata/labels")
                    .and_then(Value::as_object_mut)
                {
                    l.remove("pod-template-hash");
                }
                t == template
            })
            .and_then(|r| r.label("pod-template-hash").map(str::to_owned))
            .unwrap_or_else(|| template_hash(&template));
        let current = owned
            .iter()
            .find(|r| r.label("pod-template-hash") == Some(hash.as_str()));
        match current {
            None => {
                let mut t = template.clone();
                t["metadata"]["labels"]["pod-template-hash"] = json!(hash);
                let mut selector = v.pointer("/spec/selector").cloned().unwrap_or(json!({}));
                selector["matchLabels"]["pod-template-hash"] = json!(hash);
                let mut labels = template
                    .pointer("/metadata/labels")
                    .cloned()
                    .unwrap_or(json!({}));
                labels["pod-template-hash"] = json!(hash);
                let rs = json!({"metadata": {"name": format!("{}-{hash}", d.name), "namespace": &*d.namespace,
                                 "labels": labels, "ownerReferences": owner_ref("Deployment", &d)},
                                "spec": {"replicas": want, "selector": selector, "template": t}});
                let _ = store.create(Res::ReplicaSets, rs, false);
            }
            Some(rs) => {
                if replicas(&rs.value()) != want {
                    let _ = store.update_with(Res::ReplicaSets, &rs.namespace, &rs.name, |r| {
                        r["spec"]["replicas"] = json!(want);
                        Ok(())
                    });
                }
            }
        }
        for old in owned
            .iter()
            .filter(|r| r.label("pod-template-hash") != Some(hash.as_str()))
        {
            if replicas(&old.value()) != 0 {
                let _ = store.update_with(Res::ReplicaSets, &old.namespace, &old.name, |r| {
                    r["spec"]["replicas"] = json!(0);
                    Ok(())
                });
            }
        }
        let (mut total, mut ready_n, mut updated) = (0, 0, 0);
        for r in &owned {
            let s = r.value();
            let n = s
                .pointer("/status/replicas")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            total += n;
            ready_n += s
                .pointer("/status/readyReplicas")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            if r.label("pod-template-hash") == Some(hash.as_str()) {
                updated = n;
            }
        }
        let available = if ready_n >= want { "True" } else { "False" };
        let status = json!({"replicas": total, "readyReplicas": ready_n, "availableReplicas": ready_n,
            "updatedReplicas": updated, "unavailableReplicas": (want - ready_n).max(0),
            "observedGeneration": generation(&v),
            "conditions": [{"type": "Available", "status": available,
                            "reason": if available == "True" { "MinimumReplicasAvailable" } else { "MinimumReplicasUnavailable" }}]});
        set_status(store, Res::Deployments, &d, &v, status);
    }
}

/// StatefulSets: pods `<name>-<ordinal>`, PVCs from volumeClaimTemplates, OrderedReady.
pub fn statefulsets(store: &Store, by_owner: &ByOwner) {
    for s in store.list(Res::StatefulSets, None) {
        let v = s.value();
        let want = replicas(&v).max(0);
        let ordered = v
            .pointer("/spec/podManagementPolicy")
            .and_then(Value::as_str)
            != Some("Parallel");
        let empty = Vec::new();
        let pods = by_owner.get(&s.uid).unwrap_or(&empty);
        let ns = &*s.namespace;
        for i in 0..want {
            let name = format!("{}-{i}", s.name);
            if store.get(Res::Pods, ns, &name).is_some() {
                continue;
            }
            if ordered && i > 0 {
                let prev = format!("{}-{}", s.name, i - 1);
                if !store.get(Res::Pods, ns, &prev).is_some_and(|p| ready(&p)) {
                    break;
                }
            }
            let template = v.pointer("/spec/template").cloned().unwrap_or(json!({}));
            let mut pod = pod_from_template(&template, ns, &name, owner_ref("StatefulSet", &s));
            pod["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"] = json!(name);
            pod["metadata"]["labels"]["apps.kubernetes.io/pod-index"] = json!(i.to_string());
            pod["spec"]["hostname"] = json!(name);
            if let Some(svc) = v.pointer("/spec/serviceName").and_then(Value::as_str) {
                pod["spec"]["subdomain"] = json!(svc);
            }
            if let Some(vcts) = v
                .pointer("/spec/volumeClaimTemplates")
                .and_then(Value::as_array)
            {
                for vct in vcts {
                    let vname = vct
                        .pointer("/metadata/name")
                        .and_then(Value::as_str)
                        .unwrap_or("data");
                    let claim = format!("{vname}-{name}");
                    if store.get(Res::PersistentVolumeClaims, ns, &claim).is_none() {
                        let pvc = json!({"metadata": {"name": claim, "namespace": ns,
                                "labels": template.pointer("/metadata/labels").cloned().unwrap_or(json!({}))},
                            "spec": vct.get("spec").cloned().unwrap_or(json!({})),
                            "status": {"phase": "Pending"}});
                        let _ = store.create(Res::PersistentVolumeClaims, pvc, false);
                    }
                    if !pod["spec"]["volumes"].is_array() {
                        pod["spec"]["volumes"] = json!([]);
                    }
                    if let Some(vols) = pod["spec"]["volumes"].as_array_mut() {
                        vols.retain(|x| x.get("name").and_then(Value::as_str) != Some(vname));
                        vols.push(
                            json!({"name": vname, "persistentVolumeClaim": {"claimName": claim}}),
                        );
                    }
                }
            }
            let _ = store.create(Res::Pods, pod, false);
            if ordered {
                break;
            }
        }
        for p in pods.iter().filter(|p| active(p)) {
            let ordinal = p
                .name
                .rsplit('-')
                .next()
                .and_then(|o| o.parse::<i64>().ok())
                .unwrap_or(0);
            if ordinal >= want {
                delete_pod(store, p);
            }
        }
        let n = pods.iter().filter(|p| active(p)).count() as i64;
        let ready_n = pods.iter().filter(|p| ready(p)).count() as i64;
        let status = json!({"replicas": n, "readyReplicas": ready_n, "currentReplicas": n, "updatedReplicas": n,
                            "availableReplicas": ready_n, "observedGeneration": generation(&v)});
        set_status(store, Res::StatefulSets, &s, &v, status);
    }
}

/// The tolerations the DaemonSet controller adds to its pods.
fn daemon_tolerations() -> Vec<Value> {
    let mut t: Vec<Value> = [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ]
    .iter()
    .map(|k| json!({"key": k, "operator": "Exists", "effect": "NoExecute"}))
    .collect();
    for k in [
        "node.kubernetes.io/disk-pressure",
        "node.kubernetes.io/memory-pressure",
        "node.kubernetes.io/pid-pressure",
        "node.kubernetes.io/unschedulable",
    ] {
        t.push(json!({"key": k, "operator": "Exists", "effect": "NoSchedule"}));
    }
    t
}

/// The node a DaemonSet pod is for: its nodeName, or the metadata.name its affinity pins.
fn daemon_pod_node(p: &Object) -> Option<String> {
    if let Some(n) = p.pod.as_ref().and_then(|f| f.node_name.as_deref()) {
        return Some(n.to_owned());
    }
    p.value()
        .pointer("/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms/0/matchFields/0/values/0")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// DaemonSets: one pod per node that matches and whose taints are tolerated.
pub fn daemonsets(store: &Store, nodes: &[NodeInfo], by_owner: &ByOwner) {
    for ds in store.list(Res::DaemonSets, None) {
        let v = ds.value();
        let template = v.pointer("/spec/template").cloned().unwrap_or(json!({}));
        let spec = template.get("spec").cloned().unwrap_or(json!({}));
        let mut tolerations = spec
            .get("tolerations")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        tolerations.extend(daemon_tolerations());
        let empty = Vec::new();
        let pods = by_owner.get(&ds.uid).unwrap_or(&empty);
        let mut on_node: HashMap<String, Vec<&Arc<Object>>> = HashMap::new();
        for p in pods.iter().filter(|p| active(p)) {
            if let Some(n) = daemon_pod_node(p) {
                on_node.entry(n).or_default().push(p);
            }
        }
        let (mut desired, mut ready_n, mut scheduled) = (0i64, 0i64, 0i64);
        for node in nodes {
            let eligible = pod_matches_node(&spec, node)
                && untolerated_taint(&node.taints, &tolerations).is_none();
            let existing = on_node.remove(&node.name).unwrap_or_default();
            if eligible {
                desired += 1;
                if existing.is_empty() {
                    let name = format!("{}-{}", ds.name, name_suffix());
                    let mut pod = pod_from_template(
                        &template,
                        &ds.namespace,
                        &name,
                        owner_ref("DaemonSet", &ds),
                    );
                    pod["spec"]["tolerations"] = Value::Array(tolerations.clone());
                    let pin = json!({"nodeSelectorTerms": [{"matchFields": [
                        {"key": "metadata.name", "operator": "In", "values": [node.name]}]}]});
                    pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] =
                        pin;
                    let _ = store.create(Res::Pods, pod, false);
                } else {
                    scheduled += 1;
                    ready_n += existing.iter().filter(|p| ready(p)).count().min(1) as i64;
                    for extra in existing.iter().skip(1) {
                        delete_pod(store, extra);
                    }
                }
            } else {
                for p in existing {
                    delete_pod(store, p);
                }
            }
        }
        // Pods for nodes that no longer exist are left to the pod garbage collector.
        let status = json!({"desiredNumberScheduled": desired, "currentNumberScheduled": scheduled,
            "numberReady": ready_n, "numberAvailable": ready_n, "updatedNumberScheduled": scheduled,
            "numberMisscheduled": 0, "observedGeneration": generation(&v)});
        set_status(store, Res::DaemonSets, &ds, &v, status);
    }
}

/// Garbage collection: pods on nodes that no longer exist are removed (podgc), and objects whose
/// controlling owner is gone are deleted (pods gracefully), as the background GC does.
pub fn garbage_collect(
    store: &Store,
    pods: &[Arc<Object>],
    node_names: &std::collections::HashSet<String>,
) {
    let mut owners: std::collections::HashSet<Box<str>> = std::collections::HashSet::new();
    for res in [
        Res::Deployments,
        Res::ReplicaSets,
        Res::StatefulSets,
        Res::DaemonSets,
        Res::Jobs,
        Res::CronJobs,
    ] {
        owners.extend(store.list(res, None).iter().map(|o| o.uid.clone()));
    }
    for p in pods {
        let Some(f) = &p.pod else { continue };
        if let Some(n) = &f.node_name
            && !node_names.contains(&**n)
        {
            let _ = store.delete(Res::Pods, &p.namespace, &p.name, None, None);
            continue;
        }
        if let Some(c) = &p.controller
            && !owners.contains(&c.uid)
            && !f.deleting
        {
            delete_pod(store, p);
        }
    }
    for res in [Res::ReplicaSets, Res::Jobs] {
        for o in store.list(res, None) {
            if let Some(c) = &o.controller
                && !owners.contains(&c.uid)
            {
                let _ = store.delete(res, &o.namespace, &o.name, None, None);
            }
        }
    }
}

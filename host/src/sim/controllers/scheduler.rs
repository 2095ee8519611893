//! The scheduler: binds pending pods to nodes, running the real scheduler's filters in its
//! order (unschedulable, taints, node affinity/selector, resources, volume node affinity, topology
//! spread constraints ([`super::spread`]), required pod affinity ([`super::affinity`]), required
//! pod anti-affinity both ways ([`super::anti_affinity`])) and writing its "0/N nodes are available: ..." message on pods it
//! cannot place. Scoring is simple: the least-allocated CPU wins, ties by name.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::{Value, json};

use super::matching::{NodeInfo, node_selector_matches, pod_matches_node, untolerated_taint};
use crate::sim::clock::Clock;
use crate::sim::quantity::Resources;
use crate::sim::resource::Res;
use crate::sim::store::{Object, Store};

/// The best node so far: its score, the node, and the (claim, PV) bindings it needs.
type Choice<'a> = (i64, &'a NodeInfo, Vec<(String, String)>);

/// What a pod's PVCs require of a node.
enum VolumeNeed {
    /// The PV is bound and pinned by node affinity.
    Pinned(Value),
    /// An unbound claim that needs an available PV of this class usable on the node.
    Unbound { claim: String, class: String },
}

fn volume_needs(store: &Store, ns: &str, spec: &Value) -> Vec<VolumeNeed> {
    let mut out = Vec::new();
    let Some(vols) = spec.get("volumes").and_then(Value::as_array) else {
        return out;
    };
    for v in vols {
        let Some(claim) = v
            .pointer("/persistentVolumeClaim/claimName")
            .and_then(Value::as_str)
        else {
            continue;
        };
        let Some(pvc) = store.get(Res::PersistentVolumeClaims, ns, claim) else {
            continue;
        };
        let pvc = pvc.value();
        match pvc
            .pointer("/spec/volumeName")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        {
            Some(pv) => {
                if let Some(aff) = store
                    .get(Res::PersistentVolumes, "", pv)
                    .and_then(|p| p.value().pointer("/spec/nodeAffinity/required").cloned())
                {
                    out.push(VolumeNeed::Pinned(aff));
                }
            }
            None => out.push(VolumeNeed::Unbound {
                claim: claim.to_owned(),
                class: pvc
                    .pointer("/spec/storageClassName")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
            }),
        }
    }
    out
}

/// Annotation of the PVs the sim provisions dynamically (real provisioners set it too).
const PROVISIONED_BY: &str = "pv.kubernetes.io/provisioned-by";

/// An available PV of `class` usable on `node`, if the class has static PVs at all (PVs
/// provisioned for other claims of the class do not make it static).
fn find_pv(
    pvs: &[Arc<Object>],
    class: &str,
    node: &NodeInfo,
    taken: &[String],
) -> Result<Option<String>, ()> {
    let mut class_has_pvs = false;
    for pv in pvs {
        let v = pv.value();
        if v.pointer("/spec/storageClassName")
            .and_then(Value::as_str)
            .unwrap_or("")
            != class
            || v.pointer("/metadata/annotations")
                .and_then(|a| a.get(PROVISIONED_BY))
                .is_some()
        {
            continue;
        }
        class_has_pvs = true;
        if v.pointer("/spec/claimRef").is_some_and(|c| !c.is_null())
            || taken.contains(&pv.name.to_string())
        {
            continue;
        }
        let fits = v
            .pointer("/spec/nodeAffinity/required")
            .is_none_or(|aff| node_selector_matches(aff, node));
        if fits {
            return Ok(Some(pv.name.to_string()));
        }
    }
    if class_has_pvs { Err(()) } else { Ok(None) }
}

/// The node names a pod's required node affinity allows, when every term names them with
/// `matchFields metadata.name In [...]`; None when some term can match other nodes.
fn named_nodes(spec: &Value) -> Option<Vec<String>> {
    let terms = spec
        .pointer("/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms")?
        .as_array()?;
    let mut names = Vec::new();
    for term in terms {
        let by_name = term
            .get("matchFields")
            .and_then(Value::as_array)?
            .iter()
            .find(|r| {
                r.get("key").and_then(Value::as_str) == Some("metadata.name")
                    && r.get("operator").and_then(Value::as_str) == Some("In")
            })?;
        names.extend(
            by_name
                .get("values")
                .and_then(Value::as_array)?
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned)),
        );
    }
    (!terms.is_empty()).then_some(names)
}

/// Schedule every pending pod once.
pub fn schedule(store: &Store, nodes: &[NodeInfo], pods: &[Arc<Object>]) {
    let mut pending: Vec<(i32, &Arc<Object>)> = pods
        .iter()
        .filter(|p| {
            p.pod
                .as_ref()
                .is_some_and(|f| f.node_name.is_none() && !f.deleting && &*f.phase == "Pending")
        })
        .map(|p| (super::preemption::priority(&p.value()), p))
        .collect();
    if pending.is_empty() {
        return;
    }
    // The scheduling queue pops the highest priority first (stable: the store's order after).
    pending.sort_by_key(|(priority, _)| std::cmp::Reverse(*priority));
    let mut used: HashMap<&str, Resources> = HashMap::new();
    for p in pods {
        if let Some(f) = &p.pod
            && let Some(n) = &f.node_name
            && !matches!(&*f.phase, "Succeeded" | "Failed")
        {
            used.entry(n).or_default().add(&f.requests);
        }
    }
    let mut used: HashMap<String, Resources> =
        used.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    // The pods on each node, for anti-affinity: looking at one node's pods instead of every pod
    // keeps a pass linear in the cluster's pods rather than nodes x pods per pending pod.
    let mut on_node: HashMap<&str, Vec<&Arc<Object>>> = HashMap::new();
    for p in pods {
        if let Some(f) = &p.pod
            && !f.deleting
            && let Some(n) = &f.node_name
        {
            on_node.entry(n).or_default().push(p);
        }
    }
    let mut holders = super::anti_affinity::Holders::new(&on_node);
    let by_name: HashMap<&str, &NodeInfo> = nodes.iter().map(|n| (n.name.as_str(), n)).collect();
    let pvs = store.list(Res::PersistentVolumes, None);
    let mut taken_pvs: Vec<String> = Vec::new();
    let mut placed_here: Vec<(String, Arc<Object>)> = Vec::new();
    for (priority, pod) in pending {
        let v = pod.value();
        if v.pointer("/spec/schedulerName")
            .and_then(Value::as_str)
            .is_some_and(|s| s != "default-scheduler")
        {
            continue;
        }
        let spec = v.get("spec").cloned().unwrap_or(json!({}));
        let Some(facts) = &pod.pod else { continue };
        let tolerations = spec
            .get("tolerations")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let needs = volume_needs(store, &pod.namespace, &spec);
        let anti = super::anti_affinity::prepare(pod, &by_name, &on_node, &placed_here, &holders);
        let spread = super::spread::prepare(pod, &spec, nodes, &on_node, &placed_here);
        let affinity = super::affinity::prepare(pod, &spec, nodes, &on_node, &placed_here);
        let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
        let mut resource_failures = 0usize;
        let mut short_nodes: Vec<&NodeInfo> = Vec::new();
        let mut best: Option<Choice<'_>> = None;
        // As the real scheduler's NodeAffinity PreFilter: a pod that names its nodes (a
        // DaemonSet pod is pinned with `matchFields metadata.name In [node]`) is filtered on
        // those nodes only, so placing it costs the same on 5 nodes as on 5,000.
        let named = named_nodes(&spec);
        let candidates: Vec<&NodeInfo> = match &named {
            Some(names) => nodes.iter().filter(|n| names.contains(&n.name)).collect(),
            None => nodes.iter().collect(),
        };
        let passed_over = nodes.len() - candidates.len();
        if passed_over > 0 {
            reasons.insert(
                "node(s) didn't match Pod's node affinity/selector".into(),
                passed_over,
            );
        }
        'nodes: for node in candidates {
            let mut fail = |r: String| *reasons.entry(r).or_default() += 1;
            if node.unschedulable
                && !tolerations.iter().any(|t| {
                    super::matching::tolerates(
                        t,
                        &json!({"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}),
                    )
                })
            {
                fail("node(s) were unschedulable".into());
                continue;
            }
            if let Some(t) = untolerated_taint(&node.taints, &tolerations) {
                let s = |k| t.get(k).and_then(Value::as_str).unwrap_or("");
                fail(format!(
                    "node(s) had untolerated taint {{{}: {}}}",
                    s("key"),
                    s("value")
                ));
                continue;
            }
            if !pod_matches_node(&spec, node) {
                fail("node(s) didn't match Pod's node affinity/selector".into());
                continue;
            }
            let u = used.get(&node.name).cloned().unwrap_or_default();
            let short = u.insufficient(&facts.requests, &node.allocatable);
            if !short.is_empty() {
                resource_failures += 1;
                short_nodes.push(node);
                for r in short {
                    fail(if r == "pods" {
                        "Too many pods".into()
                    } else {
                        format!("Insufficient {r}")
                    });
                }
                continue;
            }
            let mut binds = Vec::new();
            for need in &needs {
                match need {
                    VolumeNeed::Pinned(aff) => {
                        if !node_selector_matches(aff, node) {
                            fail("node(s) had volume node affinity conflict".into());
                            continue 'nodes;
                        }
                    }
                    VolumeNeed::Unbound { claim, class } => {
                        match find_pv(&pvs, class, node, &taken_pvs) {
                            Ok(Some(pv)) => binds.push((claim.clone(), pv)),
                            Ok(None) => binds.push((claim.clone(), String::new())),
                            Err(()) => {
                                fail(
                                    "node(s) didn't find available persistent volumes to bind"
                                        .into(),
                                );
                                continue 'nodes;
                            }
                        }
                    }
                }
            }
            if let Some(reason) = super::spread::filter(&spread, node) {
                fail(reason.into());
                continue 'nodes;
            }
            if affinity
                .as_ref()
                .is_some_and(|a| !super::affinity::allows(a, node))
            {
                fail(super::affinity::REASON.into());
                continue 'nodes;
            }
            if let Some(reason) = super::anti_affinity::filter(&anti, node) {
                fail(reason.into());
                continue 'nodes;
            }
            let score = if node.allocatable.cpu_m > 0 {
                (u.cpu_m + facts.requests.cpu_m) * 1000 / node.allocatable.cpu_m
            } else {
                0
            };
            if best.as_ref().is_none_or(|(b, _, _)| score < *b) {
                best = Some((score, node, binds));
            }
        }
        match best {
            Some((_, node, binds)) => {
                for (claim, pv) in binds {
                    bind_claim(store, &pod.namespace, &claim, &pv);
                    if !pv.is_empty() {
                        taken_pvs.push(pv);
                    }
                }
                let now = Clock::wall_rfc3339();
                let bound = store.update_with(Res::Pods, &pod.namespace, &pod.name, |p| {
                    if p.pointer("/spec/nodeName").and_then(Value::as_str).is_some_and(|n| !n.is_empty()) {
                        return Ok(());
                    }
                    p["spec"]["nodeName"] = json!(node.name);
                    set_condition(p, json!({"type": "PodScheduled", "status": "True", "lastTransitionTime": now}));
                    Ok(())
                });
                if let Ok(obj) = bound {
                    used.entry(node.name.clone())
                        .or_default()
                        .add(&facts.requests);
                    holders.bound(&node.name, &obj);
                    placed_here.push((node.name.clone(), obj));
                }
            }
            None if resource_failures > 0
                && super::preemption::may_preempt(&v)
                && !waits_for_victims(&v, priority, pods)
                && preempt(
                    store,
                    pod,
                    &facts.requests,
                    priority,
                    &short_nodes,
                    &used,
                    &mut on_node,
                    &placed_here,
                ) => {}
            None => {
                let n = nodes.len();
                let mut hist: Vec<String> =
                    reasons.iter().map(|(r, c)| format!("{c} {r}")).collect();
                hist.sort();
                let mut msg = format!("0/{n} nodes are available: {}.", hist.join(", "));
                let mut pre = Vec::new();
                if resource_failures > 0 {
                    pre.push(format!(
                        "{resource_failures} No preemption victims found for incoming pod"
                    ));
                }
                if n > resource_failures {
                    pre.push(format!(
                        "{} Preemption is not helpful for scheduling",
                        n - resource_failures
                    ));
                }
                pre.sort();
                msg.push_str(&format!(
                    " preemption: 0/{n} nodes are available: {}.",
                    pre.join(", ")
                ));
                let _ = store.update_with(Res::Pods, &pod.namespace, &pod.name, |p| {
                    let same = p.pointer("/status/conditions").and_then(Value::as_array).is_some_and(|cs| {
                        cs.iter().any(|c| c["type"] == "PodScheduled" && c["message"] == json!(msg))
                    });
                    if !same {
                        set_condition(p, json!({"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                            "message": msg, "lastTransitionTime": Clock::wall_rfc3339()}));
                    }
                    Ok(())
                });
            }
        }
    }
}

/// Whether the pod was nominated to a node where lower-priority pods are still terminating:
/// it waits for them rather than preempting again (the real PodEligibleToPreemptOthers).
fn waits_for_victims(pod: &Value, priority: i32, pods: &[Arc<Object>]) -> bool {
    let Some(nominated) = pod
        .pointer("/status/nominatedNodeName")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
    else {
        return false;
    };
    pods.iter().any(|p| {
        p.pod.as_ref().is_some_and(|f| {
            f.deleting
                && f.node_name.as_deref() == Some(nominated)
                && super::preemption::priority(&p.value()) < priority
        })
    })
}

/// DefaultPreemption for a pod that fit nowhere on resources ([`super::preemption`]): choose
/// the node and victims, delete the victims gracefully, nominate the pod. False when no node
/// has enough lower-priority pods to make room.
#[allow(clippy::too_many_arguments)]
fn preempt(
    store: &Store,
    pod: &Object,
    request: &Resources,
    priority: i32,
    short_nodes: &[&NodeInfo],
    used: &HashMap<String, Resources>,
    on_node: &mut HashMap<&str, Vec<&Arc<Object>>>,
    placed_here: &[(String, Arc<Object>)],
) -> bool {
    use super::preemption::{Resident, rank, select_victims};
    let mut best: Option<(super::preemption::Rank, &str, Vec<Arc<Object>>)> = None;
    for node in short_nodes {
        let residents: Vec<Resident> = on_node
            .get(node.name.as_str())
            .into_iter()
            .flatten()
            .map(|p| Arc::clone(p))
            .chain(
                placed_here
                    .iter()
                    .filter(|(n, _)| *n == node.name)
                    .map(|(_, p)| Arc::clone(p)),
            )
            .filter(|p| {
                p.pod
                    .as_ref()
                    .is_some_and(|f| !matches!(&*f.phase, "Succeeded" | "Failed"))
            })
            .map(|p| Resident {
                priority: super::preemption::priority(&p.value()),
                pod: p,
            })
            .collect();
        let used_here = used.get(&node.name).cloned().unwrap_or_default();
        let Some(victims) =
            select_victims(request, priority, &node.allocatable, &used_here, &residents)
        else {
            continue;
        };
        let key = rank(
            &victims
                .iter()
                .map(|&i| residents[i].priority)
                .collect::<Vec<_>>(),
        );
        let better = best
            .as_ref()
            .is_none_or(|(k, name, _)| (key, node.name.as_str()) < (*k, *name));
        if better {
            let victims = victims
                .iter()
                .map(|&i| Arc::clone(&residents[i].pod))
                .collect();
            best = Some((key, node.name.as_str(), victims));
        }
    }
    let Some((_, node, victims)) = best else {
        return false;
    };
    for v in &victims {
        let grace = v.pod.as_ref().map_or(30, |f| f.grace);
        let _ = store.mark_deleting(Res::Pods, &v.namespace, &v.name, grace);
    }
    if let Some(here) = on_node.get_mut(node) {
        here.retain(|p| !victims.iter().any(|v| v.uid == p.uid));
    }
    let message = format!(
        "preempting {} lower-priority pod(s) on node {node}",
        victims.len()
    );
    let _ = store.update_with(Res::Pods, &pod.namespace, &pod.name, |p| {
        p["status"]["nominatedNodeName"] = json!(node);
        set_condition(
            p,
            json!({"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
            "message": message, "lastTransitionTime": Clock::wall_rfc3339()}),
        );
        Ok(())
    });
    true
}

/// Replace or add a condition by type.
pub fn set_condition(pod: &mut Value, cond: Value) {
    if !pod["status"].is_object() {
        pod["status"] = json!({});
    }
    if !pod["status"]["conditions"].is_array() {
        pod["status"]["conditions"] = json!([]);
    }
    if let Some(cs) = pod["status"]["conditions"].as_array_mut() {
        cs.retain(|c| c.get("type") != cond.get("type"));
        cs.push(cond);
    }
}

/// Bind a claim to `pv`, or to a freshly provisioned PV when `pv` is empty.
fn bind_claim(store: &Store, ns: &str, claim: &str, pv: &str) {
    let Some(pvc) = store.get(Res::PersistentVolumeClaims, ns, claim) else {
        return;
    };
    let pvc_uid = pvc.uid.to_string();
    let pvc_v = pvc.value();
    let pv_name = if pv.is_empty() {
        let name = format!("pvc-{pvc_uid}");
        let pv = json!({"metadata": {"name": name, "annotations": {PROVISIONED_BY: "com.tencent.cloud.csi.cbs"}},
            "spec": {"capacity": pvc_v.pointer("/spec/resources/requests").cloned().unwrap_or(json!({"storage": "10Gi"})),
                     "accessModes": pvc_v.pointer("/spec/accessModes").cloned().unwrap_or(json!(["ReadWriteOnce"])),
                     "storageClassName": pvc_v.pointer("/spec/storageClassName").cloned().unwrap_or(json!("")),
                     "persistentVolumeReclaimPolicy": "Delete"},
            "status": {"phase": "Bound"}});
        let _ = store.create(Res::PersistentVolumes, pv, false);
        name
    } else {
        pv.to_owned()
    };
    let claim_ref = json!({"kind": "PersistentVolumeClaim", "namespace": ns, "name": claim, "uid": pvc_uid, "apiVersion": "v1"});
    let bound = store.update_with(Res::PersistentVolumes, "", &pv_name, |p| {
        p["spec"]["claimRef"] = claim_ref;
        p["status"] = json!({"phase": "Bound"});
        Ok(())
    });
    // A bound claim reports its volume's size and access modes, as the PV controller sets them.
    let volume = bound.map(|p| p.value()).unwrap_or(Value::Null);
    let _ = store.update_with(Res::PersistentVolumeClaims, ns, claim, |c| {
        c["spec"]["volumeName"] = json!(pv_name);
        c["status"] = json!({"phase": "Bound"});
        for (from, to) in [
            ("/spec/capacity", "capacity"),
            ("/spec/accessModes", "accessModes"),
        ] {
            if let Some(v) = volume.pointer(from) {
                c["status"][to] = v.clone();
            }
        }
        Ok(())
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pod_naming_its_node_is_filtered_on_that_node_only() {
        let pinned = |terms: Value| json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}}}});
        let by_name = |n: &str| json!({"matchFields": [{"key": "metadata.name", "operator": "In", "values": [n]}]});
        assert_eq!(
            named_nodes(&pinned(json!([by_name("n1")]))),
            Some(vec!["n1".to_owned()])
        );
        assert_eq!(
            named_nodes(&pinned(json!([by_name("n1"), by_name("n2")]))),
            Some(vec!["n1".to_owned(), "n2".to_owned()])
        );
        // A term that can match by labels keeps every node a candidate.
        let by_label =
            json!({"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]});
        assert_eq!(named_nodes(&pinned(json!([by_name("n1"), by_label]))), None);
        assert_eq!(named_nodes(&json!({})), None);
        assert_eq!(named_nodes(&pinned(json!([]))), None);
    }
}

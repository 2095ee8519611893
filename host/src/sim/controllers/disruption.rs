//! The disruption controller: keeps each PodDisruptionBudget's status true (expectedPods,
//! currentHealthy, desiredHealthy, disruptionsAllowed, disruptedPods, observedGeneration), with
//! the real controller's arithmetic. Only Running and Ready pods without a deletionTimestamp
//! count as healthy; pods evicted recently (disruptedPods) do not.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use serde_json::{Value, json};

use crate::sim::resource::Res;
use crate::sim::selector::{LabelSelector, Req};
use crate::sim::store::{Object, Store};

/// How long an eviction stays in disruptedPods without the pod going away (real: 2 minutes).
const DISRUPTED_TTL_SECS: i64 = 120;

fn scaled(v: &Value, total: i64) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => {
            let pct: f64 = s.strip_suffix('%')?.parse().ok()?;
            Some((pct * total as f64 / 100.0).ceil() as i64)
        }
        _ => None,
    }
}

/// Recompute every PDB's status.
pub fn reconcile(store: &Store, pods: &[Arc<Object>]) {
    let mut by_ns: HashMap<&str, Vec<&Arc<Object>>> = HashMap::new();
    // (namespace, label key, label value) -> pods: PDB selectors are almost always matchLabels,
    // and scanning every pod of a namespace per PDB is quadratic at 150,000 pods.
    let mut by_label: HashMap<(&str, &str, &str), Vec<&Arc<Object>>> = HashMap::new();
    for p in pods {
        by_ns.entry(&p.namespace).or_default().push(p);
        for (k, v) in p.labels.iter() {
            by_label.entry((&p.namespace, k, v)).or_default().push(p);
        }
    }
    let now = jiff::Timestamp::now();
    for pdb in store.list(Res::PodDisruptionBudgets, None) {
        let v = pdb.value();
        let Some(sel) = LabelSelector::from_object(v.pointer("/spec/selector")) else {
            continue;
        };
        let candidates = sel
            .0
            .iter()
            .find_map(|r| match r {
                Req::In(k, vs) if vs.len() == 1 => {
                    Some(by_label.get(&(&*pdb.namespace, k.as_str(), vs[0].as_str())))
                }
                _ => None,
            })
            .unwrap_or_else(|| by_ns.get(&*pdb.namespace));
        let matching: Vec<&&Arc<Object>> = candidates
            .map(|ps| ps.iter().filter(|p| sel.matches(p)).collect())
            .unwrap_or_default();
        let mut disrupted = v
            .pointer("/status/disruptedPods")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        disrupted.retain(|name, ts| {
            let alive = matching.iter().any(|p| &*p.name == name && !p.deleting());
            let fresh = ts
                .as_str()
                .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                .is_some_and(|t| now.duration_since(t).as_secs() < DISRUPTED_TTL_SECS);
            alive && fresh
        });
        let healthy = matching
            .iter()
            .filter(|p| {
                p.pod
                    .as_ref()
                    .is_some_and(|f| f.ready && !f.deleting && &*f.phase == "Running")
                    && !disrupted.contains_key(&*p.name)
            })
            .count() as i64;
        let min_available = v.pointer("/spec/minAvailable");
        let max_unavailable = v.pointer("/spec/maxUnavailable");
        let (expected, desired) = match (min_available, max_unavailable) {
            (Some(Value::Number(n)), _) => (matching.len() as i64, n.as_i64().unwrap_or(0)),
            (Some(m), _) => {
                let e = expected_from_controllers(store, &matching);
                (e, scaled(m, e).unwrap_or(0))
            }
            (None, Some(m)) => {
                let e = expected_from_controllers(store, &matching);
                (e, (e - scaled(m, e).unwrap_or(0)).max(0))
            }
            (None, None) => (matching.len() as i64, 0),
        };
        let allowed = if expected <= 0 {
            0
        } else {
            (healthy - desired).max(0)
        };
        let generation = v
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        let (cond_status, reason) = if allowed > 0 {
            ("True", "SufficientPods")
        } else {
            ("False", "InsufficientPods")
        };
        let old_cond = v.pointer("/status/conditions/0").cloned();
        let transition = match &old_cond {
            Some(c) if c["status"] == cond_status => c["lastTransitionTime"].clone(),
            _ => json!(crate::sim::clock::Clock::wall_rfc3339()),
        };
        let status = json!({
            "observedGeneration": generation, "disruptionsAllowed": allowed, "currentHealthy": healthy,
            "desiredHealthy": desired, "expectedPods": expected, "disruptedPods": disrupted,
            "conditions": [{"type": "DisruptionAllowed", "status": cond_status, "reason": reason,
                            "message": "", "observedGeneration": generation, "lastTransitionTime": transition}]
        });
        if v.get("status") != Some(&status) {
            let _ = store.update_with(Res::PodDisruptionBudgets, &pdb.namespace, &pdb.name, |p| {
                p["status"] = status;
                Ok(())
            });
        }
    }
}

/// Sum of the scale of the distinct controllers of the pods (uncontrolled pods count one each).
fn expected_from_controllers(store: &Store, pods: &[&&Arc<Object>]) -> i64 {
    let mut seen = BTreeSet::new();
    let mut total = 0;
    for p in pods {
        match &p.controller {
            Some(c) => {
                if !seen.insert(c.uid.clone()) {
                    continue;
                }
                let res = match &*c.kind {
                    "ReplicaSet" => Res::ReplicaSets,
                    "StatefulSet" => Res::StatefulSets,
                    _ => {
                        total += 1;
                        continue;
                    }
                };
                total += store
                    .get(res, &p.namespace, &c.name)
                    .and_then(|o| o.value().pointer("/spec/replicas").and_then(Value::as_i64))
                    .unwrap_or(1);
            }
            None => total += 1,
        }
    }
    total
}

//! The kubelet of every node: starts bound pods (image pulls one at a time per node unless
//! parallel pulls are configured, then Running, then Ready) and removes terminating pods once
//! their containers have exited. On a real cluster nobody else removes a terminating pod.
//!
//! A Job's pod whose template carries [`RUN_SECONDS`] exits successfully (Succeeded) that many
//! simulated seconds after it became Ready; without it, it runs until deleted, like a long
//! batch run, which is what a drain meets.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::scheduler::set_condition;
use crate::sim::clock::Clock;
use crate::sim::resource::Res;
use crate::sim::scenario::{Faults, Timing};
use crate::sim::store::{Object, Store};

/// The pod annotation giving a Job pod's run time in simulated seconds (a practice-cluster
/// convention; real pods finish when their program does).
pub const RUN_SECONDS: &str = "sim.tke-recycle/run-seconds";

/// When a Job pod exits, once known: `None` for a pod that runs until deleted.
fn run_time(p: &Object) -> Option<Duration> {
    if p.controller.as_ref().is_none_or(|c| &*c.kind != "Job") {
        return None;
    }
    let v = p.value();
    let text = v
        .pointer("/metadata/annotations")?
        .get(RUN_SECONDS)?
        .as_str()?;
    let secs: f64 = text.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

#[derive(Debug, Clone, Copy)]
struct Start {
    running_at: Duration,
    ready_at: Duration,
}

/// Per-pod timers and per-node image-pull queues.
#[derive(Debug, Default)]
pub struct Kubelet {
    starts: HashMap<Box<str>, Start>,
    stops: HashMap<Box<str>, Duration>,
    pull_free: HashMap<Box<str>, Duration>,
    /// Job pods that exit on their own: when (simulated).
    exits: HashMap<Box<str>, Duration>,
}

fn pod_ip() -> String {
    use rand::Rng;
    let mut r = rand::rng();
    format!(
        "172.16.{}.{}",
        r.random_range(0..=255),
        r.random_range(2..=254)
    )
}

impl Kubelet {
    /// One pass over all pods; returns the earliest future deadline, if any.
    #[allow(
        clippy::too_many_arguments,
        reason = "the controller loop's state, passed explicitly"
    )]
    pub fn step(
        &mut self,
        store: &Store,
        pods: &[Arc<Object>],
        nodes: &std::collections::HashSet<String>,
        now: Duration,
        timing: &Timing,
        faults: &Faults,
        booting: bool,
    ) -> Option<Duration> {
        let mut next: Option<Duration> = None;
        let mut due = |t: Duration| {
            if next.is_none_or(|n| t < n) {
                next = Some(t);
            }
        };
        let secs = |s: f64| Duration::from_secs_f64(s.max(0.0));
        for p in pods {
            let Some(f) = &p.pod else { continue };
            let Some(node) = &f.node_name else { continue };
            if !nodes.contains(&**node) {
                continue;
            }
            if f.deleting {
                let stop = *self.stops.entry(p.uid.clone()).or_insert_with(|| {
                    let grace = p
                        .value()
                        .pointer("/metadata/deletionGracePeriodSeconds")
                        .and_then(Value::as_i64)
                        .unwrap_or(f.grace) as f64;
                    let took = match faults.slow_termination_seconds {
                        Some(extra) => grace + extra,
                        None => timing.shutdown_seconds.min(grace),
                    };
                    now + secs(took)
                });
                if now >= stop {
                    let _ = store.delete(Res::Pods, &p.namespace, &p.name, Some(&p.uid), None);
                    self.stops.remove(&p.uid);
                    self.starts.remove(&p.uid);
                } else {
                    due(stop);
                }
                continue;
            }
            if &*f.phase == "Running" && f.ready && !self.exits.contains_key(&p.uid) {
                // First seen Ready: a Job pod with a run time exits that long after.
                if let Some(run) = run_time(p) {
                    self.exits.insert(p.uid.clone(), now + run);
                }
            }
            if &*f.phase == "Running"
                && let Some(&exit) = self.exits.get(&p.uid)
            {
                if now >= exit {
                    succeed(store, p);
                    self.exits.remove(&p.uid);
                } else {
                    due(exit);
                }
            }
            if matches!(&*f.phase, "Succeeded" | "Failed") || (&*f.phase == "Running" && f.ready) {
                // Started and Ready: a later loss of readiness (a failing probe, someone writing
                // the status) gets a fresh readiness delay rather than an instant fix.
                if !self.starts.is_empty() {
                    self.starts.remove(&p.uid);
                }
                continue;
            }
            let start = *self.starts.entry(p.uid.clone()).or_insert_with(|| {
                if booting || &*f.phase == "Running" {
                    return Start {
                        running_at: now,
                        ready_at: now
                            + if booting {
                                Duration::ZERO
                            } else {
                                secs(timing.ready_seconds)
                            },
                    };
                }
                let free = self.pull_free.get(node).copied().unwrap_or(now).max(now);
                let running_at = free + secs(timing.image_pull_seconds);
                if !timing.parallel_image_pulls {
                    self.pull_free.insert(node.clone(), running_at);
                }
                Start {
                    running_at,
                    ready_at: running_at + secs(timing.ready_seconds),
                }
            });
            if &*f.phase == "Pending" && now >= start.running_at {
                let ready = now >= start.ready_at;
                let node = node.to_string();
                let _ = store.update_with(Res::Pods, &p.namespace, &p.name, |v| {
                    let t = Clock::wall_rfc3339();
                    v["status"]["phase"] = json!("Running");
                    v["status"]["hostIP"] = json!(node);
                    v["status"]["podIP"] = json!(pod_ip());
                    v["status"]["startTime"] = json!(t);
                    let flag = if ready { "True" } else { "False" };
                    set_condition(v, json!({"type": "Initialized", "status": "True", "lastTransitionTime": t}));
                    set_condition(v, json!({"type": "ContainersReady", "status": flag, "lastTransitionTime": t}));
                    set_condition(v, json!({"type": "Ready", "status": flag, "lastTransitionTime": t}));
                    let statuses: Vec<Value> = v
                        .pointer("/spec/containers")
                        .and_then(Value::as_array)
                        .map(|cs| {
                            cs.iter()
                                .map(|c| json!({"name": c["name"], "image": c["image"], "ready": ready,
                                    "restartCount": 0, "started": true, "state": {"running": {"startedAt": t}}}))
                                .collect()
                        })
                        .unwrap_or_default();
                    v["status"]["containerStatuses"] = json!(statuses);
                    Ok(())
                });
            } else if &*f.phase == "Running" && !f.ready && now >= start.ready_at {
                let _ = store.update_with(Res::Pods, &p.namespace, &p.name, |v| {
                    let t = Clock::wall_rfc3339();
                    set_condition(v, json!({"type": "ContainersReady", "status": "True", "lastTransitionTime": t}));
                    set_condition(v, json!({"type": "Ready", "status": "True", "lastTransitionTime": t}));
                    if let Some(cs) = v.pointer_mut("/status/containerStatuses").and_then(Value::as_array_mut) {
                        for c in cs {
                            c["ready"] = json!(true);
                        }
                    }
                    Ok(())
                });
            } else {
                due(if &*f.phase == "Pending" {
                    start.running_at
                } else {
                    start.ready_at
                });
            }
        }
        next
    }

    /// Forget timers of pods that no longer exist.
    pub fn forget_missing(&mut self, pods: &[Arc<Object>]) {
        let live: std::collections::HashSet<&str> = pods.iter().map(|p| &*p.uid).collect();
        self.starts.retain(|k, _| live.contains(&**k));
        self.stops.retain(|k, _| live.contains(&**k));
        self.exits.retain(|k, _| live.contains(&**k));
    }
}

/// A pod whose containers all exited 0: Succeeded, no longer Ready.
fn succeed(store: &Store, p: &Object) {
    let _ = store.update_with(Res::Pods, &p.namespace, &p.name, |v| {
        let t = Clock::wall_rfc3339();
        v["status"]["phase"] = json!("Succeeded");
        set_condition(v, json!({"type": "ContainersReady", "status": "False", "reason": "PodCompleted", "lastTransitionTime": t}));
        set_condition(v, json!({"type": "Ready", "status": "False", "reason": "PodCompleted", "lastTransitionTime": t}));
        if let Some(cs) = v.pointer_mut("/status/containerStatuses").and_then(Value::as_array_mut) {
            for c in cs {
                c["ready"] = json!(false);
                c["started"] = json!(false);
                c["state"] = json!({"terminated": {"exitCode": 0, "reason": "Completed", "finishedAt": t}});
            }
        }
        Ok(())
    });
}

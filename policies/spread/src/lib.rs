//! `spread`: does the recycle take a service down?
//!
//! Groups the pods the drain evicts by their workload and compares with the workload's ready
//! replicas: when every ready replica of a Deployment, StatefulSet or ReplicaSet (or another
//! controller the host resolved) is on the target node(s), the service is down until replacements
//! are Ready elsewhere: a deny. A single-replica workload always goes down briefly, and a pod
//! without a controller does not come back at all: warnings. Pods of Jobs and CronJobs are left
//! out (they are re-run, not served). DaemonSet and mirror pods are not evicted.
//!
//! Queries: `pods-on-node` per target and one `find-workload` per workload on the targets.

mod settings;

use std::collections::BTreeMap;

use settings::Settings;
use tke_recycle_policy_sdk::drain::{
    evicted_by_drain, runs_to_completion, target_pods, workload_kind_name, workload_ref,
};
use tke_recycle_policy_sdk::{
    CheckRequest, Cluster, Finding, ModuleInfo, Pod, PodPhase, Policy, Severity, Workload,
    WorkloadRef, finding, pod_ref, unknown_node,
};

pub use settings::CODES;

/// The policy.
pub struct Spread;

impl Policy for Spread {
    fn info() -> ModuleInfo {
        ModuleInfo {
            name: "spread".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "deny a recycle that takes every ready replica of a workload down".into(),
        }
    }

    fn validate_settings(settings: &str) -> Result<(), String> {
        Settings::parse(settings).map(|_| ())
    }

    fn check(request: &CheckRequest, cluster: &dyn Cluster) -> Result<Vec<Finding>, String> {
        evaluate(request, cluster)
    }
}

const SPREAD_REMEDY: &str = "spread the replicas: add pod anti-affinity on kubernetes.io/hostname (or a topologySpreadConstraint) and roll the workload; otherwise recycle in a low-traffic window";

/// The whole check: queries, per-workload decisions, severity overrides applied.
pub fn evaluate(request: &CheckRequest, cluster: &dyn Cluster) -> Result<Vec<Finding>, String> {
    let settings = Settings::parse(&request.settings)?;
    let targets = target_pods(cluster, &request.targets);
    let mut findings: Vec<Finding> = targets
        .missing
        .iter()
        .map(|t| unknown_node("spread.unknown-node", t))
        .collect();

    let mut groups: BTreeMap<(String, String, String), (WorkloadRef, Vec<&Pod>)> = BTreeMap::new();
    for pod in targets.pods.iter().filter(|p| evicted_by_drain(p)) {
        if settings.ignore_namespaces.contains(&pod.namespace) {
            continue;
        }
        match &pod.owner {
            None => findings.push(no_controller(pod)),
            // A Job's pods are not replicas serving side by side: evicted, the Job controller
            // re-creates them elsewhere, and spreading them protects nothing.
            Some(owner) if runs_to_completion(&owner.kind) => {}
            Some(owner) => {
                let key = (
                    pod.namespace.clone(),
                    workload_kind_name(&owner.kind).to_owned(),
                    owner.name.clone(),
                );
                groups
                    .entry(key)
                    .or_insert_with(|| (owner.clone(), Vec::new()))
                    .1
                    .push(pod);
            }
        }
    }
    for ((namespace, _, _), (owner, pods)) in &groups {
        let workload = cluster.workload(namespace, &owner.kind, &owner.name);
        findings.extend(decide(namespace, owner, workload.as_ref(), pods));
    }
    settings.severity_overrides.apply(&mut findings);
    Ok(findings)
}

/// The warning for a pod without a controller: the drain deletes it for good.
pub fn no_controller(pod: &Pod) -> Finding {
    finding("spread.no-controller", Severity::Warn, pod_ref(pod))
        .message(format!(
            "pod {}/{} has no controller: the drain deletes it and nothing re-creates it",
            pod.namespace, pod.name
        ))
        .remedy("recreate it from its manifest after the recycle, or run it as a Deployment")
        .build()
}

/// The decision for one workload given the pods it has on the targets.
pub fn decide(
    namespace: &str,
    owner: &WorkloadRef,
    workload: Option<&Workload>,
    pods_on_targets: &[&Pod],
) -> Option<Finding> {
    let kind = workload_kind_name(&owner.kind);
    let subject = workload_ref(namespace, owner);
    let Some(workload) = workload else {
        return Some(
            finding("spread.unknown-workload", Severity::Info, subject)
                .message(format!(
                    "{kind} {namespace}/{} owns pods on the target node(s) but is not in the snapshot; its spread was not checked",
                    owner.name
                ))
                .build(),
        );
    };
    let ready_on_targets = pods_on_targets
        .iter()
        .filter(|p| p.ready && p.phase == PodPhase::Running)
        .count();
    let ready_on_targets = u32::try_from(ready_on_targets).unwrap_or(u32::MAX);
    let mut nodes: Vec<&str> = pods_on_targets
        .iter()
        .filter_map(|p| p.node_name.as_deref())
        .collect();
    nodes.dedup();
    if workload.replicas == 1 {
        return Some(
            finding("spread.single-replica", Severity::Warn, subject)
                .message(format!(
                    "{kind} {namespace}/{} has a single replica, on {}: it is unavailable until its replacement is Ready elsewhere",
                    owner.name,
                    nodes.join(", ")
                ))
                .remedy("scale it to 2 or more replicas with pod anti-affinity before recycling, or recycle in a low-traffic window")
                .build(),
        );
    }
    if workload.replicas > 1
        && workload.ready_replicas > 0
        && ready_on_targets >= workload.ready_replicas
    {
        return Some(
            finding("spread.all-replicas-on-targets", Severity::Deny, subject)
                .message(format!(
                    "all {} ready replicas of {kind} {namespace}/{} ({} desired) are on the target node(s) {}: the service goes down until replacements are Ready elsewhere",
                    workload.ready_replicas,
                    owner.name,
                    workload.replicas,
                    nodes.join(", ")
                ))
                .remedy(SPREAD_REMEDY)
                .build(),
        );
    }
    None
}

tke_recycle_policy_sdk::export_policy!(Spread);

#[cfg(test)]
mod tests;

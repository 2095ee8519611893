//! `local-data`: what does the recycle lose, and what can never move?
//!
//! Removing a TKE node and adding it back reinstalls the OS on the system disk. Three kinds of
//! volume care:
//! - `hostPath`: a directory of the node; wiped by the reinstall (DaemonSet and static pods
//!   included, which the drain does not even evict). System paths are ignored by default.
//! - `emptyDir`: scratch space of the pod; lost when the drain evicts it.
//! - a PVC bound to a local PV pinned to a target node: the evicted pod can never be scheduled
//!   anywhere else, so it stays Pending until the node is back: a deny.
//!
//! Queries: `pods-on-node` per target only.

mod settings;

use settings::Settings;
use tke_recycle_policy_sdk::drain::{evicted_by_drain, target_pods, workload_kind_name};
use tke_recycle_policy_sdk::quantity::format_bytes;
use tke_recycle_policy_sdk::selectors::pod_is_finished;
use tke_recycle_policy_sdk::{
    CheckRequest, Cluster, Finding, ModuleInfo, Pod, Policy, Severity, VolumeSource, finding,
    pod_ref, unknown_node,
};

pub use settings::CODES;

/// The policy.
pub struct LocalData;

impl Policy for LocalData {
    fn info() -> ModuleInfo {
        ModuleInfo {
            name: "local-data".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description:
                "say what data a recycle loses and deny pods pinned to the node by a local PV"
                    .into(),
        }
    }

    fn validate_settings(settings: &str) -> Result<(), String> {
        Settings::parse(settings).map(|_| ())
    }

    fn check(request: &CheckRequest, cluster: &dyn Cluster) -> Result<Vec<Finding>, String> {
        evaluate(request, cluster)
    }
}

/// The whole check: queries, per-pod decisions, severity overrides applied.
pub fn evaluate(request: &CheckRequest, cluster: &dyn Cluster) -> Result<Vec<Finding>, String> {
    let settings = Settings::parse(&request.settings)?;
    let targets = target_pods(cluster, &request.targets);
    let mut findings: Vec<Finding> = targets
        .missing
        .iter()
        .map(|t| unknown_node("local-data.unknown-node", t))
        .collect();
    for pod in &targets.pods {
        findings.extend(check_pod(pod, &request.targets, &settings));
    }
    settings.severity_overrides.apply(&mut findings);
    Ok(findings)
}

fn who(pod: &Pod) -> String {
    let owner = match &pod.owner {
        Some(o) => format!(" ({} {})", workload_kind_name(&o.kind), o.name),
        None if pod.mirror => " (static pod)".to_owned(),
        None => String::new(),
    };
    format!("pod {}/{}{owner}", pod.namespace, pod.name)
}

/// The decision for one pod bound to a target: at most one finding per rule.
pub fn check_pod(pod: &Pod, targets: &[String], settings: &Settings) -> Vec<Finding> {
    if pod_is_finished(pod) {
        return Vec::new();
    }
    let node = pod.node_name.as_deref().unwrap_or("its node");
    let mut findings = Vec::new();
    let mut host_paths = Vec::new();
    let mut empty_dirs = Vec::new();
    for volume in &pod.volumes {
        match &volume.source {
            VolumeSource::PersistentVolumeClaim(claim) => {
                let Some(pinned) = claim.pinned_node.as_deref() else {
                    continue;
                };
                if !targets.iter().any(|t| t == pinned) {
                    continue;
                }
                let class = claim
                    .storage_class
                    .as_deref()
                    .map(|c| format!(", storage class {c}"))
                    .unwrap_or_default();
                findings.push(
                    finding("local-data.pinned-volume", Severity::Deny, pod_ref(pod))
                        .message(format!(
                            "{} uses PVC {}{class}, bound to a local PV pinned to node {pinned}: once evicted it can run nowhere else and stays Pending until the node is back, and the volume's data survives only if it lives on a data disk that TKE mounts as it is",
                            who(pod),
                            claim.name
                        ))
                        .remedy("move the data first: let the application replicate to a member on another node, or back up and restore into a network volume (CBS), then delete this PVC so the controller provisions a new one")
                        .build(),
                );
            }
            VolumeSource::HostPath(path) if !settings.ignores(path) => {
                host_paths.push(path.as_str());
            }
            VolumeSource::HostPath(_) => {}
            VolumeSource::EmptyDir(dir) if evicted_by_drain(pod) => {
                let mut what = volume.name.clone();
                if dir.in_memory {
                    what.push_str(" (in memory)");
                }
                if let Some(limit) = dir.size_limit_bytes {
                    what.push_str(&format!(" (up to {})", format_bytes(limit)));
                }
                empty_dirs.push(what);
            }
            VolumeSource::EmptyDir(_) => {}
        }
    }
    if !host_paths.is_empty() {
        findings.push(
            finding("local-data.host-path", Severity::Warn, pod_ref(pod))
                .message(format!(
                    "{} keeps data in hostPath {} on {node}: the OS reinstall wipes the system disk, so it is lost{}",
                    who(pod),
                    host_paths.join(", "),
                    if evicted_by_drain(pod) { "" } else { " (the drain does not evict this pod, but the reinstall removes it all the same)" }
                ))
                .remedy("copy the data off the node before recycling, or move it to a PersistentVolume; data on a separate data disk survives only if TKE mounts it as it is (ext3/ext4/xfs) or a user script remounts it")
                .build(),
        );
    }
    if !empty_dirs.is_empty() {
        findings.push(
            finding("local-data.empty-dir", Severity::Warn, pod_ref(pod))
                .message(format!(
                    "{} loses its emptyDir volume(s) {} when the drain evicts it",
                    who(pod),
                    empty_dirs.join(", ")
                ))
                .remedy("make sure the application treats it as a cache, or move what must survive to a PersistentVolume")
                .build(),
        );
    }
    findings
}

tke_recycle_policy_sdk::export_policy!(LocalData);

#[cfg(test)]
mod tests;

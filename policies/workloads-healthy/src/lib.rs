//! `workloads-healthy`: the gate before the next node (a post-check).
//!
//! The runbook records, before the drain, which workloads and PodDisruptionBudgets had pods on the
//! node; it hands them over as `check-request.affected`. After the node is back, every such
//! workload must have its desired replicas ready again and every such PDB must have
//! `currentHealthy >= desiredHealthy`; otherwise recycling the next node would cut deeper into
//! the same service. A Job or CronJob wants as many pods as it is running now (none once
//! finished), so a finished one passes and a running one whose evicted pods are not back does
//! not; a Job deleted since the drain passes, finished Jobs are deleted on their own.
//!
//! The `cluster` interface has no PDB lookup by name, so a PDB is found through the pods of the
//! affected workloads (`pods-matching` per workload, then one `pdbs-covering`); a PDB that covers
//! none of them is reported as not checked rather than passed silently.

mod settings;

use std::collections::BTreeMap;

use settings::Settings;
use tke_recycle_policy_sdk::drain::parse_workload_kind;
use tke_recycle_policy_sdk::selectors::pod_is_finished;
use tke_recycle_policy_sdk::{
    CheckRequest, Cluster, Finding, ModuleInfo, ObjectRef, Pdb, Phase, Policy, Severity, Workload,
    WorkloadKind, finding, object_ref, pod_ref,
};

pub use settings::CODES;

/// The policy.
pub struct WorkloadsHealthy;

impl Policy for WorkloadsHealthy {
    fn info() -> ModuleInfo {
        ModuleInfo {
            name: "workloads-healthy".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description:
                "post-check: every workload and PDB the recycled node affected is healthy again"
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

const PDB_KIND: &str = "PodDisruptionBudget";

/// The whole check: look up every affected object and decide.
pub fn evaluate(request: &CheckRequest, cluster: &dyn Cluster) -> Result<Vec<Finding>, String> {
    let settings = Settings::parse(&request.settings)?;
    let mut findings = Vec::new();
    if request.affected.is_empty() {
        if request.phase == Phase::Post {
            findings.push(
                finding(
                    "workloads-healthy.nothing-recorded",
                    Severity::Info,
                    object_ref("Node", None, &request.targets.join(",")),
                )
                .message("no affected workloads or PDBs were recorded for this node, so there was nothing to check")
                .build(),
            );
        }
        settings.severity_overrides.apply(&mut findings);
        return Ok(findings);
    }

    let mut workloads = Vec::new();
    for r in request.affected.iter().filter(|r| r.kind != PDB_KIND) {
        let kind = parse_workload_kind(&r.kind);
        let namespace = r.namespace.as_deref().unwrap_or("default");
        match cluster.workload(namespace, &kind, &r.name) {
            // A Job's replicas are the pods it wants running now (none once finished), so a
            // running Job whose evicted pods did not come back is short like any workload.
            Some(w) => {
                findings.extend(workload_finding(&w));
                workloads.push(w);
            }
            // Finished Jobs are deleted on their own (ttlSecondsAfterFinished, a CronJob's
            // history limit): one gone since the drain is no news.
            None if kind == WorkloadKind::Job => {}
            None => findings.push(
                finding("workloads-healthy.workload-missing", Severity::Warn, r.clone())
                    .message(format!(
                        "{} {namespace}/{} had pods on the recycled node but is no longer in the cluster",
                        r.kind, r.name
                    ))
                    .remedy("confirm it was deleted on purpose before recycling the next node")
                    .build(),
            ),
        }
    }

    let wanted: Vec<&ObjectRef> = request
        .affected
        .iter()
        .filter(|r| r.kind == PDB_KIND)
        .collect();
    if !wanted.is_empty() {
        let found = find_pdbs(cluster, &workloads);
        for r in wanted {
            let key = (r.namespace.clone().unwrap_or_default(), r.name.clone());
            match found.get(&key) {
                Some(pdb) => findings.extend(pdb_finding(pdb)),
                None => findings.push(
                    finding("workloads-healthy.pdb-not-found", Severity::Warn, r.clone())
                        .message(format!(
                            "PDB {}/{} had pods on the recycled node but covers none of the affected workloads' pods now, so it was not checked",
                            key.0, key.1
                        ))
                        .remedy(format!(
                            "check it by hand: kubectl -n {} get pdb {}",
                            key.0, key.1
                        ))
                        .build(),
                ),
            }
        }
    }
    settings.severity_overrides.apply(&mut findings);
    Ok(findings)
}

/// The PDBs covering the current pods of the given workloads, by namespace and name.
fn find_pdbs(cluster: &dyn Cluster, workloads: &[Workload]) -> BTreeMap<(String, String), Pdb> {
    let refs: Vec<ObjectRef> = workloads
        .iter()
        // An empty selector is a CronJob's (its Jobs select by their own uid): it would match
        // the whole namespace.
        .filter(|w| {
            !(w.selector.match_labels.is_empty() && w.selector.match_expressions.is_empty())
        })
        .flat_map(|w| cluster.pods_matching(&w.namespace, &w.selector))
        .filter(|p| !pod_is_finished(p))
        .map(|p| pod_ref(&p))
        .collect();
    if refs.is_empty() {
        return BTreeMap::new();
    }
    cluster
        .pdbs_covering(&refs)
        .into_iter()
        .map(|c| ((c.pdb.namespace.clone(), c.pdb.name.clone()), c.pdb))
        .collect()
}

/// Deny when a workload has fewer ready replicas than it wants.
pub fn workload_finding(w: &Workload) -> Option<Finding> {
    let kind = tke_recycle_policy_sdk::drain::workload_kind_name(&w.kind);
    (w.ready_replicas < w.replicas).then(|| {
        finding(
            "workloads-healthy.not-ready",
            Severity::Deny,
            object_ref(kind, Some(&w.namespace), &w.name),
        )
        .message(format!(
            "{kind} {}/{} has {} of {} replicas ready",
            w.namespace, w.name, w.ready_replicas, w.replicas
        ))
        .remedy(format!(
            "wait and re-run the post-check; if it stays short, look at its pods (kubectl -n {} get pods, describe the Pending or not-Ready ones) before recycling the next node",
            w.namespace
        ))
        .build()
    })
}

/// Deny when a PDB is below its desired healthy count.
pub fn pdb_finding(pdb: &Pdb) -> Option<Finding> {
    (pdb.current_healthy < pdb.desired_healthy).then(|| {
        finding(
            "workloads-healthy.pdb-unhealthy",
            Severity::Deny,
            object_ref(PDB_KIND, Some(&pdb.namespace), &pdb.name),
        )
        .message(format!(
            "PDB {}/{} has currentHealthy {} below desiredHealthy {} (expectedPods {})",
            pdb.namespace, pdb.name, pdb.current_healthy, pdb.desired_healthy, pdb.expected_pods
        ))
        .remedy("wait until its pods are Ready again before recycling the next node")
        .build()
    })
}

tke_recycle_policy_sdk::export_policy!(WorkloadsHealthy);

#[cfg(test)]
mod tests;

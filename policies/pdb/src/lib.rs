//! `pdb`: will PodDisruptionBudgets let the drain finish?
//!
//! For every PDB covering a pod that the drain evicts from the target node(s): a budget that can
//! never allow the disruption is a deny (`minAvailable` equal to the expected pods, `maxUnavailable`
//! 0); a pod covered by more than one PDB is a deny (the Eviction API refuses it). Fewer
//! disruptions at full health than healthy covered pods on the targets, a budget exhausted now,
//! and a budget consumed by pods that are already unhealthy are warnings: the drain will wait.
//! TKE's guide suggests deleting the PDB; this policy names the remedy and never does it.
//!
//! Queries: `pods-on-node` per target, one `pdbs-covering` for all evicted pods, and
//! `pods-matching` only for a PDB whose status says some of its pods are unhealthy.

pub mod rules;
mod settings;

use std::collections::BTreeMap;

use settings::Settings;
use tke_recycle_policy_sdk::drain::{evicted_by_drain, target_pods};
use tke_recycle_policy_sdk::selectors::pod_is_finished;
use tke_recycle_policy_sdk::{
    CheckRequest, Cluster, Finding, ModuleInfo, Pdb, Pod, Policy, pod_ref, unknown_node,
};

pub use settings::CODES;

/// The policy.
pub struct PdbPolicy;

impl Policy for PdbPolicy {
    fn info() -> ModuleInfo {
        ModuleInfo {
            name: "pdb".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "deny a recycle that PodDisruptionBudgets can never allow; warn when a budget is exhausted".into(),
        }
    }

    fn validate_settings(settings: &str) -> Result<(), String> {
        Settings::parse(settings).map(|_| ())
    }

    fn check(request: &CheckRequest, cluster: &dyn Cluster) -> Result<Vec<Finding>, String> {
        evaluate(request, cluster)
    }
}

/// The whole check: queries, per-budget decisions, severity overrides applied.
pub fn evaluate(request: &CheckRequest, cluster: &dyn Cluster) -> Result<Vec<Finding>, String> {
    let settings = Settings::parse(&request.settings)?;
    let targets = target_pods(cluster, &request.targets);
    let mut findings: Vec<Finding> = targets
        .missing
        .iter()
        .map(|t| unknown_node("pdb.unknown-node", t))
        .collect();

    let evicted: Vec<&Pod> = targets
        .pods
        .iter()
        .filter(|p| evicted_by_drain(p))
        .collect();
    if evicted.is_empty() {
        return Ok(findings);
    }
    let refs: Vec<_> = evicted.iter().map(|p| pod_ref(p)).collect();
    let covering = cluster.pdbs_covering(&refs);

    let by_name: BTreeMap<(&str, &str), &Pod> = evicted
        .iter()
        .map(|p| ((p.namespace.as_str(), p.name.as_str()), *p))
        .collect();
    let mut pdbs_of_pod: BTreeMap<(&str, &str), Vec<&Pdb>> = BTreeMap::new();
    for c in &covering {
        let on_targets: Vec<&Pod> = c
            .pods
            .iter()
            .filter_map(|name| {
                by_name
                    .get(&(c.pdb.namespace.as_str(), name.as_str()))
                    .copied()
            })
            .collect();
        for pod in &on_targets {
            pdbs_of_pod
                .entry((pod.namespace.as_str(), pod.name.as_str()))
                .or_default()
                .push(&c.pdb);
        }
        let unhealthy = if c.pdb.current_healthy < c.pdb.expected_pods {
            unhealthy_pods(cluster, &c.pdb, settings.max_pods_named)
        } else {
            Vec::new()
        };
        findings.extend(rules::assess(&c.pdb, &on_targets, &unhealthy));
    }
    for (key, pdbs) in &pdbs_of_pod {
        if pdbs.len() > 1
            && let Some(pod) = by_name.get(key)
        {
            findings.push(rules::multiple_pdbs(pod, pdbs));
        }
    }
    settings.severity_overrides.apply(&mut findings);
    Ok(findings)
}

/// Up to `limit` names of the unfinished pods the budget covers that are not healthy, with a
/// count of the rest.
fn unhealthy_pods(cluster: &dyn Cluster, pdb: &Pdb, limit: u32) -> Vec<String> {
    let mut names: Vec<String> = cluster
        .pods_matching(&pdb.namespace, &pdb.selector)
        .iter()
        .filter(|p| !pod_is_finished(p) && !rules::is_healthy(p))
        .map(|p| match &p.node_name {
            Some(node) => format!("{} on {node}", p.name),
            None => format!("{} (unscheduled)", p.name),
        })
        .collect();
    names.sort();
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if names.len() > limit {
        let more = names.len() - limit;
        names.truncate(limit);
        names.push(format!("{more} more"));
    }
    names
}

tke_recycle_policy_sdk::export_policy!(PdbPolicy);

#[cfg(test)]
mod tests;

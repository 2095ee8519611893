//! The PDB arithmetic and the decision for one budget: pure functions of the PDB record and the
//! pods of the targets that it covers.
//!
//! The numbers follow the disruption controller: a percentage is scaled against `expectedPods`
//! and rounded up (for `minAvailable` and `maxUnavailable` alike); a healthy pod is Running and
//! Ready; evicting a healthy pod consumes one of `disruptionsAllowed`.

use tke_recycle_policy_sdk::{
    Finding, IntOrPercent, Pdb, Pod, PodPhase, Severity, UnhealthyPodEvictionPolicy, finding,
    object_ref,
};

/// A percentage or count scaled against `expected`, rounded up like the disruption controller.
pub fn scaled(value: IntOrPercent, expected: u32) -> u32 {
    match value {
        IntOrPercent::Count(n) => n,
        IntOrPercent::Percent(p) => {
            let p = u64::from(p.min(100));
            u32::try_from((p * u64::from(expected)).div_ceil(100)).unwrap_or(u32::MAX)
        }
    }
}

/// How many disruptions the budget allows when every expected pod is healthy.
pub fn allowance_at_full_health(pdb: &Pdb) -> u32 {
    let expected = pdb.expected_pods;
    match (pdb.min_available, pdb.max_unavailable) {
        (Some(min), _) => expected.saturating_sub(scaled(min, expected)),
        (None, Some(max)) => scaled(max, expected).min(expected),
        (None, None) => expected.saturating_sub(pdb.desired_healthy),
    }
}

/// `minAvailable 2`, `maxUnavailable 25%`.
pub fn describe_budget(pdb: &Pdb) -> String {
    let show = |v: IntOrPercent| match v {
        IntOrPercent::Count(n) => n.to_string(),
        IntOrPercent::Percent(p) => format!("{p}%"),
    };
    match (pdb.min_available, pdb.max_unavailable) {
        (Some(min), _) => format!("minAvailable {}", show(min)),
        (None, Some(max)) => format!("maxUnavailable {}", show(max)),
        (None, None) => "no minAvailable/maxUnavailable".to_owned(),
    }
}

/// Running and Ready: what the disruption controller counts as healthy.
pub fn is_healthy(pod: &Pod) -> bool {
    pod.phase == PodPhase::Running && pod.ready
}

fn status(pdb: &Pdb) -> String {
    format!(
        "{}; expectedPods {}, currentHealthy {}, desiredHealthy {}, disruptionsAllowed {}",
        describe_budget(pdb),
        pdb.expected_pods,
        pdb.current_healthy,
        pdb.desired_healthy,
        pdb.disruptions_allowed
    )
}

fn subject(pdb: &Pdb) -> tke_recycle_policy_sdk::ObjectRef {
    object_ref("PodDisruptionBudget", Some(&pdb.namespace), &pdb.name)
}

fn names(pods: &[&Pod]) -> String {
    pods.iter()
        .map(|p| p.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

const NEVER_DELETE: &str = "tke-recycle never deletes or relaxes a PDB on its own; change it knowingly and restore it after the recycle";

/// The findings for one budget covering `on_targets` (the evicted pods of the targets it covers).
/// `unhealthy` names pods it covers anywhere that are not healthy (asked only when the status says
/// some are).
pub fn assess(pdb: &Pdb, on_targets: &[&Pod], unhealthy: &[String]) -> Vec<Finding> {
    let mut findings = Vec::new();
    let name = format!("{}/{}", pdb.namespace, pdb.name);
    let full = allowance_at_full_health(pdb);
    let healthy_on_targets: Vec<&Pod> = on_targets
        .iter()
        .copied()
        .filter(|p| is_healthy(p))
        .collect();

    if pdb.expected_pods > 0 && full == 0 {
        findings.push(
            finding("pdb.zero-budget", Severity::Deny, subject(pdb))
                .message(format!(
                    "PDB {name} can never allow a disruption ({}): even with every pod healthy it allows 0, so evicting {} from the target node(s) would wait forever",
                    status(pdb),
                    names(on_targets)
                ))
                .remedy(match pdb.min_available {
                    Some(_) => format!(
                        "scale the workload to {} replicas, or replace minAvailable with maxUnavailable: 1 (kubectl -n {} edit pdb {}); {NEVER_DELETE}",
                        pdb.expected_pods + 1,
                        pdb.namespace,
                        pdb.name
                    ),
                    None => format!(
                        "set maxUnavailable: 1 (kubectl -n {} edit pdb {}); {NEVER_DELETE}",
                        pdb.namespace, pdb.name
                    ),
                })
                .build(),
        );
    } else if u32::try_from(healthy_on_targets.len()).unwrap_or(u32::MAX) > full {
        findings.push(
            // A warning, not a deny: the drain evicts what the budget allows, retries the rest
            // (429) and proceeds as the replacements become Ready elsewhere. It only stalls for
            // good when they cannot, which `headroom.unschedulable` reports.
            finding("pdb.budget-exceeded-by-node", Severity::Warn, subject(pdb))
                .message(format!(
                    "PDB {name} allows at most {full} disruption(s) even at full health ({}), but {} healthy pods it covers are on the target node(s): {}; the drain evicts {full} at a time and waits for each replacement to become Ready elsewhere, and stalls if one cannot",
                    status(pdb),
                    healthy_on_targets.len(),
                    names(&healthy_on_targets)
                ))
                .remedy(format!(
                    "spread the pods first (pod anti-affinity or topology spread), raise the budget to maxUnavailable: {}, or recycle the nodes one at a time; {NEVER_DELETE}",
                    healthy_on_targets.len()
                ))
                .build(),
        );
    } else if pdb.disruptions_allowed == 0 {
        findings.push(
            finding("pdb.exhausted", Severity::Warn, subject(pdb))
                .message(format!(
                    "PDB {name} allows no disruption right now ({}): the drain will wait at {} until it does",
                    status(pdb),
                    names(on_targets)
                ))
                .remedy("let the workload become fully healthy first (see pdb.unhealthy-pods), then recycle")
                .build(),
        );
    }

    if pdb.current_healthy < pdb.expected_pods {
        let missing = pdb.expected_pods - pdb.current_healthy;
        let consumed = full.saturating_sub(pdb.disruptions_allowed);
        let policy = match pdb.unhealthy_pod_eviction_policy {
            UnhealthyPodEvictionPolicy::IfHealthyBudget => {
                "with unhealthyPodEvictionPolicy IfHealthyBudget a not-Ready pod can be evicted only while currentHealthy >= desiredHealthy"
            }
            UnhealthyPodEvictionPolicy::AlwaysAllow => {
                "with unhealthyPodEvictionPolicy AlwaysAllow not-Ready pods can always be evicted"
            }
        };
        let named = if unhealthy.is_empty() {
            String::new()
        } else {
            format!(" ({})", unhealthy.join(", "))
        };
        findings.push(
            finding("pdb.unhealthy-pods", Severity::Warn, subject(pdb))
                .message(format!(
                    "{missing} of the {} pods PDB {name} expects are not healthy{named}: they consume {consumed} of the {full} disruption(s) it allows at full health; {policy}",
                    pdb.expected_pods
                ))
                .remedy("fix the unhealthy pods (kubectl describe pod) before recycling; the budget frees itself when they are Ready")
                .build(),
        );
    }
    findings
}

/// The deny for a pod that several budgets cover: the Eviction API refuses it outright
/// (HTTP 500 "more than one PodDisruptionBudget"), so the drain can never evict it.
pub fn multiple_pdbs(pod: &Pod, pdbs: &[&Pdb]) -> Finding {
    let list = pdbs
        .iter()
        .map(|p| format!("{} ({})", p.name, describe_budget(p)))
        .collect::<Vec<_>>()
        .join(", ");
    finding(
        "pdb.multiple-pdbs",
        Severity::Deny,
        tke_recycle_policy_sdk::pod_ref(pod),
    )
    .message(format!(
        "pod {}/{} is covered by {} PDBs: {list}; the Eviction API refuses to evict such a pod",
        pod.namespace,
        pod.name,
        pdbs.len()
    ))
    .remedy("narrow the PDB selectors so that each pod is covered by exactly one PDB")
    .build()
}

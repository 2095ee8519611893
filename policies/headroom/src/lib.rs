//! `headroom`: will the pods a drain evicts find a place to run?
//!
//! TKE's runbook asks the operator to eyeball whether the other nodes have room. This policy runs
//! the scheduler's filters instead ([`simulate`]): every pod the drain evicts and a controller
//! re-creates (not DaemonSet, mirror, finished, terminating or bare pods) is placed, highest
//! priority first, onto the nodes that stay schedulable. A pod that fits nowhere is a deny with a
//! scheduler-style reason summary; a cluster that ends up too full, or a node that receives too
//! many pods at once, is a warning.
//!
//! Queries: `nodes()` once, `pods-on-node` per target, one `nodes-with-pods-matching` per
//! distinct anti-affinity term, one `pods-with-anti-affinity-matching` per distinct namespace
//! and label set of the evicted pods (the stayers that refuse them) and one `pods-matching` per distinct hard topology spread
//! constraint; never a scan of every pod.

pub mod affinity;
pub mod preempt;
mod settings;
pub mod simulate;
pub mod spread;

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use settings::Settings;
use simulate::{Misfit, Moving, Outcome, node_label};
use tke_recycle_policy_sdk::drain::{evicted_by_drain, is_replaced_after_eviction};
use tke_recycle_policy_sdk::quantity::{format_bytes, format_cpu};
use tke_recycle_policy_sdk::selectors::pod_is_finished;
use tke_recycle_policy_sdk::{
    CheckRequest, Cluster, Finding, ModuleInfo, NodeSummary, Pod, Policy, Severity, finding,
    object_ref, pod_ref, unknown_node,
};

pub use settings::CODES;

/// The policy.
pub struct Headroom;

impl Policy for Headroom {
    fn info() -> ModuleInfo {
        ModuleInfo {
            name: "headroom".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description:
                "simulate placing the evicted pods on the remaining nodes; deny what fits nowhere"
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

/// The whole check: queries, simulation, findings with severity overrides applied.
pub fn evaluate(request: &CheckRequest, cluster: &dyn Cluster) -> Result<Vec<Finding>, String> {
    let settings = Settings::parse(&request.settings)?;
    let mut nodes = cluster.nodes();
    // Sorted by name (the host already answers in that order, so this is one pass), nodes are
    // found by binary search: no second index of 5,000 names to build.
    nodes.sort_by(|a, b| a.node.name.cmp(&b.node.name));
    let targets: BTreeSet<&str> = request.targets.iter().map(String::as_str).collect();
    let find = |name: &str| find_node(&nodes, name);

    let mut findings = Vec::new();
    let mut moving = Vec::new();
    for target in &request.targets {
        if find(target).is_none() {
            findings.push(unknown_node("headroom.unknown-node", target));
            continue;
        }
        moving.extend(
            cluster
                .pods_on_node(target)
                .into_iter()
                .filter(needs_placement)
                .map(Moving::new),
        );
    }

    let mut prep = Prep {
        cluster,
        nodes: &nodes,
        targets: &targets,
        seen: BTreeMap::new(),
        refusing: BTreeMap::new(),
        counted: BTreeMap::new(),
        affine: BTreeMap::new(),
        residents: BTreeMap::new(),
    };
    for m in &mut moving {
        simulate::Env::prepare(&mut prep, m);
    }

    let outcome = simulate::simulate(&nodes, &targets, moving, &mut prep);
    let cluster_name = cluster
        .info()
        .cluster_id
        .unwrap_or_else(|| "cluster".to_owned());
    findings.extend(findings_for(&outcome, &settings, &cluster_name));
    if settings.report_placements {
        findings.extend(placement_finding(&outcome, &cluster_name));
    }
    settings.severity_overrides.apply(&mut findings);
    Ok(findings)
}

fn find_node(nodes: &[NodeSummary], name: &str) -> Option<usize> {
    nodes
        .binary_search_by(|s| s.node.name.as_str().cmp(name))
        .ok()
}

/// What the simulation needs to know about the pods that stay, asked of the cluster once per
/// distinct question and shared between the pods that ask it.
struct Prep<'a> {
    cluster: &'a dyn Cluster,
    /// Sorted by name.
    nodes: &'a [NodeSummary],
    targets: &'a BTreeSet<&'a str>,
    seen: BTreeMap<String, Rc<simulate::Domains>>,
    refusing: BTreeMap<String, Option<Rc<simulate::Domains>>>,
    counted: BTreeMap<String, Rc<spread::NodeCounts>>,
    affine: BTreeMap<String, affinity::DomainCounts>,
    residents: BTreeMap<String, Rc<Vec<Pod>>>,
}

impl simulate::Env for Prep<'_> {
    fn residents(&mut self, node: &str) -> Rc<Vec<Pod>> {
        let cluster = self.cluster;
        Rc::clone(
            self.residents
                .entry(node.to_owned())
                .or_insert_with(|| Rc::new(cluster.pods_on_node(node))),
        )
    }

    fn prepare(&mut self, m: &mut Moving) {
        let (cluster, nodes, targets) = (self.cluster, self.nodes, self.targets);
        let find = |name: &str| find_node(nodes, name);
        // Required anti-affinity against pods that stay put: one query per distinct term. Pods on the
        // targets do not count here; they move, and the simulation tracks where they land.
        {
            for term in &m.pod.required_anti_affinity {
                let namespaces = if term.namespaces.is_empty() {
                    vec![m.pod.namespace.clone()]
                } else {
                    term.namespaces.clone()
                };
                let key = format!("{namespaces:?}{:?}{}", term.selector, term.topology_key);
                let domains = self.seen.entry(key).or_insert_with(|| {
                    let mut domains = simulate::Domains::new();
                    for host in cluster.nodes_with_pods_matching(&namespaces, &term.selector) {
                        if targets.contains(host.as_str()) {
                            continue;
                        }
                        let Some(i) = find(&host) else {
                            continue;
                        };
                        if let Some(value) = node_label(&nodes[i].node, &term.topology_key) {
                            simulate::forbid(&mut domains, &term.topology_key, value);
                        }
                    }
                    Rc::new(domains)
                });
                if !domains.is_empty() {
                    m.shared.push(Rc::clone(domains));
                }
            }
        }

        // Required anti-affinity of the pods that stay, the other direction: a pod that stays refuses
        // an evicted pod its terms select in the stayer's topology domain. One query per distinct
        // namespace and label set (the pods of one workload share both).
        {
            let key = format!("{}|{:?}", m.pod.namespace, m.pod.labels);
            let refused = self.refusing.entry(key).or_insert_with(|| {
                let mut domains = simulate::Domains::new();
                for holder in
                    cluster.pods_with_anti_affinity_matching(&m.pod.namespace, &m.pod.labels)
                {
                    let Some(i) = holder.node_name.as_deref().and_then(&find) else {
                        continue;
                    };
                    // Pods the drain evicts move, and the simulation applies their terms where they
                    // land; a terminating pod's terms stop counting once it is gone.
                    let gone =
                        targets.contains(nodes[i].node.name.as_str()) && evicted_by_drain(&holder);
                    if gone || holder.terminating || pod_is_finished(&holder) {
                        continue;
                    }
                    for term in &holder.required_anti_affinity {
                        if simulate::term_selects(term, &holder.namespace, &m.pod)
                            && let Some(value) = node_label(&nodes[i].node, &term.topology_key)
                        {
                            simulate::forbid(&mut domains, &term.topology_key, value);
                        }
                    }
                }
                (!domains.is_empty()).then(|| Rc::new(domains))
            });
            m.refused = refused.clone();
        }

        // Hard topology spread: the matching pods per node that stay after the drain, one query per
        // distinct (namespace, selector).
        {
            let mut existing = Vec::new();
            for c in spread::hard_constraints(&m.pod) {
                let key = format!("{}|{:?}", m.pod.namespace, c.selector);
                let per_node = self.counted.entry(key).or_insert_with(|| {
                    let mut per_node = spread::NodeCounts::new();
                    for p in cluster.pods_matching(&m.pod.namespace, &c.selector) {
                        let Some(node) = p.node_name.as_deref() else {
                            continue;
                        };
                        // The drain deletes what it evicts from the targets; terminating and
                        // finished pods are not counted by the scheduler either.
                        let gone = targets.contains(node) && evicted_by_drain(&p);
                        if gone || p.terminating || pod_is_finished(&p) {
                            continue;
                        }
                        *per_node.entry(node.to_owned()).or_insert(0) += 1;
                    }
                    Rc::new(per_node)
                });
                existing.push(Rc::clone(per_node));
            }
            m.spread_existing = existing;
        }

        // Required pod affinity: where the pods that stay and match all of a pod's terms run, one
        // `pods-matching` per namespace of the first term and distinct set of terms.
        if !affinity::terms(&m.pod).is_empty() {
            let key = format!("{}|{:?}", m.pod.namespace, affinity::terms(&m.pod));
            let counts = self.affine.entry(key).or_insert_with(|| {
                let first = &affinity::terms(&m.pod)[0];
                let namespaces = if first.namespaces.is_empty() {
                    vec![m.pod.namespace.clone()]
                } else {
                    first.namespaces.clone()
                };
                let mut counts = affinity::DomainCounts::new();
                for ns in &namespaces {
                    for p in cluster.pods_matching(ns, &first.selector) {
                        let Some(i) = p.node_name.as_deref().and_then(&find) else {
                            continue;
                        };
                        let gone =
                            targets.contains(nodes[i].node.name.as_str()) && evicted_by_drain(&p);
                        if gone || p.terminating || pod_is_finished(&p) {
                            continue;
                        }
                        affinity::record(&m.pod, &mut counts, &p, &nodes[i].node);
                    }
                }
                counts
            });
            m.affinity = counts.clone();
        }
    }
}

/// Pods whose replacement the scheduler must place: evicted by the drain, not already
/// terminating (their replacement exists), and owned by a controller (a bare pod is not re-created).
pub fn needs_placement(pod: &Pod) -> bool {
    evicted_by_drain(pod) && !pod.terminating && is_replaced_after_eviction(pod)
}

fn describe_requests(pod: &Pod) -> String {
    let r = &pod.requests;
    let mut parts = vec![
        format!("cpu {}", format_cpu(r.cpu_millis)),
        format!("memory {}", format_bytes(r.memory_bytes)),
    ];
    parts.extend(
        r.extended
            .iter()
            .map(|e| format!("{} {}", e.name, e.amount)),
    );
    parts.join(", ")
}

fn percent(part: u64, whole: u64) -> u64 {
    if whole == 0 {
        return 0;
    }
    u64::try_from(u128::from(part) * 100 / u128::from(whole)).unwrap_or(u64::MAX)
}

/// What to do, from the most frequent reason that is not "the node is out anyway".
fn remedy_for(reasons: &[(Misfit, u32)]) -> String {
    let main = reasons
        .iter()
        .map(|(m, _)| m)
        .find(|m| !matches!(m, Misfit::Recycled | Misfit::NotReady | Misfit::Cordoned));
    match main {
        Some(Misfit::VolumePinned) => "its local volume is pinned to a node being recycled (see local-data.pinned-volume): move the data first".to_owned(),
        Some(Misfit::Spread) => "a topology spread constraint (DoNotSchedule) leaves no node within maxSkew: the drained node still counts as a domain, now with 0 pods, unless the constraint sets nodeTaintsPolicy: Honor; add a node before recycling, raise maxSkew, or set nodeTaintsPolicy: Honor".to_owned(),
        Some(Misfit::SpreadMissingLabel) => "no remaining node carries the topology key of its spread constraint: label the nodes, or add a labelled node before recycling".to_owned(),
        Some(Misfit::Affinity) => "required pod affinity finds no pod it must run next to on the remaining nodes (it may have been on the drained node): recycle the pods it follows first, or make the affinity preferred".to_owned(),
        Some(Misfit::AntiAffinity) => "required pod anti-affinity leaves no node for it: add a node before recycling, or make the anti-affinity preferred".to_owned(),
        Some(Misfit::ExistingAntiAffinity) => "pods on the remaining nodes refuse it by their required anti-affinity: add a node before recycling, or make their anti-affinity preferred".to_owned(),
        Some(Misfit::Insufficient(r)) => format!("add capacity before recycling (scale the node pool up by one node with enough {r}), or lower the pod's requests"),
        Some(Misfit::Taint(_) | Misfit::NodeAffinity) => "no other node matches its tolerations/nodeSelector/affinity: add a node of that pool before recycling, or widen them".to_owned(),
        _ => "add a schedulable node before recycling (every other node is cordoned or not ready)".to_owned(),
    }
}

/// Where the simulation expects the evicted pods to land, as one info finding: `pod -> node`
/// per pod, grouped by node, cut to stay within the host's 4 KiB message limit.
pub fn placement_finding(outcome: &Outcome, cluster_name: &str) -> Option<Finding> {
    if outcome.placed.is_empty() {
        return None;
    }
    let mut by_node: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (pod, node) in &outcome.placed {
        by_node
            .entry(node.as_str())
            .or_default()
            .push(format!("{}/{}", pod.namespace, pod.name));
    }
    let mut message = format!(
        "{} evicted pod(s) are expected to land on: ",
        outcome.placed.len()
    );
    let parts: Vec<String> = by_node
        .iter()
        .map(|(node, pods)| format!("{node} ({}: {})", pods.len(), pods.join(", ")))
        .collect();
    message.push_str(&parts.join("; "));
    const LIMIT: usize = 3_900;
    if message.len() > LIMIT {
        let mut cut = LIMIT;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
        message.push_str(" ...");
    }
    Some(
        finding(
            "headroom.placement",
            Severity::Info,
            tke_recycle_policy_sdk::object_ref("Cluster", None, cluster_name),
        )
        .message(message)
        .build(),
    )
}

/// The findings for a simulation outcome (before severity overrides).
pub fn findings_for(outcome: &Outcome, settings: &Settings, cluster_name: &str) -> Vec<Finding> {
    let mut findings = Vec::new();
    for u in &outcome.unplaced {
        let owner = u
            .pod
            .owner
            .as_ref()
            .map(|o| {
                format!(
                    " of {} {}",
                    tke_recycle_policy_sdk::drain::workload_kind_name(&o.kind),
                    o.name
                )
            })
            .unwrap_or_default();
        let remedy = remedy_for(&u.reasons);
        findings.push(
            finding("headroom.unschedulable", Severity::Deny, pod_ref(&u.pod))
                .message(format!(
                    "pod {}/{}{} ({}) fits on no node after the drain and would stay Pending: {}",
                    u.pod.namespace,
                    u.pod.name,
                    owner,
                    describe_requests(&u.pod),
                    u.summary
                ))
                .remedy(remedy)
                .build(),
        );
    }

    for p in &outcome.preemptions {
        let victims: Vec<String> = p
            .victims
            .iter()
            .map(|v| format!("{}/{} (priority {})", v.namespace, v.name, v.priority))
            .collect();
        findings.push(
            finding("headroom.preemption", Severity::Warn, pod_ref(&p.pod))
                .message(format!(
                    "pod {}/{} (priority {}) fits only by preempting {} lower-priority pod(s) on node {}: {}; the scheduler deletes them (PDBs do not stop it) and their replacements must find room elsewhere",
                    p.pod.namespace,
                    p.pod.name,
                    p.pod.priority,
                    victims.len(),
                    p.node,
                    victims.join(", ")
                ))
                .remedy("add capacity before recycling so nothing is preempted, or accept that the lower-priority pods restart (a headroom.unschedulable finding names any that then fit nowhere)")
                .build(),
        );
    }

    let a = &outcome.allocation;
    let max = u64::from(settings.max_allocation_percent);
    let cpu = percent(a.cpu_requested, a.cpu_allocatable);
    let memory = percent(a.memory_requested, a.memory_allocatable);
    let over_cpu =
        u128::from(a.cpu_requested) * 100 > u128::from(a.cpu_allocatable) * u128::from(max);
    let over_memory =
        u128::from(a.memory_requested) * 100 > u128::from(a.memory_allocatable) * u128::from(max);
    if over_cpu || over_memory {
        findings.push(
            finding(
                "headroom.allocation-high",
                Severity::Warn,
                object_ref("Cluster", None, cluster_name),
            )
            .message(format!(
                "after the drain the {} schedulable nodes would have {cpu}% of their cpu ({} of {}) and {memory}% of their memory ({} of {}) requested, above the {max}% limit",
                a.nodes,
                format_cpu(a.cpu_requested),
                format_cpu(a.cpu_allocatable),
                format_bytes(a.memory_requested),
                format_bytes(a.memory_allocatable),
            ))
            .remedy("add a node before recycling, or recycle in a low-traffic window: rollouts and autoscaling may not fit while the node is away")
            .build(),
        );
    }

    for (node, &count) in &outcome.incoming {
        if count > settings.max_pods_per_node {
            findings.push(
                finding(
                    "headroom.image-pull-burst",
                    Severity::Warn,
                    object_ref("Node", None, node),
                )
                .message(format!(
                    "{count} evicted pods would land on node {node} (limit {}); kubelet pulls images one at a time by default, so they start slowly",
                    settings.max_pods_per_node
                ))
                .remedy("pre-pull the images (TKE image cache or a pre-pull DaemonSet), set kubelet serializeImagePulls=false, or add a node so the pods spread")
                .build(),
            );
        }
    }
    findings
}

tke_recycle_policy_sdk::export_policy!(Headroom);

#[cfg(test)]
mod tests;

//! The placement simulation: where would the scheduler put the pods that a drain evicts?
//!
//! A pure function of the node summaries, the target names and the pods to place. It mirrors the
//! default kube-scheduler filters that the compact model can express, in the scheduler's order:
//! node unschedulable (targets and not-Ready nodes; cordoned nodes unless the pod tolerates
//! `node.kubernetes.io/unschedulable`), taints with effect NoSchedule or
//! NoExecute, nodeSelector and required node affinity, resource fit (cpu, memory, ephemeral
//! storage, pod slots and extended resources such as `nvidia.com/gpu`), volume node affinity of
//! local PVs, topology spread constraints with `DoNotSchedule` ([`crate::spread`]), required pod
//! affinity ([`crate::affinity`]), and required pod anti-affinity (the pod's own terms, those of
//! the pods placed before it, and those of the pods that stay, which refuse it in their topology
//! domain). Pods are placed in priority order (highest first, then namespace/name,
//! since the snapshot has no creation times); each goes to the feasible node that stays least
//! allocated in cpu and memory (the default `LeastAllocated` score, ranked before placement), ties
//! to the lowest name.
//!
//! A pod that fits nowhere and may preempt is placed where the DefaultPreemption plugin would
//! put it ([`crate::preempt`]), its victims leave that node and their replacements join the
//! queue. Deliberately not modelled: host ports, and the `namespaceSelector` of affinity terms.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use crate::affinity::{self, DomainCounts};
use crate::spread::{self, Counted, NodeCounts, NodeView, SpreadMisfit};
use tke_recycle_policy_sdk::quantity::extended;
use tke_recycle_policy_sdk::selectors::{
    label_selector_matches, pod_is_finished, pod_node_affinity_allows, tolerates, untolerated_taint,
};
use tke_recycle_policy_sdk::{
    Node, NodeSummary, Pod, PodAffinityTerm, Resources, Taint, TaintEffect, VolumeSource,
};

/// A pod that the drain evicts and its controller re-creates, with the topology domains that
/// required anti-affinity keeps it out of.
#[derive(Debug, Clone)]
pub struct Moving {
    /// The evicted pod; its replacement has the same spec.
    pub pod: Pod,
    /// Domains found before the simulation (pods that stay put), shared between the pods with the
    /// same anti-affinity term: a term matching pods on every node is 5,000 domains.
    pub shared: Vec<Rc<Domains>>,
    /// Domains added during the simulation by pods placed before this one.
    pub forbidden: Domains,
    /// Domains where a pod that stays refuses this one by its own anti-affinity (the
    /// scheduler's "existing pods anti-affinity rules"), shared between pods of one namespace
    /// and label set.
    pub refused: Option<Rc<Domains>>,
    /// Per hard topology spread constraint (in spec order): the matching pods per node before
    /// the drain, shared between the pods with the same constraint.
    pub spread_existing: Vec<Rc<NodeCounts>>,
    /// The hard spread constraints with their domain counts, kept up to date as pods land.
    spread: Vec<Counted>,
    /// Required pod affinity: the pods matching all its terms per domain, found before the
    /// simulation (pods that stay) and kept up to date as pods land.
    pub affinity: DomainCounts,
}

/// Topology key -> the values (domains) of it where a pod may not go.
pub type Domains = BTreeMap<String, BTreeSet<String>>;

impl Moving {
    /// A pod with no anti-affinity domains known yet.
    pub fn new(pod: Pod) -> Self {
        Self {
            pod,
            shared: Vec::new(),
            forbidden: BTreeMap::new(),
            refused: None,
            spread_existing: Vec::new(),
            spread: Vec::new(),
            affinity: DomainCounts::new(),
        }
    }
}

/// Add the domain `value` of `topology_key` to a pod's forbidden domains.
pub fn forbid(forbidden: &mut Domains, topology_key: &str, value: &str) {
    if let Some(values) = forbidden.get_mut(topology_key) {
        values.insert(value.to_owned());
    } else {
        forbidden.insert(topology_key.to_owned(), BTreeSet::from([value.to_owned()]));
    }
}

/// Why a node cannot take a pod. The order is the scheduler's filter order, which is also the
/// order of the reasons in a summary with equal counts.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Misfit {
    /// The node is one of the targets of this recycle.
    Recycled,
    /// The node is not Ready.
    NotReady,
    /// The node is cordoned.
    Cordoned,
    /// A NoSchedule/NoExecute taint (`key=value`) the pod does not tolerate.
    Taint(String),
    /// nodeSelector or required node affinity does not match.
    NodeAffinity,
    /// Not enough of a resource (`cpu`, `memory`, `pods`, `ephemeral-storage`, or an extended one).
    Insufficient(String),
    /// A local PV the pod uses is pinned to another node.
    VolumePinned,
    /// Placing the pod would break a topology spread constraint's maxSkew.
    Spread,
    /// The node lacks the topology key of a spread constraint.
    SpreadMissingLabel,
    /// Required pod affinity finds no matching pod in the node's topology domain.
    Affinity,
    /// Required pod anti-affinity forbids the node's topology domain.
    AntiAffinity,
    /// A pod in the node's topology domain refuses this pod by its required anti-affinity.
    ExistingAntiAffinity,
}

impl Misfit {
    fn describe(&self) -> String {
        match self {
            Self::Recycled => "being recycled".into(),
            Self::NotReady => "not ready".into(),
            Self::Cordoned => "cordoned".into(),
            Self::Taint(t) => format!("taint {t} not tolerated"),
            Self::NodeAffinity => "node selector/affinity mismatch".into(),
            Self::Insufficient(r) => format!("insufficient {r}"),
            Self::VolumePinned => "volume node affinity conflict".into(),
            Self::Spread => "topology spread constraints".into(),
            Self::Affinity => "pod affinity".into(),
            Self::SpreadMissingLabel => {
                "topology spread constraints (missing required label)".into()
            }
            Self::AntiAffinity => "pod anti-affinity".into(),
            Self::ExistingAntiAffinity => "existing pods anti-affinity".into(),
        }
    }
}

/// A pod that fits on no node.
#[derive(Debug, Clone)]
pub struct Unplaced {
    /// The pod.
    pub pod: Pod,
    /// Scheduler-style summary: `0/41 nodes: 30 insufficient memory, 11 taint dedicated=gpu not
    /// tolerated`.
    pub summary: String,
    /// The reasons with their node counts, most frequent first.
    pub reasons: Vec<(Misfit, u32)>,
}

/// An evicted pod that fits only by preempting lower-priority pods that stay.
#[derive(Debug, Clone)]
pub struct Preemption {
    /// The preemptor.
    pub pod: Pod,
    /// The node the scheduler would choose.
    pub node: String,
    /// The pods it would delete there, most important first.
    pub victims: Vec<Pod>,
}

/// What the simulation asks of the cluster beyond its arguments: the pods that stay on a node
/// (preemption victims) and the constraint context of a victim's replacement, prepared as the
/// evicted pods' was.
pub trait Env {
    /// The pods bound to a node in the snapshot.
    fn residents(&mut self, node: &str) -> Rc<Vec<Pod>>;
    /// Fill a pod's anti-affinity, spread and affinity context from the pods that stay.
    fn prepare(&mut self, m: &mut Moving);
}

/// Requested and allocatable totals over the nodes that stay schedulable, after placement.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Allocation {
    /// Number of schedulable nodes counted.
    pub nodes: u32,
    /// Requested cpu, millicores.
    pub cpu_requested: u64,
    /// Allocatable cpu, millicores.
    pub cpu_allocatable: u64,
    /// Requested memory, bytes.
    pub memory_requested: u64,
    /// Allocatable memory, bytes.
    pub memory_allocatable: u64,
}

/// What the simulation found.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Pods placed, with the node each landed on, in placement order.
    pub placed: Vec<(Pod, String)>,
    /// Pods that fit nowhere, in placement order.
    pub unplaced: Vec<Unplaced>,
    /// How many evicted pods land on each node.
    pub incoming: BTreeMap<String, u32>,
    /// Pods placed only by preempting others, in placement order.
    pub preemptions: Vec<Preemption>,
    /// Allocation of the schedulable nodes afterwards.
    pub allocation: Allocation,
}

struct SimNode<'a> {
    node: &'a Node,
    requested: Resources,
    gate: Option<Misfit>,
}

/// Place `moving` onto `nodes` as the scheduler would after the targets are cordoned and drained.
pub fn simulate(
    nodes: &[NodeSummary],
    targets: &BTreeSet<&str>,
    mut moving: Vec<Moving>,
    env: &mut dyn Env,
) -> Outcome {
    let mut sim: Vec<SimNode<'_>> = nodes
        .iter()
        .map(|s| SimNode {
            node: &s.node,
            requested: s.requested.clone(),
            gate: if targets.contains(s.node.name.as_str()) {
                Some(Misfit::Recycled)
            } else if !s.node.ready {
                Some(Misfit::NotReady)
            } else if s.node.unschedulable {
                Some(Misfit::Cordoned)
            } else {
                None
            },
        })
        .collect();
    // Spread counts: every node may be a domain (a cordoned one, the targets included, unless
    // nodeTaintsPolicy is Honor), so they are counted over all nodes, once per set of
    // constraints and static filters.
    let views: Vec<NodeView<'_>> = sim
        .iter()
        .map(|n| NodeView {
            node: n.node,
            cordoned: matches!(n.gate, Some(Misfit::Recycled | Misfit::Cordoned)),
        })
        .collect();
    let mut counted: BTreeMap<String, Vec<Counted>> = BTreeMap::new();
    for m in moving
        .iter_mut()
        .filter(|m| spread::hard_constraints(&m.pod).next().is_some())
    {
        let key = format!(
            "{}|{:?}|{:?}|{}",
            m.pod.namespace,
            m.pod.topology_spread,
            m.pod.labels,
            static_key(&m.pod)
        );
        m.spread = counted
            .entry(key)
            .or_insert_with(|| spread::count(&m.pod, &views, &m.spread_existing))
            .clone();
    }
    // Within a priority, pods with required affinity go last: the scheduler retries a pod whose
    // affinity is unmet when the pod it follows lands, so their replacements wait for the others.
    moving.sort_by(|a, b| {
        b.pod
            .priority
            .cmp(&a.pod.priority)
            .then_with(|| {
                (!affinity::terms(&a.pod).is_empty()).cmp(&!affinity::terms(&b.pod).is_empty())
            })
            .then_with(|| a.pod.namespace.cmp(&b.pod.namespace))
            .then_with(|| a.pod.name.cmp(&b.pod.name))
    });

    let total = sim.len();
    // Candidates, most free first: the LeastAllocated order, kept up to date after each placement,
    // so that a pod that fits is placed after looking at a few nodes rather than all of them.
    let mut order: BTreeSet<(Reverse<u64>, usize)> = sim
        .iter()
        .enumerate()
        .filter(|(_, n)| matches!(n.gate, None | Some(Misfit::Cordoned)))
        .map(|(i, n)| (Reverse(free_score(&n.requested, &n.node.allocatable)), i))
        .collect();
    // Capacity only shrinks and forbidden domains only grow during the simulation, so a pod
    // identical to one that fitted nowhere fits nowhere either: reuse its explanation.
    let mut failed_shapes: BTreeMap<String, (String, Vec<(Misfit, u32)>)> = BTreeMap::new();
    let mut static_ok: BTreeMap<String, Vec<bool>> = BTreeMap::new();
    let mut outcome = Outcome::default();
    let mut misfits = Vec::new();
    // Residents a preemption already removed, by namespace/name.
    let mut removed: BTreeSet<(String, String)> = BTreeSet::new();
    let wanted = crate::preempt::wanted_candidates(sim.len());
    let mut next = 0;
    while next < moving.len() {
        let i = next;
        next += 1;
        let (done, rest) = moving.split_at_mut(i + 1);
        let current = &done[i];
        let shape = shape_of(&current.pod);
        // Spread counts can grow anywhere, raising the minimum: a spread pod's failure is not
        // final for the next one of its shape, so it is never cached.
        let cacheable = current.spread.is_empty() && affinity::terms(&current.pod).is_empty();
        if let Some((summary, reasons)) = failed_shapes.get(&shape).filter(|_| cacheable) {
            outcome.unplaced.push(Unplaced {
                pod: current.pod.clone(),
                summary: summary.clone(),
                reasons: reasons.clone(),
            });
            continue;
        }
        // Taints, node affinity and pinned volumes do not change during the simulation: decide
        // them once per set of such constraints (most pods have none, so once for all of them),
        // not for every node again with each pod.
        let allowed = static_ok
            .entry(static_key(&current.pod))
            .or_insert_with(|| {
                sim.iter()
                    .map(|n| statically_allowed(&current.pod, n))
                    .collect()
            });
        let chosen = order.iter().map(|&(_, n)| n).find(|&n| {
            if !allowed[n] {
                return false;
            }
            misfits.clear();
            check(current, &sim[n], &mut misfits);
            misfits.is_empty()
        });
        let mut victims = Vec::new();
        let n = match chosen {
            Some(n) => n,
            None => {
                let preemption = (current.pod.preempts != Some(false))
                    .then(|| choose_preemption(current, &sim, allowed, wanted, &removed, env))
                    .flatten();
                let Some((n, chosen_victims)) = preemption else {
                    let unplaced = explain(current, &sim, total);
                    if cacheable {
                        failed_shapes
                            .insert(shape, (unplaced.summary.clone(), unplaced.reasons.clone()));
                    }
                    outcome.unplaced.push(unplaced);
                    continue;
                };
                // Room grew on that node: an earlier failure of the same shape is no longer final.
                failed_shapes.clear();
                let node = &mut sim[n];
                order.remove(&(
                    Reverse(free_score(&node.requested, &node.node.allocatable)),
                    n,
                ));
                for v in &chosen_victims {
                    crate::preempt::release(&mut node.requested, &v.requests);
                    removed.insert((v.namespace.clone(), v.name.clone()));
                }
                order.insert((
                    Reverse(free_score(&node.requested, &node.node.allocatable)),
                    n,
                ));
                victims = chosen_victims;
                n
            }
        };
        let node = &mut sim[n];
        order.remove(&(
            Reverse(free_score(&node.requested, &node.node.allocatable)),
            n,
        ));
        tke_recycle_policy_sdk::quantity::add_resources(&mut node.requested, &current.pod.requests);
        node.requested.pods = node.requested.pods.saturating_add(1);
        order.insert((
            Reverse(free_score(&node.requested, &node.node.allocatable)),
            n,
        ));
        *outcome.incoming.entry(node.node.name.clone()).or_default() += 1;
        let view = &views[n];
        for later in rest.iter_mut() {
            forbid_after_placement(current, node.node, later);
            if !affinity::terms(&later.pod).is_empty() {
                affinity::record(&later.pod, &mut later.affinity, &current.pod, node.node);
            }
            if !later.spread.is_empty() {
                spread::record_placement(&later.pod, &mut later.spread, &current.pod, view);
            }
        }
        outcome
            .placed
            .push((current.pod.clone(), node.node.name.clone()));
        if victims.is_empty() {
            continue;
        }
        outcome.preemptions.push(Preemption {
            pod: current.pod.clone(),
            node: node.node.name.clone(),
            victims: victims.clone(),
        });
        // The victims' controllers re-create them; the replacements join the queue at their
        // priority (lower than the preemptor's), behind the pods of equal priority.
        for victim in victims
            .into_iter()
            .filter(tke_recycle_policy_sdk::drain::is_replaced_after_eviction)
        {
            let mut m = Moving::new(victim);
            env.prepare(&mut m);
            if spread::hard_constraints(&m.pod).next().is_some() {
                m.spread = spread::count(&m.pod, &views, &m.spread_existing);
            }
            let at = moving[next..]
                .iter()
                .position(|o| o.pod.priority < m.pod.priority)
                .map_or(moving.len(), |p| next + p);
            moving.insert(at, m);
        }
    }

    for node in sim.iter().filter(|n| n.gate.is_none()) {
        let a = &mut outcome.allocation;
        a.nodes += 1;
        a.cpu_requested += node.requested.cpu_millis;
        a.cpu_allocatable += node.node.allocatable.cpu_millis;
        a.memory_requested += node.requested.memory_bytes;
        a.memory_allocatable += node.node.allocatable.memory_bytes;
    }
    outcome
}

/// DefaultPreemption's choice for a pod that fits nowhere ([`crate::preempt`]): the node and
/// the victims, or None when no node the pod fails only for resources has enough lower-priority
/// pods to make room (or the pod would still fail another filter there).
fn choose_preemption(
    m: &Moving,
    sim: &[SimNode<'_>],
    allowed: &[bool],
    wanted: usize,
    removed: &BTreeSet<(String, String)>,
    env: &mut dyn Env,
) -> Option<(usize, Vec<Pod>)> {
    let mut best: Option<(crate::preempt::Rank, usize, Vec<Pod>)> = None;
    let mut found = 0;
    let mut misfits = Vec::new();
    for (n, node) in sim.iter().enumerate() {
        if found >= wanted {
            break;
        }
        if !allowed[n] {
            continue;
        }
        misfits.clear();
        check(m, node, &mut misfits);
        if misfits.is_empty() || !misfits.iter().all(|f| matches!(f, Misfit::Insufficient(_))) {
            continue;
        }
        let pods = env.residents(&node.node.name);
        let residents: Vec<&Pod> = pods
            .iter()
            .filter(|p| !p.terminating && !pod_is_finished(p))
            .filter(|p| !removed.contains(&(p.namespace.clone(), p.name.clone())))
            .collect();
        let Some(victims) = crate::preempt::select_victims(
            &m.pod,
            &node.requested,
            &node.node.allocatable,
            &residents,
        ) else {
            continue;
        };
        // With the victims gone, the other filters must pass too.
        let mut without = SimNode {
            node: node.node,
            requested: node.requested.clone(),
            gate: node.gate.clone(),
        };
        for &v in &victims {
            crate::preempt::release(&mut without.requested, &residents[v].requests);
        }
        misfits.clear();
        check(m, &without, &mut misfits);
        if !misfits.is_empty() {
            continue;
        }
        found += 1;
        let chosen: Vec<&Pod> = victims.iter().map(|&v| residents[v]).collect();
        let key = crate::preempt::rank(&chosen);
        if best.as_ref().is_none_or(|(k, _, _)| key < *k) {
            best = Some((key, n, chosen.into_iter().cloned().collect()));
        }
    }
    best.map(|(_, n, victims)| (n, victims))
}

/// Whether the node is open to the pod at all. A cordoned node carries the taint
/// `node.kubernetes.io/unschedulable:NoSchedule`, which a pod may tolerate (the scheduler's
/// NodeUnschedulable filter); targets and not-Ready nodes are out for everyone.
fn passes_gate(pod: &Pod, node: &SimNode<'_>) -> bool {
    match &node.gate {
        None => true,
        Some(Misfit::Cordoned) => {
            let taint = Taint {
                key: "node.kubernetes.io/unschedulable".into(),
                value: String::new(),
                effect: TaintEffect::NoSchedule,
            };
            pod.tolerations.iter().any(|t| tolerates(t, &taint))
        }
        Some(_) => false,
    }
}

/// The filters whose answer cannot change while pods are placed: gate, taints, node affinity and
/// pinned volumes.
fn statically_allowed(pod: &Pod, node: &SimNode<'_>) -> bool {
    passes_gate(pod, node)
        && untolerated_taint(pod, node.node).is_none()
        && pod_node_affinity_allows(pod, node.node)
        && !pinned_elsewhere(pod, node.node)
}

fn pinned_elsewhere(pod: &Pod, node: &Node) -> bool {
    pod.volumes.iter().any(|v| match &v.source {
        VolumeSource::PersistentVolumeClaim(c) => {
            c.pinned_node.as_ref().is_some_and(|p| *p != node.name)
        }
        _ => false,
    })
}

/// Every reason `node` rejects the pod, in the scheduler's order; empty when it fits. Like the
/// scheduler, the first failing filter decides; resource fit lists every short resource.
fn check(m: &Moving, node: &SimNode<'_>, out: &mut Vec<Misfit>) {
    if !passes_gate(&m.pod, node) {
        out.extend(node.gate.clone());
        return;
    }
    let pod = &m.pod;
    if let Some(taint) = untolerated_taint(pod, node.node) {
        out.push(Misfit::Taint(if taint.value.is_empty() {
            taint.key.clone()
        } else {
            format!("{}={}", taint.key, taint.value)
        }));
        return;
    }
    if !pod_node_affinity_allows(pod, node.node) {
        out.push(Misfit::NodeAffinity);
        return;
    }
    let alloc = &node.node.allocatable;
    let used = &node.requested;
    if used.pods.saturating_add(1) > alloc.pods {
        out.push(Misfit::Insufficient("pods".into()));
    }
    let short = |want: u64, have: u64, used: u64| want > 0 && want > have.saturating_sub(used);
    if short(pod.requests.cpu_millis, alloc.cpu_millis, used.cpu_millis) {
        out.push(Misfit::Insufficient("cpu".into()));
    }
    if short(
        pod.requests.memory_bytes,
        alloc.memory_bytes,
        used.memory_bytes,
    ) {
        out.push(Misfit::Insufficient("memory".into()));
    }
    if short(
        pod.requests.ephemeral_storage_bytes,
        alloc.ephemeral_storage_bytes,
        used.ephemeral_storage_bytes,
    ) {
        out.push(Misfit::Insufficient("ephemeral-storage".into()));
    }
    for ext in &pod.requests.extended {
        if short(
            ext.amount,
            extended(alloc, &ext.name),
            extended(used, &ext.name),
        ) {
            out.push(Misfit::Insufficient(ext.name.clone()));
        }
    }
    if !out.is_empty() {
        return;
    }
    if pinned_elsewhere(pod, node.node) {
        out.push(Misfit::VolumePinned);
        return;
    }
    match spread::filter(&m.spread, node.node) {
        Some(SpreadMisfit::Skew) => {
            out.push(Misfit::Spread);
            return;
        }
        Some(SpreadMisfit::MissingLabel) => {
            out.push(Misfit::SpreadMissingLabel);
            return;
        }
        None => {}
    }
    if !affinity::terms(pod).is_empty() && !affinity::allows(pod, &m.affinity, node.node) {
        out.push(Misfit::Affinity);
        return;
    }
    let hit = |domains: &Domains| {
        domains.iter().any(|(key, values)| {
            node_label(node.node, key).is_some_and(|value| values.contains(value))
        })
    };
    if hit(&m.forbidden) || m.shared.iter().any(|d| hit(d)) {
        out.push(Misfit::AntiAffinity);
        return;
    }
    if m.refused.as_deref().is_some_and(hit) {
        out.push(Misfit::ExistingAntiAffinity);
    }
}

/// The scheduler's `LeastAllocated` score in thousandths: the free share of cpu plus that of
/// memory. Ranking by it before placement equals ranking after placement on nodes of the same
/// size, and is close on mixed sizes.
fn free_score(used: &Resources, alloc: &Resources) -> u64 {
    let free = |alloc: u64, used: u64| {
        if alloc == 0 {
            return 0;
        }
        let left = alloc.saturating_sub(used);
        u64::try_from(u128::from(left) * 1000 / u128::from(alloc)).unwrap_or(0)
    };
    free(alloc.cpu_millis, used.cpu_millis) + free(alloc.memory_bytes, used.memory_bytes)
}

/// What decides where a pod may go, as one comparable key: pods of one workload share it.
fn shape_of(pod: &Pod) -> String {
    format!(
        "{}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{:?}",
        pod.namespace,
        pod.labels,
        pod.requests,
        pod.node_selector,
        pod.required_node_affinity,
        pod.tolerations,
        pod.required_anti_affinity,
        pod.volumes
    )
}

/// What the static filters (`statically_allowed`) read of a pod, as one comparable key.
fn static_key(pod: &Pod) -> String {
    let pinned: Vec<&str> = pod
        .volumes
        .iter()
        .filter_map(|v| match &v.source {
            VolumeSource::PersistentVolumeClaim(c) => c.pinned_node.as_deref(),
            _ => None,
        })
        .collect();
    format!(
        "{:?}|{:?}|{:?}|{:?}",
        pod.node_selector, pod.required_node_affinity, pod.tolerations, pinned
    )
}

fn explain(m: &Moving, sim: &[SimNode<'_>], total: usize) -> Unplaced {
    let mut counts: BTreeMap<Misfit, u32> = BTreeMap::new();
    let mut misfits = Vec::new();
    for node in sim {
        misfits.clear();
        check(m, node, &mut misfits);
        for misfit in misfits.drain(..) {
            *counts.entry(misfit).or_default() += 1;
        }
    }
    let mut reasons: Vec<(Misfit, u32)> = counts.into_iter().collect();
    reasons.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let parts: Vec<String> = reasons
        .iter()
        .map(|(m, n)| format!("{n} {}", m.describe()))
        .collect();
    let summary = if parts.is_empty() {
        format!("0/{total} nodes")
    } else {
        format!("0/{total} nodes: {}", parts.join(", "))
    };
    Unplaced {
        pod: m.pod.clone(),
        summary,
        reasons,
    }
}

/// After `placed` landed on `node`, keep `later` out of that node's topology domains where an
/// anti-affinity term (of `later`, or of `placed`: the rule is symmetric) says so.
fn forbid_after_placement(placed: &Moving, node: &Node, later: &mut Moving) {
    for term in &later.pod.required_anti_affinity {
        if term_selects(term, &later.pod.namespace, &placed.pod)
            && let Some(value) = node_label(node, &term.topology_key)
        {
            forbid(&mut later.forbidden, &term.topology_key, value);
        }
    }
    for term in &placed.pod.required_anti_affinity {
        if term_selects(term, &placed.pod.namespace, &later.pod)
            && let Some(value) = node_label(node, &term.topology_key)
        {
            forbid(&mut later.forbidden, &term.topology_key, value);
        }
    }
}

/// Whether an affinity term of a pod in `own_namespace` selects `other`.
pub fn term_selects(term: &PodAffinityTerm, own_namespace: &str, other: &Pod) -> bool {
    let in_scope = if term.namespaces.is_empty() {
        other.namespace == own_namespace
    } else {
        term.namespaces.contains(&other.namespace)
    };
    in_scope && label_selector_matches(&term.selector, &other.labels)
}

/// A node label's value.
pub fn node_label<'a>(node: &'a Node, key: &str) -> Option<&'a str> {
    node.labels
        .iter()
        .find(|l| l.key == key)
        .map(|l| l.value.as_str())
}

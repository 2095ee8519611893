//! Preemption, as the scheduler's DefaultPreemption plugin chooses it, for an evicted pod that
//! fits nowhere: on each node that the pod fails only for resources, every lower-priority pod is
//! a potential victim; if the pod fits once they are all gone, they are given back one by one,
//! most important first (higher priority; the real one then prefers earlier start times, which
//! the snapshot does not carry, so name order), as long as the pod still fits. The node chosen
//! has the lowest highest-victim priority, then the lowest sum of victim priorities (each counted
//! with an offset of 2^31, so fewer victims win), then the fewest victims, then the lowest name.
//! The scheduler looks at candidates until it has max(10% of the nodes, 100) of them; so does
//! this, in name order.
//!
//! Not modelled: PDB violations as the first node-choice criterion (the scheduler deletes
//! victims whatever their PDB says, but prefers nodes where fewer budgets break), and preemption
//! to satisfy filters other than resource fit (spread, affinity).

use tke_recycle_policy_sdk::quantity::extended;
use tke_recycle_policy_sdk::{Pod, Resources};

/// Whether `request` fits into `allocatable` with `used` already requested (one pod slot too).
pub fn fits(request: &Resources, used: &Resources, allocatable: &Resources) -> bool {
    let ok = |want: u64, have: u64, used: u64| want == 0 || want <= have.saturating_sub(used);
    used.pods < allocatable.pods
        && ok(request.cpu_millis, allocatable.cpu_millis, used.cpu_millis)
        && ok(
            request.memory_bytes,
            allocatable.memory_bytes,
            used.memory_bytes,
        )
        && ok(
            request.ephemeral_storage_bytes,
            allocatable.ephemeral_storage_bytes,
            used.ephemeral_storage_bytes,
        )
        && request.extended.iter().all(|e| {
            ok(
                e.amount,
                extended(allocatable, &e.name),
                extended(used, &e.name),
            )
        })
}

/// Take a pod's requests (and its slot) out of a node's requested totals.
pub fn release(used: &mut Resources, pod: &Resources) {
    used.cpu_millis = used.cpu_millis.saturating_sub(pod.cpu_millis);
    used.memory_bytes = used.memory_bytes.saturating_sub(pod.memory_bytes);
    used.ephemeral_storage_bytes = used
        .ephemeral_storage_bytes
        .saturating_sub(pod.ephemeral_storage_bytes);
    used.pods = used.pods.saturating_sub(1);
    for e in &pod.extended {
        if let Some(u) = used.extended.iter_mut().find(|u| u.name == e.name) {
            u.amount = u.amount.saturating_sub(e.amount);
        }
    }
}

fn take(used: &mut Resources, pod: &Resources) {
    tke_recycle_policy_sdk::quantity::add_resources(used, pod);
    used.pods = used.pods.saturating_add(1);
}

/// The victims (indexes into `residents`) that make room for `pod` on a node with `used`
/// requested, or None when removing every lower-priority resident is not enough. Residents
/// that are finished or terminating must be left out by the caller.
pub fn select_victims(
    pod: &Pod,
    used: &Resources,
    allocatable: &Resources,
    residents: &[&Pod],
) -> Option<Vec<usize>> {
    let mut potential: Vec<usize> = (0..residents.len())
        .filter(|&i| residents[i].priority < pod.priority)
        .collect();
    if potential.is_empty() {
        return None;
    }
    let mut left = used.clone();
    for &i in &potential {
        release(&mut left, &residents[i].requests);
    }
    if !fits(&pod.requests, &left, allocatable) {
        return None;
    }
    potential.sort_by(|&a, &b| {
        residents[b]
            .priority
            .cmp(&residents[a].priority)
            .then_with(|| residents[a].namespace.cmp(&residents[b].namespace))
            .then_with(|| residents[a].name.cmp(&residents[b].name))
    });
    let mut victims = Vec::new();
    for i in potential {
        take(&mut left, &residents[i].requests);
        if !fits(&pod.requests, &left, allocatable) {
            release(&mut left, &residents[i].requests);
            victims.push(i);
        }
    }
    Some(victims)
}

/// The node-choice key of a candidate: highest victim priority, priority sum, victim count.
pub type Rank = (i64, i64, usize);

/// The node-choice key of a candidate's victims: lower is better.
pub fn rank(victims: &[&Pod]) -> Rank {
    let highest = victims
        .iter()
        .map(|p| i64::from(p.priority))
        .max()
        .unwrap_or(i64::MIN);
    let sum = victims
        .iter()
        .map(|p| i64::from(p.priority) + i64::from(i32::MAX) + 1)
        .sum();
    (highest, sum, victims.len())
}

/// How many candidates the scheduler looks for before choosing: 10% of the nodes, at least 100.
pub fn wanted_candidates(nodes: usize) -> usize {
    (nodes / 10).max(100).min(nodes)
}

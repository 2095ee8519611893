//! The DefaultPreemption plugin, for pods that fit nowhere on resources: on each node where
//! removing every lower-priority pod makes room, the victims are those pods minus the ones that
//! can be given back (most important first) while the preemptor still fits; the node chosen has
//! the lowest highest-victim priority, then the lowest sum of priorities (each victim counted with
//! an offset, so fewer victims win), then the fewest victims, then the lowest name. Victims are
//! deleted gracefully and the preemptor gets `status.nominatedNodeName`; it binds once they are
//! gone, ahead of their replacements because the queue is in priority order. A pod with
//! `preemptionPolicy: Never` never preempts; a nominated pod whose node still has lower-priority
//! pods terminating waits instead of preempting again.
//!
//! Not modelled (within reason for a practice cluster): PDB violations as the first node-choice
//! criterion, victims' start times, and preemption to satisfy filters other than resource fit.

use std::sync::Arc;

use serde_json::Value;

use crate::sim::quantity::Resources;
use crate::sim::store::Object;

/// `spec.priority` (0 when absent, as without a priority class).
pub fn priority(pod: &Value) -> i32 {
    pod.pointer("/spec/priority")
        .and_then(Value::as_i64)
        .and_then(|p| i32::try_from(p).ok())
        .unwrap_or(0)
}

/// Whether the pod's `preemptionPolicy` allows it to preempt.
pub fn may_preempt(pod: &Value) -> bool {
    pod.pointer("/spec/preemptionPolicy")
        .and_then(Value::as_str)
        != Some("Never")
}

/// A pod on a candidate node, with what preemption needs of it.
pub struct Resident {
    /// The pod.
    pub pod: Arc<Object>,
    /// Its priority.
    pub priority: i32,
}

/// The victims on one node (indexes into `residents`), or None when even removing every
/// lower-priority pod leaves no room for `request`.
pub fn select_victims(
    request: &Resources,
    priority: i32,
    allocatable: &Resources,
    used: &Resources,
    residents: &[Resident],
) -> Option<Vec<usize>> {
    let mut potential: Vec<usize> = (0..residents.len())
        .filter(|&i| residents[i].priority < priority)
        .collect();
    if potential.is_empty() {
        return None;
    }
    let mut left = used.clone();
    for &i in &potential {
        left.sub(&requests(&residents[i].pod));
    }
    if !left.insufficient(request, allocatable).is_empty() {
        return None;
    }
    // Most important first (higher priority; the real one then prefers earlier start times,
    // which the store does not keep apart: name order instead), each given back if it can be.
    potential.sort_by(|&a, &b| {
        residents[b]
            .priority
            .cmp(&residents[a].priority)
            .then_with(|| residents[a].pod.name.cmp(&residents[b].pod.name))
    });
    let mut victims = Vec::new();
    for i in potential {
        let r = requests(&residents[i].pod);
        left.add(&r);
        if !left.insufficient(request, allocatable).is_empty() {
            left.sub(&r);
            victims.push(i);
        }
    }
    Some(victims)
}

fn requests(pod: &Object) -> Resources {
    pod.pod
        .as_ref()
        .map(|f| f.requests.clone())
        .unwrap_or_default()
}

/// Highest victim priority, priority sum (with offsets), victim count.
pub type Rank = (i64, i64, usize);

/// The node-choice key of a candidate: lower is better (pickOneNodeForPreemption without PDBs
/// and start times).
pub fn rank(victim_priorities: &[i32]) -> Rank {
    let highest = victim_priorities
        .iter()
        .copied()
        .max()
        .map_or(i64::MIN, i64::from);
    let sum = victim_priorities
        .iter()
        .map(|&p| i64::from(p) + i64::from(i32::MAX) + 1)
        .sum();
    (highest, sum, victim_priorities.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(cpu_m: i64) -> Resources {
        Resources {
            cpu_m,
            memory: 0,
            pods: 1,
            ..Resources::default()
        }
    }

    #[test]
    fn fewer_and_lower_victims_rank_first() {
        assert!(rank(&[10]) < rank(&[100]), "lower highest priority");
        assert!(rank(&[10]) < rank(&[10, 0]), "fewer victims (the offset)");
        assert!(rank(&[0, 0]) < rank(&[5, 0]), "lower sum");
    }

    #[test]
    fn no_victims_when_lower_priority_pods_free_too_little() {
        let alloc = Resources {
            cpu_m: 1000,
            pods: 110,
            ..Resources::default()
        };
        let used = res(900);
        assert_eq!(select_victims(&res(500), 10, &alloc, &used, &[]), None);
    }
}

//! Draining one node: every pod `pods-to-evict` lists, through the Eviction API (or deleted
//! when the operator opted in), within `drain_timeout_seconds`.
//!
//! All evictions go out at once; what a PDB (or the API server's rate limit) refuses is retried in
//! rounds with exponential backoff (1 s, 2 s, 4 s ... capped at 30 s), the blocking PDB reported
//! live. The backoff is spent watching the evicted pods go (`wait-pods-gone`) when there are any,
//! sleeping otherwise. A pod that matches several PDBs can never be evicted, so that blocks the
//! drain at once instead of at the deadline. This module decides nothing about the node after a
//! blocked drain (uncordon, skip or stop): the caller does.

use std::collections::BTreeMap;

use serde_json::json;

use crate::error::{self, Stop, ops_message};
use crate::host::{EvictionOutcome, Host, OpsError, Pod, PodKey, Progress};
use crate::settings::Settings;

/// Longest pause between two eviction rounds.
pub const MAX_BACKOFF_SECONDS: u64 = 30;

/// How many pod names a message lists before it says "and N more".
const NAMES_SHOWN: usize = 10;

/// How a drain ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DrainResult {
    /// Every pod is gone; how many there were.
    Drained {
        /// Pods evicted (or deleted).
        pods: usize,
    },
    /// The drain cannot finish; why, naming the blocking PDBs and the remaining pods.
    Blocked(String),
}

/// The key the Eviction API and the watches use for a pod.
pub fn pod_key(pod: &Pod) -> PodKey {
    PodKey {
        namespace: pod.namespace.clone(),
        name: pod.name.clone(),
        uid: pod.uid.clone(),
    }
}

/// `namespace/name`.
pub fn key_text(key: &PodKey) -> String {
    format!("{}/{}", key.namespace, key.name)
}

/// Names joined with ", ", at most [`NAMES_SHOWN`] of them.
pub fn names(keys: &[String]) -> String {
    let mut out = keys
        .iter()
        .take(NAMES_SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if keys.len() > NAMES_SHOWN {
        out.push_str(&format!(" and {} more", keys.len() - NAMES_SHOWN));
    }
    out
}

/// Whole seconds from now until `deadline_ms` (rounded up), 0 once it passed.
fn seconds_left(host: &mut dyn Host, deadline_ms: u64) -> u64 {
    deadline_ms.saturating_sub(host.now_ms()).div_ceil(1000)
}

/// Drain `node`.
pub fn drain(host: &mut dyn Host, node: &str, settings: &Settings) -> Result<DrainResult, Stop> {
    let pods = host.pods_to_evict(node).map_err(error::ops(format_args!(
        "node {node}: listing the pods to evict"
    )))?;
    let keys: Vec<PodKey> = pods.iter().map(pod_key).collect();
    let timeout = settings.drain_timeout_seconds;
    let how = if settings.disable_eviction {
        "deleting"
    } else {
        "evicting"
    };
    host.report(&Progress {
        node: node.to_owned(),
        step: "drain".into(),
        message: format!(
            "{how} {} pods from node {node} (timeout {timeout} s)",
            keys.len()
        ),
        data: Some(
            json!({"pods": keys.iter().map(key_text).collect::<Vec<_>>(), "timeout_seconds": timeout})
                .to_string(),
        ),
    });
    if keys.is_empty() {
        return Ok(DrainResult::Drained { pods: 0 });
    }
    let deadline = host.now_ms().saturating_add(timeout.saturating_mul(1000));
    if settings.disable_eviction {
        delete_all(host, node, keys, deadline, timeout)
    } else {
        evict_all(host, node, keys, deadline, timeout)
    }
}

/// `--disable-eviction`: delete every pod (PDBs bypassed), then watch them go.
fn delete_all(
    host: &mut dyn Host,
    node: &str,
    keys: Vec<PodKey>,
    deadline: u64,
    timeout: u64,
) -> Result<DrainResult, Stop> {
    let answers = host.delete_pods(&keys);
    if answers.len() != keys.len() {
        return Err(Stop::failed(format!(
            "node {node}: drain: the host answered {} times for {} pod deletions",
            answers.len(),
            keys.len()
        )));
    }
    let mut failures = Vec::new();
    for (key, answer) in keys.iter().zip(answers) {
        match answer {
            Ok(()) | Err(OpsError::NotFound(_)) => {}
            Err(OpsError::Cancelled) => return Err(Stop::Cancelled),
            Err(OpsError::Refused(why)) => {
                return Err(Stop::failed(format!(
                    "node {node}: drain: deleting pod {} was refused by the host: {why} (deleting pods needs --disable-eviction on the command line too)",
                    key_text(key)
                )));
            }
            Err(e) => failures.push(format!("{}: {}", key_text(key), ops_message(&e))),
        }
    }
    let left = seconds_left(host, deadline);
    let still = host
        .wait_pods_gone(node, &keys, left)
        .map_err(error::ops(format_args!(
            "node {node}: drain: waiting for the deleted pods to go"
        )))?;
    if still.is_empty() {
        return Ok(DrainResult::Drained { pods: keys.len() });
    }
    let mut reason = format!(
        "drain did not finish within {timeout} s: {} deleted pods are still on the node ({})",
        still.len(),
        names(&still.iter().map(key_text).collect::<Vec<_>>())
    );
    if !failures.is_empty() {
        reason.push_str(&format!("; deleting failed for {}", failures.join("; ")));
    }
    Ok(DrainResult::Blocked(reason))
}

/// Why pods are still pending, grouped: "blocked by PDB web (default/web-1, default/web-2); ...".
fn blocker_text(blockers: &BTreeMap<String, Vec<String>>) -> String {
    blockers
        .iter()
        .map(|(why, pods)| format!("{why} ({})", names(pods)))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Evict every pod, retrying refused ones in rounds until `deadline`.
fn evict_all(
    host: &mut dyn Host,
    node: &str,
    keys: Vec<PodKey>,
    deadline: u64,
    timeout: u64,
) -> Result<DrainResult, Stop> {
    let total = keys.len();
    let mut pending = keys;
    let mut awaited: Vec<PodKey> = Vec::new();
    let mut backoff = 1u64;
    loop {
        let answers = host.evict_pods(&pending);
        if answers.len() != pending.len() {
            return Err(Stop::failed(format!(
                "node {node}: drain: the host answered {} times for {} evictions",
                answers.len(),
                pending.len()
            )));
        }
        // Why each still-pending pod is pending, grouped by reason.
        let mut blockers: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut multiple = Vec::new();
        let mut next = Vec::new();
        for (key, answer) in pending.drain(..).zip(answers) {
            let why = match answer {
                Ok(EvictionOutcome::Evicted | EvictionOutcome::NamespaceTerminating) => {
                    awaited.push(key);
                    continue;
                }
                Ok(EvictionOutcome::Gone | EvictionOutcome::Replaced)
                | Err(OpsError::NotFound(_)) => continue,
                Ok(EvictionOutcome::MultiplePdbs) => {
                    multiple.push(key_text(&key));
                    continue;
                }
                Ok(EvictionOutcome::BlockedByPdb(pdb)) => format!("blocked by PDB {pdb}"),
                Ok(EvictionOutcome::Throttled) => "throttled by the API server".to_owned(),
                Err(OpsError::Cancelled) => return Err(Stop::Cancelled),
                Err(e) => format!("eviction failed: {}", ops_message(&e)),
            };
            blockers.entry(why).or_default().push(key_text(&key));
            next.push(key);
        }
        if !multiple.is_empty() {
            return Ok(DrainResult::Blocked(format!(
                "drain cannot finish: {} match more than one PodDisruptionBudget, so the Eviction API can never evict them (make each pod match at most one PDB)",
                names(&multiple)
            )));
        }
        pending = next;

        if pending.is_empty() {
            let left = seconds_left(host, deadline);
            host.report(&Progress {
                node: node.to_owned(),
                step: "drain".into(),
                message: format!(
                    "all {total} pods evicted; waiting up to {left} s for {} to terminate",
                    awaited.len()
                ),
                data: None,
            });
            let still = host
                .wait_pods_gone(node, &awaited, left)
                .map_err(error::ops(format_args!(
                    "node {node}: drain: waiting for the evicted pods to go"
                )))?;
            if still.is_empty() {
                return Ok(DrainResult::Drained { pods: total });
            }
            return Ok(DrainResult::Blocked(format!(
                "drain did not finish within {timeout} s: {} evicted pods are still terminating ({})",
                still.len(),
                names(&still.iter().map(key_text).collect::<Vec<_>>())
            )));
        }

        let text = blocker_text(&blockers);
        if host.now_ms() >= deadline {
            let mut reason = format!(
                "drain did not finish within {timeout} s: {} of {total} pods not evicted: {text}",
                pending.len()
            );
            if !awaited.is_empty() {
                reason.push_str(&format!(
                    "; {} evicted pods still terminating",
                    awaited.len()
                ));
            }
            return Ok(DrainResult::Blocked(reason));
        }
        let wait = backoff.min(seconds_left(host, deadline)).max(1);
        host.report(&Progress {
            node: node.to_owned(),
            step: "drain".into(),
            message: format!(
                "{} of {total} pods not evicted yet: {text}; retrying in {wait} s",
                pending.len()
            ),
            data: Some(
                json!({
                    "pending": pending.iter().map(key_text).collect::<Vec<_>>(),
                    "blockers": blockers,
                    "retry_in_seconds": wait,
                })
                .to_string(),
            ),
        });
        if awaited.is_empty() {
            host.sleep(wait)
                .map_err(error::ops(format_args!("node {node}: drain: backing off")))?;
        } else {
            awaited = host
                .wait_pods_gone(node, &awaited, wait)
                .map_err(error::ops(format_args!(
                    "node {node}: drain: waiting for the evicted pods to go"
                )))?;
        }
        backoff = backoff.saturating_mul(2).min(MAX_BACKOFF_SECONDS);
    }
}

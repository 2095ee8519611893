//! Node heartbeats: each node's kubelet holds a Lease `kube-node-lease/<node>` and renews it,
//! and the garbage collector removes the Lease with its Node (the Lease is owned by it).
//!
//! `kubectl describe node` shows the lease's holder and renew time, and a real kubelet renews
//! it every 10 seconds of wall time (a quarter of its 40 s duration). Renew times are wall
//! time like every timestamp the practice cluster writes, so renewal follows the wall clock,
//! not the accelerated one. A node whose Ready condition is not True has no running kubelet
//! in this cluster and its lease goes stale, as it would.

use std::collections::HashMap;

use jiff::Timestamp;
use serde_json::{Value, json};

use crate::sim::resource::Res;
use crate::sim::store::Store;

/// The namespace node leases live in.
pub const NAMESPACE: &str = "kube-node-lease";
/// `leaseDurationSeconds` a kubelet sets (its `nodeLeaseDurationSeconds` default).
const DURATION_SECONDS: i64 = 40;
/// How often a kubelet renews: a quarter of the duration.
const RENEW_SECONDS: i64 = DURATION_SECONDS / 4;

/// The node leases' controller: creates, renews and collects them.
///
/// It runs on every pass of the controllers, so what it reads from objects is cached by their
/// resourceVersion: a pass over 5,000 nodes and their leases parses only what changed, not
/// 5,000 nodes' JSON.
#[derive(Debug, Default)]
pub struct NodeLeases {
    /// Node -> (its resourceVersion, its kubelet runs).
    kubelets: HashMap<Box<str>, (u64, bool)>,
    /// Lease -> (its resourceVersion, owner UID, renew time).
    leases: HashMap<Box<str>, (u64, Option<String>, Option<Timestamp>)>,
}

impl NodeLeases {
    /// Create, renew and collect node leases, at wall time `now`.
    pub fn reconcile(&mut self, store: &Store, now: Timestamp) {
        let nodes = store.list(Res::Nodes, None);
        let mut by_name: HashMap<&str, (&str, bool)> = HashMap::with_capacity(nodes.len());
        for n in &nodes {
            let running = match self.kubelets.get(&n.name) {
                Some((rv, running)) if *rv == n.rv => *running,
                _ => {
                    let running = kubelet_running(&n.value());
                    self.kubelets.insert(n.name.clone(), (n.rv, running));
                    running
                }
            };
            by_name.insert(&n.name, (&n.uid, running));
        }
        self.kubelets.retain(|k, _| by_name.contains_key(&**k));

        let leases = store.list(Res::Leases, Some(NAMESPACE));
        let mut renewed_at: HashMap<&str, Option<Timestamp>> = HashMap::with_capacity(leases.len());
        for lease in &leases {
            let (owner_uid, renewed) = match self.leases.get(&lease.name) {
                Some((rv, owner, renewed)) if *rv == lease.rv => (owner.clone(), *renewed),
                _ => {
                    let v = lease.value();
                    let owner = v
                        .pointer("/metadata/ownerReferences/0/uid")
                        .and_then(Value::as_str)
                        .map(str::to_owned);
                    let renewed = v
                        .pointer("/spec/renewTime")
                        .and_then(Value::as_str)
                        .and_then(|t| t.parse::<Timestamp>().ok());
                    self.leases
                        .insert(lease.name.clone(), (lease.rv, owner.clone(), renewed));
                    (owner, renewed)
                }
            };
            // Owned by a node that is gone, or by an earlier node of the same name: collect it.
            let alive = by_name
                .get(&*lease.name)
                .is_some_and(|(uid, _)| owner_uid.as_deref() == Some(*uid));
            if alive {
                renewed_at.insert(&lease.name, renewed);
            } else {
                let _ = store.delete(Res::Leases, NAMESPACE, &lease.name, None, None);
            }
        }
        self.leases.retain(|k, _| renewed_at.contains_key(&**k));

        let renew_time = micro_time(now);
        for (name, (uid, running)) in by_name {
            if !running {
                continue;
            }
            match renewed_at.get(name) {
                None => {
                    let lease = json!({"metadata": {"name": name, "namespace": NAMESPACE,
                            "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": name, "uid": uid}]},
                        "spec": {"holderIdentity": name, "leaseDurationSeconds": DURATION_SECONDS,
                                 "renewTime": renew_time}});
                    let _ = store.create(Res::Leases, lease, false);
                }
                Some(renewed) => {
                    let due =
                        renewed.is_none_or(|t| now.duration_since(t).as_secs() >= RENEW_SECONDS);
                    if due {
                        let _ = store.update_with(Res::Leases, NAMESPACE, name, |v| {
                            v["spec"]["renewTime"] = json!(renew_time);
                            Ok(())
                        });
                    }
                }
            }
        }
    }
}

/// The node's Ready condition is True: its kubelet runs and heartbeats.
fn kubelet_running(node: &Value) -> bool {
    node.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                c.get("type").and_then(Value::as_str) == Some("Ready")
                    && c.get("status").and_then(Value::as_str) == Some("True")
            })
        })
}

/// `metav1.MicroTime` as the API writes it: RFC 3339 with microseconds, UTC.
fn micro_time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S.%6fZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(store: &Store, name: &str, ready: &str) -> String {
        let n = store
            .create(
                Res::Nodes,
                json!({"metadata": {"name": name},
                       "status": {"conditions": [{"type": "Ready", "status": ready}]}}),
                false,
            )
            .expect("node");
        n.uid.to_string()
    }

    fn at(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    #[test]
    fn ready_nodes_hold_renewed_leases_that_go_with_their_node() {
        let store = Store::new();
        store
            .create(
                Res::Namespaces,
                json!({"metadata": {"name": NAMESPACE}}),
                false,
            )
            .expect("namespace");
        let uid = node(&store, "n1", "True");
        node(&store, "n2", "Unknown");
        let mut leases = NodeLeases::default();
        let mut reconcile = |store: &Store, now| leases.reconcile(store, now);
        reconcile(&store, at("2026-12-04T08:00:00Z"));
        let lease = store
            .get(Res::Leases, NAMESPACE, "n1")
            .expect("lease")
            .value();
        assert_eq!(lease["spec"]["holderIdentity"], "n1");
        assert_eq!(lease["spec"]["renewTime"], "2026-12-04T08:00:00.000000Z");
        assert_eq!(lease["metadata"]["ownerReferences"][0]["uid"], uid.as_str());
        assert!(
            store.get(Res::Leases, NAMESPACE, "n2").is_none(),
            "no kubelet, no lease"
        );

        let rv = store.rv();
        reconcile(&store, at("2026-12-04T08:00:05Z"));
        assert_eq!(store.rv(), rv, "not due yet: no write");
        reconcile(&store, at("2026-12-04T08:00:10Z"));
        let lease = store
            .get(Res::Leases, NAMESPACE, "n1")
            .expect("lease")
            .value();
        assert_eq!(lease["spec"]["renewTime"], "2026-12-04T08:00:10.000000Z");

        store
            .delete(Res::Nodes, "", "n1", None, None)
            .expect("node removed");
        reconcile(&store, at("2026-12-04T08:00:11Z"));
        assert!(store.get(Res::Leases, NAMESPACE, "n1").is_none());
        let new_uid = node(&store, "n1", "True");
        reconcile(&store, at("2026-12-04T08:00:12Z"));
        let lease = store
            .get(Res::Leases, NAMESPACE, "n1")
            .expect("lease")
            .value();
        assert_eq!(
            lease["metadata"]["ownerReferences"][0]["uid"],
            new_uid.as_str()
        );
    }
}

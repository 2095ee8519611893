//! Which Kubernetes node is which Tencent Cloud instance, confirmed by TKE.
//!
//! A node names its instance in `spec.providerID` or the `cloud.tencent.com/node-instance-id`
//! label (see [`crate::k8s::project::instance_id`]); TKE's `DescribeClusterInstances` confirms
//! that the instance belongs to the cluster and that its LAN IP is the node's internal IP.
//! Removing a node whose mapping is not confirmed would remove the wrong VM, so every row says
//! how sure it is. Pure functions: the caller fetches the nodes and instances.

use std::collections::HashMap;

use crate::bindings::types::Node;
use crate::tke::actions::Instance;

/// How far a node <-> instance pair is confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmation {
    /// TKE lists the instance in the cluster with the node's internal IP.
    Confirmed,
    /// The node carries no instance ID (not a CVM, or a virtual node).
    NoInstanceId,
    /// The node names an instance that TKE does not list in this cluster.
    NotInCluster,
    /// TKE lists the instance with another LAN IP than the node's internal IP.
    IpMismatch {
        /// The node's InternalIP.
        node_ip: String,
        /// TKE's LanIP.
        tke_ip: String,
    },
    /// TKE lists the instance but no node names it (removed from Kubernetes, or still joining).
    NoNode,
}

impl Confirmation {
    /// A short word for tables.
    pub fn label(&self) -> String {
        match self {
            Self::Confirmed => "confirmed".into(),
            Self::NoInstanceId => "no instance id".into(),
            Self::NotInCluster => "not in cluster".into(),
            Self::IpMismatch { node_ip, tke_ip } => {
                format!("ip mismatch: node {node_ip}, tke {tke_ip}")
            }
            Self::NoNode => "no node".into(),
        }
    }
}

/// One row of `tke-recycle nodes`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NodeInstance {
    /// Node name; `None` for an instance no node names.
    pub node: Option<String>,
    /// `ins-...`.
    pub instance_id: Option<String>,
    /// TKE's LanIP (else the node's internal IP).
    pub lan_ip: Option<String>,
    /// Node pool ID.
    pub node_pool: Option<String>,
    /// TKE's InstanceState: `running`, `initializing`, `failed`.
    pub tke_state: Option<String>,
    /// CVM charge type: `PREPAID`, `POSTPAID_BY_HOUR`, ...
    pub charge_type: Option<String>,
    /// How sure the pairing is.
    #[serde(serialize_with = "serialize_label")]
    pub confirmation: Confirmation,
}

fn serialize_label<S: serde::Serializer>(c: &Confirmation, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&c.label())
}

/// Pair nodes with TKE's instances; `charge_types` maps instance ID to charge type. Nodes come
/// first in their order, then instances no node names.
pub fn map_nodes(
    nodes: &[Node],
    instances: &[Instance],
    charge_types: &HashMap<String, String>,
) -> Vec<NodeInstance> {
    let by_id: HashMap<&str, &Instance> = instances
        .iter()
        .map(|i| (i.instance_id.as_str(), i))
        .collect();
    let non_empty = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
    let mut named = std::collections::HashSet::new();
    let mut rows: Vec<NodeInstance> = nodes
        .iter()
        .map(|n| {
            let instance = n
                .instance_id
                .as_deref()
                .and_then(|id| by_id.get(id).copied());
            if let Some(id) = &n.instance_id {
                named.insert(id.clone());
            }
            let confirmation = match (&n.instance_id, instance) {
                (None, _) => Confirmation::NoInstanceId,
                (Some(_), None) => Confirmation::NotInCluster,
                (Some(_), Some(i)) => match (&n.internal_ip, non_empty(&i.lan_ip)) {
                    (Some(node_ip), Some(tke_ip)) if *node_ip != tke_ip => {
                        Confirmation::IpMismatch {
                            node_ip: node_ip.clone(),
                            tke_ip,
                        }
                    }
                    _ => Confirmation::Confirmed,
                },
            };
            NodeInstance {
                node: Some(n.name.clone()),
                instance_id: n.instance_id.clone(),
                lan_ip: instance
                    .and_then(|i| non_empty(&i.lan_ip))
                    .or_else(|| n.internal_ip.clone()),
                node_pool: instance.and_then(|i| non_empty(&i.node_pool_id)),
                tke_state: instance.and_then(|i| non_empty(&i.instance_state)),
                charge_type: n
                    .instance_id
                    .as_ref()
                    .and_then(|id| charge_types.get(id).cloned()),
                confirmation,
            }
        })
        .collect();
    rows.extend(
        instances
            .iter()
            .filter(|i| !named.contains(&i.instance_id))
            .map(|i| NodeInstance {
                node: None,
                instance_id: Some(i.instance_id.clone()),
                lan_ip: non_empty(&i.lan_ip),
                node_pool: non_empty(&i.node_pool_id),
                tke_state: non_empty(&i.instance_state),
                charge_type: charge_types.get(&i.instance_id).cloned(),
                confirmation: Confirmation::NoNode,
            }),
    );
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::types::Resources;

    fn node(name: &str, id: Option<&str>, ip: Option<&str>) -> Node {
        Node {
            name: name.into(),
            instance_id: id.map(Into::into),
            internal_ip: ip.map(Into::into),
            labels: vec![],
            taints: vec![],
            unschedulable: false,
            ready: true,
            allocatable: Resources {
                cpu_millis: 0,
                memory_bytes: 0,
                pods: 0,
                ephemeral_storage_bytes: 0,
                extended: vec![],
            },
        }
    }

    fn instance(id: &str, ip: &str, pool: &str) -> Instance {
        Instance {
            instance_id: id.into(),
            lan_ip: Some(ip.into()),
            node_pool_id: Some(pool.into()),
            instance_state: Some("running".into()),
            ..Default::default()
        }
    }

    #[test]
    fn every_pairing_says_how_sure_it_is() {
        let nodes = vec![
            node("10.0.1.11", Some("ins-a"), Some("10.0.1.11")),
            node("10.0.1.12", Some("ins-b"), Some("10.0.1.12")),
            node("eklet-1", None, Some("10.0.9.9")),
            node("10.0.1.14", Some("ins-gone"), Some("10.0.1.14")),
        ];
        let instances = vec![
            instance("ins-a", "10.0.1.11", "np-1"),
            instance("ins-b", "10.0.1.99", ""),
            instance("ins-orphan", "10.0.1.15", "np-1"),
        ];
        let charges = HashMap::from([("ins-a".to_owned(), "PREPAID".to_owned())]);
        let rows = map_nodes(&nodes, &instances, &charges);
        let got: Vec<(Option<&str>, Confirmation)> = rows
            .iter()
            .map(|r| (r.node.as_deref(), r.confirmation.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                (Some("10.0.1.11"), Confirmation::Confirmed),
                (
                    Some("10.0.1.12"),
                    Confirmation::IpMismatch {
                        node_ip: "10.0.1.12".into(),
                        tke_ip: "10.0.1.99".into()
                    }
                ),
                (Some("eklet-1"), Confirmation::NoInstanceId),
                (Some("10.0.1.14"), Confirmation::NotInCluster),
                (None, Confirmation::NoNode),
            ]
        );
        assert_eq!(rows[0].charge_type.as_deref(), Some("PREPAID"));
        assert_eq!(rows[0].node_pool.as_deref(), Some("np-1"));
        assert_eq!(rows[1].node_pool, None, "empty NodePoolId means none");
        assert_eq!(rows[4].instance_id.as_deref(), Some("ins-orphan"));
    }
}

//! `protected-nodes`: deny recycling a node that carries a protection label.
//!
//! Teams label nodes they must not lose without a conversation (a node with a licence bound to its
//! MAC, a node under investigation). This is the smallest policy that exercises the whole path:
//! settings, a cluster query, findings, severity overrides.

mod settings;

use settings::{LabelRule, Settings};
use tke_recycle_policy_sdk::{
    CheckRequest, Cluster, Finding, ModuleInfo, Node, Policy, Severity, finding, node_ref,
    object_ref,
};

/// The policy.
pub struct ProtectedNodes;

impl Policy for ProtectedNodes {
    fn info() -> ModuleInfo {
        ModuleInfo {
            name: "protected-nodes".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "deny recycling nodes that carry a protection label".into(),
        }
    }

    fn validate_settings(settings: &str) -> Result<(), String> {
        Settings::parse(settings).map(|_| ())
    }

    fn check(request: &CheckRequest, cluster: &dyn Cluster) -> Result<Vec<Finding>, String> {
        let settings = Settings::parse(&request.settings)?;
        let rules = settings.rules()?;
        let mut findings = Vec::new();
        for target in &request.targets {
            match cluster.node(target) {
                Some(summary) => findings.extend(check_node(&summary.node, &rules)),
                None => findings.push(
                    finding(
                        "protected-nodes.unknown-node",
                        Severity::Deny,
                        object_ref("Node", None, target),
                    )
                    .message(format!("node {target} is not in the snapshot"))
                    .remedy("check the node name with `kubectl get nodes`")
                    .build(),
                ),
            }
        }
        settings.severity_overrides.apply(&mut findings);
        Ok(findings)
    }
}

/// The decision for one node: a deny per protection label it carries.
pub fn check_node(node: &Node, rules: &[LabelRule<'_>]) -> Vec<Finding> {
    rules
        .iter()
        .filter_map(|rule| {
            let label = node.labels.iter().find(|l| l.key == rule.key)?;
            if rule.value.is_some_and(|v| v != label.value) {
                return None;
            }
            Some(
                finding("protected-nodes.labelled", Severity::Deny, node_ref(node))
                    .message(format!(
                        "node {} is protected by label {}={}",
                        node.name, label.key, label.value
                    ))
                    .remedy(format!(
                        "remove the label if recycling is intended: kubectl label node {} {}-",
                        node.name, label.key
                    ))
                    .build(),
            )
        })
        .collect()
}

tke_recycle_policy_sdk::export_policy!(ProtectedNodes);

#[cfg(test)]
mod tests {
    use super::*;
    use tke_recycle_policy_sdk::{Label, MemoryCluster, Phase, Resources, SnapshotFile};

    fn node(name: &str, labels: &[(&str, &str)]) -> Node {
        Node {
            name: name.into(),
            instance_id: None,
            internal_ip: None,
            labels: labels
                .iter()
                .map(|(k, v)| Label {
                    key: (*k).into(),
                    value: (*v).into(),
                })
                .collect(),
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

    fn run(settings: &str, nodes: Vec<Node>, targets: &[&str]) -> Vec<Finding> {
        let cluster = MemoryCluster::new(SnapshotFile {
            nodes,
            ..Default::default()
        });
        let request = CheckRequest {
            targets: targets.iter().map(|t| (*t).into()).collect(),
            phase: Phase::Pre,
            settings: settings.into(),
            now: 0,
            affected: vec![],
        };
        ProtectedNodes::check(&request, &cluster).expect("check decides")
    }

    #[test]
    fn deny_when_node_carries_the_default_label() {
        let f = run(
            "{}",
            vec![node("10.0.0.1", &[("tke-recycle.io/protected", "true")])],
            &["10.0.0.1"],
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].code, "protected-nodes.labelled");
        assert_eq!(f[0].severity, Severity::Deny);
        assert!(f[0].message.contains("tke-recycle.io/protected=true"));
    }

    #[test]
    fn pass_when_value_differs_from_the_required_one() {
        let f = run(
            r#"{"labels": ["team=db"]}"#,
            vec![node("n1", &[("team", "web")])],
            &["n1"],
        );
        assert!(f.is_empty());
    }

    #[test]
    fn pass_when_only_other_nodes_are_protected() {
        let nodes = vec![
            node("n1", &[]),
            node("n2", &[("tke-recycle.io/protected", "")]),
        ];
        assert!(run("{}", nodes, &["n1"]).is_empty());
    }

    #[test]
    fn warn_when_overridden() {
        let f = run(
            r#"{"severity_overrides": {"protected-nodes.labelled": "warn"}}"#,
            vec![node("n1", &[("tke-recycle.io/protected", "yes")])],
            &["n1"],
        );
        assert_eq!(f[0].severity, Severity::Warn);
    }

    #[test]
    fn deny_when_target_is_not_in_snapshot() {
        let f = run("{}", vec![], &["ghost"]);
        assert_eq!(f[0].code, "protected-nodes.unknown-node");
    }
}

//! Large, realistic-looking snapshots for benchmarks and load tests: TKE nodes named by LAN IP
//! with instance IDs and zone labels, Deployments spread over them, PDBs on a share of them.

use super::Snapshot;
use crate::bindings::types::{
    IntOrPercent, Label, LabelSelector, Node, Pdb, Pod, PodPhase, Resources,
    UnhealthyPodEvictionPolicy, Workload, WorkloadKind,
};

fn label(key: &str, value: &str) -> Label {
    Label {
        key: key.to_owned(),
        value: value.to_owned(),
    }
}

fn resources(cpu_millis: u64, memory_bytes: u64, pods: u64) -> Resources {
    Resources {
        cpu_millis,
        memory_bytes,
        pods,
        ephemeral_storage_bytes: 0,
        extended: Vec::new(),
    }
}

/// The LAN IP used as the name of node `i`.
pub fn node_name(i: usize) -> String {
    format!("10.{}.{}.{}", 1 + i / 65_536, (i / 256) % 256, i % 256)
}

/// `nodes` nodes and `pods` pods in Deployments of 30 replicas spread round-robin, with a PDB
/// (maxUnavailable 1) on every third Deployment. Deterministic.
pub fn synthetic(nodes: usize, pods: usize) -> Snapshot {
    const REPLICAS: usize = 30;
    let zones = ["300001", "300002", "300003"];
    let node_list: Vec<Node> = (0..nodes)
        .map(|i| {
            let name = node_name(i);
            let instance = format!("ins-{i:08x}");
            Node {
                labels: vec![
                    label("kubernetes.io/hostname", &name),
                    label("cloud.tencent.com/node-instance-id", &instance),
                    label("topology.kubernetes.io/zone", zones[i % zones.len()]),
                    label("topology.kubernetes.io/region", "gz"),
                    label("node.kubernetes.io/instance-type", "S5.2XLARGE16"),
                ],
                instance_id: Some(instance),
                internal_ip: Some(name.clone()),
                name,
                taints: Vec::new(),
                unschedulable: false,
                ready: true,
                allocatable: resources(7_900, 28 << 30, 110),
            }
        })
        .collect();
    let deployments = pods.div_ceil(REPLICAS);
    let selector = |app: &str| LabelSelector {
        match_labels: vec![label("app", app)],
        match_expressions: Vec::new(),
    };
    let mut pod_list = Vec::with_capacity(pods);
    let mut workloads = Vec::with_capacity(deployments);
    let mut pdbs = Vec::new();
    for d in 0..deployments {
        let ns = format!("team-{}", d % 50);
        let app = format!("svc-{d}");
        let replicas = REPLICAS.min(pods - d * REPLICAS);
        for r in 0..replicas {
            let k = d * REPLICAS + r;
            let name = format!("{app}-{r}");
            pod_list.push(Pod {
                uid: format!("uid-{k:08x}"),
                node_name: (nodes > 0).then(|| node_name(k % nodes)),
                phase: PodPhase::Running,
                ready: true,
                terminating: false,
                labels: vec![label("app", &app), label("pod-template-hash", "7d9c5b")],
                owner: Some(crate::bindings::types::WorkloadRef {
                    kind: WorkloadKind::Deployment,
                    name: app.clone(),
                }),
                mirror: false,
                priority: 0,
                requests: resources(100, 200 << 20, 0),
                node_selector: Vec::new(),
                required_node_affinity: Vec::new(),
                tolerations: Vec::new(),
                required_anti_affinity: Vec::new(),
                required_affinity: None,
                topology_spread: None,
                preempts: None,
                volumes: Vec::new(),
                termination_grace_seconds: 30,
                namespace: ns.clone(),
                name,
            });
        }
        let replicas = u32::try_from(replicas).unwrap_or(u32::MAX);
        workloads.push(Workload {
            namespace: ns.clone(),
            kind: WorkloadKind::Deployment,
            name: app.clone(),
            replicas,
            ready_replicas: replicas,
            selector: selector(&app),
        });
        if d % 3 == 0 {
            pdbs.push(Pdb {
                namespace: ns,
                name: app.clone(),
                selector: selector(&app),
                min_available: None,
                max_unavailable: Some(IntOrPercent::Count(1)),
                disruptions_allowed: 1,
                current_healthy: replicas,
                desired_healthy: replicas.saturating_sub(1),
                expected_pods: replicas,
                unhealthy_pod_eviction_policy: UnhealthyPodEvictionPolicy::IfHealthyBudget,
            });
        }
    }
    Snapshot {
        cluster_id: Some("cls-synthetic".into()),
        taken_at: 1_795_910_400,
        nodes: node_list,
        pods: pod_list,
        pdbs,
        workloads,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_spread_are_as_asked() {
        let s = synthetic(10, 95);
        assert_eq!(
            (s.nodes.len(), s.pods.len(), s.workloads.len()),
            (10, 95, 4)
        );
        assert_eq!(s.pdbs.len(), 2);
        let view = super::super::ClusterView::new(s);
        assert_eq!(view.pods_on_node(&node_name(3)).len(), 10);
    }
}

//! kubectl v1.32 (a client we did not write) against the practice cluster.

use std::time::Duration;

use serde_json::Value;
use tke_recycle::sim::resource::Res;

use crate::sim_common::{kubectl, start};

const T: Duration = Duration::from_secs(60);

fn web_node(sim: &tke_recycle::sim::SimHandle) -> String {
    sim.store()
        .list(Res::Pods, Some("shop"))
        .iter()
        .find(|p| p.label("app") == Some("web"))
        .and_then(|p| p.pod.as_ref()?.node_name.as_deref().map(str::to_owned))
        .expect("a web pod is bound")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_kubectl_get_nodes_and_pods_as_json() {
    let sim = start("small.yaml", 50.0).await;
    let out = kubectl(&sim, &["get", "nodes,pods", "-A", "-o", "json"], T).await;
    assert!(out.success, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).expect("json");
    let items = v["items"].as_array().expect("items");
    let nodes = items.iter().filter(|i| i["kind"] == "Node").count();
    let pods = items.iter().filter(|i| i["kind"] == "Pod").count();
    assert_eq!(nodes, 5);
    assert_eq!(pods, sim.store().list(Res::Pods, None).len());
    let node = items.iter().find(|i| i["kind"] == "Node").expect("node");
    assert!(
        node["spec"]["providerID"]
            .as_str()
            .expect("providerID")
            .starts_with("qcloud:///100003/ins-")
    );
    assert!(node["metadata"]["labels"]["cloud.tencent.com/node-instance-id"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_kubectl_cordon_uncordon_and_get_pdb() {
    let sim = start("small.yaml", 50.0).await;
    let out = kubectl(&sim, &["cordon", "10.0.1.11"], T).await;
    assert!(out.success, "{}", out.stderr);
    assert!(out.stdout.contains("cordoned"), "{}", out.stdout);
    let node = sim.get(Res::Nodes, "", "10.0.1.11").expect("node");
    assert_eq!(node["spec"]["unschedulable"], true);
    let out = kubectl(&sim, &["uncordon", "10.0.1.11"], T).await;
    assert!(out.success, "{}", out.stderr);
    let node = sim.get(Res::Nodes, "", "10.0.1.11").expect("node");
    assert!(node["spec"]["unschedulable"].is_null(), "{node}");
    let out = kubectl(&sim, &["get", "pdb", "-A"], T).await;
    assert!(out.success, "{}", out.stderr);
    assert!(out.stdout.contains("web"), "{}", out.stdout);
    let out = kubectl(&sim, &["get", "pdb", "web", "-n", "shop", "-o", "json"], T).await;
    let pdb: Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(pdb["status"]["disruptionsAllowed"], 1);
    assert_eq!(pdb["status"]["currentHealthy"], 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_kubectl_drain_evicts_and_pods_come_back_elsewhere() {
    let sim = start("small.yaml", 50.0).await;
    let node = web_node(&sim);
    let out = kubectl(
        &sim,
        &[
            "drain",
            &node,
            "--ignore-daemonsets",
            "--delete-emptydir-data",
            "--timeout=40s",
        ],
        T,
    )
    .await;
    assert!(out.success, "drain failed:\n{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("drained"), "{}", out.stdout);
    assert!(
        out.stdout.contains("evicting pod") || out.stderr.contains("evicting pod"),
        "{}{}",
        out.stdout,
        out.stderr
    );
    // Only DaemonSet pods stay; the web pods run again on other nodes.
    let back = sim
        .wait_until(Duration::from_secs(20), |s| {
            let pods = s.store().list(Res::Pods, Some("shop"));
            let web: Vec<_> = pods
                .iter()
                .filter(|p| p.label("app") == Some("web"))
                .collect();
            web.len() == 4
                && web.iter().all(|p| {
                    p.pod
                        .as_ref()
                        .is_some_and(|f| f.ready && f.node_name.as_deref() != Some(node.as_str()))
                })
        })
        .await;
    assert!(back, "web pods were not recreated on other nodes");
    for p in sim.pods_on(&node) {
        assert!(
            p.starts_with("kube-system/node-exporter-"),
            "{p} is still on the drained node"
        );
    }
    assert_eq!(
        sim.get(Res::Nodes, "", &node).expect("node")["spec"]["unschedulable"],
        true
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_kubectl_drain_blocked_by_pdb_retries_and_times_out() {
    let sim = start("pdb-blocked.yaml", 50.0).await;
    let pod = sim
        .store()
        .list(Res::Pods, Some("default"))
        .into_iter()
        .find(|p| p.label("app") == Some("api"))
        .expect("api pod");
    let node = pod
        .pod
        .as_ref()
        .and_then(|f| f.node_name.as_deref())
        .expect("bound")
        .to_owned();
    let out = kubectl(
        &sim,
        &[
            "drain",
            &node,
            "--ignore-daemonsets",
            "--delete-emptydir-data",
            "--timeout=7s",
        ],
        T,
    )
    .await;
    assert!(!out.success, "drain must not complete:\n{}", out.stdout);
    assert!(
        out.stderr
            .contains("Cannot evict pod as it would violate the pod's disruption budget"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("will retry after 5s"), "{}", out.stderr);
    let retries = out.stderr.matches("will retry after 5s").count();
    assert!(
        retries >= 2,
        "kubectl should retry a 429 every 5s: {}",
        out.stderr
    );
    let still = sim
        .store()
        .get(Res::Pods, "default", &pod.name)
        .expect("pod still exists");
    assert!(!still.deleting(), "the blocked pod must not be terminating");
}

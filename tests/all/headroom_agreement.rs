//! `headroom` agrees with the practice cluster's scheduler: the pods it says fit nowhere are
//! exactly the ones whose replacements stay Pending after a real `kubectl drain` there. Both sides
//! go through the product's real paths: a live snapshot by `tke-recycle snapshot`, the bundled
//! policy by `tke-recycle policy check`, the drain by kubectl, the result by another snapshot.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;
use tke_recycle::sim::scenario::Scenario;
use tke_recycle::sim::{Sim, SimHandle, SimOptions};

use crate::sim_common::kubectl;
use crate::support::RunCli as _;
use crate::support::bin;

/// Four 2-CPU nodes. `big` (1.5 CPU each) fills one replica per node, so the drained node's
/// replica fits nowhere; `pinned` may only run on the drained node (pool=a); `small` fits anywhere.
const SCENARIO: &str = r#"
name: headroom-agreement
speed: 50
nodes:
  - {lanIp: 10.0.7.11, instanceId: ins-agree0011, cpu: 2000m, memory: 8Gi, labels: {pool: a}}
  - {lanIp: 10.0.7.12, instanceId: ins-agree0012, cpu: 2000m, memory: 8Gi}
  - {lanIp: 10.0.7.13, instanceId: ins-agree0013, cpu: 2000m, memory: 8Gi}
  - {lanIp: 10.0.7.14, instanceId: ins-agree0014, cpu: 2000m, memory: 8Gi}
objects:
  - apiVersion: apps/v1
    kind: Deployment
    metadata: {name: big, namespace: shop}
    spec:
      replicas: 4
      selector: {matchLabels: {app: big}}
      template:
        metadata: {labels: {app: big}}
        spec:
          containers: [{name: big, image: example/big:1, resources: {requests: {cpu: 1500m, memory: 1Gi}}}]
  - apiVersion: apps/v1
    kind: Deployment
    metadata: {name: pinned, namespace: shop}
    spec:
      replicas: 1
      selector: {matchLabels: {app: pinned}}
      template:
        metadata: {labels: {app: pinned}}
        spec:
          nodeSelector: {pool: a}
          containers: [{name: pinned, image: example/pinned:1, resources: {requests: {cpu: 100m, memory: 128Mi}}}]
  - apiVersion: apps/v1
    kind: Deployment
    metadata: {name: small, namespace: shop}
    spec:
      replicas: 2
      selector: {matchLabels: {app: small}}
      template:
        metadata: {labels: {app: small}}
        spec:
          containers: [{name: small, image: example/small:1, resources: {requests: {cpu: 100m, memory: 128Mi}}}]
"#;

const TARGET: &str = "10.0.7.11";

fn snapshot(sim: &SimHandle, path: &std::path::Path) -> Value {
    let out = bin()
        .args(["snapshot", "-o"])
        .arg(path)
        .arg("--kubeconfig")
        .arg(&sim.kubeconfig)
        .run_cli()
        .expect("binary runs");
    assert!(
        out.status.success(),
        "snapshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("snapshot written"))
        .expect("snapshot JSON")
}

/// `namespace/Kind/name` of a projected pod's owner.
fn owner_of(pod: &Value) -> String {
    let kind = match &pod["owner"]["kind"] {
        Value::String(k) => k.clone(),
        other => other.to_string(),
    };
    format!(
        "{}/{kind}/{}",
        pod["namespace"].as_str().unwrap_or(""),
        pod["owner"]["name"].as_str().unwrap_or("")
    )
}

fn count(owners: impl Iterator<Item = String>) -> BTreeMap<String, usize> {
    owners.fold(BTreeMap::new(), |mut m, o| {
        *m.entry(o).or_default() += 1;
        m
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_headroom_says_fit_nowhere_are_the_ones_left_pending_after_a_real_drain() {
    let scenario = Scenario::from_yaml(SCENARIO).expect("scenario parses");
    let sim = Sim::start(scenario, SimOptions::default())
        .await
        .expect("practice cluster starts");
    assert!(
        sim.wait_until(Duration::from_secs(20), |s| s.settled())
            .await,
        "scenario settles"
    );
    let dir = tempfile::tempdir().expect("tempdir");

    // Before: what headroom predicts.
    let before_path = dir.path().join("before.json");
    let before = snapshot(&sim, &before_path);
    let out = bin()
        .args([
            "policy",
            "check",
            "--no-bundled",
            "--policy",
            "headroom",
            "-o",
            "json",
            "--node",
            TARGET,
        ])
        .arg("--snapshot")
        .arg(&before_path)
        .run_cli()
        .expect("binary runs");
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    let pods_before: BTreeMap<String, &Value> = before["pods"]
        .as_array()
        .expect("pods")
        .iter()
        .map(|p| {
            (
                format!(
                    "{}/{}",
                    p["namespace"].as_str().unwrap_or(""),
                    p["name"].as_str().unwrap_or("")
                ),
                p,
            )
        })
        .collect();
    let predicted = count(
        report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .filter(|f| f["code"] == "headroom.unschedulable")
            .map(|f| {
                let key = format!(
                    "{}/{}",
                    f["subject"]["namespace"].as_str().unwrap_or(""),
                    f["subject"]["name"].as_str().unwrap_or("")
                );
                owner_of(
                    pods_before
                        .get(&key)
                        .unwrap_or_else(|| panic!("finding about unknown pod {key}")),
                )
            }),
    );
    assert_eq!(
        predicted,
        BTreeMap::from([
            ("shop/Deployment/big".to_owned(), 1),
            ("shop/Deployment/pinned".to_owned(), 1)
        ]),
        "the scenario is built so that exactly these fit nowhere: {report}"
    );

    // The real drain, by kubectl.
    let drained = kubectl(
        &sim,
        &[
            "drain",
            TARGET,
            "--ignore-daemonsets",
            "--delete-emptydir-data",
            "--timeout=60s",
        ],
        Duration::from_secs(90),
    )
    .await;
    assert!(
        drained.success,
        "drain failed:\n{}\n{}",
        drained.stdout, drained.stderr
    );
    assert!(
        sim.wait_until(Duration::from_secs(30), |s| s.settled())
            .await,
        "replacements settle"
    );

    // After: the pods the scheduler could not place.
    let after = snapshot(&sim, &dir.path().join("after.json"));
    let pending = count(
        after["pods"]
            .as_array()
            .expect("pods")
            .iter()
            .filter(|p| p["phase"] == "Pending" && p["node_name"].is_null())
            .map(owner_of),
    );
    assert_eq!(pending, predicted, "headroom and the scheduler disagree");
}

//! `tke-recycle drain` against `kubectl drain --ignore-daemonsets --delete-emptydir-data` on
//! identical fresh practice clusters: a node with 110 pods under a PDB that lets a quarter of
//! them go at a time. Prints wall time and Kubernetes API requests of each, and their ratios
//! (targets: time <= 0.8 of kubectl's, requests <= kubectl's). Then the host's overhead per
//! recycled node: a `run` of one node of the demo cluster, its wall time minus the time it
//! spent waiting on the cluster and TKE.
//!
//! `cargo bench -p tke-recycle --bench drain` (needs kubectl on PATH). Numbers, not pass/fail.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use tke_recycle::sim::scenario::Scenario;
use tke_recycle::sim::{Sim, SimHandle, SimOptions};

const ROUNDS: usize = 3;

/// Three roomy nodes, 330 replicas (110 per node), a PDB allowing 25% unavailable, a DaemonSet.
const SCENARIO: &str = r#"
name: drain-110
speed: 10
cluster: {id: cls-bench001, name: bench, version: "1.32.2", region: ap-guangzhou, zone: ap-guangzhou-3, zoneId: "100003"}
timing: {imagePullSeconds: 2, readySeconds: 1, shutdownSeconds: 1, parallelImagePulls: true}
nodes:
  - {lanIp: 10.0.5.11, cpu: "64", memory: 256Gi, pods: 250}
  - {lanIp: 10.0.5.12, cpu: "64", memory: 256Gi, pods: 250}
  - {lanIp: 10.0.5.13, cpu: "64", memory: 256Gi, pods: 250}
objects:
  - apiVersion: apps/v1
    kind: Deployment
    metadata: {name: fleet, namespace: bench}
    spec:
      replicas: 330
      selector: {matchLabels: {app: fleet}}
      template:
        metadata: {labels: {app: fleet}}
        spec:
          terminationGracePeriodSeconds: 10
          containers: [{name: app, image: example/app:1, resources: {requests: {cpu: 10m, memory: 16Mi}}}]
  - apiVersion: policy/v1
    kind: PodDisruptionBudget
    metadata: {name: fleet, namespace: bench}
    spec: {maxUnavailable: "25%", selector: {matchLabels: {app: fleet}}}
  - apiVersion: apps/v1
    kind: DaemonSet
    metadata: {name: agent, namespace: kube-system}
    spec:
      selector: {matchLabels: {app: agent}}
      template:
        metadata: {labels: {app: agent}}
        spec:
          containers: [{name: agent, image: example/agent:1, resources: {requests: {cpu: 10m}}}]
"#;

async fn start(text: &str) -> SimHandle {
    let scenario = Scenario::from_yaml(text).expect("bench scenario");
    let sim = Sim::start(scenario, SimOptions::default())
        .await
        .expect("practice cluster starts");
    assert!(
        sim.wait_until(Duration::from_secs(60), SimHandle::settled)
            .await,
        "the bench cluster did not settle"
    );
    sim
}

/// The node with the most pods.
fn busiest(sim: &SimHandle) -> (String, usize) {
    ["10.0.5.11", "10.0.5.12", "10.0.5.13"]
        .iter()
        .map(|n| ((*n).to_owned(), sim.pods_on(n).len()))
        .max_by_key(|(_, c)| *c)
        .expect("three nodes")
}

fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("component-cache")
}

async fn ours(sim: &SimHandle, node: &str) -> (Duration, u64) {
    let state = tempfile::tempdir().expect("tempdir");
    let before = sim.kube_requests();
    let started = Instant::now();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_tke-recycle"))
        .args(["drain", node, "--yes", "-o", "json"])
        .env("KUBECONFIG", &sim.kubeconfig)
        .env("TKE_RECYCLE_CACHE_DIR", cache_dir())
        .env("TKE_RECYCLE_STATE_DIR", state.path())
        .output()
        .await
        .expect("tke-recycle runs");
    let wall = started.elapsed();
    assert!(
        out.status.success(),
        "tke-recycle drain failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (wall, sim.kube_requests() - before)
}

async fn kubectl(sim: &SimHandle, node: &str) -> (Duration, u64) {
    let cache = tempfile::tempdir().expect("tempdir");
    let before = sim.kube_requests();
    let started = Instant::now();
    let out = tokio::process::Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&sim.kubeconfig)
        .arg("--cache-dir")
        .arg(cache.path())
        .args([
            "drain",
            node,
            "--ignore-daemonsets",
            "--delete-emptydir-data",
        ])
        .output()
        .await
        .expect("kubectl runs (is it on PATH?)");
    let wall = started.elapsed();
    assert!(
        out.status.success(),
        "kubectl drain failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (wall, sim.kube_requests() - before)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

async fn drain_comparison() {
    let (mut t_ours, mut t_kubectl, mut r_ours, mut r_kubectl) = (vec![], vec![], vec![], vec![]);
    for round in 0..ROUNDS {
        let sim = start(SCENARIO).await;
        let (node, pods) = busiest(&sim);
        let (wall, requests) = ours(&sim, &node).await;
        println!(
            "round {round}: tke-recycle drain {node} ({pods} pods): {wall:.2?}, {requests} API requests"
        );
        t_ours.push(wall.as_secs_f64());
        r_ours.push(requests as f64);
        drop(sim);
        let sim = start(SCENARIO).await;
        let (node, pods) = busiest(&sim);
        let (wall, requests) = kubectl(&sim, &node).await;
        println!(
            "round {round}: kubectl drain     {node} ({pods} pods): {wall:.2?}, {requests} API requests"
        );
        t_kubectl.push(wall.as_secs_f64());
        r_kubectl.push(requests as f64);
    }
    let (to, tk, ro, rk) = (
        median(t_ours),
        median(t_kubectl),
        median(r_ours),
        median(r_kubectl),
    );
    println!("drain of a 110-pod node, medians of {ROUNDS}:");
    println!("  tke-recycle drain: {to:.2} s, {ro:.0} API requests");
    println!("  kubectl drain:     {tk:.2} s, {rk:.0} API requests");
    println!(
        "  wall time ratio {:.2} (target <= 0.8), request ratio {:.2} (target <= 1)",
        to / tk,
        ro / rk
    );
}

async fn overhead_per_node() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/demo.yaml");
    let text = std::fs::read_to_string(path).expect("demo scenario");
    let mut overheads = Vec::new();
    for round in 0..ROUNDS {
        let sim = start(&text).await;
        let state = tempfile::tempdir().expect("tempdir");
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_tke-recycle"))
            .args([
                "run",
                "--cluster",
                &sim.cluster_id,
                "--node",
                "10.0.8.11",
                "--yes",
                "-o",
                "json",
            ])
            .args(["--tke-endpoint", &sim.tke_url])
            .env("KUBECONFIG", &sim.kubeconfig)
            .env("TENCENTCLOUD_SECRET_ID", &sim.secret_id)
            .env("TENCENTCLOUD_SECRET_KEY", &sim.secret_key)
            .env("TENCENTCLOUD_REGION", &sim.region)
            .env("TKE_RECYCLE_CACHE_DIR", cache_dir())
            .env("TKE_RECYCLE_STATE_DIR", state.path())
            .output()
            .await
            .expect("tke-recycle runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let end: serde_json::Value = stdout
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .find(|e: &serde_json::Value| e["step"] == "end")
            .unwrap_or_else(|| panic!("no end event: {stdout}"));
        let wall = end["wall_ms"].as_f64().unwrap_or(0.0);
        let waited = end["waited_ms"].as_f64().unwrap_or(0.0);
        println!(
            "round {round}: recycle of one node: {wall:.0} ms, {waited:.0} ms waiting on the cluster and TKE, host overhead {:.0} ms",
            wall - waited
        );
        overheads.push(wall - waited);
    }
    println!(
        "host overhead per recycled node (median of {ROUNDS}): {:.0} ms",
        median(overheads)
    );
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing: only measure when asked.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async {
        drain_comparison().await;
        overhead_per_node().await;
    });
}

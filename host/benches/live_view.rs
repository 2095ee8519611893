//! The live view against a full read on a generated practice cluster: how long the watches
//! take to start, a full `read_snapshot`, a `snapshot()` projected from the watch caches, and
//! `pods_on_node`. `TKE_RECYCLE_LIVE_GENERATE=nodes=N,pods=M` picks the size (default
//! 500 nodes, 15,000 pods).
//!
//! `cargo bench -p tke-recycle --bench live_view`. Numbers, not pass/fail.

use std::time::{Duration, Instant};

use tke_recycle::k8s::client::{Clients, KubeOptions};
use tke_recycle::k8s::live::LiveCluster;
use tke_recycle::k8s::served::PdbVersion;
use tke_recycle::k8s::snapshot::read_snapshot;
use tke_recycle::sim::scenario::{Generate, Scenario};
use tke_recycle::sim::{Sim, SimOptions};

const ROUNDS: usize = 5;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

async fn measure(spec: &str) {
    let scenario = Scenario {
        generate: Some(Generate::parse(spec).expect("nodes=N,pods=M")),
        ..Scenario::default()
    };
    let sim = Sim::start(scenario, SimOptions::default())
        .await
        .expect("practice cluster starts");
    let c = Clients::connect(&KubeOptions {
        kubeconfig: Some(sim.kubeconfig.clone()),
        context: None,
    })
    .await
    .expect("kube clients");
    let t = Instant::now();
    let live = LiveCluster::start(&c.reads, Some(sim.cluster_id.clone()), PdbVersion::V1)
        .await
        .expect("live view starts");
    let start = t.elapsed();
    let (mut reads, mut projections, mut on_node) = (vec![], vec![], vec![]);
    for _ in 0..ROUNDS {
        let t = Instant::now();
        let read = read_snapshot(&c.reads, Some(sim.cluster_id.clone()))
            .await
            .expect("read snapshot");
        reads.push(t.elapsed());
        let t = Instant::now();
        let snap = live.snapshot().expect("live snapshot");
        projections.push(t.elapsed());
        assert_eq!(snap.pods.len(), read.pods.len(), "the two views disagree");
        let t = Instant::now();
        let _ = live.pods_on_node(&snap.nodes[0].name);
        on_node.push(t.elapsed());
    }
    println!(
        "live view on {spec}: start {start:.2?}; medians of {ROUNDS}: read_snapshot {:.2?}, \
         snapshot() {:.2?}, pods_on_node {:.2?}",
        median(reads),
        median(projections),
        median(on_node)
    );
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing: only measure when asked.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let spec = std::env::var("TKE_RECYCLE_LIVE_GENERATE")
        .unwrap_or_else(|_| "nodes=500,pods=15000".into());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(measure(&spec));
}

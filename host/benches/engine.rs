//! Engine benchmarks: cold compile, cached load, instantiate + trivial call, and a policy call on
//! a 5,000-node / 150,000-pod snapshot in Wasm against the same policy logic called natively.
//!
//! `cargo bench -p tke-recycle --bench engine`

#![allow(
    missing_docs,
    reason = "criterion's macros generate undocumented functions"
)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use tke_recycle::bindings::types::{CheckRequest, Phase};
use tke_recycle::bundled;
use tke_recycle::engine::{EngineConfig, Runtime};
use tke_recycle::snapshot::{ClusterView, synthetic, synthetic_node_name};
use tke_recycle_policy_sdk::{MemoryCluster, Policy};

const NODES: usize = 5_000;
const PODS: usize = 150_000;

fn tokio() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn runtime(cache: Option<std::path::PathBuf>) -> Runtime {
    Runtime::new(EngineConfig {
        cache_dir: cache,
        ..EngineConfig::default()
    })
    .expect("engine")
}

fn loading(c: &mut Criterion) {
    let wasm = bundled::find("protected-nodes").expect("bundled").wasm;
    let mut group = c.benchmark_group("load");
    group.sample_size(10);
    let uncached = runtime(None);
    group.bench_function("cold-compile", |b| {
        b.iter(|| uncached.load_policy("protected-nodes", black_box(wasm)))
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let cached = runtime(Some(dir.path().to_owned()));
    cached
        .load_policy("protected-nodes", wasm)
        .expect("warm the cache");
    group.sample_size(100);
    group.bench_function("cached", |b| {
        b.iter(|| cached.load_policy("protected-nodes", black_box(wasm)))
    });
    group.finish();
}

fn calls(c: &mut Criterion) {
    let rt = tokio();
    let wasm = bundled::find("protected-nodes").expect("bundled").wasm;
    let runtime = runtime(None);
    let module = runtime.load_policy("protected-nodes", wasm).expect("loads");
    c.bench_function("call/instantiate+describe", |b| {
        b.iter(|| rt.block_on(module.describe()).expect("describe"));
    });

    let snapshot = synthetic(NODES, PODS);
    let json = serde_json::to_string(&snapshot).expect("serialise");
    let native = MemoryCluster::from_json(&json).expect("same format natively");
    let view = Arc::new(ClusterView::new(snapshot));
    let target = synthetic_node_name(1234);
    let request = CheckRequest {
        targets: vec![target.clone()],
        phase: Phase::Pre,
        settings: "{}".into(),
        now: 0,
        affected: Vec::new(),
    };
    let native_request = tke_recycle_policy_sdk::CheckRequest {
        targets: vec![target],
        phase: tke_recycle_policy_sdk::Phase::Pre,
        settings: "{}".into(),
        now: 0,
        affected: Vec::new(),
    };

    // Two policies: `protected-nodes` reads one node, so its call is the fixed cost of a fresh
    // instance; `headroom` reads every node summary and simulates the drain, so its call is the
    // one that scales with the snapshot.
    let headroom = runtime
        .load_policy("headroom", bundled::find("headroom").expect("bundled").wasm)
        .expect("loads");
    let mut group = c.benchmark_group("snapshot-5000n-150000p");
    group.measurement_time(Duration::from_secs(3));
    group.bench_function("protected-nodes/wasm", |b| {
        b.iter(|| {
            rt.block_on(module.check(view.clone(), black_box(&request)))
                .expect("no trap")
                .expect("decides")
        });
    });
    group.bench_function("protected-nodes/native", |b| {
        b.iter(|| {
            protected_nodes::ProtectedNodes::check(black_box(&native_request), &native)
                .expect("decides")
        });
    });
    group.bench_function("headroom/wasm", |b| {
        b.iter(|| {
            rt.block_on(headroom.check(view.clone(), black_box(&request)))
                .expect("no trap")
                .expect("decides")
        });
    });
    group.bench_function("headroom/native", |b| {
        b.iter(|| headroom::evaluate(black_box(&native_request), &native).expect("decides"));
    });

    // The boundary's share: a guest that only asks for every node summary (the `node-table`
    // crossing plus the SDK decoding it), against the same SDK call natively.
    let probe =
        std::path::Path::new(env!("TKE_RECYCLE_TEST_GUESTS_DIR")).join("hostile_policy.wasm");
    let probe = runtime
        .load_policy_file("count-nodes", &probe)
        .expect("test guest built");
    let count_nodes = CheckRequest {
        settings: r#"{"behave": "count-nodes"}"#.into(),
        ..request.clone()
    };
    group.bench_function("nodes-query/wasm", |b| {
        b.iter(|| {
            rt.block_on(probe.check(view.clone(), black_box(&count_nodes)))
                .expect("no trap")
                .expect("decides")
        });
    });
    let count_rows = CheckRequest {
        settings: r#"{"behave": "count-node-rows"}"#.into(),
        ..request.clone()
    };
    group.bench_function("nodes-query/wasm-without-decoding", |b| {
        b.iter(|| {
            rt.block_on(probe.check(view.clone(), black_box(&count_rows)))
                .expect("no trap")
                .expect("decides")
        });
    });
    group.bench_function("nodes-query/native", |b| {
        b.iter(|| black_box(tke_recycle_policy_sdk::Cluster::nodes(&native).len()))
    });
    group.finish();
}

criterion_group!(benches, loading, calls);
criterion_main!(benches);

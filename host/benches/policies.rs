//! All bundled pre-checks for one target node on a 5,000-node / 150,000-pod snapshot: in Wasm
//! (warm: modules loaded, one fresh instance per call, as `check` runs them) and the same decision
//! code called natively on the same snapshot. Target: < 25 ms for all of them in Wasm.
//!
//! `cargo bench -p tke-recycle --bench policies`

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
use tke_recycle::checks::{OutputLimits, PolicySpec, run_policies};
use tke_recycle::engine::{EngineConfig, Runtime};
use tke_recycle::snapshot::{ClusterView, synthetic, synthetic_node_name};
use tke_recycle_policy_sdk::{Cluster, MemoryCluster};

type NativeCheck = fn(
    &tke_recycle_policy_sdk::CheckRequest,
    &dyn Cluster,
) -> Result<Vec<tke_recycle_policy_sdk::Finding>, String>;

/// The native entry point of each bundled pre-check, by module name.
const NATIVE: &[(&str, NativeCheck)] = &[
    ("headroom", headroom::evaluate),
    ("local-data", local_data::evaluate),
    ("pdb", pdb::evaluate),
    (
        "protected-nodes",
        <protected_nodes::ProtectedNodes as tke_recycle_policy_sdk::Policy>::check,
    ),
    ("spread", spread::evaluate),
];

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio");
    let snapshot = synthetic(5_000, 150_000);
    let native_cluster =
        MemoryCluster::from_json(&serde_json::to_string(&snapshot).expect("json")).expect("loads");
    let view = Arc::new(ClusterView::new(snapshot));
    let target = synthetic_node_name(1234);
    let request = CheckRequest {
        targets: vec![target.clone()],
        phase: Phase::Pre,
        settings: String::new(),
        now: 0,
        affected: vec![],
    };
    let native_request = tke_recycle_policy_sdk::CheckRequest {
        targets: vec![target],
        phase: tke_recycle_policy_sdk::Phase::Pre,
        settings: "{}".into(),
        now: 0,
        affected: vec![],
    };

    let runtime = Runtime::new(EngineConfig {
        cache_dir: None,
        ..EngineConfig::default()
    })
    .expect("engine");
    let specs: Vec<PolicySpec> = bundled::policies(bundled::Phase::Pre)
        .map(PolicySpec::bundled)
        .collect();
    let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
    let mut native_names: Vec<&str> = NATIVE.iter().map(|(n, _)| *n).collect();
    native_names.sort_unstable();
    assert_eq!(
        names, native_names,
        "every bundled pre-check has its native entry point here"
    );
    let modules: Vec<_> = specs
        .iter()
        .map(|s| tke_recycle::checks::load(&runtime, s).expect("bundled policy loads"))
        .collect();

    let mut group = c.benchmark_group("pre-checks-5000n-150000p");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(5));
    group.bench_function("all/wasm-warm", |b| {
        b.iter(|| {
            for m in &modules {
                let findings = rt.block_on(m.check(view.clone(), black_box(&request)));
                black_box(findings.expect("no trap").expect("decides"));
            }
        });
    });
    group.bench_function("all/native", |b| {
        b.iter(|| {
            for (_, check) in NATIVE {
                black_box(check(black_box(&native_request), &native_cluster).expect("decides"));
            }
        });
    });
    for (m, (name, check)) in modules.iter().zip(NATIVE) {
        group.bench_function(format!("{name}/wasm-warm"), |b| {
            b.iter(|| {
                rt.block_on(m.check(view.clone(), black_box(&request)))
                    .expect("no trap")
                    .expect("decides")
            });
        });
        group.bench_function(format!("{name}/native"), |b| {
            b.iter(|| check(black_box(&native_request), &native_cluster).expect("decides"));
        });
    }
    // What one `check` run does per policy: load from the disk cache, validate the settings,
    // check, vet the output.
    let cache = tempfile::tempdir().expect("tempdir");
    let cached = Runtime::new(EngineConfig {
        cache_dir: Some(cache.path().to_owned()),
        ..EngineConfig::default()
    })
    .expect("engine");
    rt.block_on(run_policies(
        &cached,
        &specs,
        view.clone(),
        &request,
        &OutputLimits::default(),
    ));
    group.bench_function("all/run_policies-from-disk-cache", |b| {
        b.iter(|| {
            rt.block_on(run_policies(
                &cached,
                &specs,
                view.clone(),
                &request,
                &OutputLimits::default(),
            ))
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! Policies written in Python and JavaScript next to the Rust example, in one run: component
//! size, cold compile, cached load, and the per-call time of a `check` on the example snapshot
//! and on a 5,000-node / 150,000-pod one. The Python and JavaScript components embed an
//! interpreter (10-20 MB), so their compile and instantiate costs are what this measures.
//!
//! `cargo bench -p tke-recycle --bench foreign_policies` (builds the components first with
//! their documented build commands, `policies/examples/*/build.sh`).

#![allow(missing_docs, reason = "a benchmark binary")]

#[path = "../../tests/all/foreign_build.rs"]
mod foreign_build;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tke_recycle::bindings::types::{CheckRequest, Phase};
use tke_recycle::engine::{EngineConfig, Limits, Runtime};
use tke_recycle::snapshot::{ClusterView, Snapshot, synthetic, synthetic_node_name};

struct Subject {
    label: &'static str,
    path: PathBuf,
    settings: &'static str,
}

fn runtime(cache: Option<PathBuf>) -> Runtime {
    Runtime::new(EngineConfig {
        cache_dir: cache,
        policy_limits: Limits {
            time: Duration::from_secs(30),
            ..Limits::policy()
        },
    })
    .expect("engine")
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    let python = foreign_build::built("python");
    let javascript = foreign_build::built("javascript");
    let subjects = [
        Subject {
            label: "rust (team-maintenance-window)",
            path: Path::new(env!("TKE_RECYCLE_TEST_GUESTS_DIR"))
                .join("team_maintenance_window.wasm"),
            settings: r#"{"time_zone": "Asia/Shanghai"}"#,
        },
        Subject {
            label: "python (namespace-pdb-guard)",
            path: python.component("namespace-pdb-guard"),
            settings: r#"{"namespaces": ["shop", "default", "team-1"]}"#,
        },
        Subject {
            label: "javascript (capacity-freeze-guard)",
            path: javascript.component("capacity-freeze-guard"),
            settings: r#"{"freezes": []}"#,
        },
    ];
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio");
    let small = Arc::new(ClusterView::new(
        Snapshot::load(&foreign_build::repo().join("host/snapshots/small-cluster.json"))
            .expect("example snapshot"),
    ));
    let big = Arc::new(ClusterView::new(synthetic(5_000, 150_000)));
    println!(
        "{:<36} {:>9} {:>13} {:>12} {:>16} {:>18}",
        "policy", "size", "cold compile", "cached load", "call (example)", "call (5,000 nodes)"
    );
    for s in &subjects {
        let wasm = std::fs::read(&s.path).unwrap_or_else(|e| panic!("{}: {e}", s.path.display()));
        let size = format!("{:.1} MB", wasm.len() as f64 / 1e6);

        let cold = {
            let uncached = runtime(None);
            let started = Instant::now();
            uncached.load_policy(s.label, &wasm).expect("loads");
            started.elapsed()
        };
        let cache = tempfile::tempdir().expect("tempdir");
        let cached = runtime(Some(cache.path().to_owned()));
        let module = cached.load_policy(s.label, &wasm).expect("warms the cache");
        let cached_load = median(
            (0..10)
                .map(|_| {
                    let started = Instant::now();
                    cached.load_policy(s.label, &wasm).expect("cached");
                    started.elapsed()
                })
                .collect(),
        );
        let call = |view: &Arc<ClusterView>, target: String, n: usize| {
            let request = CheckRequest {
                targets: vec![target],
                phase: Phase::Pre,
                settings: s.settings.into(),
                now: 1_796_284_800,
                affected: Vec::new(),
            };
            median(
                (0..n)
                    .map(|_| {
                        let started = Instant::now();
                        rt.block_on(module.check(view.clone(), &request))
                            .expect("no trap")
                            .expect("decides");
                        started.elapsed()
                    })
                    .collect(),
            )
        };
        let on_small = call(&small, "10.0.1.11".into(), 20);
        let on_big = call(&big, synthetic_node_name(1234), 10);
        println!(
            "{:<36} {:>9} {:>13} {:>12} {:>16} {:>18}",
            s.label,
            size,
            ms(cold),
            ms(cached_load),
            ms(on_small),
            ms(on_big)
        );
    }
}

//! `tke-recycle check` end to end on the practice cluster's 5,000-node / 150,000-pod scenario,
//! against `kubectl get pods -A -o json` on the same running cluster: wall time and peak RSS of
//! each, measured with `/usr/bin/time`. Then `tke-recycle snapshot` (the same nine lists `check`
//! reads) against a plain sequential reader of those lists (`plain_reader.py`: one keep-alive
//! connection, `json.loads` per page), alternated in one run so both see the same machine.
//! Prints numbers; asserts nothing about speed.
//!
//! Run: `cargo bench -p tke-recycle --bench live_check`
//! (`TKE_RECYCLE_BENCH=nodes=N,pods=M` for another size.)

#![allow(
    clippy::unwrap_used,
    reason = "a benchmark binary: a failed step should stop it loudly"
)]

use std::process::Command;
use std::time::Duration;

use tke_recycle::sim::scenario::{Generate, Scenario};
use tke_recycle::sim::{Sim, SimOptions};

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tke-recycle"));
    cmd.env("TKE_RECYCLE_CACHE_DIR", cache_dir());
    cmd
}

fn cache_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("component-cache")
}

/// (wall seconds, peak RSS KiB) of one run; stdout discarded.
fn measure(program: &str, args: &[&str]) -> (f64, u64) {
    let out = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("BENCH %e %M")
        .arg(program)
        .args(args)
        .env("TKE_RECYCLE_CACHE_DIR", cache_dir())
        .stdout(std::process::Stdio::null())
        .output()
        .expect("/usr/bin/time runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{program} failed: {stderr}");
    let line = stderr
        .lines()
        .rev()
        .find(|l| l.starts_with("BENCH "))
        .unwrap_or_else(|| panic!("no timing in {stderr}"));
    let mut parts = line.split_whitespace().skip(1);
    let secs = parts.next().and_then(|s| s.parse().ok()).expect("seconds");
    let kib = parts.next().and_then(|s| s.parse().ok()).expect("kib");
    (secs, kib)
}

fn main() {
    let spec =
        std::env::var("TKE_RECYCLE_BENCH").unwrap_or_else(|_| "nodes=5000,pods=150000".into());
    let generate = Generate::parse(&spec).expect("nodes=N,pods=M");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let sim = rt.block_on(async {
        let scenario = Scenario {
            generate: Some(generate),
            ..Scenario::default()
        };
        Sim::start(scenario, SimOptions::default())
            .await
            .expect("sim")
    });
    // Both tools use the practice cluster's own kubeconfig (HTTPS with a bearer token).
    let kubeconfig = sim.kubeconfig.to_str().expect("utf-8").to_owned();
    let tool = bin().get_program().to_str().expect("utf-8").to_owned();
    let check_args = [
        "check",
        "--cluster",
        "cls-sim00001",
        "--node",
        "10.100.0.2",
        "--kubeconfig",
        &kubeconfig,
        "-o",
        "json",
    ];
    let kubectl_args = [
        "--kubeconfig",
        &kubeconfig,
        "get",
        "pods",
        "-A",
        "-o",
        "json",
    ];
    // One warm-up each (the policy compile cache, the sim's first list), then the measured runs.
    measure(&tool, &check_args);
    measure("kubectl", &kubectl_args);
    std::thread::sleep(Duration::from_millis(500));
    let mut rows = Vec::new();
    for _ in 0..2 {
        let c = measure(&tool, &check_args);
        let k = measure("kubectl", &kubectl_args);
        rows.push((c, k));
    }
    // The read itself: snapshot against the plain sequential reader, alternated.
    let snapshot_out =
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("bench-snapshot.json");
    let snapshot_args = [
        "snapshot",
        "--kubeconfig",
        &kubeconfig,
        "-o",
        snapshot_out.to_str().expect("utf-8"),
    ];
    let reader = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/plain_reader.py");
    let mut reads = Vec::new();
    for _ in 0..3 {
        let s = measure(&tool, &snapshot_args);
        let p = measure("python3", &[reader, &kubeconfig]);
        reads.push((s, p));
    }
    let pods = generate.pods.max(1) as f64;
    for ((ss, skib), (ps, pkib)) in &reads {
        println!(
            "BENCH {spec}: snapshot {ss:.2}s {:.1} MiB | plain sequential reader {ps:.2}s {:.1} MiB | wall ratio {:.2}",
            *skib as f64 / 1024.0,
            *pkib as f64 / 1024.0,
            ss / ps
        );
    }
    for ((cs, ckib), (ks, kkib)) in &rows {
        println!(
            "BENCH {spec}: check {cs:.2}s {:.1} MiB ({:.0} B/pod) | kubectl get pods -A -o json {ks:.2}s {:.1} MiB | wall ratio {:.2}",
            *ckib as f64 / 1024.0,
            *ckib as f64 * 1024.0 / pods,
            *kkib as f64 / 1024.0,
            cs / ks
        );
    }
    drop(sim);
}

//! Benchmark (ignored by default): `tke-recycle check` end to end on the practice cluster's
//! 5,000-node / 150,000-pod scenario, against `kubectl get pods -A -o json` on the same running
//! cluster: wall time and peak RSS of each, measured with `/usr/bin/time`.
//!
//! Run: `cargo test --test all bench_access -- --ignored --nocapture`
//! (`TKE_RECYCLE_BENCH=nodes=N,pods=M` for another size.)

use std::process::Command;
use std::time::Duration;

use tke_recycle::sim::scenario::{Generate, Scenario};
use tke_recycle::sim::{Sim, SimOptions};

use crate::support::{bin, cache_dir};

/// A loopback TCP proxy that adds `Authorization: Bearer TOKEN` to every request head. The
/// kubectl on this machine (v1.32.4 via the gcloud dispatcher) does not send a kubeconfig bearer
/// token to a plain-http server, and the practice cluster requires one; both tools go through
/// the proxy so that they pay the same hop. Only body-less requests (GET lists) are supported,
/// which is all both commands send.
async fn auth_proxy(upstream: String, token: String) -> String {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let upstream = upstream.clone();
            let token = token.clone();
            tokio::spawn(async move {
                let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else {
                    return;
                };
                let (client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
                    let _ = client_write.shutdown().await;
                });
                let mut reader = BufReader::new(client_read);
                let mut line = String::new();
                loop {
                    line.clear();
                    match reader.read_line(&mut line).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                    if line == "\r\n" {
                        let auth = format!("Authorization: Bearer {token}\r\n\r\n");
                        if server_write.write_all(auth.as_bytes()).await.is_err() {
                            return;
                        }
                    } else if !line.to_ascii_lowercase().starts_with("authorization:")
                        && server_write.write_all(line.as_bytes()).await.is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    format!("http://{addr}")
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

#[test]
#[ignore = "benchmark: starts a 5,000-node / 150,000-pod practice cluster; run with --ignored --nocapture"]
fn check_against_kubectl_on_a_large_cluster() {
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
    let proxy = rt.block_on(auth_proxy(
        sim.k8s_url.trim_start_matches("http://").to_owned(),
        sim.token.clone(),
    ));
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig_path = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig_path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: p\n  cluster: {{server: '{proxy}'}}\n\
             users:\n- name: u\n  user: {{}}\ncontexts:\n- name: p\n  context: {{cluster: p, user: u}}\n\
             current-context: p\n"
        ),
    )
    .expect("kubeconfig");
    let kubeconfig = kubeconfig_path.to_str().expect("utf-8").to_owned();
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
    let pods = generate.pods.max(1) as f64;
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

//! Scale measurement of the practice cluster (numbers for humans, not a timed test):
//! start a generated cluster, time `kubectl get pods -A -o json` and a raw unpaged list, and
//! report the process's resident memory.
//!
//! `cargo run --release --example sim_scale -- [nodes=5000,pods=150000]`

use std::time::{Duration, Instant};

use tke_recycle::sim::scenario::{Generate, Scenario};
use tke_recycle::sim::{Sim, SimOptions};

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|k| k.parse::<f64>().ok())
            })
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    tracing_subscriber::fmt().with_env_filter("info").init();
    let spec = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "nodes=5000,pods=150000".into());
    let scenario = Scenario {
        generate: Some(Generate::parse(&spec)?),
        ..Default::default()
    };
    let t = Instant::now();
    let sim = Sim::start(scenario, SimOptions::default()).await?;
    println!(
        "start ({spec}): {:.2}s, RSS {:.0} MiB",
        t.elapsed().as_secs_f64(),
        rss_mib()
    );

    let ca = reqwest::Certificate::from_pem(tke_recycle::sim::tls::CA_PEM.as_bytes())?;
    let http = reqwest::Client::builder()
        .tls_certs_only([ca])
        .timeout(Duration::from_secs(600))
        .build()?;
    let t = Instant::now();
    let body = http
        .get(format!("{}/api/v1/pods", sim.k8s_url))
        .bearer_auth(&sim.token)
        .send()
        .await?
        .bytes()
        .await?;
    println!(
        "raw GET /api/v1/pods (one page): {:.2}s, {:.0} MiB of JSON, RSS {:.0} MiB",
        t.elapsed().as_secs_f64(),
        body.len() as f64 / 1048576.0,
        rss_mib()
    );
    drop(body);

    // The same list the way kubectl fetches it: pages of 500 with continue tokens.
    let t = Instant::now();
    let (mut items, mut cont) = (0usize, String::new());
    loop {
        let url = format!("{}/api/v1/pods?limit=500&continue={cont}", sim.k8s_url);
        let page: serde_json::Value = http
            .get(url)
            .bearer_auth(&sim.token)
            .send()
            .await?
            .json()
            .await?;
        items += page["items"].as_array().map_or(0, Vec::len);
        match page["metadata"]["continue"].as_str() {
            Some(c) => cont = c.to_owned(),
            None => break,
        }
    }
    println!(
        "paged GET /api/v1/pods?limit=500 (server + JSON decode): {:.2}s, {items} pods, RSS {:.0} MiB",
        t.elapsed().as_secs_f64(),
        rss_mib()
    );

    // kubectl's output goes to a file so that this process's RSS stays the sim's own.
    let out_path =
        std::env::temp_dir().join(format!("sim-scale-kubectl-{}.json", std::process::id()));
    let t = Instant::now();
    let status = tokio::process::Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&sim.kubeconfig)
        .args(["get", "pods", "-A", "-o", "json"])
        .stdout(std::fs::File::create(&out_path)?)
        .status()
        .await?;
    anyhow::ensure!(status.success(), "kubectl failed");
    let elapsed = t.elapsed().as_secs_f64();
    let rss = rss_mib();
    use std::io::BufRead;
    let n = std::io::BufReader::new(std::fs::File::open(&out_path)?)
        .lines()
        .map_while(Result::ok)
        .filter(|l| l.trim() == "\"kind\": \"Pod\",")
        .count();
    let _ = std::fs::remove_file(&out_path);
    println!("kubectl get pods -A -o json: {elapsed:.2}s, {n} pods, RSS of the sim {rss:.0} MiB");
    sim.shutdown();
    Ok(())
}

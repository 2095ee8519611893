//! Helpers shared by the practice-cluster tests: starting a scenario, running kubectl with a
//! timeout, and a raw HTTP client.

use std::path::PathBuf;
use std::time::Duration;

use tke_recycle::sim::scenario::Scenario;
use tke_recycle::sim::{Sim, SimHandle, SimOptions};

/// A shipped scenario by file name.
pub fn scenario(name: &str) -> Scenario {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name);
    Scenario::from_file(&path).unwrap_or_else(|e| panic!("scenario {name}: {e:#}"))
}

/// Start a shipped scenario at a high clock speed.
pub async fn start(name: &str, speed: f64) -> SimHandle {
    let sim = Sim::start(
        scenario(name),
        SimOptions {
            speed: Some(speed),
            ..Default::default()
        },
    )
    .await
    .unwrap_or_else(|e| panic!("start {name}: {e:#}"));
    assert!(
        sim.wait_until(Duration::from_secs(10), |s| s.settled())
            .await,
        "scenario {name} did not settle"
    );
    sim
}

/// Output of a finished command.
pub struct Output {
    /// Exit status success.
    pub success: bool,
    /// Stdout.
    pub stdout: String,
    /// Stderr.
    pub stderr: String,
}

/// Run kubectl against the sim, bounded in time. Fails (never skips) when kubectl is missing.
pub async fn kubectl(sim: &SimHandle, args: &[&str], timeout: Duration) -> Output {
    let cache =
        std::env::temp_dir().join(format!("tke-recycle-kubectl-cache-{}", std::process::id()));
    let mut cmd = tokio::process::Command::new("kubectl");
    cmd.arg("--kubeconfig")
        .arg(&sim.kubeconfig)
        .arg("--cache-dir")
        .arg(&cache)
        .args(args)
        .kill_on_drop(true);
    let child = cmd.output();
    let out = tokio::time::timeout(timeout, child)
        .await
        .unwrap_or_else(|_| panic!("kubectl {args:?} did not finish within {timeout:?}"))
        .unwrap_or_else(|e| panic!("kubectl must be on the PATH for these tests (v1.32): {e}"));
    Output {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A reqwest client that trusts the sim's CA, with the rustls provider installed.
pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ca = reqwest::Certificate::from_pem(tke_recycle::sim::tls::CA_PEM.as_bytes()).expect("ca");
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .tls_certs_only([ca])
        .build()
        .expect("http client")
}

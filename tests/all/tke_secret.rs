//! The Tencent Cloud secret key (and session token) never appear in Debug or Display output, log
//! lines at any level, error messages, the CLI's output, or anything handed to a policy guest.
//!
//! Every path is driven for real against the practice cluster: a successful call, a wrong key
//! (signature failure), throttling, an unreachable endpoint, and the binary with trace logging.

use std::io::Write;
use std::sync::{Arc, Mutex};

use tke_recycle::k8s::client::{Clients, KubeOptions};
use tke_recycle::k8s::snapshot::read_snapshot;
use tke_recycle::sim::scenario::Scenario;
use tke_recycle::sim::{Sim, SimOptions};
use tke_recycle::tke::actions::{AddExistedInstances, DescribeClusters};
use tke_recycle::tke::client::{ClientConfig, TcClient};
use tke_recycle::tke::credentials::{Credentials, Secret};
use tke_recycle::tke::retry::Backoff;

use crate::support::RunCli as _;
use crate::support::bin;

/// A key that is the right one for the practice cluster and easy to grep for.
const KEY: &str = "neverPrintMe0123456789abcdefSECRET";
const TOKEN: &str = "neverPrintThisSessionToken42";
const WRONG_KEY: &str = "wrongKeyAlsoSecret0123456789abcd";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

fn client(url: &str, region: &str, id: &str, key: &str) -> TcClient {
    let mut config = ClientConfig::new(
        Credentials {
            secret_id: id.to_owned(),
            secret_key: Secret::new(key),
            session_token: Some(Secret::new(TOKEN)),
        },
        region.to_owned(),
    );
    config.tke_endpoint = Some(url.to_owned());
    config.backoff = Backoff {
        base: std::time::Duration::from_millis(5),
        max: std::time::Duration::from_millis(20),
        attempts: 3,
    };
    TcClient::new(config).expect("client")
}

fn assert_clean(what: &str, text: &str) {
    for secret in [KEY, TOKEN, WRONG_KEY] {
        assert!(!text.contains(secret), "{what} leaks a secret:\n{text}");
    }
}

#[test]
fn secret_key_never_leaks() {
    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(logs.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    // One thread, so that every task (client, connection, server) logs into the subscriber above.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut shown = String::new();
    rt.block_on(async {
        let mut scenario = Scenario::from_yaml(
            "nodes:\n- {lanIp: 10.0.5.11, instanceId: ins-sec00011}\nfaults: {tkeThrottleRate: 0.3}\n",
        )
        .expect("scenario");
        scenario.credentials.secret_key = KEY.into();
        let sim = Sim::start(scenario, SimOptions::default()).await.expect("sim");

        let good = client(&sim.tke_url, &sim.region, &sim.secret_id, KEY);
        shown += &format!("{good:?}\n");
        for _ in 0..5 {
            match good.call(&DescribeClusters::default()).await {
                Ok(r) => shown += &format!("{:?}\n", r.clusters),
                Err(e) => shown += &format!("{e} | {e:#} | {e:?}\n"),
            }
        }
        // A mutating call under throttling: its error is surfaced, not retried.
        let add = AddExistedInstances {
            cluster_id: sim.cluster_id.clone(),
            instance_ids: vec!["ins-nothere".into()],
            ..Default::default()
        };
        if let Err(e) = good.call(&add).await {
            shown += &format!("{e} | {e:?}\n");
        }

        let wrong = client(&sim.tke_url, &sim.region, &sim.secret_id, WRONG_KEY);
        let err = wrong.call(&DescribeClusters::default()).await.expect_err("wrong key");
        assert_eq!(err.code(), Some("AuthFailure.SignatureFailure"), "{err}");
        shown += &format!("{err} | {err:?} | ");
        shown += &format!("{:#}\n", anyhow::Error::new(err));

        let dead = client("http://127.0.0.1:9/", &sim.region, &sim.secret_id, KEY);
        let err = dead.call(&DescribeClusters::default()).await.expect_err("nothing listens");
        shown += &format!("{err:?} | ");
        shown += &format!("{:#}\n", anyhow::Error::new(err));

        // What policies are handed: the snapshot (and the check request built beside it).
        let c = Clients::connect(&KubeOptions {
            kubeconfig: Some(sim.kubeconfig.clone()),
            context: None,
        })
        .await
        .expect("clients");
        let snap = read_snapshot(&c.reads, Some(sim.cluster_id.clone())).await.expect("snapshot");
        shown += &serde_json::to_string(&snap).expect("json");

        // The binary, with every log line on, succeeding and failing.
        for endpoint in [sim.tke_url.as_str(), "http://127.0.0.1:9/"] {
            let mut cmd = bin();
            cmd.args(["nodes", "--cluster", &sim.cluster_id, "--kubeconfig"])
                .arg(&sim.kubeconfig)
                .args(["--tke-endpoint", endpoint, "--region", &sim.region])
                .env("TENCENTCLOUD_SECRET_ID", &sim.secret_id)
                .env("TENCENTCLOUD_SECRET_KEY", KEY)
                .env("TENCENTCLOUD_SESSION_TOKEN", TOKEN)
                .env("TKE_RECYCLE_LOG", "trace");
            // Off the runtime thread: the practice cluster serves on it.
            let out = tokio::task::spawn_blocking(move || cmd.output())
                .await
                .expect("joins")
                .expect("runs");
            shown += &String::from_utf8_lossy(&out.stdout);
            shown += &String::from_utf8_lossy(&out.stderr);
        }
        // The flag form, with a usage error that makes clap print usage.
        let out = bin()
            .args(["nodes", "--secret-key", KEY, "--bogus"])
            .run_cli()
            .expect("runs");
        shown += &String::from_utf8_lossy(&out.stderr);
    });
    assert!(
        shown.contains("AuthFailure.SignatureFailure"),
        "the wrong key was exercised"
    );
    assert!(
        shown.contains("ins-sec00011"),
        "the binary ran against the practice cluster:\n{shown}"
    );
    assert_clean("output and errors", &shown);
    let logs =
        String::from_utf8_lossy(&logs.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned();
    assert!(
        logs.contains("tencent cloud api call succeeded"),
        "logs were captured:\n{logs}"
    );
    assert_clean("logs", &logs);
}

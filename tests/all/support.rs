//! Shared helpers: paths to the built guests and the example snapshot, a runtime for tests.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tke_recycle::engine::{EngineConfig, Limits, Runtime};

/// A test-only guest component built by host/build.rs, by crate name.
pub fn guest(crate_name: &str) -> PathBuf {
    Path::new(env!("TKE_RECYCLE_TEST_GUESTS_DIR"))
        .join(format!("{}.wasm", crate_name.replace('-', "_")))
}

/// The example snapshot shipped for users.
pub fn example_snapshot() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("snapshots/small-cluster.json")
}

/// A fixture snapshot from tests/fixtures/snapshots/, loaded.
pub fn fixture(name: &str) -> tke_recycle::snapshot::Snapshot {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/snapshots")
        .join(name);
    tke_recycle::snapshot::Snapshot::load(&path).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// A compile cache shared by the tests of this binary (compiling once keeps the suite fast).
pub fn cache_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("component-cache")
}

/// A runtime with a short policy time limit so that runaway guests cost the suite little.
pub fn runtime(time_limit: Duration) -> Runtime {
    Runtime::new(EngineConfig {
        cache_dir: Some(cache_dir()),
        policy_limits: Limits {
            time: time_limit,
            ..Limits::policy()
        },
    })
    .expect("engine starts")
}

/// The binary under test.
pub fn bin() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_tke-recycle"));
    cmd.env("TKE_RECYCLE_CACHE_DIR", cache_dir())
        .env_remove("TKE_RECYCLE_LOG");
    cmd
}

/// Serve `app` on a free loopback port for the rest of the test; its address.
pub async fn serve_on_loopback(app: axum::Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("its address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

/// Running the binary under test where its failures are asserted on: a failing run's output
/// must read as sentences, never as a Rust `Debug` structure (see [`assert_no_debug_dump`]).
pub trait RunCli {
    /// `output()`, checking a failing run's stdout and stderr.
    fn run_cli(&mut self) -> std::io::Result<std::process::Output>;
}

impl RunCli for std::process::Command {
    fn run_cli(&mut self) -> std::io::Result<std::process::Output> {
        let out = self.output()?;
        if !out.status.success() {
            assert_no_debug_dump(&String::from_utf8_lossy(&out.stdout));
            assert_no_debug_dump(&String::from_utf8_lossy(&out.stderr));
        }
        Ok(out)
    }
}

/// Fail if `text` shows a Rust `Debug` rendering: `Some(`, `None,`/`None)`/`None }`, or a struct
/// (`Status { status: ...`: a capitalised name, ` { `, a field name and `:`).
pub fn assert_no_debug_dump(text: &str) {
    if let Some(shape) = debug_dump(text) {
        panic!("the output shows a Rust Debug structure ({shape:?}):\n{text}");
    }
}

/// The first `Debug`-looking fragment of `text`, if any.
pub fn debug_dump(text: &str) -> Option<String> {
    for marker in ["Some(", "None,", "None)", "None }"] {
        if let Some(at) = text.find(marker) {
            return Some(text[at.saturating_sub(20)..(at + 20).min(text.len())].to_owned());
        }
    }
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(pos) = text[from..].find(" { ") {
        let at = from + pos;
        let name_start = text[..at]
            .rfind(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .map_or(0, |i| i + 1);
        let name = &text[name_start..at];
        let field: String = text[at + 3..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let after = at + 3 + field.len();
        if name.starts_with(|c: char| c.is_ascii_uppercase())
            && !field.is_empty()
            && bytes.get(after) == Some(&b':')
        {
            return Some(text[name_start..(after + 20).min(text.len())].to_owned());
        }
        from = at + 3;
    }
    None
}

#[test]
fn debug_dumps_are_recognised_and_sentences_are_not() {
    let dump = r#"error: ApiError: the server could not find the requested resource: NotFound (Status { status: Some(Failure), code: 404 })"#;
    assert!(debug_dump(dump).is_some());
    assert!(debug_dump("Status { code: 404 }").is_some());
    assert!(debug_dump("x: Error { kind: NotFound }").is_some());
    for fine in [
        "error: cannot read the cluster: the API server answered HTTP 404 NotFound: it is gone",
        r#"{"step": "end", "status": {"state": "done"}}"#,
        "use --selector 'app in (web)' { braces } are fine",
    ] {
        assert_eq!(debug_dump(fine), None, "{fine}");
    }
}

/// `/apis/batch/v1` as a Kubernetes 1.21+ API server answers it (jobs and cronjobs), for stand-in
/// servers: the snapshot and the live view ask it whether CronJobs are served.
pub fn batch_v1_resources() -> serde_json::Value {
    serde_json::json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "batch/v1",
        "resources": [
            {"name": "jobs", "singularName": "job", "namespaced": true, "kind": "Job",
             "verbs": ["get", "list", "watch"]},
            {"name": "cronjobs", "singularName": "cronjob", "namespaced": true, "kind": "CronJob",
             "verbs": ["get", "list", "watch"]}]})
}

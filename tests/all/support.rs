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

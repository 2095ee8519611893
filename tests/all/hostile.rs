//! Hostile modules: each misbehaviour yields a clear deny finding naming the module and the
//! cause, within its limit; the host keeps running and a following good policy still passes.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tke_recycle::bindings::types::{CheckRequest, Finding, Phase, Severity};
use tke_recycle::bundled;
use tke_recycle::checks::{OutputLimits, PolicySpec, codes, run_policies};
use tke_recycle::snapshot::{ClusterView, Snapshot};

use crate::support::{example_snapshot, guest, runtime};

/// The endless loop's limit: short, so that the suite does not wait long for it.
const LOOP_LIMIT: Duration = Duration::from_millis(300);
/// Everyone else's: generous, so that a loaded CI machine does not turn slowness into a timeout.
const LIMIT: Duration = Duration::from_secs(10);

fn request() -> CheckRequest {
    // 10.0.1.12 carries no protection label: the good policy must pass on it.
    CheckRequest {
        targets: vec!["10.0.1.12".into()],
        phase: Phase::Pre,
        settings: String::new(),
        now: 0,
        affected: vec![],
    }
}

/// Run `spec` followed by the good bundled policy; return the first one's findings.
async fn run_then_good(spec: PolicySpec) -> Vec<Finding> {
    run_then_good_within(spec, LIMIT).await
}

async fn run_then_good_within(spec: PolicySpec, limit: Duration) -> Vec<Finding> {
    let runtime = runtime(limit);
    let view = Arc::new(ClusterView::new(
        Snapshot::load(&example_snapshot()).expect("example snapshot loads"),
    ));
    let good = PolicySpec::bundled(bundled::find("protected-nodes").expect("bundled"));
    let started = Instant::now();
    let report = run_policies(
        &runtime,
        &[spec.clone(), good],
        view,
        &request(),
        &OutputLimits::default(),
    )
    .await;
    assert!(
        started.elapsed() < limit * 2 + Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(report.outcomes.len(), 2, "both policies ran");
    assert!(
        report.outcomes[1].findings.is_empty(),
        "the good policy still passes: {:?}",
        report.outcomes[1].findings
    );
    report
        .outcomes
        .into_iter()
        .next()
        .map(|o| o.findings)
        .unwrap_or_default()
}

fn hostile(behave: &str) -> PolicySpec {
    PolicySpec {
        name: "hostile-policy".into(),
        ..PolicySpec::file(
            guest("hostile-policy"),
            format!("{{\"behave\": \"{behave}\"}}"),
        )
    }
}

/// The single deny the host raised about the module, with the expected code.
fn expect_deny(findings: &[Finding], code: &str, needle: &str) {
    assert_eq!(findings.len(), 1, "{findings:?}");
    let f = &findings[0];
    assert_eq!(
        (f.code.as_str(), f.severity),
        (code, Severity::Deny),
        "{f:?}"
    );
    assert!(
        f.message.contains(&f.policy),
        "names the module: {}",
        f.message
    );
    assert!(
        f.message.contains(needle),
        "expected {needle:?} in: {}",
        f.message
    );
}

/// The single info finding the probe reported.
fn probe_message(findings: &[Finding]) -> String {
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].severity, Severity::Info);
    findings[0].message.clone()
}

#[tokio::test]
async fn reading_etc_passwd_finds_no_file_system() {
    let msg = probe_message(&run_then_good(hostile("read-file")).await);
    assert!(msg.starts_with("cannot read /etc/passwd"), "{msg}");
}

#[tokio::test]
async fn opening_a_socket_is_refused() {
    let msg = probe_message(&run_then_good(hostile("socket")).await);
    assert!(msg.starts_with("cannot connect"), "{msg}");
}

#[tokio::test]
async fn environment_and_arguments_are_empty() {
    assert_eq!(
        probe_message(&run_then_good(hostile("env")).await),
        "0 environment variables, 0 arguments"
    );
}

#[tokio::test]
async fn the_wasi_clock_is_frozen() {
    assert_eq!(
        probe_message(&run_then_good(hostile("clock")).await),
        "wall clock says 0 s since 1970"
    );
}

#[tokio::test]
async fn an_endless_loop_is_stopped_at_the_time_limit() {
    expect_deny(
        &run_then_good_within(hostile("loop"), LOOP_LIMIT).await,
        codes::TIMED_OUT,
        "exceeded its time limit of 300 ms",
    );
}

#[tokio::test]
async fn touching_a_gibibyte_hits_the_memory_cap() {
    expect_deny(
        &run_then_good(hostile("allocate")).await,
        codes::OUT_OF_MEMORY,
        "memory limit of 64 MiB",
    );
}

#[tokio::test]
async fn unbounded_recursion_is_a_stack_overflow() {
    expect_deny(
        &run_then_good(hostile("recurse")).await,
        codes::TRAPPED,
        "stack overflow",
    );
}

#[tokio::test]
async fn a_panic_is_reported_with_its_message() {
    expect_deny(
        &run_then_good(hostile("panic")).await,
        codes::TRAPPED,
        "hostile policy panicked on purpose",
    );
}

#[tokio::test]
async fn a_hundred_thousand_findings_are_refused() {
    expect_deny(
        &run_then_good(hostile("many-findings")).await,
        codes::OUTPUT_INVALID,
        "100000 findings",
    );
}

#[tokio::test]
async fn a_ten_mebibyte_message_is_refused() {
    expect_deny(
        &run_then_good(hostile("huge-message")).await,
        codes::OUTPUT_INVALID,
        "10485760 bytes",
    );
}

#[tokio::test]
async fn a_free_text_code_is_refused() {
    expect_deny(
        &run_then_good(hostile("bad-code")).await,
        codes::OUTPUT_INVALID,
        "\"Not A Code\"",
    );
}

#[tokio::test]
async fn an_undecided_policy_denies() {
    expect_deny(
        &run_then_good(hostile("undecided")).await,
        codes::UNDECIDED,
        "cannot decide on purpose",
    );
}

#[tokio::test]
async fn rejected_settings_deny_with_the_policys_reason() {
    expect_deny(
        &run_then_good(hostile("reject-settings")).await,
        codes::SETTINGS_REJECTED,
        "rejected on purpose",
    );
}

fn bytes_file(name: &str, bytes: &[u8]) -> PathBuf {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, bytes).expect("write test module");
    path
}

#[tokio::test]
async fn corrupt_bytes_are_not_a_component() {
    let spec = PolicySpec::file(
        bytes_file("corrupt.wasm", b"this is not wasm at all"),
        "{}".into(),
    );
    expect_deny(
        &run_then_good(spec).await,
        codes::LOAD_FAILED,
        "not a WebAssembly component",
    );
}

#[tokio::test]
async fn a_truncated_component_fails_to_compile() {
    let mut bytes = std::fs::read(guest("hostile-policy")).expect("guest built");
    bytes.truncate(bytes.len() / 2);
    let spec = PolicySpec::file(bytes_file("truncated.wasm", &bytes), "{}".into());
    expect_deny(
        &run_then_good(spec).await,
        codes::LOAD_FAILED,
        "failed to compile",
    );
}

#[tokio::test]
async fn a_core_module_is_refused_with_the_fix() {
    let spec = PolicySpec::file(bytes_file("core.wasm", b"\0asm\x01\0\0\0"), "{}".into());
    expect_deny(
        &run_then_good(spec).await,
        codes::LOAD_FAILED,
        "core Wasm module; build it for wasm32-wasip2",
    );
}

#[tokio::test]
async fn a_component_of_the_runbook_world_is_not_a_policy() {
    let spec = PolicySpec::file(guest("runbook-shaped"), "{}".into());
    expect_deny(
        &run_then_good(spec).await,
        codes::LOAD_FAILED,
        "lacks the export(s) validate-settings, check",
    );
}

#[tokio::test]
async fn a_policy_importing_operations_is_refused_at_load() {
    let spec = PolicySpec::file(guest("sneaky-policy"), "{}".into());
    expect_deny(
        &run_then_good(spec).await,
        codes::LOAD_FAILED,
        "imports `tke:recycle/operations@0.1.0`, which only the runbook may use",
    );
}

#[tokio::test]
async fn a_missing_module_file_is_named() {
    let spec = PolicySpec::file(PathBuf::from("/nonexistent/policy.wasm"), "{}".into());
    expect_deny(
        &run_then_good(spec).await,
        codes::LOAD_FAILED,
        "cannot read module file /nonexistent/policy.wasm",
    );
}

#[tokio::test]
async fn a_second_runtime_loads_from_the_compile_cache() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = || tke_recycle::engine::EngineConfig {
        cache_dir: Some(dir.path().to_owned()),
        ..Default::default()
    };
    let wasm = bundled::find("protected-nodes").expect("bundled").wasm;
    let first = tke_recycle::engine::Runtime::new(config()).expect("engine");
    first.load_policy("protected-nodes", wasm).expect("loads");
    assert_eq!(
        (first.cache().stats().hits, first.cache().stats().misses),
        (0, 1)
    );
    let second = tke_recycle::engine::Runtime::new(config()).expect("engine");
    second.load_policy("protected-nodes", wasm).expect("loads");
    assert_eq!(
        (second.cache().stats().hits, second.cache().stats().misses),
        (1, 0)
    );
}

#[tokio::test]
async fn the_count_nodes_probe_sees_every_node() {
    assert_eq!(
        probe_message(&run_then_good(hostile("count-nodes")).await),
        "4 nodes"
    );
}

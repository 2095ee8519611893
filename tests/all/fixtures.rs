//! The binary on every fixture snapshot: the codes each one is named for, and the exit code.
//! Fixtures are named `<situation>.<outcome>.json`; see tests/fixtures/snapshots/README.md.

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::support::RunCli as _;
use crate::support::{bin, example_snapshot, guest};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/snapshots")
        .join(name)
}

/// Run `policy check -o json` and return (exit code, the set of finding codes).
fn codes(snapshot: &std::path::Path, args: &[&str]) -> (i32, BTreeSet<String>) {
    let out = bin()
        .args(["policy", "check", "-o", "json", "--snapshot"])
        .arg(snapshot)
        .args(args)
        .run_cli()
        .expect("binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "JSON output ({e}): {stdout} {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let codes = doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["code"].as_str().map(str::to_owned))
        .collect();
    (out.status.code().unwrap_or(-1), codes)
}

const POST_AFFECTED: &[&str] = &[
    "--phase",
    "post",
    "--affected",
    "Deployment/default/web",
    "--affected",
    "DaemonSet/kube-system/kube-proxy",
    "--affected",
    "DaemonSet/kube-system/tke-log-agent",
    "--affected",
    "PodDisruptionBudget/default/web",
];

#[test]
fn every_fixture_yields_the_codes_it_is_named_for() {
    let cases: &[(&str, &str, &[&str], &[&str])] = &[
        ("healthy-three-nodes.pass.json", "10.0.1.11", &[], &[]),
        // Both pods of a CronJob's Job on the node: not replicas to keep spread.
        ("cron-job-pods-on-node.pass.json", "10.0.1.11", &[], &[]),
        (
            "pdb-zero-budget.deny.json",
            "10.0.1.11",
            &[],
            &["pdb.zero-budget"],
        ),
        (
            "pdb-multiple-pdbs.deny.json",
            "10.0.1.11",
            &[],
            &["pdb.multiple-pdbs"],
        ),
        (
            "pdb-budget-exceeded-by-node.warn.json",
            "10.0.1.11",
            &[],
            &["pdb.budget-exceeded-by-node"],
        ),
        (
            "pdb-exhausted-by-unhealthy.warn.json",
            "10.0.1.11",
            &[],
            &["pdb.exhausted", "pdb.unhealthy-pods"],
        ),
        (
            "all-replicas-on-node.deny.json",
            "10.0.1.11",
            &[],
            &["spread.all-replicas-on-targets"],
        ),
        (
            "single-replica-and-bare-pod.warn.json",
            "10.0.1.11",
            &[],
            &["spread.no-controller", "spread.single-replica"],
        ),
        (
            "no-room-for-memory.deny.json",
            "10.0.1.11",
            &[],
            &["headroom.unschedulable"],
        ),
        (
            "gpu-pod-no-free-gpu.deny.json",
            "10.0.1.11",
            &[],
            &["headroom.unschedulable"],
        ),
        (
            "affinity-to-local-agent.deny.json",
            "10.0.1.11",
            &[],
            &["headroom.unschedulable"],
        ),
        (
            "preemption-leaves-batch-pending.deny.json",
            "10.0.1.11",
            &[],
            &["headroom.unschedulable", "headroom.preemption"],
        ),
        (
            "refused-by-staying-pod.deny.json",
            "10.0.1.11",
            &[],
            &["headroom.unschedulable"],
        ),
        (
            "zone-spread-drained-zone.deny.json",
            "10.0.1.11",
            &[],
            &["headroom.unschedulable"],
        ),
        (
            "anti-affinity-no-spare-node.deny.json",
            "10.0.1.11",
            &[],
            &["headroom.unschedulable"],
        ),
        (
            "allocation-high.warn.json",
            "10.0.1.11",
            &[],
            &["headroom.allocation-high"],
        ),
        (
            "image-pull-burst.warn.json",
            "10.0.1.12",
            &[],
            &["headroom.image-pull-burst"],
        ),
        (
            "local-pv-pinned.deny.json",
            "10.0.1.11",
            &[],
            &["headroom.unschedulable", "local-data.pinned-volume"],
        ),
        (
            "host-path-and-empty-dir.warn.json",
            "10.0.1.11",
            &[],
            &["local-data.empty-dir", "local-data.host-path"],
        ),
        (
            "workloads-recovered.pass.json",
            "10.0.1.11",
            POST_AFFECTED,
            &[],
        ),
        (
            "workloads-not-recovered.deny.json",
            "10.0.1.11",
            POST_AFFECTED,
            &[
                "workloads-healthy.not-ready",
                "workloads-healthy.pdb-unhealthy",
            ],
        ),
    ];
    for (name, node, extra, expected) in cases {
        let mut args = vec!["--node", node];
        args.extend_from_slice(extra);
        let (exit, found) = codes(&fixture(name), &args);
        let expected: BTreeSet<String> = expected.iter().map(|c| (*c).to_owned()).collect();
        assert_eq!(found, expected, "{name}");
        let want_exit = if name.contains(".deny.") { 1 } else { 0 };
        assert_eq!(exit, want_exit, "{name}: exit code");
    }
}

#[test]
fn an_unknown_target_is_denied_by_every_pre_check() {
    let (exit, found) = codes(
        &fixture("healthy-three-nodes.pass.json"),
        &["--node", "10.9.9.9"],
    );
    assert_eq!(exit, 1);
    for policy in ["headroom", "pdb", "spread", "local-data"] {
        assert!(
            found.contains(&format!("{policy}.unknown-node")),
            "{policy}: {found:?}"
        );
    }
}

#[test]
fn a_deny_can_be_turned_into_a_warning_knowingly() {
    let (exit, found) = codes(
        &fixture("pdb-zero-budget.deny.json"),
        &[
            "--node",
            "10.0.1.11",
            "--policy",
            "pdb",
            "--settings",
            r#"{"severity_overrides": {"pdb.zero-budget": "warn"}}"#,
        ],
    );
    assert_eq!((exit, found.contains("pdb.zero-budget")), (0, true));
}

/// The team example lives outside the bundled set: built by host/build.rs, loaded with --policy.
#[test]
fn the_team_maintenance_window_example_loads_and_decides() {
    let module = guest("team-maintenance-window");
    let module = module.to_str().expect("utf-8 path");
    let settings =
        r#"{"match_labels": {"topology.kubernetes.io/zone": "300003"}, "time_zone": "+08:00"}"#;
    let run = |now: &str| {
        codes(
            &example_snapshot(),
            &[
                "--node",
                "10.0.1.12",
                "--no-bundled",
                "--policy",
                module,
                "--settings",
                settings,
                "--now",
                now,
            ],
        )
    };
    let (exit, found) = run("2026-11-28T12:00:00+08:00");
    assert_eq!(
        (exit, found.into_iter().collect::<Vec<_>>()),
        (1, vec!["team-maintenance-window.outside-window".to_owned()])
    );
    let (exit, found) = run("2026-11-28T02:30:00+08:00");
    assert_eq!((exit, found.len()), (0, 0));
}

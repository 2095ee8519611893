//! Case tables (the names are the specification) and the fixture snapshots.

use rstest::rstest;
use tke_recycle_policy_sdk::testkit;
use tke_recycle_policy_sdk::{MemoryCluster, Severity, SnapshotFile, WorkloadKind};

use super::*;

const TARGET: &str = "10.0.1.11";

fn replica(owner: &str, kind: WorkloadKind, i: usize, node: &str) -> Pod {
    let mut p = testkit::pod("shop", &format!("{owner}-{i}"), node);
    p.owner = Some(testkit::owner(kind, owner));
    p
}

fn world() -> SnapshotFile {
    SnapshotFile {
        nodes: ["10.0.1.11", "10.0.1.12", "10.0.1.13"]
            .into_iter()
            .map(testkit::node)
            .collect(),
        ..Default::default()
    }
}

fn deployment(w: &mut SnapshotFile, name: &str, nodes: &[&str], ready: u32) {
    for (i, node) in nodes.iter().enumerate() {
        w.pods
            .push(replica(name, WorkloadKind::Deployment, i, node));
    }
    let replicas = u32::try_from(nodes.len()).unwrap_or(u32::MAX);
    w.workloads.push(testkit::workload(
        "shop",
        WorkloadKind::Deployment,
        name,
        replicas,
        ready,
    ));
}

#[rstest]
#[case::pass_when_replicas_are_spread(|w: &mut SnapshotFile| {
    deployment(w, "web", &["10.0.1.11", "10.0.1.12", "10.0.1.13"], 3);
}, &[])]
#[case::deny_when_only_replicas_are_on_node(|w: &mut SnapshotFile| {
    deployment(w, "web", &["10.0.1.11", "10.0.1.11"], 2);
}, &["spread.all-replicas-on-targets"])]
#[case::deny_when_replicas_elsewhere_are_not_ready(|w: &mut SnapshotFile| {
    deployment(w, "web", &["10.0.1.11", "10.0.1.12"], 1);
    w.pods[1].ready = false;
}, &["spread.all-replicas-on-targets"])]
#[case::deny_for_stateful_set_on_node(|w: &mut SnapshotFile| {
    for i in 0..2 {
        w.pods.push(replica("redis", WorkloadKind::StatefulSet, i, TARGET));
    }
    w.workloads.push(testkit::workload("shop", WorkloadKind::StatefulSet, "redis", 2, 2));
}, &["spread.all-replicas-on-targets"])]
#[case::warn_when_workload_has_a_single_replica(|w: &mut SnapshotFile| {
    deployment(w, "grafana", &["10.0.1.11"], 1);
}, &["spread.single-replica"])]
#[case::warn_when_pod_has_no_controller(|w: &mut SnapshotFile| {
    w.pods.push(testkit::pod("shop", "debug-shell", TARGET));
}, &["spread.no-controller"])]
#[case::pass_for_job_and_daemon_set_pods(|w: &mut SnapshotFile| {
    w.pods.push(replica("backup", WorkloadKind::Job, 0, TARGET));
    w.pods.push(replica("agent", WorkloadKind::DaemonSet, 0, TARGET));
}, &[])]
#[case::pass_for_the_pods_of_a_cron_job_all_on_node(|w: &mut SnapshotFile| {
    let kind = WorkloadKind::Other("CronJob".into());
    for i in 0..2 {
        w.pods.push(replica("report", kind.clone(), i, TARGET));
    }
    w.workloads.push(testkit::workload("shop", kind, "report", 2, 2));
}, &[])]
#[case::deny_for_a_custom_controller_all_on_node(|w: &mut SnapshotFile| {
    let kind = WorkloadKind::Other("Rollout".into());
    for i in 0..2 {
        w.pods.push(replica("canary", kind.clone(), i, TARGET));
    }
    w.workloads.push(testkit::workload("shop", kind, "canary", 2, 2));
}, &["spread.all-replicas-on-targets"])]
#[case::pass_when_a_not_ready_replica_is_on_node_and_ready_ones_elsewhere(|w: &mut SnapshotFile| {
    deployment(w, "web", &["10.0.1.11", "10.0.1.12"], 1);
    w.pods[0].ready = false;
}, &[])]
#[case::info_when_workload_is_missing_from_snapshot(|w: &mut SnapshotFile| {
    w.pods.push(replica("ghost", WorkloadKind::Deployment, 0, TARGET));
}, &["spread.unknown-workload"])]
fn spread_rules(#[case] setup: fn(&mut SnapshotFile), #[case] expected: &[&str]) {
    let mut w = world();
    setup(&mut w);
    let findings = run(w, &[TARGET], "{}");
    assert_eq!(codes(&findings), expected, "{findings:#?}");
}

#[test]
fn deny_when_replicas_are_split_across_two_targets_recycled_together() {
    let mut w = world();
    deployment(&mut w, "web", &["10.0.1.11", "10.0.1.12"], 2);
    let f = run(w, &[TARGET, "10.0.1.12"], "{}");
    assert_eq!(codes(&f), ["spread.all-replicas-on-targets"]);
    assert!(
        f[0].message.contains("10.0.1.11, 10.0.1.12"),
        "{}",
        f[0].message
    );
    assert!(
        f[0].remedy
            .as_deref()
            .unwrap_or_default()
            .contains("anti-affinity")
    );
}

#[test]
fn ignored_namespaces_are_skipped() {
    let mut w = world();
    w.pods.push(testkit::pod("shop", "debug-shell", TARGET));
    assert!(run(w, &[TARGET], r#"{"ignore_namespaces": ["shop"]}"#).is_empty());
}

#[test]
fn override_turns_the_deny_into_warn() {
    let mut w = world();
    deployment(&mut w, "web", &["10.0.1.11", "10.0.1.11"], 2);
    let f = run(
        w,
        &[TARGET],
        r#"{"severity_overrides": {"spread.all-replicas-on-targets": "warn"}}"#,
    );
    assert_eq!(f[0].severity, Severity::Warn);
}

#[test]
fn deny_when_target_is_not_in_snapshot() {
    assert_eq!(
        codes(&run(world(), &["10.9.9.9"], "{}")),
        ["spread.unknown-node"]
    );
}

fn run(world: SnapshotFile, targets: &[&str], settings: &str) -> Vec<Finding> {
    evaluate(
        &testkit::request(targets, settings),
        &MemoryCluster::new(world),
    )
    .expect("spread decides")
}

fn codes(findings: &[Finding]) -> Vec<&str> {
    findings.iter().map(|f| f.code.as_str()).collect()
}

macro_rules! snapshot {
    ($name:literal) => {
        include_str!(concat!("../../../tests/fixtures/snapshots/", $name))
    };
}

#[rstest]
#[case::healthy_three_nodes(snapshot!("healthy-three-nodes.pass.json"), &[])]
#[case::cron_job_pods_on_node(snapshot!("cron-job-pods-on-node.pass.json"), &[])]
#[case::all_replicas_on_node(snapshot!("all-replicas-on-node.deny.json"), &["spread.all-replicas-on-targets"])]
#[case::single_replica_and_bare_pod(snapshot!("single-replica-and-bare-pod.warn.json"), &["spread.no-controller", "spread.single-replica"])]
#[case::pdb_exhausted_by_unhealthy(snapshot!("pdb-exhausted-by-unhealthy.warn.json"), &[])]
#[case::local_pv_pinned(snapshot!("local-pv-pinned.deny.json"), &[])]
#[case::image_pull_burst(snapshot!("image-pull-burst.warn.json"), &[])]
#[case::gpu_pod_no_free_gpu(snapshot!("gpu-pod-no-free-gpu.deny.json"), &[])]
#[case::anti_affinity_no_spare_node(snapshot!("anti-affinity-no-spare-node.deny.json"), &[])]
#[case::pdb_budget_exceeded_by_node(snapshot!("pdb-budget-exceeded-by-node.warn.json"), &[])]
fn fixtures(#[case] json: &str, #[case] expected: &[&str]) {
    let cluster = MemoryCluster::from_json(json).expect("fixture parses");
    let findings = evaluate(&testkit::request(&[TARGET], "{}"), &cluster).expect("spread decides");
    assert_eq!(codes(&findings), expected, "{findings:#?}");
}

#[test]
fn codes_list_and_readme_match_what_the_code_emits() {
    let found = testkit::codes_in_source(
        "spread",
        &[include_str!("lib.rs"), include_str!("settings.rs")],
    );
    let mut listed: Vec<&str> = CODES.to_vec();
    listed.sort_unstable();
    assert_eq!(
        found, listed,
        "settings::CODES must list exactly the codes the policy emits"
    );
    let readme = include_str!("../../README.md");
    for code in CODES {
        assert!(
            readme.contains(&format!("`{code}`")),
            "{code} is not documented in policies/README.md"
        );
    }
}

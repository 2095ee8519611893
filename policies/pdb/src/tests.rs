//! Case tables (the names are the specification) and the fixture snapshots.

use rstest::rstest;
use tke_recycle_policy_sdk::testkit;
use tke_recycle_policy_sdk::{
    IntOrPercent, MemoryCluster, Pdb, Pod, Severity, SnapshotFile, UnhealthyPodEvictionPolicy,
    WorkloadKind,
};

use super::*;
use crate::rules::{allowance_at_full_health, assess};

const TARGET: &str = "10.0.1.11";

fn pdb(min: Option<IntOrPercent>, max: Option<IntOrPercent>, expected: u32, healthy: u32) -> Pdb {
    let mut p = Pdb {
        namespace: "shop".into(),
        name: "orders".into(),
        selector: testkit::selector(&[("app", "orders")]),
        min_available: min,
        max_unavailable: max,
        disruptions_allowed: 0,
        current_healthy: healthy,
        desired_healthy: 0,
        expected_pods: expected,
        unhealthy_pod_eviction_policy: UnhealthyPodEvictionPolicy::IfHealthyBudget,
    };
    let full = allowance_at_full_health(&p);
    p.desired_healthy = expected - full;
    p.disruptions_allowed = healthy.saturating_sub(p.desired_healthy);
    p
}

fn replica(i: usize, node: &str) -> Pod {
    let mut p = testkit::pod("shop", &format!("orders-{i}"), node);
    p.owner = Some(testkit::owner(WorkloadKind::Deployment, "orders"));
    p.labels = testkit::labels(&[("app", "orders")]);
    p
}

use IntOrPercent::{Count, Percent};

#[rstest]
#[case::min_available_equal_to_replicas_allows_none(Some(Count(3)), None, 3, 0)]
#[case::min_available_100_percent_allows_none(Some(Percent(100)), None, 3, 0)]
#[case::max_unavailable_zero_allows_none(None, Some(Count(0)), 3, 0)]
#[case::max_unavailable_zero_percent_allows_none(None, Some(Percent(0)), 5, 0)]
#[case::min_available_percent_rounds_up(Some(Percent(50)), None, 3, 1)]
#[case::max_unavailable_percent_rounds_up(None, Some(Percent(10)), 3, 1)]
#[case::max_unavailable_cannot_exceed_expected(None, Some(Count(9)), 2, 2)]
#[case::min_available_above_replicas_allows_none(Some(Count(5)), None, 3, 0)]
fn allowance_at_full_health_follows_the_disruption_controller(
    #[case] min: Option<IntOrPercent>,
    #[case] max: Option<IntOrPercent>,
    #[case] expected: u32,
    #[case] allowed: u32,
) {
    assert_eq!(
        allowance_at_full_health(&pdb(min, max, expected, expected)),
        allowed
    );
}

#[rstest]
#[case::deny_when_min_available_equals_replicas(pdb(Some(Count(2)), None, 2, 2), 1, &["pdb.zero-budget"])]
#[case::deny_when_max_unavailable_is_zero(pdb(None, Some(Count(0)), 3, 3), 1, &["pdb.zero-budget"])]
#[case::warn_when_node_holds_more_healthy_pods_than_the_budget_ever_allows(pdb(None, Some(Count(1)), 4, 4), 2, &["pdb.budget-exceeded-by-node"])]
#[case::pass_when_budget_allows_the_pods_on_the_node(pdb(None, Some(Count(1)), 3, 3), 1, &[])]
#[case::warn_when_budget_is_exhausted_now(pdb(None, Some(Count(1)), 3, 2), 1, &["pdb.exhausted", "pdb.unhealthy-pods"])]
#[case::warn_when_unhealthy_pods_consume_part_of_the_budget(pdb(None, Some(Count(2)), 4, 3), 1, &["pdb.unhealthy-pods"])]
fn budget_rules(#[case] budget: Pdb, #[case] pods_on_node: usize, #[case] expected: &[&str]) {
    let pods: Vec<Pod> = (0..pods_on_node).map(|i| replica(i, TARGET)).collect();
    let refs: Vec<&Pod> = pods.iter().collect();
    let findings = assess(&budget, &refs, &[]);
    let codes: Vec<&str> = findings.iter().map(|f| f.code.as_str()).collect();
    assert_eq!(codes, expected, "{findings:#?}");
}

#[test]
fn budget_exceeded_by_node_can_be_made_a_deny() {
    let mut w = world(vec![pdb(None, Some(Count(1)), 4, 4)]);
    w.pods.push(replica(3, TARGET));
    let f = run(w.clone(), &[TARGET], "{}");
    assert_eq!(
        (f[0].code.as_str(), f[0].severity),
        ("pdb.budget-exceeded-by-node", Severity::Warn)
    );
    let f = run(
        w,
        &[TARGET],
        r#"{"severity_overrides": {"pdb.budget-exceeded-by-node": "deny"}}"#,
    );
    assert_eq!(f[0].severity, Severity::Deny);
}

#[test]
fn unhealthy_pods_on_the_node_do_not_count_against_the_budget() {
    let budget = pdb(None, Some(Count(1)), 3, 2);
    let mut sick = replica(0, TARGET);
    sick.ready = false;
    let findings = assess(&budget, &[&sick], &["orders-0 on 10.0.1.11".into()]);
    let codes: Vec<&str> = findings.iter().map(|f| f.code.as_str()).collect();
    assert_eq!(codes, ["pdb.exhausted", "pdb.unhealthy-pods"]);
    assert!(findings[1].message.contains("(orders-0 on 10.0.1.11)"));
    assert!(findings[1].message.contains("IfHealthyBudget"));
}

#[test]
fn zero_budget_names_the_pdb_its_numbers_and_a_remedy() {
    let f = &assess(
        &pdb(Some(Count(2)), None, 2, 2),
        &[&replica(0, TARGET)],
        &[],
    )[0];
    assert_eq!(f.subject.kind, "PodDisruptionBudget");
    assert_eq!(f.subject.name, "orders");
    assert!(
        f.message.contains("minAvailable 2; expectedPods 2"),
        "{}",
        f.message
    );
    let remedy = f.remedy.as_deref().unwrap_or_default();
    assert!(
        remedy.contains("3 replicas") && remedy.contains("never deletes"),
        "{remedy}"
    );
}

fn world(pdbs: Vec<Pdb>) -> SnapshotFile {
    let mut pods: Vec<Pod> = (0..3)
        .map(|i| replica(i, ["10.0.1.11", "10.0.1.12", "10.0.1.13"][i]))
        .collect();
    let mut ds = testkit::pod("kube-system", "kube-proxy-a", TARGET);
    ds.owner = Some(testkit::owner(WorkloadKind::DaemonSet, "kube-proxy"));
    ds.labels = testkit::labels(&[("app", "orders")]);
    pods.push(ds);
    SnapshotFile {
        nodes: ["10.0.1.11", "10.0.1.12", "10.0.1.13"]
            .into_iter()
            .map(testkit::node)
            .collect(),
        pods,
        pdbs,
        ..Default::default()
    }
}

fn run(world: SnapshotFile, targets: &[&str], settings: &str) -> Vec<Finding> {
    evaluate(
        &testkit::request(targets, settings),
        &MemoryCluster::new(world),
    )
    .expect("pdb decides")
}

fn codes(findings: &[Finding]) -> Vec<&str> {
    findings.iter().map(|f| f.code.as_str()).collect()
}

#[test]
fn deny_when_a_pod_is_covered_by_two_pdbs() {
    let mut second = pdb(None, Some(Count(1)), 3, 3);
    second.name = "shop-wide".into();
    second.selector = testkit::selector(&[]);
    let f = run(
        world(vec![pdb(None, Some(Count(1)), 3, 3), second]),
        &[TARGET],
        "{}",
    );
    assert_eq!(codes(&f), ["pdb.multiple-pdbs"]);
    assert!(
        f[0].message
            .contains("orders (maxUnavailable 1), shop-wide"),
        "{}",
        f[0].message
    );
}

#[test]
fn pass_when_only_other_nodes_pods_are_covered() {
    let mut w = world(vec![pdb(Some(Count(3)), None, 3, 3)]);
    w.pods
        .retain(|p| p.node_name.as_deref() != Some(TARGET) || p.namespace == "kube-system");
    assert_eq!(codes(&run(w, &[TARGET], "{}")), Vec::<&str>::new());
}

#[test]
fn daemon_set_pods_are_not_evicted_so_not_checked() {
    let mut w = world(vec![]);
    w.pods.retain(|p| p.namespace == "kube-system");
    w.pdbs.push(Pdb {
        namespace: "kube-system".into(),
        ..pdb(Some(Count(1)), None, 1, 1)
    });
    assert!(run(w, &[TARGET], "{}").is_empty());
}

#[test]
fn unhealthy_pods_are_named_from_the_pdb_selector() {
    let mut w = world(vec![pdb(None, Some(Count(1)), 3, 2)]);
    w.pods[2].ready = false;
    let f = run(w, &[TARGET], "{}");
    assert_eq!(codes(&f), ["pdb.exhausted", "pdb.unhealthy-pods"]);
    assert!(
        f[1].message.contains("(orders-2 on 10.0.1.13)"),
        "{}",
        f[1].message
    );
}

#[test]
fn override_turns_zero_budget_into_warn() {
    let f = run(
        world(vec![pdb(Some(Count(3)), None, 3, 3)]),
        &[TARGET],
        r#"{"severity_overrides": {"pdb.zero-budget": "warn"}}"#,
    );
    assert_eq!(
        (f[0].code.as_str(), f[0].severity),
        ("pdb.zero-budget", Severity::Warn)
    );
}

#[test]
fn deny_when_target_is_not_in_snapshot() {
    assert_eq!(
        codes(&run(world(vec![]), &["10.9.9.9"], "{}")),
        ["pdb.unknown-node"]
    );
}

macro_rules! snapshot {
    ($name:literal) => {
        include_str!(concat!("../../../tests/fixtures/snapshots/", $name))
    };
}

#[rstest]
#[case::healthy_three_nodes(snapshot!("healthy-three-nodes.pass.json"), &[])]
#[case::pdb_zero_budget(snapshot!("pdb-zero-budget.deny.json"), &["pdb.zero-budget"])]
#[case::pdb_multiple_pdbs(snapshot!("pdb-multiple-pdbs.deny.json"), &["pdb.multiple-pdbs"])]
#[case::pdb_exhausted_by_unhealthy(snapshot!("pdb-exhausted-by-unhealthy.warn.json"), &["pdb.exhausted", "pdb.unhealthy-pods"])]
#[case::all_replicas_on_node(snapshot!("all-replicas-on-node.deny.json"), &[])]
#[case::no_room_for_memory(snapshot!("no-room-for-memory.deny.json"), &[])]
#[case::gpu_pod_no_free_gpu(snapshot!("gpu-pod-no-free-gpu.deny.json"), &[])]
#[case::anti_affinity_no_spare_node(snapshot!("anti-affinity-no-spare-node.deny.json"), &[])]
#[case::pdb_budget_exceeded_by_node(snapshot!("pdb-budget-exceeded-by-node.warn.json"), &["pdb.budget-exceeded-by-node"])]
fn fixtures(#[case] json: &str, #[case] expected: &[&str]) {
    let cluster = MemoryCluster::from_json(json).expect("fixture parses");
    let findings = evaluate(&testkit::request(&[TARGET], "{}"), &cluster).expect("pdb decides");
    assert_eq!(codes(&findings), expected, "{findings:#?}");
}

#[test]
fn codes_list_and_readme_match_what_the_code_emits() {
    let found = testkit::codes_in_source(
        "pdb",
        &[
            include_str!("lib.rs"),
            include_str!("rules.rs"),
            include_str!("settings.rs"),
        ],
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

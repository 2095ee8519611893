//! Case tables (the names are the specification) and the fixture snapshots.

use rstest::rstest;
use tke_recycle_policy_sdk::testkit;
use tke_recycle_policy_sdk::{MemoryCluster, Pdb, SnapshotFile, UnhealthyPodEvictionPolicy};

use super::*;

fn post(affected: &[(&str, &str, &str)], settings: &str) -> CheckRequest {
    let mut r = testkit::request(&["10.0.1.11"], settings);
    r.phase = Phase::Post;
    r.affected = affected
        .iter()
        .map(|(kind, ns, name)| object_ref(kind, Some(ns), name))
        .collect();
    r
}

fn web_pdb(current: u32, desired: u32) -> Pdb {
    Pdb {
        namespace: "default".into(),
        name: "web".into(),
        selector: testkit::selector(&[("app", "web")]),
        min_available: None,
        max_unavailable: Some(tke_recycle_policy_sdk::IntOrPercent::Count(1)),
        disruptions_allowed: current.saturating_sub(desired),
        current_healthy: current,
        desired_healthy: desired,
        expected_pods: 3,
        unhealthy_pod_eviction_policy: UnhealthyPodEvictionPolicy::IfHealthyBudget,
    }
}

fn world(ready: u32, pdb: Option<Pdb>) -> SnapshotFile {
    let pods = (0..3)
        .map(|i| {
            let mut p = testkit::pod("default", &format!("web-{i}"), "10.0.1.12");
            p.labels = testkit::labels(&[("app", "web")]);
            p
        })
        .collect();
    SnapshotFile {
        nodes: vec![testkit::node("10.0.1.11"), testkit::node("10.0.1.12")],
        pods,
        pdbs: pdb.into_iter().collect(),
        workloads: vec![testkit::workload(
            "default",
            WorkloadKind::Deployment,
            "web",
            3,
            ready,
        )],
        ..Default::default()
    }
}

/// The healthy world plus a Job or CronJob wanting `replicas` pods now, `ready` of them Ready.
fn with_batch(kind: WorkloadKind, name: &str, replicas: u32, ready: u32) -> SnapshotFile {
    let mut w = world(3, None);
    let mut job = testkit::workload("default", kind, name, replicas, ready);
    if matches!(&job.kind, WorkloadKind::Other(_)) {
        job.selector = testkit::selector(&[]); // a CronJob's: its Jobs select by their uid
    }
    w.workloads.push(job);
    w
}

const WEB: (&str, &str, &str) = ("Deployment", "default", "web");
const WEB_PDB: (&str, &str, &str) = ("PodDisruptionBudget", "default", "web");

#[rstest]
#[case::pass_when_workload_and_pdb_are_healthy_again(world(3, Some(web_pdb(3, 2))), &[WEB, WEB_PDB], &[])]
#[case::deny_when_workload_is_short_of_ready_replicas(world(2, Some(web_pdb(3, 2))), &[WEB, WEB_PDB], &["workloads-healthy.not-ready"])]
#[case::deny_when_pdb_is_below_desired_healthy(world(3, Some(web_pdb(1, 2))), &[WEB, WEB_PDB], &["workloads-healthy.pdb-unhealthy"])]
#[case::warn_when_workload_disappeared(world(3, None), &[("StatefulSet", "default", "gone")], &["workloads-healthy.workload-missing"])]
#[case::warn_when_pdb_cannot_be_found_through_the_workloads(world(3, None), &[WEB, WEB_PDB], &["workloads-healthy.pdb-not-found"])]
#[case::pass_for_a_job_deleted_since_the_drain(world(3, None), &[("Job", "default", "backup")], &[])]
#[case::pass_for_a_finished_job(with_batch(WorkloadKind::Job, "backup", 0, 0), &[("Job", "default", "backup")], &[])]
#[case::deny_when_a_running_job_is_short_of_ready_pods(with_batch(WorkloadKind::Job, "backup", 2, 1), &[("Job", "default", "backup")], &["workloads-healthy.not-ready"])]
#[case::pass_for_a_cron_job_with_its_job_running(with_batch(WorkloadKind::Other("CronJob".into()), "report", 1, 1), &[("CronJob", "default", "report")], &[])]
#[case::deny_when_a_cron_jobs_evicted_pod_is_not_back(with_batch(WorkloadKind::Other("CronJob".into()), "report", 1, 0), &[("CronJob", "default", "report")], &["workloads-healthy.not-ready"])]
#[case::warn_when_a_cron_job_disappeared(world(3, None), &[("CronJob", "default", "report")], &["workloads-healthy.workload-missing"])]
fn post_check_rules(
    #[case] world: SnapshotFile,
    #[case] affected: &[(&str, &str, &str)],
    #[case] expected: &[&str],
) {
    let f = evaluate(&post(affected, "{}"), &MemoryCluster::new(world)).expect("decides");
    let codes: Vec<&str> = f.iter().map(|f| f.code.as_str()).collect();
    assert_eq!(codes, expected, "{f:#?}");
}

#[test]
fn info_when_nothing_was_recorded() {
    let f = evaluate(&post(&[], "{}"), &MemoryCluster::new(world(3, None))).expect("decides");
    assert_eq!(f[0].code, "workloads-healthy.nothing-recorded");
    assert_eq!(f[0].severity, Severity::Info);
}

#[test]
fn messages_name_the_numbers() {
    let f = evaluate(&post(&[WEB], "{}"), &MemoryCluster::new(world(1, None))).expect("decides");
    assert_eq!(
        f[0].message,
        "Deployment default/web has 1 of 3 replicas ready"
    );
}

macro_rules! snapshot {
    ($name:literal) => {
        include_str!(concat!("../../../tests/fixtures/snapshots/", $name))
    };
}

#[rstest]
#[case::workloads_recovered(snapshot!("workloads-recovered.pass.json"), &[])]
#[case::workloads_not_recovered(snapshot!("workloads-not-recovered.deny.json"), &["workloads-healthy.not-ready", "workloads-healthy.pdb-unhealthy"])]
fn fixtures(#[case] json: &str, #[case] expected: &[&str]) {
    let cluster = MemoryCluster::from_json(json).expect("fixture parses");
    let affected = [
        WEB,
        ("DaemonSet", "kube-system", "kube-proxy"),
        ("DaemonSet", "kube-system", "tke-log-agent"),
        WEB_PDB,
    ];
    let f = evaluate(&post(&affected, "{}"), &cluster).expect("decides");
    let codes: Vec<&str> = f.iter().map(|f| f.code.as_str()).collect();
    assert_eq!(codes, expected, "{f:#?}");
}

#[test]
fn codes_list_and_readme_match_what_the_code_emits() {
    let found = testkit::codes_in_source(
        "workloads-healthy",
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

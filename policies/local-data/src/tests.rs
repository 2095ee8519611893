//! Case tables (the names are the specification) and the fixture snapshots.

use rstest::rstest;
use tke_recycle_policy_sdk::testkit::{self, GI};
use tke_recycle_policy_sdk::{
    Claim, EmptyDir, MemoryCluster, PodPhase, SnapshotFile, Volume, WorkloadKind,
};

use super::*;

const TARGET: &str = "10.0.1.11";

fn pod_with(source: VolumeSource) -> Pod {
    let mut p = testkit::pod("media", "uploader-0", TARGET);
    p.owner = Some(testkit::owner(WorkloadKind::Deployment, "uploader"));
    p.volumes.push(Volume {
        name: "data".into(),
        source,
    });
    p
}

fn pvc(pinned: Option<&str>) -> VolumeSource {
    VolumeSource::PersistentVolumeClaim(Claim {
        name: "data-mysql-0".into(),
        storage_class: Some("local-storage".into()),
        pinned_node: pinned.map(str::to_owned),
    })
}

fn empty_dir() -> VolumeSource {
    VolumeSource::EmptyDir(EmptyDir {
        in_memory: false,
        size_limit_bytes: Some(GI),
    })
}

fn daemon_set(mut p: Pod) -> Pod {
    p.owner = Some(testkit::owner(WorkloadKind::DaemonSet, "spool"));
    p
}

fn finished(mut p: Pod) -> Pod {
    p.phase = PodPhase::Succeeded;
    p
}

#[rstest]
#[case::deny_when_pvc_is_pinned_to_the_target(pod_with(pvc(Some(TARGET))), &["local-data.pinned-volume"])]
#[case::pass_when_pvc_is_pinned_to_another_node(pod_with(pvc(Some("10.0.1.12"))), &[])]
#[case::pass_when_pvc_is_a_network_volume(pod_with(pvc(None)), &[])]
#[case::warn_when_pod_writes_to_a_data_host_path(pod_with(VolumeSource::HostPath("/data/uploads".into())), &["local-data.host-path"])]
#[case::warn_for_host_path_of_daemon_set_pods_too(daemon_set(pod_with(VolumeSource::HostPath("/data/spool".into()))), &["local-data.host-path"])]
#[case::pass_when_host_path_is_a_system_path(pod_with(VolumeSource::HostPath("/var/log/pods".into())), &[])]
#[case::warn_when_evicted_pod_has_empty_dir(pod_with(empty_dir()), &["local-data.empty-dir"])]
#[case::pass_for_empty_dir_of_daemon_set_pod_that_is_not_evicted(daemon_set(pod_with(empty_dir())), &[])]
#[case::pass_for_finished_pods(finished(pod_with(VolumeSource::HostPath("/data/x".into()))), &[])]
fn local_data_rules(#[case] pod: Pod, #[case] expected: &[&str]) {
    let settings = Settings::parse("{}").expect("defaults are valid");
    let findings = check_pod(&pod, &[TARGET.to_owned()], &settings);
    let codes: Vec<&str> = findings.iter().map(|f| f.code.as_str()).collect();
    assert_eq!(codes, expected, "{findings:#?}");
}

#[test]
fn messages_say_what_is_lost_and_what_cannot_move() {
    let settings = Settings::parse("{}").expect("defaults are valid");
    let targets = [TARGET.to_owned()];
    let f = check_pod(&pod_with(pvc(Some(TARGET))), &targets, &settings);
    assert!(
        f[0].message
            .contains("PVC data-mysql-0, storage class local-storage"),
        "{}",
        f[0].message
    );
    assert!(f[0].message.contains("can run nowhere else"));
    let f = check_pod(
        &daemon_set(pod_with(VolumeSource::HostPath("/data/spool".into()))),
        &targets,
        &settings,
    );
    assert!(
        f[0].message.contains("hostPath /data/spool on 10.0.1.11"),
        "{}",
        f[0].message
    );
    assert!(f[0].message.contains("does not evict"), "{}", f[0].message);
    let f = check_pod(&pod_with(empty_dir()), &targets, &settings);
    assert!(
        f[0].message.contains("data (up to 1Gi)"),
        "{}",
        f[0].message
    );
}

#[test]
fn custom_ignore_list_replaces_the_default() {
    let settings = Settings::parse(r#"{"ignore_host_paths": ["/data"]}"#).expect("valid");
    let pod = pod_with(VolumeSource::HostPath("/data/uploads".into()));
    assert!(check_pod(&pod, &[TARGET.to_owned()], &settings).is_empty());
    let pod = pod_with(VolumeSource::HostPath("/var/log".into()));
    assert_eq!(check_pod(&pod, &[TARGET.to_owned()], &settings).len(), 1);
}

#[test]
fn override_and_unknown_node() {
    let cluster = MemoryCluster::new(SnapshotFile {
        nodes: vec![testkit::node(TARGET)],
        pods: vec![pod_with(empty_dir())],
        ..Default::default()
    });
    let request = testkit::request(
        &[TARGET, "10.9.9.9"],
        r#"{"severity_overrides": {"local-data.empty-dir": "info"}}"#,
    );
    let f = evaluate(&request, &cluster).expect("decides");
    let got: Vec<(&str, Severity)> = f.iter().map(|f| (f.code.as_str(), f.severity)).collect();
    assert_eq!(
        got,
        [
            ("local-data.unknown-node", Severity::Deny),
            ("local-data.empty-dir", Severity::Info)
        ]
    );
}

macro_rules! snapshot {
    ($name:literal) => {
        include_str!(concat!("../../../tests/fixtures/snapshots/", $name))
    };
}

#[rstest]
#[case::healthy_three_nodes(snapshot!("healthy-three-nodes.pass.json"), &[])]
#[case::local_pv_pinned(snapshot!("local-pv-pinned.deny.json"), &["local-data.pinned-volume"])]
#[case::host_path_and_empty_dir(snapshot!("host-path-and-empty-dir.warn.json"), &["local-data.host-path", "local-data.empty-dir", "local-data.host-path"])]
#[case::no_room_for_memory(snapshot!("no-room-for-memory.deny.json"), &[])]
#[case::gpu_pod_no_free_gpu(snapshot!("gpu-pod-no-free-gpu.deny.json"), &[])]
#[case::anti_affinity_no_spare_node(snapshot!("anti-affinity-no-spare-node.deny.json"), &[])]
#[case::pdb_budget_exceeded_by_node(snapshot!("pdb-budget-exceeded-by-node.warn.json"), &[])]
fn fixtures(#[case] json: &str, #[case] expected: &[&str]) {
    let cluster = MemoryCluster::from_json(json).expect("fixture parses");
    let findings =
        evaluate(&testkit::request(&[TARGET], "{}"), &cluster).expect("local-data decides");
    let codes: Vec<&str> = findings.iter().map(|f| f.code.as_str()).collect();
    assert_eq!(codes, expected, "{findings:#?}");
}

#[test]
fn codes_list_and_readme_match_what_the_code_emits() {
    let found = testkit::codes_in_source(
        "local-data",
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

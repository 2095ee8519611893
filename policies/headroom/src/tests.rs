//! Case tables (the names are the specification) and the fixture snapshots.

use rstest::rstest;
use tke_recycle_policy_sdk::testkit::{self, GI, MI};
use tke_recycle_policy_sdk::{
    ExtendedResource, MemoryCluster, Pod, PodAffinityTerm, Severity, SnapshotFile, Taint,
    TaintEffect, Toleration, TolerationOperator, WorkloadKind,
};

use super::*;

const TARGET: &str = "10.0.1.11";

/// Three TKE nodes; the tests recycle the first.
fn world() -> SnapshotFile {
    SnapshotFile {
        nodes: ["10.0.1.11", "10.0.1.12", "10.0.1.13"]
            .into_iter()
            .map(testkit::node)
            .collect(),
        ..Default::default()
    }
}

fn replica(name: &str, node: &str) -> Pod {
    let mut p = testkit::pod("default", name, node);
    p.owner = Some(testkit::owner(WorkloadKind::Deployment, "app"));
    p.labels = testkit::labels(&[("app", "app")]);
    p
}

fn big(name: &str, node: &str, memory: u64) -> Pod {
    let mut p = replica(name, node);
    p.requests.memory_bytes = memory;
    p
}

fn gpu_node(name: &str) -> tke_recycle_policy_sdk::Node {
    let mut n = testkit::node(name);
    n.taints.push(Taint {
        key: "dedicated".into(),
        value: "gpu".into(),
        effect: TaintEffect::NoSchedule,
    });
    n.allocatable.extended.push(ExtendedResource {
        name: "nvidia.com/gpu".into(),
        amount: 1,
    });
    n.allocatable.memory_bytes = 30 * GI;
    n
}

fn gpu_pod(name: &str, node: &str) -> Pod {
    let mut p = replica(name, node);
    p.requests.extended.push(ExtendedResource {
        name: "nvidia.com/gpu".into(),
        amount: 1,
    });
    p.tolerations.push(Toleration {
        key: Some("dedicated".into()),
        operator: TolerationOperator::Equal,
        value: Some("gpu".into()),
        effect: Some(TaintEffect::NoSchedule),
    });
    p
}

fn hostname_anti_affinity(pod: &mut Pod) {
    pod.required_anti_affinity.push(PodAffinityTerm {
        selector: testkit::selector(&[("app", "app")]),
        namespaces: vec![],
        topology_key: "kubernetes.io/hostname".into(),
    });
}

fn run(world: SnapshotFile, targets: &[&str], settings: &str) -> Vec<Finding> {
    let cluster = MemoryCluster::new(world);
    evaluate(&testkit::request(targets, settings), &cluster).expect("headroom decides")
}

fn codes(findings: &[Finding]) -> Vec<&str> {
    findings.iter().map(|f| f.code.as_str()).collect()
}

#[rstest]
#[case::pass_when_evicted_pod_fits_on_another_node(|w: &mut SnapshotFile| {
    w.pods.push(replica("app-1", TARGET));
}, &[])]
#[case::pass_when_only_daemon_set_mirror_finished_and_bare_pods_are_on_node(|w: &mut SnapshotFile| {
    for (i, node) in w.nodes.iter_mut().enumerate().skip(1) {
        node.unschedulable = i > 0;
    }
    let mut ds = big("ds", TARGET, 100 * GI);
    ds.owner = Some(testkit::owner(WorkloadKind::DaemonSet, "agent"));
    let mut mirror = big("etcd", TARGET, 100 * GI);
    mirror.mirror = true;
    let mut done = big("job-done", TARGET, 100 * GI);
    done.phase = tke_recycle_policy_sdk::PodPhase::Succeeded;
    let mut bare = big("debug", TARGET, 100 * GI);
    bare.owner = None;
    w.pods.extend([ds, mirror, done, bare]);
}, &[])]
#[case::deny_when_pod_needs_more_memory_than_any_node_has_free(|w: &mut SnapshotFile| {
    w.pods.push(big("app-1", TARGET, 3 * GI));
}, &["headroom.unschedulable"])]
#[case::deny_when_remaining_nodes_are_cordoned_or_not_ready(|w: &mut SnapshotFile| {
    w.nodes[1].unschedulable = true;
    w.nodes[2].ready = false;
    w.pods.push(replica("app-1", TARGET));
}, &["headroom.unschedulable"])]
#[case::pass_when_pod_tolerates_the_cordon_of_the_only_other_node(|w: &mut SnapshotFile| {
    w.nodes.truncate(2);
    w.nodes[1].unschedulable = true;
    let mut p = replica("app-1", TARGET);
    p.tolerations.push(Toleration {
        key: Some("node.kubernetes.io/unschedulable".into()),
        operator: TolerationOperator::Exists,
        value: None,
        effect: Some(TaintEffect::NoSchedule),
    });
    w.pods.push(p);
}, &[])]
#[case::deny_when_only_node_with_room_has_untolerated_taint(|w: &mut SnapshotFile| {
    w.nodes.push(gpu_node("10.0.2.21"));
    w.pods.push(big("app-1", TARGET, 2 * GI));
    w.pods.push(big("filler-2", "10.0.1.12", GI));
    w.pods.push(big("filler-3", "10.0.1.13", GI));
}, &["headroom.unschedulable"])]
#[case::pass_when_pod_tolerates_the_taint_of_the_node_with_room(|w: &mut SnapshotFile| {
    w.nodes.push(gpu_node("10.0.2.21"));
    w.pods.push(gpu_pod("train-1", TARGET));
}, &[])]
#[case::deny_when_gpu_pod_finds_no_free_gpu(|w: &mut SnapshotFile| {
    w.nodes.push(gpu_node("10.0.2.21"));
    w.pods.push(gpu_pod("train-1", TARGET));
    w.pods.push(gpu_pod("train-2", "10.0.2.21"));
}, &["headroom.unschedulable"])]
#[case::deny_when_node_selector_matches_only_the_target(|w: &mut SnapshotFile| {
    let mut p = replica("app-1", TARGET);
    p.node_selector = testkit::labels(&[("kubernetes.io/hostname", TARGET)]);
    w.pods.push(p);
}, &["headroom.unschedulable"])]
#[case::deny_when_local_volume_is_pinned_to_the_target(|w: &mut SnapshotFile| {
    let mut p = replica("db-0", TARGET);
    p.volumes.push(tke_recycle_policy_sdk::Volume {
        name: "data".into(),
        source: tke_recycle_policy_sdk::VolumeSource::PersistentVolumeClaim(
            tke_recycle_policy_sdk::Claim {
                name: "data-db-0".into(),
                storage_class: Some("local-storage".into()),
                pinned_node: Some(TARGET.into()),
            },
        ),
    });
    w.pods.push(p);
}, &["headroom.unschedulable"])]
#[case::deny_when_hostname_anti_affinity_excludes_every_other_node(|w: &mut SnapshotFile| {
    for (i, node) in ["10.0.1.11", "10.0.1.12", "10.0.1.13"].into_iter().enumerate() {
        let mut p = replica(&format!("app-{i}"), node);
        hostname_anti_affinity(&mut p);
        w.pods.push(p);
    }
}, &["headroom.unschedulable"])]
#[case::deny_second_pod_when_anti_affinity_between_evicted_pods_leaves_one_node(|w: &mut SnapshotFile| {
    w.nodes.truncate(2);
    for i in 0..2 {
        let mut p = replica(&format!("app-{i}"), TARGET);
        hostname_anti_affinity(&mut p);
        w.pods.push(p);
    }
}, &["headroom.unschedulable"])]
#[case::deny_lower_priority_pod_when_higher_priority_takes_the_last_room(|w: &mut SnapshotFile| {
    w.nodes.truncate(2);
    w.pods.push(big("filler", "10.0.1.12", GI));
    let mut high = big("a-low-name-high-priority", TARGET, GI);
    high.priority = 1000;
    let low = big("z-low-priority", TARGET, GI);
    w.pods.extend([low, high]);
}, &["headroom.unschedulable"])]
#[case::warn_when_allocation_after_drain_exceeds_85_percent(|w: &mut SnapshotFile| {
    for node in ["10.0.1.11", "10.0.1.12", "10.0.1.13"] {
        for i in 0..2 {
            let mut p = replica(&format!("api-{node}-{i}"), node);
            p.requests.cpu_millis = 550;
            w.pods.push(p);
        }
    }
}, &["headroom.allocation-high"])]
#[case::warn_when_more_than_20_pods_land_on_one_node(|w: &mut SnapshotFile| {
    w.nodes.truncate(2);
    for i in 0..21 {
        let mut p = replica(&format!("worker-{i}"), TARGET);
        p.requests = testkit::resources(10, 16 * MI);
        w.pods.push(p);
    }
}, &["headroom.image-pull-burst"])]
fn headroom_rules(#[case] setup: fn(&mut SnapshotFile), #[case] expected: &[&str]) {
    let mut w = world();
    setup(&mut w);
    let findings = run(w, &[TARGET], "{}");
    assert_eq!(codes(&findings), expected, "{findings:#?}");
}

#[test]
fn reason_summary_counts_nodes_like_the_scheduler() {
    let mut w = world();
    w.nodes.push(gpu_node("10.0.2.21"));
    w.pods.push(big("app-1", TARGET, 2 * GI));
    w.pods.push(big("filler-2", "10.0.1.12", GI));
    w.pods.push(big("filler-3", "10.0.1.13", GI));
    let f = run(w, &[TARGET], "{}");
    assert!(
        f[0].message.ends_with(
            "0/4 nodes: 2 insufficient memory, 1 being recycled, 1 taint dedicated=gpu not tolerated"
        ),
        "{}",
        f[0].message
    );
}

#[test]
fn lower_priority_pod_is_the_one_left_pending() {
    let mut w = world();
    w.nodes.truncate(2);
    w.pods.push(big("filler", "10.0.1.12", GI));
    let mut high = big("z-high-priority", TARGET, GI);
    high.priority = 1000;
    w.pods.extend([big("a-low-priority", TARGET, GI), high]);
    let f = run(w, &[TARGET], "{}");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].subject.name, "a-low-priority");
}

#[test]
fn recycling_two_targets_together_excludes_both() {
    let mut w = world();
    w.pods.push(big("app-1", TARGET, 2 * GI));
    w.pods.push(big("app-2", "10.0.1.12", 2 * GI));
    let f = run(w, &[TARGET, "10.0.1.12"], "{}");
    assert_eq!(codes(&f), ["headroom.unschedulable"]);
    assert!(
        f[0].message.contains("2 being recycled"),
        "{}",
        f[0].message
    );
}

#[test]
fn thresholds_come_from_settings() {
    let mut w = world();
    w.nodes.truncate(2);
    for i in 0..5 {
        w.pods.push(replica(&format!("worker-{i}"), TARGET));
    }
    let f = run(w, &[TARGET], r#"{"max_pods_per_node": 4}"#);
    assert_eq!(codes(&f), ["headroom.image-pull-burst"]);
    assert!(
        f[0].message
            .starts_with("5 evicted pods would land on node 10.0.1.12")
    );
}

#[test]
fn override_turns_unschedulable_into_warn() {
    let mut w = world();
    w.pods.push(big("app-1", TARGET, 3 * GI));
    let f = run(
        w,
        &[TARGET],
        r#"{"severity_overrides": {"headroom.unschedulable": "warn"}}"#,
    );
    assert_eq!(f[0].severity, Severity::Warn);
}

#[test]
fn deny_when_target_is_not_in_snapshot() {
    let f = run(world(), &["10.9.9.9"], "{}");
    assert_eq!(codes(&f), ["headroom.unknown-node"]);
    assert_eq!(f[0].severity, Severity::Deny);
}

fn fixture(json: &str, node: &str) -> Vec<Finding> {
    let cluster = MemoryCluster::from_json(json).expect("fixture parses");
    evaluate(&testkit::request(&[node], "{}"), &cluster).expect("headroom decides")
}

macro_rules! snapshot {
    ($name:literal) => {
        include_str!(concat!("../../../tests/fixtures/snapshots/", $name))
    };
}

#[rstest]
#[case::healthy_three_nodes(snapshot!("healthy-three-nodes.pass.json"), &[])]
#[case::no_room_for_memory(snapshot!("no-room-for-memory.deny.json"), &["headroom.unschedulable"])]
#[case::allocation_high(snapshot!("allocation-high.warn.json"), &["headroom.allocation-high"])]
#[case::image_pull_burst(snapshot!("image-pull-burst.warn.json"), &["headroom.image-pull-burst"])]
#[case::local_pv_pinned(snapshot!("local-pv-pinned.deny.json"), &["headroom.unschedulable"])]
#[case::all_replicas_on_node(snapshot!("all-replicas-on-node.deny.json"), &[])]
#[case::pdb_zero_budget(snapshot!("pdb-zero-budget.deny.json"), &[])]
#[case::host_path_and_empty_dir(snapshot!("host-path-and-empty-dir.warn.json"), &[])]
#[case::gpu_pod_no_free_gpu(snapshot!("gpu-pod-no-free-gpu.deny.json"), &["headroom.unschedulable"])]
#[case::anti_affinity_no_spare_node(snapshot!("anti-affinity-no-spare-node.deny.json"), &["headroom.unschedulable"])]
#[case::zone_spread_drained_zone(snapshot!("zone-spread-drained-zone.deny.json"), &["headroom.unschedulable"])]
#[case::affinity_to_local_agent(snapshot!("affinity-to-local-agent.deny.json"), &["headroom.unschedulable"])]
#[case::refused_by_staying_pod(snapshot!("refused-by-staying-pod.deny.json"), &["headroom.unschedulable"])]
#[case::preemption_leaves_batch_pending(snapshot!("preemption-leaves-batch-pending.deny.json"), &["headroom.unschedulable", "headroom.preemption"])]
#[case::pdb_budget_exceeded_by_node(snapshot!("pdb-budget-exceeded-by-node.warn.json"), &[])]
fn fixtures(#[case] json: &str, #[case] expected: &[&str]) {
    let findings = fixture(json, TARGET);
    assert_eq!(codes(&findings), expected, "{findings:#?}");
}

#[test]
fn fixture_no_room_for_memory_explains_like_the_scheduler() {
    let f = fixture(snapshot!("no-room-for-memory.deny.json"), TARGET);
    assert!(
        f[0].message.contains("analytics/report-builder-")
            && f[0].message.ends_with(
                "0/4 nodes: 2 insufficient memory, 1 being recycled, 1 taint dedicated=gpu not tolerated"
            ),
        "{}",
        f[0].message
    );
}

/// Behaviour at scale (speed is measured by `cargo bench -p tke-recycle --bench policies`): on
/// 5,000 nodes and 150,000 pods of 3,000 Deployments in 50 namespaces, a third of them with
/// hostname anti-affinity against their own replicas, plus pods for a small pool and pods that fit
/// nowhere, exactly the pods that fit nowhere are reported.
#[test]
fn scale_5000_nodes_150000_pods() {
    let mut w = SnapshotFile::default();
    for n in 0..5000 {
        let name = format!("10.0.{}.{}", n / 250, n % 250 + 1);
        w.nodes.push(testkit::node(&name));
        for p in 0..30 {
            let d = (n * 30 + p) % 3000;
            let app = format!("app-{d}");
            let mut pod = testkit::pod(&format!("ns-{}", d % 50), &format!("{app}-{n}"), &name);
            pod.owner = Some(testkit::owner(WorkloadKind::Deployment, &app));
            pod.labels = testkit::labels(&[("app", &app)]);
            pod.requests = testkit::resources(10, 16 * MI);
            if d % 3 == 0 {
                pod.required_anti_affinity.push(PodAffinityTerm {
                    selector: testkit::selector(&[("app", &app)]),
                    namespaces: vec![],
                    topology_key: "kubernetes.io/hostname".into(),
                });
            }
            w.pods.push(pod);
        }
    }
    // 40 pods that only a 40-node pool takes, and 50 pods of 5 workloads that fit nowhere.
    for node in w.nodes.iter_mut().skip(100).take(40) {
        node.labels.extend(testkit::labels(&[("pool", "special")]));
    }
    for i in 0..40 {
        let mut pod = replica(&format!("special-{i}"), "10.0.0.1");
        pod.node_selector = testkit::labels(&[("pool", "special")]);
        w.pods.push(pod);
    }
    for i in 0..50 {
        let mut pod = big(&format!("huge-{i}"), "10.0.0.1", 100 * GI);
        pod.labels = testkit::labels(&[("app", &format!("huge-{}", i % 5))]);
        w.pods.push(pod);
    }
    let cluster = MemoryCluster::new(w);
    let request = testkit::request(&["10.0.0.1"], "{}");
    let findings = evaluate(&request, &cluster).expect("decides");
    assert_eq!(findings.len(), 50, "{findings:#?}");
    assert!(findings.iter().all(|f| f.code == "headroom.unschedulable"));
}

#[test]
fn codes_list_and_readme_match_what_the_code_emits() {
    let found = testkit::codes_in_source(
        "headroom",
        &[
            include_str!("lib.rs"),
            include_str!("settings.rs"),
            include_str!("simulate.rs"),
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

#[rstest]
#[case::gpu(snapshot!("gpu-pod-no-free-gpu.deny.json"), "ml/trainer-", "0/3 nodes: 2 insufficient nvidia.com/gpu, 1 being recycled, 1 insufficient cpu, 1 insufficient memory", "enough nvidia.com/gpu")]
#[case::anti_affinity(snapshot!("anti-affinity-no-spare-node.deny.json"), "infra/zookeeper-0", "0/3 nodes: 2 pod anti-affinity, 1 being recycled", "make the anti-affinity preferred")]
#[case::affinity(snapshot!("affinity-to-local-agent.deny.json"), "default/web-7d9f8b6c5-qx0", "0/3 nodes: 2 pod affinity, 1 being recycled", "make the affinity preferred")]
#[case::refused(snapshot!("refused-by-staying-pod.deny.json"), "default/ingest-5c8d7f9b4-k2x1", "0/3 nodes: 1 being recycled, 1 pod anti-affinity, 1 existing pods anti-affinity", "make the anti-affinity preferred")]
#[case::zone_spread(snapshot!("zone-spread-drained-zone.deny.json"), "default/web-", "0/3 nodes: 2 topology spread constraints, 1 being recycled", "nodeTaintsPolicy: Honor")]
fn fixture_explanations(
    #[case] json: &str,
    #[case] pod: &str,
    #[case] summary: &str,
    #[case] remedy: &str,
) {
    let f = fixture(json, TARGET);
    assert!(
        f[0].message.contains(pod) && f[0].message.ends_with(summary),
        "{}",
        f[0].message
    );
    assert!(
        f[0].remedy.as_deref().unwrap_or_default().contains(remedy),
        "{:?}",
        f[0].remedy
    );
}

#[test]
fn placements_are_reported_only_when_asked() {
    let build = || {
        let mut w = world();
        w.nodes.truncate(2);
        for i in 0..2 {
            w.pods.push(replica(&format!("worker-{i}"), TARGET));
        }
        w
    };
    assert!(run(build(), &[TARGET], "{}").is_empty());
    let f = run(build(), &[TARGET], r#"{"report_placements": true}"#);
    assert_eq!(codes(&f), ["headroom.placement"]);
    assert_eq!(f[0].severity, Severity::Info);
    assert!(
        f[0].message
            .starts_with("2 evicted pod(s) are expected to land on: 10.0.1.12 (2: "),
        "{}",
        f[0].message
    );
}

/// A replica of `app` with one hard spread constraint over `key`, maxSkew 1, selecting `app`;
/// `tune` changes the constraint for the case.
fn spread_replica(
    name: &str,
    node: &str,
    key: &str,
    tune: fn(&mut tke_recycle_policy_sdk::TopologySpreadConstraint),
) -> Pod {
    let mut c = tke_recycle_policy_sdk::TopologySpreadConstraint {
        max_skew: 1,
        topology_key: key.into(),
        when_unsatisfiable: tke_recycle_policy_sdk::UnsatisfiableAction::DoNotSchedule,
        selector: testkit::selector(&[("app", "app")]),
        min_domains: None,
        node_affinity_policy: tke_recycle_policy_sdk::NodeInclusionPolicy::Honor,
        node_taints_policy: tke_recycle_policy_sdk::NodeInclusionPolicy::Ignore,
    };
    tune(&mut c);
    let mut p = replica(name, node);
    p.topology_spread = Some(vec![c]);
    p
}

const HOST: &str = "kubernetes.io/hostname";
const ZONE: &str = "topology.kubernetes.io/zone";

fn defaults(_: &mut tke_recycle_policy_sdk::TopologySpreadConstraint) {}

fn honor_taints(c: &mut tke_recycle_policy_sdk::TopologySpreadConstraint) {
    c.node_taints_policy = tke_recycle_policy_sdk::NodeInclusionPolicy::Honor;
}

/// One replica per node of `nodes`, each with the same constraint.
fn one_per_node(
    w: &mut SnapshotFile,
    nodes: &[&str],
    key: &str,
    tune: fn(&mut tke_recycle_policy_sdk::TopologySpreadConstraint),
) {
    for (i, node) in nodes.iter().enumerate() {
        w.pods
            .push(spread_replica(&format!("app-{i}"), node, key, tune));
    }
}

fn zones(w: &mut SnapshotFile, zones: &[&str]) {
    for (node, zone) in w.nodes.iter_mut().zip(zones) {
        node.labels.extend(testkit::labels(&[(ZONE, zone)]));
    }
}

#[rstest]
#[case::deny_when_hostname_spread_counts_the_drained_node_as_an_empty_domain(|w: &mut SnapshotFile| {
    one_per_node(w, &["10.0.1.11", "10.0.1.12", "10.0.1.13"], HOST, defaults);
}, &["headroom.unschedulable"])]
#[case::pass_when_node_taints_policy_honor_leaves_the_cordoned_target_out(|w: &mut SnapshotFile| {
    one_per_node(w, &["10.0.1.11", "10.0.1.12", "10.0.1.13"], HOST, honor_taints);
}, &[])]
#[case::pass_when_max_skew_allows_one_more_than_the_empty_domain(|w: &mut SnapshotFile| {
    one_per_node(w, &["10.0.1.11", "10.0.1.12", "10.0.1.13"], HOST, |c| c.max_skew = 2);
}, &[])]
#[case::pass_when_constraint_is_schedule_anyway(|w: &mut SnapshotFile| {
    one_per_node(w, &["10.0.1.11", "10.0.1.12", "10.0.1.13"], HOST, |c| {
        c.when_unsatisfiable = tke_recycle_policy_sdk::UnsatisfiableAction::ScheduleAnyway;
    });
}, &[])]
#[case::pass_when_pods_outside_the_selector_crowd_the_nodes(|w: &mut SnapshotFile| {
    w.pods.push(spread_replica("app-0", TARGET, HOST, defaults));
    for node in ["10.0.1.12", "10.0.1.13"] {
        let mut other = replica(&format!("other-{node}"), node);
        other.labels = testkit::labels(&[("app", "other")]);
        w.pods.push(other);
    }
}, &[])]
#[case::deny_when_zone_spread_keeps_the_drained_zone_as_the_minimum(|w: &mut SnapshotFile| {
    zones(w, &["z1", "z2", "z3"]);
    one_per_node(w, &["10.0.1.11", "10.0.1.12", "10.0.1.13"], ZONE, defaults);
}, &["headroom.unschedulable"])]
#[case::pass_when_another_node_of_the_drained_zone_takes_the_pod(|w: &mut SnapshotFile| {
    w.nodes.push(testkit::node("10.0.1.14"));
    zones(w, &["z1", "z2", "z3", "z1"]);
    one_per_node(w, &["10.0.1.11", "10.0.1.12", "10.0.1.13"], ZONE, defaults);
}, &[])]
#[case::deny_when_fewer_domains_than_min_domains(|w: &mut SnapshotFile| {
    one_per_node(w, &["10.0.1.11", "10.0.1.12", "10.0.1.13"], HOST, |c| {
        honor_taints(c);
        c.min_domains = Some(3);
    });
}, &["headroom.unschedulable"])]
#[case::deny_when_no_remaining_node_has_the_topology_key(|w: &mut SnapshotFile| {
    w.pods.push(spread_replica("app-0", TARGET, ZONE, defaults));
}, &["headroom.unschedulable"])]
#[case::pass_when_node_affinity_policy_honor_leaves_out_a_node_the_pod_cannot_use(|w: &mut SnapshotFile| {
    w.nodes.push(testkit::node("10.0.1.14"));
    for i in [0, 1, 3] {
        w.nodes[i].labels.extend(testkit::labels(&[("pool", "a")]));
    }
    one_per_node(w, &["10.0.1.11", "10.0.1.12", "10.0.1.14"], HOST, honor_taints);
    for p in &mut w.pods {
        p.node_selector = testkit::labels(&[("pool", "a")]);
    }
}, &[])]
#[case::deny_when_node_affinity_policy_ignore_counts_an_empty_node_the_pod_cannot_use(|w: &mut SnapshotFile| {
    w.nodes.push(testkit::node("10.0.1.14"));
    for i in [0, 1, 3] {
        w.nodes[i].labels.extend(testkit::labels(&[("pool", "a")]));
    }
    one_per_node(w, &["10.0.1.11", "10.0.1.12", "10.0.1.14"], HOST, |c| {
        honor_taints(c);
        c.node_affinity_policy = tke_recycle_policy_sdk::NodeInclusionPolicy::Ignore;
    });
    for p in &mut w.pods {
        p.node_selector = testkit::labels(&[("pool", "a")]);
    }
}, &["headroom.unschedulable"])]
#[case::deny_second_evicted_pod_once_the_first_fills_the_only_domain_below_min_domains(|w: &mut SnapshotFile| {
    w.nodes.truncate(2);
    for i in 0..2 {
        w.pods.push(spread_replica(&format!("app-{i}"), TARGET, HOST, |c| {
            honor_taints(c);
            c.min_domains = Some(2);
        }));
    }
}, &["headroom.unschedulable"])]
fn topology_spread(#[case] setup: fn(&mut SnapshotFile), #[case] expected: &[&str]) {
    let mut w = world();
    setup(&mut w);
    let findings = run(w, &[TARGET], "{}");
    assert_eq!(codes(&findings), expected, "{findings:#?}");
}

#[test]
fn spread_misfit_is_explained_like_the_scheduler() {
    let mut w = world();
    one_per_node(
        &mut w,
        &["10.0.1.11", "10.0.1.12", "10.0.1.13"],
        HOST,
        defaults,
    );
    let f = run(w, &[TARGET], "{}");
    assert_eq!(codes(&f), ["headroom.unschedulable"]);
    assert!(
        f[0].message
            .ends_with("0/3 nodes: 2 topology spread constraints, 1 being recycled"),
        "{}",
        f[0].message
    );
    assert!(
        f[0].remedy
            .as_deref()
            .is_some_and(|r| r.contains("nodeTaintsPolicy: Honor")),
        "{:?}",
        f[0].remedy
    );
}

/// A replica of `web` that must run in the same `key` domain as a pod labelled `app=cache`.
fn follower(name: &str, node: &str, key: &str) -> Pod {
    let mut p = testkit::pod("default", name, node);
    p.owner = Some(testkit::owner(WorkloadKind::Deployment, "web"));
    p.labels = testkit::labels(&[("app", "web")]);
    p.required_affinity = Some(vec![PodAffinityTerm {
        selector: testkit::selector(&[("app", "cache")]),
        namespaces: vec![],
        topology_key: key.into(),
    }]);
    p
}

fn cache(name: &str, node: &str, kind: WorkloadKind) -> Pod {
    let mut p = testkit::pod("default", name, node);
    p.owner = Some(testkit::owner(kind, "cache"));
    p.labels = testkit::labels(&[("app", "cache")]);
    p
}

#[rstest]
#[case::pass_when_the_pod_it_follows_runs_on_a_remaining_node(|w: &mut SnapshotFile| {
    w.pods.push(follower("web-0", TARGET, HOST));
    w.pods.push(cache("cache-0", "10.0.1.13", WorkloadKind::Deployment));
}, &[])]
#[case::deny_when_the_pod_it_follows_stays_on_the_drained_node(|w: &mut SnapshotFile| {
    w.pods.push(follower("web-0", TARGET, HOST));
    w.pods.push(cache("cache-agent", TARGET, WorkloadKind::DaemonSet));
}, &["headroom.unschedulable"])]
#[case::pass_when_the_pod_it_follows_is_evicted_too_and_lands_first(|w: &mut SnapshotFile| {
    w.pods.push(follower("a-web-0", TARGET, HOST));
    w.pods.push(cache("z-cache-0", TARGET, WorkloadKind::Deployment));
}, &[])]
#[case::deny_when_the_followed_pod_is_bare_and_not_replaced(|w: &mut SnapshotFile| {
    w.pods.push(follower("web-0", TARGET, HOST));
    let mut bare = cache("cache-debug", TARGET, WorkloadKind::Deployment);
    bare.owner = None;
    w.pods.push(bare);
    w.pods.push(cache("cache-elsewhere", "10.0.1.12", WorkloadKind::Deployment));
    w.pods[2].namespace = "other".into();
}, &["headroom.unschedulable"])]
#[case::pass_when_zone_affinity_finds_the_followed_pod_in_another_node_of_the_zone(|w: &mut SnapshotFile| {
    zones(w, &["z1", "z1", "z2"]);
    w.pods.push(follower("web-0", TARGET, ZONE));
    w.pods.push(cache("cache-0", "10.0.1.12", WorkloadKind::Deployment));
}, &[])]
#[case::deny_when_zone_affinity_matches_only_a_full_zone(|w: &mut SnapshotFile| {
    zones(w, &["z1", "z2", "z2"]);
    w.nodes[1].unschedulable = true;
    w.nodes[2].unschedulable = true;
    w.nodes.push(testkit::node("10.0.1.14"));
    w.nodes[3].labels.extend(testkit::labels(&[(ZONE, "z3")]));
    w.pods.push(follower("web-0", TARGET, ZONE));
    w.pods.push(cache("cache-0", "10.0.1.12", WorkloadKind::Deployment));
}, &["headroom.unschedulable"])]
#[case::pass_when_the_first_of_a_self_affine_group_finds_no_match_anywhere(|w: &mut SnapshotFile| {
    let mut p = follower("cache-0", TARGET, HOST);
    p.labels = testkit::labels(&[("app", "cache")]);
    w.pods.push(p);
}, &[])]
fn pod_affinity(#[case] setup: fn(&mut SnapshotFile), #[case] expected: &[&str]) {
    let mut w = world();
    setup(&mut w);
    let findings = run(w, &[TARGET], "{}");
    assert_eq!(codes(&findings), expected, "{findings:#?}");
}

#[test]
fn affinity_misfit_is_explained_like_the_scheduler() {
    let mut w = world();
    w.pods.push(follower("web-0", TARGET, HOST));
    w.pods
        .push(cache("cache-agent", TARGET, WorkloadKind::DaemonSet));
    let f = run(w, &[TARGET], "{}");
    assert_eq!(codes(&f), ["headroom.unschedulable"]);
    assert!(
        f[0].message
            .ends_with("0/3 nodes: 2 pod affinity, 1 being recycled"),
        "{}",
        f[0].message
    );
}

/// A pod of `guard` that stays on `node` and refuses pods labelled `app=app` in its `key` domain.
fn guard(name: &str, node: &str, key: &str) -> Pod {
    let mut p = testkit::pod("default", name, node);
    p.owner = Some(testkit::owner(WorkloadKind::Deployment, "guard"));
    p.labels = testkit::labels(&[("app", "guard")]);
    p.required_anti_affinity.push(PodAffinityTerm {
        selector: testkit::selector(&[("app", "app")]),
        namespaces: vec![],
        topology_key: key.into(),
    });
    p
}

#[rstest]
#[case::deny_when_a_pod_on_every_other_node_refuses_the_evicted_pod(|w: &mut SnapshotFile| {
    w.pods.push(replica("app-1", TARGET));
    w.pods.push(guard("guard-2", "10.0.1.12", HOST));
    w.pods.push(guard("guard-3", "10.0.1.13", HOST));
}, &["headroom.unschedulable"])]
#[case::pass_when_one_remaining_node_has_no_refusing_pod(|w: &mut SnapshotFile| {
    w.pods.push(replica("app-1", TARGET));
    w.pods.push(guard("guard-2", "10.0.1.12", HOST));
}, &[])]
#[case::deny_when_zone_anti_affinity_of_a_stayer_covers_the_remaining_zone(|w: &mut SnapshotFile| {
    zones(w, &["z1", "z2", "z2"]);
    w.pods.push(replica("app-1", TARGET));
    w.pods.push(guard("guard-2", "10.0.1.12", ZONE));
}, &["headroom.unschedulable"])]
#[case::pass_when_the_refusing_term_selects_in_another_namespace(|w: &mut SnapshotFile| {
    w.pods.push(replica("app-1", TARGET));
    for (name, node) in [("guard-2", "10.0.1.12"), ("guard-3", "10.0.1.13")] {
        let mut g = guard(name, node, HOST);
        g.required_anti_affinity[0].namespaces = vec!["other".into()];
        w.pods.push(g);
    }
}, &[])]
#[case::pass_when_the_refusing_pod_is_terminating(|w: &mut SnapshotFile| {
    w.pods.push(replica("app-1", TARGET));
    w.pods.push(guard("guard-2", "10.0.1.12", HOST));
    let mut g = guard("guard-3", "10.0.1.13", HOST);
    g.terminating = true;
    w.pods.push(g);
}, &[])]
#[case::pass_when_the_refusing_pod_stays_on_the_drained_node(|w: &mut SnapshotFile| {
    w.nodes.truncate(2);
    w.pods.push(replica("app-1", TARGET));
    let mut g = guard("guard-agent", TARGET, HOST);
    g.owner = Some(testkit::owner(WorkloadKind::DaemonSet, "guard"));
    w.pods.push(g);
}, &[])]
#[case::deny_second_pod_when_an_evicted_refusing_pod_lands_first(|w: &mut SnapshotFile| {
    w.nodes.truncate(2);
    w.pods.push(guard("a-guard-1", TARGET, HOST));
    w.pods.push(replica("z-app-1", TARGET));
}, &["headroom.unschedulable"])]
fn existing_anti_affinity(#[case] setup: fn(&mut SnapshotFile), #[case] expected: &[&str]) {
    let mut w = world();
    setup(&mut w);
    let findings = run(w, &[TARGET], "{}");
    assert_eq!(codes(&findings), expected, "{findings:#?}");
}

#[test]
fn existing_anti_affinity_is_explained_like_the_scheduler() {
    let mut w = world();
    w.pods.push(replica("app-1", TARGET));
    w.pods.push(guard("guard-2", "10.0.1.12", HOST));
    w.pods.push(guard("guard-3", "10.0.1.13", HOST));
    let f = run(w, &[TARGET], "{}");
    assert_eq!(codes(&f), ["headroom.unschedulable"]);
    assert!(
        f[0].message
            .ends_with("0/3 nodes: 2 existing pods anti-affinity, 1 being recycled"),
        "{}",
        f[0].message
    );
    assert!(
        f[0].remedy
            .as_deref()
            .is_some_and(|r| r.contains("make their anti-affinity preferred")),
        "{:?}",
        f[0].remedy
    );
}

/// A pod of Deployment `workload` with `priority` requesting `cpu` millis.
fn ranked(name: &str, node: &str, workload: &str, priority: i32, cpu: u64) -> Pod {
    let mut p = testkit::pod("default", name, node);
    p.owner = Some(testkit::owner(WorkloadKind::Deployment, workload));
    p.labels = testkit::labels(&[("app", workload)]);
    p.priority = priority;
    p.requests.cpu_millis = cpu;
    p
}

/// `critical` (priority 1000, 1500m) on the target; `.12` and `.13` each run a `low` pod
/// (priority 0, 1000m), so only preemption makes room; `.14` keeps 1100m free behind a
/// higher-priority pod, room for a victim but not for `critical`.
fn contested(w: &mut SnapshotFile) {
    w.nodes.push(testkit::node("10.0.1.14"));
    w.pods
        .push(ranked("critical-0", TARGET, "critical", 1000, 1500));
    w.pods.push(ranked("low-a", "10.0.1.12", "low", 0, 1000));
    w.pods.push(ranked("low-b", "10.0.1.13", "low", 0, 1000));
    w.pods
        .push(ranked("keeper-0", "10.0.1.14", "keeper", 2000, 800));
}

#[rstest]
#[case::warn_when_evicted_pod_fits_only_by_preempting_a_lower_priority_pod(contested, &["headroom.preemption"])]
#[case::deny_when_preemption_policy_is_never(|w: &mut SnapshotFile| {
    contested(w);
    w.pods[0].preempts = Some(false);
}, &["headroom.unschedulable"])]
#[case::deny_when_only_pods_of_equal_priority_could_make_room(|w: &mut SnapshotFile| {
    contested(w);
    w.pods[0].priority = 0;
}, &["headroom.unschedulable"])]
#[case::deny_the_victim_when_its_replacement_then_fits_nowhere(|w: &mut SnapshotFile| {
    contested(w);
    w.pods[3].requests.cpu_millis = 1000;
}, &["headroom.unschedulable", "headroom.preemption"])]
#[case::deny_when_removing_every_lower_priority_pod_is_not_enough(|w: &mut SnapshotFile| {
    contested(w);
    w.pods[0].requests.cpu_millis = 1950;
}, &["headroom.unschedulable"])]
#[case::pass_when_older_snapshot_has_no_preemption_policy_and_room_exists(|w: &mut SnapshotFile| {
    w.pods.push(ranked("critical-0", TARGET, "critical", 1000, 500));
}, &[])]
fn preemption(#[case] setup: fn(&mut SnapshotFile), #[case] expected: &[&str]) {
    let mut w = world();
    setup(&mut w);
    let findings = run(w, &[TARGET], "{}");
    assert_eq!(codes(&findings), expected, "{findings:#?}");
}

#[rstest]
#[case::lowest_highest_victim_priority(|w: &mut SnapshotFile| {
    w.pods[1].priority = 500;
}, "on node 10.0.1.13: default/low-b (priority 0)")]
#[case::fewest_victims_when_priorities_tie(|w: &mut SnapshotFile| {
    w.pods[1].requests.cpu_millis = 500;
    w.pods.push(ranked("low-c", "10.0.1.12", "low", 0, 500));
}, "on node 10.0.1.13: default/low-b (priority 0)")]
#[case::lowest_name_when_all_else_ties(|_: &mut SnapshotFile| {}, "on node 10.0.1.12: default/low-a (priority 0)")]
#[case::most_important_victim_is_given_back(|w: &mut SnapshotFile| {
    // .12: a 400m priority-500 pod and a 600m priority-0 pod; removing the 600m one is enough.
    w.pods[1].requests.cpu_millis = 600;
    w.pods.push(ranked("mid-a", "10.0.1.12", "mid", 500, 400));
    w.pods[2].priority = 900;
}, "on node 10.0.1.12: default/low-a (priority 0);")]
fn preemption_chooses_node_and_victims_like_default_preemption(
    #[case] setup: fn(&mut SnapshotFile),
    #[case] expected: &str,
) {
    let mut w = world();
    contested(&mut w);
    setup(&mut w);
    let findings = run(w, &[TARGET], "{}");
    let f = findings
        .iter()
        .find(|f| f.code == "headroom.preemption")
        .unwrap_or_else(|| panic!("a preemption: {findings:#?}"));
    assert!(f.message.contains(expected), "{}", f.message);
    assert_eq!(f.severity, Severity::Warn);
}

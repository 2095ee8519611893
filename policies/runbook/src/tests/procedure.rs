//! The whole recycle of a node, call by call, and what it sends and restores.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::fake::{FakeHost, INSTANCE, NODE, NODE2, finding};
use super::{assert_contains, recycle};
use crate::capture::Capture;
use crate::host::{Login, Severity};

fn capture_record(fake: &FakeHost, node: &str) -> Capture {
    let json = fake
        .journal
        .get(&format!("node/{node}/capture"))
        .expect("capture journaled");
    serde_json::from_str(json).expect("capture record parses")
}

#[test]
fn one_node_is_recycled_in_order_capture_before_cordon_before_evict_before_remove_before_add() {
    let mut fake = FakeHost::cluster();
    recycle(&mut fake, &[NODE], "{}").expect("recycled");
    let calls: Vec<&str> = fake
        .calls
        .iter()
        .map(String::as_str)
        .filter(|c| !c.starts_with("report "))
        .collect();
    assert_eq!(
        calls,
        vec![
            "refresh",
            "node 10.0.0.1",
            "policies pre 10.0.0.1",
            "nodes",
            "put node/10.0.0.1/step=checked",
            "capture ins-target1",
            "pods-to-evict 10.0.0.1",
            "pdbs-covering 2",
            "put node/10.0.0.1/capture",
            "put node/10.0.0.1/step=captured",
            "cordon 10.0.0.1",
            "put node/10.0.0.1/step=cordoned",
            "pods-to-evict 10.0.0.1",
            "evict default/web-1,default/db-0",
            "wait-pods-gone 10.0.0.1 default/web-1,default/db-0 600",
            "put node/10.0.0.1/step=drained",
            "put node/10.0.0.1/step=removing",
            "describe ins-target1",
            "remove ins-target1",
            "wait-node-gone 10.0.0.1 300",
            "put node/10.0.0.1/step=removed",
            "put node/10.0.0.1/step=adding",
            "describe ins-target1",
            "add ins-target1",
            "put node/10.0.0.1/step=added",
            "wait-instance-running ins-target1 1800",
            "wait-node-ready 10.0.0.1 900",
            "put node/10.0.0.1/step=ready",
            "refresh",
            "node 10.0.0.1",
            "set-node-metadata 10.0.0.1 labels=[team=payments] taints=[dedicated=payments:NoSchedule]",
            "put node/10.0.0.1/step=restored",
            "uncordon 10.0.0.1",
            "put node/10.0.0.1/step=uncordoned",
            "refresh",
            "policies post 10.0.0.1 affected=Deployment default/web,PodDisruptionBudget default/web-pdb,StatefulSet default/db",
            "put node/10.0.0.1/step=done",
        ]
    );
}

#[test]
fn a_recycled_node_ends_done_in_the_journal_with_its_capture_and_no_blocked_reason() {
    let mut fake = FakeHost::cluster();
    recycle(&mut fake, &[NODE], "{}").expect("recycled");
    assert_eq!(fake.step(NODE), Some("done"));
    assert!(!fake.journal.contains_key("node/10.0.0.1/blocked"));
    let capture = capture_record(&fake, NODE);
    assert_eq!(capture.instance_id, INSTANCE);
    assert_eq!(capture.node_pool_id.as_deref(), Some("np-1"));
    let node = &fake.nodes[NODE];
    assert!(!node.unschedulable, "uncordoned at the end");
    assert!(
        node.labels
            .iter()
            .any(|l| l.key == "team" && l.value == "payments")
    );
}

#[test]
fn every_step_is_reported_and_the_run_ends_with_a_summary() {
    let mut fake = FakeHost::cluster();
    recycle(&mut fake, &[NODE], "{}").expect("recycled");
    let mut steps = fake.report_steps(NODE);
    steps.dedup();
    assert_eq!(
        steps,
        vec![
            "pre-check",
            "capture",
            "cordon",
            "drain",
            "remove",
            "add-back",
            "wait-ready",
            "restore",
            "uncordon",
            "post-check",
            "done"
        ]
    );
    let done = fake
        .reports
        .iter()
        .find(|r| r.node == NODE && r.step == "done")
        .expect("done reported");
    assert_contains(&done.message, "recycled in");
    let last = fake.reports.last().expect("a summary");
    assert_eq!((last.node.as_str(), last.step.as_str()), ("", "done"));
    assert_contains(&last.message, "1 of 1 nodes recycled");
}

#[test]
fn nodes_are_recycled_one_at_a_time_in_the_order_given() {
    let mut fake = FakeHost::cluster();
    recycle(&mut fake, &[NODE2, NODE], "{}").expect("recycled");
    let cordons = fake.calls_starting("cordon ");
    assert_eq!(cordons, vec!["cordon 10.0.0.2", "cordon 10.0.0.1"]);
    let done2 = fake
        .calls
        .iter()
        .position(|c| c == "put node/10.0.0.2/step=done")
        .expect("first done");
    let checked1 = fake
        .calls
        .iter()
        .position(|c| c == "put node/10.0.0.1/step=checked")
        .expect("second checked");
    assert!(
        done2 < checked1,
        "the second node starts after the first is done"
    );
    assert_eq!(fake.step(NODE), Some("done"));
    assert_eq!(fake.step(NODE2), Some("done"));
}

#[test]
fn the_add_request_is_the_captured_settings_added_cordoned_with_one_security_group() {
    let mut fake = FakeHost::cluster();
    recycle(&mut fake, &[NODE], "{}").expect("recycled");
    let request = capture_record(&fake, NODE).add_request;
    assert_eq!(request.instance_id, INSTANCE);
    assert_eq!(request.node_pool_id.as_deref(), Some("np-1"));
    assert_eq!(request.security_group_ids, vec!["sg-first".to_owned()]);
    assert_eq!(request.login, Login::KeyIds(vec!["skey-captured1".into()]));
    assert_eq!(
        request.host_name, None,
        "a lan-ip cluster gets no host name"
    );
    assert!(request.settings.unschedulable);
    assert_eq!(
        request.settings.data_disks.len(),
        2,
        "TKE mounts both disks"
    );
    assert_eq!(request.settings.user_script, None);
    assert_eq!(
        request.settings.kubelet_extra_args,
        vec!["max-pods=61".to_owned()]
    );
    let added = fake.instances[INSTANCE].added_with.clone().expect("added");
    assert_eq!(added, request.settings);
}

#[test]
fn a_hostname_cluster_gets_the_instance_name_as_host_name() {
    let mut fake = FakeHost::cluster();
    if let Some(i) = fake.instances.get_mut(INSTANCE) {
        i.capture.node_name_type = "hostname".into();
    }
    recycle(&mut fake, &[NODE], "{}").expect("recycled");
    let request = capture_record(&fake, NODE).add_request;
    assert_eq!(request.host_name.as_deref(), Some("node-ins-target1"));
}

#[test]
fn login_from_the_settings_replaces_the_captured_keys() {
    let mut fake = FakeHost::cluster();
    recycle(
        &mut fake,
        &[NODE],
        r#"{"login": {"keep_image_login": true}}"#,
    )
    .expect("recycled");
    assert_eq!(
        capture_record(&fake, NODE).add_request.login,
        Login::KeepImageLogin
    );
}

#[test]
fn keep_data_disk_takes_the_disk_from_tke_and_mounts_it_from_the_user_script() {
    let mut fake = FakeHost::cluster();
    if let Some(i) = fake.instances.get_mut(INSTANCE) {
        i.capture.instance.advanced_settings.user_script = Some(BASE64.encode("echo previous\n"));
    }
    recycle(
        &mut fake,
        &[NODE],
        r#"{"keep_data_disk": {"device": "/dev/vdb", "mount_target": "/data"}}"#,
    )
    .expect("recycled");
    let settings = capture_record(&fake, NODE).add_request.settings;
    let partitions: Vec<Option<&str>> = settings
        .data_disks
        .iter()
        .map(|d| d.disk_partition.as_deref())
        .collect();
    assert_eq!(
        partitions,
        vec![Some("/dev/vdc")],
        "only the kept disk is taken out"
    );
    assert_eq!(settings.mount_target, None, "TKE no longer mounts /data");
    let encoded = settings.user_script.expect("a user script");
    let script = String::from_utf8(BASE64.decode(encoded).expect("base64")).expect("utf-8");
    assert!(!script.contains("mkfs"));
    assert_contains(&script, "nofail");
    assert_contains(&script, "RUNTIME_ROOT='/data/containerd'");
    assert_contains(&script, "echo previous");
    assert!(
        script.find("systemctl start kubelet") < script.find("echo previous"),
        "the node's own script runs after ours"
    );
}

#[test]
fn keep_data_disk_with_docker_points_data_root_at_the_disk() {
    let mut fake = FakeHost::cluster();
    if let Some(i) = fake.instances.get_mut(INSTANCE) {
        i.capture.container_runtime = "docker".into();
    }
    recycle(
        &mut fake,
        &[NODE],
        r#"{"keep_data_disk": {"device": "/dev/vdb", "mount_target": "/data"}}"#,
    )
    .expect("recycled");
    let encoded = capture_record(&fake, NODE)
        .add_request
        .settings
        .user_script
        .expect("a user script");
    let script = String::from_utf8(BASE64.decode(encoded).expect("base64")).expect("utf-8");
    assert_contains(&script, "/etc/docker/daemon.json");
    assert_contains(&script, "RUNTIME_ROOT='/data/docker'");
}

#[test]
fn own_labels_and_taints_are_restored_and_managed_ones_are_not() {
    let mut fake = FakeHost::cluster();
    recycle(&mut fake, &[NODE], "{}").expect("recycled");
    let capture = capture_record(&fake, NODE);
    let labels: Vec<String> = capture
        .labels
        .iter()
        .map(crate::capture::label_text)
        .collect();
    assert_eq!(
        labels,
        vec!["team=payments"],
        "managed and TKE-settings labels are left to TKE"
    );
    let set = fake.calls_starting("set-node-metadata");
    assert_eq!(
        set,
        vec![
            "set-node-metadata 10.0.0.1 labels=[team=payments] taints=[dedicated=payments:NoSchedule]"
        ]
    );
}

#[test]
fn nothing_is_restored_when_the_node_has_no_own_labels_or_taints() {
    let mut fake = FakeHost::cluster();
    if let Some(n) = fake.nodes.get_mut(NODE) {
        n.labels.retain(|l| l.key != "team");
        n.taints.clear();
    }
    recycle(&mut fake, &[NODE], "{}").expect("recycled");
    assert!(fake.calls_starting("set-node-metadata").is_empty());
    assert_eq!(fake.step(NODE), Some("done"));
}

#[test]
fn the_post_check_is_repeated_until_it_has_no_deny() {
    let mut fake = FakeHost::cluster();
    let deny = finding("workloads-healthy.not-ready", Severity::Deny);
    fake.post_findings = vec![vec![deny.clone()], vec![deny]].into();
    recycle(&mut fake, &[NODE], "{}").expect("recycled");
    assert_eq!(fake.calls_starting("policies post").len(), 3);
    assert_eq!(fake.calls_starting("sleep "), vec!["sleep 5", "sleep 5"]);
    assert_eq!(fake.step(NODE), Some("done"));
}

#[test]
fn a_post_check_that_keeps_denying_stops_the_run_before_the_next_node() {
    let mut fake = FakeHost::cluster();
    let deny = finding("workloads-healthy.not-ready", Severity::Deny);
    fake.post_findings = std::iter::repeat_n(vec![deny], 100).collect();
    let err = recycle(
        &mut fake,
        &[NODE, NODE2],
        r#"{"post_check_timeout_seconds": 20, "post_check_interval_seconds": 5}"#,
    )
    .expect_err("stops");
    assert_contains(
        &err,
        "node 10.0.0.1: post-check failed: workloads-healthy.not-ready",
    );
    assert_eq!(fake.calls_starting("sleep "), vec!["sleep 5"; 4]);
    assert!(fake.report_steps(NODE).contains(&"failed".to_owned()));
    assert_eq!(
        fake.step(NODE),
        Some("uncordoned"),
        "resume runs the post-check again"
    );
    assert_eq!(fake.step(NODE2), None, "the next node is not touched");
}

#[test]
fn bad_settings_stop_the_run_before_any_call() {
    let mut fake = FakeHost::cluster();
    let err = recycle(&mut fake, &[NODE], r#"{"drain_timeout": 5}"#).expect_err("refused");
    assert_contains(&err, "unknown field `drain_timeout`");
    assert!(fake.calls.is_empty());
}

#[test]
fn a_node_listed_twice_is_refused() {
    let mut fake = FakeHost::cluster();
    let err = recycle(&mut fake, &[NODE, NODE], "{}").expect_err("refused");
    assert_contains(&err, "node 10.0.0.1 is listed twice");
    assert!(fake.calls.is_empty());
}

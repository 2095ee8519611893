//! Step 1 and 2: what stops a node before anything is changed.

use rstest::rstest;

use super::fake::{FakeHost, INSTANCE, NODE, NODE2, OTHER, finding};
use super::{assert_contains, recycle};
use crate::host::Severity;

/// The only mutating call a refused node may see: its journaled step.
fn only_the_step_was_written(fake: &FakeHost, step: &str) {
    assert_eq!(
        fake.mutating_calls(),
        vec![format!("put node/10.0.0.1/step={step}")],
        "nothing but the step may change"
    );
}

#[test]
fn a_deny_stops_the_run_with_nothing_changed() {
    let mut fake = FakeHost::cluster();
    fake.pre_findings.insert(
        NODE.into(),
        vec![
            finding("pdb.zero-budget", Severity::Deny),
            finding("spread.single-replica", Severity::Deny),
        ],
    );
    let err = recycle(&mut fake, &[NODE, NODE2], "{}").expect_err("denied");
    assert_eq!(
        err,
        "node 10.0.0.1: pre-checks denied: pdb.zero-budget, spread.single-replica (accept a code for this run with --accept CODE)"
    );
    only_the_step_was_written(&fake, "denied");
    let denied = fake
        .reports
        .iter()
        .find(|r| r.step == "denied")
        .expect("denied reported");
    assert_contains(&denied.message, "pdb.zero-budget: pdb.zero-budget says so");
    assert_contains(
        denied.data.as_deref().unwrap_or(""),
        "\"severity\":\"deny\"",
    );
    assert!(fake.calls_starting("capture").is_empty());
}

#[test]
fn an_accepted_deny_lets_the_node_go_and_is_reported_as_accepted() {
    let mut fake = FakeHost::cluster();
    fake.pre_findings.insert(
        NODE.into(),
        vec![finding("pdb.zero-budget", Severity::Deny)],
    );
    recycle(&mut fake, &[NODE], r#"{"accept": ["pdb.zero-budget"]}"#).expect("recycled");
    assert_eq!(fake.step(NODE), Some("done"));
    let pre = fake
        .reports
        .iter()
        .find(|r| r.step == "pre-check")
        .expect("pre-check reported");
    assert_contains(&pre.message, "accepted for this run: pdb.zero-budget");
}

#[test]
fn warnings_not_confirmed_stop_the_run_without_a_change() {
    let mut fake = FakeHost::cluster();
    fake.pre_findings.insert(
        NODE.into(),
        vec![finding("local-data.empty-dir", Severity::Warn)],
    );
    fake.confirm_answer = false;
    let err = recycle(&mut fake, &[NODE], "{}").expect_err("not confirmed");
    assert_contains(&err, "--yes");
    assert_eq!(
        fake.calls_starting("confirm"),
        vec!["confirm node 10.0.0.1 has 1 warnings (local-data.empty-dir); continue?"]
    );
    only_the_step_was_written(&fake, "denied");
}

#[test]
fn warnings_confirmed_let_the_node_go() {
    let mut fake = FakeHost::cluster();
    fake.pre_findings.insert(
        NODE.into(),
        vec![finding("local-data.empty-dir", Severity::Warn)],
    );
    fake.confirm_answer = true;
    recycle(&mut fake, &[NODE], "{}").expect("recycled");
    assert_eq!(fake.step(NODE), Some("done"));
}

#[test]
fn assume_yes_needs_no_confirmation() {
    let mut fake = FakeHost::cluster();
    fake.pre_findings.insert(
        NODE.into(),
        vec![finding("local-data.empty-dir", Severity::Warn)],
    );
    recycle(&mut fake, &[NODE], r#"{"assume_yes": true}"#).expect("recycled");
    assert!(fake.calls_starting("confirm").is_empty());
}

#[test]
fn info_findings_need_nothing() {
    let mut fake = FakeHost::cluster();
    fake.pre_findings.insert(
        NODE.into(),
        vec![finding("headroom.summary", Severity::Info)],
    );
    recycle(&mut fake, &[NODE], "{}").expect("recycled");
    assert!(fake.calls_starting("confirm").is_empty());
}

#[rstest]
#[case::other_node_not_ready(false, false)]
#[case::other_node_cordoned(true, true)]
fn the_last_ready_schedulable_node_is_refused(#[case] ready: bool, #[case] cordoned: bool) {
    let mut fake = FakeHost::cluster();
    for other in [OTHER, NODE2] {
        if let Some(n) = fake.nodes.get_mut(other) {
            n.ready = ready;
            n.unschedulable = cordoned;
        }
    }
    let err = recycle(&mut fake, &[NODE], "{}").expect_err("refused");
    assert_contains(&err, "runbook.last-ready-node");
    only_the_step_was_written(&fake, "denied");
}

#[test]
fn another_target_of_the_run_counts_as_a_node_that_can_take_the_pods() {
    // Recycling every node of a cluster one at a time is the normal case: while one is away,
    // the others (targets or not) are up.
    let mut fake = FakeHost::cluster();
    if let Some(n) = fake.nodes.get_mut(OTHER) {
        n.ready = false;
    }
    recycle(&mut fake, &[NODE, NODE2], "{}").expect("recycled");
}

#[test]
fn the_last_ready_node_refusal_can_be_accepted() {
    let mut fake = FakeHost::cluster();
    if let Some(n) = fake.nodes.get_mut(OTHER) {
        n.ready = false;
    }
    fake.nodes.remove(NODE2);
    recycle(
        &mut fake,
        &[NODE],
        r#"{"accept": ["runbook.last-ready-node"]}"#,
    )
    .expect("accepted");
    assert_eq!(fake.step(NODE), Some("done"));
}

#[test]
fn a_ready_node_outside_the_run_is_a_place_for_the_pods() {
    let mut fake = FakeHost::cluster();
    if let Some(n) = fake.nodes.get_mut(OTHER) {
        n.ready = false;
    }
    // NODE2 is Ready and not a target of this run.
    recycle(&mut fake, &[NODE], "{}").expect("recycled");
    assert_eq!(fake.step(NODE), Some("done"));
}

#[test]
fn a_node_missing_from_the_cluster_is_invalid() {
    let mut fake = FakeHost::cluster();
    let err = recycle(&mut fake, &["10.9.9.9"], "{}").expect_err("invalid");
    assert_contains(&err, "node 10.9.9.9 is not in the cluster");
    assert_contains(&err, "`tke-recycle nodes`");
    assert_eq!(
        fake.mutating_calls(),
        vec!["put node/10.9.9.9/step=invalid"]
    );
    assert_eq!(fake.report_steps("10.9.9.9"), vec!["invalid"]);
}

#[test]
fn a_node_without_an_instance_id_is_invalid_for_a_recycle() {
    let mut fake = FakeHost::cluster();
    if let Some(n) = fake.nodes.get_mut(NODE) {
        n.instance_id = None;
    }
    let err = recycle(&mut fake, &[NODE], "{}").expect_err("invalid");
    assert_contains(&err, "has no TKE instance ID");
    only_the_step_was_written(&fake, "invalid");
}

#[test]
fn an_instance_tke_does_not_have_is_invalid() {
    let mut fake = FakeHost::cluster();
    if let Some(i) = fake.instances.get_mut(INSTANCE) {
        i.in_cluster = false;
    }
    let err = recycle(&mut fake, &[NODE], "{}").expect_err("invalid");
    assert_eq!(
        err.split(';').next(),
        Some("node 10.0.0.1's instance ins-target1 is not in TKE cluster cls-test")
    );
    assert_eq!(
        fake.mutating_calls(),
        vec![
            "put node/10.0.0.1/step=checked",
            "put node/10.0.0.1/step=invalid"
        ]
    );
}

#[test]
fn a_capture_whose_lan_ip_is_not_the_nodes_ip_is_invalid() {
    let mut fake = FakeHost::cluster();
    if let Some(i) = fake.instances.get_mut(INSTANCE) {
        i.capture.instance.lan_ip = Some("10.0.0.77".into());
    }
    let err = recycle(&mut fake, &[NODE], "{}").expect_err("invalid");
    assert_contains(&err, "is not the LAN IP 10.0.0.77");
    assert!(fake.calls_starting("cordon").is_empty());
}

#[test]
fn no_login_key_is_invalid_before_the_cordon() {
    let mut fake = FakeHost::cluster();
    if let Some(i) = fake.instances.get_mut(INSTANCE) {
        i.capture.login_key_ids.clear();
    }
    let err = recycle(&mut fake, &[NODE], "{}").expect_err("invalid");
    assert_contains(&err, "pass --login-key-id KEY or --keep-image-login");
    assert!(fake.calls_starting("cordon").is_empty());
    assert_eq!(fake.step(NODE), Some("invalid"));
    assert!(!fake.journal.contains_key("node/10.0.0.1/capture"));
}

#[test]
fn no_captured_login_key_is_fine_when_the_settings_name_one() {
    let mut fake = FakeHost::cluster();
    if let Some(i) = fake.instances.get_mut(INSTANCE) {
        i.capture.login_key_ids.clear();
    }
    recycle(
        &mut fake,
        &[NODE],
        r#"{"login": {"key_ids": ["skey-operator1"]}}"#,
    )
    .expect("recycled");
    assert_eq!(fake.step(NODE), Some("done"));
}

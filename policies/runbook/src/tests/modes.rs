//! Modes `drain` and `plan`, and cancellation.

use rstest::rstest;

use super::fake::{FakeHost, NODE, NODE2, finding};
use super::{assert_contains, recycle, request};
use crate::bindings::RunMode;
use crate::host::Severity;

const TKE_CALLS: [&str; 5] = [
    "describe ",
    "capture ",
    "remove ",
    "add ",
    "wait-instance-running ",
];

fn tke_calls(fake: &FakeHost) -> Vec<String> {
    TKE_CALLS
        .iter()
        .flat_map(|p| fake.calls_starting(p))
        .collect()
}

#[test]
fn drain_mode_cordons_and_drains_without_any_tke_call() {
    let mut fake = FakeHost::cluster();
    crate::run(&mut fake, &request(RunMode::Drain, &[NODE], "{}", false)).expect("drained");
    assert!(tke_calls(&fake).is_empty(), "{:?}", tke_calls(&fake));
    assert_eq!(
        fake.calls_starting("put "),
        vec![
            "put node/10.0.0.1/step=checked",
            "put node/10.0.0.1/step=cordoned",
            "put node/10.0.0.1/step=drained",
            "put node/10.0.0.1/step=done",
        ]
    );
    assert!(fake.nodes[NODE].unschedulable, "left cordoned");
    assert!(fake.calls_starting("policies post").is_empty());
}

#[test]
fn drain_mode_uncordons_after_the_drain_when_asked() {
    let mut fake = FakeHost::cluster();
    crate::run(
        &mut fake,
        &request(
            RunMode::Drain,
            &[NODE],
            r#"{"uncordon_after_drain": true}"#,
            false,
        ),
    )
    .expect("drained");
    assert_eq!(fake.calls_starting("uncordon "), vec!["uncordon 10.0.0.1"]);
    assert!(!fake.nodes[NODE].unschedulable);
    assert_eq!(fake.step(NODE), Some("done"));
}

#[test]
fn drain_mode_needs_no_instance_id() {
    let mut fake = FakeHost::cluster();
    if let Some(n) = fake.nodes.get_mut(NODE) {
        n.instance_id = None;
    }
    crate::run(&mut fake, &request(RunMode::Drain, &[NODE], "{}", false)).expect("drained");
    assert_eq!(fake.step(NODE), Some("done"));
}

#[test]
fn plan_mode_changes_nothing_and_reports_one_plan_per_node() {
    let mut fake = FakeHost::cluster();
    fake.dry_run = true;
    crate::run(
        &mut fake,
        &request(RunMode::Plan, &[NODE, NODE2], "{}", false),
    )
    .expect("planned");
    assert!(
        fake.mutating_calls().is_empty(),
        "{:?}",
        fake.mutating_calls()
    );
    for node in [NODE, NODE2] {
        let plans: Vec<_> = fake
            .reports
            .iter()
            .filter(|r| r.node == node && r.step == "plan")
            .collect();
        assert_eq!(plans.len(), 1, "one plan for {node}");
        let data: serde_json::Value =
            serde_json::from_str(plans[0].data.as_deref().unwrap_or("null")).expect("JSON data");
        assert_eq!(data["node"], node);
        assert_eq!(data["node_pool_id"], "np-1");
        assert_eq!(data["add_request"]["security_group_ids"][0], "sg-first");
        assert_eq!(data["add_request"]["login"]["kind"], "key-ids");
        assert_eq!(data["add_request"]["settings"]["unschedulable"], true);
        assert!(data["blocked_by"].as_array().is_some_and(Vec::is_empty));
    }
    let first: serde_json::Value = serde_json::from_str(
        fake.reports
            .iter()
            .find(|r| r.node == NODE && r.step == "plan")
            .and_then(|r| r.data.as_deref())
            .unwrap_or("null"),
    )
    .expect("JSON");
    assert_eq!(
        first["pods"],
        serde_json::json!(["default/web-1", "default/db-0"])
    );
    assert_eq!(first["instance_id"], "ins-target1");
    assert_eq!(first["affected"].as_array().map(Vec::len), Some(3));
}

#[test]
fn plan_mode_shows_the_decoded_keep_data_disk_script() {
    let mut fake = FakeHost::cluster();
    fake.dry_run = true;
    crate::run(
        &mut fake,
        &request(
            RunMode::Plan,
            &[NODE],
            r#"{"keep_data_disk": {"device": "/dev/vdb", "mount_target": "/data"}}"#,
            false,
        ),
    )
    .expect("planned");
    let plan = fake
        .reports
        .iter()
        .find(|r| r.step == "plan" && r.node == NODE)
        .expect("plan");
    let data: serde_json::Value =
        serde_json::from_str(plan.data.as_deref().unwrap_or("null")).expect("JSON");
    assert_contains(
        data["add_request"]["user_script"].as_str().unwrap_or(""),
        "defaults,nofail",
    );
    assert_eq!(data["add_request"]["keep_data_disk"]["device"], "/dev/vdb");
}

#[test]
fn plan_mode_reports_a_denied_node_and_goes_on_without_asking() {
    let mut fake = FakeHost::cluster();
    fake.dry_run = true;
    fake.pre_findings.insert(
        NODE.into(),
        vec![
            finding("pdb.zero-budget", Severity::Deny),
            finding("local-data.empty-dir", Severity::Warn),
        ],
    );
    crate::run(
        &mut fake,
        &request(RunMode::Plan, &[NODE, NODE2], "{}", false),
    )
    .expect("planned");
    assert_eq!(fake.report_steps(NODE), vec!["plan", "denied"]);
    assert_eq!(fake.report_steps(NODE2), vec!["plan"]);
    assert!(fake.calls_starting("confirm").is_empty());
    let plan = fake
        .reports
        .iter()
        .find(|r| r.step == "plan" && r.node == NODE)
        .and_then(|r| r.data.clone())
        .unwrap_or_default();
    assert_contains(&plan, "\"blocked_by\":[\"pdb.zero-budget\"]");
}

#[test]
fn plan_mode_reports_an_invalid_node_and_goes_on() {
    let mut fake = FakeHost::cluster();
    fake.dry_run = true;
    crate::run(
        &mut fake,
        &request(RunMode::Plan, &["10.9.9.9", NODE], "{}", false),
    )
    .expect("planned");
    assert_eq!(fake.report_steps("10.9.9.9"), vec!["invalid"]);
    assert_eq!(fake.report_steps(NODE), vec!["plan"]);
}

#[rstest]
#[case::at_the_pre_checks("policies pre", "{}")]
#[case::at_the_capture("capture ", "{}")]
#[case::at_the_cordon("cordon ", "{}")]
#[case::at_the_eviction("evict ", "{}")]
#[case::at_the_removal("remove ", "{}")]
#[case::at_the_add("add ", "{}")]
#[case::while_waiting_for_ready("wait-node-ready", "{}")]
#[case::at_the_post_check("policies post", "{}")]
fn a_cancelled_call_stops_the_run_at_once(#[case] at: &str, #[case] settings: &str) {
    let mut fake = FakeHost::cluster();
    fake.cancel_on = Some(at.to_owned());
    let err = recycle(&mut fake, &[NODE, NODE2], settings).expect_err("cancelled");
    assert_eq!(err, "cancelled");
    let last = fake.calls.last().expect("a call");
    assert!(
        last.starts_with(at),
        "no call after the cancelled {at:?}: {last:?}"
    );
}

#[test]
fn a_cancelled_backoff_sleep_stops_the_drain_at_once() {
    let mut fake = FakeHost::cluster();
    fake.pod_mut("db-0").state = super::fake::PodState::Gone;
    fake.pod_mut("web-1").blocked_for = u32::MAX;
    fake.cancel_on = Some("sleep ".into());
    let err = recycle(&mut fake, &[NODE], "{}").expect_err("cancelled");
    assert_eq!(err, "cancelled");
    assert_eq!(fake.calls.last().map(String::as_str), Some("sleep 1"));
    assert_eq!(
        fake.step(NODE),
        Some("cordoned"),
        "the journal keeps the place"
    );
}

#[test]
fn a_cancelled_confirmation_stops_the_run_at_once() {
    let mut fake = FakeHost::cluster();
    fake.pre_findings.insert(
        NODE.into(),
        vec![finding("local-data.empty-dir", Severity::Warn)],
    );
    fake.cancel_on = Some("confirm".into());
    let err = recycle(&mut fake, &[NODE], "{}").expect_err("cancelled");
    assert_eq!(err, "cancelled");
    assert!(fake.mutating_calls().is_empty());
}

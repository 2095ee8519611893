//! `resume`: whatever step the previous process died in, the node ends done, removed once and
//! added once.

use rstest::rstest;

use super::fake::{FakeHost, INSTANCE, NODE, NODE2};
use super::{assert_contains, recycle, resume};

/// Run, let the process die right after the call starting with `crash_after`, then resume.
fn crash_and_resume(crash_after: &str) -> FakeHost {
    let mut fake = FakeHost::cluster();
    fake.crash_after = Some(crash_after.to_owned());
    recycle(&mut fake, &[NODE], "{}").expect_err("the process died");
    assert!(fake.crashed, "the crash point {crash_after:?} was reached");
    fake.restart();
    resume(&mut fake, &[NODE], "{}").expect("the resumed run finishes");
    fake
}

#[rstest]
#[case::checked("checked")]
#[case::captured("captured")]
#[case::cordoned("cordoned")]
#[case::drained("drained")]
#[case::removing("removing")]
#[case::removed("removed")]
#[case::adding("adding")]
#[case::added("added")]
#[case::ready("ready")]
#[case::restored("restored")]
#[case::uncordoned("uncordoned")]
fn a_run_that_died_after_a_step_is_finished_by_resume(#[case] step: &str) {
    let fake = crash_and_resume(&format!("put node/10.0.0.1/step={step}"));
    assert_eq!(fake.step(NODE), Some("done"));
    assert_eq!(
        fake.calls_starting("remove ").len(),
        1,
        "removed exactly once"
    );
    assert_eq!(fake.calls_starting("add ").len(), 1, "added exactly once");
    assert!(!fake.double_add);
    assert!(!fake.nodes[NODE].unschedulable);
    assert!(fake.nodes[NODE].labels.iter().any(|l| l.key == "team"));
}

#[test]
fn resume_after_the_remove_call_does_not_remove_again() {
    let fake = crash_and_resume("remove ins-target1");
    assert_eq!(fake.calls_starting("remove ").len(), 1);
    assert_eq!(fake.step(NODE), Some("done"));
}

#[test]
fn resume_after_the_add_call_never_adds_again_when_tke_has_the_instance() {
    let fake = crash_and_resume("add ins-target1");
    assert_eq!(fake.calls_starting("add ").len(), 1);
    assert!(!fake.double_add);
    let said = fake
        .reports
        .iter()
        .any(|r| r.step == "add-back" && r.message.contains("not adding it again"));
    assert!(said);
}

#[test]
fn resume_does_not_check_or_capture_again_once_captured() {
    let fake = crash_and_resume("put node/10.0.0.1/step=cordoned");
    assert_eq!(fake.calls_starting("policies pre").len(), 1);
    assert_eq!(fake.calls_starting("capture ").len(), 1);
    assert_eq!(fake.calls_starting("cordon ").len(), 1);
}

#[test]
fn resume_passes_over_nodes_that_are_done_or_skipped() {
    let mut fake = FakeHost::cluster();
    fake.journal
        .insert("node/10.0.0.1/step".into(), "done".into());
    fake.journal
        .insert("node/10.0.0.2/step".into(), "skipped".into());
    resume(&mut fake, &[NODE, NODE2], "{}").expect("nothing to do");
    let calls: Vec<&str> = fake
        .calls
        .iter()
        .map(String::as_str)
        .filter(|c| !c.starts_with("report "))
        .collect();
    assert_eq!(
        calls,
        vec!["get node/10.0.0.1/step", "get node/10.0.0.2/step"]
    );
}

#[rstest]
#[case::denied("denied")]
#[case::invalid("invalid")]
#[case::blocked("blocked")]
fn resume_starts_a_refused_or_blocked_node_again_from_its_pre_checks(#[case] step: &str) {
    let mut fake = FakeHost::cluster();
    fake.journal
        .insert("node/10.0.0.1/step".into(), step.into());
    resume(&mut fake, &[NODE], "{}").expect("recycled");
    assert_eq!(fake.calls_starting("policies pre").len(), 1);
    assert_eq!(fake.step(NODE), Some("done"));
}

#[test]
fn resume_with_a_captured_step_but_no_capture_record_stops() {
    let mut fake = FakeHost::cluster();
    fake.journal
        .insert("node/10.0.0.1/step".into(), "removed".into());
    let err = resume(&mut fake, &[NODE], "{}").expect_err("damaged journal");
    assert_contains(&err, "has no node/10.0.0.1/capture");
    assert!(fake.mutating_calls().is_empty());
}

#[test]
fn an_unknown_journaled_step_stops_the_run() {
    let mut fake = FakeHost::cluster();
    fake.journal
        .insert("node/10.0.0.1/step".into(), "teleported".into());
    let err = resume(&mut fake, &[NODE], "{}").expect_err("unknown step");
    assert_contains(&err, "unknown step \"teleported\"");
}

#[test]
fn a_fresh_run_ignores_the_journal() {
    let mut fake = FakeHost::cluster();
    fake.journal
        .insert("node/10.0.0.1/step".into(), "done".into());
    recycle(&mut fake, &[NODE], "{}").expect("recycled");
    assert!(fake.calls_starting("get ").is_empty());
    assert_eq!(fake.calls_starting("add ").len(), 1);
    assert!(fake.instances[INSTANCE].in_cluster);
}

//! Step 6: adding the VM back, never twice, retrying what failed.

use rstest::rstest;

use super::fake::{AddScript, FakeHost, INSTANCE, NODE};
use super::{assert_contains, recycle};

#[test]
fn an_add_that_failed_once_is_tried_again_after_10_seconds() {
    let mut fake = FakeHost::cluster();
    fake.add_script = vec![AddScript::Fail("InternalError".into())].into();
    recycle(&mut fake, &[NODE], "{}").expect("recycled");
    assert_eq!(fake.calls_starting("add "), vec!["add ins-target1"; 2]);
    assert_eq!(fake.calls_starting("sleep "), vec!["sleep 10"]);
    assert!(!fake.double_add);
    assert_eq!(fake.step(NODE), Some("done"));
}

#[rstest]
#[case::timed_out_but_added(AddScript::TimedOutButAdded)]
#[case::no_answer_but_added(AddScript::TransportButAdded)]
fn an_add_with_an_unknown_outcome_that_went_through_is_not_sent_again(#[case] script: AddScript) {
    let mut fake = FakeHost::cluster();
    fake.add_script = vec![script].into();
    recycle(&mut fake, &[NODE], "{}").expect("recycled");
    assert_eq!(fake.calls_starting("add "), vec!["add ins-target1"]);
    assert!(fake.calls_starting("sleep ").is_empty());
    assert_eq!(fake.step(NODE), Some("done"));
    let reported = fake
        .reports
        .iter()
        .any(|r| r.step == "add-back" && r.message.contains("so the add went through"));
    assert!(reported);
}

#[test]
fn an_add_that_timed_out_and_did_not_happen_is_tried_again() {
    let mut fake = FakeHost::cluster();
    fake.add_script = vec![AddScript::TimedOutNotAdded].into();
    recycle(&mut fake, &[NODE], "{}").expect("recycled");
    assert_eq!(fake.calls_starting("add ").len(), 2);
    assert!(!fake.double_add);
}

#[test]
fn an_add_failing_every_attempt_stops_the_run_with_the_vm_kept() {
    let mut fake = FakeHost::cluster();
    fake.add_script = vec![AddScript::Fail("ResourceInsufficient".into()); 3].into();
    let err = recycle(&mut fake, &[NODE], "{}").expect_err("add failed");
    assert_contains(
        &err,
        "node 10.0.0.1: adding instance ins-target1 back to cluster cls-test failed after 3 attempts: TKE failed the add: ResourceInsufficient",
    );
    assert_contains(
        &err,
        "the VM is kept and is not in the cluster (`tke-recycle resume` adds it again)",
    );
    assert_eq!(fake.calls_starting("add ").len(), 3);
    assert_eq!(fake.calls_starting("sleep "), vec!["sleep 10", "sleep 20"]);
    assert_eq!(fake.step(NODE), Some("adding"));
    assert!(!fake.instances[INSTANCE].in_cluster);
}

#[test]
fn a_single_attempt_is_not_retried() {
    let mut fake = FakeHost::cluster();
    fake.add_script = vec![AddScript::Fail("x".into())].into();
    let err = recycle(&mut fake, &[NODE], r#"{"add_attempts": 1}"#).expect_err("add failed");
    assert_contains(&err, "failed after 1 attempts");
    assert!(fake.calls_starting("sleep ").is_empty());
}

#[test]
fn an_add_refused_as_invalid_is_not_retried() {
    let mut fake = FakeHost::cluster();
    fake.add_script = vec![AddScript::Invalid("InvalidParameter.SecurityGroup".into())].into();
    let err = recycle(&mut fake, &[NODE], "{}").expect_err("add failed");
    assert_contains(&err, "InvalidParameter.SecurityGroup");
    assert_eq!(fake.calls_starting("add ").len(), 1);
}

//! Step 4: evictions, PDBs that block for a while or for ever, backoff, skip or stop.

use super::fake::{FakeHost, NODE, NODE2, PodState};
use super::{assert_contains, recycle};

/// The target holds only `web-1` (under PDB `web-pdb`).
fn one_pod_cluster() -> FakeHost {
    let mut fake = FakeHost::cluster();
    fake.pod_mut("db-0").state = PodState::Gone;
    fake
}

fn sleeps(fake: &FakeHost) -> Vec<u64> {
    fake.calls_starting("sleep ")
        .iter()
        .filter_map(|c| c.trim_start_matches("sleep ").parse().ok())
        .collect()
}

#[test]
fn a_pdb_blocking_three_rounds_is_retried_after_1_2_and_4_seconds() {
    let mut fake = one_pod_cluster();
    fake.pod_mut("web-1").blocked_for = 3;
    recycle(&mut fake, &[NODE], "{}").expect("recycled");
    assert_eq!(sleeps(&fake), vec![1, 2, 4]);
    assert_eq!(fake.calls_starting("evict ").len(), 4);
    assert_eq!(fake.step(NODE), Some("done"));
    let live: Vec<&str> = fake
        .reports
        .iter()
        .filter(|r| r.step == "drain" && r.message.contains("blocked by PDB web-pdb"))
        .map(|r| r.message.as_str())
        .collect();
    assert_eq!(
        live.len(),
        3,
        "the blocking PDB is reported each round: {live:?}"
    );
    assert_contains(live[0], "retrying in 1 s");
}

#[test]
fn the_backoff_is_spent_watching_evicted_pods_when_there_are_some() {
    let mut fake = FakeHost::cluster();
    fake.pod_mut("web-1").blocked_for = 1;
    recycle(&mut fake, &[NODE], "{}").expect("recycled");
    assert!(sleeps(&fake).is_empty());
    assert_eq!(
        fake.calls_starting("wait-pods-gone"),
        vec![
            "wait-pods-gone 10.0.0.1 default/db-0 1",
            "wait-pods-gone 10.0.0.1 default/web-1 600",
        ]
    );
}

#[test]
fn a_pdb_blocking_for_ever_uncordons_the_node_and_stops_the_run() {
    let mut fake = one_pod_cluster();
    fake.pod_mut("web-1").blocked_for = u32::MAX;
    let err = recycle(&mut fake, &[NODE, NODE2], "{}").expect_err("blocked");
    assert_contains(&err, "node 10.0.0.1: drain did not finish within 600 s");
    assert_contains(&err, "blocked by PDB web-pdb (default/web-1)");
    assert_contains(
        &err,
        "(the node was uncordoned; fix the blocker and run `tke-recycle resume`, or use --on-blocked skip)",
    );
    let backoff = sleeps(&fake);
    assert_eq!(
        backoff.iter().sum::<u64>(),
        600,
        "retried until the deadline"
    );
    assert_eq!(
        backoff.iter().max(),
        Some(&30),
        "the backoff is capped at 30 s"
    );
    assert_eq!(&backoff[..6], &[1, 2, 4, 8, 16, 30]);
    assert_eq!(fake.step(NODE), Some("blocked"));
    assert_contains(
        fake.journal
            .get("node/10.0.0.1/blocked")
            .map_or("", String::as_str),
        "blocked by PDB web-pdb",
    );
    assert!(!fake.nodes[NODE].unschedulable, "uncordoned");
    assert!(fake.calls_starting("remove ").is_empty());
    assert!(
        fake.calls_starting("cordon 10.0.0.2").is_empty(),
        "the run stopped"
    );
    assert!(fake.report_steps(NODE).contains(&"blocked".to_owned()));
}

#[test]
fn a_pdb_blocking_for_ever_with_on_blocked_skip_goes_on_with_the_next_node() {
    let mut fake = one_pod_cluster();
    fake.pod_mut("web-1").blocked_for = u32::MAX;
    recycle(&mut fake, &[NODE, NODE2], r#"{"on_blocked": "skip"}"#).expect("run goes on");
    assert_eq!(fake.step(NODE), Some("skipped"));
    assert_eq!(fake.step(NODE2), Some("done"));
    assert!(!fake.nodes[NODE].unschedulable);
    assert!(fake.calls_starting("remove ins-target1").is_empty());
    let last = fake.reports.last().expect("summary");
    assert_contains(
        &last.message,
        "1 of 2 nodes recycled; skipped (drain blocked, uncordoned): 10.0.0.1",
    );
}

#[test]
fn a_pod_matching_several_pdbs_blocks_the_drain_at_once() {
    let mut fake = FakeHost::cluster();
    fake.pod_mut("web-1").multiple_pdbs = true;
    let err = recycle(&mut fake, &[NODE], "{}").expect_err("blocked");
    assert_contains(
        &err,
        "default/web-1 match more than one PodDisruptionBudget",
    );
    assert_eq!(fake.calls_starting("evict ").len(), 1, "never retried");
    assert!(sleeps(&fake).is_empty());
    assert_eq!(fake.step(NODE), Some("blocked"));
    assert!(!fake.nodes[NODE].unschedulable);
}

#[test]
fn evicted_pods_that_never_terminate_block_the_drain_at_the_deadline() {
    let mut fake = FakeHost::cluster();
    fake.pod_mut("db-0").stuck = true;
    let err = recycle(&mut fake, &[NODE], r#"{"drain_timeout_seconds": 60}"#).expect_err("blocked");
    assert_contains(&err, "1 evicted pods are still terminating (default/db-0)");
    assert_eq!(fake.step(NODE), Some("blocked"));
}

#[test]
fn disable_eviction_deletes_the_pods_instead() {
    let mut fake = FakeHost::cluster();
    fake.pod_mut("web-1").blocked_for = u32::MAX;
    recycle(&mut fake, &[NODE], r#"{"disable_eviction": true}"#).expect("recycled");
    assert!(fake.calls_starting("evict ").is_empty());
    assert_eq!(
        fake.calls_starting("delete "),
        vec!["delete default/web-1,default/db-0"]
    );
    assert_eq!(fake.step(NODE), Some("done"));
}

#[test]
fn a_node_with_nothing_to_evict_is_drained_at_once() {
    let mut fake = FakeHost::cluster();
    fake.pod_mut("web-1").state = PodState::Gone;
    fake.pod_mut("db-0").state = PodState::Gone;
    recycle(&mut fake, &[NODE], "{}").expect("recycled");
    assert!(fake.calls_starting("evict ").is_empty());
    assert!(fake.calls_starting("pdbs-covering").is_empty());
    assert_eq!(fake.step(NODE), Some("done"));
}

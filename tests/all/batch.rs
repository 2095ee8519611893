//! Jobs and CronJobs end to end on the practice cluster (`scenarios/batch.yaml`): the real
//! binary's snapshot resolves a CronJob's Job's pods to the CronJob, and a drain of a node running
//! a Job's pod evicts it and the Job controller starts its replacement on another node.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use tke_recycle::sim::resource::Res;
use tke_recycle::sim::scenario::Scenario;
use tke_recycle::sim::{Sim, SimHandle, SimOptions};

use crate::recycle::{snapshot_file, tke_recycle};

async fn batch_sim() -> SimHandle {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/batch.yaml");
    let scenario = Scenario::from_file(&path).expect("batch scenario loads");
    let sim = Sim::start(scenario, SimOptions::default())
        .await
        .expect("batch scenario starts");
    // The bare Job runs six 5-second pods three at a time: complete after ~10 simulated seconds.
    assert!(
        sim.wait_until(Duration::from_secs(30), |s| {
            s.settled()
                && s.get(Res::Jobs, "batch", "backup").is_some_and(|j| {
                    j.pointer("/status/conditions/0/type")
                        .and_then(Value::as_str)
                        == Some("Complete")
                })
        })
        .await,
        "batch scenario did not settle with the backup Job complete: {:?}",
        sim.get(Res::Jobs, "batch", "backup")
    );
    sim
}

/// The running pods of a Job, as (name, node).
fn job_pods(sim: &SimHandle, job: &str) -> Vec<(String, String)> {
    sim.store()
        .list(Res::Pods, Some("batch"))
        .iter()
        .filter(|p| p.controller.as_ref().is_some_and(|c| &*c.name == job))
        .filter_map(|p| {
            let f = p.pod.as_ref()?;
            let node = f.node_name.as_deref()?;
            (&*f.phase == "Running" && f.ready && !f.deleting)
                .then(|| (p.name.to_string(), node.to_owned()))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_resolves_cron_job_pods_and_a_drain_re_creates_job_pods_elsewhere() {
    let sim = batch_sim().await;
    let dir = tempfile::tempdir().expect("tempdir");

    // The snapshot: the CronJob's Job's pods belong to the CronJob; the finished Job wants none.
    let file = snapshot_file(&sim, dir.path()).await;
    let text = std::fs::read_to_string(&file).expect("snapshot file");
    let snap: Value = serde_json::from_str(&text).expect("snapshot is JSON");
    let owners: Vec<&Value> = snap["pods"]
        .as_array()
        .expect("pods")
        .iter()
        .filter(|p| p["name"].as_str().is_some_and(|n| n.starts_with("report-")))
        .map(|p| &p["owner"])
        .collect();
    assert_eq!(owners.len(), 2, "{text}");
    for owner in owners {
        assert_eq!(owner["kind"]["Other"], "CronJob", "{owner}");
        assert_eq!(owner["name"], "report", "{owner}");
    }
    let workload = |name: &str| {
        snap["workloads"]
            .as_array()
            .expect("workloads")
            .iter()
            .find(|w| w["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("workload {name} in {}", snap["workloads"]))
    };
    let report = workload("report");
    assert_eq!(report["kind"]["Other"], "CronJob");
    assert_eq!(
        (&report["replicas"], &report["ready_replicas"]),
        (&2.into(), &2.into())
    );
    let backup = workload("backup");
    assert_eq!(backup["kind"], "Job");
    assert_eq!(
        backup["replicas"], 0,
        "a finished Job wants no pods: {backup}"
    );
    assert!(
        !snap["workloads"]
            .as_array()
            .expect("workloads")
            .iter()
            .any(|w| w["name"] == "report-29000000"),
        "a CronJob's Job is no workload of its own"
    );

    // The drain of a node running a report pod: evicted, re-created elsewhere.
    let before = job_pods(&sim, "report-29000000");
    let (evicted, node) = before.first().cloned().expect("a running report pod");
    let ran = tke_recycle(
        &sim,
        dir.path(),
        &["drain", &node, "-o", "json", "--yes"],
        &[],
    )
    .await;
    assert_eq!(ran.code, Some(0), "{}", ran.show());
    assert!(
        sim.wait_until(Duration::from_secs(30), |s| {
            let now = job_pods(s, "report-29000000");
            now.len() == 2 && now.iter().all(|(name, on)| *name != evicted && *on != node)
        })
        .await,
        "the Job did not get two running pods off {node}: before {before:?}, now {:?}",
        job_pods(&sim, "report-29000000")
    );
    let job = sim
        .get(Res::Jobs, "batch", "report-29000000")
        .expect("the Job is still there");
    assert_eq!(job.pointer("/status/active"), Some(&2.into()), "{job}");
}

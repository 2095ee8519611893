//! The recycle under faults and bad input: TKE throttling, an add that fails once, an add that
//! times out but succeeded, a PDB that never allows, API server errors, a second run on the
//! same cluster; an unknown node, a node TKE does not have, the last Ready node, a malformed
//! config, a runbook that traps mid-run.

use std::time::Duration;

use serde_json::{Value, json};
use tke_recycle::sim::SimHandle;
use tke_recycle::sim::resource::Res;

use super::recycle::{
    assert_back, assert_no_vm_lost, calls, command, demo_sim, run_args, tke_recycle,
};
use crate::support::guest;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tke_throttling_on_30_percent_of_calls() {
    let sim = demo_sim(30.0, |s| s.faults.tke_throttle_rate = 0.3).await;
    let journal = tempfile::tempdir().expect("tempdir");
    let ran = tke_recycle(
        &sim,
        journal.path(),
        &run_args(&sim, &["10.0.8.11"], &[]),
        &[],
    )
    .await;
    assert_eq!(ran.code, Some(0), "{}\n{}", ran.stdout, ran.stderr);
    assert_back(&sim, "10.0.8.11");
    assert!(
        sim.action_log()
            .iter()
            .any(|a| a.error.as_deref() == Some("RequestLimitExceeded")),
        "no call was throttled"
    );
    assert_eq!(calls(&sim, "AddExistedInstances", "ins-demo0011"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_add_that_fails_once_is_re_read_then_sent_again() {
    let sim = demo_sim(30.0, |s| s.faults.add_fail_times = 1).await;
    let journal = tempfile::tempdir().expect("tempdir");
    let ran = tke_recycle(
        &sim,
        journal.path(),
        &run_args(&sim, &["10.0.8.11"], &[]),
        &[],
    )
    .await;
    assert_eq!(ran.code, Some(0), "{}\n{}", ran.stdout, ran.stderr);
    assert_back(&sim, "10.0.8.11");
    // Both answered 200: the first with the instance in FailedInstanceIds.
    assert_eq!(calls(&sim, "AddExistedInstances", "ins-demo0011"), 2);
    assert_eq!(sim.vm("ins-demo0011").map(|v| v.os_reinstalls), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_add_that_times_out_but_succeeded_is_not_sent_again() {
    let sim = demo_sim(30.0, |s| {
        s.faults.add_timeout_instance_ids = vec!["ins-demo0011".into()];
    })
    .await;
    let journal = tempfile::tempdir().expect("tempdir");
    let ran = tke_recycle(
        &sim,
        journal.path(),
        &run_args(&sim, &["10.0.8.11"], &[]),
        &[],
    )
    .await;
    assert_eq!(ran.code, Some(0), "{}\n{}", ran.stdout, ran.stderr);
    assert_back(&sim, "10.0.8.11");
    assert_eq!(calls(&sim, "AddExistedInstances", "ins-demo0011"), 1);
}

/// A node of the demo cluster that runs a `shop/api` pod (the workload the frozen PDB covers).
fn node_with_api_pod(sim: &SimHandle) -> String {
    ["10.0.8.11", "10.0.8.14", "10.0.8.15", "10.0.8.13"]
        .into_iter()
        .find(|n| sim.pods_on(n).iter().any(|p| p.starts_with("shop/api-")))
        .expect("some node runs an api pod")
        .to_owned()
}

/// A PDB that never allows a disruption, over the `api` Deployment (which has no other PDB).
fn frozen_api_pdb() -> Value {
    json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
           "metadata": {"name": "api-frozen", "namespace": "shop"},
           "spec": {"maxUnavailable": 0, "selector": {"matchLabels": {"app": "api"}}}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pdb_that_never_allows_stops_cleanly_with_the_node_uncordoned() {
    let sim = demo_sim(30.0, |s| s.objects.push(frozen_api_pdb())).await;
    let node = node_with_api_pod(&sim);
    let journal = tempfile::tempdir().expect("tempdir");
    // The pre-check sees the frozen budget; accepting it shows what the drain itself does.
    let ran = tke_recycle(
        &sim,
        journal.path(),
        &run_args(
            &sim,
            &[&node],
            &["--accept", "pdb.zero-budget", "--drain-timeout", "4"],
        ),
        &[],
    )
    .await;
    assert_eq!(ran.code, Some(3), "{}\n{}", ran.stdout, ran.stderr);
    let events = ran.events();
    assert!(
        events.iter().any(|e| e["step"] == "drain"
            && e["message"]
                .as_str()
                .is_some_and(|m| m.contains("api-frozen"))),
        "the blocking PDB was not named live: {}",
        ran.stdout
    );
    assert!(
        events.iter().any(|e| e["step"] == "blocked"),
        "{}",
        ran.stdout
    );
    let n = sim.get(Res::Nodes, "", &node).expect("node still there");
    assert_ne!(
        n.pointer("/spec/unschedulable"),
        Some(&json!(true)),
        "left cordoned"
    );
    assert!(
        sim.action_log()
            .iter()
            .all(|a| a.action != "DeleteClusterInstances"),
        "a blocked node was removed"
    );
    assert!(
        ran.end()["resume"].is_string(),
        "no resume hint: {}",
        ran.end()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_blocked_skip_goes_on_with_the_next_node() {
    let sim = demo_sim(30.0, |s| s.objects.push(frozen_api_pdb())).await;
    let blocked = node_with_api_pod(&sim);
    let other = ["10.0.8.11", "10.0.8.14", "10.0.8.15"]
        .into_iter()
        .find(|n| *n != blocked && !sim.pods_on(n).iter().any(|p| p.starts_with("shop/api-")))
        .unwrap_or("10.0.8.12")
        .to_owned();
    let journal = tempfile::tempdir().expect("tempdir");
    let ran = tke_recycle(
        &sim,
        journal.path(),
        &run_args(
            &sim,
            &[&blocked, &other],
            &[
                "--accept",
                "pdb.zero-budget",
                "--drain-timeout",
                "3",
                "--on-blocked",
                "skip",
            ],
        ),
        &[],
    )
    .await;
    assert!(
        ran.events()
            .iter()
            .any(|e| e["step"] == "blocked" && e["node"] == blocked.as_str()),
        "{}",
        ran.stdout
    );
    assert_back(&sim, &other);
    assert_eq!(
        ran.code,
        Some(3),
        "a skipped node makes the run not a success: {}",
        ran.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_server_errors_are_retried() {
    let sim = demo_sim(30.0, |s| s.faults.api_server_5xx_rate = 0.02).await;
    let journal = tempfile::tempdir().expect("tempdir");
    let ran = tke_recycle(
        &sim,
        journal.path(),
        &run_args(&sim, &["10.0.8.11"], &[]),
        &[],
    )
    .await;
    assert_eq!(ran.code, Some(0), "{}\n{}", ran.stdout, ran.stderr);
    assert_back(&sim, "10.0.8.11");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_on_the_same_cluster_is_refused_naming_the_holder() {
    let sim = demo_sim(30.0, |s| s.objects.push(frozen_api_pdb())).await;
    let node = node_with_api_pod(&sim);
    let journal = tempfile::tempdir().expect("tempdir");
    let targets = [node.as_str()];
    let first_args = run_args(
        &sim,
        &targets,
        &["--accept", "pdb.zero-budget", "--drain-timeout", "60"],
    );
    let first = tke_recycle(&sim, journal.path(), &first_args, &[]);
    let second = async {
        // Wait until the first run holds the lock.
        assert!(
            sim.wait_until(Duration::from_secs(30), |s| {
                s.get(Res::Leases, "kube-system", "tke-recycle")
                    .is_some_and(|l| {
                        l["spec"]["holderIdentity"]
                            .as_str()
                            .is_some_and(|h| h.starts_with("tke-recycle run "))
                    })
            })
            .await,
            "the first run never took the lock"
        );
        tke_recycle(
            &sim,
            journal.path(),
            &run_args(&sim, &["10.0.8.12"], &[]),
            &[],
        )
        .await
    };
    tokio::select! {
        ran = second => {
            assert_eq!(ran.code, Some(3), "{}\n{}", ran.stdout, ran.stderr);
            assert!(
                ran.stderr.contains("another recycle holds the lock: tke-recycle run "),
                "{}",
                ran.stderr
            );
        }
        ran = first => panic!("the first run ended before the second was tried: {}", ran.stdout),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_before_anything_is_touched() {
    let sim = demo_sim(30.0, |s| {
        // A Node that TKE does not know: no instance behind it.
        s.objects.push(json!({"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": "10.0.9.9", "labels": {"kubernetes.io/hostname": "10.0.9.9"}},
            "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "61"},
                       "conditions": [{"type": "Ready", "status": "True"}]}}));
    })
    .await;
    let journal = tempfile::tempdir().expect("tempdir");

    let ran = tke_recycle(
        &sim,
        journal.path(),
        &run_args(&sim, &["10.0.99.1"], &[]),
        &[],
    )
    .await;
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(
        ran.stderr
            .contains("no such node in the cluster: 10.0.99.1"),
        "{}",
        ran.stderr
    );

    let ran = tke_recycle(
        &sim,
        journal.path(),
        &run_args(&sim, &["10.0.9.9"], &[]),
        &[],
    )
    .await;
    assert_eq!(ran.code, Some(2), "{}\n{}", ran.stdout, ran.stderr);
    assert!(
        ran.events().iter().any(|e| e["step"] == "invalid"),
        "{}",
        ran.stdout
    );

    let config = journal.path().join("recycle.yaml");
    std::fs::write(&config, "cluster: cls-demo0001\nnodez: [10.0.8.11]\n").expect("write");
    let cfg = config.display().to_string();
    let ran = tke_recycle(
        &sim,
        journal.path(),
        &["run", "--config", &cfg, "--node", "10.0.8.11"],
        &[],
    )
    .await;
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(
        ran.stderr.contains("unknown field `nodez`"),
        "{}",
        ran.stderr
    );

    let ran = tke_recycle(&sim, journal.path(), &["run", "--node", "10.0.8.11"], &[]).await;
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(ran.stderr.contains("--cluster"), "{}", ran.stderr);

    assert!(
        sim.action_log()
            .iter()
            .all(|a| a.action != "DeleteClusterInstances" && a.action != "AddExistedInstances"),
        "bad input reached TKE"
    );
    for n in ["10.0.8.11", "10.0.9.9"] {
        let node = sim.get(Res::Nodes, "", n).expect("node");
        assert_ne!(
            node.pointer("/spec/unschedulable"),
            Some(&json!(true)),
            "{n} was cordoned"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_ready_node_is_refused() {
    let sim = demo_sim(30.0, |s| {
        for n in &mut s.nodes {
            if n.lan_ip != "10.0.8.11" {
                n.unschedulable = true;
            }
        }
    })
    .await;
    let journal = tempfile::tempdir().expect("tempdir");
    let ran = tke_recycle(
        &sim,
        journal.path(),
        &run_args(&sim, &["10.0.8.11"], &[]),
        &[],
    )
    .await;
    assert_eq!(ran.code, Some(1), "{}\n{}", ran.stdout, ran.stderr);
    assert!(
        ran.events().iter().any(|e| e["step"] == "denied"),
        "{}",
        ran.stdout
    );
    let node = sim.get(Res::Nodes, "", "10.0.8.11").expect("node");
    assert_ne!(node.pointer("/spec/unschedulable"), Some(&json!(true)));
    assert_no_vm_lost(&sim);
    assert!(
        sim.action_log()
            .iter()
            .all(|a| a.action != "DeleteClusterInstances")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runbook_that_traps_mid_run_stops_and_the_bundled_one_resumes() {
    let sim = demo_sim(30.0, |_| {}).await;
    let journal = tempfile::tempdir().expect("tempdir");
    let trapping = guest("trapping-runbook").display().to_string();
    let ran = tke_recycle(
        &sim,
        journal.path(),
        &run_args(&sim, &["10.0.8.11"], &["--runbook", &trapping]),
        &[],
    )
    .await;
    assert_eq!(ran.code, Some(3), "{}\n{}", ran.stdout, ran.stderr);
    let end = ran.end();
    assert_eq!(end["status"]["state"], "failed", "{end}");
    assert!(
        end["status"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("deliberate trap")),
        "{end}"
    );
    // The journal kept the cordon the trapping runbook did.
    let status = tke_recycle(&sim, journal.path(), &["status", "-o", "json"], &[]).await;
    let runs: Value = serde_json::from_str(&status.stdout).expect("status JSON");
    let run = runs[0]["run_id"].as_str().expect("run id").to_owned();
    let detail = tke_recycle(&sim, journal.path(), &["status", &run, "-o", "json"], &[]).await;
    assert!(
        detail.stdout.contains("\"op\": \"cordon\""),
        "{}",
        detail.stdout
    );
    let resumed = tke_recycle(&sim, journal.path(), &["resume", &run, "-o", "json"], &[]).await;
    assert_eq!(
        resumed.code,
        Some(0),
        "{}\n{}",
        resumed.stdout,
        resumed.stderr
    );
    assert_back(&sim, "10.0.8.11");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_at_the_next_safe_point_and_prints_the_resume_command() {
    let sim = demo_sim(30.0, |s| s.objects.push(frozen_api_pdb())).await;
    let node = node_with_api_pod(&sim);
    let journal = tempfile::tempdir().expect("tempdir");
    let targets = [node.as_str()];
    let args = run_args(
        &sim,
        &targets,
        &["--accept", "pdb.zero-budget", "--drain-timeout", "120"],
    );
    let mut cmd = command(&sim, journal.path(), &args, &[]);
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().expect("the binary starts");
    let pid = child.id().expect("a pid");
    // Once the drain is blocked by the frozen PDB, the operator presses Ctrl-C.
    assert!(
        sim.wait_until(Duration::from_secs(60), |s| {
            s.get(Res::Nodes, "", &node)
                .is_some_and(|n| n.pointer("/spec/unschedulable") == Some(&json!(true)))
        })
        .await,
        "the node was never cordoned"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let pid = rustix::process::Pid::from_raw(i32::try_from(pid).expect("pid fits")).expect("pid");
    rustix::process::kill_process(pid, rustix::process::Signal::INT).expect("SIGINT sent");
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("the run stops within a minute of Ctrl-C")
        .expect("output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{stdout}");
    let end: Value = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|e| e["step"] == "end")
        .unwrap_or_else(|| panic!("no end event: {stdout}"));
    assert_eq!(end["status"]["state"], "stopped", "{end}");
    assert!(
        end["resume"]
            .as_str()
            .is_some_and(|r| r.starts_with("tke-recycle resume ")),
        "{end}"
    );
    assert!(
        sim.action_log()
            .iter()
            .all(|a| a.action != "DeleteClusterInstances"),
        "a stopped run went on to remove the node"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_refuses_what_a_reckless_runbook_asks() {
    let sim = demo_sim(30.0, |_| {}).await;
    let journal = tempfile::tempdir().expect("tempdir");
    let reckless = guest("reckless-runbook").display().to_string();
    let pods_before = sim.pods_on("10.0.8.11");
    let ran = tke_recycle(
        &sim,
        journal.path(),
        &run_args(&sim, &["10.0.8.11"], &["--runbook", &reckless]),
        &[],
    )
    .await;
    assert_eq!(ran.code, Some(3), "{}\n{}", ran.stdout, ran.stderr);
    let end = ran.end();
    let reason = end["status"]["reason"].as_str().unwrap_or_default();
    for (what, refusal) in [
        ("remove", "has no capture in this run's journal"),
        ("add", "has no capture in this run's journal"),
        ("journal", "only the host writes"),
        ("delete", "--disable-eviction"),
    ] {
        let line = reason
            .lines()
            .find(|l| l.starts_with(what))
            .unwrap_or_else(|| panic!("no answer for {what}: {reason}"));
        assert!(line.contains(refusal), "{what}: {line}");
    }
    assert!(
        sim.action_log()
            .iter()
            .all(|a| a.action != "DeleteClusterInstances" && a.action != "AddExistedInstances"),
        "a refused call reached TKE"
    );
    // Nothing was deleted: the node still runs exactly the pods it ran.
    assert_eq!(sim.pods_on("10.0.8.11"), pods_before);
}

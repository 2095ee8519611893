//! The crash matrix: the process is killed (SIGKILL, by the `journal-write:N` failpoint, so it
//! is deterministic and not a timing race) right after each durable journal write in turn, then
//! `resume` runs. Every case must end with the node back in its pool with its labels and taints,
//! uncordoned, no VM lost, no PDB changed, workloads healthy, and no step repeated that must not
//! be: exactly one removal and exactly one AddExistedInstances for the instance.

use std::path::Path;

use serde_json::Value;
use tke_recycle::sim::SimHandle;
use tke_recycle::sim::resource::Res;

use super::recycle::{
    assert_back, assert_no_vm_lost, assert_workloads_healthy, calls, demo_sim, run_args,
    tke_recycle,
};

const NODE: &str = "10.0.8.12";
const INSTANCE: &str = "ins-demo0012";
/// Fast enough that a case (start, killed run, resume) takes a few seconds.
const SPEED: f64 = 100.0;

fn pdbs(sim: &SimHandle) -> Vec<Value> {
    let mut specs: Vec<Value> = sim
        .store()
        .list(Res::PodDisruptionBudgets, None)
        .iter()
        .map(|p| p.value()["spec"].clone())
        .collect();
    specs.sort_by_key(Value::to_string);
    specs
}

async fn run_case(in_cluster: bool, failpoint: Option<u64>) -> u64 {
    let sim = demo_sim(SPEED, |_| {}).await;
    let pdbs_before = pdbs(&sim);
    let first = tempfile::tempdir().expect("tempdir");
    let mut extra: Vec<&str> = Vec::new();
    if in_cluster {
        extra.push("--journal-in-cluster");
    }
    let args = run_args(&sim, &[NODE], &extra);
    let fp = failpoint.map(|n| format!("journal-write:{n}"));
    let env: Vec<(&str, &str)> = fp
        .as_deref()
        .map(|v| vec![("TKE_RECYCLE_FAILPOINT", v)])
        .unwrap_or_default();
    let ran = tke_recycle(&sim, first.path(), &args, &env).await;
    let case = format!("in_cluster={in_cluster} failpoint={failpoint:?}");
    let writes;
    if ran.code.is_none() {
        // Killed. Resume, from a fresh state directory when the journal is in the cluster.
        let second = tempfile::tempdir().expect("tempdir");
        let dir: &Path = if in_cluster {
            second.path()
        } else {
            first.path()
        };
        let mut resume = vec!["resume", "-o", "json"];
        if in_cluster {
            resume.push("--journal-in-cluster");
        }
        let mut status_args = vec!["status", "-o", "json"];
        if in_cluster {
            status_args.push("--journal-in-cluster");
        }
        // Killed after its last write (the status `done`), the run needs no resume.
        let status = tke_recycle(&sim, dir, &status_args, &[]).await;
        let done_already = status.stdout.contains("\"state\": \"done\"");
        if !done_already {
            let resumed = tke_recycle(&sim, dir, &resume, &[]).await;
            assert_eq!(
                resumed.code,
                Some(0),
                "{case}: resume failed\n--- killed run\n{}\n{}\n--- resume\n{}\n{}",
                ran.stdout,
                ran.stderr,
                resumed.stdout,
                resumed.stderr
            );
            writes = resumed.end()["journal_writes"].as_u64().unwrap_or(0);
        } else {
            writes = 0;
        }
    } else {
        assert_eq!(ran.code, Some(0), "{case}: {}\n{}", ran.stdout, ran.stderr);
        writes = ran.end()["journal_writes"].as_u64().unwrap_or(0);
    }
    assert_back(&sim, NODE);
    assert_no_vm_lost(&sim);
    assert_eq!(
        calls(&sim, "DeleteClusterInstances", INSTANCE),
        1,
        "{case}: removals"
    );
    assert_eq!(
        calls(&sim, "AddExistedInstances", INSTANCE),
        1,
        "{case}: a second AddExistedInstances for an instance already added"
    );
    assert_eq!(pdbs(&sim), pdbs_before, "{case}: a PDB was changed");
    assert_workloads_healthy(&sim).await;
    writes
}

async fn matrix(in_cluster: bool) {
    // A run without a crash says how many journal boundaries there are.
    let total = run_case(in_cluster, None).await;
    assert!(total > 10, "only {total} journal writes in a whole recycle");
    eprintln!("crash matrix (in_cluster={in_cluster}): {total} journal boundaries");
    for n in 1..=total {
        run_case(in_cluster, Some(n)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_at_every_journal_write_then_resume_file_journal() {
    matrix(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_at_every_journal_write_then_resume_in_cluster_journal_from_a_fresh_machine() {
    matrix(true).await;
}

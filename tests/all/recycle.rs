//! The recycle end to end: the real binary (`run`, `plan`, `drain`, `resume`, `status`, `demo`)
//! with the bundled runbook and policies, through the real kube-rs and TKE clients, against the
//! practice cluster running in this test process. The practice cluster's own record (its action
//! log, its VMs and disks, its objects) is what the assertions read.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use tke_recycle::sim::resource::Res;
use tke_recycle::sim::scenario::Scenario;
use tke_recycle::sim::{Sim, SimHandle, SimOptions};

use crate::support::{assert_no_debug_dump, cache_dir};

/// The demo scenario, at `speed`, with `edit` applied before it starts.
pub async fn demo_sim(speed: f64, edit: impl FnOnce(&mut Scenario)) -> SimHandle {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/demo.yaml");
    let mut scenario = Scenario::from_file(&path).expect("demo scenario loads");
    edit(&mut scenario);
    let sim = Sim::start(
        scenario,
        SimOptions {
            speed: Some(speed),
            ..Default::default()
        },
    )
    .await
    .expect("demo scenario starts");
    assert!(
        sim.wait_until(Duration::from_secs(20), SimHandle::settled)
            .await,
        "demo scenario did not settle"
    );
    sim
}

/// What a finished command printed.
pub struct Ran {
    /// Exit code (None: killed by a signal).
    pub code: Option<i32>,
    /// Stdout.
    pub stdout: String,
    /// Stderr.
    pub stderr: String,
}

impl Ran {
    /// The JSON event lines of `-o json`.
    pub fn events(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .collect()
    }

    /// The closing `end` event.
    pub fn end(&self) -> Value {
        self.events()
            .into_iter()
            .rev()
            .find(|e| e["step"] == "end")
            .unwrap_or_else(|| panic!("no end event:\n{}\n{}", self.stdout, self.stderr))
    }

    pub fn show(&self) -> String {
        format!(
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// The binary set up against `sim`: its kubeconfig, cloud endpoint and credentials, the
/// journal under `journal`, and extra environment.
pub fn command(
    sim: &SimHandle,
    journal: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_tke-recycle"));
    cmd.args(args)
        .env("TKE_RECYCLE_CACHE_DIR", cache_dir())
        .env("TKE_RECYCLE_STATE_DIR", journal)
        .env("KUBECONFIG", &sim.kubeconfig)
        .env("TENCENTCLOUD_SECRET_ID", &sim.secret_id)
        .env("TENCENTCLOUD_SECRET_KEY", &sim.secret_key)
        .env("TENCENTCLOUD_REGION", &sim.region)
        .env_remove("TKE_RECYCLE_FAILPOINT")
        .env_remove("TKE_RECYCLE_LOG")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let subcommand = args.first().copied().unwrap_or_default();
    if matches!(subcommand, "run" | "plan" | "resume") {
        cmd.args(["--tke-endpoint", &sim.tke_url]);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// Run the binary against `sim` (see [`command`]) to the end.
pub async fn tke_recycle(
    sim: &SimHandle,
    journal: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> Ran {
    let mut cmd = command(sim, journal, args, env);
    let out = tokio::time::timeout(Duration::from_secs(240), cmd.output())
        .await
        .unwrap_or_else(|_| panic!("tke-recycle {args:?} did not finish in 240 s"))
        .expect("the binary runs");
    let ran = Ran {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    if ran.code != Some(0) {
        assert_no_debug_dump(&ran.stdout);
        assert_no_debug_dump(&ran.stderr);
    }
    ran
}

/// `tke-recycle snapshot` of `sim` into `dir/snap.json`: the file.
pub async fn snapshot_file(sim: &SimHandle, dir: &Path) -> PathBuf {
    let file = dir.join("snap.json");
    let path = file.to_str().expect("utf-8 path");
    let ran = tke_recycle(sim, dir, &["snapshot", "-o", path], &[]).await;
    assert_eq!(ran.code, Some(0), "{}", ran.show());
    file
}

/// `run` of `nodes` in the demo cluster with JSON output and `--yes`.
pub fn run_args<'a>(
    sim: &'a SimHandle,
    nodes: &'a [&'a str],
    extra: &'a [&'a str],
) -> Vec<&'a str> {
    let mut args = vec!["run", "--cluster", &sim.cluster_id, "-o", "json", "--yes"];
    for n in nodes {
        args.push("--node");
        args.push(n);
    }
    args.extend_from_slice(extra);
    args
}

fn node(sim: &SimHandle, name: &str) -> Value {
    sim.get(Res::Nodes, "", name)
        .unwrap_or_else(|| panic!("node {name} is not in the cluster"))
}

fn ready(n: &Value) -> bool {
    n.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|c| {
            c.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

/// A node is back as it was: Ready, schedulable, in its node pool, with the hand-added label and
/// taint of 10.0.8.12.
pub fn assert_back(sim: &SimHandle, name: &str) {
    let n = node(sim, name);
    assert!(ready(&n), "{name} is not Ready: {n}");
    assert_ne!(
        n.pointer("/spec/unschedulable"),
        Some(&json!(true)),
        "{name} is still cordoned"
    );
    assert_eq!(
        n.pointer("/metadata/labels/tke.cloud.tencent.com~1nodepool-id"),
        Some(&json!("np-demo0001")),
        "{name} is not back in its node pool: {n}"
    );
    if name == "10.0.8.12" {
        assert_eq!(
            n.pointer("/metadata/labels/dedicated"),
            Some(&json!("payments")),
            "the hand-added label was not restored: {n}"
        );
        let taints = n.pointer("/spec/taints").cloned().unwrap_or(json!([]));
        assert!(
            taints.as_array().is_some_and(|t| t
                .iter()
                .any(|t| t["key"] == "dedicated" && t["effect"] == "NoSchedule")),
            "the hand-added taint was not restored: {taints}"
        );
    }
}

/// Successful calls of `action` per instance.
pub fn calls(sim: &SimHandle, action: &str, instance: &str) -> usize {
    sim.action_log()
        .iter()
        .filter(|a| a.action == action && a.error.is_none())
        .filter(|a| {
            a.params["InstanceIds"]
                .as_array()
                .is_some_and(|ids| ids.iter().any(|i| i == instance))
        })
        .count()
}

/// Nothing a recycle must never do happened: no VM terminated, no delete without `retain`.
pub fn assert_no_vm_lost(sim: &SimHandle) {
    assert!(sim.terminated_instances().is_empty(), "a VM was terminated");
    for a in sim.action_log() {
        if a.action == "DeleteClusterInstances" {
            assert_eq!(
                a.params["InstanceDeleteMode"], "retain",
                "a removal without retain: {}",
                a.params
            );
        }
    }
}

/// Workloads are whole again: every pod running and ready, nothing pending.
pub async fn assert_workloads_healthy(sim: &SimHandle) {
    assert!(
        sim.wait_until(Duration::from_secs(20), |s| {
            s.settled()
                && s.store()
                    .list(Res::Pods, None)
                    .iter()
                    .all(|p| p.pod.as_ref().is_some_and(|f| f.node_name.is_some()))
        })
        .await,
        "workloads did not become healthy again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_recycles_two_nodes_keeping_vm_pool_labels_taints_and_the_data_disk() {
    let sim = demo_sim(30.0, |_| {}).await;
    let journal = tempfile::tempdir().expect("tempdir");
    let nodes = ["10.0.8.12", "10.0.8.13"];
    let ran = tke_recycle(
        &sim,
        journal.path(),
        &run_args(&sim, &nodes, &["--keep-data-disk", "/dev/vdb:/data"]),
        &[],
    )
    .await;
    assert_eq!(ran.code, Some(0), "{}", ran.show());
    let end = ran.end();
    assert_eq!(end["status"]["state"], "done", "{end}");
    for n in nodes {
        assert_back(&sim, n);
    }
    assert_no_vm_lost(&sim);
    assert!(
        sim.formatted_disks().is_empty(),
        "a data disk was formatted despite --keep-data-disk: {:?}",
        sim.formatted_disks()
    );
    for instance in ["ins-demo0012", "ins-demo0013"] {
        assert_eq!(
            calls(&sim, "DeleteClusterInstances", instance),
            1,
            "{instance}"
        );
        assert_eq!(
            calls(&sim, "AddExistedInstances", instance),
            1,
            "{instance}"
        );
    }
    let add = sim
        .action_log()
        .into_iter()
        .find(|a| a.action == "AddExistedInstances" && a.error.is_none())
        .expect("an add");
    assert_eq!(add.params["SecurityGroupIds"], json!(["sg-demo0001"]));
    assert_eq!(
        add.params["LoginSettings"]["KeyIds"],
        json!(["skey-demo0001"])
    );
    assert_eq!(add.params["NodePool"]["NodePoolId"], "np-demo0001");
    assert_eq!(add.params["InstanceAdvancedSettings"]["Unschedulable"], 1);
    let scripts = sim.user_scripts();
    let (_, script) = scripts
        .iter()
        .find(|(i, _)| i == "ins-demo0013")
        .expect("the data-disk node got an init script");
    assert!(
        script.contains("/dev/vdb") && script.contains("/data"),
        "{script}"
    );
    assert!(
        !script.contains("mkfs"),
        "the init script may format: {script}"
    );
    // The node's events tell the story in `kubectl describe node`.
    let events = sim.store().list(Res::Events, Some("default"));
    assert!(
        events
            .iter()
            .any(|e| e.value()["reason"] == "RemovedFromCluster"),
        "no RemovedFromCluster event"
    );
    assert_workloads_healthy(&sim).await;

    // status shows the run done, node by node.
    let status = tke_recycle(&sim, journal.path(), &["status", "-o", "json"], &[]).await;
    assert_eq!(status.code, Some(0), "{}", status.show());
    let runs: Value = serde_json::from_str(&status.stdout).expect("status JSON");
    assert_eq!(runs[0]["status"]["state"], "done", "{runs}");
    let run_id = runs[0]["run_id"].as_str().expect("run id").to_owned();
    let one = tke_recycle(&sim, journal.path(), &["status", &run_id], &[]).await;
    assert!(
        one.stdout.contains("10.0.8.13") && one.stdout.contains("done"),
        "{}",
        one.show()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_keep_data_disk_the_reinstall_formats_the_disk() {
    let sim = demo_sim(30.0, |_| {}).await;
    let journal = tempfile::tempdir().expect("tempdir");
    let ran = tke_recycle(
        &sim,
        journal.path(),
        &run_args(&sim, &["10.0.8.13"], &[]),
        &[],
    )
    .await;
    assert_eq!(ran.code, Some(0), "{}", ran.show());
    assert_back(&sim, "10.0.8.13");
    let formatted = sim.formatted_disks();
    assert_eq!(formatted.len(), 1, "{formatted:?}");
    assert_eq!(formatted[0].disk_id, "disk-demo0013b");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_touches_nothing_and_shows_the_add_back() {
    let sim = demo_sim(30.0, |_| {}).await;
    let journal = tempfile::tempdir().expect("tempdir");
    let mut args = run_args(&sim, &["10.0.8.12"], &[]);
    args[0] = "plan";
    let ran = tke_recycle(&sim, journal.path(), &args, &[]).await;
    assert_eq!(ran.code, Some(0), "{}", ran.show());
    let plan = ran
        .events()
        .into_iter()
        .find(|e| e["step"] == "plan")
        .unwrap_or_else(|| panic!("no plan event: {}", ran.show()));
    let text = plan.to_string();
    assert!(
        text.contains("ins-demo0012") && text.contains("np-demo0001"),
        "{text}"
    );
    // Where headroom expects the evicted pods to land.
    assert!(
        plan["message"]
            .as_str()
            .is_some_and(|m| m.contains("expected to land on: 10.0.8.")),
        "{text}"
    );
    let mutating = sim
        .action_log()
        .into_iter()
        .filter(|a| a.action == "DeleteClusterInstances" || a.action == "AddExistedInstances")
        .count();
    assert_eq!(mutating, 0, "plan called a mutating TKE action");
    assert_ne!(
        node(&sim, "10.0.8.12").pointer("/spec/unschedulable"),
        Some(&json!(true))
    );
    assert!(
        std::fs::read_dir(journal.path()).map_or(true, |mut d| d.next().is_none()),
        "plan wrote a journal"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_evicts_and_leaves_the_node_cordoned_without_tke() {
    let sim = demo_sim(30.0, |_| {}).await;
    let journal = tempfile::tempdir().expect("tempdir");
    let ran = tke_recycle(
        &sim,
        journal.path(),
        &["drain", "10.0.8.11", "-o", "json", "--yes"],
        &[],
    )
    .await;
    assert_eq!(ran.code, Some(0), "{}", ran.show());
    assert_eq!(
        node(&sim, "10.0.8.11").pointer("/spec/unschedulable"),
        Some(&json!(true))
    );
    let left: Vec<String> = sim
        .pods_on("10.0.8.11")
        .into_iter()
        .filter(|p| !p.contains("node-exporter"))
        .collect();
    assert!(left.is_empty(), "pods left on the drained node: {left:?}");
    assert!(
        sim.action_log()
            .iter()
            .all(|a| a.action != "DeleteClusterInstances" && a.action != "AddExistedInstances"),
        "drain called TKE"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_command_recycles_two_nodes() {
    let state = tempfile::tempdir().expect("tempdir");
    let out = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::process::Command::new(env!("CARGO_BIN_EXE_tke-recycle"))
            .args(["demo"])
            .env("TKE_RECYCLE_CACHE_DIR", cache_dir())
            .env("TKE_RECYCLE_STATE_DIR", state.path())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("demo finishes within two minutes")
    .expect("demo runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in [
        "10.0.8.12: Ready (schedulable), node pool np-demo0001",
        "10.0.8.13: Ready (schedulable), node pool np-demo0001",
        "2 DeleteClusterInstances (retain), 2 AddExistedInstances; VMs terminated: 0; data disks formatted: 0",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
}

//! `tke-recycle fleet` on three practice clusters at once (one test process starts them all),
//! each with its own Kubernetes API, TKE API and account: batches, the health gate that stops
//! the fleet, the record in one cluster, discovery by tags, and a fleet killed at any point and
//! finished from a fresh state directory without doing anything twice.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use tke_recycle::sim::SimHandle;
use tke_recycle::sim::resource::Res;

use super::recycle::{Ran, assert_back, assert_no_vm_lost, calls, demo_sim};
use super::support::cache_dir;

/// The one node of each cluster the fleet recycles (it carries `recycle=yes`).
const NODE: &str = "10.0.8.14";
const INSTANCE: &str = "ins-demo0014";
const SPEED: f64 = 100.0;

/// Three demo clusters `cls-fleeta`, `-b`, `-c`, tagged `team: web`; `edit` changes one by
/// index before it starts.
async fn three(edit: impl Fn(usize, &mut tke_recycle::sim::scenario::Scenario)) -> Vec<SimHandle> {
    clusters(3, edit).await
}

/// `n` demo clusters `cls-fleeta`, `-b`, ... (see [`three`]).
async fn clusters(
    n: usize,
    edit: impl Fn(usize, &mut tke_recycle::sim::scenario::Scenario),
) -> Vec<SimHandle> {
    let mut sims = Vec::new();
    for (i, letter) in ["a", "b", "c"].iter().take(n).enumerate() {
        let sim = demo_sim(SPEED, |s| {
            s.cluster.id = format!("cls-fleet{letter}");
            s.cluster.tags.insert("team".into(), "web".into());
            for n in &mut s.nodes {
                if n.lan_ip == NODE {
                    n.labels.insert("recycle".into(), "yes".into());
                }
            }
            edit(i, s);
        })
        .await;
        sims.push(sim);
    }
    sims
}

/// The accounts of the three clusters: each its own endpoint, credentials in variables.
fn accounts(sims: &[SimHandle]) -> String {
    let mut s = String::from("accounts:\n");
    for (i, sim) in sims.iter().enumerate() {
        s.push_str(&format!(
            "  acct{i}: {{secretIdEnv: FLEET_ID_{i}, secretKeyEnv: FLEET_KEY_{i}, region: {}, tkeEndpoint: '{}'}}\n",
            sim.region, sim.tke_url
        ));
    }
    s
}

/// A fleet config listing the clusters by ID.
fn listed_config(sims: &[SimHandle], extra: &str) -> String {
    let mut s = format!(
        "fleet: web-upgrade\nbatchSize: 2\nnodes: {{selector: recycle=yes}}\ngate: {{timeout: 3, interval: 1}}\nrecycle: {{yes: true}}\n{}clusters:\n",
        accounts(sims)
    );
    for (i, sim) in sims.iter().enumerate() {
        s.push_str(&format!(
            "- {{id: {}, account: acct{i}, kubeconfig: '{}'}}\n",
            sim.cluster_id,
            sim.kubeconfig.display()
        ));
    }
    s.push_str(extra);
    s
}

/// A fleet config finding the clusters by their tag, one discovery per account.
fn discovered_config(sims: &[SimHandle], extra: &str) -> String {
    let mut s = format!(
        "fleet: web-upgrade\nbatchSize: 2\nnodes: {{selector: recycle=yes}}\ngate: {{timeout: 20, interval: 1}}\nrecycle: {{yes: true}}\n{}discover:\n",
        accounts(sims)
    );
    for (i, sim) in sims.iter().enumerate() {
        s.push_str(&format!(
            "- {{account: acct{i}, tags: {{team: web}}, kubeconfig: '{}'}}\n",
            sim.kubeconfig.display()
        ));
    }
    s.push_str(extra);
    s
}

async fn fleet(
    sims: &[SimHandle],
    state: &Path,
    config: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> Ran {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_tke-recycle"));
    cmd.arg("fleet")
        .args(args)
        .args(["--config", &config.display().to_string(), "-o", "json"])
        .env("TKE_RECYCLE_CACHE_DIR", cache_dir())
        .env("TKE_RECYCLE_STATE_DIR", state)
        .env("HOME", state)
        .env_remove("KUBECONFIG")
        .env_remove("TENCENTCLOUD_SECRET_ID")
        .env_remove("TENCENTCLOUD_SECRET_KEY")
        .env_remove("TKE_RECYCLE_FAILPOINT")
        .env_remove("TKE_RECYCLE_LOG")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    for (i, sim) in sims.iter().enumerate() {
        cmd.env(format!("FLEET_ID_{i}"), &sim.secret_id)
            .env(format!("FLEET_KEY_{i}"), &sim.secret_key);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::time::timeout(Duration::from_secs(300), cmd.output())
        .await
        .unwrap_or_else(|_| panic!("fleet {args:?} did not finish in 300 s"))
        .expect("the binary runs");
    Ran {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `fleet status -o json`.
async fn status(sims: &[SimHandle], state: &Path, config: &Path) -> Value {
    let ran = fleet(sims, state, config, &["status"], &[]).await;
    assert_eq!(ran.code, Some(0), "status failed\n{}", ran.show());
    serde_json::from_str(ran.stdout.trim())
        .unwrap_or_else(|e| panic!("status is not JSON ({e})\n{}", ran.show()))
}

fn state_of(status: &Value, cluster: &str) -> String {
    status["clusters"][cluster]["state"]
        .as_str()
        .unwrap_or("?")
        .to_owned()
}

/// The cluster was not touched: no TKE change, no run journal, its node not cordoned.
fn assert_untouched(sim: &SimHandle) {
    let changes: Vec<String> = sim
        .action_log()
        .iter()
        .filter(|a| a.action == "DeleteClusterInstances" || a.action == "AddExistedInstances")
        .map(|a| a.action.clone())
        .collect();
    assert!(
        changes.is_empty(),
        "{}: TKE changes {changes:?}",
        sim.cluster_id
    );
    let journals = sim
        .store()
        .list(Res::ConfigMaps, Some("kube-system"))
        .iter()
        .filter(|c| c.name.starts_with("tke-recycle-run"))
        .count();
    assert_eq!(journals, 0, "{}: a run was journaled", sim.cluster_id);
    let node = sim.get(Res::Nodes, "", NODE).expect("the node is there");
    assert_ne!(
        node.pointer("/spec/unschedulable"),
        Some(&Value::Bool(true)),
        "{}: node {NODE} was cordoned",
        sim.cluster_id
    );
}

/// Each cluster's node recycled exactly once and back, nothing lost.
fn assert_recycled_once(sim: &SimHandle) {
    assert_eq!(
        calls(sim, "DeleteClusterInstances", INSTANCE),
        1,
        "{}: removals",
        sim.cluster_id
    );
    assert_eq!(
        calls(sim, "AddExistedInstances", INSTANCE),
        1,
        "{}: adds",
        sim.cluster_id
    );
    assert_back(sim, NODE);
    assert_no_vm_lost(sim);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failed_gate_stops_the_fleet_before_the_next_batch_and_resume_finishes_it() {
    // Cluster b has a node an operator cordoned and forgot: its gate cannot pass.
    let sims = three(|i, s| {
        if i == 1 {
            for n in &mut s.nodes {
                if n.lan_ip == "10.0.8.15" {
                    n.unschedulable = true;
                }
            }
        }
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("fleet.yaml");
    std::fs::write(
        &config,
        listed_config(&sims, "record: {cluster: cls-fleeta}\n"),
    )
    .expect("config");

    let plan = fleet(&sims, dir.path(), &config, &["plan"], &[]).await;
    assert_eq!(plan.code, Some(0), "plan\n{}", plan.show());
    let batches: Vec<Value> = plan
        .events()
        .into_iter()
        .filter(|e| e["step"] == "batch")
        .collect();
    assert_eq!(batches.len(), 2, "{}", plan.show());
    for sim in &sims {
        assert_untouched(sim);
    }

    let ran = fleet(&sims, dir.path(), &config, &[], &[]).await;
    assert_eq!(
        ran.code,
        Some(3),
        "the failed gate stops the fleet\n{}",
        ran.show()
    );
    let end = ran.end();
    assert_eq!(end["data"]["status"], "stopped", "{end}");
    assert!(
        end["message"]
            .as_str()
            .is_some_and(|m| m.contains("cls-fleetb gate-failed") && m.contains("10.0.8.15")),
        "{end}"
    );
    assert_recycled_once(&sims[0]);
    assert_recycled_once(&sims[1]);
    assert_untouched(&sims[2]);

    // Any machine sees the same picture: the record is in cluster a.
    let other = tempfile::tempdir().expect("tempdir");
    let st = status(&sims, other.path(), &config).await;
    assert_eq!(
        st["source"], "record kube-system/tke-recycle-fleet-web-upgrade",
        "{st}"
    );
    assert_eq!(state_of(&st, "cls-fleeta"), "done", "{st}");
    assert_eq!(state_of(&st, "cls-fleetb"), "gate-failed", "{st}");
    assert_eq!(state_of(&st, "cls-fleetc"), "pending", "{st}");

    // The operator uncordons the node; resume checks b's gate again (no second recycle) and
    // goes on with c.
    sims[1]
        .store()
        .update_with(Res::Nodes, "", "10.0.8.15", |n| {
            n["spec"]["unschedulable"] = Value::Bool(false);
            Ok(())
        })
        .expect("uncordon");
    let resumed = fleet(&sims, other.path(), &config, &["resume"], &[]).await;
    assert_eq!(resumed.code, Some(0), "resume\n{}", resumed.show());
    for sim in &sims {
        assert_recycled_once(sim);
    }
    let st = status(&sims, dir.path(), &config).await;
    for c in ["cls-fleeta", "cls-fleetb", "cls-fleetc"] {
        assert_eq!(state_of(&st, c), "done", "{st}");
    }
    assert_eq!(st["finished"], true, "{st}");
    for sim in sims {
        sim.shutdown();
    }
}

/// Durable journal writes of the fleet's runs in `sim`, from their journal ConfigMaps.
fn journal_writes(sim: &SimHandle) -> u64 {
    sim.store()
        .list(Res::ConfigMaps, Some("kube-system"))
        .iter()
        .filter(|c| c.name.starts_with("tke-recycle-run-"))
        .filter_map(|c| {
            let text = c.value()["data"]["journal.json"].as_str()?.to_owned();
            let doc: Value = serde_json::from_str(&text).ok()?;
            doc["run"]["journal_writes"].as_u64()
        })
        .sum()
}

/// Run the fleet to its end on fresh clusters; how many durable journal writes it made.
async fn clean_fleet_writes() -> u64 {
    let sims = three(|_, _| {}).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("fleet.yaml");
    std::fs::write(&config, discovered_config(&sims, "")).expect("config");
    let ran = fleet(&sims, dir.path(), &config, &[], &[]).await;
    assert_eq!(ran.code, Some(0), "a clean fleet\n{}", ran.show());
    let total = sims.iter().map(journal_writes).sum();
    for sim in sims {
        assert_recycled_once(&sim);
        sim.shutdown();
    }
    total
}

/// Kill the fleet at the N-th durable journal write, then finish it from a fresh state
/// directory; with the record in a cluster or rebuilt from the journals.
async fn killed_and_resumed(failpoint: u64, record: bool) {
    let sims = three(|_, _| {}).await;
    let extra = if record {
        "record: {cluster: cls-fleetb}\n"
    } else {
        ""
    };
    let first = tempfile::tempdir().expect("tempdir");
    let config_dir = tempfile::tempdir().expect("tempdir");
    let config = config_dir.path().join("fleet.yaml");
    std::fs::write(&config, discovered_config(&sims, extra)).expect("config");
    let fp = format!("journal-write:{failpoint}");
    let ran = fleet(
        &sims,
        first.path(),
        &config,
        &[],
        &[("TKE_RECYCLE_FAILPOINT", &fp)],
    )
    .await;
    let case = format!("failpoint={failpoint} record={record}");
    assert_eq!(
        ran.code,
        None,
        "{case}: the fleet was not killed\n{}",
        ran.show()
    );

    let second = tempfile::tempdir().expect("tempdir");
    let resumed = fleet(&sims, second.path(), &config, &["resume"], &[]).await;
    assert_eq!(
        resumed.code,
        Some(0),
        "{case}: resume\n--- killed\n{}\n--- resume\n{}",
        ran.show(),
        resumed.show()
    );
    for sim in &sims {
        assert_recycled_once(sim);
    }
    let st = status(&sims, second.path(), &config).await;
    assert_eq!(st["finished"], true, "{case}: {st}");
    let want = if record {
        "record kube-system/tke-recycle-fleet-web-upgrade"
    } else {
        "rebuilt from the clusters' journals"
    };
    assert_eq!(st["source"], want, "{case}: {st}");
    // A fleet that is done does nothing more.
    let again = fleet(&sims, second.path(), &config, &[], &[]).await;
    assert_eq!(again.code, Some(0), "{case}: again\n{}", again.show());
    for sim in sims {
        assert_recycled_once(&sim);
        sim.shutdown();
    }
}

/// The fleet is killed (SIGKILL) after journal writes spread over its whole life, in both
/// batches, with and without a record, and each time finished from another state directory:
/// every node recycled exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fleet_killed_anywhere_finishes_from_another_machine_doing_nothing_twice() {
    let total = clean_fleet_writes().await;
    assert!(
        total > 30,
        "only {total} journal writes in a fleet of three clusters"
    );
    let step = (total / 8).max(1);
    eprintln!("fleet kill sweep: {total} journal writes, a kill every {step}");
    for (i, n) in (1..total)
        .step_by(usize::try_from(step).unwrap_or(1))
        .enumerate()
    {
        killed_and_resumed(n, i % 2 == 0).await;
    }
    // The last write of all: the fleet is done but dies before it can say so.
    killed_and_resumed(total, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nothing_to_resume_is_a_clear_error() {
    let sims = three(|_, _| {}).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("fleet.yaml");
    std::fs::write(&config, listed_config(&sims, "")).expect("config");
    let ran = fleet(&sims, dir.path(), &config, &["resume"], &[]).await;
    assert_eq!(ran.code, Some(2), "{}", ran.show());
    assert!(ran.stderr.contains("nothing to resume"), "{}", ran.show());
    for sim in sims {
        assert_untouched(&sim);
        sim.shutdown();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cluster_whose_pre_checks_deny_is_skipped_whole_and_the_fleet_goes_on() {
    // Cluster a's node carries the protection label: its pre-checks deny.
    let sims = clusters(2, |i, s| {
        if i == 0 {
            for n in &mut s.nodes {
                if n.lan_ip == NODE {
                    n.node_only_labels
                        .insert("tke-recycle.io/protected".into(), "true".into());
                }
            }
        }
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("fleet.yaml");
    let text = listed_config(&sims, "record: {cluster: cls-fleetb}\n")
        .replace("batchSize: 2", "batchSize: 1");
    std::fs::write(&config, text).expect("config");
    let ran = fleet(&sims, dir.path(), &config, &[], &[]).await;
    assert_eq!(
        ran.code,
        Some(1),
        "a skipped cluster is a deny\n{}",
        ran.show()
    );
    let skipped = ran
        .events()
        .into_iter()
        .find(|e| e["step"] == "skipped")
        .unwrap_or_else(|| panic!("no skipped event\n{}", ran.show()));
    assert_eq!(skipped["cluster"], "cls-fleeta", "{skipped}");
    assert!(
        skipped["message"]
            .as_str()
            .is_some_and(|m| m.contains("protected-nodes.labelled")),
        "{skipped}"
    );
    assert_untouched(&sims[0]);
    assert_recycled_once(&sims[1]);
    let st = status(&sims, dir.path(), &config).await;
    assert_eq!(state_of(&st, "cls-fleeta"), "skipped", "{st}");
    assert_eq!(state_of(&st, "cls-fleetb"), "done", "{st}");
    assert_eq!(st["finished"], true, "{st}");
    for sim in sims {
        sim.shutdown();
    }
}

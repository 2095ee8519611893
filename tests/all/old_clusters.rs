//! Every Kubernetes version a TKE cluster may still run: the practice cluster plays 1.20 (PDBs and
//! evictions only as `policy/v1beta1`), 1.24 (both versions) and 1.32 (only `policy/v1`), and
//! the same commands work against each through discovery: `snapshot`, `check`, `drain`, a full
//! `run` (the Lease lock, node Events, the journal), and kubectl's `get pdb` and `drain`.

use std::time::Duration;

use serde_json::{Value, json};
use tke_recycle::k8s::client::{Clients, KubeOptions};
use tke_recycle::k8s::evict::EvictionVersion;
use tke_recycle::k8s::served::{self, PdbVersion};
use tke_recycle::sim::SimHandle;
use tke_recycle::sim::resource::Res;

use crate::recycle::{demo_sim, run_args, snapshot_file, tke_recycle};
use crate::sim_common::kubectl;

/// The demo cluster's nodes.
const NODES: [&str; 5] = [
    "10.0.8.11",
    "10.0.8.12",
    "10.0.8.13",
    "10.0.8.14",
    "10.0.8.15",
];

/// What a version serves, and what discovery must find.
struct Case {
    version: &'static str,
    pdb: PdbVersion,
    eviction: EvictionVersion,
    /// `kubectl api-versions` lines that must be there, and must not.
    served: &'static [&'static str],
    not_served: &'static [&'static str],
}

impl Case {
    /// Whether `policy/v1beta1` is among the versions this one serves.
    fn serves_v1beta1(&self) -> bool {
        self.served.contains(&"policy/v1beta1")
    }
}

const V1_20: Case = Case {
    version: "1.20",
    pdb: PdbVersion::V1beta1,
    eviction: EvictionVersion::V1beta1,
    served: &["policy/v1beta1"],
    not_served: &["policy/v1"],
};
const V1_24: Case = Case {
    version: "1.24.17",
    pdb: PdbVersion::V1,
    eviction: EvictionVersion::V1,
    served: &["policy/v1", "policy/v1beta1"],
    not_served: &[],
};
const V1_32: Case = Case {
    version: "1.32.2",
    pdb: PdbVersion::V1,
    eviction: EvictionVersion::V1,
    served: &["policy/v1"],
    not_served: &["policy/v1beta1"],
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubernetes_1_20_serves_only_v1beta1_and_everything_works() {
    version_matrix(&V1_20).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubernetes_1_24_serves_both_and_everything_works() {
    version_matrix(&V1_24).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubernetes_1_32_serves_only_v1_and_everything_works() {
    version_matrix(&V1_32).await;
}

/// The demo cluster at `case.version`, with its PDB manifests written the way a user of that
/// version writes them, a zero-budget PDB over `api`, and, where v1beta1 is served, a v1beta1
/// PDB with an empty selector (which selects no pod there; in v1 it would select them all).
async fn cluster(case: &Case) -> SimHandle {
    let beta = case.serves_v1beta1();
    demo_sim(30.0, |s| {
        s.cluster.version = case.version.into();
        let pdb_version = if beta { "policy/v1beta1" } else { "policy/v1" };
        for o in &mut s.objects {
            if o["kind"] == "PodDisruptionBudget" {
                o["apiVersion"] = json!(pdb_version);
            }
        }
        s.objects.push(
            json!({"apiVersion": pdb_version, "kind": "PodDisruptionBudget",
            "metadata": {"name": "api-strict", "namespace": "shop"},
            "spec": {"minAvailable": 3, "selector": {"matchLabels": {"app": "api"}}}}),
        );
        if beta {
            s.objects.push(
                json!({"apiVersion": "policy/v1beta1", "kind": "PodDisruptionBudget",
                "metadata": {"name": "legacy-empty", "namespace": "shop"},
                "spec": {"minAvailable": 100, "selector": {}}}),
            );
        }
    })
    .await
}

async fn version_matrix(case: &Case) {
    let sim = cluster(case).await;
    let v = case.version;

    // Discovery finds what this version serves.
    let clients = Clients::connect(&KubeOptions {
        kubeconfig: Some(sim.kubeconfig.clone()),
        ..Default::default()
    })
    .await
    .expect("clients");
    let found = served::discover(&clients.reads).await.expect("discovery");
    assert_eq!(
        (found.pdb, found.eviction),
        (case.pdb, case.eviction),
        "{v}"
    );

    // kubectl sees the same API and reads the PDBs at the version it prefers.
    let versions = kubectl(&sim, &["api-versions"], Duration::from_secs(30)).await;
    assert!(versions.success, "{v}: {}", versions.stderr);
    let lines: Vec<&str> = versions.stdout.lines().collect();
    for gv in case.served {
        assert!(lines.contains(gv), "{v}: {gv} missing from {lines:?}");
    }
    for gv in case.not_served {
        assert!(!lines.contains(gv), "{v}: {gv} served: {lines:?}");
    }
    let server = kubectl(&sim, &["version", "-o", "json"], Duration::from_secs(30)).await;
    let server: Value = serde_json::from_str(&server.stdout).expect("kubectl version json");
    let minor = v.split('.').nth(1).expect("minor");
    assert_eq!(server["serverVersion"]["minor"], minor, "{v}");
    let pdbs = kubectl(
        &sim,
        &["get", "pdb", "-n", "shop", "-o", "json"],
        Duration::from_secs(30),
    )
    .await;
    assert!(pdbs.success, "{v}: {}", pdbs.stderr);
    let pdbs: Value = serde_json::from_str(&pdbs.stdout).expect("pdb list");
    let names: Vec<&str> = pdbs["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|p| p.pointer("/metadata/name").and_then(Value::as_str))
        .collect();
    assert!(
        names.contains(&"web") && names.contains(&"api-strict"),
        "{v}: {names:?}"
    );
    let listed_as = pdbs["items"][0]["apiVersion"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        listed_as,
        case.pdb.api_version(),
        "{v}: kubectl reads the preferred version"
    );

    // snapshot: the PDBs with their live numbers, the empty v1beta1 selector selecting no pod.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = snapshot_file(&sim, dir.path()).await;
    let snap: Value =
        serde_json::from_slice(&std::fs::read(&file).expect("snapshot file")).expect("json");
    let pdb = |name: &str| {
        snap["pdbs"]
            .as_array()
            .expect("pdbs")
            .iter()
            .find(|p| p["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{v}: PDB {name} not in the snapshot"))
    };
    assert_eq!(pdb("web")["disruptions_allowed"], 1, "{v}");
    assert_eq!(pdb("api-strict")["disruptions_allowed"], 0, "{v}");
    if case.serves_v1beta1() {
        let legacy = pdb("legacy-empty");
        assert_eq!(
            legacy["expected_pods"], 0,
            "{v}: an empty v1beta1 selector selects no pod"
        );
        assert_eq!(
            legacy["selector"]["match_expressions"][0]["key"],
            served::V1BETA1_EMPTY_SELECTOR_KEY,
            "{v}"
        );
    }

    // check: the zero budget over api denies on a node that runs an api pod.
    let api_node = NODES
        .into_iter()
        .find(|n| {
            sim.pods_on(n)
                .iter()
                .any(|p| p.starts_with("shop/api-") || p.starts_with("api-"))
        })
        .expect("a node runs an api pod");
    let ran = tke_recycle(
        &sim,
        dir.path(),
        &["check", "--node", api_node, "-o", "json"],
        &[],
    )
    .await;
    assert_eq!(ran.code, Some(1), "{v}: {}{}", ran.stdout, ran.stderr);
    let doc: Value = serde_json::from_str(&ran.stdout).expect("check json");
    let findings = doc["findings"].as_array().cloned().unwrap_or_default();
    assert!(
        findings.iter().any(|f| f["code"] == "pdb.zero-budget"
            && f["message"]
                .as_str()
                .is_some_and(|m| m.contains("api-strict"))),
        "{v}: {}",
        ran.stdout
    );
    assert!(
        !ran.stdout.contains("legacy-empty"),
        "{v}: the empty v1beta1 PDB covers no pod: {}",
        ran.stdout
    );

    // drain through our eviction client, at the version discovery found (the practice cluster
    // refuses an Eviction of a version it does not serve).
    let drain_node = NODES
        .into_iter()
        .find(|n| *n != api_node && !sim.pods_on(n).iter().any(|p| p.contains("api-")))
        .expect("a node without api pods");
    let ran = tke_recycle(
        &sim,
        dir.path(),
        &["drain", drain_node, "-o", "json", "--yes"],
        &[],
    )
    .await;
    assert_eq!(ran.code, Some(0), "{v}: {}{}", ran.stdout, ran.stderr);
    let left: Vec<String> = sim
        .pods_on(drain_node)
        .into_iter()
        .filter(|p| !p.contains("node-exporter"))
        .collect();
    assert!(left.is_empty(), "{v}: pods left on {drain_node}: {left:?}");

    // kubectl drain evicts at the version this server names too.
    let other = NODES
        .into_iter()
        .find(|n| {
            *n != api_node && *n != drain_node && !sim.pods_on(n).iter().any(|p| p.contains("api-"))
        })
        .expect("another node without api pods");
    let drained = kubectl(
        &sim,
        &[
            "drain",
            other,
            "--ignore-daemonsets",
            "--delete-emptydir-data",
            "--timeout=90s",
        ],
        Duration::from_secs(120),
    )
    .await;
    assert!(
        drained.success,
        "{v}: kubectl drain: {}{}",
        drained.stdout, drained.stderr
    );
    assert!(
        drained.stdout.contains("evicting pod") || drained.stderr.contains("evicting pod"),
        "{v}: {}{}",
        drained.stdout,
        drained.stderr
    );
    for n in [drain_node, other] {
        let uncordon = kubectl(&sim, &["uncordon", n], Duration::from_secs(30)).await;
        assert!(uncordon.success, "{v}: {}", uncordon.stderr);
    }

    // A full recycle of one node: the Lease lock, node Events, the journal and the runbook.
    let journal = tempfile::tempdir().expect("tempdir");
    let ran = tke_recycle(
        &sim,
        journal.path(),
        &run_args(&sim, &[drain_node], &[]),
        &[],
    )
    .await;
    assert_eq!(ran.code, Some(0), "{v}: {}{}", ran.stdout, ran.stderr);
    assert_eq!(ran.end()["status"]["state"], "done", "{v}: {}", ran.stdout);
    let node = sim.get(Res::Nodes, "", drain_node).expect("node is back");
    assert_ne!(
        node.pointer("/spec/unschedulable"),
        Some(&json!(true)),
        "{v}"
    );
    let events = kubectl(
        &sim,
        &["get", "events", "-n", "default", "-o", "json"],
        Duration::from_secs(30),
    )
    .await;
    assert!(
        events.stdout.contains(drain_node),
        "{v}: no node events: {}",
        events.stderr
    );
}

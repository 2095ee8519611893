//! The `node-table` contract (`cluster.nodes`): what the host encodes, the policy SDK decodes into
//! exactly the node summaries that a native `MemoryCluster` answers for the same snapshot. Checked
//! natively on every snapshot we ship (all fixtures and the example) and through Wasm, by a guest
//! that digests what it received.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tke_recycle::bindings::types::{CheckRequest, Label, Phase, Taint, TaintEffect};
use tke_recycle::checks::{OutputLimits, PolicySpec, run_policy};
use tke_recycle::snapshot::{ClusterView, Snapshot, synthetic};
use tke_recycle_policy_sdk::{Cluster, MemoryCluster, NodeSummary, decode_node_table};

use crate::support::{example_snapshot, fixture, guest, runtime};

/// A generated cluster with the awkward cases added: an empty label value, a node without IDs,
/// taints with and without values, GPUs allocatable and requested, a cordoned Ready node and a
/// cordoned not-Ready one.
fn awkward() -> Snapshot {
    let mut snapshot = synthetic(40, 400);
    let gpu = &mut snapshot.nodes[3];
    gpu.labels.push(Label {
        key: "node-role.kubernetes.io/gpu".into(),
        value: String::new(),
    });
    gpu.taints = vec![
        Taint {
            key: "nvidia.com/gpu".into(),
            value: "true".into(),
            effect: TaintEffect::NoSchedule,
        },
        Taint {
            key: "maintenance".into(),
            value: String::new(),
            effect: TaintEffect::PreferNoSchedule,
        },
    ];
    gpu.allocatable
        .extended
        .push(tke_recycle::bindings::types::ExtendedResource {
            name: "nvidia.com/gpu".into(),
            amount: 4,
        });
    gpu.unschedulable = true;
    let gpu_name = gpu.name.clone();
    let bare = &mut snapshot.nodes[7];
    bare.instance_id = None;
    bare.internal_ip = None;
    bare.unschedulable = true;
    bare.ready = false;
    let pod = snapshot
        .pods
        .iter_mut()
        .find(|p| p.node_name.as_deref() == Some(gpu_name.as_str()))
        .expect("a pod on the GPU node");
    pod.requests
        .extended
        .push(tke_recycle::bindings::types::ExtendedResource {
            name: "nvidia.com/gpu".into(),
            amount: 1,
        });
    snapshot
}

fn snapshots() -> Vec<(String, Snapshot)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/snapshots");
    let mut all: Vec<(String, Snapshot)> = std::fs::read_dir(&dir)
        .expect("fixture directory")
        .filter_map(|entry| {
            let name = entry.expect("directory entry").file_name();
            let name = name.to_str().expect("utf-8 file name").to_owned();
            name.ends_with(".json")
                .then(|| (name.clone(), fixture(&name)))
        })
        .collect();
    assert!(all.len() >= 10, "fixtures found in {}", dir.display());
    all.push((
        "small-cluster.json".into(),
        Snapshot::load(&example_snapshot()).expect("example snapshot loads"),
    ));
    all.push(("synthetic awkward".into(), awkward()));
    all
}

/// What the native SDK answers for `nodes()` on this snapshot.
fn native_nodes(snapshot: &Snapshot) -> Vec<NodeSummary> {
    MemoryCluster::from_json(&serde_json::to_string(snapshot).expect("serialises"))
        .expect("the SDK reads the snapshot format")
        .nodes()
}

/// What the host encodes for `nodes()` on this snapshot, decoded by the SDK.
fn through_the_table(snapshot: Snapshot) -> Vec<NodeSummary> {
    let view = ClusterView::new(snapshot);
    let table = view.node_table().expect("fits");
    // The host's and the SDK's generated types are the same records; JSON carries one into the
    // other as the canonical ABI does between host and guest.
    let table = serde_json::from_value(serde_json::to_value(table).expect("serialises"))
        .expect("the SDK reads the host's node table");
    decode_node_table(&table).expect("the host's table holds together")
}

#[test]
fn the_sdk_decodes_the_hosts_table_into_the_native_summaries() {
    for (name, snapshot) in snapshots() {
        let expected = native_nodes(&snapshot);
        assert!(!expected.is_empty(), "{name} has nodes");
        assert_eq!(through_the_table(snapshot), expected, "{name}");
    }
}

#[test]
fn the_awkward_cases_survive_the_table() {
    let decoded = through_the_table(awkward());
    let gpu = decoded
        .iter()
        .find(|n| n.node.taints.len() == 2)
        .expect("the GPU node");
    assert!(
        gpu.node
            .labels
            .iter()
            .any(|l| l.key == "node-role.kubernetes.io/gpu" && l.value.is_empty())
    );
    assert_eq!(gpu.requested.extended.len(), 1);
    assert!(gpu.node.unschedulable && gpu.node.ready);
    let bare = decoded
        .iter()
        .find(|n| n.node.instance_id.is_none())
        .expect("the node without IDs");
    assert!(bare.node.unschedulable && !bare.node.ready);
}

/// 64-bit FNV-1a, as the `digest-nodes` probe computes it.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[tokio::test]
async fn a_guest_receives_the_same_summaries_through_wasm() {
    let runtime = runtime(Duration::from_secs(10));
    for snapshot in [awkward(), synthetic(2_000, 20_000)] {
        let expected = native_nodes(&snapshot);
        let json = serde_json::to_string(&expected).expect("serialises");
        let want = format!(
            "{} nodes, fnv1a {:016x}",
            expected.len(),
            fnv1a(json.as_bytes())
        );
        let spec = PolicySpec {
            name: "hostile-policy".into(),
            ..PolicySpec::file(
                guest("hostile-policy"),
                r#"{"behave": "digest-nodes"}"#.into(),
            )
        };
        let request = CheckRequest {
            targets: vec![expected[0].node.name.clone()],
            phase: Phase::Pre,
            settings: String::new(),
            now: 0,
            affected: Vec::new(),
        };
        let view = Arc::new(ClusterView::new(snapshot));
        let outcome = run_policy(&runtime, &spec, view, &request, &OutputLimits::default()).await;
        assert_eq!(outcome.findings.len(), 1, "{:?}", outcome.findings);
        assert_eq!(outcome.findings[0].message, want);
    }
}

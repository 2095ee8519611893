//! The live cluster view against the practice cluster: it equals a fresh `read_snapshot` right
//! after start, follows changes made through the API without re-listing, and a start that cannot
//! list says which resource (forbidden) or which lists are still pending (timeout). Also
//! `node_ops::set_metadata` (labels and taints, idempotent). Timings are printed, not asserted.

use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use tke_recycle::bindings::types::WorkloadKind;
use tke_recycle::k8s::client::{Clients, KubeOptions};
use tke_recycle::k8s::drain::drain_candidates;
use tke_recycle::k8s::live::{LiveCluster, LiveError};
use tke_recycle::k8s::node_ops;
use tke_recycle::k8s::served::PdbVersion;
use tke_recycle::k8s::snapshot::read_snapshot;
use tke_recycle::sim::scenario::{Generate, Scenario};
use tke_recycle::sim::{Sim, SimHandle, SimOptions};
use tke_recycle::snapshot::Snapshot;

use crate::sim_common::scenario;

/// The kinds the live view watches; each lists once at start.
const KINDS: u64 = 11;

async fn start(scenario: Scenario) -> (SimHandle, Clients) {
    let sim = Sim::start(scenario, SimOptions::default())
        .await
        .expect("practice cluster starts");
    let clients = Clients::connect(&KubeOptions {
        kubeconfig: Some(sim.kubeconfig.clone()),
        context: None,
    })
    .await
    .expect("kube clients");
    (sim, clients)
}

/// A snapshot's contents in a canonical order, as JSON (so that a difference prints readably).
fn canonical(s: &Snapshot) -> [Vec<String>; 4] {
    fn sorted<T: serde::Serialize>(items: &[T]) -> Vec<String> {
        let mut v: Vec<String> = items
            .iter()
            .map(|i| serde_json::to_string(i).expect("serialises"))
            .collect();
        v.sort();
        v
    }
    [
        sorted(&s.nodes),
        sorted(&s.pods),
        sorted(&s.pdbs),
        sorted(&s.workloads),
    ]
}

/// Poll the live view until `cond` holds on its snapshot; how long it took, or None after
/// `timeout`.
async fn within(
    live: &LiveCluster,
    timeout: Duration,
    cond: impl Fn(&Snapshot) -> bool,
) -> Option<Duration> {
    let started = Instant::now();
    loop {
        if cond(&live.snapshot().expect("live snapshot")) {
            return Some(started.elapsed());
        }
        if started.elapsed() > timeout {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Start the live view and compare it with `read_snapshot` (retrying while the practice
/// cluster's controllers still move things between the two reads); prints both timings.
async fn live_equals_read(sim: &SimHandle, c: &Clients, label: &str) -> LiveCluster {
    let started = Instant::now();
    let live = LiveCluster::start(&c.reads, Some(sim.cluster_id.clone()), PdbVersion::V1)
        .await
        .expect("live view starts");
    let start_time = started.elapsed();
    for attempt in 1..=5 {
        let before = live.generation();
        let t = Instant::now();
        let read = read_snapshot(&c.reads, Some(sim.cluster_id.clone()))
            .await
            .expect("read snapshot");
        let read_time = t.elapsed();
        let t = Instant::now();
        let snap = live.snapshot().expect("live snapshot");
        let live_time = t.elapsed();
        if live.generation() != before && attempt < 5 {
            continue;
        }
        eprintln!(
            "live[{label}]: {} nodes, {} pods: start {start_time:?}, read_snapshot {read_time:?}, \
             live snapshot() {live_time:?}",
            snap.nodes.len(),
            snap.pods.len()
        );
        assert_eq!(snap.cluster_id, read.cluster_id);
        let (got, want) = (canonical(&snap), canonical(&read));
        for (i, what) in ["nodes", "pods", "pdbs", "workloads"].iter().enumerate() {
            assert_eq!(got[i], want[i], "{what} differ");
        }
        // Not only the same set: the same order, the API server's.
        assert_eq!(snap.pods, read.pods, "pods in list order");
        assert_eq!(snap.workloads, read.workloads, "workloads in list order");
        return live;
    }
    unreachable!("the last attempt compares")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_snapshot_equals_read_snapshot_and_follows_changes_without_relisting() {
    let (sim, c) = start(scenario("small.yaml")).await;
    let live = live_equals_read(&sim, &c, "small").await;
    assert_eq!(live.lists(), KINDS, "one list per kind");

    // A cordon through the API is seen by the watch.
    let node = "10.0.1.11";
    assert!(node_ops::cordon(&c.direct, node).await.expect("cordon"));
    let took = within(&live, Duration::from_secs(1), |s| {
        s.nodes.iter().any(|n| n.name == node && n.unschedulable)
    })
    .await
    .expect("cordon visible within a second");
    eprintln!("live: cordon visible after {took:?}");
    assert!(
        live.node(node)
            .and_then(|n| n.spec.as_ref()?.unschedulable)
            .unwrap_or(false)
    );
    assert!(live.node("10.9.9.9").is_none());

    // Scaling a Deployment changes its workload record.
    let generation = live.generation();
    Api::<Deployment>::namespaced(c.direct.clone(), "shop")
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"replicas": 5}})),
        )
        .await
        .expect("scale web");
    let took = within(&live, Duration::from_secs(1), |s| {
        s.workloads
            .iter()
            .any(|w| w.name == "web" && w.namespace == "shop" && w.replicas == 5)
    })
    .await
    .expect("scale visible within a second");
    eprintln!("live: scale visible after {took:?}");
    assert!(live.generation() > generation);

    // A deleted pod is terminating (or gone) in the view, and leaves the drain's list.
    assert!(
        sim.wait_until(Duration::from_secs(30), SimHandle::settled)
            .await,
        "the new replica is running"
    );
    let on_node = loop {
        let generation = live.generation();
        let on_node = live.pods_on_node("10.0.1.12");
        let snap = live.snapshot().expect("snapshot");
        if live.generation() != generation {
            continue;
        }
        let mut names: Vec<&str> = snap
            .pods
            .iter()
            .filter(|p| p.node_name.as_deref() == Some("10.0.1.12"))
            .map(|p| p.name.as_str())
            .collect();
        names.sort_unstable();
        let mut listed: Vec<&str> = on_node
            .iter()
            .filter_map(|p| p.metadata.name.as_deref())
            .collect();
        listed.sort_unstable();
        assert_eq!(listed, names, "pods_on_node agrees with the snapshot");
        break on_node;
    };
    let (ns, name, uid) = drain_candidates(&on_node)
        .first()
        .map(|p| {
            (
                p.metadata.namespace.clone().unwrap_or_default(),
                p.metadata.name.clone().unwrap_or_default(),
                p.metadata.uid.clone().unwrap_or_default(),
            )
        })
        .expect("a pod to evict on 10.0.1.12");
    Api::<Pod>::namespaced(c.direct.clone(), &ns)
        .delete(&name, &DeleteParams::default())
        .await
        .expect("delete pod");
    let took = within(&live, Duration::from_secs(1), |s| {
        !s.pods.iter().any(|p| p.uid == uid && !p.terminating)
    })
    .await
    .expect("deletion visible within a second");
    eprintln!("live: pod deletion visible after {took:?}");
    let still: Vec<_> = live.pods_on_node("10.0.1.12");
    assert!(
        drain_candidates(&still)
            .iter()
            .all(|p| p.metadata.uid.as_deref() != Some(uid.as_str())),
        "a terminating pod is no drain candidate"
    );

    // All of it from the watches: no kind had to list again.
    assert_eq!(live.lists(), KINDS, "no re-list");
    // And the view still equals a fresh read once the cluster has settled.
    assert!(
        sim.wait_until(Duration::from_secs(30), SimHandle::settled)
            .await,
        "practice cluster settles"
    );
    drop(live);
    live_equals_read(&sim, &c, "small, after changes").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_metadata_adds_a_label_and_a_taint_once() {
    let (sim, c) = start(scenario("small.yaml")).await;
    let live = LiveCluster::start(&c.reads, Some(sim.cluster_id.clone()), PdbVersion::V1)
        .await
        .expect("live view starts");
    let node = "10.0.1.13";
    let labels = [("tke-recycle.io/state".to_owned(), "recycling".to_owned())];
    let taints = [(
        "tke-recycle.io/recycling".to_owned(),
        String::new(),
        "NoSchedule".to_owned(),
    )];
    let nodes = Api::<Node>::all(c.direct.clone());
    let before = nodes.get(node).await.expect("node");
    let taints_before = before
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default();

    assert!(
        node_ops::set_metadata(&c.direct, node, &labels, &taints)
            .await
            .expect("set metadata"),
        "first call changes the node"
    );
    let after = nodes.get(node).await.expect("node");
    assert_eq!(
        after
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("tke-recycle.io/state"))
            .map(String::as_str),
        Some("recycling")
    );
    assert_eq!(
        after
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("disktype"))
            .map(String::as_str),
        Some("ssd"),
        "other labels stay"
    );
    let taints_after = after
        .spec
        .as_ref()
        .and_then(|s| s.taints.clone())
        .unwrap_or_default();
    assert_eq!(taints_after.len(), taints_before.len() + 1);
    assert!(taints_after[..taints_before.len()] == taints_before[..]);
    assert!(
        taints_after
            .iter()
            .any(|t| t.key == "tke-recycle.io/recycling" && t.effect == "NoSchedule")
    );

    let rv = after.metadata.resource_version.clone();
    assert!(
        !node_ops::set_metadata(&c.direct, node, &labels, &taints)
            .await
            .expect("set metadata again"),
        "second call is a no-op"
    );
    let again = nodes.get(node).await.expect("node");
    assert_eq!(again.metadata.resource_version, rv, "nothing was written");

    // The live view sees both.
    within(&live, Duration::from_secs(1), |s| {
        s.nodes.iter().any(|n| {
            n.name == node
                && n.labels.iter().any(|l| l.key == "tke-recycle.io/state")
                && n.taints.iter().any(|t| t.key == "tke-recycle.io/recycling")
        })
    })
    .await
    .expect("label and taint visible within a second");

    let missing = node_ops::set_metadata(&c.direct, "10.9.9.9", &labels, &taints)
        .await
        .expect_err("no such node");
    assert_eq!(missing.to_string(), "failed to read node 10.9.9.9");
}

/// A stand-in API server that serves empty lists and idle watches for every kind but pods,
/// whose list is refused (403) or never answered.
async fn stand_in(pods_forbidden: bool) -> kube::Client {
    use axum::body::Body;
    use axum::http::{StatusCode, Uri};
    use axum::response::{IntoResponse, Response};

    let app = axum::Router::new().fallback(move |uri: Uri| async move {
        let watch = uri.query().is_some_and(|q| q.contains("watch=true"));
        if uri.path() == "/api/v1/pods" && !watch {
            if !pods_forbidden {
                return futures::future::pending::<Response>().await;
            }
            let status = serde_json::json!({"kind": "Status", "apiVersion": "v1",
                "metadata": {}, "status": "Failure", "reason": "Forbidden", "code": 403,
                "message": "pods is forbidden: User \"system:serviceaccount:ops:recycler\" cannot list resource \"pods\" in API group \"\" at the cluster scope"});
            return (
                StatusCode::FORBIDDEN,
                [("content-type", "application/json")],
                status.to_string(),
            )
                .into_response();
        }
        if uri.path() == "/apis/batch/v1" {
            let list = crate::support::batch_v1_resources();
            return ([("content-type", "application/json")], list.to_string()).into_response();
        }
        if watch {
            let idle = futures::stream::pending::<Result<bytes::Bytes, std::io::Error>>();
            return (
                [("content-type", "application/json")],
                Body::from_stream(idle),
            )
                .into_response();
        }
        let list = serde_json::json!({"kind": "List", "apiVersion": "v1",
            "metadata": {"resourceVersion": "1"}, "items": []});
        ([("content-type", "application/json")], list.to_string()).into_response()
    });
    let addr = crate::support::serve_on_loopback(app).await;
    let url = format!("http://{addr}").parse().expect("url");
    kube::Client::try_from(kube::Config::new(url)).expect("client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_fails_at_once_naming_a_forbidden_resource() {
    let client = stand_in(true).await;
    let started = Instant::now();
    let err = LiveCluster::start(&client, None, PdbVersion::V1)
        .await
        .expect_err("pods are forbidden");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "no waiting for a list that cannot succeed: {:?}",
        started.elapsed()
    );
    assert!(
        matches!(err, LiveError::WatchFailed { what: "pods", .. }),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "failed to watch pods");
    let chain = format!("{:#}", anyhow::Error::from(err));
    assert!(chain.contains("cannot list resource"), "{chain}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_times_out_naming_the_lists_still_pending() {
    let client = stand_in(false).await;
    let err =
        LiveCluster::start_with_timeout(&client, None, PdbVersion::V1, Duration::from_secs(1))
            .await
            .expect_err("pods never list");
    assert!(
        matches!(&err, LiveError::NotReady { what, .. } if what == "pods"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "the initial list of pods did not complete within 1s"
    );
}

/// A generated cluster (many namespaces, Deployments, ReplicaSets, StatefulSets, PDBs) projects
/// the same from the watches as from a full read. Timing at larger sizes is a benchmark:
/// `cargo bench -p tke-recycle --bench live_view`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_snapshot_equals_read_snapshot_on_a_generated_cluster() {
    let spec = "nodes=40,pods=1200";
    let scenario = Scenario {
        generate: Some(Generate::parse(spec).expect("nodes=N,pods=M")),
        ..Scenario::default()
    };
    let (sim, c) = start(scenario).await;
    let live = live_equals_read(&sim, &c, spec).await;
    let snap = live.snapshot().expect("snapshot");
    assert_eq!(snap.pods.len(), 1200, "every generated pod is in the view");
    let node = &snap.nodes[0].name;
    let mut expected: Vec<String> = snap
        .pods
        .iter()
        .filter(|p| p.node_name.as_deref() == Some(node.as_str()))
        .map(|p| format!("{}/{}", p.namespace, p.name))
        .collect();
    expected.sort();
    let on_node: Vec<String> = live
        .pods_on_node(node)
        .iter()
        .map(|p| {
            format!(
                "{}/{}",
                p.metadata.namespace.as_deref().unwrap_or_default(),
                p.metadata.name.as_deref().unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(on_node, expected, "pods_on_node agrees with the projection");
}

/// Jobs and CronJobs come through the watches as through the lists: the CronJob's Job's pods
/// resolve to the CronJob, which counts them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_snapshot_equals_read_snapshot_with_jobs_and_cron_jobs() {
    let (sim, c) = start(scenario("batch.yaml")).await;
    assert!(
        sim.wait_until(Duration::from_secs(30), SimHandle::settled)
            .await,
        "batch scenario settles"
    );
    let live = live_equals_read(&sim, &c, "batch").await;
    let snap = live.snapshot().expect("snapshot");
    let report = snap
        .workloads
        .iter()
        .find(|w| w.name == "report")
        .expect("the CronJob is a workload");
    assert_eq!(report.kind, WorkloadKind::Other("CronJob".into()));
    assert_eq!(report.replicas, 2, "the pods its Job wants");
    let owned: Vec<_> = snap
        .pods
        .iter()
        .filter(|p| p.owner.as_ref().is_some_and(|o| o.name == "report"))
        .collect();
    assert_eq!(
        owned.len(),
        2,
        "both pods of its Job resolve to the CronJob"
    );
}

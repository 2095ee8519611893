//! The host's cluster and cloud access against the practice cluster (in process, loopback):
//! snapshot, cordon, every eviction outcome, watch waits, the lease lock, node events, the TKE
//! client (typed actions, pagination, partial results, throttling), the CLI subcommands, and the
//! secret key never leaking. Two outcomes the practice cluster does not model (policy/v1beta1
//! eviction and a terminating namespace) run against a purpose-built server at the end.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Event, Node, Pod};
use kube::api::{Api, ListParams};
use tke_recycle::bindings::types::{VolumeSource, WorkloadKind};
use tke_recycle::k8s::client::{Clients, KubeOptions};
use tke_recycle::k8s::events::{self, RecycleStep};
use tke_recycle::k8s::evict::{self, EvictOutcome, EvictionVersion};
use tke_recycle::k8s::lease::{LeaseError, LeaseLock};
use tke_recycle::k8s::node_ops;
use tke_recycle::k8s::served::{self, PdbVersion};
use tke_recycle::k8s::snapshot::{read_snapshot, write_snapshot};
use tke_recycle::k8s::wait::{self, NodeGoal, PodKey};
use tke_recycle::sim::scenario::Scenario;
use tke_recycle::sim::{Sim, SimHandle, SimOptions};
use tke_recycle::snapshot::Snapshot;
use tke_recycle::tke::actions::{
    AddExistedInstances, AddOutcome, DeleteClusterInstances, DescribeClusterInstances,
    DescribeClusters, DescribeExistedInstances, LoginSettings,
};
use tke_recycle::tke::client::{ClientConfig, TcClient, TkeError};
use tke_recycle::tke::credentials::{Credentials, Secret};
use tke_recycle::tke::mapping::{Confirmation, map_nodes};
use tke_recycle::tke::retry::Backoff;

use crate::support::bin;
use crate::support::{RunCli as _, serve_on_loopback};

const SCENARIO: &str = r#"
name: access
speed: 50
cluster: {id: cls-access01, region: ap-guangzhou}
nodes:
  - {lanIp: 10.0.3.11, instanceId: ins-acc00011}
  - {lanIp: 10.0.3.12, instanceId: ins-acc00012, chargeType: PREPAID, nodePoolId: np-acc1}
  - {lanIp: 10.0.3.13, instanceId: ins-acc00013}
vms:
  - {instanceId: ins-acc00020, lanIp: 10.0.3.20}
objects:
  - apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web, namespace: shop}
    spec:
      replicas: 2
      selector: {matchLabels: {app: web}}
      template:
        metadata: {labels: {app: web}}
        spec:
          terminationGracePeriodSeconds: 5
          containers:
            - {name: web, image: nginx, resources: {requests: {cpu: 200m, memory: 256Mi}}}
          initContainers:
            - {name: init, image: busybox, resources: {requests: {cpu: "1", memory: 64Mi}}}
  - apiVersion: apps/v1
    kind: Deployment
    metadata: {name: api, namespace: default}
    spec:
      replicas: 2
      selector: {matchLabels: {app: api}}
      template:
        metadata: {labels: {app: api}}
        spec:
          containers: [{name: api, image: api, resources: {requests: {cpu: 100m}}}]
  - apiVersion: policy/v1
    kind: PodDisruptionBudget
    metadata: {name: api-strict, namespace: default}
    spec: {minAvailable: 2, selector: {matchLabels: {app: api}}}
  - apiVersion: apps/v1
    kind: Deployment
    metadata: {name: multi, namespace: default}
    spec:
      replicas: 1
      selector: {matchLabels: {app: multi}}
      template:
        metadata: {labels: {app: multi}}
        spec:
          containers: [{name: m, image: m}]
  - apiVersion: policy/v1
    kind: PodDisruptionBudget
    metadata: {name: multi-a, namespace: default}
    spec: {maxUnavailable: 1, selector: {matchLabels: {app: multi}}}
  - apiVersion: policy/v1
    kind: PodDisruptionBudget
    metadata: {name: multi-b, namespace: default}
    spec: {maxUnavailable: 1, selector: {matchLabels: {app: multi}}}
  - apiVersion: v1
    kind: PersistentVolume
    metadata: {name: local-pv-1}
    spec:
      capacity: {storage: 10Gi}
      accessModes: [ReadWriteOnce]
      storageClassName: local-storage
      local: {path: /mnt/disks/ssd1}
      nodeAffinity:
        required:
          nodeSelectorTerms:
            - matchExpressions:
                - {key: kubernetes.io/hostname, operator: In, values: [10.0.3.13]}
  - apiVersion: v1
    kind: PersistentVolumeClaim
    metadata: {name: data, namespace: shop}
    spec:
      accessModes: [ReadWriteOnce]
      storageClassName: local-storage
      volumeName: local-pv-1
      resources: {requests: {storage: 10Gi}}
  - apiVersion: v1
    kind: Pod
    metadata: {name: pinned, namespace: shop}
    spec:
      nodeName: 10.0.3.13
      containers: [{name: c, image: c}]
      volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]
"#;

async fn start(extra: &str) -> SimHandle {
    let text = format!("{SCENARIO}{extra}");
    let scenario = Scenario::from_yaml(&text).expect("scenario parses");
    Sim::start(scenario, SimOptions::default())
        .await
        .expect("practice cluster starts")
}

async fn clients(sim: &SimHandle) -> Clients {
    Clients::connect(&KubeOptions {
        kubeconfig: Some(sim.kubeconfig.clone()),
        context: None,
    })
    .await
    .expect("kube clients")
}

fn tke(sim: &SimHandle, backoff: Backoff) -> TcClient {
    let mut config = ClientConfig::new(
        Credentials {
            secret_id: sim.secret_id.clone(),
            secret_key: Secret::new(sim.secret_key.clone()),
            session_token: None,
        },
        sim.region.clone(),
    );
    config.tke_endpoint = Some(sim.tke_url.clone());
    config.backoff = backoff;
    TcClient::new(config).expect("tke client")
}

fn keep_login() -> LoginSettings {
    LoginSettings {
        keep_image_login: Some("true".into()),
        ..Default::default()
    }
}

fn fast_backoff() -> Backoff {
    Backoff {
        base: Duration::from_millis(20),
        max: Duration::from_millis(200),
        attempts: 8,
    }
}

async fn pods_of(client: &kube::Client, ns: &str, app: &str) -> Vec<Pod> {
    Api::<Pod>::namespaced(client.clone(), ns)
        .list(&ListParams::default().labels(&format!("app={app}")))
        .await
        .expect("list pods")
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect()
}

fn key(p: &Pod) -> PodKey {
    PodKey {
        namespace: p.metadata.namespace.clone().unwrap_or_default(),
        name: p.metadata.name.clone().unwrap_or_default(),
        uid: p.metadata.uid.clone().unwrap_or_default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_projects_the_practice_cluster() {
    let sim = start("").await;
    let c = clients(&sim).await;
    let snap = read_snapshot(&c.reads, Some(sim.cluster_id.clone()))
        .await
        .expect("snapshot");
    assert_eq!(snap.nodes.len(), 3);
    let n12 = snap
        .nodes
        .iter()
        .find(|n| n.name == "10.0.3.12")
        .expect("node");
    assert_eq!(n12.instance_id.as_deref(), Some("ins-acc00012"));
    assert_eq!(n12.internal_ip.as_deref(), Some("10.0.3.12"));
    assert!(n12.allocatable.cpu_millis > 0 && n12.allocatable.memory_bytes > 0);
    let web: Vec<_> = snap
        .pods
        .iter()
        .filter(|p| p.namespace == "shop" && p.name.starts_with("web-"))
        .collect();
    assert_eq!(web.len(), 2);
    for p in &web {
        let owner = p.owner.as_ref().expect("owned");
        assert_eq!(
            (owner.kind.clone(), owner.name.as_str()),
            (WorkloadKind::Deployment, "web")
        );
        // max(200m app, 1 init) = 1000m; memory max(256Mi, 64Mi).
        assert_eq!(
            (p.requests.cpu_millis, p.requests.memory_bytes),
            (1000, 256 << 20)
        );
        assert_eq!(p.termination_grace_seconds, 5);
    }
    let pinned = snap
        .pods
        .iter()
        .find(|p| p.name == "pinned")
        .expect("pinned pod");
    match &pinned.volumes[0].source {
        VolumeSource::PersistentVolumeClaim(c) => {
            assert_eq!(c.pinned_node.as_deref(), Some("10.0.3.13"));
            assert_eq!(c.storage_class.as_deref(), Some("local-storage"));
        }
        other => panic!("unexpected volume {other:?}"),
    }
    assert!(
        snap.pdbs
            .iter()
            .any(|p| p.name == "api-strict" && p.disruptions_allowed == 0)
    );
    assert!(
        snap.workloads
            .iter()
            .any(|w| w.name == "web" && w.kind == WorkloadKind::Deployment)
    );
    assert!(
        !snap
            .workloads
            .iter()
            .any(|w| w.kind == WorkloadKind::ReplicaSet),
        "ReplicaSets owned by Deployments are not workloads of their own"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_and_check_commands_end_to_end() {
    let sim = start("").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("snap.json");
    // A copy: the practice cluster deletes its own when it stops, and the last case needs one
    // that points at a cluster that is gone.
    let copy = dir.path().join("kubeconfig");
    std::fs::copy(&sim.kubeconfig, &copy).expect("copy kubeconfig");
    let kubeconfig = copy.to_str().expect("utf-8").to_owned();
    let out = bin()
        .args([
            "snapshot",
            "-o",
            file.to_str().expect("utf-8"),
            "--cluster",
            "cls-access01",
            "--kubeconfig",
            &kubeconfig,
        ])
        .run_cli()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = bin()
        .args([
            "policy",
            "check",
            "--snapshot",
            file.to_str().expect("utf-8"),
            "--node",
            "10.0.3.11",
            "-o",
            "json",
        ])
        .run_cli()
        .expect("runs");
    // The scenario's PDB api-strict (minAvailable 2 of 2) covers a pod on this node: the bundled
    // pdb policy must deny, offline and live alike.
    let offline = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{offline}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        offline.contains("pdb.zero-budget") && offline.contains("api-strict"),
        "{offline}"
    );

    let out = bin()
        .args([
            "check",
            "--cluster",
            "cls-access01",
            "--node",
            "10.0.3.11",
            "--kubeconfig",
            &kubeconfig,
            "-o",
            "json",
        ])
        .run_cli()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(doc["denied"], true);
    assert_eq!(doc["targets"][0], "10.0.3.11");
    let live: Vec<&str> = doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["code"].as_str())
        .collect();
    let offline_doc: serde_json::Value = serde_json::from_str(&offline).expect("json");
    let offline: Vec<&str> = offline_doc["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["code"].as_str())
        .collect();
    assert_eq!(
        live, offline,
        "the live check and the offline check of its snapshot agree"
    );

    let out = bin()
        .args(["check", "--node", "10.9.9.9", "--kubeconfig", &kubeconfig])
        .run_cli()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "unknown node is bad input");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such node in the cluster: 10.9.9.9"));

    drop(sim);
    let out = bin()
        .args(["check", "--node", "10.0.3.11", "--kubeconfig", &kubeconfig])
        .run_cli()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(3),
        "an unreachable cluster cannot complete the check"
    );
    let missing = dir.path().join("missing-kubeconfig");
    let out = bin()
        .args([
            "check",
            "--node",
            "n",
            "--kubeconfig",
            missing.to_str().expect("utf-8"),
        ])
        .run_cli()
        .expect("runs");
    assert_eq!(
        out.status.code(),
        Some(2),
        "a missing kubeconfig is a usage error"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_eviction_outcome_on_the_practice_cluster() {
    let sim = start("").await;
    let c = clients(&sim).await;
    let served = served::discover(&c.direct).await.expect("discovery");
    assert_eq!(served.pdb, PdbVersion::V1);
    let version = served.eviction;
    assert_eq!(version, EvictionVersion::V1);

    // Blocked, and at once: the direct client does not retry the 429 for minutes.
    let api = pods_of(&c.reads, "default", "api").await;
    let p = key(&api[0]);
    let started = Instant::now();
    let outcome = evict::evict(&c.direct, version, &p.namespace, &p.name, &p.uid, None)
        .await
        .expect("answer");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    match outcome {
        EvictOutcome::Blocked { pdb, .. } => assert_eq!(pdb.as_deref(), Some("api-strict")),
        other => panic!("expected blocked, got {other:?}"),
    }

    // Multiple PDBs.
    let multi = pods_of(&c.reads, "default", "multi").await;
    let m = key(&multi[0]);
    let outcome = evict::evict(&c.direct, version, &m.namespace, &m.name, &m.uid, None)
        .await
        .expect("answer");
    assert!(
        matches!(outcome, EvictOutcome::MultiplePdbs { .. }),
        "{outcome:?}"
    );

    // Replaced: the UID precondition names another pod.
    let web = pods_of(&c.reads, "shop", "web").await;
    let w = key(&web[0]);
    let outcome = evict::evict(
        &c.direct,
        version,
        &w.namespace,
        &w.name,
        "not-this-uid",
        None,
    )
    .await
    .expect("answer");
    assert_eq!(outcome, EvictOutcome::Replaced);

    // Gone.
    let outcome = evict::evict(&c.direct, version, "shop", "no-such-pod", "u", None)
        .await
        .expect("answer");
    assert_eq!(outcome, EvictOutcome::Gone);

    // Evicted, then waited for by watch until gone (the Deployment replaces it under a new name).
    let node = web[0]
        .spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .expect("bound");
    let outcome = evict::evict(&c.direct, version, &w.namespace, &w.name, &w.uid, Some(1))
        .await
        .expect("answer");
    assert_eq!(outcome, EvictOutcome::Evicted);
    wait::pods_gone(
        &c.reads,
        &node,
        std::slice::from_ref(&w),
        Duration::from_secs(20),
    )
    .await
    .expect("evicted pod goes away");
    let pinned = Api::<Pod>::namespaced(c.reads.clone(), "shop")
        .get("pinned")
        .await
        .expect("pinned pod");
    let err = wait::pods_gone(
        &c.reads,
        "10.0.3.13",
        &[key(&pinned)],
        Duration::from_millis(500),
    )
    .await
    .expect_err("a pod nobody evicts stays");
    assert!(err.to_string().contains("shop/pinned"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cordon_uncordon_and_node_events() {
    let sim = start("").await;
    let c = clients(&sim).await;
    let nodes = Api::<Node>::all(c.reads.clone());
    let unschedulable = |n: Node| n.spec.and_then(|s| s.unschedulable).unwrap_or(false);
    assert!(
        node_ops::cordon(&c.direct, "10.0.3.11")
            .await
            .expect("cordon")
    );
    assert!(unschedulable(nodes.get("10.0.3.11").await.expect("node")));
    assert!(
        !node_ops::cordon(&c.direct, "10.0.3.11")
            .await
            .expect("cordon again"),
        "no second patch"
    );
    assert!(
        node_ops::uncordon(&c.direct, "10.0.3.11")
            .await
            .expect("uncordon")
    );
    assert!(!unschedulable(nodes.get("10.0.3.11").await.expect("node")));
    let err = node_ops::cordon(&c.direct, "10.9.9.9")
        .await
        .expect_err("no such node");
    assert_eq!(err.to_string(), "failed to read node 10.9.9.9");

    for (step, msg) in [
        (RecycleStep::RecycleStarted, "recycle started by test"),
        (
            RecycleStep::RecycleFailed,
            "drain timed out; node left cordoned",
        ),
    ] {
        events::record(&c.direct, "10.0.3.11", step, msg)
            .await
            .expect("event");
    }
    // What `kubectl describe node` asks for.
    let found = Api::<Event>::namespaced(c.reads.clone(), "default")
        .list(&ListParams::default().fields(
            "involvedObject.kind=Node,involvedObject.name=10.0.3.11,involvedObject.uid=10.0.3.11",
        ))
        .await
        .expect("list events");
    let mut reasons: Vec<_> = found
        .items
        .iter()
        .map(|e| {
            (
                e.reason.clone().unwrap_or_default(),
                e.type_.clone().unwrap_or_default(),
            )
        })
        .collect();
    reasons.sort();
    assert_eq!(
        reasons,
        vec![
            ("RecycleFailed".into(), "Warning".into()),
            ("RecycleStarted".into(), "Normal".into())
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lease_lock_refuses_a_second_run_and_allows_takeover_after_expiry() {
    let sim = start("").await;
    let c = clients(&sim).await;
    let ttl = Duration::from_secs(2);
    let mut first = LeaseLock::acquire(
        &c.direct,
        "kube-system",
        "tke-recycle",
        "alice@ops pid 1",
        ttl,
    )
    .await
    .expect("first run takes the lock");
    let err = LeaseLock::acquire(
        &c.direct,
        "kube-system",
        "tke-recycle",
        "bob@ops pid 2",
        ttl,
    )
    .await
    .expect_err("second run is refused");
    match &err {
        LeaseError::Held { holder, since, .. } => {
            assert_eq!(holder, "alice@ops pid 1");
            assert_ne!(since, "unknown");
        }
        other => panic!("expected held, got {other:?}"),
    }
    assert!(
        err.to_string()
            .starts_with("another recycle holds the lock: alice@ops pid 1 since 20"),
        "{err}"
    );
    first.renew().await.expect("renew");
    first.release().await.expect("release");
    let second = LeaseLock::acquire(
        &c.direct,
        "kube-system",
        "tke-recycle",
        "bob@ops pid 2",
        ttl,
    )
    .await
    .expect("free after release");

    // bob stops renewing; after the TTL carol may take over, and bob has lost it.
    tokio::time::sleep(ttl + Duration::from_millis(300)).await;
    let _carol = LeaseLock::acquire(
        &c.direct,
        "kube-system",
        "tke-recycle",
        "carol@ops pid 3",
        ttl,
    )
    .await
    .expect("takeover after expiry");
    let mut second = second;
    let err = second.renew().await.expect_err("bob lost it");
    assert!(
        matches!(err, LeaseError::Lost { ref holder, .. } if holder == "carol@ops pid 3"),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tke_client_maps_removes_and_re_adds_nodes() {
    let sim = start(
        "\nfaults: {addTimeoutInstanceIds: [ins-acc00013]}\ntiming: {addInstanceSeconds: 30}\n",
    )
    .await;
    let c = clients(&sim).await;
    let tc = tke(&sim, fast_backoff());
    let cluster = tc
        .cluster("cls-access01")
        .await
        .expect("describe")
        .expect("exists");
    assert_eq!(cluster.node_name_type(), "lan-ip");
    let instances = tc
        .cluster_instances("cls-access01", &[])
        .await
        .expect("instances");
    assert_eq!(instances.len(), 3);
    let snap = read_snapshot(&c.reads, None).await.expect("snapshot");
    let rows = map_nodes(&snap.nodes, &instances, &Default::default());
    assert!(
        rows.iter()
            .all(|r| r.confirmation == Confirmation::Confirmed),
        "{rows:?}"
    );
    assert_eq!(
        rows.iter()
            .find(|r| r.node.as_deref() == Some("10.0.3.12"))
            .and_then(|r| r.node_pool.clone())
            .as_deref(),
        Some("np-acc1")
    );

    // An API error carries action, code, message and RequestId.
    let err = tc
        .call(&DescribeClusterInstances {
            cluster_id: "cls-nope".into(),
            ..Default::default()
        })
        .await
        .expect_err("unknown cluster");
    match &err {
        TkeError::Api {
            action,
            code,
            request_id,
            ..
        } => {
            assert_eq!(*action, "DescribeClusterInstances");
            assert!(
                code.contains("ClusterNotFound")
                    || code.starts_with("ResourceNotFound")
                    || code.starts_with("InvalidParameter"),
                "{code}"
            );
            assert!(!request_id.is_empty());
        }
        other => panic!("expected API error, got {other:?}"),
    }

    // Remove keeping the VM, wait for the Node to go, add it back, wait for it to return.
    let old_uid = Api::<Node>::all(c.reads.clone())
        .get("10.0.3.11")
        .await
        .expect("node")
        .metadata
        .uid;
    let resp = tc
        .call(&DeleteClusterInstances {
            cluster_id: "cls-access01".into(),
            instance_ids: vec!["ins-acc00011".into()],
            ..Default::default()
        })
        .await
        .expect("delete");
    assert_eq!(
        resp.succ_instance_ids.unwrap_or_default(),
        vec!["ins-acc00011".to_owned()]
    );
    assert!(
        sim.terminated_instances().is_empty(),
        "retain never destroys the VM"
    );
    assert_eq!(
        sim.action_log()
            .iter()
            .rev()
            .find(|a| a.action == "DeleteClusterInstances")
            .map(|a| a.params["InstanceDeleteMode"].clone()),
        Some(serde_json::json!("retain"))
    );
    wait::node(
        &c.reads,
        "10.0.3.11",
        NodeGoal::Removed,
        Duration::from_secs(20),
    )
    .await
    .expect("node removed");
    let resp = tc
        .call(&AddExistedInstances {
            cluster_id: "cls-access01".into(),
            instance_ids: vec![
                "ins-acc00011".into(),
                "ins-acc00012".into(),
                "ins-acc00020".into(),
            ],
            login_settings: Some(keep_login()),
            ..Default::default()
        })
        .await
        .expect("add");
    assert_eq!(resp.outcome("ins-acc00011"), AddOutcome::Succeeded);
    assert_eq!(resp.outcome("ins-acc00020"), AddOutcome::Succeeded);
    match resp.outcome("ins-acc00012") {
        AddOutcome::Failed(Some(reason)) => {
            assert!(reason.contains("already in cluster"), "{reason}")
        }
        other => panic!("expected failure with a reason, got {other:?}"),
    }
    let new_uid = wait::node(
        &c.reads,
        "10.0.3.11",
        NodeGoal::Present { old_uid },
        Duration::from_secs(20),
    )
    .await
    .expect("node re-added");
    assert!(new_uid.is_some());
    wait::node(
        &c.reads,
        "10.0.3.11",
        NodeGoal::Ready,
        Duration::from_secs(20),
    )
    .await
    .expect("node ready");

    // A timed-out add: outcome unknown until the state is re-read.
    tc.call(&DeleteClusterInstances {
        cluster_id: "cls-access01".into(),
        instance_ids: vec!["ins-acc00013".into()],
        ..Default::default()
    })
    .await
    .expect("delete 13");
    let resp = tc
        .call(&AddExistedInstances {
            cluster_id: "cls-access01".into(),
            instance_ids: vec!["ins-acc00013".into()],
            login_settings: Some(keep_login()),
            ..Default::default()
        })
        .await
        .expect("add 13");
    assert_eq!(resp.outcome("ins-acc00013"), AddOutcome::TimedOut);
    let reread = tc
        .cluster_instances("cls-access01", &["ins-acc00013".into()])
        .await
        .expect("re-read");
    assert_eq!(reread.len(), 1, "re-reading shows the add did happen");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_is_retried_for_reads_and_never_for_writes() {
    let sim = start("\nfaults: {tkeThrottleRate: 0.5}\n").await;
    let tc = tke(&sim, fast_backoff());
    for _ in 0..10 {
        tc.cluster_instances("cls-access01", &[])
            .await
            .expect("reads get through throttling");
    }
    let log = sim.action_log();
    let throttled_reads = log
        .iter()
        .filter(|a| {
            a.action == "DescribeClusterInstances"
                && a.error.as_deref() == Some("RequestLimitExceeded")
        })
        .count();
    assert!(throttled_reads > 0, "the fault was injected and retried");

    let mut writes = 0;
    let mut throttled = 0;
    while throttled == 0 && writes < 40 {
        writes += 1;
        let r = tc
            .call(&DeleteClusterInstances {
                cluster_id: "cls-access01".into(),
                instance_ids: vec!["ins-not-there".into()],
                ..Default::default()
            })
            .await;
        if let Err(e) = r {
            assert_eq!(e.code(), Some("RequestLimitExceeded"), "{e}");
            throttled += 1;
        }
    }
    assert_eq!(throttled, 1, "a throttled write surfaces");
    let sent = sim
        .action_log()
        .iter()
        .filter(|a| a.action == "DeleteClusterInstances")
        .count();
    assert_eq!(sent, writes, "every write was sent exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_command_lists_instances() {
    let sim = start("").await;
    let out = bin()
        .args([
            "nodes",
            "--cluster",
            "cls-access01",
            "--kubeconfig",
            sim.kubeconfig.to_str().expect("utf-8"),
            "--tke-endpoint",
            &sim.tke_url,
            "--region",
            &sim.region,
            "-o",
            "json",
        ])
        .env("TENCENTCLOUD_SECRET_ID", &sim.secret_id)
        .env("TENCENTCLOUD_SECRET_KEY", &sim.secret_key)
        .run_cli()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    let rows = rows.as_array().expect("array");
    let n12 = rows.iter().find(|r| r["node"] == "10.0.3.12").expect("row");
    assert_eq!(n12["instance_id"], "ins-acc00012");
    assert_eq!(n12["lan_ip"], "10.0.3.12");
    assert_eq!(n12["node_pool"], "np-acc1");
    assert_eq!(n12["tke_state"], "running");
    assert_eq!(n12["charge_type"], "PREPAID");
    assert_eq!(n12["confirmation"], "confirmed");
    let table = bin()
        .args([
            "nodes",
            "--cluster",
            "cls-access01",
            "--kubeconfig",
            sim.kubeconfig.to_str().expect("utf-8"),
            "--tke-endpoint",
            &sim.tke_url,
        ])
        .env("TENCENTCLOUD_SECRET_ID", &sim.secret_id)
        .env("TENCENTCLOUD_SECRET_KEY", &sim.secret_key)
        .env("TENCENTCLOUD_REGION", &sim.region)
        .run_cli()
        .expect("runs");
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("ins-acc00011") && text.contains("POSTPAID_BY_HOUR"),
        "{text}"
    );
    let out = bin()
        .args([
            "nodes",
            "--cluster",
            "cls-access01",
            "--kubeconfig",
            sim.kubeconfig.to_str().expect("utf-8"),
        ])
        .env_remove("TENCENTCLOUD_SECRET_ID")
        .env_remove("TENCENTCLOUD_SECRET_KEY")
        .run_cli()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("TENCENTCLOUD_SECRET_ID"));
}

/// A purpose-built API server for what the practice cluster does not model: a cluster that only
/// serves `policy/v1beta1` evictions (older TKE clusters), and a namespace being deleted.
async fn old_api_server() -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
    use axum::Json;
    use axum::extract::{Path, State};
    use axum::http::StatusCode;
    use axum::routing::{get, post};

    let seen: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
    let app = axum::Router::new()
        .route(
            "/api/v1",
            get(|| async {
                Json(serde_json::json!({"kind": "APIResourceList", "groupVersion": "v1", "resources": [
                    {"name": "pods", "singularName": "", "namespaced": true, "kind": "Pod", "verbs": ["get", "list"]},
                    {"name": "pods/eviction", "singularName": "", "namespaced": true, "group": "policy",
                     "version": "v1beta1", "kind": "Eviction", "verbs": ["create"]}]}))
            }),
        )
        .route(
            "/apis/policy",
            get(|| async {
                Json(serde_json::json!({"kind": "APIGroup", "apiVersion": "v1", "name": "policy",
                    "versions": [{"groupVersion": "policy/v1beta1", "version": "v1beta1"}],
                    "preferredVersion": {"groupVersion": "policy/v1beta1", "version": "v1beta1"}}))
            }),
        )
        .route(
            "/api/v1/namespaces/{ns}/pods/{name}/eviction",
            post(
                |State(seen): State<Arc<Mutex<Vec<serde_json::Value>>>>,
                 Path((ns, name)): Path<(String, String)>,
                 Json(body): Json<serde_json::Value>| async move {
                    seen.lock().unwrap_or_else(|e| e.into_inner()).push(body.clone());
                    if body["apiVersion"] != "policy/v1beta1" {
                        return (StatusCode::NOT_FOUND, Json(serde_json::json!({"kind": "Status", "code": 404,
                            "message": "the server could not find the requested resource"})));
                    }
                    if ns == "dying" {
                        return (StatusCode::FORBIDDEN, Json(serde_json::json!({
                            "kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 403,
                            "reason": "Forbidden",
                            "message": format!("pods \"{name}\" is forbidden: unable to create new content in namespace dying because it is being terminated"),
                            "details": {"name": name, "kind": "pods", "causes": [{"reason": "NamespaceTerminating",
                                "message": "namespace dying is being terminated", "field": "metadata.namespace"}]}})));
                    }
                    (StatusCode::CREATED, Json(serde_json::json!({"kind": "Status", "status": "Success", "code": 201})))
                },
            ),
        )
        .with_state(seen.clone());
    (format!("http://{}", serve_on_loopback(app).await), seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1beta1_eviction_and_terminating_namespace_on_an_older_server() {
    let (url, seen) = old_api_server().await;
    let config = kube::Config::new(url.parse().expect("uri"));
    let c = Clients::from_config(config).expect("clients");
    let served = served::discover(&c.direct).await.expect("discovery");
    assert_eq!(served.pdb, PdbVersion::V1beta1);
    let version = served.eviction;
    assert_eq!(version, EvictionVersion::V1beta1);
    let outcome = evict::evict(&c.direct, version, "shop", "web-1", "u-1", None)
        .await
        .expect("answer");
    assert_eq!(outcome, EvictOutcome::Evicted);
    let outcome = evict::evict(&c.direct, version, "dying", "web-2", "u-2", None)
        .await
        .expect("answer");
    assert_eq!(outcome, EvictOutcome::NamespaceTerminating);
    let bodies = seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert_eq!(bodies.len(), 2);
    assert_eq!(bodies[0]["kind"], "Eviction");
    assert_eq!(bodies[0]["deleteOptions"]["preconditions"]["uid"], "u-1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_file_that_cannot_be_written_is_named() {
    let sim = start("").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("missing").join("snap.json");
    let out = bin()
        .args(["snapshot", "-o"])
        .arg(&file)
        .arg("--kubeconfig")
        .arg(&sim.kubeconfig)
        .run_cli()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot write snapshot file {}", file.display())),
        "{stderr}"
    );
    assert!(!file.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_lists_are_paged_on_both_apis() {
    let sim = start("\ngenerate: {nodes: 120, pods: 1100}\n").await;
    let c = clients(&sim).await;
    let snap = read_snapshot(&c.reads, None).await.expect("snapshot");
    // More than one page (500) of pods, every one of them: 1,100 generated plus the scenario's.
    assert_eq!(snap.nodes.len(), 123);
    let generated = snap
        .pods
        .iter()
        .filter(|p| p.namespace.starts_with("team-"))
        .count();
    assert_eq!(generated, 1100);
    assert!(
        snap.pods
            .iter()
            .filter(|p| p.namespace.starts_with("team-"))
            .all(|p| p
                .owner
                .as_ref()
                .is_some_and(|o| o.kind == WorkloadKind::Deployment))
    );
    // The snapshot command's path, pods written page by page as they are projected, writes the
    // same snapshot (the cluster is quiet: nothing changes between the two reads).
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("snap.json");
    let written = write_snapshot(&c.reads, None, &path)
        .await
        .expect("written");
    assert_eq!(written.pods, snap.pods.len());
    let mut from_file = Snapshot::load(&path).expect("loads");
    from_file.taken_at = snap.taken_at;
    assert_eq!(
        serde_json::to_value(&from_file).expect("json"),
        serde_json::to_value(&snap).expect("json")
    );
    // More than one page (100) of instances.
    let tc = tke(&sim, fast_backoff());
    let instances = tc
        .cluster_instances(&sim.cluster_id, &[])
        .await
        .expect("instances");
    assert_eq!(instances.len(), 123);
    let pages = sim
        .action_log()
        .iter()
        .filter(|a| a.action == "DescribeClusterInstances")
        .count();
    assert_eq!(pages, 2);
    // The VM outside the cluster can be added.
    let existed = tc
        .call(&DescribeExistedInstances {
            instance_ids: vec!["ins-acc00020".into()],
            ..Default::default()
        })
        .await
        .expect("describe existed");
    let vm = &existed.existed_instance_set.expect("set")[0];
    assert_eq!(
        (vm.instance_id.as_str(), vm.usable),
        ("ins-acc00020", Some(true))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_side_rate_limit_stays_under_the_documented_limit() {
    let sim = start("").await;
    // No retries at all: any throttling by the server would fail a call.
    let tc = tke(
        &sim,
        Backoff {
            attempts: 1,
            ..fast_backoff()
        },
    );
    let started = Instant::now();
    let request = DescribeClusters::default();
    let calls = (0..45).map(|_| tc.call(&request));
    for r in futures::future::join_all(calls).await {
        r.expect("never throttled");
    }
    // 45 calls at 15/s take at least ~3 s.
    assert!(
        started.elapsed() >= Duration::from_millis(2900),
        "{:?}",
        started.elapsed()
    );
    assert!(sim.action_log().iter().all(|a| a.error.is_none()));
}

/// A TKE endpoint that fails the first answers of each action: `502` for DescribeClusters,
/// `InternalError` for DescribeClusterInstances, and `502` for every AddExistedInstances.
async fn flaky_tke_server() -> (String, Arc<Mutex<Vec<String>>>) {
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::IntoResponse;

    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = seen.clone();
    let app = axum::Router::new().fallback(move |headers: HeaderMap| {
        let log = log.clone();
        async move {
            let action = headers
                .get("x-tc-action")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let n = {
                let mut l = log.lock().unwrap_or_else(|e| e.into_inner());
                l.push(action.clone());
                l.iter().filter(|a| **a == action).count()
            };
            let ok = |body: serde_json::Value| {
                (StatusCode::OK, [("content-type", "application/json")], body.to_string()).into_response()
            };
            match (action.as_str(), n) {
                ("DescribeClusters", 1 | 2) | ("AddExistedInstances", _) => StatusCode::BAD_GATEWAY.into_response(),
                ("DescribeClusters", _) => ok(serde_json::json!({"Response": {"TotalCount": 0, "Clusters": [], "RequestId": "r-ok"}})),
                ("DescribeClusterInstances", 1) => ok(serde_json::json!({"Response": {
                    "Error": {"Code": "InternalError", "Message": "try again"}, "RequestId": "r-ie"}})),
                _ => ok(serde_json::json!({"Response": {"TotalCount": 0, "InstanceSet": [], "RequestId": "r-ok2"}})),
            }
        }
    });
    (format!("http://{}/", serve_on_loopback(app).await), seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_retry_5xx_and_internal_error_writes_report_an_unknown_outcome() {
    let (url, seen) = flaky_tke_server().await;
    let mut config = ClientConfig::new(
        Credentials {
            secret_id: "AKIDtest".into(),
            secret_key: Secret::new("k"),
            session_token: None,
        },
        "ap-guangzhou".into(),
    );
    config.tke_endpoint = Some(url);
    config.backoff = fast_backoff();
    let tc = TcClient::new(config).expect("client");
    tc.call(&DescribeClusters::default())
        .await
        .expect("two 502s are retried");
    tc.cluster_instances("cls-x", &[])
        .await
        .expect("InternalError is retried");
    let err = tc
        .call(&AddExistedInstances {
            cluster_id: "cls-x".into(),
            instance_ids: vec!["ins-1".into()],
            ..Default::default()
        })
        .await
        .expect_err("502 on a write");
    assert!(matches!(err, TkeError::OutcomeUnknown { .. }), "{err:?}");
    assert!(err.to_string().contains("re-read the state"), "{err}");
    let seen = seen.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let count = |a: &str| seen.iter().filter(|s| *s == a).count();
    assert_eq!(
        (
            count("DescribeClusters"),
            count("DescribeClusterInstances"),
            count("AddExistedInstances")
        ),
        (3, 2, 1),
        "reads retried until they succeeded; the write was sent once"
    );
}

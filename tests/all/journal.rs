//! The in-cluster run journal (one ConfigMap per run) against the practice cluster: create,
//! write, reopen elsewhere, optimistic concurrency between two writers, listing by label.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, PostParams};
use tke_recycle::k8s::client::{Clients, KubeOptions};
use tke_recycle::run::journal::{
    DEFAULT_NAMESPACE, Journal, JournalBackend, JournalError, MANAGED_BY_LABEL, RUN_LABEL,
    RunRecord, RunStatus, RunbookRef, StepPhase, configmap_name,
};
use tke_recycle::sim::{Sim, SimHandle, SimOptions};

use crate::sim_common::scenario;

async fn start() -> (SimHandle, Clients) {
    let sim = Sim::start(scenario("small.yaml"), SimOptions::default())
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

fn backend(clients: &Clients) -> JournalBackend {
    JournalBackend::InCluster {
        client: clients.direct.clone(),
        namespace: DEFAULT_NAMESPACE.into(),
    }
}

fn record(run_id: &str, holder: &str) -> RunRecord {
    RunRecord::new(
        run_id.to_owned(),
        "recycle",
        RunbookRef {
            name: "bundled".into(),
            sha256: "00".repeat(32),
            path: None,
        },
        holder.to_owned(),
    )
}

fn configmaps(clients: &Clients) -> Api<ConfigMap> {
    Api::namespaced(clients.reads.clone(), DEFAULT_NAMESPACE)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configmap_journal_round_trip() {
    let (_sim, clients) = start().await;
    let backend = backend(&clients);
    let run = "20250102-030405-a1b2";
    let mut j = Journal::create(&backend, record(run, "first@host pid 1"))
        .await
        .expect("create");
    assert_eq!(
        j.location(),
        format!("ConfigMap kube-system/tke-recycle-run-{run}")
    );
    j.put("node/10.0.0.1/instance", "ins-1").await.expect("put");
    j.record_step("cordon", "10.0.0.1", StepPhase::Begin)
        .await
        .expect("step");
    j.set_status(RunStatus::Stopped {
        reason: "operator".into(),
    })
    .await
    .expect("status");

    // The object as stored: name, labels, the document under data["journal.json"].
    let cm = configmaps(&clients)
        .get(&configmap_name(run))
        .await
        .expect("configmap");
    let labels = cm.metadata.labels.expect("labels");
    assert_eq!(labels[MANAGED_BY_LABEL], "tke-recycle");
    assert_eq!(labels[RUN_LABEL], run);
    let doc: serde_json::Value =
        serde_json::from_str(&cm.data.expect("data")["journal.json"]).expect("json");
    assert_eq!(doc["format"], 1);
    assert_eq!(doc["entries"]["node/10.0.0.1/instance"], "ins-1");
    assert_eq!(doc["run"]["status"]["state"], "stopped");
    assert_eq!(doc["run"]["journal_writes"], 4);

    // Another process (a new Journal) reads it all back and carries on writing.
    let mut again = Journal::open(&backend, run).await.expect("open");
    assert_eq!(again.get("node/10.0.0.1/instance"), Some("ins-1"));
    assert_eq!(again.run(), j.run());
    assert_eq!(again.host_steps().len(), 1);
    again.set_holder("second@host pid 2").await.expect("holder");
    again
        .remove("node/10.0.0.1/instance")
        .await
        .expect("remove");
    let third = Journal::open(&backend, run).await.expect("open");
    assert_eq!(third.get("node/10.0.0.1/instance"), None);
    assert_eq!(third.run().holder, "second@host pid 2");

    // A second create of the same run is refused; an unknown run is not found.
    let e = Journal::create(&backend, record(run, "x"))
        .await
        .expect_err("exists");
    assert!(matches!(e, JournalError::AlreadyExists { .. }), "{e:?}");
    let e = Journal::open(&backend, "20990101-000000-0000")
        .await
        .expect_err("absent");
    assert!(matches!(e, JournalError::NotFound { .. }), "{e:?}");
    assert!(
        e.to_string()
            .contains("ConfigMap kube-system/tke-recycle-run-20990101-000000-0000"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configmap_journal_refuses_a_stale_writer() {
    let (_sim, clients) = start().await;
    let backend = backend(&clients);
    let run = "20250102-030405-c0c0";
    Journal::create(&backend, record(run, "creator@host pid 1"))
        .await
        .expect("create");
    let mut first = Journal::open(&backend, run).await.expect("open");
    let mut second = Journal::open(&backend, run).await.expect("open");

    first.set_holder("first@host pid 2").await.expect("holder");
    first.put("a", "1").await.expect("first writes");
    let e = second.put("b", "2").await.expect_err("stale writer");
    assert!(matches!(e, JournalError::Conflict { .. }), "{e:?}");
    let message = e.to_string();
    assert!(message.contains("another writer"), "{message}");
    assert!(message.contains("first@host pid 2"), "{message}");
    assert!(message.contains(run), "{message}");
    assert_eq!(second.get("b"), None, "a refused write is not kept");

    // The winner keeps writing; the stored document has its writes only.
    first.put("c", "3").await.expect("first writes again");
    let stored = Journal::open(&backend, run).await.expect("open");
    assert_eq!(stored.keys(""), ["a", "c"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configmap_journals_are_listed_by_label() {
    let (_sim, clients) = start().await;
    let backend = backend(&clients);
    assert!(Journal::list(&backend).await.expect("list").is_empty());
    let (older, newer) = ("20250101-000000-0001", "20250102-000000-0002");
    for (id, at) in [
        (newer, "2025-01-02T00:00:00Z"),
        (older, "2025-01-01T00:00:00Z"),
    ] {
        let mut r = record(id, "me");
        r.created_at = at.into();
        Journal::create(&backend, r).await.expect("create");
    }
    // Not listed: a ConfigMap without the labels, one with them but no journal, and one from
    // a newer tke-recycle (skipped with a warning, not fatal).
    let api = Api::<ConfigMap>::namespaced(clients.direct.clone(), DEFAULT_NAMESPACE);
    let labelled = |name: &str, run: &str, data: Option<&str>| ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(BTreeMap::from([
                (MANAGED_BY_LABEL.into(), "tke-recycle".into()),
                (RUN_LABEL.into(), run.into()),
            ])),
            ..ObjectMeta::default()
        },
        data: data.map(|d| BTreeMap::from([("journal.json".into(), d.into())])),
        ..ConfigMap::default()
    };
    let unlabelled = ConfigMap {
        metadata: ObjectMeta {
            name: Some("tke-recycle-run-20250103-000000-0003".into()),
            ..ObjectMeta::default()
        },
        ..ConfigMap::default()
    };
    for cm in [
        unlabelled,
        labelled(
            "tke-recycle-run-20250104-000000-0004",
            "20250104-000000-0004",
            None,
        ),
        labelled(
            "tke-recycle-run-20250105-000000-0005",
            "20250105-000000-0005",
            Some(r#"{"format": 7}"#),
        ),
    ] {
        api.create(&PostParams::default(), &cm)
            .await
            .expect("create configmap");
    }

    let listed: Vec<String> = Journal::list(&backend)
        .await
        .expect("list")
        .into_iter()
        .map(|r| r.run_id)
        .collect();
    assert_eq!(listed, [older, newer]);

    let e = Journal::open(&backend, "20250105-000000-0005")
        .await
        .expect_err("newer format");
    assert!(
        matches!(e, JournalError::NewerFormat { found: 7, .. }),
        "{e:?}"
    );
    let e = Journal::open(&backend, "20250104-000000-0004")
        .await
        .expect_err("no data");
    assert!(matches!(e, JournalError::Corrupt { .. }), "{e:?}");
}

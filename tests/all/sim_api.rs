//! The Kubernetes API of the practice cluster over raw HTTP and through kube-rs: auth,
//! discovery, Status errors, conflicts, paging, watch, eviction semantics and the scheduler.

use std::time::Duration;

use serde_json::{Value, json};
use tke_recycle::sim::SimHandle;
use tke_recycle::sim::resource::Res;

use crate::sim_common::{http, start};

async fn req(
    sim: &SimHandle,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
    ct: &str,
) -> (u16, Value) {
    let mut r = http()
        .request(method, format!("{}{path}", sim.k8s_url))
        .bearer_auth(&sim.token);
    if let Some(b) = body {
        r = r.header("Content-Type", ct).body(b.to_string());
    }
    let resp = r.send().await.expect("send");
    let code = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    (
        code,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn pod_of(sim: &SimHandle, ns: &str, app: &str) -> (String, String) {
    let p = sim
        .store()
        .list(Res::Pods, Some(ns))
        .into_iter()
        .find(|p| p.label("app") == Some(app) && !p.deleting())
        .expect("pod");
    (p.name.to_string(), p.uid.to_string())
}

async fn evict(sim: &SimHandle, ns: &str, name: &str, uid: Option<&str>) -> (u16, Value) {
    let mut body = json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name, "namespace": ns}});
    if let Some(uid) = uid {
        body["deleteOptions"] = json!({"preconditions": {"uid": uid}});
    }
    req(
        sim,
        reqwest::Method::POST,
        &format!("/api/v1/namespaces/{ns}/pods/{name}/eviction"),
        Some(body),
        "application/json",
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_api_auth_discovery_and_status_errors() {
    let sim = start("small.yaml", 50.0).await;
    let resp = http()
        .get(format!("{}/api/v1/nodes", sim.k8s_url))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 401);
    let v: Value = resp.json().await.expect("json");
    assert_eq!(
        (v["kind"].as_str(), v["reason"].as_str(), v["code"].as_i64()),
        (Some("Status"), Some("Unauthorized"), Some(401))
    );
    let (code, v) = req(&sim, reqwest::Method::GET, "/api/v1", None, "").await;
    assert_eq!(code, 200);
    assert!(
        v["resources"]
            .as_array()
            .expect("resources")
            .iter()
            .any(|r| r["name"] == "pods/eviction"
                && r["group"] == "policy"
                && r["version"] == "v1")
    );
    let (code, v) = req(&sim, reqwest::Method::GET, "/apis", None, "").await;
    assert_eq!(code, 200);
    assert!(
        v["groups"]
            .as_array()
            .expect("groups")
            .iter()
            .any(|g| g["name"] == "coordination.k8s.io")
    );
    let (code, v) = req(
        &sim,
        reqwest::Method::GET,
        "/apis/apps/v1/namespaces/shop/deployments/nope",
        None,
        "",
    )
    .await;
    assert_eq!(code, 404);
    assert_eq!(v["message"], "deployments.apps \"nope\" not found");
    assert_eq!(v["details"]["group"], "apps");
    // Stale resourceVersion -> 409 Conflict.
    let (_, cm) = req(
        &sim,
        reqwest::Method::POST,
        "/api/v1/namespaces/shop/configmaps",
        Some(json!({"metadata": {"name": "c"}, "data": {"a": "1"}})),
        "application/json",
    )
    .await;
    let rv = cm["metadata"]["resourceVersion"]
        .as_str()
        .expect("rv")
        .to_owned();
    let mut upd = cm.clone();
    upd["data"]["a"] = json!("2");
    let (code, _) = req(
        &sim,
        reqwest::Method::PUT,
        "/api/v1/namespaces/shop/configmaps/c",
        Some(upd.clone()),
        "application/json",
    )
    .await;
    assert_eq!(code, 200);
    upd["metadata"]["resourceVersion"] = json!(rv);
    let (code, v) = req(
        &sim,
        reqwest::Method::PUT,
        "/api/v1/namespaces/shop/configmaps/c",
        Some(upd),
        "application/json",
    )
    .await;
    assert_eq!((code, v["reason"].as_str()), (409, Some("Conflict")));
    let (code, v) = req(
        &sim,
        reqwest::Method::POST,
        "/api/v1/namespaces/shop/configmaps",
        Some(json!({"metadata": {"name": "c"}})),
        "application/json",
    )
    .await;
    assert_eq!((code, v["reason"].as_str()), (409, Some("AlreadyExists")));
    // JSON patch and merge patch.
    let (code, v) = req(
        &sim,
        reqwest::Method::PATCH,
        "/api/v1/namespaces/shop/configmaps/c",
        Some(json!([{"op": "add", "path": "/data/b", "value": "x"}])),
        "application/json-patch+json",
    )
    .await;
    assert_eq!((code, v["data"]["b"].as_str()), (200, Some("x")));
    let (code, v) = req(
        &sim,
        reqwest::Method::PATCH,
        "/api/v1/namespaces/shop/configmaps/c",
        Some(json!({"data": {"b": null}})),
        "application/merge-patch+json",
    )
    .await;
    assert_eq!(code, 200);
    assert!(v["data"]["b"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_api_list_paging_selectors_and_watch() {
    let sim = start("small.yaml", 50.0).await;
    let total = sim.store().list(Res::Pods, None).len();
    let mut seen = 0;
    let mut cont = String::new();
    for _ in 0..100 {
        let (code, v) = req(
            &sim,
            reqwest::Method::GET,
            &format!("/api/v1/pods?limit=3&continue={cont}"),
            None,
            "",
        )
        .await;
        assert_eq!(code, 200);
        seen += v["items"].as_array().expect("items").len();
        match v["metadata"]["continue"].as_str() {
            Some(c) => cont = c.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen, total);
    let (_, v) = req(
        &sim,
        reqwest::Method::GET,
        "/api/v1/pods?fieldSelector=spec.nodeName%3D10.0.1.11&limit=500",
        None,
        "",
    )
    .await;
    assert!(
        v["metadata"]["continue"].is_null(),
        "no continue token without more items"
    );
    assert!(
        v["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|p| p["spec"]["nodeName"] == "10.0.1.11")
    );
    let (_, v) = req(
        &sim,
        reqwest::Method::GET,
        "/api/v1/namespaces/shop/pods?labelSelector=app%20in%20(web,cache)",
        None,
        "",
    )
    .await;
    assert_eq!(v["items"].as_array().expect("items").len(), 6);
    let (code, v) = req(
        &sim,
        reqwest::Method::GET,
        "/api/v1/pods?fieldSelector=spec.bogus%3D1",
        None,
        "",
    )
    .await;
    assert_eq!((code, v["reason"].as_str()), (400, Some("BadRequest")));

    // Watch from the list's resourceVersion sees a cordon.
    let (_, list) = req(&sim, reqwest::Method::GET, "/api/v1/nodes", None, "").await;
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .expect("rv")
        .to_owned();
    let url = format!(
        "{}/api/v1/nodes?watch=true&resourceVersion={rv}&timeoutSeconds=5",
        sim.k8s_url
    );
    let mut resp = http()
        .get(url)
        .bearer_auth(&sim.token)
        .send()
        .await
        .expect("watch");
    let (code, _) = req(
        &sim,
        reqwest::Method::PATCH,
        "/api/v1/nodes/10.0.1.12",
        Some(json!({"spec": {"unschedulable": true}})),
        "application/strategic-merge-patch+json",
    )
    .await;
    assert_eq!(code, 200);
    let chunk = tokio::time::timeout(Duration::from_secs(5), resp.chunk())
        .await
        .expect("event in time")
        .expect("chunk")
        .expect("some");
    let ev: Value = serde_json::from_slice(chunk.split(|b| *b == b'\n').next().expect("line"))
        .expect("event json");
    assert_eq!(ev["type"], "MODIFIED");
    assert_eq!(ev["object"]["spec"]["unschedulable"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_api_eviction_semantics() {
    let sim = start("small.yaml", 50.0).await;
    // 404 for a missing pod.
    let (code, v) = evict(&sim, "shop", "nope", None).await;
    assert_eq!((code, v["reason"].as_str()), (404, Some("NotFound")));
    // 409 for a UID precondition that does not match.
    let (name, _) = pod_of(&sim, "shop", "web");
    let (code, v) = evict(
        &sim,
        "shop",
        &name,
        Some("00000000-0000-0000-0000-000000000000"),
    )
    .await;
    assert_eq!((code, v["reason"].as_str()), (409, Some("Conflict")));
    // One disruption allowed (4 healthy, minAvailable 3): the first eviction passes...
    let (code, v) = evict(&sim, "shop", &name, None).await;
    assert_eq!(code, 201, "{v}");
    assert!(
        sim.store()
            .get(Res::Pods, "shop", &name)
            .is_none_or(|p| p.deleting())
    );
    // ...the second, immediately after, is refused with 429 and the PDB named in the cause.
    let (other, _) = pod_of(&sim, "shop", "web");
    let (code, v) = evict(&sim, "shop", &other, None).await;
    assert_eq!(
        (code, v["reason"].as_str()),
        (429, Some("TooManyRequests")),
        "{v}"
    );
    assert_eq!(
        v["message"],
        "Cannot evict pod as it would violate the pod's disruption budget."
    );
    assert!(
        v["details"]["causes"][0]["message"]
            .as_str()
            .expect("cause")
            .starts_with("The disruption budget web needs 3 healthy pods")
    );
    // A second PDB over the same pods: 500, eviction can never succeed.
    let (code, _) = req(&sim, reqwest::Method::POST, "/apis/policy/v1/namespaces/shop/poddisruptionbudgets",
        Some(json!({"metadata": {"name": "cache-a"}, "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "cache"}}}})), "application/json").await;
    assert_eq!(code, 201);
    let (code, _) = req(&sim, reqwest::Method::POST, "/apis/policy/v1/namespaces/shop/poddisruptionbudgets",
        Some(json!({"metadata": {"name": "cache-b"}, "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "cache"}}}})), "application/json").await;
    assert_eq!(code, 201);
    let (cache, _) = pod_of(&sim, "shop", "cache");
    let (code, v) = evict(&sim, "shop", &cache, None).await;
    assert_eq!(code, 500, "{v}");
    assert!(
        v["message"]
            .as_str()
            .expect("msg")
            .contains("more than one PodDisruptionBudget")
    );
    // Only the kubelet removes a terminating pod, after it has shut down.
    assert!(
        sim.wait_until(Duration::from_secs(10), |s| s
            .store()
            .get(Res::Pods, "shop", &name)
            .is_none())
            .await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_api_scheduler_explains_unplaceable_pods() {
    let sim = start("tight-capacity.yaml", 50.0).await;
    let pending: Vec<Value> = sim
        .store()
        .list(Res::Pods, Some("default"))
        .iter()
        .filter(|p| p.pod.as_ref().is_some_and(|f| f.node_name.is_none()))
        .map(|p| p.value())
        .collect();
    assert_eq!(
        pending.len(),
        2,
        "one batch replica and the trainer stay Pending"
    );
    let msg = |app: &str| {
        pending
            .iter()
            .find(|p| {
                p["metadata"]["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with(app))
            })
            .and_then(|p| {
                p["status"]["conditions"]
                    .as_array()?
                    .iter()
                    .find(|c| c["type"] == "PodScheduled")
                    .cloned()
            })
            .map(|c| c["message"].as_str().unwrap_or("").to_owned())
            .unwrap_or_default()
    };
    assert!(
        msg("batch").starts_with("0/4 nodes are available: 1 node(s) had untolerated taint {nvidia.com/gpu: true}, 1 node(s) were unschedulable, 2 Insufficient cpu."),
        "{}",
        msg("batch")
    );
    assert!(
        msg("trainer").starts_with(
            "0/4 nodes are available: 1 node(s) were unschedulable, 3 Insufficient nvidia.com/gpu."
        ),
        "{}",
        msg("trainer")
    );
    // Uncordoning makes room: the pending replica lands on the freed node.
    let (code, _) = req(
        &sim,
        reqwest::Method::PATCH,
        "/api/v1/nodes/10.0.3.13",
        Some(json!({"spec": {"unschedulable": null}})),
        "application/strategic-merge-patch+json",
    )
    .await;
    assert_eq!(code, 200);
    assert!(
        sim.wait_until(Duration::from_secs(10), |s| s.pods_on("10.0.3.13").len()
            == 1)
            .await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_api_kube_rs_client_works_unchanged() {
    use k8s_openapi::api::core::v1::{Node, Pod};
    use kube::api::{Api, EvictParams, ListParams};
    let _ = rustls::crypto::ring::default_provider().install_default();
    let sim = start("small.yaml", 50.0).await;
    let kubeconfig = kube::config::Kubeconfig::read_from(&sim.kubeconfig).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .expect("config");
    let client = kube::Client::try_from(config).expect("client");
    let nodes: Api<Node> = Api::all(client.clone());
    let list = nodes
        .list(&ListParams::default())
        .await
        .expect("list nodes");
    assert_eq!(list.items.len(), 5);
    let pods: Api<Pod> = Api::namespaced(client.clone(), "shop");
    let on_node = pods
        .list(&ListParams::default().fields("spec.nodeName=10.0.1.11"))
        .await
        .expect("list pods");
    assert!(
        on_node
            .items
            .iter()
            .all(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some("10.0.1.11"))
    );
    let (name, _) = pod_of(&sim, "shop", "cache");
    pods.evict(&name, &EvictParams::default())
        .await
        .expect("evict through kube-rs");
    nodes.cordon("10.0.1.11").await.expect("cordon");
    nodes.uncordon("10.0.1.11").await.expect("uncordon");
    assert_eq!(
        sim.get(Res::Nodes, "", "10.0.1.11").expect("node")["spec"]["unschedulable"],
        false
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_api_unhealthy_pod_eviction_policy() {
    // Speed 1: a pod made not-Ready stays so for about a second before its kubelet fixes it.
    let sim = start("pdb-blocked.yaml", 1.0).await;
    let (name, _) = pod_of(&sim, "default", "api");
    let not_ready = json!({"status": {"conditions": [{"type": "Ready", "status": "False"}]}});
    let (code, _) = req(
        &sim,
        reqwest::Method::PATCH,
        &format!("/api/v1/namespaces/default/pods/{name}/status"),
        Some(not_ready.clone()),
        "application/strategic-merge-patch+json",
    )
    .await;
    assert_eq!(code, 200);
    // The API server reads the PDB's status: wait until the disruption controller saw it.
    assert!(
        sim.wait_until(Duration::from_secs(1), |s| {
            s.get(Res::PodDisruptionBudgets, "default", "api-strict")
                .is_some_and(|p| p["status"]["currentHealthy"] == 1)
        })
        .await
    );
    // IfHealthyBudget (default): the budget is not healthy (1 < 2), so the budget decides: 429.
    let (code, v) = evict(&sim, "default", &name, None).await;
    assert_eq!(code, 429, "{v}");
    // AlwaysAllow: a running but not-Ready pod may go whatever the budget says.
    let (code, _) = req(
        &sim,
        reqwest::Method::PATCH,
        "/apis/policy/v1/namespaces/default/poddisruptionbudgets/api-strict",
        Some(json!({"spec": {"unhealthyPodEvictionPolicy": "AlwaysAllow"}})),
        "application/merge-patch+json",
    )
    .await;
    assert_eq!(code, 200);
    assert!(
        sim.wait_until(Duration::from_secs(3), |s| {
            s.get(Res::PodDisruptionBudgets, "default", "api-strict")
                .is_some_and(|p| p["status"]["observedGeneration"] == p["metadata"]["generation"])
        })
        .await
    );
    let (code, _) = req(
        &sim,
        reqwest::Method::PATCH,
        &format!("/api/v1/namespaces/default/pods/{name}/status"),
        Some(not_ready),
        "application/strategic-merge-patch+json",
    )
    .await;
    assert_eq!(code, 200);
    let (code, v) = evict(&sim, "default", &name, None).await;
    assert_eq!(code, 201, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_api_injected_5xx_and_slow_termination() {
    let mut s = crate::sim_common::scenario("pdb-blocked.yaml");
    s.faults.api_server_5xx_rate = 1.0;
    s.faults.slow_termination_seconds = Some(0.0);
    let sim = tke_recycle::sim::Sim::start(
        s,
        tke_recycle::sim::SimOptions {
            speed: Some(20.0),
            ..Default::default()
        },
    )
    .await
    .expect("start");
    // Discovery keeps working; resource requests fail with a real Status.
    let (code, _) = req(&sim, reqwest::Method::GET, "/api/v1", None, "").await;
    assert_eq!(code, 200);
    let (code, v) = req(&sim, reqwest::Method::GET, "/api/v1/pods", None, "").await;
    assert!(code == 500 || code == 503, "{code} {v}");
    assert_eq!(v["kind"], "Status");
    // Slow termination: a deleted pod takes its whole grace period (30 s simulated = 1.5 s).
    let (name, _) = pod_of(&sim, "default", "api");
    let start = std::time::Instant::now();
    sim.store()
        .mark_deleting(Res::Pods, "default", &name, 30)
        .expect("delete");
    assert!(
        sim.wait_until(Duration::from_secs(10), |s| s
            .store()
            .get(Res::Pods, "default", &name)
            .is_none())
            .await
    );
    assert!(
        start.elapsed() >= Duration::from_millis(1200),
        "{:?}",
        start.elapsed()
    );
}

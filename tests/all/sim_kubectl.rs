//! kubectl v1.32 (a client we did not write) against the practice cluster.

use std::time::Duration;

use serde_json::Value;
use tke_recycle::sim::resource::Res;

use crate::sim_common::{kubectl, start};

const T: Duration = Duration::from_secs(60);

fn web_node(sim: &tke_recycle::sim::SimHandle) -> String {
    sim.store()
        .list(Res::Pods, Some("shop"))
        .iter()
        .find(|p| p.label("app") == Some("web"))
        .and_then(|p| p.pod.as_ref()?.node_name.as_deref().map(str::to_owned))
        .expect("a web pod is bound")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_kubectl_get_nodes_and_pods_as_json() {
    let sim = start("small.yaml", 50.0).await;
    let out = kubectl(&sim, &["get", "nodes,pods", "-A", "-o", "json"], T).await;
    assert!(out.success, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).expect("json");
    let items = v["items"].as_array().expect("items");
    let nodes = items.iter().filter(|i| i["kind"] == "Node").count();
    let pods = items.iter().filter(|i| i["kind"] == "Pod").count();
    assert_eq!(nodes, 5);
    assert_eq!(pods, sim.store().list(Res::Pods, None).len());
    let node = items.iter().find(|i| i["kind"] == "Node").expect("node");
    assert!(
        node["spec"]["providerID"]
            .as_str()
            .expect("providerID")
            .starts_with("qcloud:///100003/ins-")
    );
    assert!(node["metadata"]["labels"]["cloud.tencent.com/node-instance-id"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_kubectl_cordon_uncordon_and_get_pdb() {
    let sim = start("small.yaml", 50.0).await;
    let out = kubectl(&sim, &["cordon", "10.0.1.11"], T).await;
    assert!(out.success, "{}", out.stderr);
    assert!(out.stdout.contains("cordoned"), "{}", out.stdout);
    let node = sim.get(Res::Nodes, "", "10.0.1.11").expect("node");
    assert_eq!(node["spec"]["unschedulable"], true);
    let out = kubectl(&sim, &["uncordon", "10.0.1.11"], T).await;
    assert!(out.success, "{}", out.stderr);
    let node = sim.get(Res::Nodes, "", "10.0.1.11").expect("node");
    assert!(node["spec"]["unschedulable"].is_null(), "{node}");
    let out = kubectl(&sim, &["get", "pdb", "-A"], T).await;
    assert!(out.success, "{}", out.stderr);
    assert!(out.stdout.contains("web"), "{}", out.stdout);
    let out = kubectl(&sim, &["get", "pdb", "web", "-n", "shop", "-o", "json"], T).await;
    let pdb: Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(pdb["status"]["disruptionsAllowed"], 1);
    assert_eq!(pdb["status"]["currentHealthy"], 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_kubectl_drain_evicts_and_pods_come_back_elsewhere() {
    let sim = start("small.yaml", 50.0).await;
    let node = web_node(&sim);
    let out = kubectl(
        &sim,
        &[
            "drain",
            &node,
            "--ignore-daemonsets",
            "--delete-emptydir-data",
            "--timeout=40s",
        ],
        T,
    )
    .await;
    assert!(out.success, "drain failed:\n{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("drained"), "{}", out.stdout);
    assert!(
        out.stdout.contains("evicting pod") || out.stderr.contains("evicting pod"),
        "{}{}",
        out.stdout,
        out.stderr
    );
    // Only DaemonSet pods stay; the web pods run again on other nodes.
    let back = sim
        .wait_until(Duration::from_secs(20), |s| {
            let pods = s.store().list(Res::Pods, Some("shop"));
            let web: Vec<_> = pods
                .iter()
                .filter(|p| p.label("app") == Some("web"))
                .collect();
            web.len() == 4
                && web.iter().all(|p| {
                    p.pod
                        .as_ref()
                        .is_some_and(|f| f.ready && f.node_name.as_deref() != Some(node.as_str()))
                })
        })
        .await;
    assert!(back, "web pods were not recreated on other nodes");
    for p in sim.pods_on(&node) {
        assert!(
            p.starts_with("kube-system/node-exporter-"),
            "{p} is still on the drained node"
        );
    }
    assert_eq!(
        sim.get(Res::Nodes, "", &node).expect("node")["spec"]["unschedulable"],
        true
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_kubectl_drain_blocked_by_pdb_retries_and_times_out() {
    let sim = start("pdb-blocked.yaml", 50.0).await;
    let pod = sim
        .store()
        .list(Res::Pods, Some("default"))
        .into_iter()
        .find(|p| p.label("app") == Some("api"))
        .expect("api pod");
    let node = pod
        .pod
        .as_ref()
        .and_then(|f| f.node_name.as_deref())
        .expect("bound")
        .to_owned();
    let out = kubectl(
        &sim,
        &[
            "drain",
            &node,
            "--ignore-daemonsets",
            "--delete-emptydir-data",
            "--timeout=7s",
        ],
        T,
    )
    .await;
    assert!(!out.success, "drain must not complete:\n{}", out.stdout);
    assert!(
        out.stderr
            .contains("Cannot evict pod as it would violate the pod's disruption budget"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("will retry after 5s"), "{}", out.stderr);
    let retries = out.stderr.matches("will retry after 5s").count();
    assert!(
        retries >= 2,
        "kubectl should retry a 429 every 5s: {}",
        out.stderr
    );
    let still = sim
        .store()
        .get(Res::Pods, "default", &pod.name)
        .expect("pod still exists");
    assert!(!still.deleting(), "the blocked pod must not be terminating");
}

/// kubectl's human-readable output as rows of cells: columns are at least three spaces apart
/// (kubectl's tabwriter padding), cells hold at most single spaces ("NOMINATED NODE").
fn columns(stdout: &str) -> Vec<Vec<String>> {
    stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .collect()
}

fn row<'a>(table: &'a [Vec<String>], first: &str) -> &'a [String] {
    table
        .iter()
        .find(|r| r.first().map(String::as_str) == Some(first))
        .unwrap_or_else(|| panic!("no row {first} in {table:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_kubectl_get_nodes_prints_status_roles_age_version() {
    let sim = start("small.yaml", 50.0).await;
    let out = kubectl(&sim, &["cordon", "10.0.1.12"], T).await;
    assert!(out.success, "{}", out.stderr);
    sim.store()
        .update_with(Res::Nodes, "", "10.0.1.13", |v| {
            for c in v["status"]["conditions"]
                .as_array_mut()
                .into_iter()
                .flatten()
            {
                if c["type"] == "Ready" {
                    c["status"] = serde_json::json!("Unknown");
                }
            }
            v["metadata"]["labels"]["node-role.kubernetes.io/infra"] = serde_json::json!("");
            Ok(())
        })
        .expect("node 13 stops reporting");
    let out = kubectl(&sim, &["get", "nodes"], T).await;
    assert!(out.success, "{}", out.stderr);
    let t = columns(&out.stdout);
    assert_eq!(t[0], ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]);
    assert_eq!(t.len(), 6, "{}", out.stdout);
    assert_eq!(row(&t, "10.0.1.11")[1..3], ["Ready", "<none>"]);
    assert_eq!(
        row(&t, "10.0.1.12")[1..3],
        ["Ready,SchedulingDisabled", "<none>"]
    );
    assert_eq!(row(&t, "10.0.1.13")[1..3], ["NotReady", "infra"]);
    for r in &t[1..] {
        assert_eq!(r[4], "v1.32.2-tke.1", "{r:?}");
        assert!(
            r[3].ends_with('s') || r[3].ends_with('m'),
            "a fresh node's age: {r:?}"
        );
    }
    let out = kubectl(&sim, &["get", "nodes", "-o", "wide"], T).await;
    assert!(out.success, "{}", out.stderr);
    let t = columns(&out.stdout);
    assert_eq!(
        t[0],
        [
            "NAME",
            "STATUS",
            "ROLES",
            "AGE",
            "VERSION",
            "INTERNAL-IP",
            "EXTERNAL-IP",
            "OS-IMAGE",
            "KERNEL-VERSION",
            "CONTAINER-RUNTIME"
        ]
    );
    assert_eq!(
        row(&t, "10.0.1.14")[5..],
        [
            "10.0.1.14",
            "<none>",
            "TencentOS Server 3.1 (Final)",
            "5.4.119-19.0009.44",
            "containerd://1.6.28-tke.4"
        ]
    );
    // One node by name is a Table of one row too.
    let out = kubectl(&sim, &["get", "node", "10.0.1.12", "--no-headers"], T).await;
    assert!(out.success, "{}", out.stderr);
    assert_eq!(columns(&out.stdout)[0][1], "Ready,SchedulingDisabled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_kubectl_get_pods_wide_shows_ready_status_ip_and_node() {
    // Pods take their whole grace period to stop (the slow-termination fault), so the pod deleted
    // at the end is still Terminating when kubectl looks, however slowly kubectl starts.
    let mut scenario = crate::sim_common::scenario("small.yaml");
    scenario.faults.slow_termination_seconds = Some(0.0);
    let sim = tke_recycle::sim::Sim::start(
        scenario,
        tke_recycle::sim::SimOptions {
            speed: Some(50.0),
            ..Default::default()
        },
    )
    .await
    .expect("practice cluster starts");
    assert!(
        sim.wait_until(T, |s| s.settled()).await,
        "scenario did not settle"
    );
    let out = kubectl(&sim, &["get", "pods", "-n", "shop", "-o", "wide"], T).await;
    assert!(out.success, "{}", out.stderr);
    let t = columns(&out.stdout);
    assert_eq!(
        t[0],
        [
            "NAME",
            "READY",
            "STATUS",
            "RESTARTS",
            "AGE",
            "IP",
            "NODE",
            "NOMINATED NODE",
            "READINESS GATES"
        ]
    );
    let pods = sim.store().list(Res::Pods, Some("shop"));
    assert_eq!(t.len(), pods.len() + 1, "{}", out.stdout);
    for p in &pods {
        let v = p.value();
        let r = row(&t, &p.name);
        assert_eq!(r[1..4], ["1/1", "Running", "0"], "{r:?}");
        assert_eq!(r[5], v["status"]["podIP"].as_str().expect("pod IP"));
        assert_eq!(r[6], v["spec"]["nodeName"].as_str().expect("node"));
        assert_eq!(r[7..], ["<none>", "<none>"]);
    }
    // All namespaces: kubectl takes the NAMESPACE column from each row's object metadata.
    let out = kubectl(&sim, &["get", "pods", "-A"], T).await;
    assert!(out.success, "{}", out.stderr);
    let t = columns(&out.stdout);
    assert_eq!(
        t[0],
        ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    );
    assert!(
        t.iter()
            .any(|r| r[0] == "kube-system" && r[1].starts_with("node-exporter-")),
        "{}",
        out.stdout
    );
    // Labels come from the row object too; sorting asks for whole objects (includeObject=Object).
    let out = kubectl(
        &sim,
        &[
            "get",
            "pods",
            "-n",
            "shop",
            "-l",
            "app=web",
            "--show-labels",
            "--sort-by=.metadata.name",
        ],
        T,
    )
    .await;
    assert!(out.success, "{}", out.stderr);
    let t = columns(&out.stdout);
    assert_eq!(t[0].last().map(String::as_str), Some("LABELS"));
    let names: Vec<&str> = t[1..].iter().map(|r| r[0].as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted);
    assert_eq!(names.len(), 4);
    assert!(t[1][5].contains("app=web"), "{:?}", t[1]);
    // A pod being deleted reads Terminating.
    let web = web_node(&sim);
    let victim = sim
        .pods_on(&web)
        .into_iter()
        .find(|p| p.starts_with("shop/web-"))
        .expect("a web pod");
    let name = victim.trim_start_matches("shop/");
    sim.store()
        .mark_deleting(Res::Pods, "shop", name, 3600)
        .expect("graceful delete");
    let out = kubectl(&sim, &["get", "pod", name, "-n", "shop"], T).await;
    assert!(out.success, "{}", out.stderr);
    assert_eq!(columns(&out.stdout)[1][2], "Terminating", "{}", out.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_kubectl_get_workloads_and_pdbs_print_their_usual_columns() {
    let sim = start("small.yaml", 50.0).await;
    let get = |what: &'static str| {
        let sim = &sim;
        async move {
            let out = kubectl(sim, &["get", what, "-n", "shop"], T).await;
            assert!(out.success, "{}", out.stderr);
            columns(&out.stdout)
        }
    };
    let t = get("deployments").await;
    assert_eq!(t[0], ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]);
    assert_eq!(row(&t, "web")[1..4], ["4/4", "4", "4"]);
    let t = get("statefulsets").await;
    assert_eq!(t[0], ["NAME", "READY", "AGE"]);
    assert_eq!(row(&t, "db")[1], "2/2");
    let t = get("pdb").await;
    assert_eq!(
        t[0],
        [
            "NAME",
            "MIN AVAILABLE",
            "MAX UNAVAILABLE",
            "ALLOWED DISRUPTIONS",
            "AGE"
        ]
    );
    assert_eq!(row(&t, "web")[1..4], ["3", "N/A", "1"]);
    let out = kubectl(
        &sim,
        &["get", "daemonsets", "-n", "kube-system", "-o", "wide"],
        T,
    )
    .await;
    assert!(out.success, "{}", out.stderr);
    let t = columns(&out.stdout);
    assert_eq!(
        t[0],
        [
            "NAME",
            "DESIRED",
            "CURRENT",
            "READY",
            "UP-TO-DATE",
            "AVAILABLE",
            "NODE SELECTOR",
            "AGE",
            "CONTAINERS",
            "IMAGES",
            "SELECTOR"
        ]
    );
    let ds = row(&t, "node-exporter");
    assert_eq!(ds[1..7], ["5", "5", "5", "5", "5", "<none>"]);
    assert_eq!(ds[10], "app=node-exporter");
    // Claims report their volume's size once bound.
    let t = get("pvc").await;
    assert_eq!(
        t[0],
        [
            "NAME",
            "STATUS",
            "VOLUME",
            "CAPACITY",
            "ACCESS MODES",
            "STORAGECLASS",
            "VOLUMEATTRIBUTESCLASS",
            "AGE"
        ]
    );
    assert_eq!(row(&t, "data-db-0")[1], "Bound");
    assert_eq!(row(&t, "data-db-0")[3..5], ["20Gi", "RWO"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_kubectl_describe_node_shows_lease_pods_and_events() {
    let sim = start("small.yaml", 50.0).await;
    let node = web_node(&sim);
    let out = kubectl(&sim, &["cordon", &node], T).await;
    assert!(out.success, "{}", out.stderr);
    let out = kubectl(&sim, &["describe", "node", &node], T).await;
    assert!(out.success, "{}", out.stderr);
    let text = &out.stdout;
    assert!(
        text.contains(&format!("Name:               {node}")),
        "{text}"
    );
    assert!(text.contains("Unschedulable:      true"), "{text}");
    assert!(
        text.contains(&format!("HolderIdentity:  {node}")),
        "the node's lease: {text}"
    );
    assert!(text.contains("RenewTime:"), "{text}");
    assert!(!text.contains("Failed to get lease"), "{text}");
    // Non-terminated pods are those with spec.nodeName, listed by field selector.
    let on_node = sim.pods_on(&node);
    assert!(
        text.contains(&format!(
            "Non-terminated Pods:          ({} in total)",
            on_node.len()
        )),
        "{text}"
    );
    for p in &on_node {
        let (ns, name) = p.split_once('/').expect("ns/name");
        assert!(
            text.lines().any(|l| l.contains(ns) && l.contains(name)),
            "{p} missing: {text}"
        );
    }
    assert!(text.contains("Allocated resources:"), "{text}");
    // An event about the node, found by its involvedObject field selector.
    let uid = sim.get(Res::Nodes, "", &node).expect("node")["metadata"]["uid"].clone();
    sim.store()
        .create(
            Res::Events,
            serde_json::json!({"metadata": {"name": format!("{node}.cordon"), "namespace": "default"},
                "involvedObject": {"kind": "Node", "name": node, "uid": uid},
                "type": "Normal", "reason": "NodeNotSchedulable",
                "message": format!("Node {node} status is now: NodeNotSchedulable"),
                "source": {"component": "kubelet", "host": node}, "count": 1,
                "firstTimestamp": tke_recycle::sim::clock::Clock::wall_rfc3339(),
                "lastTimestamp": tke_recycle::sim::clock::Clock::wall_rfc3339()}),
            false,
        )
        .expect("event");
    let out = kubectl(&sim, &["describe", "node", &node], T).await;
    assert!(out.success, "{}", out.stderr);
    let events = out
        .stdout
        .split("Events:")
        .nth(1)
        .expect("an Events section");
    assert!(
        events.contains("NodeNotSchedulable") && events.contains("kubelet"),
        "{events}"
    );
    // Leases are listed like the real server prints them.
    let out = kubectl(&sim, &["get", "leases", "-n", "kube-node-lease"], T).await;
    assert!(out.success, "{}", out.stderr);
    let t = columns(&out.stdout);
    assert_eq!(t[0], ["NAME", "HOLDER", "AGE"]);
    assert_eq!(row(&t, &node)[1], node);
    assert_eq!(t.len(), 6);
}

/// Lines a running `kubectl ... --watch` prints, gathered until `done` holds for them or the
/// time runs out.
async fn watch_until(
    lines: &mut tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
    seen: &mut Vec<String>,
    done: impl Fn(&[String]) -> bool,
) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !done(seen) {
        match tokio::time::timeout_at(deadline, lines.next_line()).await {
            Ok(Ok(Some(l))) => seen.push(l),
            _ => return false,
        }
    }
    true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_kubectl_watch_sees_objects_leave_and_enter_a_field_selector() {
    use tokio::io::AsyncBufReadExt as _;
    let sim = start("small.yaml", 50.0).await;
    let cache =
        std::env::temp_dir().join(format!("tke-recycle-kubectl-cache-{}", std::process::id()));
    let mut child = tokio::process::Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&sim.kubeconfig)
        .arg("--cache-dir")
        .arg(&cache)
        .args([
            "get",
            "nodes",
            "--field-selector",
            "spec.unschedulable=false",
            "--watch",
            "--output-watch-events",
        ])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("kubectl must be on the PATH for these tests (v1.32)");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut seen = Vec::new();
    let rows = |seen: &[String], event: &str, node: &str| {
        seen.iter()
            .filter(|l| {
                let cells = columns(l).concat();
                cells.first().map(String::as_str) == Some(event)
                    && cells.get(1).map(String::as_str) == Some(node)
            })
            .count()
    };
    // The initial state: every schedulable node, as a Table with kubectl's EVENT column.
    assert!(
        watch_until(&mut lines, &mut seen, |s| s.len() >= 6).await,
        "{seen:?}"
    );
    assert_eq!(
        columns(&seen[0])[0],
        ["EVENT", "NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    );
    assert_eq!(rows(&seen, "ADDED", "10.0.1.11"), 1, "{seen:?}");
    // Cordoned, the node no longer matches: it leaves the watch as DELETED, with the last
    // content that matched (still plain Ready).
    let out = kubectl(&sim, &["cordon", "10.0.1.11"], T).await;
    assert!(out.success, "{}", out.stderr);
    assert!(
        watch_until(&mut lines, &mut seen, |s| rows(s, "DELETED", "10.0.1.11")
            == 1)
        .await,
        "no DELETED for the cordoned node: {seen:?}"
    );
    let deleted = seen.last().expect("a line");
    assert_eq!(columns(deleted)[0][2], "Ready", "{deleted}");
    // Uncordoned, it matches again: ADDED.
    let out = kubectl(&sim, &["uncordon", "10.0.1.11"], T).await;
    assert!(out.success, "{}", out.stderr);
    assert!(
        watch_until(&mut lines, &mut seen, |s| rows(s, "ADDED", "10.0.1.11")
            == 2)
        .await,
        "no ADDED for the uncordoned node: {seen:?}"
    );
    assert!(
        seen.iter().all(|l| !l.contains("SchedulingDisabled")),
        "a cordoned node never shows in this watch: {seen:?}"
    );
    let _ = child.kill().await;
}

fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["metadata"]["name"].as_str().expect("name").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_kubectl_paged_list_is_one_snapshot_and_an_expired_token_is_gone() {
    let sim = start("small.yaml", 50.0).await;
    // kubectl pages every list (--chunk-size); small pages add up to the whole list.
    let out = kubectl(
        &sim,
        &["get", "pods", "-A", "--chunk-size=2", "-o", "name"],
        T,
    )
    .await;
    assert!(out.success, "{}", out.stderr);
    assert_eq!(
        out.stdout.lines().count(),
        sim.store().list(Res::Pods, None).len()
    );

    let raw = |path: String| {
        let sim = &sim;
        async move { kubectl(sim, &["get", "--raw", &path], T).await }
    };
    let out = raw("/api/v1/namespaces/shop/pods?limit=3".into()).await;
    assert!(out.success, "{}", out.stderr);
    let first: Value = serde_json::from_str(&out.stdout).expect("json");
    let token = first["metadata"]["continue"]
        .as_str()
        .expect("a continue token")
        .to_owned();
    let all_then: Vec<String> = sim
        .store()
        .list(Res::Pods, Some("shop"))
        .iter()
        .map(|p| p.name.to_string())
        .collect();
    let rest_then: Vec<String> = all_then[3..].to_vec();
    // Between the pages the namespace changes: a pod of the rest goes, a new one comes.
    let gone = rest_then
        .last()
        .expect("a pod after the first page")
        .clone();
    sim.store()
        .delete(Res::Pods, "shop", &gone, None, None)
        .expect("delete");
    sim.store()
        .create(
            Res::Pods,
            serde_json::json!({"metadata": {"name": "zz-late", "namespace": "shop"},
                               "spec": {"containers": [{"name": "c", "image": "busybox"}]}}),
            false,
        )
        .expect("create");
    let out = raw(format!(
        "/api/v1/namespaces/shop/pods?limit=500&continue={token}"
    ))
    .await;
    assert!(out.success, "{}", out.stderr);
    let second: Value = serde_json::from_str(&out.stdout).expect("json");
    assert_eq!(names(&second), rest_then, "the first page's snapshot");
    assert_eq!(
        second["metadata"]["resourceVersion"],
        first["metadata"]["resourceVersion"]
    );
    assert!(second["metadata"]["continue"].is_null());

    // Once the history has moved past the snapshot (as etcd compacts), the token is gone.
    for i in 0..50_001 {
        sim.store()
            .update_with(Res::ConfigMaps, "shop", "churn", |v| {
                v["data"] = serde_json::json!({"i": i.to_string()});
                Ok(())
            })
            .or_else(|_| {
                sim.store().create(
                    Res::ConfigMaps,
                    serde_json::json!({"metadata": {"name": "churn", "namespace": "shop"}}),
                    false,
                )
            })
            .expect("churn");
    }
    let path = format!("/api/v1/namespaces/shop/pods?limit=500&continue={token}");
    let out = raw(path.clone()).await;
    assert!(!out.success, "{}", out.stdout);
    assert!(
        out.stderr.contains(
            "Error from server (Expired): The provided continue parameter is too old to display a consistent list result."
        ),
        "{}",
        out.stderr
    );
    let resp = crate::sim_common::http()
        .get(format!("{}{path}", sim.k8s_url))
        .bearer_auth(&sim.token)
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 410);
    let status: Value = resp.json().await.expect("status");
    assert_eq!(
        (&status["kind"], &status["reason"], &status["code"]),
        (
            &Value::from("Status"),
            &Value::from("Expired"),
            &Value::from(410)
        )
    );
    assert!(
        status["message"]
            .as_str()
            .is_some_and(|m| m.ends_with("may show up in the list.")),
        "{status}"
    );
    // Its token continues at the latest state, from where the expired one stopped.
    let inconsistent = status["metadata"]["continue"]
        .as_str()
        .expect("an inconsistent-continue token");
    let out = raw(format!(
        "/api/v1/namespaces/shop/pods?limit=500&continue={inconsistent}"
    ))
    .await;
    assert!(out.success, "{}", out.stderr);
    let latest: Value = serde_json::from_str(&out.stdout).expect("json");
    let latest_names = names(&latest);
    assert!(
        latest_names.contains(&"zz-late".to_owned()),
        "{latest_names:?}"
    );
    assert!(!latest_names.contains(&gone), "{latest_names:?}");
    assert!(latest_names.iter().all(|n| n > &all_then[2]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_kubectl_get_jobs_and_cronjobs_shows_status_completions_and_schedule() {
    let sim = start("batch.yaml", 50.0).await;
    assert!(
        sim.wait_until(Duration::from_secs(30), |s| {
            s.get(Res::Jobs, "batch", "backup")
                .is_some_and(|j| j.pointer("/status/completionTime").is_some())
        })
        .await,
        "the backup Job completes"
    );
    let out = kubectl(&sim, &["get", "jobs", "-n", "batch"], T).await;
    assert!(out.success, "{}", out.stderr);
    let t = columns(&out.stdout);
    assert_eq!(t[0], ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]);
    assert_eq!(
        row(&t, "backup")[1..3],
        ["Complete", "6/6"],
        "{}",
        out.stdout
    );
    assert_eq!(
        row(&t, "report-29000000")[1..3],
        ["Running", "0/1 of 2"],
        "{}",
        out.stdout
    );

    let out = kubectl(&sim, &["get", "cronjobs", "-n", "batch"], T).await;
    assert!(out.success, "{}", out.stderr);
    let t = columns(&out.stdout);
    assert_eq!(
        t[0],
        [
            "NAME",
            "SCHEDULE",
            "TIMEZONE",
            "SUSPEND",
            "ACTIVE",
            "LAST SCHEDULE",
            "AGE"
        ]
    );
    assert_eq!(
        // Suspended (the scenario gives its Job); its Job is active under it.
        row(&t, "report")[1..6],
        ["0 3 * * *", "<none>", "True", "1", "<none>"],
        "{}",
        out.stdout
    );
}

/// A CronJob applied with kubectl, every minute: the CronJob controller starts Jobs on the
/// accelerated clock (a simulated minute is 3 real seconds at speed 20).
const TICK_CRONJOB: &str = r#"
apiVersion: batch/v1
kind: CronJob
metadata: {name: tick, namespace: default}
spec:
  schedule: "*/1 * * * *"
  jobTemplate:
    metadata:
      labels: {team: ops}
    spec:
      template:
        metadata: {labels: {app: tick}}
        spec:
          restartPolicy: Never
          containers:
            - {name: tick, image: busybox:1.36, resources: {requests: {cpu: 50m, memory: 32Mi}}}
"#;

/// Jobs owned by a CronJob, with their scheduled-timestamp annotation, oldest first.
fn owned_jobs(sim: &tke_recycle::sim::SimHandle, cronjob_uid: &str) -> Vec<Value> {
    let mut jobs: Vec<Value> = sim
        .store()
        .list(Res::Jobs, Some("default"))
        .iter()
        .filter(|j| {
            j.controller
                .as_ref()
                .is_some_and(|c| &*c.uid == cronjob_uid)
        })
        .map(|j| j.value())
        .collect();
    jobs.sort_by_key(|j| j["metadata"]["name"].as_str().map(str::to_owned));
    jobs
}

fn running_pod_of(sim: &tke_recycle::sim::SimHandle, job_uid: &str) -> bool {
    sim.store()
        .list(Res::Pods, Some("default"))
        .iter()
        .any(|p| {
            p.controller.as_ref().is_some_and(|c| &*c.uid == job_uid)
                && p.pod.as_ref().is_some_and(|f| &*f.phase == "Running")
        })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_kubectl_applied_cronjob_starts_jobs_on_schedule_whose_pods_run() {
    let sim = start("small.yaml", 20.0).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let manifest = dir.path().join("tick.yaml");
    std::fs::write(&manifest, TICK_CRONJOB).expect("manifest written");
    let manifest = manifest.to_str().expect("utf-8 temp path");
    // The practice cluster serves no OpenAPI document for kubectl's client-side validation.
    let out = kubectl(&sim, &["apply", "--validate=false", "-f", manifest], T).await;
    assert!(out.success, "{}", out.stderr);
    let cj = sim
        .get(Res::CronJobs, "default", "tick")
        .expect("the CronJob is stored");
    let uid = cj["metadata"]["uid"].as_str().expect("uid").to_owned();

    // Within two simulated minutes (6 real seconds) a slot comes due; 30 s bounds slow machines.
    assert!(
        sim.wait_until(Duration::from_secs(30), |s| {
            owned_jobs(s, &uid).iter().any(|j| {
                j["metadata"]["uid"]
                    .as_str()
                    .is_some_and(|u| running_pod_of(s, u))
            })
        })
        .await,
        "a Job of the CronJob runs a pod: {:?}",
        owned_jobs(&sim, &uid)
    );
    let jobs = owned_jobs(&sim, &uid);
    let job = &jobs[0];
    let owner = &job["metadata"]["ownerReferences"][0];
    assert_eq!(owner["kind"], "CronJob", "{owner}");
    assert_eq!(owner["name"], "tick", "{owner}");
    assert_eq!(owner["controller"], true, "{owner}");
    assert_eq!(owner["blockOwnerDeletion"], true, "{owner}");
    assert_eq!(
        job["metadata"]["labels"]["team"], "ops",
        "the template's labels"
    );
    // The name is the scheduled slot in minutes since the epoch, the annotation the slot itself.
    let scheduled: jiff::Timestamp =
        job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"]
            .as_str()
            .expect("scheduled-timestamp annotation")
            .parse()
            .expect("RFC 3339");
    assert_eq!(scheduled.as_second() % 60, 0, "a minute boundary");
    assert_eq!(
        job["metadata"]["name"],
        format!("tick-{}", scheduled.as_second() / 60)
    );

    let out = kubectl(&sim, &["get", "cronjob", "tick", "-n", "default"], T).await;
    assert!(out.success, "{}", out.stderr);
    let t = columns(&out.stdout);
    assert_eq!(t[0][5], "LAST SCHEDULE", "{}", out.stdout);
    let last = &row(&t, "tick")[5];
    assert!(
        last.ends_with('s') || last.ends_with('m'),
        "LAST SCHEDULE is an age, not <none> or <invalid>: {}",
        out.stdout
    );

    // The schedule goes on: a later slot starts another Job (Allow lets them overlap).
    assert!(
        sim.wait_until(Duration::from_secs(30), |s| owned_jobs(s, &uid).len() >= 2)
            .await,
        "a second slot starts a second Job"
    );
    let names: Vec<String> = owned_jobs(&sim, &uid)
        .iter()
        .filter_map(|j| j["metadata"]["name"].as_str().map(str::to_owned))
        .collect();
    assert!(names[0] < names[1], "{names:?}");
    let cj = sim.get(Res::CronJobs, "default", "tick").expect("CronJob");
    assert!(
        cj["status"]["active"]
            .as_array()
            .is_some_and(|a| a.len() >= 2),
        "both Jobs are active: {}",
        cj["status"]
    );
}

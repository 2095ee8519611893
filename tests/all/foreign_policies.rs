//! Policies written in Python (componentize-py) and JavaScript (componentize-js), against the
//! same WIT and host as the Rust ones: built with their documented commands, their native tests
//! pass, `policy list`, `policy check` and `check` run them with findings asserted exactly, and
//! each way they can fail (an exception, an endless loop, unbounded allocation, bad settings)
//! gives the right `policy.*` deny naming the module and the cause while the other policies
//! still run.

use serde_json::{Value, json};

use std::process::Command;

use crate::foreign_build::{built, repo};
use crate::recycle::{demo_sim, snapshot_file, tke_recycle};
use crate::support::{RunCli as _, bin};

/// Run `policies/examples/<name>/test.sh` (the language's native tests); its output on failure.
fn native_tests(name: &str) -> Result<String, String> {
    let script = repo().join("policies/examples").join(name).join("test.sh");
    let result = Command::new("bash")
        .arg(&script)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&result.stdout),
        String::from_utf8_lossy(&result.stderr)
    );
    if result.status.success() {
        Ok(text)
    } else {
        Err(text)
    }
}

const SNAPSHOT: &str = "host/snapshots/small-cluster.json";

/// `policy check` on the example snapshot: exit code and the JSON report.
fn policy_check(
    node: &str,
    policies: &[(&std::path::Path, &str)],
    extra: &[&str],
) -> (Option<i32>, Value) {
    let mut cmd = bin();
    cmd.current_dir(repo()).args([
        "policy",
        "check",
        "--snapshot",
        SNAPSHOT,
        "--node",
        node,
        "--no-bundled",
        "-o",
        "json",
    ]);
    for (path, settings) in policies {
        cmd.arg("--policy").arg(path).args(["--settings", settings]);
    }
    cmd.args(extra);
    let out = cmd.run_cli().expect("binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let doc = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code(), doc)
}

fn findings(doc: &Value) -> Vec<Value> {
    doc["findings"].as_array().cloned().unwrap_or_default()
}

#[test]
fn python_native_tests_pass() {
    let out = native_tests("python").unwrap_or_else(|out| panic!("pytest failed:\n{out}"));
    assert!(out.contains(" passed"), "{out}");
}

#[test]
fn javascript_native_tests_pass() {
    let out = native_tests("javascript").unwrap_or_else(|out| panic!("node --test failed:\n{out}"));
    assert!(out.contains("# fail 0"), "{out}");
}

#[test]
fn the_python_example_is_listed_and_decides_exactly() {
    let py = built("python");
    let guard = py.component("namespace-pdb-guard");
    let out = bin()
        .args(["policy", "list", "--policy"])
        .arg(&guard)
        .run_cli()
        .expect("runs");
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        listed.contains("namespace-pdb-guard") && listed.contains("pods of the listed namespaces on the target nodes must be covered by a PodDisruptionBudget"),
        "{listed}"
    );

    let settings = r#"{"namespaces": ["shop", "ops", "kube-system"]}"#;
    let (code, doc) = policy_check("10.0.1.12", &[(&guard, settings)], &[]);
    assert_eq!(code, Some(1), "{doc}");
    assert_eq!(
        findings(&doc),
        vec![json!({
            "policy": "namespace-pdb-guard", "code": "namespace-pdb-guard.uncovered", "severity": "deny",
            "message": "pod shop/db-0 (StatefulSet db) on node 10.0.1.12 is not covered by any PodDisruptionBudget, and namespace shop requires one: the drain would evict it without a budget",
            "subject": {"kind": "Pod", "namespace": "shop", "name": "db-0"},
            "remedy": "add a PodDisruptionBudget that selects it, e.g. `kubectl create poddisruptionbudget db -n shop --selector app=db --max-unavailable 1`, or remove shop from this policy's namespaces"
        })]
    );
    let (code, doc) = policy_check("10.0.1.11", &[(&guard, r#"{"namespaces": ["shop"]}"#)], &[]);
    assert_eq!((code, findings(&doc).len()), (Some(0), 0), "{doc}");

    let (code, doc) = policy_check("10.0.1.11", &[(&guard, r#"{"namespaces": []}"#)], &[]);
    assert_eq!(code, Some(1));
    assert_eq!(findings(&doc)[0]["code"], "policy.settings-rejected");
    assert_eq!(
        findings(&doc)[0]["message"],
        r#"policy namespace-pdb-guard rejected its settings: namespaces: [] is empty, so nothing would be checked; list at least one namespace, e.g. ["shop"]"#
    );
}

#[test]
fn the_javascript_example_takes_the_time_from_the_request() {
    let js = built("javascript");
    let guard = js.component("capacity-freeze-guard");
    let settings = r#"{"freezes": [{"from": "2026-12-24T00:00:00+08:00", "to": "2026-12-27T00:00:00+08:00", "reason": "year-end sales"}], "max_allocated_percent": 30}"#;
    let reserve = json!({
        "policy": "capacity-freeze-guard", "code": "capacity-freeze-guard.reserve", "severity": "warn",
        "message": "after 1 pod(s) move off 10.0.1.11, the 3 remaining Ready, uncordoned nodes would have 27.2% of their CPU (1550m of 5700m) and 32.7% of their memory (2.4Gi of 7.5Gi) requested: memory above the 30% limit",
        "subject": {"kind": "Node", "namespace": null, "name": "10.0.1.11"},
        "remedy": "add capacity first (scale up the node pool or uncordon a node), recycle fewer nodes at once, or raise max_allocated_percent knowingly"
    });
    let (code, doc) = policy_check(
        "10.0.1.11",
        &[(&guard, settings)],
        &["--now", "2026-12-25T10:00:00+08:00"],
    );
    assert_eq!(code, Some(1), "{doc}");
    assert_eq!(
        findings(&doc),
        vec![
            json!({
                "policy": "capacity-freeze-guard", "code": "capacity-freeze-guard.frozen", "severity": "deny",
                "message": "recycling is frozen from 2026-12-24T00:00:00+08:00 to 2026-12-27T00:00:00+08:00: year-end sales",
                "subject": {"kind": "Node", "namespace": null, "name": "10.0.1.11"},
                "remedy": "wait until 2026-12-27T00:00:00+08:00, or remove the window from this policy's freezes if the freeze no longer applies"
            }),
            reserve.clone()
        ]
    );
    let (code, doc) = policy_check(
        "10.0.1.11",
        &[(&guard, settings)],
        &["--now", "2026-12-28T10:00:00+08:00"],
    );
    assert_eq!((code, findings(&doc)), (Some(0), vec![reserve]));

    let backwards = r#"{"freezes": [{"from": "2026-12-27T00:00:00+08:00", "to": "2026-12-24T00:00:00+08:00", "reason": "x"}]}"#;
    let (_, doc) = policy_check("10.0.1.11", &[(&guard, backwards)], &[]);
    assert_eq!(findings(&doc)[0]["code"], "policy.settings-rejected");
    assert_eq!(
        findings(&doc)[0]["message"],
        r#"policy capacity-freeze-guard rejected its settings: freezes[0].to: "2026-12-24T00:00:00+08:00" is not after from "2026-12-27T00:00:00+08:00", an empty window; make to later than from"#
    );
}

/// A hostile module in `mode`, followed by the bundled `protected-nodes` on a node it protects:
/// the hostile module's one finding, after checking that the other policy still decided.
fn hostile(component: &std::path::Path, mode: &str, extra: &[&str]) -> Value {
    let settings = format!(r#"{{"mode": "{mode}"}}"#);
    let mut args = vec!["--policy", "protected-nodes"];
    args.extend_from_slice(extra);
    let (code, doc) = policy_check("10.0.1.14", &[(component, &settings)], &args);
    assert_eq!(code, Some(1), "{doc}");
    let all = findings(&doc);
    assert!(
        all.iter().any(|f| f["code"] == "protected-nodes.labelled"),
        "the other policy still ran: {doc}"
    );
    let own: Vec<Value> = all
        .into_iter()
        .filter(|f| f["policy"] != "protected-nodes")
        .collect();
    assert_eq!(own.len(), 1, "{doc}");
    own.into_iter().next().unwrap_or_default()
}

#[test]
fn python_failures_fail_closed_naming_the_module_and_the_cause() {
    let py = built("python");
    let module = py.component("python-hostile");
    let raised = hostile(&module, "raise", &[]);
    assert_eq!(raised["code"], "policy.trapped");
    let message = raised["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("policy python-hostile trapped")
            && message.contains("Traceback (most recent call last)")
            && message.contains("ValueError: boom from python: the policy could not decide"),
        "{message}"
    );
    let looped = hostile(&module, "loop", &["--policy-timeout-ms", "1000"]);
    assert_eq!(looped["code"], "policy.timed-out");
    assert_eq!(
        looped["message"],
        "policy python-hostile exceeded its time limit of 1000 ms and was stopped during check"
    );
    let hoarded = hostile(&module, "alloc", &[]);
    assert_eq!(hoarded["code"], "policy.out-of-memory");
    let message = hoarded["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("policy python-hostile exceeded its memory limit of 64 MiB"),
        "{message}"
    );
    assert_eq!(
        hoarded["remedy"],
        "use narrower cluster queries in the module, or raise --policy-memory-mb"
    );
}

#[test]
fn javascript_failures_fail_closed_naming_the_module_and_the_cause() {
    let js = built("javascript");
    let module = js.component("js-hostile");
    let thrown = hostile(&module, "throw", &[]);
    assert_eq!(thrown["code"], "policy.trapped");
    let message = thrown["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("policy js-hostile trapped")
            && message
                .contains("Uncaught Error: boom from javascript: the policy could not decide"),
        "{message}"
    );
    let looped = hostile(&module, "loop", &["--policy-timeout-ms", "1000"]);
    assert_eq!(looped["code"], "policy.timed-out");
    assert_eq!(
        looped["message"],
        "policy js-hostile exceeded its time limit of 1000 ms and was stopped during check"
    );
    let hoarded = hostile(&module, "alloc", &[]);
    assert_eq!(hoarded["code"], "policy.out-of-memory");
    let message = hoarded["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("policy js-hostile exceeded its memory limit of 64 MiB"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_check_runs_them_like_the_snapshot_check() {
    let (py, js) = tokio::task::spawn_blocking(|| (built("python"), built("javascript")))
        .await
        .expect("built");
    let sim = demo_sim(30.0, |_| {}).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = snapshot_file(&sim, dir.path()).await;
    let py_guard = py.component("namespace-pdb-guard");
    let js_guard = js.component("capacity-freeze-guard");
    let (py_path, js_path) = (
        py_guard.to_str().expect("utf-8"),
        js_guard.to_str().expect("utf-8"),
    );
    // The demo's StatefulSet `db` in `shop` has no PDB; 10.0.8.11..15 run its pods somewhere.
    let policy_args = [
        "--no-bundled",
        "--policy",
        py_path,
        "--settings",
        r#"{"namespaces": ["shop"]}"#,
        "--policy",
        js_path,
        "--settings",
        r#"{"freezes": [], "max_allocated_percent": 1}"#,
        "--now",
        "2026-12-28T10:00:00+08:00",
        "-o",
        "json",
    ];
    for node in ["10.0.8.11", "10.0.8.12", "10.0.8.13"] {
        let mut live_args = vec!["check", "--node", node];
        live_args.extend_from_slice(&policy_args);
        let live = tke_recycle(&sim, dir.path(), &live_args, &[]).await;
        let mut offline_args = vec![
            "policy",
            "check",
            "--snapshot",
            file.to_str().expect("utf-8"),
            "--node",
            node,
        ];
        offline_args.extend_from_slice(&policy_args);
        let offline = tke_recycle(&sim, dir.path(), &offline_args, &[]).await;
        let codes = |stdout: &str| -> Vec<(String, String)> {
            let doc: Value =
                serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
            findings(&doc)
                .iter()
                .map(|f| {
                    (
                        f["code"].as_str().unwrap_or_default().to_owned(),
                        f["subject"]["name"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        };
        let (live_codes, offline_codes) = (codes(&live.stdout), codes(&offline.stdout));
        assert_eq!(live_codes, offline_codes, "{node}: live and offline agree");
        assert_eq!(live.code, offline.code, "{node}");
        // At 1% every remaining node is over the reserve: both policies decided.
        assert!(
            live_codes
                .iter()
                .any(|(c, _)| c == "capacity-freeze-guard.reserve"),
            "{node}: {live_codes:?}"
        );
        assert!(
            live_codes.iter().all(|(c, _)| !c.starts_with("policy.")),
            "{node}: {live_codes:?}"
        );
    }
}

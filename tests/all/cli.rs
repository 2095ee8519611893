//! The binary as a black box: exit codes, output, and messages for bad input.

use std::process::Output;

use crate::support::RunCli as _;
use crate::support::{bin, example_snapshot, guest};

fn run(args: &[&str]) -> Output {
    bin().args(args).run_cli().expect("binary runs")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn check(node: &str, extra: &[&str]) -> Output {
    let snapshot = example_snapshot();
    let mut args = vec![
        "policy",
        "check",
        "--snapshot",
        snapshot.to_str().expect("utf-8 path"),
        "--node",
        node,
    ];
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn help_documents_the_exit_codes() {
    let out = run(&["--help"]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout.contains("1  a policy denied") && stdout.contains("2  bad usage"),
        "{stdout}"
    );
}

#[test]
fn protected_node_is_denied_with_exit_1() {
    let out = check("10.0.1.14", &[]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("protected-nodes.labelled") && stdout.contains("DENIED"),
        "{stdout}"
    );
}

#[test]
fn ordinary_node_passes_with_exit_0_and_json() {
    let out = check("10.0.1.12", &["-o", "json"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).expect("JSON output");
    assert_eq!(doc["denied"], false);
    let ran: Vec<&str> = doc["policies"]
        .as_array()
        .expect("policies")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(
        ran,
        ["headroom", "local-data", "pdb", "protected-nodes", "spread"]
    );
}

#[test]
fn settings_belong_to_the_policy_before_them() {
    let out = check(
        "10.0.1.12",
        &[
            "--policy",
            "protected-nodes",
            "--settings",
            r#"{"labels": ["topology.kubernetes.io/zone=300003"]}"#,
            "-o",
            "json",
        ],
    );
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).expect("JSON output");
    assert_eq!(doc["findings"][0]["code"], "protected-nodes.labelled");
    assert_eq!(doc["findings"][0]["severity"], "deny");
}

#[test]
fn settings_a_policy_rejects_are_a_deny_naming_the_field() {
    let out = check(
        "10.0.1.12",
        &[
            "--policy",
            "protected-nodes",
            "--settings",
            r#"{"lables": []}"#,
        ],
    );
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout.contains("policy.settings-rejected") && stdout.contains("lables"),
        "{stdout}"
    );
}

#[test]
fn a_user_module_runs_beside_the_bundled_ones() {
    let hostile = guest("hostile-policy");
    let out = check(
        "10.0.1.12",
        &[
            "--policy",
            hostile.to_str().expect("utf-8"),
            "--settings",
            r#"{"behave": "env"}"#,
            "-o",
            "json",
        ],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).expect("JSON output");
    let findings = doc["findings"].as_array().expect("findings");
    let probe = findings
        .iter()
        .find(|f| f["code"] == "probe.env")
        .expect("the user module's finding");
    assert_eq!(probe["policy"], "hostile_policy");
    assert!(
        doc["policies"]
            .as_array()
            .expect("policies")
            .iter()
            .any(|p| p["name"] == "hostile_policy")
    );
}

/// A cap below what a module starts with is the limiter's out-of-memory, with its remedy, not a
/// load failure from the instance pool (whose slots must therefore not be sized by the cap).
#[test]
fn a_memory_limit_below_a_modules_initial_memory_is_out_of_memory() {
    let out = check(
        "10.0.1.12",
        &["--policy-memory-mb", "1", "--no-cache", "-o", "json"],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout).expect("JSON output");
    let findings = doc["findings"].as_array().expect("findings");
    assert_eq!(findings.len(), 5, "one per bundled pre-check: {findings:?}");
    for f in findings {
        assert_eq!(f["code"], "policy.out-of-memory", "{f}");
        let message = f["message"].as_str().expect("message");
        assert!(
            message.contains("memory limit of 1 MiB (tried to grow to 1.1 MiB)"),
            "{message}"
        );
    }
}

#[test]
fn bad_input_is_exit_2_with_a_message_that_names_it() {
    let cases: &[(&[&str], &str)] = &[
        (&["--settings", "{}"], "comes before any --policy"),
        (
            &["--policy", "protected-nodes", "--settings", "{not json"],
            "is not valid JSON",
        ),
        (
            &["--policy", "no-such-policy"],
            "no bundled policy of that name (bundled: ",
        ),
        (
            &["--now", "yesterday"],
            "--now yesterday: not an RFC 3339 time",
        ),
        (&["--no-bundled"], "no policies selected"),
    ];
    for (extra, needle) in cases {
        let out = check("10.0.1.12", extra);
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {stderr}");
        assert!(
            stderr.contains(needle),
            "{extra:?}: expected {needle:?} in {stderr}"
        );
    }
}

#[test]
fn an_unreadable_or_malformed_snapshot_is_exit_2() {
    let out = run(&[
        "policy",
        "check",
        "--snapshot",
        "/nonexistent.json",
        "--node",
        "x",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out)
            .1
            .contains("cannot read snapshot file /nonexistent.json")
    );

    let bad = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("bad-snapshot.json");
    std::fs::write(&bad, r#"{"nodes": [], "podz": []}"#).expect("write");
    let out = run(&[
        "policy",
        "check",
        "--snapshot",
        bad.to_str().expect("utf-8"),
        "--node",
        "x",
    ]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains("is not a valid snapshot") && stderr.contains("unknown field `podz`"),
        "{stderr}"
    );
}

#[test]
fn policy_list_shows_bundled_and_given_modules() {
    let hostile = guest("hostile-policy");
    let out = run(&[
        "policy",
        "list",
        "--policy",
        hostile.to_str().expect("utf-8"),
        "-o",
        "json",
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let rows: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    let rows = rows.as_array().expect("array");
    let bundled = rows
        .iter()
        .find(|r| r["name"] == "protected-nodes")
        .expect("listed");
    assert_eq!(
        (bundled["world"].as_str(), bundled["phase"].as_str()),
        (Some("policy"), Some("pre"))
    );
    assert_eq!(bundled["version"], env!("CARGO_PKG_VERSION"));
    assert!(
        rows.iter()
            .any(|r| r["name"] == "hostile_policy" && r["version"] == "0.0.0")
    );
}

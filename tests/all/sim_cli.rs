//! `tke-recycle sim serve` as a black box: bad input exits 2; a served scenario answers kubectl
//! and stops cleanly on Ctrl-C (SIGINT).

use crate::support::RunCli as _;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_tke-recycle");

#[test]
fn sim_cli_missing_scenario_is_bad_input() {
    let out = Command::new(BIN)
        .args(["sim", "serve", "--scenario", "/nonexistent.yaml"])
        .run_cli()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .starts_with("error: failed to read scenario /nonexistent.yaml")
    );
}

#[test]
fn sim_cli_serve_prints_connection_details_and_stops_on_ctrl_c() {
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/small.yaml");
    let mut child = Command::new(BIN)
        .args(["sim", "serve", "--scenario", scenario, "--speed", "50"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut lines = Vec::new();
    while Instant::now() < deadline {
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
            let done = l.starts_with("Press Ctrl-C");
            lines.push(l);
            if done {
                break;
            }
        }
    }
    let text = lines.join("\n");
    let kubeconfig = lines
        .iter()
        .find_map(|l| l.trim().strip_prefix("export KUBECONFIG="))
        .unwrap_or_else(|| panic!("no KUBECONFIG hint in:\n{text}"))
        .to_owned();
    assert!(
        text.contains("TENCENTCLOUD_SECRET_ID=") && text.contains("TKE/CVM API:"),
        "{text}"
    );
    let out = Command::new("kubectl")
        .args(["--kubeconfig", &kubeconfig, "get", "nodes", "-o", "name"])
        .run_cli()
        .expect("kubectl on PATH");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 5);
    let ok = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(ok.success());
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            assert_eq!(status.code(), Some(0));
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "sim did not stop on SIGINT"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !std::path::Path::new(&kubeconfig).exists(),
        "the temporary kubeconfig is removed on exit"
    );
}

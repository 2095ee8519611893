//! A test-only policy that misbehaves on request. `{"behave": "..."}` picks the misbehaviour;
//! the sandbox probes report what the guest could see as `info` findings so the host's tests can
//! assert on them. Never bundled.

#![cfg_attr(
    not(target_arch = "wasm32"),
    allow(dead_code, reason = "only the component build exports the policy")
)]

use std::hint::black_box;

use serde::Deserialize;
use tke_recycle_policy_sdk::{
    CheckRequest, Cluster, Finding, ModuleInfo, Policy, Severity, finding, object_ref,
    parse_settings,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    behave: String,
}

struct Hostile;

fn observed(code: &str, message: String) -> Vec<Finding> {
    vec![
        finding(
            code,
            Severity::Info,
            object_ref("Policy", None, "hostile-policy"),
        )
        .message(message)
        .build(),
    ]
}

/// 64-bit FNV-1a: a digest that is the same on every platform.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[allow(unconditional_recursion, reason = "unbounded recursion is the point")]
fn recurse(depth: u64) -> u64 {
    black_box(recurse(black_box(depth + 1))) + 1
}

impl Policy for Hostile {
    fn info() -> ModuleInfo {
        ModuleInfo {
            name: "hostile-policy".into(),
            version: "0.0.0".into(),
            description: "misbehaves on purpose".into(),
        }
    }

    fn validate_settings(settings: &str) -> Result<(), String> {
        let s: Settings = parse_settings(settings)?;
        if s.behave == "reject-settings" {
            return Err(
                "behave: \"reject-settings\" is rejected on purpose; use another value".into(),
            );
        }
        Ok(())
    }

    fn check(request: &CheckRequest, cluster: &dyn Cluster) -> Result<Vec<Finding>, String> {
        let s: Settings = parse_settings(&request.settings)?;
        match s.behave.as_str() {
            "read-file" => Ok(observed(
                "probe.file",
                match std::fs::read_to_string("/etc/passwd") {
                    Ok(text) => format!("read /etc/passwd: {} bytes", text.len()),
                    Err(e) => format!("cannot read /etc/passwd: {e}"),
                },
            )),
            "socket" => Ok(observed(
                "probe.socket",
                match std::net::TcpStream::connect("127.0.0.1:22") {
                    Ok(_) => "connected to 127.0.0.1:22".into(),
                    Err(e) => format!("cannot connect: {e}"),
                },
            )),
            "env" => Ok(observed(
                "probe.env",
                format!(
                    "{} environment variables, {} arguments",
                    std::env::vars().count(),
                    std::env::args().count()
                ),
            )),
            "clock" => Ok(observed(
                "probe.clock",
                format!(
                    "wall clock says {} s since 1970",
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_secs())
                        .unwrap_or(u64::MAX)
                ),
            )),
            // Not hostile: the cost of copying every node summary across the boundary, for the
            // engine benchmark.
            "count-nodes" => Ok(observed(
                "probe.nodes",
                format!("{} nodes", cluster.nodes().len()),
            )),
            // Not hostile either: what the guest sees of every node, as a digest of its JSON, so
            // that a test can compare it with the summaries the host holds.
            "digest-nodes" => {
                let nodes = cluster.nodes();
                let json = serde_json::to_string(&nodes).map_err(|e| e.to_string())?;
                Ok(observed(
                    "probe.nodes",
                    format!(
                        "{} nodes, fnv1a {:016x}",
                        nodes.len(),
                        fnv1a(json.as_bytes())
                    ),
                ))
            }
            // The same query without the SDK's decoding: the boundary's share of the above.
            #[cfg(target_arch = "wasm32")]
            "count-node-rows" => Ok(observed(
                "probe.nodes",
                format!(
                    "{} node rows",
                    tke_recycle_policy_sdk::bindings::tke::recycle::cluster::nodes()
                        .node_name
                        .len()
                ),
            )),
            "loop" => loop {
                black_box(request.targets.len());
            },
            "allocate" => {
                // Touch every page so that nothing can optimise the allocation away.
                let mut memory = vec![0u8; 1 << 30];
                for i in (0..memory.len()).step_by(4096) {
                    memory[i] = 1;
                }
                Ok(observed(
                    "probe.allocate",
                    format!("touched {} bytes", black_box(&memory).len()),
                ))
            }
            "recurse" => Ok(observed("probe.recurse", format!("depth {}", recurse(0)))),
            "panic" => panic!("hostile policy panicked on purpose"),
            "many-findings" => Ok((0..100_000)
                .map(|i| {
                    finding(
                        "probe.many",
                        Severity::Info,
                        object_ref("Node", None, &i.to_string()),
                    )
                    .build()
                })
                .collect()),
            "huge-message" => Ok(observed("probe.huge", "x".repeat(10 << 20))),
            "bad-code" => Ok(observed(
                "Not A Code",
                "a finding with a free-text code".into(),
            )),
            "undecided" => Err("cannot decide on purpose".into()),
            other => Err(format!("behave: unknown value {other:?}")),
        }
    }
}

tke_recycle_policy_sdk::export_policy!(Hostile);

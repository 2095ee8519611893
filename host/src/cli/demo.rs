//! `tke-recycle demo`: the practice cluster in-process with a built-in scenario, and two of its
//! nodes recycled end to end by the bundled runbook and policies, through the same clients a
//! real run uses (kube-rs over HTTPS, the signed TKE/CVM client). Nothing outside this process
//! is touched; the journal goes to a fresh temporary directory (kept, for `status`) unless
//! `--journal` says otherwise.

use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;
use serde_json::{Value, json};

use super::args::{EngineArgs, Format};
use super::progress::Progress;
use super::run_args::{PreparedRun, execute_prepared, run_options};
use crate::bindings::RunMode;
use crate::bundled::{self, Phase};
use crate::checks::PolicySpec;
use crate::k8s::client::{Clients, KubeOptions, resolve_config};
use crate::run::journal::JournalBackend;
use crate::run::runner::{RunOptions, RunbookSource};
use crate::sim::resource::Res;
use crate::sim::scenario::Scenario;
use crate::sim::{Sim, SimOptions};
use crate::tke::client::{ClientConfig, TcClient};
use crate::tke::credentials::{Credentials, Secret};

/// The built-in scenario (`host/scenarios/demo.yaml`).
const DEMO_SCENARIO: &str = include_str!("../../scenarios/demo.yaml");

/// The nodes the demo recycles unless told otherwise: the one with a hand-added label and taint
/// (restored after the reinstall), then the one with the data disk whose content is kept.
const DEMO_NODES: [&str; 2] = ["10.0.8.12", "10.0.8.13"];

/// Recycle two nodes of a built-in practice cluster end to end, showing every step.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Nodes to recycle (default: 10.0.8.12 and 10.0.8.13).
    #[arg(long = "node", value_name = "NAME")]
    pub nodes: Vec<String>,
    /// Clock speed of the practice cluster (default: the scenario's).
    #[arg(long, value_name = "N")]
    pub speed: Option<f64>,
    /// Keep the journal here instead of a temporary directory.
    #[arg(long = "journal", value_name = "DIR")]
    pub journal_dir: Option<std::path::PathBuf>,
    /// Output: the live view / plain lines, or one JSON event per line.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Table)]
    pub format: Format,
    #[command(flatten)]
    pub engine: EngineArgs,
}

impl DemoArgs {
    /// Start the practice cluster, recycle, show what changed; the run's exit code.
    pub async fn execute(self) -> anyhow::Result<u8> {
        let scenario = Scenario::from_yaml(DEMO_SCENARIO).context("the demo scenario")?;
        let sim = Sim::start(
            scenario,
            SimOptions {
                speed: self.speed,
                ..SimOptions::default()
            },
        )
        .await
        .context("cannot start the practice cluster")?;
        let nodes: Vec<String> = if self.nodes.is_empty() {
            DEMO_NODES.iter().map(|s| (*s).to_owned()).collect()
        } else {
            self.nodes.clone()
        };
        println!(
            "practice cluster {} up: Kubernetes API {} (kubeconfig {}), TKE API {}",
            sim.cluster_id,
            sim.k8s_url,
            sim.kubeconfig.display(),
            sim.tke_url
        );
        println!(
            "recycling {} with the bundled runbook and policies\n",
            nodes.join(" then ")
        );
        let config = resolve_config(&KubeOptions {
            kubeconfig: Some(sim.kubeconfig.clone()),
            context: None,
        })
        .await
        .context("cannot read the practice cluster's kubeconfig")?;
        let clients = Clients::from_config(config)?;
        let mut cloud_config = ClientConfig::new(
            Credentials {
                secret_id: sim.secret_id.clone(),
                secret_key: Secret::new(sim.secret_key.clone()),
                session_token: None,
            },
            sim.region.clone(),
        );
        cloud_config.tke_endpoint = Some(sim.tke_url.clone());
        let cloud = TcClient::new(cloud_config)?;
        let dir = match &self.journal_dir {
            Some(d) => d.clone(),
            None => tempfile_dir()?,
        };
        let runtime = Arc::new(
            self.engine
                .runtime()
                .context("cannot start the WebAssembly engine")?,
        );
        let pre: Vec<PolicySpec> = bundled::policies(Phase::Pre)
            .map(PolicySpec::bundled)
            .collect();
        let post: Vec<PolicySpec> = bundled::policies(Phase::Post)
            .map(PolicySpec::bundled)
            .collect();
        let progress = Progress::new(self.format, &nodes);
        // Warnings are shown, not asked about; the data disk of 10.0.8.13 keeps its content.
        let settings = json!({
            "assume_yes": true,
            "keep_data_disk": {"device": "/dev/vdb", "mount_target": "/data"},
            "post_check_interval_seconds": 1,
        });
        let options = RunOptions {
            cluster_id: Some(sim.cluster_id.clone()),
            assume_yes: true,
            ..run_options(
                RunMode::Recycle,
                nodes.clone(),
                settings,
                RunbookSource::Bundled,
                (pre, post),
                JournalBackend::File { dir: dir.clone() },
                &progress,
            )
        };
        let code = execute_prepared(PreparedRun {
            clients,
            cloud: Some(cloud),
            runtime,
            options,
            progress,
            journal_hint: format!(" --journal {}", dir.display()),
        })
        .await?;
        println!("\nwhat the practice cluster saw:");
        for n in &nodes {
            let node = sim.get(Res::Nodes, "", n);
            let ready = node.as_ref().is_some_and(|v| {
                v.pointer("/status/conditions")
                    .and_then(Value::as_array)
                    .is_some_and(|c| {
                        c.iter()
                            .any(|c| c["type"] == "Ready" && c["status"] == "True")
                    })
            });
            let cordoned = node
                .as_ref()
                .and_then(|v| v.pointer("/spec/unschedulable"))
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let pool = node
                .as_ref()
                .and_then(|v| v.pointer("/metadata/labels/tke.cloud.tencent.com~1nodepool-id"))
                .and_then(Value::as_str)
                .unwrap_or("-")
                .to_owned();
            println!(
                "  node {n}: {} {}, node pool {pool}",
                if ready { "Ready" } else { "NOT Ready" },
                if cordoned {
                    "(cordoned)"
                } else {
                    "(schedulable)"
                }
            );
        }
        let actions = sim.action_log();
        let count = |name: &str| {
            actions
                .iter()
                .filter(|a| a.action == name && a.error.is_none())
                .count()
        };
        println!(
            "  TKE: {} DeleteClusterInstances (retain), {} AddExistedInstances; VMs terminated: {}; data disks formatted: {}",
            count("DeleteClusterInstances"),
            count("AddExistedInstances"),
            sim.terminated_instances().len(),
            sim.formatted_disks().len()
        );
        sim.shutdown();
        println!(
            "\nthe run's journal stays for a look: tke-recycle status --journal {}",
            dir.display()
        );
        Ok(code)
    }
}

/// A fresh private directory for the demo's journal.
fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("tke-recycle-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

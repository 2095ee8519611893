//! `tke-recycle sim`: run the practice cluster (a Kubernetes API and a TKE API on 127.0.0.1)
//! from a scenario file until Ctrl-C.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::k8s::api_error;
use crate::sim::scenario::{Generate, Scenario};
use crate::sim::{Sim, SimOptions};

/// Run the practice cluster.
#[derive(Debug, Args)]
pub struct SimCommand {
    /// What to do.
    #[command(subcommand)]
    pub action: SimAction,
}

/// `sim` subcommands.
#[derive(Debug, Subcommand)]
pub enum SimAction {
    /// Serve a scenario until Ctrl-C.
    Serve(ServeArgs),
}

/// Serve a scenario: a Kubernetes API (bearer token, JSON) and a TKE/CVM API (TC3 signed).
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Scenario YAML file (see host/scenarios/). Optional with --generate.
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<PathBuf>,
    /// Clock speed: simulated seconds per real second (overrides the scenario's).
    #[arg(long, value_name = "N")]
    pub speed: Option<f64>,
    /// Kubernetes API port on 127.0.0.1 (0: any free port).
    #[arg(long, value_name = "P", default_value_t = 0)]
    pub port: u16,
    /// TKE/CVM API port on 127.0.0.1 (0: any free port).
    #[arg(long, value_name = "P", default_value_t = 0)]
    pub tke_port: u16,
    /// Write the kubeconfig here (default: a temporary directory, removed on exit).
    #[arg(long, value_name = "PATH")]
    pub kubeconfig_out: Option<PathBuf>,
    /// Add a generated cluster, e.g. nodes=5000,pods=150000.
    #[arg(long, value_name = "nodes=N,pods=M")]
    pub generate: Option<String>,
    /// Play this Kubernetes version (1.20 to 1.34) instead of the scenario's: 1.20 serves
    /// PodDisruptionBudgets and evictions only as policy/v1beta1, 1.21-1.24 both, 1.25+ only v1.
    #[arg(long, value_name = "1.X")]
    pub kubernetes_version: Option<String>,
    /// Serve the cluster under this TKE cluster ID instead of the scenario's (several practice
    /// clusters side by side for `fleet`).
    #[arg(long, value_name = "cls-...")]
    pub cluster_id: Option<String>,
}

impl SimCommand {
    /// Run the subcommand.
    pub async fn execute(self) -> anyhow::Result<ExitCode> {
        match self.action {
            SimAction::Serve(args) => args.execute().await,
        }
    }
}

impl ServeArgs {
    fn scenario(&self) -> Result<Scenario, crate::sim::scenario::ScenarioError> {
        let mut s = match &self.scenario {
            Some(p) => Scenario::from_file(p)?,
            None => Scenario::default(),
        };
        if let Some(g) = &self.generate {
            s.generate = Some(Generate::parse(g)?);
        }
        if let Some(v) = &self.kubernetes_version {
            s.cluster.version.clone_from(v);
        }
        if let Some(id) = &self.cluster_id {
            s.cluster.id.clone_from(id);
        }
        Ok(s)
    }

    /// Start, print how to connect, wait for Ctrl-C, stop.
    pub async fn execute(self) -> anyhow::Result<ExitCode> {
        if self.scenario.is_none() && self.generate.is_none() {
            eprintln!("error: give --scenario FILE or --generate nodes=N,pods=M");
            return Ok(ExitCode::from(super::EXIT_USAGE));
        }
        let scenario = match self.scenario() {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {}", api_error::render(&e));
                return Ok(ExitCode::from(super::EXIT_USAGE));
            }
        };
        let name = scenario.name.clone().unwrap_or_else(|| "practice".into());
        let started = std::time::Instant::now();
        let options = SimOptions {
            speed: self.speed,
            k8s_port: self.port,
            tke_port: self.tke_port,
            kubeconfig_out: self.kubeconfig_out.clone(),
        };
        let sim = Sim::start(scenario, options).await?;
        let kc = sim.kubeconfig.display().to_string();
        println!(
            "practice cluster {name:?} is up in {:.1}s (clock speed {}x)",
            started.elapsed().as_secs_f64(),
            sim.clock.speed()
        );
        println!("  Kubernetes API:  {}", sim.k8s_url);
        println!("  kubeconfig:      {kc}");
        println!(
            "  TKE/CVM API:     {} (endpoint {}, http)",
            sim.tke_url, sim.tke_endpoint
        );
        println!("  region, cluster: {}, {}", sim.region, sim.cluster_id);
        println!("  SecretId:        {}", sim.secret_id);
        println!("  SecretKey:       {}", sim.secret_key);
        println!();
        println!("  export KUBECONFIG={kc}");
        println!("  export TENCENTCLOUD_SECRET_ID={}", sim.secret_id);
        println!("  export TENCENTCLOUD_SECRET_KEY={}", sim.secret_key);
        println!("  export TENCENTCLOUD_REGION={}", sim.region);
        println!();
        println!("Press Ctrl-C to stop.");
        tokio::signal::ctrl_c().await?;
        println!("stopping");
        sim.shutdown();
        Ok(ExitCode::from(super::EXIT_OK))
    }
}

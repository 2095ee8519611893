//! `tke-recycle check --cluster cls-... --node NAME...`: take a live snapshot and run the
//! configured policies against it, exactly as `policy check --snapshot` does against a file.

use std::sync::Arc;

use anyhow::Context as _;
use clap::{ArgMatches, Args};

use super::access::KubeArgs;
use super::args::{EngineArgs, Format, PolicySelection, UsageError};
use super::policy_check::parse_now;
use super::{EXIT_DENY, EXIT_OK, output};
use crate::bindings::types::{CheckRequest, Phase as WitPhase};
use crate::bundled::Phase;
use crate::checks::{OutputLimits, run_policies};
use crate::k8s::snapshot::read_snapshot;
use crate::snapshot::ClusterView;

/// Check whether nodes can be recycled now: live snapshot, pre-check policies, findings.
#[derive(Debug, Args)]
pub struct LiveCheckArgs {
    /// TKE cluster ID (cls-...), recorded in the snapshot the policies see.
    #[arg(long, value_name = "CLUSTER_ID")]
    pub cluster: Option<String>,
    /// A node to recycle; repeat for nodes recycled together.
    #[arg(long = "node", value_name = "NAME", required = true)]
    pub nodes: Vec<String>,
    /// Evaluate as if it were this time (RFC 3339); default now.
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Table)]
    pub format: Format,
    #[command(flatten)]
    pub kube: KubeArgs,
    #[command(flatten)]
    pub selection: PolicySelection,
    #[command(flatten)]
    pub engine: EngineArgs,
}

impl LiveCheckArgs {
    /// Run it: 0 allowed, 1 denied.
    pub async fn execute(self, matches: Option<&ArgMatches>) -> anyhow::Result<u8> {
        let specs = self.selection.resolve(Phase::Pre, matches)?;
        let now = parse_now(self.now.as_deref())?;
        let runtime = self
            .engine
            .runtime()
            .context("cannot start the policy engine")?;
        let clients = self.kube.clients().await?;
        let snapshot = read_snapshot(&clients.reads, self.cluster.clone())
            .await
            .context("cannot read the cluster")?;
        let missing: Vec<&str> = self
            .nodes
            .iter()
            .filter(|n| !snapshot.nodes.iter().any(|s| &s.name == *n))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(UsageError(format!(
                "no such node in the cluster: {} (`tke-recycle nodes` lists them)",
                missing.join(", ")
            ))
            .into());
        }
        let view = Arc::new(ClusterView::new(snapshot));
        let request = CheckRequest {
            targets: self.nodes.clone(),
            phase: WitPhase::Pre,
            settings: String::new(),
            now,
            affected: Vec::new(),
        };
        let report = run_policies(&runtime, &specs, view, &request, &OutputLimits::default()).await;
        match self.format {
            Format::Table => print!("{}", output::table(&self.nodes, &report)),
            Format::Json => println!("{}", output::json(&self.nodes, &report)),
        }
        Ok(if report.denied() { EXIT_DENY } else { EXIT_OK })
    }
}

//! `tke-recycle policy check`: evaluate policies offline against a snapshot file.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{ArgMatches, Args, ValueEnum};

use super::args::{EngineArgs, Format, PolicySelection, UsageError};
use super::{EXIT_DENY, EXIT_OK, output};
use crate::bindings::types::{CheckRequest, ObjectRef, Phase as WitPhase};
use crate::bundled::Phase;
use crate::checks::{OutputLimits, run_policies};
use crate::snapshot::{ClusterView, Snapshot};

/// Phase flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PhaseArg {
    /// Pre-checks: before the nodes are touched.
    Pre,
    /// Post-checks: after a node came back.
    Post,
}

/// Evaluate policies against a snapshot file, as `check` would against the live cluster.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The snapshot file (JSON, as `tke-recycle snapshot -o FILE` writes it).
    #[arg(long, value_name = "FILE")]
    pub snapshot: PathBuf,
    /// A node to recycle; repeat for nodes recycled together.
    #[arg(long = "node", value_name = "NAME", required = true)]
    pub nodes: Vec<String>,
    /// Which phase's bundled policies run.
    #[arg(long, value_enum, default_value_t = PhaseArg::Pre)]
    pub phase: PhaseArg,
    /// Post phase: an object the recycle affected, KIND/NAMESPACE/NAME (e.g. Deployment/shop/web).
    #[arg(long = "affected", value_name = "KIND/NAMESPACE/NAME")]
    pub affected: Vec<String>,
    /// Evaluate as if it were this time (RFC 3339, e.g. 2026-11-28T02:30:00+08:00); default now.
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Table)]
    pub format: Format,
    #[command(flatten)]
    pub selection: PolicySelection,
    #[command(flatten)]
    pub engine: EngineArgs,
}

fn parse_affected(raw: &str) -> Result<ObjectRef, UsageError> {
    match raw.split('/').collect::<Vec<_>>().as_slice() {
        [kind, ns, name] if !kind.is_empty() && !name.is_empty() => Ok(ObjectRef {
            kind: (*kind).to_owned(),
            namespace: (!ns.is_empty()).then(|| (*ns).to_owned()),
            name: (*name).to_owned(),
        }),
        _ => Err(UsageError(format!(
            "--affected {raw}: write KIND/NAMESPACE/NAME, e.g. Deployment/shop/web"
        ))),
    }
}

/// `--now` as Unix seconds, or the clock.
pub fn parse_now(raw: Option<&str>) -> Result<u64, UsageError> {
    let ts = match raw {
        Some(text) => text.parse::<jiff::Timestamp>().map_err(|e| {
            UsageError(format!(
                "--now {text}: not an RFC 3339 time ({e}); write e.g. 2026-11-28T02:30:00+08:00"
            ))
        })?,
        None => jiff::Timestamp::now(),
    };
    u64::try_from(ts.as_second()).map_err(|_| UsageError(format!("--now {ts}: before 1970")))
}

impl CheckArgs {
    /// Run it: 0 allowed, 1 denied.
    pub async fn execute(self, matches: Option<&ArgMatches>) -> anyhow::Result<u8> {
        let phase = match self.phase {
            PhaseArg::Pre => Phase::Pre,
            PhaseArg::Post => Phase::Post,
        };
        let specs = self.selection.resolve(phase, matches)?;
        let affected = self
            .affected
            .iter()
            .map(|a| parse_affected(a))
            .collect::<Result<Vec<_>, _>>()?;
        let now = parse_now(self.now.as_deref())?;
        let snapshot = Snapshot::load(&self.snapshot)?;
        let view = Arc::new(ClusterView::new(snapshot));
        let runtime = self
            .engine
            .runtime()
            .context("cannot start the policy engine")?;
        let request = CheckRequest {
            targets: self.nodes.clone(),
            phase: match phase {
                Phase::Pre => WitPhase::Pre,
                Phase::Post => WitPhase::Post,
            },
            settings: String::new(),
            now,
            affected,
        };
        let report = run_policies(&runtime, &specs, view, &request, &OutputLimits::default()).await;
        match self.format {
            Format::Table => print!("{}", output::table(&self.nodes, &report)),
            Format::Json => println!("{}", output::json(&self.nodes, &report)),
        }
        Ok(if report.denied() { EXIT_DENY } else { EXIT_OK })
    }
}

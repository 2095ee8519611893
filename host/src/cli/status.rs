//! `tke-recycle status [RUN]`: the runs a journal backend holds and where each stands; with a
//! run, where each of its nodes stands and the host's last steps.

use anyhow::Context as _;
use clap::Args;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use serde_json::json;

use super::EXIT_OK;
use super::access::KubeArgs;
use super::args::{Format, UsageError};
use super::run_args::JournalArgs;
use crate::k8s::api_error;
use crate::run::journal::{Journal, JournalBackend};

/// Runs and where each stands.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// One run in detail (default: all runs, newest last).
    #[arg(value_name = "RUN")]
    pub run: Option<String>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Table)]
    pub format: Format,
    #[command(flatten)]
    pub journal: JournalArgs,
    #[command(flatten)]
    pub kube: KubeArgs,
}

/// The last completed step of each node, from the runbook's journal keys.
fn node_steps(journal: &Journal) -> Vec<(String, String, Option<String>)> {
    journal
        .run()
        .nodes
        .iter()
        .map(|n| {
            let step = journal
                .get(&format!("node/{n}/step"))
                .unwrap_or("pending")
                .to_owned();
            let why = journal.get(&format!("node/{n}/blocked")).map(str::to_owned);
            (n.clone(), step, why)
        })
        .collect()
}

impl StatusArgs {
    /// Show; always 0 unless the journal cannot be read.
    pub async fn execute(self) -> anyhow::Result<u8> {
        let clients = if self.journal.journal_in_cluster {
            Some(self.kube.clients().await?)
        } else {
            None
        };
        let backend: JournalBackend = self.journal.backend(clients.as_ref(), None)?;
        match &self.run {
            None => {
                let runs = Journal::list(&backend)
                    .await
                    .context("cannot list the runs")?;
                if self.format == Format::Json {
                    println!("{}", serde_json::to_string_pretty(&runs)?);
                    return Ok(EXIT_OK);
                }
                if runs.is_empty() {
                    println!("no runs in {}", describe(&backend));
                    return Ok(EXIT_OK);
                }
                let mut t = Table::new();
                t.load_preset(UTF8_FULL_CONDENSED);
                t.set_header(["RUN", "MODE", "CLUSTER", "NODES", "STATUS", "UPDATED"]);
                for r in &runs {
                    t.add_row([
                        r.run_id.clone(),
                        r.mode.clone(),
                        r.cluster_id.clone().unwrap_or_default(),
                        r.nodes.join(", "),
                        r.status.to_string(),
                        r.updated_at.clone(),
                    ]);
                }
                println!("{t}");
            }
            Some(run_id) => {
                let journal = Journal::open(&backend, run_id)
                    .await
                    .map_err(|e| UsageError(api_error::render(&e)))?;
                let r = journal.run();
                let nodes = node_steps(&journal);
                let steps = journal.host_steps();
                if self.format == Format::Json {
                    let v = json!({
                        "run": r,
                        "nodes": nodes.iter().map(|(n, s, w)| json!({"node": n, "step": s, "blocked": w})).collect::<Vec<_>>(),
                        "host_steps": steps.iter().map(|s| json!({"seq": s.seq, "op": s.op, "subject": s.subject, "phase": format!("{:?}", s.phase), "at": s.at})).collect::<Vec<_>>(),
                        "journal": journal.location(),
                    });
                    println!("{}", serde_json::to_string_pretty(&v)?);
                    return Ok(EXIT_OK);
                }
                println!("run      {}", r.run_id);
                println!("mode     {}", r.mode);
                println!("cluster  {}", r.cluster_id.as_deref().unwrap_or("-"));
                println!("status   {}", r.status);
                println!("created  {}   updated {}", r.created_at, r.updated_at);
                println!("holder   {}", r.holder);
                println!(
                    "journal  {} ({} writes)",
                    journal.location(),
                    r.journal_writes
                );
                let mut t = Table::new();
                t.load_preset(UTF8_FULL_CONDENSED);
                t.set_header(["NODE", "LAST STEP", "NOTE"]);
                for (n, s, w) in &nodes {
                    t.add_row([n.clone(), s.clone(), w.clone().unwrap_or_default()]);
                }
                println!("{t}");
                let tail: Vec<_> = steps.iter().rev().take(8).collect();
                if !tail.is_empty() {
                    println!("last host steps:");
                    for s in tail.into_iter().rev() {
                        println!("  {:>6} {} {} {:?}", s.seq, s.op, s.subject, s.phase);
                    }
                }
            }
        }
        Ok(EXIT_OK)
    }
}

fn describe(backend: &JournalBackend) -> String {
    match backend {
        JournalBackend::File { dir } => dir.join("runs").display().to_string(),
        JournalBackend::InCluster { namespace, .. } => format!("ConfigMaps in {namespace}"),
        JournalBackend::Memory => "memory".into(),
    }
}

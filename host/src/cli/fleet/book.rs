//! The fleet's record as this process holds it: read from its ConfigMap or made anew, and
//! brought up to date with every cluster's run journal (the journal is the truth of a run).

use anyhow::Context as _;

use super::config::{ClusterTarget, FleetConfig};
use super::output::FleetOutput;
use super::{connect, journal_backend};
use crate::cli::args::UsageError;
use crate::fleet::record::{ClusterState, FleetRecord, GATE_ENTRY, RecordStore, run_key};
use crate::k8s::api_error;
use crate::k8s::client::Clients;
use crate::run::journal::{Journal, RunStatus};

/// The record and where it is kept (nowhere: rebuilt from the journals each time).
pub(super) struct Book {
    /// The record.
    pub(super) record: FleetRecord,
    /// Its ConfigMap, when the config names one.
    pub(super) store: Option<RecordStore>,
}

impl Book {
    /// Write the record where it is kept (nowhere without a store).
    pub(super) async fn save(&mut self) -> anyhow::Result<()> {
        if let Some(store) = &mut self.store {
            store.write(&self.record).await?;
        }
        Ok(())
    }
}

/// The run the fleet started on a cluster, from that cluster's journal.
pub(super) async fn fleet_run(
    clients: &Clients,
    fleet: &str,
    cluster_id: &str,
) -> anyhow::Result<Option<Journal>> {
    let backend = journal_backend(clients);
    let key = run_key(fleet, cluster_id);
    let runs = Journal::list(&backend)
        .await
        .with_context(|| format!("cluster {cluster_id}: cannot list the run journals"))?;
    let Some(record) = runs
        .into_iter()
        .filter(|r| r.key.as_deref() == Some(key.as_str()))
        .max_by(|a, b| a.created_at.cmp(&b.created_at))
    else {
        return Ok(None);
    };
    let journal = Journal::open(&backend, &record.run_id)
        .await
        .with_context(|| format!("cluster {cluster_id}: cannot open run {}", record.run_id))?;
    Ok(Some(journal))
}

/// The run's nodes whose last step is not `done`, in order.
pub(super) fn nodes_not_done(journal: &Journal) -> Vec<&str> {
    journal
        .run()
        .nodes
        .iter()
        .filter(|n| journal.get(&format!("node/{n}/step")) != Some("done"))
        .map(String::as_str)
        .collect()
}

/// How many of the run's nodes are done.
pub(super) fn nodes_done(journal: &Journal) -> usize {
    journal.run().nodes.len() - nodes_not_done(journal).len()
}

/// Bring one cluster's line up to date with its journal: the journal is the truth of a run;
/// the record only knows what no journal does (skipped, the gate's last failure).
pub(super) fn merge_journal(record: &mut FleetRecord, cluster_id: &str, journal: Option<&Journal>) {
    let Some(j) = journal else { return };
    let gate_passed = j.get(GATE_ENTRY) == Some("passed");
    let from_journal = ClusterState::from_journal(Some(j.run()), gate_passed);
    record.update(cluster_id, |e| {
        let keep_gate_failure =
            e.state == ClusterState::GateFailed && from_journal == ClusterState::Recycled;
        if !keep_gate_failure {
            e.state = from_journal;
        }
        e.run = Some(j.run().run_id.clone());
        e.nodes.clone_from(&j.run().nodes);
        e.nodes_done = nodes_done(j);
        if let RunStatus::Stopped { reason } | RunStatus::Failed { reason } = &j.run().status {
            e.message = Some(reason.clone());
        }
    });
}

/// The record, read from its ConfigMap or made anew, with every cluster's journal merged in;
/// and whether the fleet was started before (a record or a run of it exists). A cluster that
/// cannot be read is reported and keeps its recorded line.
pub(super) async fn open_book(
    config: &FleetConfig,
    targets: &[ClusterTarget],
    out: &FleetOutput,
) -> anyhow::Result<(Book, bool)> {
    let ids: Vec<String> = targets.iter().map(|t| t.id.clone()).collect();
    let mut store = None;
    let mut existing = None;
    if let Some(r) = &config.record {
        let holder = targets.iter().find(|t| t.id == r.cluster).ok_or_else(|| {
            UsageError(format!(
                "record.cluster {} is not one of the fleet's clusters ({})",
                r.cluster,
                ids.join(", ")
            ))
        })?;
        let clients = connect(holder).await?;
        let mut s = RecordStore::new(&clients.direct, &r.namespace, &config.fleet);
        existing = s.read().await?;
        store = Some(s);
    }
    let mut found_any = existing.is_some();
    let mut record = match existing {
        Some(rec) => {
            let recorded: std::collections::BTreeSet<&String> = rec.clusters.keys().collect();
            let configured: std::collections::BTreeSet<&String> = ids.iter().collect();
            if recorded != configured {
                let added: Vec<&str> = configured
                    .difference(&recorded)
                    .map(|s| s.as_str())
                    .collect();
                let gone: Vec<&str> = recorded
                    .difference(&configured)
                    .map(|s| s.as_str())
                    .collect();
                return Err(UsageError(format!(
                    "fleet {} was started with other clusters (not in the record: {}; in the record but not in the config: {}); its batches are fixed, so finish it with its clusters or start a fleet with another name",
                    config.fleet,
                    if added.is_empty() { "none".into() } else { added.join(", ") },
                    if gone.is_empty() { "none".into() } else { gone.join(", ") },
                ))
                .into());
            }
            rec
        }
        None => FleetRecord::new(&config.fleet, &ids, config.batch_size),
    };
    for t in targets {
        let journal = match connect(t).await {
            Ok(clients) => fleet_run(&clients, &config.fleet, &t.id).await,
            Err(e) => Err(e),
        };
        match journal {
            Ok(j) => {
                found_any |= j.is_some();
                merge_journal(&mut record, &t.id, j.as_ref());
            }
            Err(e) => out.event(
                &t.id,
                "",
                "unreachable",
                &api_error::render(e.as_ref()),
                None,
            ),
        }
    }
    Ok((Book { record, store }, found_any))
}

//! `fleet` and `fleet resume`: batch after batch until the fleet is done or a batch does not
//! finish.

use std::sync::Arc;

use serde_json::json;
use tokio::sync::Mutex;

use super::book::open_book;
use super::cluster::do_cluster;
use super::config::{ClusterTarget, FleetConfig};
use super::output::FleetOutput;
use super::{Fleet, Runs, target};
use crate::cli::args::{EngineArgs, Format, UsageError};
use crate::cli::{EXIT_DENY, EXIT_FAILED, EXIT_OK};
use crate::fleet::record::ClusterState;

pub(super) async fn run(
    config: FleetConfig,
    format: Format,
    yes: bool,
    engine: EngineArgs,
    resume: bool,
) -> anyhow::Result<u8> {
    let out = FleetOutput::new(format);
    let targets = config.targets().await?;
    let (book, found_any) = open_book(&config, &targets, &out).await?;
    if resume && !found_any {
        return Err(UsageError(format!(
            "fleet {} has no record and no run in its clusters: there is nothing to resume; start it with `tke-recycle fleet --config ...`",
            config.fleet
        ))
        .into());
    }
    let fleet = Arc::new(Fleet {
        runs: Runs::new(config, out.clone(), engine, yes)?,
        book: Mutex::new(book),
    });
    {
        let mut book = fleet.book.lock().await;
        if let Some(why) = book.record.stopped.take() {
            out.event(
                "",
                "",
                "resume",
                &format!(
                    "fleet {} stopped earlier ({why}); going on",
                    fleet.runs.config.fleet
                ),
                None,
            );
        }
        let n = book.record.batches.len();
        let where_ = book.store.as_ref().map_or_else(
            || "rebuilt from the clusters' journals".to_owned(),
            |s| format!("record in {}", s.location()),
        );
        out.event(
            "",
            "",
            "fleet",
            &format!(
                "fleet {}: {} clusters in {n} batches of up to {} ({where_})",
                fleet.runs.config.fleet,
                book.record.clusters.len(),
                book.record.batch_size
            ),
            Some(json!({"batches": book.record.batches})),
        );
        book.save().await?;
    }
    let for_signal = fleet.clone();
    let signal = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            for_signal.runs.out.event(
                "",
                "",
                "interrupted",
                "stopping every cluster at its next safe point (Ctrl-C again to abort at once)",
                None,
            );
            for_signal
                .runs
                .interrupt
                .interrupt("interrupted by the operator (Ctrl-C)");
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
    let code = run_batches(&fleet, &targets).await;
    signal.abort();
    code
}

pub(super) async fn run_batches(
    fleet: &Arc<Fleet>,
    targets: &[ClusterTarget],
) -> anyhow::Result<u8> {
    let out = &fleet.runs.out;
    loop {
        let (index, total, clusters) = {
            let book = fleet.book.lock().await;
            let Some(index) = book.record.next_batch() else {
                break;
            };
            let clusters: Vec<String> = book.record.batches[index]
                .iter()
                .filter(|c| {
                    book.record
                        .clusters
                        .get(*c)
                        .is_none_or(|e| !e.state.is_final())
                })
                .cloned()
                .collect();
            (index, book.record.batches.len(), clusters)
        };
        out.event(
            "",
            "",
            "batch",
            &format!("batch {}/{total}: {}", index + 1, clusters.join(", ")),
            None,
        );
        let mut tasks = Vec::new();
        for id in &clusters {
            let t = target(targets, id)?;
            tasks.push(do_cluster(fleet, t));
        }
        futures::future::join_all(tasks).await;
        let mut book = fleet.book.lock().await;
        let stoppers: Vec<String> = clusters
            .iter()
            .filter_map(|c| {
                let e = book.record.clusters.get(c)?;
                (!e.state.is_final()).then(|| {
                    format!(
                        "{c} {}{}",
                        e.state,
                        e.message
                            .as_deref()
                            .map(|m| format!(": {m}"))
                            .unwrap_or_default()
                    )
                })
            })
            .collect();
        let why = if !stoppers.is_empty() {
            format!(
                "batch {} did not finish: {}",
                index + 1,
                stoppers.join("; ")
            )
        } else if let Some(reason) = fleet.runs.interrupt.reason() {
            format!("after batch {}: {reason}", index + 1)
        } else {
            book.save().await?;
            continue;
        };
        book.record.stopped = Some(why.clone());
        book.save().await?;
        out.event(
            "",
            "",
            "end",
            &format!("fleet {} stopped before the next batch: {why}; fix it, then `tke-recycle fleet resume --config ...`", fleet.runs.config.fleet),
            Some(json!({"status": "stopped", "exit_code": EXIT_FAILED, "clusters": book.record.clusters})),
        );
        return Ok(EXIT_FAILED);
    }
    let book = fleet.book.lock().await;
    let skipped: Vec<&String> = book
        .record
        .clusters
        .iter()
        .filter(|(_, e)| e.state == ClusterState::Skipped)
        .map(|(c, _)| c)
        .collect();
    let code = if skipped.is_empty() {
        EXIT_OK
    } else {
        EXIT_DENY
    };
    let mut message = format!("fleet {} is done", fleet.runs.config.fleet);
    if !skipped.is_empty() {
        message.push_str(&format!(
            "; skipped (pre-checks did not pass, nothing changed): {}",
            skipped
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    out.event(
        "",
        "",
        "end",
        &message,
        Some(json!({"status": "done", "exit_code": code, "clusters": book.record.clusters})),
    );
    Ok(code)
}

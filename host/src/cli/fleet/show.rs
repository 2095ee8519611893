//! `fleet plan` and `fleet status`: what a fleet would do, and where it stands.

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use serde_json::json;

use super::book::open_book;
use super::cluster::{choose_nodes, precheck};
use super::config::FleetConfig;
use super::output::FleetOutput;
use super::{Runs, connect, target};
use crate::cli::args::{EngineArgs, Format};
use crate::cli::{EXIT_DENY, EXIT_FAILED, EXIT_OK};
use crate::k8s::api_error;

pub(super) async fn plan(
    config: FleetConfig,
    format: Format,
    yes: bool,
    engine: EngineArgs,
) -> anyhow::Result<u8> {
    let out = FleetOutput::new(format);
    let targets = config.targets().await?;
    let ids: Vec<String> = targets.iter().map(|t| t.id.clone()).collect();
    let batches = crate::fleet::record::batches(&ids, config.batch_size);
    out.event(
        "",
        "",
        "fleet",
        &format!(
            "fleet {}: {} clusters in {} batches of up to {}",
            config.fleet,
            ids.len(),
            batches.len(),
            config.batch_size
        ),
        Some(json!({"batches": batches})),
    );
    let runs = Runs::new(config, out.clone(), engine, yes)?;
    let mut code = EXIT_OK;
    for (i, batch) in batches.iter().enumerate() {
        out.event(
            "",
            "",
            "batch",
            &format!("batch {}/{}: {}", i + 1, batches.len(), batch.join(", ")),
            None,
        );
        for id in batch {
            let t = target(&targets, id)?;
            let result = async {
                let clients = connect(t).await?;
                let nodes = choose_nodes(&runs.out, &clients, t).await?;
                if nodes.is_empty() {
                    return Ok::<_, anyhow::Error>(None);
                }
                precheck(&runs, t, &nodes).await
            }
            .await;
            match result {
                Ok(None) => out.event(id, "", "ok", "would be recycled", None),
                Ok(Some(why)) => {
                    code = code.max(EXIT_DENY);
                    out.event(id, "", "skipped", &format!("would be skipped: {why}"), None);
                }
                Err(e) => {
                    code = EXIT_FAILED;
                    out.event(id, "", "failed", &api_error::render(e.as_ref()), None);
                }
            }
        }
    }
    Ok(code)
}

pub(super) async fn status(config: &FleetConfig, format: Format) -> anyhow::Result<u8> {
    let targets = config.targets().await?;
    let out = FleetOutput::new(format);
    let (book, found_any) = open_book(config, &targets, &out).await?;
    let r = &book.record;
    let source = match (&book.store, found_any) {
        (Some(s), _) => format!("record {}", s.location()),
        (None, true) => "rebuilt from the clusters' journals".into(),
        (None, false) => "not started".into(),
    };
    if format == Format::Json {
        println!(
            "{}",
            json!({"fleet": config.fleet, "source": source, "finished": r.finished(), "stopped": r.stopped, "batches": r.batches, "clusters": r.clusters})
        );
        return Ok(EXIT_OK);
    }
    println!(
        "fleet {} ({source}): {}",
        config.fleet,
        if r.finished() {
            "done".to_owned()
        } else if let Some(s) = &r.stopped {
            format!("stopped: {s}")
        } else {
            "not finished".to_owned()
        }
    );
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(["BATCH", "CLUSTER", "STATE", "NODES", "RUN", "MESSAGE"]);
    for (i, batch) in r.batches.iter().enumerate() {
        for c in batch {
            let Some(e) = r.clusters.get(c) else { continue };
            table.add_row([
                (i + 1).to_string(),
                c.clone(),
                e.state.to_string(),
                format!("{}/{}", e.nodes_done, e.nodes.len()),
                e.run.clone().unwrap_or_default(),
                e.message.clone().unwrap_or_default(),
            ]);
        }
    }
    println!("{table}");
    Ok(EXIT_OK)
}

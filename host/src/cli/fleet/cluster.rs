//! One cluster of a batch: its run (planned first, then started, or resumed from its journal),
//! then the health gate; every outcome ends up in the record.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use serde_json::json;

use super::book::{fleet_run, nodes_done, nodes_not_done};
use super::config::ClusterTarget;
use super::output::FleetOutput;
use super::{Fleet, JOURNAL_NAMESPACE, Runs, connect, journal_backend};
use crate::bindings::RunMode;
use crate::cli::access::KubeArgs;
use crate::cli::args::{Format, UsageError};
use crate::cli::progress::Progress;
use crate::cli::resume::resume_options;
use crate::cli::run_args::{CommonRunArgs, Target, policies_from_record};
use crate::fleet::gate;
use crate::fleet::record::{ClusterState, GATE_ENTRY, run_key};
use crate::fleet::select;
use crate::k8s::api_error;
use crate::k8s::client::Clients;
use crate::run::journal::{Journal, RunRecord, RunStatus};
use crate::run::runner::{self, RunOutcome, RunbookSource};
use crate::runbook::RunEvent;

/// `CommonRunArgs` with every flag at its default, as a plain `run` gets them.
#[derive(Debug, Parser)]
struct RunDefaults {
    #[command(flatten)]
    common: CommonRunArgs,
}

/// One cluster of a batch to its end: its run (started or resumed), then the gate. Every
/// outcome, failures included, ends up in the record; nothing is returned.
pub(super) async fn do_cluster(fleet: &Arc<Fleet>, t: &ClusterTarget) {
    let out = &fleet.runs.out;
    let result = cluster_steps(fleet, t).await;
    let mut book = fleet.book.lock().await;
    if let Err(e) = result {
        let message = api_error::render(e.as_ref());
        out.event(&t.id, "", "failed", &message, None);
        book.record.update(&t.id, |e| {
            e.state = ClusterState::Failed;
            e.message = Some(message);
        });
    }
    if let Err(e) = book.save().await {
        out.event(
            &t.id,
            "",
            "failed",
            &format!(
                "cannot write the fleet record: {}",
                api_error::render(e.as_ref())
            ),
            None,
        );
    }
}

pub(super) async fn set_state(
    fleet: &Fleet,
    id: &str,
    change: impl FnOnce(&mut crate::fleet::record::ClusterEntry),
) -> anyhow::Result<()> {
    let mut book = fleet.book.lock().await;
    book.record.update(id, change);
    book.save().await
}

pub(super) async fn cluster_steps(fleet: &Arc<Fleet>, t: &ClusterTarget) -> anyhow::Result<()> {
    let out = &fleet.runs.out;
    let id = t.id.as_str();
    let clients = connect(t).await?;
    let key = run_key(&fleet.runs.config.fleet, id);
    // Read again now rather than trusting what the record was opened with: a later batch starts
    // long after, and the journal is the truth of the cluster's run.
    let journal = fleet_run(&clients, &fleet.runs.config.fleet, id).await?;
    let record: Option<RunRecord> = match journal {
        Some(j) if matches!(j.run().status, RunStatus::Done) => {
            let not_done = nodes_not_done(&j);
            let mut message = format!("run {} is done", j.run().run_id);
            if !not_done.is_empty() {
                // A run that skipped a blocked node (onBlocked: skip) is done; the operator who
                // resumes the fleet goes on without those nodes, and is told which they are.
                message.push_str(&format!(
                    "; not recycled by it: {} (recycle them with `tke-recycle run`)",
                    not_done.join(", ")
                ));
            }
            out.event(id, "", "recycled", &message, None);
            Some(j.run().clone())
        }
        Some(j) => {
            let previous = j.run().clone();
            out.event(
                id,
                "",
                "resume",
                &format!(
                    "resuming run {} (run key {key}) from its journal",
                    previous.run_id
                ),
                None,
            );
            set_state(fleet, id, |e| {
                e.state = ClusterState::Running;
                e.run = Some(previous.run_id.clone());
                e.nodes.clone_from(&previous.nodes);
                e.message = None;
            })
            .await?;
            let outcome = resume_cluster(&fleet.runs, t, &clients, &previous).await?;
            finish_run(fleet, id, &clients, outcome).await?
        }
        None => {
            let nodes = choose_nodes(out, &clients, t).await?;
            if nodes.is_empty() {
                set_state(fleet, id, |e| {
                    e.state = ClusterState::Done;
                    e.message = Some(format!("no node matches: {}", t.nodes.describe()));
                })
                .await?;
                return Ok(());
            }
            let verdict = precheck(&fleet.runs, t, &nodes).await?;
            if let Some(why) = verdict {
                out.event(
                    id,
                    "",
                    "skipped",
                    &format!("skipped, nothing changed: {why}"),
                    None,
                );
                set_state(fleet, id, |e| {
                    e.state = ClusterState::Skipped;
                    e.nodes.clone_from(&nodes);
                    e.message = Some(why);
                })
                .await?;
                return Ok(());
            }
            set_state(fleet, id, |e| {
                e.state = ClusterState::Running;
                e.nodes.clone_from(&nodes);
                e.message = None;
            })
            .await?;
            let outcome = start_cluster(&fleet.runs, t, &nodes, &key).await?;
            set_state(fleet, id, |e| e.run = Some(outcome.run_id.clone())).await?;
            finish_run(fleet, id, &clients, outcome).await?
        }
    };
    match record {
        Some(record) => run_gate(fleet, t, &clients, &record).await,
        None => Ok(()),
    }
}

/// The cluster's nodes by its selection, reported; an empty list is an answer, not an error.
pub(super) async fn choose_nodes(
    out: &FleetOutput,
    clients: &Clients,
    t: &ClusterTarget,
) -> anyhow::Result<Vec<String>> {
    let nodes = select::choose(&clients.reads, &t.nodes)
        .await
        .map_err(|e| UsageError(format!("cluster {}: {e}", t.id)))?;
    let listed = if nodes.is_empty() {
        "none".to_owned()
    } else {
        nodes.join(", ")
    };
    out.event(
        &t.id,
        "",
        "nodes",
        &format!("{}: {listed}", t.nodes.describe()),
        Some(json!({"nodes": nodes})),
    );
    Ok(nodes)
}

/// After a run: the cluster's line updated, and the run's record when it finished every node
/// (`None`: it stopped, failed or skipped a node, and the cluster is marked failed).
pub(super) async fn finish_run(
    fleet: &Fleet,
    id: &str,
    clients: &Clients,
    outcome: RunOutcome,
) -> anyhow::Result<Option<RunRecord>> {
    let journal = Journal::open(&journal_backend(clients), &outcome.run_id)
        .await
        .with_context(|| format!("cluster {id}: cannot read run {} back", outcome.run_id))?;
    let done = nodes_done(&journal);
    let record = journal.run().clone();
    let finished = matches!(outcome.status, RunStatus::Done) && !outcome.blocked;
    set_state(fleet, id, |e| {
        e.nodes_done = done;
        if finished {
            e.state = ClusterState::Recycled;
        } else {
            e.state = ClusterState::Failed;
            e.message = Some(match &outcome.status {
                RunStatus::Done => "a node's drain was blocked and the node skipped".to_owned(),
                other => other.to_string(),
            });
        }
    })
    .await?;
    if !finished {
        fleet.runs.out.event(
            id,
            "",
            "failed",
            &format!("run {} did not finish: {}", outcome.run_id, outcome.status),
            None,
        );
        return Ok(None);
    }
    Ok(Some(record))
}

pub(super) async fn run_gate(
    fleet: &Fleet,
    t: &ClusterTarget,
    clients: &Clients,
    record: &RunRecord,
) -> anyhow::Result<()> {
    let id = t.id.as_str();
    let out = &fleet.runs.out;
    let post = policies_from_record(&record.policies["post"])?;
    out.event(id, "", "gate", &format!(
            "health gate: post-checks ({}) over every workload and PDB, every node Ready and schedulable (up to {} s)",
            post.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", "),
            fleet.runs.config.gate.timeout
        ), None);
    let problems = gate::wait_healthy(
        &clients.reads,
        &fleet.runs.runtime,
        &post,
        Some(id.to_owned()),
        Duration::from_secs(fleet.runs.config.gate.timeout),
        Duration::from_secs(fleet.runs.config.gate.interval),
    )
    .await
    .with_context(|| format!("cluster {id}"))?;
    let mut journal = Journal::open(&journal_backend(clients), &record.run_id)
        .await
        .with_context(|| format!("cluster {id}: cannot open run {}", record.run_id))?;
    if problems.is_empty() {
        journal
            .put(GATE_ENTRY, "passed")
            .await
            .with_context(|| format!("cluster {id}: cannot journal the gate"))?;
        out.event(id, "", "done", "health gate passed", None);
        set_state(fleet, id, |e| {
            e.state = ClusterState::Done;
            e.message = None;
        })
        .await
    } else {
        let text = problems.join("; ");
        journal
            .put(GATE_ENTRY, &format!("failed: {text}"))
            .await
            .with_context(|| format!("cluster {id}: cannot journal the gate"))?;
        out.event(
            id,
            "",
            "gate-failed",
            &format!(
                "health gate failed after {} s: {text}",
                fleet.runs.config.gate.timeout
            ),
            Some(json!({"problems": problems})),
        );
        set_state(fleet, id, |e| {
            e.state = ClusterState::GateFailed;
            e.message = Some(text);
        })
        .await
    }
}

/// `run`'s flags at their defaults, pointed at one cluster with its journal in the cluster.
pub(super) fn run_flags(runs: &Runs, t: &ClusterTarget) -> anyhow::Result<CommonRunArgs> {
    let mut flags = RunDefaults::try_parse_from(["tke-recycle"])
        .context("cannot build the run's default flags")?
        .common;
    flags.kube = KubeArgs {
        kubeconfig: t.kubeconfig.clone(),
        context: t.context.clone(),
    };
    flags.journal.journal_in_cluster = true;
    flags.journal.journal_namespace = JOURNAL_NAMESPACE.into();
    // Events go to the fleet's sink; the run's own output is never shown.
    flags.output.format = Format::Json;
    flags.yes = runs.yes;
    flags.engine = runs.engine.clone();
    Ok(flags)
}

pub(super) async fn prepared(
    runs: &Runs,
    t: &ClusterTarget,
    nodes: &[String],
    mode: RunMode,
) -> anyhow::Result<crate::cli::run_args::PreparedRun> {
    let flags = run_flags(runs, t)?;
    let target = Target {
        mode,
        nodes,
        selector: None,
        cluster: Some(t.id.as_str()),
        cloud: Some(&t.cloud),
        login_key_ids: &[],
        keep_image_login: false,
        keep_data_disk: None,
        uncordon_after_drain: false,
        config: Some(&runs.config.recycle),
    };
    let mut p = flags.prepare(target, None).await?;
    p.runtime = runs.runtime.clone();
    p.options.prompter = None;
    p.options.cancel = runs.interrupt.cancel_for_run();
    Ok(p)
}

pub(super) async fn execute(p: crate::cli::run_args::PreparedRun) -> anyhow::Result<RunOutcome> {
    runner::execute(p.clients, p.cloud, p.runtime, p.options)
        .await
        .map_err(|e| match e {
            runner::RunError::NotResumable(m) => UsageError(m).into(),
            runner::RunError::Lock(l) => {
                anyhow::Error::new(l).context("another recycle is running on this cluster")
            }
            other => anyhow::Error::new(other),
        })
}

/// Plan the cluster's nodes; why it must be skipped, or `None` when every node may go.
pub(super) async fn precheck(
    runs: &Runs,
    t: &ClusterTarget,
    nodes: &[String],
) -> anyhow::Result<Option<String>> {
    let mut p = prepared(runs, t, nodes, RunMode::Plan).await?;
    let seen: Arc<std::sync::Mutex<Vec<RunEvent>>> = Arc::default();
    let keep = seen.clone();
    let sink = runs.out.sink(&t.id);
    p.options.events = Arc::new(move |e: &RunEvent| {
        if let Ok(mut v) = keep.lock() {
            v.push(e.clone());
        }
        sink(e);
    });
    let outcome = execute(p).await?;
    let events = seen.lock().map(|v| v.clone()).unwrap_or_default();
    let reasons: Vec<String> = events
        .iter()
        .filter(|e| matches!(e.step.as_str(), "denied" | "invalid"))
        .map(|e| e.message.clone())
        .collect();
    if outcome.denied || outcome.invalid {
        return Ok(Some(if reasons.is_empty() {
            format!(
                "the pre-checks did not pass (run `tke-recycle fleet plan` for the findings): {}",
                outcome.status
            )
        } else {
            reasons.join("; ")
        }));
    }
    let yes = runs.yes || runs.config.recycle.yes;
    let warned: Vec<String> = events
        .iter()
        .filter(|e| e.step == "plan" && !e.node.is_empty())
        .filter_map(|e| {
            let codes = e.data.as_ref()?.get("warnings")?.as_array()?;
            (!codes.is_empty()).then(|| {
                let codes: Vec<&str> = codes.iter().filter_map(|c| c.as_str()).collect();
                format!("{}: {}", e.node, codes.join(", "))
            })
        })
        .collect();
    if !warned.is_empty() && !yes {
        return Ok(Some(format!(
            "warnings need a yes and a fleet asks nobody ({}); pass --yes or set recycle.yes: true",
            warned.join("; ")
        )));
    }
    Ok(None)
}

pub(super) async fn start_cluster(
    runs: &Runs,
    t: &ClusterTarget,
    nodes: &[String],
    key: &str,
) -> anyhow::Result<RunOutcome> {
    let mut p = prepared(runs, t, nodes, RunMode::Recycle).await?;
    p.options.events = runs.out.sink(&t.id);
    p.options.run_key = Some(key.to_owned());
    execute(p).await
}

pub(super) async fn resume_cluster(
    runs: &Runs,
    t: &ClusterTarget,
    clients: &Clients,
    previous: &RunRecord,
) -> anyhow::Result<RunOutcome> {
    let progress = Progress::new(Format::Json, &[]);
    let runbook = runs
        .config
        .recycle
        .runbook
        .clone()
        .map_or(RunbookSource::Bundled, RunbookSource::File);
    let mut options = resume_options(
        previous,
        journal_backend(clients),
        runbook,
        t.context.clone(),
        &progress,
    )?;
    options.events = runs.out.sink(&t.id);
    options.prompter = None;
    options.cancel = runs.interrupt.cancel_for_run();
    let cloud = t.cloud.client()?;
    runner::execute(clients.clone(), Some(cloud), runs.runtime.clone(), options)
        .await
        .map_err(|e| match e {
            runner::RunError::NotResumable(m) => UsageError(m).into(),
            other => anyhow::Error::new(other),
        })
}

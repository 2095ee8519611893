//! How a run shows itself: on a terminal a live view with one line per node (its step, elapsed
//! time and the live blocker) drawn by `indicatif`; plain timestamped lines when stdout is not a
//! terminal; one JSON event per line with `-o json`. Also the yes/no prompt on a terminal.

use std::collections::BTreeMap;
use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::args::Format;
use crate::run::journal::RunStatus;
use crate::run::runner::RunOutcome;
use crate::runbook::context::Prompter;
use crate::runbook::{EventSink, RunEvent};

/// Steps after which a node's line is finished.
const FINAL_STEPS: &[&str] = &[
    "done", "plan", "blocked", "denied", "invalid", "failed", "skipped",
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Live,
    Plain,
    Json,
}

struct LiveView {
    multi: MultiProgress,
    bars: BTreeMap<String, ProgressBar>,
    style: ProgressStyle,
    done_style: ProgressStyle,
}

/// The run's output. Cheap to clone; all clones draw to the same place.
#[derive(Clone)]
pub struct Progress {
    mode: Mode,
    live: Option<Arc<Mutex<LiveView>>>,
}

fn seconds(ms: u64) -> String {
    #[allow(
        clippy::cast_precision_loss,
        reason = "a duration shown to one decimal"
    )]
    let s = ms as f64 / 1000.0;
    format!("{s:6.1}s")
}

impl Progress {
    /// Output for `format`, with a line reserved per node on a terminal.
    pub fn new(format: Format, nodes: &[String]) -> Self {
        let mode = match format {
            Format::Json => Mode::Json,
            Format::Table if std::io::stdout().is_terminal() => Mode::Live,
            Format::Table => Mode::Plain,
        };
        let live = (mode == Mode::Live).then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stdout());
            let style = ProgressStyle::with_template(
                "{spinner:.cyan} {prefix:<16.bold} [{elapsed:>4}] {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
            let done_style =
                ProgressStyle::with_template("  {prefix:<16.bold} [{elapsed:>4}] {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner());
            let mut bars = BTreeMap::new();
            for n in nodes {
                let bar = multi.add(ProgressBar::new_spinner());
                bar.set_style(style.clone());
                bar.set_prefix(n.clone());
                bar.set_message("waiting");
                bars.insert(n.clone(), bar);
            }
            Arc::new(Mutex::new(LiveView {
                multi,
                bars,
                style,
                done_style,
            }))
        });
        Self { mode, live }
    }

    fn show(&self, e: &RunEvent) {
        match self.mode {
            Mode::Json => {
                if let Ok(line) = serde_json::to_string(e) {
                    println!("{line}");
                }
            }
            Mode::Plain => {
                let who = if e.node.is_empty() { "run" } else { &e.node };
                println!(
                    "{} {who:<15} {:<11} {}",
                    seconds(e.at_ms),
                    e.step,
                    e.message
                );
            }
            Mode::Live => {
                let Some(live) = &self.live else { return };
                let mut view = live
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if e.node.is_empty() {
                    let _ = view
                        .multi
                        .println(format!("{} {}", seconds(e.at_ms), e.message));
                    return;
                }
                if !view.bars.contains_key(&e.node) {
                    let bar = view.multi.add(ProgressBar::new_spinner());
                    bar.set_style(view.style.clone());
                    bar.set_prefix(e.node.clone());
                    view.bars.insert(e.node.clone(), bar);
                }
                let done_style = view.done_style.clone();
                let line = format!("{:<11} {}", e.step, e.message);
                let Some(bar) = view.bars.get(&e.node).cloned() else {
                    return;
                };
                // Each step also goes above the live lines, so the history stays on screen.
                let _ = view
                    .multi
                    .println(format!("{} {:<15} {line}", seconds(e.at_ms), e.node));
                if bar.elapsed() < Duration::from_millis(5) || bar.message() == "waiting" {
                    bar.reset_elapsed();
                    bar.enable_steady_tick(Duration::from_millis(120));
                }
                if FINAL_STEPS.contains(&e.step.as_str()) {
                    bar.set_style(done_style);
                    bar.finish_with_message(line);
                } else {
                    bar.set_message(line);
                }
            }
        }
    }

    /// The sink the run sends its events to.
    pub fn sink(&self) -> EventSink {
        let me = self.clone();
        Arc::new(move |e: &RunEvent| me.show(e))
    }

    /// A line from the command itself (not the run).
    pub fn note(&self, message: &str) {
        match self.mode {
            Mode::Json => {
                let e = serde_json::json!({"step": "note", "message": message});
                println!("{e}");
            }
            Mode::Plain => eprintln!("{message}"),
            Mode::Live => match &self.live {
                Some(live) => {
                    let view = live
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    let _ = view.multi.println(message);
                }
                None => eprintln!("{message}"),
            },
        }
    }

    /// Asks on the terminal; none when stdin or stderr is not one, or with `-o json`.
    pub fn prompter(&self) -> Option<Prompter> {
        if self.mode == Mode::Json
            || !std::io::stdin().is_terminal()
            || !std::io::stderr().is_terminal()
        {
            return None;
        }
        let live = self.live.clone();
        Some(Arc::new(move |question: &str| {
            let ask = || {
                eprint!("{question} [y/N] ");
                let _ = std::io::stderr().flush();
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line).ok()?;
                Some(matches!(line.trim(), "y" | "Y" | "yes" | "YES" | "Yes"))
            };
            match &live {
                Some(l) => {
                    let view = l.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    view.multi.suspend(ask)
                }
                None => ask(),
            }
        }))
    }

    /// The closing lines: how the run ended and, when it can go on, how to resume it.
    pub fn finish(&self, outcome: &RunOutcome, dry_run: bool, journal_hint: &str) {
        if let Some(live) = &self.live {
            let view = live
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for bar in view.bars.values() {
                if !bar.is_finished() {
                    bar.abandon();
                }
            }
        }
        let resumable = !dry_run && !matches!(outcome.status, RunStatus::Done);
        let resume = format!("tke-recycle resume {}{journal_hint}", outcome.run_id);
        if self.mode == Mode::Json {
            let e = serde_json::json!({
                "step": "end",
                "run": outcome.run_id,
                "status": outcome.status,
                "exit_code": outcome.exit_code(),
                "journal": outcome.journal_location,
                "journal_writes": outcome.journal_writes,
                "wall_ms": outcome.wall_ms,
                "waited_ms": outcome.waited_ms,
                "resume": resumable.then_some(resume),
            });
            println!("{e}");
            return;
        }
        if dry_run {
            println!(
                "plan {}: {}",
                if outcome.denied { "has blockers" } else { "ok" },
                if outcome.denied {
                    "a pre-check denies at least one node (see above); nothing was changed"
                } else {
                    "nothing was changed"
                }
            );
            return;
        }
        println!("run {} {}", outcome.run_id, outcome.status);
        println!("journal: {}", outcome.journal_location);
        if resumable {
            println!("resume with: {resume}");
        }
    }
}

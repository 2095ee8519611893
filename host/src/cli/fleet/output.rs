//! What a fleet prints: one line per event, tagged with its cluster (and node), plain or as
//! JSON (`{"at_ms", "cluster", "node", "step", "message", "data"}`). Clusters of a batch run at
//! once, so their lines interleave; the tag keeps them apart, and `fleet status` gives the
//! settled picture.

use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};

use crate::cli::args::Format;
use crate::runbook::{EventSink, RunEvent};

/// The fleet's output.
#[derive(Clone)]
pub struct FleetOutput {
    format: Format,
    started: Instant,
}

impl FleetOutput {
    /// Output in `format`, timed from now.
    pub fn new(format: Format) -> Self {
        Self {
            format,
            started: Instant::now(),
        }
    }

    /// One event. `cluster` is empty for the fleet as a whole, `node` for a cluster as a whole.
    pub fn event(&self, cluster: &str, node: &str, step: &str, message: &str, data: Option<Value>) {
        let at_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match self.format {
            Format::Json => {
                let mut e = json!({"at_ms": at_ms, "cluster": cluster, "node": node,
                    "step": step, "message": message});
                if let Some(d) = data {
                    e["data"] = d;
                }
                println!("{e}");
            }
            Format::Table => {
                #[allow(clippy::cast_precision_loss, reason = "seconds to one decimal")]
                let s = at_ms as f64 / 1000.0;
                let who = if cluster.is_empty() { "fleet" } else { cluster };
                println!("{s:7.1}s {who:<14} {node:<15} {step:<11} {message}");
            }
        }
    }

    /// The sink a cluster's run reports to.
    pub fn sink(&self, cluster: &str) -> EventSink {
        let me = self.clone();
        let cluster = cluster.to_owned();
        Arc::new(move |e: &RunEvent| {
            me.event(&cluster, &e.node, &e.step, &e.message, e.data.clone());
        })
    }
}

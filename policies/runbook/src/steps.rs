//! The runbook's journal: which step each node completed, its capture record and why it was
//! blocked. Keys are the runbook's own (`node/<name>/...`); the host keeps its own under `host/`.

use crate::error::{self, Stop};
use crate::host::Host;

/// The last completed step of a node, as journaled under `node/<name>/step`.
///
/// The progress steps are in procedure order (`Checked` .. `Done`), so `<` means "earlier".
/// `Removing` and `Adding` are intents, written before the call: a resumed run re-reads TKE to
/// learn whether the call happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    /// Pre-checks passed (or were accepted / confirmed).
    Checked,
    /// The capture record is journaled.
    Captured,
    /// The node is cordoned.
    Cordoned,
    /// Every pod to evict is gone.
    Drained,
    /// About to remove the instance (intent).
    Removing,
    /// The instance is out of the cluster and the Node object is gone.
    Removed,
    /// About to add the instance back (intent).
    Adding,
    /// TKE has the instance in the cluster again.
    Added,
    /// The instance is running and the Node is Ready.
    Ready,
    /// The node's own labels and taints are back.
    Restored,
    /// The node is schedulable again.
    Uncordoned,
    /// Finished (post-check passed).
    Done,
    /// Terminal: pre-checks denied or warnings not confirmed. A resume checks again.
    Denied,
    /// Terminal: the drain could not finish; the node was uncordoned. A resume starts it again.
    Blocked,
    /// Terminal: the node cannot be recycled as it is (missing, no instance, no login). A resume
    /// starts it again.
    Invalid,
    /// Terminal: blocked with `on_blocked: skip`; a resume passes it over.
    Skipped,
}

impl Step {
    /// Every value, for tests and the README.
    pub const ALL: [Step; 16] = [
        Step::Checked,
        Step::Captured,
        Step::Cordoned,
        Step::Drained,
        Step::Removing,
        Step::Removed,
        Step::Adding,
        Step::Added,
        Step::Ready,
        Step::Restored,
        Step::Uncordoned,
        Step::Done,
        Step::Denied,
        Step::Blocked,
        Step::Invalid,
        Step::Skipped,
    ];

    /// The journaled spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Checked => "checked",
            Step::Captured => "captured",
            Step::Cordoned => "cordoned",
            Step::Drained => "drained",
            Step::Removing => "removing",
            Step::Removed => "removed",
            Step::Adding => "adding",
            Step::Added => "added",
            Step::Ready => "ready",
            Step::Restored => "restored",
            Step::Uncordoned => "uncordoned",
            Step::Done => "done",
            Step::Denied => "denied",
            Step::Blocked => "blocked",
            Step::Invalid => "invalid",
            Step::Skipped => "skipped",
        }
    }

    /// Parse the journaled spelling.
    pub fn parse(s: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|step| step.as_str() == s)
    }

    /// A node in this state is passed over by a resumed run.
    pub fn is_finished(self) -> bool {
        matches!(self, Step::Done | Step::Skipped)
    }

    /// A terminal state after which a resumed run starts the node from its pre-checks.
    pub fn restarts(self) -> bool {
        matches!(self, Step::Denied | Step::Blocked | Step::Invalid)
    }
}

/// `node/<name>/step`.
pub fn step_key(node: &str) -> String {
    format!("node/{node}/step")
}

/// `node/<name>/capture`.
pub fn capture_key(node: &str) -> String {
    format!("node/{node}/capture")
}

/// `node/<name>/blocked`.
pub fn blocked_key(node: &str) -> String {
    format!("node/{node}/blocked")
}

/// Journal a node's step.
pub fn put_step(host: &mut dyn Host, node: &str, step: Step) -> Result<(), Stop> {
    host.journal_put(&step_key(node), step.as_str())
        .map_err(error::journal(format_args!(
            "node {node}: journaling step {}",
            step.as_str()
        )))
}

/// The journaled step of a node, if any.
pub fn get_step(host: &mut dyn Host, node: &str) -> Result<Option<Step>, Stop> {
    let value = host
        .journal_get(&step_key(node))
        .map_err(error::journal(format_args!(
            "node {node}: reading its journaled step"
        )))?;
    match value {
        None => Ok(None),
        Some(v) => Step::parse(&v).map(Some).ok_or_else(|| {
            Stop::failed(format!(
                "node {node}: the journal has an unknown step {v:?} under {}; this journal was not written by this runbook version",
                step_key(node)
            ))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_round_trips_through_its_spelling() {
        for step in Step::ALL {
            assert_eq!(Step::parse(step.as_str()), Some(step));
        }
        assert_eq!(Step::parse("cordon"), None);
    }

    #[test]
    fn progress_steps_are_in_procedure_order() {
        let progress = &Step::ALL[..12];
        assert!(progress.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(progress.last(), Some(&Step::Done));
    }
}

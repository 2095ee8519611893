//! Why a run stops, and the generated error variants turned into messages.
//!
//! `cancelled` from any interface is not an error to explain: the operator pressed Ctrl-C or the
//! run lost its lock, so the runbook returns at once and the journal keeps its place.

use std::fmt;

use crate::host::{JournalError, OpsError, TkeError};

/// The one message a cancelled run returns.
pub const CANCELLED: &str = "cancelled";

/// Why the run stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// Cancelled by the operator or a lost lock: return without another call.
    Cancelled,
    /// Anything else: the message names the node, the step and the cause.
    Failed(String),
}

impl Stop {
    /// The message `run` returns.
    pub fn into_message(self) -> String {
        match self {
            Stop::Cancelled => CANCELLED.to_owned(),
            Stop::Failed(message) => message,
        }
    }

    /// A failure with this message.
    pub fn failed(message: impl Into<String>) -> Stop {
        Stop::Failed(message.into())
    }
}

/// An `operations` error as text (without a cancelled case: callers handle it first).
pub fn ops_message(error: &OpsError) -> String {
    match error {
        OpsError::NotFound(m) => format!("not found: {m}"),
        OpsError::TimedOut(m) => format!("timed out: {m}"),
        OpsError::Cancelled => CANCELLED.to_owned(),
        OpsError::Refused(m) => format!("refused by the host: {m}"),
        OpsError::Api(m) => format!("cluster API error: {m}"),
    }
}

/// A `tke` error as text.
pub fn tke_message(error: &TkeError) -> String {
    match error {
        TkeError::Throttled(m) => format!("TKE API throttled: {m}"),
        TkeError::NotFound(m) => format!("not found in TKE: {m}"),
        TkeError::Invalid(m) => format!("TKE refused the request as invalid: {m}"),
        TkeError::Refused(m) => format!("refused by the host: {m}"),
        TkeError::Api(m) => format!("TKE API error: {m}"),
        TkeError::Transport(m) => format!("no answer from TKE (outcome unknown): {m}"),
        TkeError::TimedOut(m) => format!("timed out: {m}"),
        TkeError::Cancelled => CANCELLED.to_owned(),
    }
}

/// A `journal` error as text.
pub fn journal_message(error: &JournalError) -> String {
    match error {
        JournalError::TooLarge(m) => format!("value too large for the journal: {m}"),
        JournalError::Reserved(m) => format!("journal key reserved for the host: {m}"),
        JournalError::Storage(m) => format!("journal storage failed: {m}"),
    }
}

/// Turn an `operations` error into a stop whose message starts with `context`
/// (e.g. "node 10.0.0.1: cordon").
pub fn ops(context: impl fmt::Display) -> impl FnOnce(OpsError) -> Stop {
    move |error| match error {
        OpsError::Cancelled => Stop::Cancelled,
        other => Stop::Failed(format!("{context} failed: {}", ops_message(&other))),
    }
}

/// Turn a `tke` error into a stop whose message starts with `context`.
pub fn tke(context: impl fmt::Display) -> impl FnOnce(TkeError) -> Stop {
    move |error| match error {
        TkeError::Cancelled => Stop::Cancelled,
        other => Stop::Failed(format!("{context} failed: {}", tke_message(&other))),
    }
}

/// Turn a `journal` error into a stop whose message starts with `context`.
pub fn journal(context: impl fmt::Display) -> impl FnOnce(JournalError) -> Stop {
    move |error| {
        Stop::Failed(format!(
            "{context} failed: {}; the run stops (resume once the journal works)",
            journal_message(&error)
        ))
    }
}

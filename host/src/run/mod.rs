//! The run machinery: journal backends, failpoints, and running or resuming a recycle under the
//! cluster lock.
//!
//! - [`journal`]: the durable key/value state of one recycle run plus the run's record, kept in
//!   a file (default), a ConfigMap (in-cluster) or memory (dry runs), so that
//!   `tke-recycle resume` can finish a crashed run on this or another machine.
//! - [`runner`]: one run (or resume): journal, Lease lock, live view, the runbook, the outcome.
//! - [`failpoint`]: deterministic crash injection (`TKE_RECYCLE_FAILPOINT`) for the crash-matrix
//!   tests.
//!
//! What a run does with the journal (which steps it records, how resume reads them) lives with
//! the run itself, not here.

pub mod failpoint;
pub mod journal;
pub mod runner;

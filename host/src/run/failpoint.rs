//! Deterministic crash injection for the crash-matrix tests, in the spirit of TiKV's `fail`
//! crate but minimal: one failpoint, configured by one environment variable.
//!
//! `TKE_RECYCLE_FAILPOINT=journal-write:N` (N >= 1) makes the process kill itself with SIGKILL
//! immediately after the N-th durable journal write of this process has completed. SIGKILL, not
//! a panic or `exit`: nothing runs after it (no destructors, no lease release, no flush), which
//! is what a power cut or an OOM kill looks like to `resume`.
//!
//! The variable is read once per process. A malformed value is ignored with a warning: a typo in
//! a test's environment must not crash a real run, and must not silently pass either (the test
//! then sees no crash and fails on its own terms).
//!
//! This module only counts and fires; the journal calls [`after_journal_write`] after each write
//! that is durable (files and ConfigMaps, not the in-memory journal of a dry run).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The environment variable that arms a failpoint.
pub const ENV: &str = "TKE_RECYCLE_FAILPOINT";

/// The one failpoint there is: the journal-write counter's name in [`ENV`].
const JOURNAL_WRITE: &str = "journal-write";

/// Durable journal writes completed by this process.
static JOURNAL_WRITES: AtomicU64 = AtomicU64::new(0);

/// The armed failpoint, parsed from [`ENV`] on first use.
static ARMED: OnceLock<Option<Failpoint>> = OnceLock::new();

/// An armed failpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failpoint {
    /// Kill the process right after the N-th durable journal write (N >= 1).
    JournalWrite(u64),
}

/// Parse the value of [`ENV`]. An empty value arms nothing; anything that is not
/// `journal-write:N` with N >= 1 is an error that says what is expected.
pub fn parse(value: &str) -> Result<Option<Failpoint>, String> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let expected = "expected journal-write:N with N >= 1, e.g. journal-write:3";
    let Some((name, count)) = value.split_once(':') else {
        return Err(format!("{value:?} has no ':N' count; {expected}"));
    };
    if name.trim() != JOURNAL_WRITE {
        return Err(format!("unknown failpoint {:?}; {expected}", name.trim()));
    }
    match count.trim().parse::<u64>() {
        Ok(n) if n >= 1 => Ok(Some(Failpoint::JournalWrite(n))),
        _ => Err(format!(
            "count {:?} is not a number >= 1; {expected}",
            count.trim()
        )),
    }
}

fn armed() -> Option<Failpoint> {
    *ARMED.get_or_init(|| {
        let value = std::env::var(ENV).ok()?;
        match parse(&value) {
            Ok(armed) => {
                if let Some(fp) = armed {
                    tracing::warn!("failpoint armed from {ENV}: {fp:?}");
                }
                armed
            }
            Err(e) => {
                tracing::warn!("ignoring {ENV}={value:?}: {e}");
                None
            }
        }
    })
}

/// Called by the journal right after a durable write has completed: counts it and, when
/// `journal-write:N` is armed and this was the N-th, kills the process with SIGKILL.
pub fn after_journal_write() {
    let n = JOURNAL_WRITES.fetch_add(1, Ordering::SeqCst) + 1;
    if armed() == Some(Failpoint::JournalWrite(n)) {
        // Straight to stderr: the tracing subscriber may buffer, and nothing runs after SIGKILL.
        eprintln!("tke-recycle: failpoint {JOURNAL_WRITE}:{n} reached, killing this process");
        let pid = rustix::process::getpid();
        if let Err(e) = rustix::process::kill_process(pid, rustix::process::Signal::KILL) {
            // Cannot happen for our own pid; still a crash, as the test asked for.
            eprintln!("tke-recycle: SIGKILL to self failed ({e}); aborting");
            std::process::abort();
        }
        // SIGKILL to ourselves is delivered before kill(2) returns; this is never reached.
        std::process::abort();
    }
}

/// Durable journal writes completed by this process so far.
pub fn journal_writes() -> u64 {
    JOURNAL_WRITES.load(Ordering::SeqCst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_journal_write_count() {
        assert_eq!(
            parse("journal-write:1"),
            Ok(Some(Failpoint::JournalWrite(1)))
        );
        assert_eq!(
            parse(" journal-write : 42 "),
            Ok(Some(Failpoint::JournalWrite(42)))
        );
    }

    #[test]
    fn empty_value_arms_nothing() {
        assert_eq!(parse(""), Ok(None));
        assert_eq!(parse("  "), Ok(None));
    }

    #[test]
    fn malformed_values_are_errors_naming_the_expected_form() {
        for bad in [
            "journal-write",
            "journal-write:",
            "journal-write:0",
            "journal-write:-1",
            "journal-write:x",
            "journal-write:1:2",
            "evict:3",
            ":3",
        ] {
            let e = parse(bad).expect_err(bad);
            assert!(e.contains("expected journal-write:N"), "{bad}: {e}");
        }
    }

    #[test]
    fn counter_only_grows() {
        let before = journal_writes();
        // Not armed in the test environment (and if it were, N would have to match exactly).
        assert!(
            std::env::var(ENV).is_err(),
            "{ENV} must not be set for unit tests"
        );
        after_journal_write();
        assert!(journal_writes() > before);
    }
}

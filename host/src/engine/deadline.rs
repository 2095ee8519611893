//! Time limits by epoch deadline.
//!
//! The engine's epoch advances every [`EPOCH_TICK`](super::EPOCH_TICK). A call gets a deadline of
//! its whole budget; when it fires, the callback measures how much of the budget the guest really
//! used: wall time, minus the time spent waiting inside host calls when the limits say so (the
//! runbook waits minutes for a node to drain; that is not the guest spinning). If budget remains,
//! the deadline moves out by what is left; otherwise the call is interrupted.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use wasmtime::UpdateDeadline;

use super::EPOCH_TICK;

/// Time accounting of one call.
#[derive(Debug, Clone)]
pub(crate) struct CallClock {
    started: Instant,
    budget: Duration,
    exclude_host_time: bool,
    host_nanos: Arc<AtomicU64>,
}

/// What to do when the deadline fires.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Budget used up: interrupt the guest.
    Interrupt,
    /// Budget left: move the deadline out by this many ticks.
    Extend(u64),
}

/// Ticks covering `d`, at least one.
pub(crate) fn ticks(d: Duration) -> u64 {
    let tick = EPOCH_TICK.as_nanos().max(1);
    u64::try_from(d.as_nanos().div_ceil(tick))
        .unwrap_or(u64::MAX)
        .max(1)
}

impl CallClock {
    pub(crate) fn start(budget: Duration, exclude_host_time: bool) -> Self {
        Self {
            started: Instant::now(),
            budget,
            exclude_host_time,
            host_nanos: Arc::default(),
        }
    }

    /// The budget, for messages.
    pub(crate) fn budget(&self) -> Duration {
        self.budget
    }

    /// Record time the guest spent waiting in a host call.
    #[allow(dead_code, reason = "used by the runbook's waiting imports")]
    pub(crate) fn add_host_time(&self, d: Duration) {
        self.host_nanos.fetch_add(
            u64::try_from(d.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// Time charged to the guest so far.
    pub(crate) fn guest_time(&self, now: Instant) -> Duration {
        let wall = now.saturating_duration_since(self.started);
        if self.exclude_host_time {
            wall.saturating_sub(Duration::from_nanos(
                self.host_nanos.load(Ordering::Relaxed),
            ))
        } else {
            wall
        }
    }

    /// Decide at a fired deadline.
    pub(crate) fn decide(&self, now: Instant) -> Decision {
        let used = self.guest_time(now);
        if used >= self.budget {
            Decision::Interrupt
        } else {
            Decision::Extend(ticks(self.budget - used))
        }
    }

    /// As wasmtime wants it. Extending yields to the executor so other tasks make progress.
    pub(crate) fn update(&self, now: Instant) -> UpdateDeadline {
        match self.decide(now) {
            Decision::Interrupt => UpdateDeadline::Interrupt,
            Decision::Extend(n) => UpdateDeadline::Yield(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_round_up_and_are_never_zero() {
        assert_eq!(ticks(Duration::ZERO), 1);
        assert_eq!(ticks(Duration::from_millis(15)), 2);
        assert_eq!(ticks(Duration::from_secs(2)), 200);
    }

    #[test]
    fn interrupts_when_the_guest_used_its_budget() {
        let clock = CallClock::start(Duration::from_millis(100), false);
        clock.add_host_time(Duration::from_millis(90));
        // Host time counts when it is not excluded.
        assert_eq!(
            clock.decide(clock.started + Duration::from_millis(100)),
            Decision::Interrupt
        );
    }

    #[test]
    fn host_waits_do_not_count_when_excluded() {
        let clock = CallClock::start(Duration::from_millis(100), true);
        clock.add_host_time(Duration::from_millis(90));
        // 150 ms of wall time, 90 of it waiting in the host: the guest used 60 ms.
        assert_eq!(
            clock.decide(clock.started + Duration::from_millis(150)),
            Decision::Extend(4)
        );
        assert_eq!(
            clock.decide(clock.started + Duration::from_millis(190)),
            Decision::Interrupt
        );
    }
}

//! The accelerated clock: simulated durations (image pulls, grace periods, node add-back) run
//! `speed` times faster than real time.
//!
//! Timestamps written into objects stay on the real wall clock, because clients compare them with
//! their own clocks (ages, TC3 signature expiry); only the delays the sim itself models are scaled.
//!
//! Calendar schedules (CronJobs) need a date, not only a duration: [`Calendar`] is the simulated
//! date, the real wall time at start plus the simulated time elapsed, with the conversions both
//! ways so that a timestamp read from or written into an object can be compared with it.

use std::time::{Duration, Instant};

/// A monotonic simulated clock that runs `speed` times faster than real time.
#[derive(Debug, Clone)]
pub struct Clock {
    start: Instant,
    /// The real wall time at `start`: the simulated calendar's origin.
    start_wall: jiff::Timestamp,
    speed: f64,
}

impl Clock {
    /// A clock starting now; a non-positive or non-finite speed is treated as 1.
    pub fn new(speed: f64) -> Self {
        let speed = if speed.is_finite() && speed > 0.0 {
            speed
        } else {
            1.0
        };
        Self {
            start: Instant::now(),
            start_wall: jiff::Timestamp::now(),
            speed,
        }
    }

    /// The simulated calendar of this clock.
    pub fn calendar(&self) -> Calendar {
        Calendar::new(self.start_wall, self.speed)
    }

    /// How many simulated seconds pass per real second.
    pub fn speed(&self) -> f64 {
        self.speed
    }

    /// Simulated time elapsed since the sim started.
    pub fn now(&self) -> Duration {
        self.start.elapsed().mul_f64(self.speed)
    }

    /// The real duration that a simulated duration takes.
    pub fn to_real(&self, simulated: Duration) -> Duration {
        simulated.div_f64(self.speed)
    }

    /// The current wall-clock time as an RFC 3339 string with second precision, as Kubernetes
    /// writes `metav1.Time`.
    pub fn wall_rfc3339() -> String {
        jiff::Timestamp::now()
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    }

    /// Wall-clock time `offset_secs` from now, RFC 3339 (e.g. a pod's deletionTimestamp).
    pub fn wall_rfc3339_in(offset_secs: i64) -> String {
        let now = jiff::Timestamp::now();
        let t = now
            .checked_add(jiff::SignedDuration::from_secs(offset_secs))
            .unwrap_or(now);
        t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
    }
}

/// The simulated calendar: the date at which the simulated time `now()` is reached, so that a
/// schedule such as `*/1 * * * *` fires every simulated minute (a few real seconds at speed 10).
///
/// Real wall times (an object's `creationTimestamp`, what the sim writes into a status) map onto
/// it through the same origin: a real instant `origin + r` is the simulated date
/// `origin + r * speed`, so both agree at the origin and the simulated date runs ahead after.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Calendar {
    origin: jiff::Timestamp,
    speed: f64,
}

impl Calendar {
    /// A calendar starting at `origin` (real and simulated alike) and running `speed` times faster
    /// than real time; a non-positive or non-finite speed is treated as 1.
    pub fn new(origin: jiff::Timestamp, speed: f64) -> Self {
        let speed = if speed.is_finite() && speed > 0.0 {
            speed
        } else {
            1.0
        };
        Calendar { origin, speed }
    }

    /// The simulated date after `elapsed` simulated time.
    pub fn at(&self, elapsed: Duration) -> jiff::Timestamp {
        let d = jiff::SignedDuration::try_from(elapsed).unwrap_or(jiff::SignedDuration::MAX);
        self.origin.checked_add(d).unwrap_or(jiff::Timestamp::MAX)
    }

    /// The simulated date of a real wall time.
    pub fn to_sim(&self, real: jiff::Timestamp) -> jiff::Timestamp {
        self.scale(real, self.speed)
    }

    /// The real wall time at which the simulated date `sim` is (or was) reached.
    pub fn to_real(&self, sim: jiff::Timestamp) -> jiff::Timestamp {
        self.scale(sim, 1.0 / self.speed)
    }

    fn scale(&self, t: jiff::Timestamp, factor: f64) -> jiff::Timestamp {
        let offset = t.duration_since(self.origin).as_secs_f64() * factor;
        // Out of range only for dates thousands of years away: saturate rather than fail.
        jiff::SignedDuration::try_from_secs_f64(offset)
            .ok()
            .and_then(|d| self.origin.checked_add(d).ok())
            .unwrap_or(if offset < 0.0 {
                jiff::Timestamp::MIN
            } else {
                jiff::Timestamp::MAX
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speed_scales_real_durations() {
        let c = Clock::new(10.0);
        assert_eq!(c.to_real(Duration::from_secs(30)), Duration::from_secs(3));
        assert_eq!(Clock::new(0.0).speed(), 1.0);
        assert!(Clock::wall_rfc3339().ends_with('Z'));
    }

    #[test]
    fn the_calendar_runs_speed_times_faster_from_a_shared_origin() {
        let origin: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().expect("timestamp");
        let cal = Calendar::new(origin, 10.0);
        let t = |s: &str| s.parse::<jiff::Timestamp>().expect("timestamp");
        assert_eq!(cal.at(Duration::from_secs(60)), t("2026-01-01T00:01:00Z"));
        assert_eq!(
            cal.to_sim(t("2026-01-01T00:00:06Z")),
            t("2026-01-01T00:01:00Z")
        );
        assert_eq!(
            cal.to_real(t("2026-01-01T00:01:00Z")),
            t("2026-01-01T00:00:06Z")
        );
        assert_eq!(cal.to_sim(origin), origin);
        // Before the origin (an object created before the sim started) maps before it too.
        assert_eq!(
            cal.to_sim(t("2025-12-31T23:59:59Z")),
            t("2025-12-31T23:59:50Z")
        );
    }
}

//! The accelerated clock: simulated durations (image pulls, grace periods, node add-back) run
//! `speed` times faster than real time.
//!
//! Timestamps written into objects stay on the real wall clock, because clients compare them with
//! their own clocks (ages, TC3 signature expiry); only the delays the sim itself models are scaled.

use std::time::{Duration, Instant};

/// A monotonic simulated clock that runs `speed` times faster than real time.
#[derive(Debug, Clone)]
pub struct Clock {
    start: Instant,
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
            speed,
        }
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
}

//! The CronJob controller (kube-controller-manager's cronjob controller v2, reduced): when a
//! CronJob's schedule comes due it creates a Job from `spec.jobTemplate`, named
//! `<cronjob>-<scheduled time in minutes since the epoch>`, honours `suspend`,
//! `startingDeadlineSeconds` and `concurrencyPolicy`, keeps `status.active`,
//! `status.lastScheduleTime` and `status.lastSuccessfulTime`, and deletes finished Jobs beyond the
//! history limits, oldest first. The Job controller runs the Jobs.
//!
//! Time: schedules run on the simulated calendar ([`Calendar`]: the wall time at start plus the
//! simulated time elapsed), because a schedule is a duration between runs like any the sim
//! models, and a test must see `*/1 * * * *` fire within seconds at speed 10. The Job's name and
//! its `batch.kubernetes.io/cronjob-scheduled-timestamp` annotation name the simulated slot. The
//! status timestamps stay on the real wall clock like every timestamp the sim writes (kubectl
//! prints their age): `lastScheduleTime` is the real second, rounded up, at which the slot was
//! reached, and reading it back through the calendar tells which slots are done. At speeds above
//! 60 two minutely slots fall within one real second and cannot be told apart that way; the
//! latest one wins, as after any missed schedules.
//!
//! Like the real controller, missed schedules are not caught up: only the most recent one is
//! started. A schedule's time zone is `spec.timeZone`, a `TZ=`/`CRON_TZ=` prefix, or UTC (the
//! controller manager's local time in a container).
//!
//! A slot past `startingDeadlineSeconds` is skipped, the next one is awaited.
//!
//! Not modelled: Events (`SuccessfulCreate`, `MissSchedule`, `UnparseableSchedule`: an
//! unparseable schedule is skipped silently), and the `ownerReferences` adoption of orphaned Jobs.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::{Map, Value, json};

use crate::sim::clock::Calendar;
use crate::sim::resource::Res;
use crate::sim::store::{Object, Store};

/// The annotation naming the schedule slot a Job was created for (RFC 3339, in the schedule's
/// time zone), as the real controller sets it.
const SCHEDULED_TIMESTAMP: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";

/// Why a schedule cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// `spec.timeZone` or the schedule's `TZ=` prefix names no known zone.
    #[error("unknown time zone {zone:?}")]
    UnknownTimeZone {
        /// The zone as written.
        zone: String,
        /// Why the zone database refused it.
        #[source]
        source: jiff::Error,
    },
    /// The cron expression does not parse as five fields or an `@` macro.
    #[error("invalid schedule {schedule:?}")]
    InvalidSchedule {
        /// The schedule as written.
        schedule: String,
        /// What the parser said.
        #[source]
        source: croner::errors::CronError,
    },
}

/// A parsed `spec.schedule` with the zone its fields are read in.
#[derive(Debug, Clone)]
pub struct Schedule {
    cron: Cron,
    tz: TimeZone,
}

impl Schedule {
    /// Parse a schedule as the real controller accepts it: five fields (no seconds, no year),
    /// `@hourly`-style macros, an optional `TZ=`/`CRON_TZ=` prefix; `time_zone` is
    /// `spec.timeZone`, which the prefix must not contradict (the API server rejects both, so
    /// the prefix simply wins here).
    pub fn parse(schedule: &str, time_zone: Option<&str>) -> Result<Self, ScheduleError> {
        let trimmed = schedule.trim();
        let (zone, expr) = match trimmed
            .strip_prefix("CRON_TZ=")
            .or_else(|| trimmed.strip_prefix("TZ="))
        {
            Some(rest) => match rest.split_once(char::is_whitespace) {
                Some((zone, expr)) => (Some(zone), expr.trim()),
                None => (Some(rest), ""),
            },
            None => (time_zone, trimmed),
        };
        let tz = match zone {
            None | Some("") => TimeZone::UTC,
            Some(z) => TimeZone::get(z).map_err(|source| ScheduleError::UnknownTimeZone {
                zone: z.to_owned(),
                source,
            })?,
        };
        // robfig/cron, which Kubernetes uses, knows `@midnight`; croner does not.
        let expr = if expr.eq_ignore_ascii_case("@midnight") {
            "@daily"
        } else {
            expr
        };
        let cron = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build()
            .parse(expr)
            .map_err(|source| ScheduleError::InvalidSchedule {
                schedule: schedule.to_owned(),
                source,
            })?;
        Ok(Schedule { cron, tz })
    }

    /// The latest slot at or before `now` and after `earliest`: the one to start. Earlier
    /// missed slots are dropped, as the real controller does.
    pub fn most_recent(&self, earliest: Timestamp, now: Timestamp) -> Option<Timestamp> {
        let t = self
            .cron
            .find_previous_occurrence(&now.to_zoned(self.tz.clone()), true)
            .ok()?
            .timestamp();
        (t > earliest).then_some(t)
    }

    /// The first slot after `now`.
    pub fn next(&self, now: Timestamp) -> Option<Timestamp> {
        self.cron
            .find_next_occurrence(&now.to_zoned(self.tz.clone()), false)
            .ok()
            .map(|z| z.timestamp())
    }

    /// A slot as RFC 3339 in the schedule's zone (`Z` for UTC), as Go prints it.
    fn format(&self, t: Timestamp) -> String {
        let z = t.to_zoned(self.tz.clone());
        if z.offset().seconds() == 0 {
            z.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
        } else {
            z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
        }
    }
}

/// `spec.concurrencyPolicy`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Concurrency {
    /// Jobs may overlap (the default).
    #[default]
    Allow,
    /// A slot is skipped while a Job is still active.
    Forbid,
    /// Active Jobs are deleted and the new one started.
    Replace,
}

/// The spec fields the controller reads, with the API server's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CronSpec {
    suspend: bool,
    concurrency: Concurrency,
    starting_deadline_seconds: Option<i64>,
    successful_history: usize,
    failed_history: usize,
}

impl CronSpec {
    fn of(v: &Value) -> Self {
        let limit = |p: &str, default: usize| {
            v.pointer(p)
                .and_then(Value::as_i64)
                .map_or(default, |n| usize::try_from(n).unwrap_or(0))
        };
        CronSpec {
            suspend: v
                .pointer("/spec/suspend")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            concurrency: match v.pointer("/spec/concurrencyPolicy").and_then(Value::as_str) {
                Some("Forbid") => Concurrency::Forbid,
                Some("Replace") => Concurrency::Replace,
                _ => Concurrency::Allow,
            },
            starting_deadline_seconds: v
                .pointer("/spec/startingDeadlineSeconds")
                .and_then(Value::as_i64),
            successful_history: limit("/spec/successfulJobsHistoryLimit", 3),
            failed_history: limit("/spec/failedJobsHistoryLimit", 1),
        }
    }
}

/// Where a CronJob stands, on the simulated calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct State {
    /// The last slot started (`status.lastScheduleTime`), if any.
    last_scheduled: Option<Timestamp>,
    /// When the CronJob was created: no slot before it is due.
    created: Timestamp,
    now: Timestamp,
    /// Owned Jobs not yet Complete or Failed.
    active: usize,
}

/// What the controller does for a CronJob in a given state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    /// Nothing is due (or the CronJob is suspended).
    Wait,
    /// The slot is due but a Job is still active under `Forbid`: tried again next pass.
    Forbidden,
    /// Start a Job for the slot, first deleting the active Jobs when `replace`.
    Start { scheduled: Timestamp, replace: bool },
}

/// The cronjob controller's rule (`syncCronJob`, reduced to what the practice cluster models).
fn decide(spec: CronSpec, schedule: &Schedule, st: State) -> Decision {
    if spec.suspend {
        return Decision::Wait;
    }
    let mut earliest = st.last_scheduled.unwrap_or(st.created);
    // A slot whose starting deadline has passed is no candidate at all (`mostRecentScheduleTime`
    // moves its search start up to `now - deadline`): it is missed, and an earlier slot does not
    // take its place.
    if let Some(secs) = spec.starting_deadline_seconds
        && let Ok(cutoff) = st.now.checked_sub(jiff::SignedDuration::from_secs(secs))
        && cutoff > earliest
    {
        earliest = cutoff;
    }
    let Some(scheduled) = schedule.most_recent(earliest, st.now) else {
        return Decision::Wait;
    };
    match spec.concurrency {
        Concurrency::Forbid if st.active > 0 => Decision::Forbidden,
        c => Decision::Start {
            scheduled,
            replace: c == Concurrency::Replace && st.active > 0,
        },
    }
}

/// A finished Job as history trimming sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Finished {
    name: String,
    start: Option<Timestamp>,
    succeeded: bool,
}

/// The finished Jobs to delete: beyond each limit, oldest `status.startTime` first (no start
/// time counts as newest, then by name), as `removeOldestJobs` does.
fn to_trim(mut finished: Vec<Finished>, successful: usize, failed: usize) -> Vec<String> {
    finished.sort_by(|a, b| {
        let key = |f: &Finished| (f.start.is_none(), f.start, f.name.clone());
        key(a).cmp(&key(b))
    });
    let mut out = Vec::new();
    for (succeeded, limit) in [(true, successful), (false, failed)] {
        let group: Vec<&Finished> = finished
            .iter()
            .filter(|f| f.succeeded == succeeded)
            .collect();
        let excess = group.len().saturating_sub(limit);
        out.extend(group.iter().take(excess).map(|f| f.name.clone()));
    }
    out
}

/// The finishing condition of a Job (`Complete` or `Failed`), if it has one.
fn finish(job: &Value) -> Option<&str> {
    job.pointer("/status/conditions")
        .and_then(Value::as_array)?
        .iter()
        .find(|c| {
            matches!(c["type"].as_str(), Some("Complete" | "Failed"))
                && c["status"].as_str() == Some("True")
        })
        .and_then(|c| c["type"].as_str())
}

fn timestamp(v: &Value, pointer: &str) -> Option<Timestamp> {
    v.pointer(pointer)?.as_str()?.parse().ok()
}

fn rfc3339(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A simulated slot as the real second, rounded up, at which it was reached: reading it back
/// with [`Calendar::to_sim`] gives a time at or after the slot, so the slot counts as done.
fn last_schedule_stamp(calendar: &Calendar, scheduled: Timestamp) -> String {
    let real = calendar.to_real(scheduled);
    let secs = real.as_second() + i64::from(real.subsec_nanosecond() > 0);
    rfc3339(Timestamp::from_second(secs).unwrap_or(real))
}

/// CronJobs: start Jobs when their schedules come due; status; history. `now` is the simulated
/// time elapsed on `calendar`. Returns the simulated time elapsed at which the next slot of any
/// CronJob comes due, so the controller loop wakes for it.
pub fn cronjobs(store: &Store, calendar: &Calendar, now: Duration) -> Option<Duration> {
    let now_sim = calendar.at(now);
    let mut owned: HashMap<Box<str>, Vec<Arc<Object>>> = HashMap::new();
    for job in store.list(Res::Jobs, None) {
        if let Some(c) = &job.controller
            && &*c.kind == "CronJob"
        {
            owned.entry(c.uid.clone()).or_default().push(job.clone());
        }
    }
    let mut next_due: Option<Timestamp> = None;
    for cj in store.list(Res::CronJobs, None) {
        let v = cj.value();
        let spec = CronSpec::of(&v);
        let jobs = owned.remove(&cj.uid).unwrap_or_default();
        let mut active: Vec<(Arc<Object>, Value)> = Vec::new();
        let mut finished = Vec::new();
        let mut last_success = timestamp(&v, "/status/lastSuccessfulTime");
        for job in jobs {
            let jv = job.value();
            match finish(&jv) {
                Some(kind) => {
                    if kind == "Complete"
                        && let Some(t) = timestamp(&jv, "/status/completionTime")
                    {
                        last_success = last_success.max(Some(t));
                    }
                    finished.push(Finished {
                        name: job.name.to_string(),
                        start: timestamp(&jv, "/status/startTime"),
                        succeeded: kind == "Complete",
                    });
                }
                None => active.push((job, jv)),
            }
        }
        let mut status = Map::new();
        let schedule = v
            .pointer("/spec/schedule")
            .and_then(Value::as_str)
            .map(|s| Schedule::parse(s, v.pointer("/spec/timeZone").and_then(Value::as_str)));
        if let Some(Ok(schedule)) = &schedule {
            let state = State {
                last_scheduled: timestamp(&v, "/status/lastScheduleTime")
                    .map(|t| calendar.to_sim(t)),
                created: timestamp(&v, "/metadata/creationTimestamp")
                    .map_or(now_sim, |t| calendar.to_sim(t)),
                now: now_sim,
                active: active.len(),
            };
            match decide(spec, schedule, state) {
                Decision::Start { scheduled, replace } => {
                    let job = job_from_template(&cj, &v, schedule, scheduled);
                    let name = job["metadata"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    // A Job of that name means the slot was started already (the real
                    // controller's AlreadyExists): never twice.
                    if store.get(Res::Jobs, &cj.namespace, &name).is_none() {
                        if replace {
                            for (j, _) in active.drain(..) {
                                // Background propagation: the garbage collector removes the
                                // pods; already gone is fine.
                                let _ = store.delete(Res::Jobs, &j.namespace, &j.name, None, None);
                            }
                        }
                        if let Ok(created) = store.create(Res::Jobs, job, false) {
                            let jv = created.value();
                            active.push((created, jv));
                            status.insert(
                                "lastScheduleTime".into(),
                                json!(last_schedule_stamp(calendar, scheduled)),
                            );
                        }
                    }
                }
                Decision::Forbidden | Decision::Wait => {}
            }
            if !spec.suspend
                && let Some(next) = schedule.next(now_sim)
            {
                next_due = Some(next_due.map_or(next, |d| d.min(next)));
            }
        }
        active.sort_by(|a, b| a.0.name.cmp(&b.0.name));
        let refs: Vec<Value> = active
            .iter()
            .map(|(j, _)| {
                json!({"apiVersion": "batch/v1", "kind": "Job", "namespace": &*j.namespace,
                    "name": &*j.name, "uid": &*j.uid})
            })
            .collect();
        status.insert(
            "active".into(),
            if refs.is_empty() {
                Value::Null
            } else {
                json!(refs)
            },
        );
        status.insert(
            "lastSuccessfulTime".into(),
            last_success.map_or(Value::Null, |t| json!(rfc3339(t))),
        );
        for name in to_trim(finished, spec.successful_history, spec.failed_history) {
            // Already gone is fine: the next pass sees the new state.
            let _ = store.delete(Res::Jobs, &cj.namespace, &name, None, None);
        }
        write_status(store, &cj, &v, status);
    }
    next_due.and_then(|t| {
        let origin = calendar.at(Duration::ZERO);
        Duration::try_from(t.duration_since(origin)).ok()
    })
}

/// Merge `status` into the CronJob's status; a null removes the field, as `omitempty` leaves it
/// out. Written only when something changed.
fn write_status(store: &Store, cj: &Object, current: &Value, status: Map<String, Value>) {
    let merge = |old: &Value| {
        let mut merged = old.get("status").cloned().unwrap_or(json!({}));
        if let Some(m) = merged.as_object_mut() {
            for (k, val) in &status {
                if val.is_null() {
                    m.remove(k);
                } else {
                    m.insert(k.clone(), val.clone());
                }
            }
        }
        merged
    };
    if current.get("status").unwrap_or(&json!({})) == &merge(current) {
        return;
    }
    let _ = store.update_with(Res::CronJobs, &cj.namespace, &cj.name, |v| {
        v["status"] = merge(v);
        Ok(())
    });
}

/// The Job for a slot (`getJobFromTemplate2`): the template's labels, annotations and spec, the
/// slot's name and annotation, and the CronJob as controlling owner.
fn job_from_template(cj: &Object, v: &Value, schedule: &Schedule, scheduled: Timestamp) -> Value {
    let template = v.pointer("/spec/jobTemplate").cloned().unwrap_or(json!({}));
    let mut annotations = template
        .pointer("/metadata/annotations")
        .cloned()
        .unwrap_or(json!({}));
    annotations[SCHEDULED_TIMESTAMP] = json!(schedule.format(scheduled));
    json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {
            "name": format!("{}-{}", cj.name, scheduled.as_second().div_euclid(60)),
            "namespace": &*cj.namespace,
            "labels": template.pointer("/metadata/labels").cloned().unwrap_or(json!({})),
            "annotations": annotations,
            "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": &*cj.name,
                "uid": &*cj.uid, "controller": true, "blockOwnerDeletion": true}],
        },
        "spec": template.get("spec").cloned().unwrap_or(json!({})),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().expect("test timestamp")
    }

    fn every_minute() -> Schedule {
        Schedule::parse("*/1 * * * *", None).expect("schedule")
    }

    fn spec() -> CronSpec {
        CronSpec::of(&json!({"spec": {}}))
    }

    fn state(last: Option<&str>, now: &str, active: usize) -> State {
        State {
            last_scheduled: last.map(t),
            created: t("2026-01-01T00:00:00Z"),
            now: t(now),
            active,
        }
    }

    fn start(at: &str, replace: bool) -> Decision {
        Decision::Start {
            scheduled: t(at),
            replace,
        }
    }

    #[test]
    fn the_cronjob_controller_starts_the_latest_due_slot() {
        let forbid = CronSpec {
            concurrency: Concurrency::Forbid,
            ..spec()
        };
        let replace = CronSpec {
            concurrency: Concurrency::Replace,
            ..spec()
        };
        let suspended = CronSpec {
            suspend: true,
            ..spec()
        };
        let deadline_10s = CronSpec {
            starting_deadline_seconds: Some(10),
            ..spec()
        };
        let cases = [
            (
                "not_due_before_the_first_slot_after_creation",
                spec(),
                state(None, "2026-01-01T00:00:59Z", 0),
                Decision::Wait,
            ),
            (
                "due_at_the_first_slot_after_creation",
                spec(),
                state(None, "2026-01-01T00:01:00Z", 0),
                start("2026-01-01T00:01:00Z", false),
            ),
            (
                "not_due_again_after_the_slot_started",
                spec(),
                state(Some("2026-01-01T00:01:00Z"), "2026-01-01T00:01:30Z", 0),
                Decision::Wait,
            ),
            (
                "due_at_the_next_slot",
                spec(),
                state(Some("2026-01-01T00:01:00Z"), "2026-01-01T00:02:05Z", 1),
                start("2026-01-01T00:02:00Z", false),
            ),
            (
                "missed_many_starts_only_the_latest",
                spec(),
                state(Some("2026-01-01T00:01:00Z"), "2026-01-01T05:07:30Z", 0),
                start("2026-01-01T05:07:00Z", false),
            ),
            (
                "suspended_starts_nothing",
                suspended,
                state(None, "2026-01-01T00:05:00Z", 0),
                Decision::Wait,
            ),
            (
                "within_the_starting_deadline",
                deadline_10s,
                state(None, "2026-01-01T00:01:09Z", 0),
                start("2026-01-01T00:01:00Z", false),
            ),
            (
                "starting_deadline_passed",
                deadline_10s,
                state(None, "2026-01-01T00:01:11Z", 0),
                Decision::Wait,
            ),
            (
                "forbid_skips_while_a_job_is_active",
                forbid,
                state(Some("2026-01-01T00:01:00Z"), "2026-01-01T00:02:00Z", 1),
                Decision::Forbidden,
            ),
            (
                "forbid_starts_when_none_is_active",
                forbid,
                state(Some("2026-01-01T00:01:00Z"), "2026-01-01T00:02:00Z", 0),
                start("2026-01-01T00:02:00Z", false),
            ),
            (
                "replace_deletes_the_active_jobs_first",
                replace,
                state(Some("2026-01-01T00:01:00Z"), "2026-01-01T00:02:00Z", 2),
                start("2026-01-01T00:02:00Z", true),
            ),
            (
                "replace_with_none_active_just_starts",
                replace,
                state(Some("2026-01-01T00:01:00Z"), "2026-01-01T00:02:00Z", 0),
                start("2026-01-01T00:02:00Z", false),
            ),
            (
                "allow_overlaps",
                spec(),
                state(Some("2026-01-01T00:01:00Z"), "2026-01-01T00:02:00Z", 3),
                start("2026-01-01T00:02:00Z", false),
            ),
        ];
        for (case, s, st, want) in cases {
            assert_eq!(decide(s, &every_minute(), st), want, "{case}");
        }
    }

    #[test]
    fn a_slot_is_a_candidate_until_its_deadline() {
        let s = CronSpec {
            starting_deadline_seconds: Some(30),
            ..spec()
        };
        let hourly = Schedule::parse("@hourly", None).expect("schedule");
        let at = |now: &str| State {
            last_scheduled: None,
            created: t("2026-01-01T00:00:00Z"),
            now: t(now),
            active: 0,
        };
        assert_eq!(
            decide(s, &hourly, at("2026-01-01T01:00:29Z")),
            start("2026-01-01T01:00:00Z", false)
        );
        assert_eq!(
            decide(s, &hourly, at("2026-01-01T01:00:30Z")),
            Decision::Wait
        );
    }

    #[test]
    fn schedules_parse_as_kubernetes_reads_them() {
        let cases = [
            ("five_fields", "30 3 * * *", None, "2026-01-01T03:30:00Z"),
            ("hourly_macro", "@hourly", None, "2026-01-01T01:00:00Z"),
            ("daily_macro", "@daily", None, "2026-01-02T00:00:00Z"),
            ("midnight_macro", "@midnight", None, "2026-01-02T00:00:00Z"),
            (
                "tz_prefix",
                "TZ=Asia/Shanghai 0 9 * * *",
                None,
                "2026-01-01T01:00:00Z",
            ),
            (
                "cron_tz_prefix",
                "CRON_TZ=Asia/Shanghai 0 9 * * *",
                None,
                "2026-01-01T01:00:00Z",
            ),
            (
                "time_zone_field",
                "0 9 * * *",
                Some("Asia/Shanghai"),
                "2026-01-01T01:00:00Z",
            ),
        ];
        for (case, expr, tz, want) in cases {
            let s = Schedule::parse(expr, tz).unwrap_or_else(|e| panic!("{case}: {e}"));
            assert_eq!(s.next(t("2026-01-01T00:00:30Z")), Some(t(want)), "{case}");
        }
        for bad in ["* * * *", "0 0 * * * *", "61 * * * *", "@often"] {
            assert!(Schedule::parse(bad, None).is_err(), "{bad} is refused");
        }
        assert!(matches!(
            Schedule::parse("0 9 * * *", Some("Mars/Olympus")),
            Err(ScheduleError::UnknownTimeZone { .. })
        ));
    }

    #[test]
    fn the_scheduled_annotation_is_in_the_schedules_zone() {
        let utc = every_minute();
        assert_eq!(
            utc.format(t("2026-01-01T01:00:00Z")),
            "2026-01-01T01:00:00Z"
        );
        let sh = Schedule::parse("0 9 * * *", Some("Asia/Shanghai")).expect("schedule");
        assert_eq!(
            sh.format(t("2026-01-01T01:00:00Z")),
            "2026-01-01T09:00:00+08:00"
        );
    }

    #[test]
    fn history_trims_the_oldest_finished_jobs_beyond_each_limit() {
        let f = |name: &str, start: Option<&str>, succeeded| Finished {
            name: name.into(),
            start: start.map(t),
            succeeded,
        };
        let finished = vec![
            f("c-4", Some("2026-01-01T00:04:00Z"), true),
            f("c-1", Some("2026-01-01T00:01:00Z"), true),
            f("c-3", Some("2026-01-01T00:03:00Z"), true),
            f("c-2", Some("2026-01-01T00:02:00Z"), true),
            f("c-9", None, true),
            f("c-5", Some("2026-01-01T00:05:00Z"), false),
            f("c-6", Some("2026-01-01T00:06:00Z"), false),
        ];
        let cases = [
            ("defaults", 3, 1, vec!["c-1", "c-2", "c-5"]),
            (
                "zero_keeps_none",
                0,
                0,
                vec!["c-1", "c-2", "c-3", "c-4", "c-9", "c-5", "c-6"],
            ),
            ("within_limits", 5, 2, vec![]),
        ];
        for (case, ok, failed, want) in cases {
            assert_eq!(to_trim(finished.clone(), ok, failed), want, "{case}");
        }
    }

    #[test]
    fn last_schedule_time_reads_back_as_done_and_the_next_slot_as_due() {
        // Speed 7: slot times fall between real seconds, the worst case for rounding.
        let cal = Calendar::new(t("2026-01-01T00:00:00.300Z"), 7.0);
        let s = every_minute();
        let mut last: Option<Timestamp> = None;
        for minute in 1..=20 {
            let slot = t("2026-01-01T00:00:00Z")
                .checked_add(jiff::SignedDuration::from_mins(minute))
                .expect("slot");
            let st = State {
                last_scheduled: last,
                created: cal.at(Duration::ZERO),
                now: slot,
                active: 0,
            };
            assert_eq!(
                decide(spec(), &s, st),
                start(&slot.to_string(), false),
                "{minute}"
            );
            let written = last_schedule_stamp(&cal, slot);
            last = Some(cal.to_sim(t(&written)));
            let again = State {
                last_scheduled: last,
                ..st
            };
            assert_eq!(decide(spec(), &s, again), Decision::Wait, "{minute} twice");
        }
    }

    /// The controller against a store (no socket): one Job per slot, status, Replace, history.
    mod against_a_store {
        use super::*;

        const ORIGIN: &str = "2026-01-01T00:00:00Z";

        fn store_with(spec: Value) -> Store {
            let store = Store::new();
            let mut cj = json!({"apiVersion": "batch/v1", "kind": "CronJob",
                "metadata": {"name": "tick", "namespace": "ops", "uid": "cj-uid",
                    "creationTimestamp": ORIGIN},
                "spec": {"schedule": "*/1 * * * *", "jobTemplate": {
                    "metadata": {"labels": {"team": "ops"}, "annotations": {"note": "x"}},
                    "spec": {"template": {"spec": {"containers": [{"name": "c"}]}}}}}});
            if let (Some(m), Some(extra)) = (cj["spec"].as_object_mut(), spec.as_object()) {
                m.extend(extra.clone());
            }
            store
                .create(Res::CronJobs, cj, true)
                .expect("cronjob created");
            store
        }

        fn pass(store: &Store, secs: u64) -> Option<Duration> {
            let cal = Calendar::new(t(ORIGIN), 10.0);
            cronjobs(store, &cal, Duration::from_secs(secs))
        }

        fn job_names(store: &Store) -> Vec<String> {
            let mut names: Vec<String> = store
                .list(Res::Jobs, Some("ops"))
                .iter()
                .map(|j| j.name.to_string())
                .collect();
            names.sort();
            names
        }

        fn slot_name(at: &str) -> String {
            format!("tick-{}", t(at).as_second() / 60)
        }

        fn finish(store: &Store, name: &str, kind: &str, at: &str) {
            store
                .update_with(Res::Jobs, "ops", name, |j| {
                    j["status"] = json!({"startTime": at, "completionTime": at,
                        "conditions": [{"type": kind, "status": "True"}]});
                    Ok(())
                })
                .expect("job updated");
        }

        fn status(store: &Store) -> Value {
            store
                .get(Res::CronJobs, "ops", "tick")
                .expect("cronjob")
                .value()["status"]
                .clone()
        }

        #[test]
        fn one_job_per_slot_with_template_owner_and_annotation() {
            let store = store_with(json!({}));
            let next = pass(&store, 125);
            assert_eq!(next, Some(Duration::from_secs(180)), "wakes for 00:03:00");
            pass(&store, 125);
            pass(&store, 170);
            let first = slot_name("2026-01-01T00:02:00Z");
            assert_eq!(job_names(&store), [first.as_str()], "never twice");
            let job = store.get(Res::Jobs, "ops", &first).expect("job").value();
            assert_eq!(job["metadata"]["labels"]["team"], "ops");
            assert_eq!(job["metadata"]["annotations"]["note"], "x");
            assert_eq!(
                job["metadata"]["annotations"][SCHEDULED_TIMESTAMP],
                "2026-01-01T00:02:00Z"
            );
            assert_eq!(
                job["metadata"]["ownerReferences"],
                json!([{"apiVersion": "batch/v1", "kind": "CronJob", "name": "tick",
                    "uid": "cj-uid", "controller": true, "blockOwnerDeletion": true}])
            );
            assert_eq!(
                job["spec"]["template"]["spec"]["containers"][0]["name"],
                "c"
            );
            let st = status(&store);
            // Slot 00:02:00 is 12 real seconds after the origin at speed 10.
            assert_eq!(st["lastScheduleTime"], "2026-01-01T00:00:12Z");
            assert_eq!(st["active"][0]["name"], first.as_str());
            assert!(st.get("lastSuccessfulTime").is_none(), "{st}");

            finish(&store, &first, "Complete", "2026-01-01T00:00:13Z");
            pass(&store, 185);
            let second = slot_name("2026-01-01T00:03:00Z");
            assert_eq!(job_names(&store), [first, second.clone()]);
            let st = status(&store);
            assert_eq!(st["lastSuccessfulTime"], "2026-01-01T00:00:13Z");
            assert_eq!(
                st["active"],
                json!([{"apiVersion": "batch/v1", "kind": "Job",
                "namespace": "ops", "name": second, "uid": st["active"][0]["uid"]}])
            );
        }

        #[test]
        fn replace_deletes_the_active_job_and_forbid_waits_for_it() {
            let store = store_with(json!({"concurrencyPolicy": "Forbid"}));
            pass(&store, 125);
            pass(&store, 185);
            let first = slot_name("2026-01-01T00:02:00Z");
            assert_eq!(
                job_names(&store),
                [first.as_str()],
                "forbidden while active"
            );
            store
                .update_with(Res::CronJobs, "ops", "tick", |v| {
                    v["spec"]["concurrencyPolicy"] = json!("Replace");
                    Ok(())
                })
                .expect("policy changed");
            pass(&store, 185);
            let second = slot_name("2026-01-01T00:03:00Z");
            assert_eq!(job_names(&store), [second.as_str()], "replaced");
            assert_eq!(status(&store)["active"][0]["name"], second.as_str());
        }

        #[test]
        fn finished_jobs_beyond_the_limits_are_deleted_oldest_first() {
            let store = store_with(json!({"successfulJobsHistoryLimit": 1}));
            let mut names = Vec::new();
            for minute in 2..=4 {
                pass(&store, minute * 60 + 5);
                let name = slot_name(&format!("2026-01-01T00:0{minute}:00Z"));
                finish(
                    &store,
                    &name,
                    "Complete",
                    &format!("2026-01-01T00:00:{minute}0Z"),
                );
                names.push(name);
            }
            pass(&store, 245);
            assert_eq!(
                job_names(&store),
                [names[2].clone()],
                "only the newest kept"
            );
            assert!(status(&store).get("active").is_none(), "none active");
        }

        #[test]
        fn a_suspended_cronjob_starts_nothing_and_sets_no_timer() {
            let store = store_with(json!({"suspend": true}));
            assert_eq!(pass(&store, 600), None);
            assert!(job_names(&store).is_empty());
        }
    }

    #[test]
    fn spec_defaults_are_the_api_servers() {
        assert_eq!(
            spec(),
            CronSpec {
                suspend: false,
                concurrency: Concurrency::Allow,
                starting_deadline_seconds: None,
                successful_history: 3,
                failed_history: 1,
            }
        );
    }
}

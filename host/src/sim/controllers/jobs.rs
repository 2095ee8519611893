//! The Job controller: keeps up to `parallelism` pods of a Job running until `completions` of
//! them have Succeeded, then marks the Job Complete; a Job whose pods failed more than
//! `backoffLimit` times is marked Failed. A pod that disappears (evicted by a drain) is simply
//! replaced, wherever the scheduler puts it: that is what a drain relies on for Jobs.
//!
//! CronJobs' schedules are the CronJob controller's (`cronjobs.rs`), which creates the Jobs this
//! controller runs.
//!
//! Not modelled: indexed completion, pod failure policies, `activeDeadlineSeconds`, suspension.

use std::sync::Arc;

use serde_json::{Value, json};

use super::workloads::{ByOwner, active, pod_from_template, ready, set_status};
use crate::sim::clock::Clock;
use crate::sim::resource::Res;
use crate::sim::store::{Object, Store, name_suffix};

/// The label the API server puts on a Job's selector and pods, naming the Job's uid.
const CONTROLLER_UID: &str = "batch.kubernetes.io/controller-uid";
/// The label naming the Job on its pods.
const JOB_NAME: &str = "batch.kubernetes.io/job-name";

/// What a Job's pods say about its progress.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Progress {
    active: i64,
    ready: i64,
    succeeded: i64,
    failed: i64,
}

impl Progress {
    fn of(pods: &[Arc<Object>]) -> Self {
        let mut p = Progress::default();
        for pod in pods {
            match pod.pod.as_ref().map(|f| &*f.phase) {
                Some("Succeeded") => p.succeeded += 1,
                Some("Failed") => p.failed += 1,
                _ if active(pod) => {
                    p.active += 1;
                    p.ready += i64::from(ready(pod));
                }
                _ => {}
            }
        }
        p
    }
}

/// The spec fields the controller reads, with the API server's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct JobSpec {
    parallelism: i64,
    /// `None`: a work queue, done when one pod has succeeded and none is left running.
    completions: Option<i64>,
    backoff_limit: i64,
}

impl JobSpec {
    fn of(v: &Value) -> Self {
        let int = |p: &str| v.pointer(p).and_then(Value::as_i64);
        JobSpec {
            parallelism: int("/spec/parallelism").unwrap_or(1).max(0),
            completions: int("/spec/completions").map(|c| c.max(0)),
            backoff_limit: int("/spec/backoffLimit").unwrap_or(6).max(0),
        }
    }
}

/// What the controller does for a Job in a given state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    /// Start this many more pods.
    Start(i64),
    /// Mark the Job finished with this condition type.
    Finish(&'static str),
    /// Nothing to do now.
    Wait,
}

/// The Job controller's rule (`syncJob`, reduced to what the practice cluster models).
fn decide(spec: JobSpec, p: Progress) -> Decision {
    if p.failed > spec.backoff_limit {
        return Decision::Finish("Failed");
    }
    let missing = match spec.completions {
        Some(c) if p.succeeded >= c => return Decision::Finish("Complete"),
        Some(c) => spec.parallelism.min(c - p.succeeded),
        // A work queue: once one pod succeeded no more start, and the Job is done when the
        // others have finished too.
        None if p.succeeded > 0 && p.active == 0 => return Decision::Finish("Complete"),
        None if p.succeeded > 0 => 0,
        None => spec.parallelism,
    };
    match missing - p.active {
        n if n > 0 => Decision::Start(n),
        _ => Decision::Wait,
    }
}

fn finished(v: &Value) -> bool {
    v.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                matches!(c["type"].as_str(), Some("Complete" | "Failed"))
                    && c["status"].as_str() == Some("True")
            })
        })
}

/// Jobs: start pods up to parallelism until completions have succeeded; status.
pub fn jobs(store: &Store, by_owner: &ByOwner) {
    for job in store.list(Res::Jobs, None) {
        let v = job.value();
        if v.pointer("/spec/selector").is_none() {
            // The API server's default on create: the Job selects its pods by its uid.
            let _ = store.update_with(Res::Jobs, &job.namespace, &job.name, |j| {
                j["spec"]["selector"] = json!({"matchLabels": {CONTROLLER_UID: &*job.uid}});
                Ok(())
            });
        }
        let empty = Vec::new();
        let pods = by_owner.get(&job.uid).unwrap_or(&empty);
        let progress = Progress::of(pods);
        let mut status = json!({"active": progress.active, "ready": progress.ready,
            "succeeded": progress.succeeded, "failed": progress.failed});
        let started = v.pointer("/status/startTime").cloned();
        status["startTime"] = started.unwrap_or_else(|| json!(Clock::wall_rfc3339()));
        if !finished(&v) {
            match decide(JobSpec::of(&v), progress) {
                Decision::Start(n) => start_pods(store, &job, &v, n),
                Decision::Finish(kind) => {
                    let t = Clock::wall_rfc3339();
                    status["conditions"] = json!([{"type": kind, "status": "True",
                        "lastProbeTime": t, "lastTransitionTime": t}]);
                    if kind == "Complete" {
                        status["completionTime"] = json!(t);
                    }
                }
                Decision::Wait => {}
            }
        }
        set_status(store, Res::Jobs, &job, &v, status);
    }
}

fn start_pods(store: &Store, job: &Object, v: &Value, n: i64) {
    let template = v.pointer("/spec/template").cloned().unwrap_or(json!({}));
    let owner = json!([{"apiVersion": "batch/v1", "kind": "Job", "name": &*job.name,
        "uid": &*job.uid, "controller": true, "blockOwnerDeletion": true}]);
    for _ in 0..n {
        let name = format!("{}-{}", job.name, name_suffix());
        let mut pod = pod_from_template(&template, &job.namespace, &name, owner.clone());
        for (k, val) in [
            (CONTROLLER_UID, &*job.uid),
            ("controller-uid", &*job.uid),
            (JOB_NAME, &*job.name),
            ("job-name", &*job.name),
        ] {
            pod["metadata"]["labels"][k] = json!(val);
        }
        let _ = store.create(Res::Pods, pod, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(parallelism: i64, completions: Option<i64>) -> JobSpec {
        JobSpec {
            parallelism,
            completions,
            backoff_limit: 6,
        }
    }

    fn progress(active: i64, succeeded: i64, failed: i64) -> Progress {
        Progress {
            active,
            ready: active,
            succeeded,
            failed,
        }
    }

    #[test]
    fn the_job_controller_runs_parallelism_pods_until_completions_succeeded() {
        let cases = [
            (
                "new_job_starts_parallelism",
                spec(3, Some(10)),
                progress(0, 0, 0),
                Decision::Start(3),
            ),
            (
                "evicted_pod_is_replaced",
                spec(3, Some(10)),
                progress(2, 4, 0),
                Decision::Start(1),
            ),
            (
                "capped_by_missing_completions",
                spec(3, Some(5)),
                progress(0, 4, 0),
                Decision::Start(1),
            ),
            (
                "enough_running",
                spec(2, Some(5)),
                progress(2, 1, 0),
                Decision::Wait,
            ),
            (
                "complete_when_all_succeeded",
                spec(2, Some(2)),
                progress(0, 2, 0),
                Decision::Finish("Complete"),
            ),
            (
                "failed_beyond_backoff_limit",
                spec(1, Some(1)),
                progress(0, 0, 7),
                Decision::Finish("Failed"),
            ),
            (
                "work_queue_starts_parallelism",
                spec(2, None),
                progress(0, 0, 0),
                Decision::Start(2),
            ),
            (
                "work_queue_starts_none_after_a_success",
                spec(2, None),
                progress(1, 1, 0),
                Decision::Wait,
            ),
            (
                "work_queue_done_when_the_rest_finished",
                spec(2, None),
                progress(0, 2, 0),
                Decision::Finish("Complete"),
            ),
        ];
        for (case, s, p, want) in cases {
            assert_eq!(decide(s, p), want, "{case}");
        }
    }

    #[test]
    fn defaults_are_the_api_servers() {
        let s = JobSpec::of(&json!({"spec": {}}));
        assert_eq!(
            s,
            JobSpec {
                parallelism: 1,
                completions: None,
                backoff_limit: 6
            }
        );
    }
}

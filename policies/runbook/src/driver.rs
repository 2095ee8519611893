//! The procedure: each node of the request in order, one at a time, from its pre-checks to the
//! post-check gate (mode `recycle`), or to the end of its drain (mode `drain`). Mode `plan` is in
//! `plan.rs`.
//!
//! Every completed step is journaled at once under `node/<name>/step`; the two cloud calls that
//! cannot be repeated blindly (remove, add) are preceded by an intent (`removing`, `adding`) and
//! re-derived from TKE's live state when a resumed run finds one. So whatever step a previous
//! process died in, `resume` continues without removing twice or adding twice.

use serde_json::json;

use crate::capture::{self, Capture, label_text, missing_metadata, pod_refs, ref_text, taint_text};
use crate::drain::{self, DrainResult};
use crate::error::{self, Stop, tke_message};
use crate::findings::{self, Verdict, codes, findings_json, listing};
use crate::host::{AddOutcome, Host, Level, NodeSummary, Phase, Progress, TkeError};
use crate::nodes::node_states;
use crate::settings::{OnBlocked, Settings};
use crate::steps::{Step, blocked_key, capture_key, get_step, put_step};

/// What kind of run (the WIT `run-mode`, without its generated type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The whole recycle.
    Recycle,
    /// Checks, cordon, drain (and uncordon if asked).
    Drain,
    /// Dry run.
    Plan,
}

/// How one node ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NodeOutcome {
    /// Recycled (or drained) in this run.
    Done,
    /// Blocked and skipped (`on_blocked: skip`).
    Skipped,
    /// Finished by a previous run; passed over.
    PassedOver,
}

/// One run: the request, parsed, and the host.
pub struct Runbook<'h> {
    /// The host's capabilities.
    pub host: &'h mut dyn Host,
    /// The settings.
    pub settings: Settings,
    /// TKE cluster ID (for messages).
    pub cluster_id: String,
    /// What kind of run.
    pub mode: Mode,
    /// Target nodes, in order.
    pub nodes: Vec<String>,
    /// Continuing from the journal.
    pub resume: bool,
}

/// Seconds as "1h 2m 3s" / "2m 3s" / "3s".
pub fn elapsed_text(ms: u64) -> String {
    let s = ms / 1000;
    match (s / 3600, s % 3600 / 60, s % 60) {
        (0, 0, sec) => format!("{sec}s"),
        (0, min, sec) => format!("{min}m {sec}s"),
        (h, min, sec) => format!("{h}h {min}m {sec}s"),
    }
}

impl Runbook<'_> {
    /// Run every node; `Err` stops the run with its message.
    pub fn run(&mut self) -> Result<(), Stop> {
        if self.mode == Mode::Plan {
            return crate::plan::run(self);
        }
        let mut done = 0usize;
        let mut skipped = Vec::new();
        for index in 0..self.nodes.len() {
            match self.node(index)? {
                NodeOutcome::Done | NodeOutcome::PassedOver => done += 1,
                NodeOutcome::Skipped => skipped.push(self.nodes[index].clone()),
            }
        }
        let verb = if self.mode == Mode::Drain {
            "drained"
        } else {
            "recycled"
        };
        let mut message = format!("{done} of {} nodes {verb}", self.nodes.len());
        if !skipped.is_empty() {
            message.push_str(&format!(
                "; skipped (drain blocked, uncordoned): {}",
                skipped.join(", ")
            ));
        }
        self.report(
            "",
            "done",
            message,
            Some(json!({"done": done, "skipped": skipped})),
        );
        Ok(())
    }

    /// Send a progress event.
    pub fn report(
        &mut self,
        node: &str,
        step: &str,
        message: impl Into<String>,
        data: Option<serde_json::Value>,
    ) {
        self.host.report(&Progress {
            node: node.to_owned(),
            step: step.to_owned(),
            message: message.into(),
            data: data.map(|d| d.to_string()),
        });
    }

    /// One node, from wherever the journal says it is.
    fn node(&mut self, index: usize) -> Result<NodeOutcome, Stop> {
        let name = self.nodes[index].clone();
        let started = self.host.now_ms();
        let mut at = if self.resume {
            get_step(self.host, &name)?
        } else {
            None
        };
        match at {
            Some(step) if step.is_finished() => {
                self.report(
                    &name,
                    step.as_str(),
                    format!(
                        "node {name} was {} by the previous run; passed over",
                        if step == Step::Done {
                            "finished"
                        } else {
                            "skipped"
                        }
                    ),
                    None,
                );
                return Ok(if step == Step::Done {
                    NodeOutcome::PassedOver
                } else {
                    NodeOutcome::Skipped
                });
            }
            Some(step) if step.restarts() => {
                self.host.log(
                    Level::Info,
                    &format!(
                        "node {name}: journaled as {}; starting it again from its pre-checks",
                        step.as_str()
                    ),
                );
                at = None;
            }
            Some(step) => self.report(
                &name,
                "resume",
                format!("resuming node {name} after step {}", step.as_str()),
                None,
            ),
            None => {}
        }

        let mut summary = None;
        let at = match at {
            Some(step) => step,
            None => {
                summary = Some(self.pre_check(index)?);
                put_step(self.host, &name, Step::Checked)?;
                Step::Checked
            }
        };

        match self.mode {
            Mode::Drain => self.drain_node(&name, at, started),
            _ => self.recycle_node(&name, at, summary, started),
        }
    }

    /// Mode `drain` after the pre-checks: cordon, drain, uncordon when asked.
    fn drain_node(&mut self, name: &str, at: Step, started: u64) -> Result<NodeOutcome, Stop> {
        if at < Step::Cordoned {
            self.cordon(name)?;
        }
        if at < Step::Drained
            && let Some(outcome) = self.drain(name)?
        {
            return Ok(outcome);
        }
        if self.settings.uncordon_after_drain && at < Step::Uncordoned {
            self.uncordon(name)?;
        }
        self.finish(name, started)
    }

    /// Mode `recycle` after the pre-checks.
    fn recycle_node(
        &mut self,
        name: &str,
        at: Step,
        summary: Option<NodeSummary>,
        started: u64,
    ) -> Result<NodeOutcome, Stop> {
        let capture = if at < Step::Captured {
            self.capture(name, summary)?
        } else {
            self.load_capture(name)?
        };
        if at < Step::Cordoned {
            self.cordon(name)?;
        }
        if at < Step::Drained
            && let Some(outcome) = self.drain(name)?
        {
            return Ok(outcome);
        }
        if at < Step::Removed {
            self.remove(name, &capture)?;
        }
        if at < Step::Added {
            self.add_back(name, &capture)?;
        }
        if at < Step::Ready {
            self.wait_ready(name, &capture)?;
        }
        if at < Step::Restored {
            self.restore(name, &capture)?;
        }
        if at < Step::Uncordoned {
            self.uncordon(name)?;
        }
        self.post_check(name, &capture)?;
        self.finish(name, started)
    }

    fn finish(&mut self, name: &str, started: u64) -> Result<NodeOutcome, Stop> {
        put_step(self.host, name, Step::Done)?;
        let elapsed = self.host.now_ms().saturating_sub(started);
        let verb = if self.mode == Mode::Drain {
            "drained"
        } else {
            "recycled"
        };
        self.report(
            name,
            "done",
            format!("node {name} {verb} in {}", elapsed_text(elapsed)),
            Some(json!({"elapsed_ms": elapsed})),
        );
        Ok(NodeOutcome::Done)
    }

    // --- 1. pre-checks ---

    /// Journal the node `invalid`, report it and stop with `message`.
    fn invalid<T>(&mut self, name: &str, message: String) -> Result<T, Stop> {
        self.report(name, "invalid", message.clone(), None);
        put_step(self.host, name, Step::Invalid)?;
        Err(Stop::Failed(message))
    }

    /// Refresh the view and read the node; `None` when it is not in the cluster.
    pub fn read_node(&mut self, name: &str) -> Result<Option<NodeSummary>, Stop> {
        self.host
            .refresh_snapshot()
            .map_err(error::ops(format_args!(
                "node {name}: refreshing the cluster view"
            )))?;
        Ok(self.host.node(name))
    }

    /// Message for a node the cluster does not have.
    pub fn missing_node_message(name: &str) -> String {
        format!(
            "node {name} is not in the cluster; check the name (`tke-recycle nodes` lists nodes with their instances)"
        )
    }

    /// Message for a node without an instance ID.
    pub fn no_instance_message(name: &str) -> String {
        format!(
            "node {name} has no TKE instance ID (no providerID qcloud:///ZONE/ins-... and no cloud.tencent.com/node-instance-id label), so it cannot be removed and added back; `tke-recycle nodes` lists nodes with their instances, and `tke-recycle drain` handles nodes outside TKE"
        )
    }

    /// The policies' findings plus the runbook's own last-ready-node refusal.
    pub fn pre_findings(&mut self, index: usize) -> Result<Vec<crate::host::Finding>, Stop> {
        let name = self.nodes[index].clone();
        let mut found = self
            .host
            .run_policies(Phase::Pre, std::slice::from_ref(&name), &[])
            .map_err(error::ops(format_args!("node {name}: pre-checks")))?;
        let table = self.host.nodes();
        let states = node_states(&table).map_err(|e| Stop::failed(format!("node {name}: {e}")))?;
        // Other targets count: they are recycled one at a time, so while this one is away they
        // are up. What matters is that some node besides this one can run pods now.
        let others = states
            .iter()
            .filter(|s| s.name != name && s.ready && !s.unschedulable)
            .count();
        if others == 0 {
            found.push(findings::last_ready_node(&name));
        }
        Ok(found)
    }

    /// Step 1: the node exists (with an instance ID for a recycle), the policies and the
    /// runbook's own rule allow it, and warnings are confirmed.
    fn pre_check(&mut self, index: usize) -> Result<NodeSummary, Stop> {
        let name = self.nodes[index].clone();
        let Some(summary) = self.read_node(&name)? else {
            return self.invalid(&name, Self::missing_node_message(&name));
        };
        if self.mode == Mode::Recycle && summary.node.instance_id.is_none() {
            return self.invalid(&name, Self::no_instance_message(&name));
        }
        let verdict = Verdict::of(self.pre_findings(index)?, &self.settings);
        if !verdict.denied.is_empty() {
            self.report(
                &name,
                "denied",
                format!(
                    "node {name}: pre-checks denied: {}",
                    listing(&verdict.denied)
                ),
                Some(json!({"findings": findings_json(&verdict.all), "denied": codes(&verdict.denied)})),
            );
            put_step(self.host, &name, Step::Denied)?;
            return Err(Stop::Failed(format!(
                "node {name}: pre-checks denied: {} (accept a code for this run with --accept CODE)",
                codes(&verdict.denied).join(", ")
            )));
        }
        let mut message = format!(
            "node {name}: pre-checks passed ({} findings, {} warnings)",
            verdict.all.len(),
            verdict.warnings.len()
        );
        if !verdict.accepted.is_empty() {
            message.push_str(&format!(
                "; accepted for this run: {}",
                listing(&verdict.accepted)
            ));
        }
        if !verdict.warnings.is_empty() {
            message.push_str(&format!("; warnings: {}", listing(&verdict.warnings)));
        }
        self.report(
            &name,
            "pre-check",
            message,
            Some(json!({
                "findings": findings_json(&verdict.all),
                "accepted": codes(&verdict.accepted),
                "warnings": codes(&verdict.warnings),
            })),
        );
        if !verdict.warnings.is_empty() && !self.settings.assume_yes {
            let warning_codes = codes(&verdict.warnings);
            let question = format!(
                "node {name} has {} warnings ({}); continue?",
                verdict.warnings.len(),
                warning_codes.join(", ")
            );
            let yes = self
                .host
                .confirm(&question)
                .map_err(error::ops(format_args!(
                    "node {name}: asking to confirm warnings"
                )))?;
            if !yes {
                let message = format!(
                    "node {name}: {} warnings not confirmed: {} (review them, then run again with --yes to continue)",
                    verdict.warnings.len(),
                    warning_codes.join(", ")
                );
                self.report(
                    &name,
                    "denied",
                    message.clone(),
                    Some(json!({"findings": findings_json(&verdict.warnings)})),
                );
                put_step(self.host, &name, Step::Denied)?;
                return Err(Stop::Failed(message));
            }
        }
        Ok(summary)
    }

    // --- 2. capture ---

    /// Step 2: capture the instance and work out everything the add-back needs, before any
    /// mutating call.
    fn capture(&mut self, name: &str, summary: Option<NodeSummary>) -> Result<Capture, Stop> {
        let summary = match summary {
            Some(s) => s,
            None => match self.read_node(name)? {
                Some(s) => s,
                None => return self.invalid(name, Self::missing_node_message(name)),
            },
        };
        let Some(instance_id) = summary.node.instance_id.clone() else {
            return self.invalid(name, Self::no_instance_message(name));
        };
        let captured = match self.host.capture_instance(&instance_id) {
            Ok(c) => c,
            Err(TkeError::NotFound(_)) => {
                let message = format!(
                    "node {name}'s instance {instance_id} is not in TKE cluster {}; check the node's providerID and the cluster ID (`tke-recycle nodes` lists nodes with their instances)",
                    self.cluster_id
                );
                return self.invalid(name, message);
            }
            Err(e) => {
                return Err(error::tke(format_args!(
                    "node {name}: capturing instance {instance_id}"
                ))(e));
            }
        };
        let pods = self
            .host
            .pods_to_evict(name)
            .map_err(error::ops(format_args!(
                "node {name}: listing the pods to evict"
            )))?;
        let pdbs = if pods.is_empty() {
            Vec::new()
        } else {
            self.host.pdbs_covering(&pod_refs(&pods))
        };
        let record = match capture::build(&summary.node, &captured, &pods, &pdbs, &self.settings) {
            Ok(r) => r,
            Err(message) => return self.invalid(name, message),
        };
        let json = serde_json::to_string(&record)
            .map_err(|e| Stop::failed(format!("node {name}: writing the capture record: {e}")))?;
        self.host
            .journal_put(&capture_key(name), &json)
            .map_err(error::journal(format_args!(
                "node {name}: journaling the capture record"
            )))?;
        put_step(self.host, name, Step::Captured)?;
        self.report(
            name,
            "capture",
            format!(
                "node {name}: captured instance {instance_id} (node pool {}, {} own labels, {} own taints, {} affected workloads and PDBs)",
                record.node_pool_id.as_deref().unwrap_or("none"),
                record.labels.len(),
                record.taints.len(),
                record.affected.len()
            ),
            Some(json!({
                "instance_id": instance_id,
                "node_pool_id": record.node_pool_id,
                "labels": record.labels.iter().map(label_text).collect::<Vec<_>>(),
                "taints": record.taints.iter().map(taint_text).collect::<Vec<_>>(),
                "affected": record.affected.iter().map(ref_text).collect::<Vec<_>>(),
                "add_request": capture::add_request_json(&record.add_request, self.settings.keep_data_disk.as_ref()),
            })),
        );
        Ok(record)
    }

    /// The capture record a previous run journaled.
    fn load_capture(&mut self, name: &str) -> Result<Capture, Stop> {
        let key = capture_key(name);
        let value = self
            .host
            .journal_get(&key)
            .map_err(error::journal(format_args!(
                "node {name}: reading the capture record"
            )))?;
        let Some(value) = value else {
            return Err(Stop::failed(format!(
                "node {name}: the journal says the node was captured but has no {key}; the journal is damaged: add the node back by hand if it is out of the cluster (`tke-recycle nodes`), then start a new run"
            )));
        };
        serde_json::from_str(&value).map_err(|e| {
            Stop::failed(format!(
                "node {name}: the capture record under {key} cannot be read ({e}); it was written by another runbook version"
            ))
        })
    }

    // --- 3, 9. cordon, uncordon ---

    fn cordon(&mut self, name: &str) -> Result<(), Stop> {
        self.host
            .cordon(name)
            .map_err(error::ops(format_args!("node {name}: cordon")))?;
        put_step(self.host, name, Step::Cordoned)?;
        self.report(name, "cordon", format!("node {name} cordoned"), None);
        Ok(())
    }

    fn uncordon(&mut self, name: &str) -> Result<(), Stop> {
        self.host
            .uncordon(name)
            .map_err(error::ops(format_args!("node {name}: uncordon")))?;
        put_step(self.host, name, Step::Uncordoned)?;
        self.report(name, "uncordon", format!("node {name} uncordoned"), None);
        Ok(())
    }

    // --- 4. drain ---

    /// Step 4. `Some` when the node is done with for this run (blocked and skipped); a blocked
    /// drain with `on_blocked: stop` is an `Err`.
    fn drain(&mut self, name: &str) -> Result<Option<NodeOutcome>, Stop> {
        match drain::drain(self.host, name, &self.settings)? {
            DrainResult::Drained { pods } => {
                put_step(self.host, name, Step::Drained)?;
                self.report(
                    name,
                    "drain",
                    format!("node {name} drained ({pods} pods)"),
                    Some(json!({"pods": pods, "milestone": "drained"})),
                );
                Ok(None)
            }
            DrainResult::Blocked(reason) => self.blocked(name, reason).map(Some),
        }
    }

    /// A drain that cannot finish: uncordon, journal why, then skip or stop.
    fn blocked(&mut self, name: &str, reason: String) -> Result<NodeOutcome, Stop> {
        self.host.uncordon(name).map_err(error::ops(format_args!(
            "node {name}: uncordon after the blocked drain ({reason})"
        )))?;
        self.host
            .journal_put(&blocked_key(name), &reason)
            .map_err(error::journal(format_args!(
                "node {name}: journaling why the drain is blocked"
            )))?;
        put_step(self.host, name, Step::Blocked)?;
        self.report(
            name,
            "blocked",
            format!("node {name}: {reason}; the node was uncordoned"),
            Some(json!({"reason": reason})),
        );
        match self.settings.on_blocked {
            OnBlocked::Skip => {
                put_step(self.host, name, Step::Skipped)?;
                self.report(
                    name,
                    "skipped",
                    format!("node {name} skipped (on_blocked: skip); going on with the next node"),
                    None,
                );
                Ok(NodeOutcome::Skipped)
            }
            OnBlocked::Stop => Err(Stop::Failed(format!(
                "node {name}: {reason} (the node was uncordoned; fix the blocker and run `tke-recycle resume`, or use --on-blocked skip)"
            ))),
        }
    }

    // --- 5. remove ---

    fn describe(
        &mut self,
        name: &str,
        instance_id: &str,
    ) -> Result<Option<crate::host::ClusterInstance>, Stop> {
        self.host
            .describe_instance(instance_id)
            .map_err(error::tke(format_args!(
                "node {name}: looking up instance {instance_id} in TKE"
            )))
    }

    /// Step 5: remove the instance from the cluster, keeping the VM; wait for the Node to go.
    fn remove(&mut self, name: &str, capture: &Capture) -> Result<(), Stop> {
        let id = &capture.instance_id;
        put_step(self.host, name, Step::Removing)?;
        if self.describe(name, id)?.is_some() {
            self.report(
                name,
                "remove",
                format!(
                    "removing instance {id} from cluster {} (the VM is kept)",
                    self.cluster_id
                ),
                None,
            );
            match self.host.remove_instance_keep_vm(id) {
                Ok(()) | Err(TkeError::NotFound(_)) => {}
                Err(e) => {
                    return Err(error::tke(format_args!(
                        "node {name}: removing instance {id} from the cluster (the VM is kept; `tke-recycle resume` tries again)"
                    ))(e));
                }
            }
        } else {
            self.report(
                name,
                "remove",
                format!(
                    "instance {id} is already out of cluster {}",
                    self.cluster_id
                ),
                None,
            );
        }
        let timeout = self.settings.node_gone_timeout_seconds;
        self.host.wait_node_gone(name, timeout).map_err(error::ops(format_args!(
            "node {name}: waiting up to {timeout} s for the Node object to go after removing instance {id} (the instance is out of the cluster and the VM is kept; `tke-recycle resume` continues)"
        )))?;
        put_step(self.host, name, Step::Removed)?;
        self.report(
            name,
            "remove",
            format!("instance {id} removed from the cluster; the Node is gone"),
            Some(json!({"milestone": "removed"})),
        );
        Ok(())
    }

    // --- 6. add back ---

    /// Step 6: add the same VM back, never twice.
    fn add_back(&mut self, name: &str, capture: &Capture) -> Result<(), Stop> {
        let id = capture.instance_id.clone();
        let attempts = self.settings.add_attempts;
        put_step(self.host, name, Step::Adding)?;
        let mut attempt = 0u32;
        loop {
            if self.describe(name, &id)?.is_some() {
                let message = if attempt == 0 {
                    format!(
                        "instance {id} is already in cluster {} (added by the previous run); not adding it again",
                        self.cluster_id
                    )
                } else {
                    format!("instance {id} is in cluster {} after all", self.cluster_id)
                };
                self.report(name, "add-back", message, None);
                break;
            }
            attempt += 1;
            self.report(
                name,
                "add-back",
                format!(
                    "adding instance {id} back to cluster {} (attempt {attempt} of {attempts}; TKE reinstalls its OS)",
                    self.cluster_id
                ),
                None,
            );
            let (why, retry) = match self.host.add_existing_instance(&capture.add_request) {
                Ok(AddOutcome::Accepted) => {
                    self.report(
                        name,
                        "add-back",
                        format!("TKE accepted instance {id}; it is being reinstalled"),
                        None,
                    );
                    break;
                }
                Ok(AddOutcome::Failed(reason)) => (format!("TKE failed the add: {reason}"), true),
                Ok(AddOutcome::TimedOut) => (
                    "TKE did not answer for the instance in time (outcome unknown)".to_owned(),
                    true,
                ),
                Err(TkeError::Cancelled) => return Err(Stop::Cancelled),
                Err(
                    e @ (TkeError::Transport(_)
                    | TkeError::TimedOut(_)
                    | TkeError::Throttled(_)
                    | TkeError::Api(_)),
                ) => (tke_message(&e), true),
                Err(e) => (tke_message(&e), false),
            };
            // The outcome may be unknown (or wrong): what TKE has now decides.
            if self.describe(name, &id)?.is_some() {
                self.report(
                    name,
                    "add-back",
                    format!("{why}; but instance {id} is in the cluster, so the add went through"),
                    None,
                );
                break;
            }
            if !retry || attempt >= attempts {
                return Err(Stop::Failed(format!(
                    "node {name}: adding instance {id} back to cluster {} failed after {attempt} attempts: {why}; the VM is kept and is not in the cluster (`tke-recycle resume` adds it again)",
                    self.cluster_id
                )));
            }
            let pause = 10 * u64::from(attempt);
            self.report(
                name,
                "add-back",
                format!("attempt {attempt} failed: {why}; trying again in {pause} s"),
                None,
            );
            self.host.sleep(pause).map_err(error::ops(format_args!(
                "node {name}: waiting before adding instance {id} again"
            )))?;
        }
        put_step(self.host, name, Step::Added)?;
        Ok(())
    }

    // --- 7. wait ---

    fn wait_ready(&mut self, name: &str, capture: &Capture) -> Result<(), Stop> {
        let id = &capture.instance_id;
        let running = self.settings.instance_running_timeout_seconds;
        let ready = self.settings.node_ready_timeout_seconds;
        self.report(
            name,
            "wait-ready",
            format!("waiting up to {running} s for instance {id} to be running"),
            None,
        );
        self.host
            .wait_instance_running(id, running)
            .map_err(error::tke(format_args!(
                "node {name}: waiting for instance {id} to be running (check it in the TKE console; `tke-recycle resume` waits again)"
            )))?;
        self.report(
            name,
            "wait-ready",
            format!(
                "instance {id} is running; waiting up to {ready} s for node {name} to be Ready"
            ),
            None,
        );
        self.host.wait_node_ready(name, ready).map_err(error::ops(format_args!(
            "node {name}: waiting for the node to be Ready (it is added cordoned; `tke-recycle resume` waits again)"
        )))?;
        put_step(self.host, name, Step::Ready)?;
        self.report(
            name,
            "wait-ready",
            format!("node {name} is Ready"),
            Some(json!({"milestone": "ready"})),
        );
        Ok(())
    }

    // --- 8. restore ---

    fn restore(&mut self, name: &str, capture: &Capture) -> Result<(), Stop> {
        let Some(summary) = self.read_node(name)? else {
            return Err(Stop::failed(format!(
                "node {name}: it was Ready but is not in the cluster view now; `tke-recycle resume` tries again"
            )));
        };
        let (labels, taints) = missing_metadata(capture, &summary.node);
        if labels.is_empty() && taints.is_empty() {
            self.report(
                name,
                "restore",
                format!("node {name} already has its own labels and taints"),
                None,
            );
        } else {
            self.host
                .set_node_metadata(name, &labels, &taints)
                .map_err(error::ops(format_args!(
                    "node {name}: restoring its labels and taints"
                )))?;
            let shown: Vec<String> = labels
                .iter()
                .map(label_text)
                .chain(taints.iter().map(taint_text))
                .collect();
            self.report(
                name,
                "restore",
                format!("node {name}: restored {}", shown.join(", ")),
                Some(json!({
                    "labels": labels.iter().map(label_text).collect::<Vec<_>>(),
                    "taints": taints.iter().map(taint_text).collect::<Vec<_>>(),
                })),
            );
        }
        put_step(self.host, name, Step::Restored)?;
        Ok(())
    }

    // --- 10. post-check gate ---

    fn post_check(&mut self, name: &str, capture: &Capture) -> Result<(), Stop> {
        let timeout = self.settings.post_check_timeout_seconds;
        let interval = self.settings.post_check_interval_seconds;
        let deadline = self
            .host
            .now_ms()
            .saturating_add(timeout.saturating_mul(1000));
        let targets = [name.to_owned()];
        loop {
            self.host
                .refresh_snapshot()
                .map_err(error::ops(format_args!(
                    "node {name}: refreshing the cluster view for the post-check"
                )))?;
            let found = self
                .host
                .run_policies(Phase::Post, &targets, &capture.affected)
                .map_err(error::ops(format_args!("node {name}: post-check")))?;
            let verdict = Verdict::of(found, &self.settings);
            if verdict.denied.is_empty() {
                self.report(
                    name,
                    "post-check",
                    format!(
                        "node {name}: post-check passed ({} affected workloads and PDBs)",
                        capture.affected.len()
                    ),
                    Some(json!({"findings": findings_json(&verdict.all)})),
                );
                return Ok(());
            }
            let now = self.host.now_ms();
            if now >= deadline {
                let text = listing(&verdict.denied);
                self.report(
                    name,
                    "failed",
                    format!("node {name}: post-check failed after {timeout} s: {text}"),
                    Some(json!({"findings": findings_json(&verdict.all)})),
                );
                return Err(Stop::Failed(format!(
                    "node {name}: post-check failed: {text} (the node is back and uncordoned; the run stops before the next node: fix it, then `tke-recycle resume` checks again)"
                )));
            }
            let pause = interval
                .min(deadline.saturating_sub(now).div_ceil(1000))
                .max(1);
            self.report(
                name,
                "post-check",
                format!(
                    "node {name}: waiting for {}; checking again in {pause} s",
                    listing(&verdict.denied)
                ),
                Some(json!({"findings": findings_json(&verdict.denied)})),
            );
            self.host.sleep(pause).map_err(error::ops(format_args!(
                "node {name}: waiting between post-checks"
            )))?;
        }
    }
}

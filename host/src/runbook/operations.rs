//! `tke:recycle/operations`: cordon, evict, waits, labels and taints, policies, prompts and
//! progress, each journaled (when it mutates) and cancellable.

use std::sync::Arc;
use std::time::Duration;

use super::context::{Gate, RunContext, host_time, unless_cancelled};
use crate::bindings::operations::{Error, EvictionOutcome, Host, PodKey, Progress};
use crate::bindings::types::{
    CheckRequest, Finding, Label, ObjectRef, Phase, Pod, Taint, TaintEffect,
};
use crate::checks::{OutputLimits, run_policies};
use crate::engine::deadline::CallClock;
use crate::k8s::api_error;
use crate::k8s::drain::drain_candidates;
use crate::k8s::evict::{self, EvictOutcome};
use crate::k8s::node_ops;
use crate::k8s::wait::{self, NodeGoal, PodKey as WaitKey, WaitError};

/// The `operations` imports of one runbook call.
pub struct OperationsHost {
    ctx: Arc<RunContext>,
    clock: CallClock,
}

type Answer<T> = wasmtime::Result<Result<T, Error>>;

impl OperationsHost {
    pub(super) fn new(ctx: Arc<RunContext>, clock: CallClock) -> Self {
        Self { ctx, clock }
    }

    /// `cancelled` once the run is asked to stop; `refused` for a mutating call in a dry run.
    fn gate(&self, mutating: bool, what: &str) -> Option<Error> {
        self.ctx.gate(mutating, what).map(|g| match g {
            Gate::Cancelled => Error::Cancelled,
            Gate::Refused(why) => Error::Refused(why),
        })
    }

    async fn set_schedulable(&mut self, node: String, cordon: bool) -> Answer<()> {
        let op = if cordon { "cordon" } else { "uncordon" };
        if let Some(e) = self.gate(true, op) {
            return Ok(Err(e));
        }
        self.ctx.step_begin(op, &node).await?;
        let client = self.ctx.kube.direct.clone();
        let result = host_time(
            &self.clock,
            idempotent(|| async {
                if cordon {
                    node_ops::cordon(&client, &node).await
                } else {
                    node_ops::uncordon(&client, &node).await
                }
            }),
        )
        .await;
        let answer = match result {
            Ok(changed) => {
                let what = if changed { "done" } else { "already so" };
                self.ctx.step_end(op, &node, what.into()).await?;
                Ok(())
            }
            Err(e) => {
                let not_found = e.is_not_found();
                let msg = api_error::render(&e);
                self.ctx
                    .step_end(op, &node, format!("failed: {msg}"))
                    .await?;
                Err(if not_found {
                    Error::NotFound(msg)
                } else {
                    Error::Api(msg)
                })
            }
        };
        Ok(answer)
    }
}

/// Run an idempotent node write, trying again while the API server fails transiently (5xx,
/// 429, no answer): a recycle must not stop half-way because one PATCH met a 503.
async fn idempotent<F, Fut, T>(mut call: F) -> Result<T, node_ops::NodeOpError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, node_ops::NodeOpError>>,
{
    let mut attempt = 0u32;
    loop {
        match call().await {
            Err(e) if e.is_transient() && attempt < 5 => {
                tracing::debug!(error = %api_error::render(&e), attempt, "retrying a node write");
                tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

fn wait_key(p: &PodKey) -> WaitKey {
    WaitKey {
        namespace: p.namespace.clone(),
        name: p.name.clone(),
        uid: p.uid.clone(),
    }
}

fn outcome_word(o: &Result<EvictionOutcome, Error>) -> String {
    match o {
        Ok(EvictionOutcome::Evicted) => "evicted".into(),
        Ok(EvictionOutcome::BlockedByPdb(p)) => format!("blocked by PDB {p}"),
        Ok(EvictionOutcome::MultiplePdbs) => "several PDBs".into(),
        Ok(EvictionOutcome::Gone) => "gone".into(),
        Ok(EvictionOutcome::Replaced) => "replaced".into(),
        Ok(EvictionOutcome::NamespaceTerminating) => "namespace terminating".into(),
        Ok(EvictionOutcome::Throttled) => "throttled".into(),
        Err(e) => format!("error: {}", error_text(e)),
    }
}

/// An `operations` error as the journal and `status` show it: the case and its message.
fn error_text(e: &Error) -> String {
    match e {
        Error::NotFound(m) => format!("not found: {m}"),
        Error::TimedOut(m) => format!("timed out: {m}"),
        Error::Cancelled => "cancelled".into(),
        Error::Refused(m) => format!("refused: {m}"),
        Error::Api(m) => m.clone(),
    }
}

fn effect_name(e: TaintEffect) -> &'static str {
    match e {
        TaintEffect::NoSchedule => "NoSchedule",
        TaintEffect::PreferNoSchedule => "PreferNoSchedule",
        TaintEffect::NoExecute => "NoExecute",
    }
}

impl Host for OperationsHost {
    async fn cordon(&mut self, node: String) -> Answer<()> {
        self.set_schedulable(node, true).await
    }

    async fn uncordon(&mut self, node: String) -> Answer<()> {
        self.set_schedulable(node, false).await
    }

    async fn refresh_snapshot(&mut self) -> Answer<()> {
        if let Some(e) = self.gate(false, "refresh") {
            return Ok(Err(e));
        }
        Ok(self.ctx.refresh().map(|_| ()).map_err(Error::Api))
    }

    async fn pods_to_evict(&mut self, node: String) -> Answer<Vec<Pod>> {
        if let Some(e) = self.gate(false, "list") {
            return Ok(Err(e));
        }
        let view = match self.ctx.refresh() {
            Ok(v) => v,
            Err(e) => return Ok(Err(Error::Api(e))),
        };
        if view.node(&node).is_none() {
            return Ok(Err(Error::NotFound(format!(
                "node {node} is not in the cluster"
            ))));
        }
        // kubectl's filters (not mirror, DaemonSet, finished or terminating pods) decided on the
        // Kubernetes objects themselves; the runbook gets the projected records of those.
        let raw = self.ctx.live.pods_on_node(&node);
        let evict: std::collections::HashSet<&str> = drain_candidates(&raw)
            .into_iter()
            .filter_map(|p| p.metadata.uid.as_deref())
            .collect();
        Ok(Ok(view
            .pods_on_node(&node)
            .into_iter()
            .filter(|p| evict.contains(p.uid.as_str()))
            .collect()))
    }

    async fn evict_pods(
        &mut self,
        pods: Vec<PodKey>,
    ) -> wasmtime::Result<Vec<Result<EvictionOutcome, Error>>> {
        if let Some(e) = self.gate(true, "evicting pods") {
            return Ok(pods.iter().map(|_| Err(e.clone())).collect());
        }
        if pods.is_empty() {
            return Ok(Vec::new());
        }
        let subject = format!("{} pods", pods.len());
        self.ctx.step_begin("evict", &subject).await?;
        let client = self.ctx.kube.direct.clone();
        let version = self.ctx.eviction_version;
        let own = self.ctx.own_pod.as_ref();
        // Every request at once, as kubectl does: one slow answer must not hold up the rest.
        let outcomes: Vec<Result<EvictionOutcome, Error>> = host_time(
            &self.clock,
            futures::future::join_all(pods.iter().map(|p| {
                let client = client.clone();
                async move {
                    // The pod this run lives in is never evicted, whatever the runbook asks.
                    if let Some(own) = own.filter(|o| o.is(&p.namespace, &p.name)) {
                        return Err(Error::Refused(own.refusal()));
                    }
                    match evict::evict(&client, version, &p.namespace, &p.name, &p.uid, None).await
                    {
                        Ok(EvictOutcome::Evicted) => Ok(EvictionOutcome::Evicted),
                        Ok(EvictOutcome::Blocked { pdb, message }) => {
                            Ok(EvictionOutcome::BlockedByPdb(pdb.unwrap_or(message)))
                        }
                        Ok(EvictOutcome::TooManyRequests { .. }) => Ok(EvictionOutcome::Throttled),
                        Ok(EvictOutcome::MultiplePdbs { .. }) => Ok(EvictionOutcome::MultiplePdbs),
                        Ok(EvictOutcome::Gone) => Ok(EvictionOutcome::Gone),
                        Ok(EvictOutcome::Replaced) => Ok(EvictionOutcome::Replaced),
                        Ok(EvictOutcome::NamespaceTerminating) => {
                            Ok(EvictionOutcome::NamespaceTerminating)
                        }
                        Err(e) => Err(Error::Api(api_error::render(&e))),
                    }
                }
            })),
        )
        .await;
        let summary: Vec<String> = pods
            .iter()
            .zip(&outcomes)
            .map(|(p, o)| format!("{}/{}: {}", p.namespace, p.name, outcome_word(o)))
            .collect();
        self.ctx
            .step_end("evict", &subject, summary.join("; "))
            .await?;
        Ok(outcomes)
    }

    async fn delete_pods(&mut self, pods: Vec<PodKey>) -> wasmtime::Result<Vec<Result<(), Error>>> {
        if let Some(e) = self.gate(true, "deleting pods") {
            return Ok(pods.iter().map(|_| Err(e.clone())).collect());
        }
        if !self.ctx.allow_delete {
            let e = Error::Refused(
                "deleting pods bypasses their PodDisruptionBudgets; the operator must allow it for this run with --disable-eviction".into(),
            );
            return Ok(pods.iter().map(|_| Err(e.clone())).collect());
        }
        if pods.is_empty() {
            return Ok(Vec::new());
        }
        let subject = format!("{} pods", pods.len());
        self.ctx.step_begin("delete-pods", &subject).await?;
        let client = self.ctx.kube.direct.clone();
        let own = self.ctx.own_pod.as_ref();
        let answers = host_time(
            &self.clock,
            futures::future::join_all(pods.iter().map(|p| {
                let api = kube::Api::<k8s_openapi::api::core::v1::Pod>::namespaced(
                    client.clone(),
                    &p.namespace,
                );
                let params = kube::api::DeleteParams {
                    preconditions: Some(kube::api::Preconditions {
                        uid: Some(p.uid.clone()),
                        resource_version: None,
                    }),
                    ..Default::default()
                };
                async move {
                    if let Some(own) = own.filter(|o| o.is(&p.namespace, &p.name)) {
                        return Err(Error::Refused(own.refusal()));
                    }
                    match api.delete(&p.name, &params).await {
                        Ok(_) => Ok(()),
                        // Gone, or replaced under the same name: the pod asked about is gone.
                        Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(()),
                        Err(e) => Err(Error::Api(format!(
                            "failed to delete pod {}/{}: {e}",
                            p.namespace, p.name
                        ))),
                    }
                }
            })),
        )
        .await;
        let failed = answers.iter().filter(|a| a.is_err()).count();
        self.ctx
            .step_end(
                "delete-pods",
                &subject,
                format!("{} deleted, {failed} failed", answers.len() - failed),
            )
            .await?;
        Ok(answers)
    }

    async fn wait_pods_gone(
        &mut self,
        node: String,
        pods: Vec<PodKey>,
        timeout_seconds: u64,
    ) -> Answer<Vec<PodKey>> {
        if let Some(e) = self.gate(false, "wait") {
            return Ok(Err(e));
        }
        let keys: Vec<WaitKey> = pods.iter().map(wait_key).collect();
        let client = self.ctx.kube.reads.clone();
        let started = std::time::Instant::now();
        let waited = host_time(
            &self.clock,
            unless_cancelled(
                &self.ctx.cancel,
                wait::pods_gone(&client, &node, &keys, Duration::from_secs(timeout_seconds)),
            ),
        )
        .await;
        self.ctx.add_waited(started.elapsed());
        match waited {
            None => Ok(Err(Error::Cancelled)),
            Some(Ok(())) => Ok(Ok(Vec::new())),
            Some(Err(WaitError::TimedOut { .. })) => {
                // Which ones are left: the live view (fed by the same kind of watch) knows.
                let view = match self.ctx.refresh() {
                    Ok(v) => v,
                    Err(e) => return Ok(Err(Error::Api(e))),
                };
                let present = view.pods_on_node(&node);
                Ok(Ok(pods
                    .into_iter()
                    .filter(|k| {
                        present.iter().any(|p| {
                            p.namespace == k.namespace && p.name == k.name && p.uid == k.uid
                        })
                    })
                    .collect()))
            }
            Some(Err(e)) => Ok(Err(Error::Api(e.to_string()))),
        }
    }

    async fn wait_node_ready(&mut self, node: String, timeout_seconds: u64) -> Answer<()> {
        self.wait_node(node, NodeGoal::Ready, timeout_seconds).await
    }

    async fn wait_node_gone(&mut self, node: String, timeout_seconds: u64) -> Answer<()> {
        self.wait_node(node, NodeGoal::Removed, timeout_seconds)
            .await
    }

    async fn set_node_metadata(
        &mut self,
        node: String,
        labels: Vec<Label>,
        taints: Vec<Taint>,
    ) -> Answer<()> {
        if let Some(e) = self.gate(true, "setting labels and taints") {
            return Ok(Err(e));
        }
        let labels: Vec<(String, String)> = labels.into_iter().map(|l| (l.key, l.value)).collect();
        let taints: Vec<(String, String, String)> = taints
            .into_iter()
            .map(|t| (t.key, t.value, effect_name(t.effect).to_owned()))
            .collect();
        let subject = format!(
            "{node} (labels {}; taints {})",
            labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(","),
            taints
                .iter()
                .map(|(k, v, e)| format!("{k}={v}:{e}"))
                .collect::<Vec<_>>()
                .join(",")
        );
        self.ctx.step_begin("set-node-metadata", &subject).await?;
        let client = self.ctx.kube.direct.clone();
        let result = host_time(
            &self.clock,
            idempotent(|| node_ops::set_metadata(&client, &node, &labels, &taints)),
        )
        .await;
        let answer = match result {
            Ok(changed) => {
                let what = if changed { "done" } else { "already so" };
                self.ctx
                    .step_end("set-node-metadata", &subject, what.into())
                    .await?;
                Ok(())
            }
            Err(e) => {
                let not_found = e.is_not_found();
                let msg = api_error::render(&e);
                self.ctx
                    .step_end("set-node-metadata", &subject, format!("failed: {msg}"))
                    .await?;
                Err(if not_found {
                    Error::NotFound(msg)
                } else {
                    Error::Api(msg)
                })
            }
        };
        Ok(answer)
    }

    async fn sleep(&mut self, seconds: u64) -> Answer<()> {
        if let Some(e) = self.gate(false, "sleep") {
            return Ok(Err(e));
        }
        let started = std::time::Instant::now();
        let slept = host_time(
            &self.clock,
            unless_cancelled(
                &self.ctx.cancel,
                tokio::time::sleep(Duration::from_secs(seconds)),
            ),
        )
        .await;
        self.ctx.add_waited(started.elapsed());
        Ok(slept.ok_or(Error::Cancelled))
    }

    async fn now_ms(&mut self) -> wasmtime::Result<u64> {
        Ok(self.ctx.elapsed_ms())
    }

    async fn run_policies(
        &mut self,
        phase: Phase,
        targets: Vec<String>,
        affected: Vec<ObjectRef>,
    ) -> Answer<Vec<Finding>> {
        if let Some(e) = self.gate(false, "checks") {
            return Ok(Err(e));
        }
        let view = match self.ctx.refresh() {
            Ok(v) => v,
            Err(e) => return Ok(Err(Error::Api(e))),
        };
        let specs = match phase {
            Phase::Pre => &self.ctx.policies.pre,
            Phase::Post => &self.ctx.policies.post,
        };
        let now = u64::try_from(jiff::Timestamp::now().as_second()).unwrap_or(0);
        let request = CheckRequest {
            targets,
            phase,
            settings: String::new(),
            now,
            affected,
        };
        let report = host_time(
            &self.clock,
            run_policies(
                &self.ctx.policies.runtime,
                specs,
                view,
                &request,
                &OutputLimits::default(),
            ),
        )
        .await;
        Ok(Ok(report
            .outcomes
            .into_iter()
            .flat_map(|o| o.findings)
            .collect()))
    }

    async fn confirm(&mut self, question: String) -> Answer<bool> {
        if let Some(e) = self.gate(false, "confirm") {
            return Ok(Err(e));
        }
        if self.ctx.assume_yes {
            return Ok(Ok(true));
        }
        let Some(prompter) = self.ctx.prompter.clone() else {
            self.ctx.emit(
                "",
                "confirm",
                format!("{question} -> no (no terminal to ask on; pass --yes to accept warnings)"),
                None,
            );
            return Ok(Ok(false));
        };
        let answer = host_time(
            &self.clock,
            tokio::task::spawn_blocking(move || prompter(&question)),
        )
        .await
        .ok()
        .flatten()
        .unwrap_or(false);
        Ok(Ok(answer))
    }

    async fn report(&mut self, event: Progress) -> wasmtime::Result<()> {
        let data = event.data.as_deref().and_then(|d| {
            serde_json::from_str::<serde_json::Value>(d)
                .ok()
                .filter(serde_json::Value::is_object)
        });
        self.ctx.emit(&event.node, &event.step, event.message, data);
        Ok(())
    }
}

impl OperationsHost {
    async fn wait_node(
        &mut self,
        node: String,
        goal: NodeGoal,
        timeout_seconds: u64,
    ) -> Answer<()> {
        if let Some(e) = self.gate(false, "wait") {
            return Ok(Err(e));
        }
        let client = self.ctx.kube.reads.clone();
        let started = std::time::Instant::now();
        let waited = host_time(
            &self.clock,
            unless_cancelled(
                &self.ctx.cancel,
                wait::node(&client, &node, goal, Duration::from_secs(timeout_seconds)),
            ),
        )
        .await;
        self.ctx.add_waited(started.elapsed());
        Ok(match waited {
            None => Err(Error::Cancelled),
            Some(Ok(_)) => Ok(()),
            Some(Err(e @ WaitError::TimedOut { .. })) => Err(Error::TimedOut(e.to_string())),
            Some(Err(e)) => Err(Error::Api(e.to_string())),
        })
    }
}

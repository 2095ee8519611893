//! `tke:recycle/tke`: describe, capture, remove (keeping the VM), add back, wait until running.
//!
//! The safety rules live here, not in the runbook: removal is always `retain`; remove and add
//! are refused for an instance whose capture is not journaled; an add is refused while TKE has
//! the instance in the cluster (a second add would reinstall a node that is coming up); both
//! are journaled before and after they run. A throttled mutating call (`RequestLimitExceeded`)
//! was rejected before it ran, so it alone is retried here; any answer that leaves the outcome
//! unknown goes back to the runbook as such, to be decided after re-reading the state.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::context::{Gate, RunContext, host_time, unless_cancelled};
use crate::bindings::tke::{
    AddOutcome, AddRequest, AdvancedSettings, ClusterInstance, DataDisk, Error, Host,
    InstanceCapture, Login,
};
use crate::bindings::types::{Label, Taint, TaintEffect};
use crate::engine::deadline::CallClock;
use crate::tke::actions::{
    self as api, AddExistedInstances, DeleteClusterInstances, DeleteMode, DescribeInstances,
    InstanceAdvancedSettings, LoginSettings, NodePoolOption,
};
use crate::tke::client::{TcClient, TkeError};
use crate::tke::retry::Backoff;

/// The journal key of an instance's capture.
pub fn capture_key(instance_id: &str) -> String {
    format!("host/capture/{instance_id}")
}

/// What the host journals for an instance before it may be removed: the capture the runbook
/// sees, and TKE's settings exactly as TKE returned them (fields the WIT record does not carry,
/// such as `GPUArgs`, are added back from these).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JournaledCapture {
    /// As handed to the runbook.
    pub capture: InstanceCapture,
    /// `InstanceAdvancedSettings` as `DescribeClusterInstances` returned them.
    pub raw_settings: InstanceAdvancedSettings,
}

/// The `tke` imports of one runbook call.
pub struct TkeHost {
    ctx: Arc<RunContext>,
    clock: CallClock,
}

type Answer<T> = wasmtime::Result<Result<T, Error>>;

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.is_empty())
}

fn effect(text: Option<&str>) -> TaintEffect {
    match text {
        Some("NoExecute") => TaintEffect::NoExecute,
        Some("PreferNoSchedule") => TaintEffect::PreferNoSchedule,
        _ => TaintEffect::NoSchedule,
    }
}

fn effect_name(e: TaintEffect) -> &'static str {
    match e {
        TaintEffect::NoSchedule => "NoSchedule",
        TaintEffect::PreferNoSchedule => "PreferNoSchedule",
        TaintEffect::NoExecute => "NoExecute",
    }
}

/// TKE's settings as the WIT record.
pub fn to_wit_settings(s: &InstanceAdvancedSettings) -> AdvancedSettings {
    let kubelet = s
        .extra_args
        .as_ref()
        .and_then(|a| a.get("Kubelet"))
        .and_then(serde_json::Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    AdvancedSettings {
        mount_target: non_empty(s.mount_target.clone()),
        docker_graph_path: non_empty(s.docker_graph_path.clone()),
        user_script: non_empty(s.user_script.clone()),
        pre_start_user_script: non_empty(s.pre_start_user_script.clone()),
        unschedulable: s.unschedulable.unwrap_or(0) != 0,
        labels: s
            .labels
            .iter()
            .flatten()
            .map(|l| Label {
                key: l.name.clone(),
                value: l.value.clone(),
            })
            .collect(),
        taints: s
            .taints
            .iter()
            .flatten()
            .filter_map(|t| {
                Some(Taint {
                    key: non_empty(t.key.clone())?,
                    value: t.value.clone().unwrap_or_default(),
                    effect: effect(t.effect.as_deref()),
                })
            })
            .collect(),
        data_disks: s
            .data_disks
            .iter()
            .flatten()
            .map(|d| DataDisk {
                disk_type: non_empty(d.disk_type.clone()),
                file_system: non_empty(d.file_system.clone()),
                disk_size: d.disk_size.and_then(|n| u64::try_from(n).ok()),
                auto_format_and_mount: d.auto_format_and_mount.unwrap_or(false),
                mount_target: non_empty(d.mount_target.clone()),
                disk_partition: non_empty(d.disk_partition.clone()),
            })
            .collect(),
        kubelet_extra_args: kubelet,
        desired_pod_number: s.desired_pod_number.and_then(|n| u32::try_from(n).ok()),
    }
}

/// The settings to send: the captured ones as TKE returned them, with every field the runbook
/// controls replaced by its choice.
pub fn merge_settings(
    raw: &InstanceAdvancedSettings,
    wit: &AdvancedSettings,
) -> InstanceAdvancedSettings {
    let mut out = raw.clone();
    out.mount_target = wit.mount_target.clone();
    out.docker_graph_path = wit.docker_graph_path.clone();
    out.user_script = wit.user_script.clone();
    out.pre_start_user_script = wit.pre_start_user_script.clone();
    out.unschedulable = Some(i64::from(wit.unschedulable));
    out.labels = Some(
        wit.labels
            .iter()
            .map(|l| api::TkeLabel {
                name: l.key.clone(),
                value: l.value.clone(),
            })
            .collect(),
    );
    out.taints = Some(
        wit.taints
            .iter()
            .map(|t| api::TkeTaint {
                key: Some(t.key.clone()),
                value: Some(t.value.clone()),
                effect: Some(effect_name(t.effect).to_owned()),
            })
            .collect(),
    );
    out.data_disks = Some(
        wit.data_disks
            .iter()
            .map(|d| api::DataDisk {
                disk_type: d.disk_type.clone(),
                file_system: d.file_system.clone(),
                disk_size: d.disk_size.and_then(|n| i64::try_from(n).ok()),
                auto_format_and_mount: Some(d.auto_format_and_mount),
                mount_target: d.mount_target.clone(),
                disk_partition: d.disk_partition.clone(),
            })
            .collect(),
    );
    let mut extra = match raw.extra_args.clone() {
        Some(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    extra.insert(
        "Kubelet".into(),
        serde_json::Value::from(wit.kubelet_extra_args.clone()),
    );
    out.extra_args = Some(serde_json::Value::Object(extra));
    out.desired_pod_number = wit.desired_pod_number.map(i64::from);
    out
}

fn to_wit_instance(i: &api::Instance) -> ClusterInstance {
    ClusterInstance {
        instance_id: i.instance_id.clone(),
        state: i.instance_state.clone().unwrap_or_default(),
        failed_reason: non_empty(i.failed_reason.clone()),
        lan_ip: non_empty(i.lan_ip.clone()),
        node_pool_id: non_empty(i.node_pool_id.clone()),
        advanced_settings: to_wit_settings(
            &i.instance_advanced_settings.clone().unwrap_or_default(),
        ),
    }
}

/// A TKE error as the runbook can act on it.
/// A call's answer as the journal and `status` show it: a word, or the error's case and message.
fn answer_text(answer: &Result<String, &Error>) -> String {
    match answer {
        Ok(word) => word.clone(),
        Err(Error::Throttled(m)) => format!("throttled: {m}"),
        Err(Error::NotFound(m)) => format!("not found: {m}"),
        Err(Error::Invalid(m)) => format!("invalid: {m}"),
        Err(Error::Refused(m)) => format!("refused: {m}"),
        Err(Error::Api(m)) => format!("error: {m}"),
        Err(Error::Transport(m)) => format!("no answer: {m}"),
        Err(Error::TimedOut(m)) => format!("timed out: {m}"),
        Err(Error::Cancelled) => "cancelled".into(),
    }
}

fn wit_error(e: &TkeError) -> Error {
    let chain = {
        let mut s = e.to_string();
        let mut src = std::error::Error::source(e);
        while let Some(cause) = src {
            s.push_str(": ");
            s.push_str(&cause.to_string());
            src = cause.source();
        }
        s
    };
    match e.code() {
        Some(c) if c.starts_with("RequestLimitExceeded") => Error::Throttled(chain),
        Some(c) if c.contains("NotFound") || c.contains("NotExist") => Error::NotFound(chain),
        Some(c) if c.starts_with("InvalidParameter") || c.starts_with("MissingParameter") => {
            Error::Invalid(chain)
        }
        Some(_) => Error::Api(chain),
        None => match e {
            TkeError::Transport { .. }
            | TkeError::Status { .. }
            | TkeError::OutcomeUnknown { .. } => Error::Transport(chain),
            _ => Error::Api(chain),
        },
    }
}

fn is_throttled(e: &TkeError) -> bool {
    matches!(e, TkeError::Api { code, .. } if code.starts_with("RequestLimitExceeded"))
}

impl TkeHost {
    pub(super) fn new(ctx: Arc<RunContext>, clock: CallClock) -> Self {
        Self { ctx, clock }
    }

    /// The client and cluster, or the error the runbook gets when the run has no cloud access.
    fn cloud(&self) -> Result<(Arc<TcClient>, String), Error> {
        match (&self.ctx.cloud, &self.ctx.cluster_id) {
            (Some(c), Some(id)) => Ok((c.clone(), id.clone())),
            _ => Err(Error::Refused(
                "this run has no TKE access (a drain, or no --cluster and credentials)".into(),
            )),
        }
    }

    fn gate(&self, mutating: bool, what: &str) -> Option<Error> {
        self.ctx.gate(mutating, what).map(|g| match g {
            Gate::Cancelled => Error::Cancelled,
            Gate::Refused(why) => Error::Refused(why),
        })
    }

    /// The capture journaled for `instance_id`, if any. A capture that no longer parses is a
    /// damaged journal: the call traps rather than treat the instance as never captured.
    async fn journaled_capture(
        &self,
        instance_id: &str,
    ) -> wasmtime::Result<Option<JournaledCapture>> {
        let journal = self.ctx.journal.lock().await;
        let Some(text) = journal.get(&capture_key(instance_id)) else {
            return Ok(None);
        };
        serde_json::from_str(text).map(Some).map_err(|e| {
            wasmtime::Error::msg(format!(
                "the journaled capture of {instance_id} is damaged ({e}); see {}",
                journal.location()
            ))
        })
    }

    async fn instance(&self, instance_id: &str) -> Result<Option<api::Instance>, Error> {
        let (client, cluster) = self.cloud()?;
        let found = host_time(
            &self.clock,
            client.cluster_instances(&cluster, &[instance_id.to_owned()]),
        )
        .await
        .map_err(|e| wit_error(&e))?;
        Ok(found.into_iter().find(|i| i.instance_id == instance_id))
    }

    /// Send a mutating call, retrying only while TKE throttles it (a throttled call did not run).
    async fn send_mutating<A: api::Action>(
        &self,
        client: &TcClient,
        request: &A,
    ) -> Result<A::Response, TkeError> {
        let backoff = Backoff::default();
        let mut retry = 0;
        loop {
            match host_time(&self.clock, client.call(request)).await {
                Err(e) if is_throttled(&e) && retry + 1 < 8 => {
                    tokio::time::sleep(backoff.jittered(retry)).await;
                    retry += 1;
                }
                other => return other,
            }
        }
    }

    async fn capture(&self, instance_id: &str) -> Result<JournaledCapture, Error> {
        let (client, cluster_id) = self.cloud()?;
        let Some(instance) = self.instance(instance_id).await? else {
            return Err(Error::NotFound(format!(
                "instance {instance_id} is not in TKE cluster {cluster_id}"
            )));
        };
        let vms = host_time(
            &self.clock,
            client.call(&DescribeInstances {
                instance_ids: vec![instance_id.to_owned()],
                ..Default::default()
            }),
        )
        .await
        .map_err(|e| wit_error(&e))?;
        let vm = vms
            .instance_set
            .unwrap_or_default()
            .into_iter()
            .find(|v| v.instance_id == instance_id)
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "CVM does not know instance {instance_id} (region {})",
                    client.region()
                ))
            })?;
        let cluster = host_time(&self.clock, client.cluster(&cluster_id))
            .await
            .map_err(|e| wit_error(&e))?
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "TKE cluster {cluster_id} does not exist in region {}",
                    client.region()
                ))
            })?;
        let raw_settings = instance
            .instance_advanced_settings
            .clone()
            .unwrap_or_default();
        Ok(JournaledCapture {
            capture: InstanceCapture {
                instance: to_wit_instance(&instance),
                security_group_ids: vm.security_group_ids.unwrap_or_default(),
                login_key_ids: vm
                    .login_settings
                    .and_then(|l| l.key_ids)
                    .unwrap_or_default(),
                charge_type: non_empty(vm.instance_charge_type),
                instance_name: non_empty(vm.instance_name),
                container_runtime: cluster
                    .container_runtime
                    .clone()
                    .filter(|r| !r.is_empty())
                    .unwrap_or_else(|| "containerd".into()),
                node_name_type: cluster.node_name_type(),
            },
            raw_settings,
        })
    }
}

fn login_settings(login: &Login) -> LoginSettings {
    match login {
        Login::KeyIds(ids) => LoginSettings {
            key_ids: Some(ids.clone()),
            keep_image_login: None,
        },
        Login::KeepImageLogin => LoginSettings {
            key_ids: None,
            keep_image_login: Some("true".into()),
        },
    }
}

impl Host for TkeHost {
    async fn describe_instance(&mut self, instance_id: String) -> Answer<Option<ClusterInstance>> {
        if let Some(e) = self.gate(false, "describe") {
            return Ok(Err(e));
        }
        Ok(self
            .instance(&instance_id)
            .await
            .map(|i| i.as_ref().map(to_wit_instance)))
    }

    async fn capture_instance(&mut self, instance_id: String) -> Answer<InstanceCapture> {
        if let Some(e) = self.gate(false, "capture") {
            return Ok(Err(e));
        }
        // A resumed run re-adds the node with what it had before it was first removed.
        if let Some(done) = self.journaled_capture(&instance_id).await? {
            return Ok(Ok(done.capture));
        }
        let captured = match self.capture(&instance_id).await {
            Ok(c) => c,
            Err(e) => return Ok(Err(e)),
        };
        let value = serde_json::to_string(&captured)?;
        let ctx = self.ctx.clone();
        let key = capture_key(&instance_id);
        host_time(&self.clock, async move {
            ctx.journal.lock().await.put(&key, &value).await
        })
        .await
        .map_err(|e| {
            wasmtime::Error::msg(format!("cannot journal the capture of {instance_id}: {e}"))
        })?;
        Ok(Ok(captured.capture))
    }

    async fn remove_instance_keep_vm(&mut self, instance_id: String) -> Answer<()> {
        if let Some(e) = self.gate(true, "removing an instance") {
            return Ok(Err(e));
        }
        let (client, cluster_id) = match self.cloud() {
            Ok(c) => c,
            Err(e) => return Ok(Err(e)),
        };
        if self.journaled_capture(&instance_id).await?.is_none() {
            return Ok(Err(Error::Refused(format!(
                "instance {instance_id} has no capture in this run's journal; capture-instance must journal how to add it back before it is removed"
            ))));
        }
        let subject = format!("{instance_id} (retain)");
        self.ctx.step_begin("remove-instance", &subject).await?;
        let request = DeleteClusterInstances {
            cluster_id,
            instance_ids: vec![instance_id.clone()],
            instance_delete_mode: DeleteMode::Retain,
            force_delete: None,
        };
        let answer = match self.send_mutating(&client, &request).await {
            Ok(resp) => {
                let has = |l: &Option<Vec<String>>| l.iter().flatten().any(|i| *i == instance_id);
                if has(&resp.succ_instance_ids) {
                    Ok(())
                } else if has(&resp.not_found_instance_ids) {
                    Err(Error::NotFound(format!(
                        "instance {instance_id} is not in the cluster (already removed)"
                    )))
                } else {
                    Err(Error::Api(format!(
                        "DeleteClusterInstances did not remove {instance_id} (it is in FailedInstanceIds or not reported)"
                    )))
                }
            }
            Err(e) => Err(wit_error(&e)),
        };
        self.ctx
            .step_end(
                "remove-instance",
                &subject,
                answer_text(&answer.as_ref().map(|()| "removed".to_owned())),
            )
            .await?;
        Ok(answer)
    }

    async fn add_existing_instance(&mut self, request: AddRequest) -> Answer<AddOutcome> {
        let instance_id = request.instance_id.clone();
        if let Some(e) = self.gate(true, "adding an instance") {
            return Ok(Err(e));
        }
        let (client, cluster_id) = match self.cloud() {
            Ok(c) => c,
            Err(e) => return Ok(Err(e)),
        };
        let Some(captured) = self.journaled_capture(&instance_id).await? else {
            return Ok(Err(Error::Refused(format!(
                "instance {instance_id} has no capture in this run's journal; it is not added"
            ))));
        };
        match self.instance(&instance_id).await {
            Ok(Some(i)) => {
                return Ok(Err(Error::Refused(format!(
                    "instance {instance_id} is already in cluster {cluster_id} (state {}); a second AddExistedInstances would reinstall it again",
                    i.instance_state.unwrap_or_default()
                ))));
            }
            Ok(None) => {}
            Err(e) => return Ok(Err(e)),
        }
        let add = AddExistedInstances {
            cluster_id,
            instance_ids: vec![instance_id.clone()],
            instance_advanced_settings: Some(merge_settings(
                &captured.raw_settings,
                &request.settings,
            )),
            login_settings: Some(login_settings(&request.login)),
            host_name: request.host_name.clone(),
            security_group_ids: request.security_group_ids.iter().take(1).cloned().collect(),
            node_pool: request.node_pool_id.clone().map(|id| NodePoolOption {
                add_to_node_pool: Some(true),
                node_pool_id: Some(id),
                inherit_configuration_from_node_pool: Some(false),
            }),
            ..Default::default()
        };
        let subject = format!(
            "{instance_id} (node pool {}, security group {}, unschedulable {})",
            request.node_pool_id.as_deref().unwrap_or("none"),
            request
                .security_group_ids
                .first()
                .map_or("none", String::as_str),
            request.settings.unschedulable
        );
        self.ctx.step_begin("add-instance", &subject).await?;
        let answer = match self.send_mutating(&client, &add).await {
            Ok(resp) => match resp.outcome(&instance_id) {
                api::AddOutcome::Succeeded => Ok(AddOutcome::Accepted),
                api::AddOutcome::Failed(reason) => Ok(AddOutcome::Failed(
                    reason.unwrap_or_else(|| "TKE gave no reason".into()),
                )),
                api::AddOutcome::TimedOut | api::AddOutcome::NotReported => {
                    Ok(AddOutcome::TimedOut)
                }
            },
            // Sent, but no answer: TKE may be reinstalling it. The runbook re-reads the state.
            Err(TkeError::OutcomeUnknown { .. }) => Ok(AddOutcome::TimedOut),
            Err(e) => Err(wit_error(&e)),
        };
        self.ctx
            .step_end(
                "add-instance",
                &subject,
                answer_text(&answer.as_ref().map(|outcome| match outcome {
                    AddOutcome::Accepted => "accepted".to_owned(),
                    AddOutcome::Failed(reason) => format!("failed: {reason}"),
                    AddOutcome::TimedOut => "timed out".to_owned(),
                })),
            )
            .await?;
        Ok(answer)
    }

    async fn wait_instance_running(
        &mut self,
        instance_id: String,
        timeout_seconds: u64,
    ) -> Answer<()> {
        if let Some(e) = self.gate(false, "wait") {
            return Ok(Err(e));
        }
        // TKE has no watch: poll, quickly at first (a reinstall takes minutes, the practice
        // cluster seconds), then every 5 s (a few hundred reads per reinstall, far below TKE's
        // 20 per second).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout_seconds);
        let mut delay = Duration::from_secs(1);
        let mut last = String::from("not in the cluster yet");
        loop {
            match self.instance(&instance_id).await {
                Ok(Some(i)) => match i.instance_state.as_deref() {
                    Some("running") => return Ok(Ok(())),
                    Some("failed") => {
                        return Ok(Err(Error::Api(format!(
                            "instance {instance_id} failed to join the cluster: {}",
                            i.failed_reason.unwrap_or_default()
                        ))));
                    }
                    other => last = format!("state {}", other.unwrap_or("unknown")),
                },
                Ok(None) => last = "not in the cluster".into(),
                Err(Error::Throttled(_) | Error::Transport(_)) => {}
                Err(e) => return Ok(Err(e)),
            }
            if tokio::time::Instant::now() + delay > deadline {
                return Ok(Err(Error::TimedOut(format!(
                    "instance {instance_id} is not running after {timeout_seconds} s ({last})"
                ))));
            }
            let slept = host_time(
                &self.clock,
                unless_cancelled(&self.ctx.cancel, tokio::time::sleep(delay)),
            )
            .await;
            self.ctx.add_waited(delay);
            if slept.is_none() {
                return Ok(Err(Error::Cancelled));
            }
            delay = (delay * 3 / 2).min(Duration::from_secs(5));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_settings_keep_what_the_runbook_does_not_control() {
        let raw: InstanceAdvancedSettings = serde_json::from_value(serde_json::json!({
            "MountTarget": "", "DockerGraphPath": "/var/lib/containerd", "Unschedulable": 0,
            "Labels": [{"Name": "team", "Value": "db"}],
            "DataDisks": [{"DiskType": "CLOUD_PREMIUM", "FileSystem": "", "DiskSize": 100,
                           "AutoFormatAndMount": true, "MountTarget": "/data", "DiskPartition": ""}],
            "ExtraArgs": {"Kubelet": ["max-pods=61"], "KubeProxy": ["x=y"]},
            "GPUArgs": {"MIGEnable": false}, "DesiredPodNumber": 61
        }))
        .expect("valid settings");
        let mut wit = to_wit_settings(&raw);
        assert_eq!(wit.mount_target, None, "empty strings are absent");
        assert_eq!(wit.kubelet_extra_args, vec!["max-pods=61".to_owned()]);
        wit.unschedulable = true;
        wit.data_disks.clear();
        let merged = merge_settings(&raw, &wit);
        assert_eq!(merged.unschedulable, Some(1));
        assert_eq!(merged.data_disks, Some(vec![]));
        assert_eq!(merged.gpu_args, raw.gpu_args, "GPUArgs kept");
        assert_eq!(
            merged.extra_args,
            Some(serde_json::json!({"Kubelet": ["max-pods=61"], "KubeProxy": ["x=y"]}))
        );
        assert_eq!(merged.labels.as_ref().map(Vec::len), Some(1));
    }

    #[test]
    fn throttling_and_not_found_are_told_apart() {
        let api = |code: &str| TkeError::Api {
            action: "DeleteClusterInstances",
            code: code.into(),
            message: "m".into(),
            request_id: "r".into(),
        };
        assert!(matches!(
            wit_error(&api("RequestLimitExceeded")),
            Error::Throttled(_)
        ));
        assert!(matches!(
            wit_error(&api("InvalidParameter.ClusterNotFound")),
            Error::NotFound(_)
        ));
        assert!(matches!(
            wit_error(&api("InvalidParameter")),
            Error::Invalid(_)
        ));
        assert!(matches!(wit_error(&api("FailedOperation")), Error::Api(_)));
        assert!(is_throttled(&api("RequestLimitExceeded.UinLimitExceeded")));
    }
}

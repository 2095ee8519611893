//! A small simulated TKE cluster behind the [`Host`] trait: nodes, pods with PDBs that refuse
//! evictions for a while (or for ever), TKE instances in or out of the cluster, a journal, a
//! clock that only moves when the runbook waits, and a scripted sequence of add outcomes.
//!
//! Every call is recorded in order as a short text (`cordon 10.0.0.1`, `evict default/web-1`,
//! `put node/10.0.0.1/step=cordoned`, ...), so tests state the procedure as the sequence of calls.
//! `crash_after` simulates the process dying right after a given call: every later call fails,
//! and `restart` brings the "new process" up on the same cluster, TKE and journal.

use std::collections::{BTreeMap, VecDeque};

use crate::bindings::tke::recycle::types::{
    LabelSelector, Pdb, PodPhase, Resources, UnhealthyPodEvictionPolicy, WorkloadKind, WorkloadRef,
};
use crate::host::{
    AddOutcome, AddRequest, AdvancedSettings, ClusterInstance, CoveringPdb, DataDisk,
    EvictionOutcome, Finding, Host, InstanceCapture, JournalError, Label, Level, Node, NodeSummary,
    NodeTable, ObjectRef, OpsError, Phase, Pod, PodKey, Progress, Severity, Taint, TaintEffect,
    TkeError,
};

/// The target node of most tests.
pub const NODE: &str = "10.0.0.1";
/// Its instance.
pub const INSTANCE: &str = "ins-target1";
/// A second target.
pub const NODE2: &str = "10.0.0.2";
/// Its instance.
pub const INSTANCE2: &str = "ins-target2";
/// A node that stays (not a target).
pub const OTHER: &str = "10.0.0.9";

/// Where a pod is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodState {
    /// Running on its node.
    Running,
    /// Evicted or deleted, terminating.
    Terminating,
    /// Gone.
    Gone,
}

/// A pod and how it answers evictions.
#[derive(Debug, Clone)]
pub struct FakePod {
    /// The pod.
    pub pod: Pod,
    /// The PDB covering it.
    pub pdb: Option<String>,
    /// How many eviction requests its PDB still refuses (`u32::MAX`: for ever).
    pub blocked_for: u32,
    /// It matches two PDBs.
    pub multiple_pdbs: bool,
    /// Once terminating it never goes.
    pub stuck: bool,
    /// Its state.
    pub state: PodState,
}

/// What the next `add-existing-instance` does.
#[derive(Debug, Clone)]
pub enum AddScript {
    /// Accepted; the instance is in the cluster.
    Accept,
    /// TKE refuses with this reason; nothing changes.
    Fail(String),
    /// TKE times out, but the add went through.
    TimedOutButAdded,
    /// TKE times out and the add did not happen.
    TimedOutNotAdded,
    /// No answer, but the add went through.
    TransportButAdded,
    /// The request is refused as invalid.
    Invalid(String),
}

/// A TKE instance.
#[derive(Debug, Clone)]
pub struct FakeInstance {
    /// What `capture-instance` answers.
    pub capture: InstanceCapture,
    /// In the cluster now.
    pub in_cluster: bool,
    /// The host journaled a capture of it in this run.
    pub captured: bool,
    /// The settings of the last add.
    pub added_with: Option<AdvancedSettings>,
}

/// The simulated host.
#[derive(Debug, Default)]
pub struct FakeHost {
    /// Every call, in order.
    pub calls: Vec<String>,
    /// Every progress report, in order.
    pub reports: Vec<Progress>,
    /// The journal.
    pub journal: BTreeMap<String, String>,
    /// Milliseconds since the run started.
    pub clock_ms: u64,
    /// Nodes by name.
    pub nodes: BTreeMap<String, Node>,
    /// Pods.
    pub pods: Vec<FakePod>,
    /// TKE instances by ID.
    pub instances: BTreeMap<String, FakeInstance>,
    /// Outcomes of the next adds (then `Accept`).
    pub add_script: VecDeque<AddScript>,
    /// Pre-check findings per node.
    pub pre_findings: BTreeMap<String, Vec<Finding>>,
    /// Post-check findings of the next rounds (then none).
    pub post_findings: VecDeque<Vec<Finding>>,
    /// What `confirm` answers.
    pub confirm_answer: bool,
    /// The first call starting with this returns `cancelled`.
    pub cancel_on: Option<String>,
    /// After the first call starting with this, every call fails (the process died).
    pub crash_after: Option<String>,
    /// The process died.
    pub crashed: bool,
    /// A dry run: every mutating call is refused.
    pub dry_run: bool,
    /// An add was asked for an instance already in the cluster.
    pub double_add: bool,
}

enum Gate {
    Go,
    Cancel,
    Dead,
}

fn label(key: &str, value: &str) -> Label {
    Label {
        key: key.into(),
        value: value.into(),
    }
}

fn no_resources() -> Resources {
    Resources {
        cpu_millis: 0,
        memory_bytes: 0,
        pods: 0,
        ephemeral_storage_bytes: 0,
        extended: vec![],
    }
}

/// A taint.
pub fn taint(key: &str, value: &str, effect: TaintEffect) -> Taint {
    Taint {
        key: key.into(),
        value: value.into(),
        effect,
    }
}

/// A finding of a policy.
pub fn finding(code: &str, severity: Severity) -> Finding {
    Finding {
        policy: code.split('.').next().unwrap_or("policy").into(),
        code: code.into(),
        severity,
        message: format!("{code} says so"),
        subject: ObjectRef {
            kind: "Node".into(),
            namespace: None,
            name: NODE.into(),
        },
        remedy: None,
    }
}

/// A TKE node as the cluster has it: managed labels, one label TKE's settings put there, the
/// operator's own label and taint.
pub fn tke_node(name: &str, instance: &str) -> Node {
    Node {
        name: name.into(),
        instance_id: Some(instance.into()),
        internal_ip: Some(name.into()),
        labels: vec![
            label("kubernetes.io/hostname", name),
            label("cloud.tencent.com/node-instance-id", instance),
            label("node.kubernetes.io/instance-type", "S5.MEDIUM4"),
            label("topology.kubernetes.io/zone", "100003"),
            label("tke.cloud.tencent.com/nodepool-id", "np-1"),
            label("pool", "general"),
            label("team", "payments"),
        ],
        taints: vec![taint("dedicated", "payments", TaintEffect::NoSchedule)],
        unschedulable: false,
        ready: true,
        allocatable: no_resources(),
    }
}

/// The capture TKE and CVM give for a node's instance.
pub fn tke_capture(name: &str, instance: &str) -> InstanceCapture {
    InstanceCapture {
        instance: ClusterInstance {
            instance_id: instance.into(),
            state: "running".into(),
            failed_reason: None,
            lan_ip: Some(name.into()),
            node_pool_id: Some("np-1".into()),
            advanced_settings: AdvancedSettings {
                mount_target: Some("/data".into()),
                docker_graph_path: Some("/var/lib/containerd".into()),
                user_script: None,
                pre_start_user_script: None,
                unschedulable: false,
                labels: vec![label("pool", "general")],
                taints: vec![],
                data_disks: vec![
                    DataDisk {
                        disk_type: Some("CLOUD_PREMIUM".into()),
                        file_system: Some("ext4".into()),
                        disk_size: Some(100),
                        auto_format_and_mount: true,
                        mount_target: Some("/data".into()),
                        disk_partition: Some("/dev/vdb".into()),
                    },
                    DataDisk {
                        disk_type: Some("CLOUD_SSD".into()),
                        file_system: Some("xfs".into()),
                        disk_size: Some(200),
                        auto_format_and_mount: true,
                        mount_target: Some("/logs".into()),
                        disk_partition: Some("/dev/vdc".into()),
                    },
                ],
                kubelet_extra_args: vec!["max-pods=61".into()],
                desired_pod_number: Some(61),
            },
        },
        security_group_ids: vec!["sg-first".into(), "sg-second".into()],
        login_key_ids: vec!["skey-captured1".into()],
        charge_type: Some("POSTPAID_BY_HOUR".into()),
        instance_name: Some(format!("node-{instance}")),
        container_runtime: "containerd".into(),
        node_name_type: "lan-ip".into(),
    }
}

/// A running pod owned by `owner` (kind, name) on `node`.
pub fn pod(node: &str, namespace: &str, name: &str, owner: Option<(WorkloadKind, &str)>) -> Pod {
    Pod {
        namespace: namespace.into(),
        name: name.into(),
        uid: format!("uid-{name}"),
        node_name: Some(node.into()),
        phase: PodPhase::Running,
        ready: true,
        terminating: false,
        labels: vec![label("app", name)],
        owner: owner.map(|(kind, name)| WorkloadRef {
            kind,
            name: name.into(),
        }),
        mirror: false,
        priority: 0,
        requests: no_resources(),
        node_selector: vec![],
        required_node_affinity: vec![],
        tolerations: vec![],
        required_anti_affinity: vec![],
        required_affinity: None,
        topology_spread: None,
        preempts: None,
        volumes: vec![],
        termination_grace_seconds: 30,
    }
}

impl FakeHost {
    /// Two targets (10.0.0.1, 10.0.0.2) and one node that stays, all Ready; on the first target
    /// a Deployment pod under PDB `web-pdb` and a StatefulSet pod; on the second one pod.
    pub fn cluster() -> FakeHost {
        let mut fake = FakeHost::default();
        for (name, instance) in [(NODE, INSTANCE), (NODE2, INSTANCE2)] {
            fake.nodes.insert(name.into(), tke_node(name, instance));
            fake.instances.insert(
                instance.into(),
                FakeInstance {
                    capture: tke_capture(name, instance),
                    in_cluster: true,
                    captured: false,
                    added_with: None,
                },
            );
        }
        let mut other = tke_node(OTHER, "ins-other");
        other.taints.clear();
        fake.nodes.insert(OTHER.into(), other);
        fake.add_pod(
            pod(
                NODE,
                "default",
                "web-1",
                Some((WorkloadKind::Deployment, "web")),
            ),
            Some("web-pdb"),
        );
        fake.add_pod(
            pod(
                NODE,
                "default",
                "db-0",
                Some((WorkloadKind::StatefulSet, "db")),
            ),
            None,
        );
        fake.add_pod(
            pod(
                NODE2,
                "default",
                "web-2",
                Some((WorkloadKind::Deployment, "web")),
            ),
            Some("web-pdb"),
        );
        fake
    }

    /// Add a running pod.
    pub fn add_pod(&mut self, pod: Pod, pdb: Option<&str>) -> &mut FakePod {
        self.pods.push(FakePod {
            pod,
            pdb: pdb.map(str::to_owned),
            blocked_for: 0,
            multiple_pdbs: false,
            stuck: false,
            state: PodState::Running,
        });
        let last = self.pods.len() - 1;
        &mut self.pods[last]
    }

    /// The pod named `name`.
    pub fn pod_mut(&mut self, name: &str) -> &mut FakePod {
        let i = self
            .pods
            .iter()
            .position(|p| p.pod.name == name)
            .unwrap_or_else(|| panic!("no pod {name}"));
        &mut self.pods[i]
    }

    /// The process comes back: calls work again, the state is kept.
    pub fn restart(&mut self) {
        self.crashed = false;
        self.crash_after = None;
        self.cancel_on = None;
    }

    /// Calls starting with `prefix`.
    pub fn calls_starting(&self, prefix: &str) -> Vec<String> {
        self.calls
            .iter()
            .filter(|c| c.starts_with(prefix))
            .cloned()
            .collect()
    }

    /// The calls that change something (cluster, TKE or journal).
    pub fn mutating_calls(&self) -> Vec<String> {
        const MUTATING: [&str; 8] = [
            "cordon ",
            "uncordon ",
            "evict ",
            "delete ",
            "set-node-metadata ",
            "remove ",
            "add ",
            "put ",
        ];
        self.calls
            .iter()
            .filter(|c| MUTATING.iter().any(|m| c.starts_with(m)))
            .cloned()
            .collect()
    }

    /// The report steps for `node`, in order.
    pub fn report_steps(&self, node: &str) -> Vec<String> {
        self.reports
            .iter()
            .filter(|r| r.node == node)
            .map(|r| r.step.clone())
            .collect()
    }

    /// The journaled step of `node`.
    pub fn step(&self, node: &str) -> Option<&str> {
        self.journal
            .get(&format!("node/{node}/step"))
            .map(String::as_str)
    }

    fn call(&mut self, text: String) -> Gate {
        let gate = if self.crashed {
            Gate::Dead
        } else if self
            .cancel_on
            .as_deref()
            .is_some_and(|c| text.starts_with(c))
        {
            Gate::Cancel
        } else {
            Gate::Go
        };
        if !self.crashed
            && self
                .crash_after
                .as_deref()
                .is_some_and(|c| text.starts_with(c))
        {
            self.crashed = true;
        }
        self.calls.push(text);
        gate
    }

    fn ops_gate(&mut self, text: String) -> Result<(), OpsError> {
        match self.call(text) {
            Gate::Go => Ok(()),
            Gate::Cancel | Gate::Dead => Err(OpsError::Cancelled),
        }
    }

    fn mutating_ops_gate(&mut self, text: String) -> Result<(), OpsError> {
        self.ops_gate(text)?;
        if self.dry_run {
            return Err(OpsError::Refused("dry run".into()));
        }
        Ok(())
    }

    fn tke_gate(&mut self, text: String) -> Result<(), TkeError> {
        match self.call(text) {
            Gate::Go => Ok(()),
            Gate::Cancel | Gate::Dead => Err(TkeError::Cancelled),
        }
    }

    fn find_pod(&mut self, key: &PodKey) -> Option<&mut FakePod> {
        self.pods
            .iter_mut()
            .find(|p| p.pod.namespace == key.namespace && p.pod.name == key.name)
    }

    /// The node TKE brings back after an add: managed labels plus the settings'.
    fn recreate_node(&mut self, id: &str) {
        let Some(instance) = self.instances.get(id) else {
            return;
        };
        let Some(settings) = instance.added_with.clone() else {
            return;
        };
        let name = instance.capture.instance.lan_ip.clone().unwrap_or_default();
        if self.nodes.contains_key(&name) {
            return;
        }
        let mut labels = vec![
            label("kubernetes.io/hostname", &name),
            label("cloud.tencent.com/node-instance-id", id),
            label("node.kubernetes.io/instance-type", "S5.MEDIUM4"),
        ];
        labels.extend(settings.labels.iter().cloned());
        self.nodes.insert(
            name.clone(),
            Node {
                name: name.clone(),
                instance_id: Some(id.into()),
                internal_ip: Some(name),
                labels,
                taints: settings.taints.clone(),
                unschedulable: settings.unschedulable,
                ready: true,
                allocatable: no_resources(),
            },
        );
    }
}

fn key_text(key: &PodKey) -> String {
    format!("{}/{}", key.namespace, key.name)
}

impl Host for FakeHost {
    fn cordon(&mut self, node: &str) -> Result<(), OpsError> {
        self.mutating_ops_gate(format!("cordon {node}"))?;
        let n = self
            .nodes
            .get_mut(node)
            .ok_or_else(|| OpsError::NotFound(format!("node {node}")))?;
        n.unschedulable = true;
        Ok(())
    }

    fn uncordon(&mut self, node: &str) -> Result<(), OpsError> {
        self.mutating_ops_gate(format!("uncordon {node}"))?;
        let n = self
            .nodes
            .get_mut(node)
            .ok_or_else(|| OpsError::NotFound(format!("node {node}")))?;
        n.unschedulable = false;
        Ok(())
    }

    fn refresh_snapshot(&mut self) -> Result<(), OpsError> {
        self.ops_gate("refresh".into())
    }

    fn pods_to_evict(&mut self, node: &str) -> Result<Vec<Pod>, OpsError> {
        self.ops_gate(format!("pods-to-evict {node}"))?;
        Ok(self
            .pods
            .iter()
            .filter(|p| p.state == PodState::Running && p.pod.node_name.as_deref() == Some(node))
            .map(|p| p.pod.clone())
            .collect())
    }

    fn evict_pods(&mut self, pods: &[PodKey]) -> Vec<Result<EvictionOutcome, OpsError>> {
        let text = format!(
            "evict {}",
            pods.iter().map(key_text).collect::<Vec<_>>().join(",")
        );
        if let Err(e) = self.mutating_ops_gate(text) {
            return pods.iter().map(|_| Err(e.clone())).collect();
        }
        pods.iter()
            .map(|key| {
                let Some(p) = self.find_pod(key) else {
                    return Ok(EvictionOutcome::Gone);
                };
                if p.pod.uid != key.uid {
                    return Ok(EvictionOutcome::Replaced);
                }
                if p.state != PodState::Running {
                    return Ok(EvictionOutcome::Gone);
                }
                if p.multiple_pdbs {
                    return Ok(EvictionOutcome::MultiplePdbs);
                }
                if p.blocked_for > 0 {
                    if p.blocked_for != u32::MAX {
                        p.blocked_for -= 1;
                    }
                    return Ok(EvictionOutcome::BlockedByPdb(
                        p.pdb.clone().unwrap_or_else(|| "unknown".into()),
                    ));
                }
                p.state = PodState::Terminating;
                Ok(EvictionOutcome::Evicted)
            })
            .collect()
    }

    fn delete_pods(&mut self, pods: &[PodKey]) -> Vec<Result<(), OpsError>> {
        let text = format!(
            "delete {}",
            pods.iter().map(key_text).collect::<Vec<_>>().join(",")
        );
        if let Err(e) = self.mutating_ops_gate(text) {
            return pods.iter().map(|_| Err(e.clone())).collect();
        }
        pods.iter()
            .map(|key| {
                if let Some(p) = self.find_pod(key) {
                    p.state = PodState::Terminating;
                }
                Ok(())
            })
            .collect()
    }

    fn wait_pods_gone(
        &mut self,
        node: &str,
        pods: &[PodKey],
        timeout_seconds: u64,
    ) -> Result<Vec<PodKey>, OpsError> {
        self.ops_gate(format!(
            "wait-pods-gone {node} {} {timeout_seconds}",
            pods.iter().map(key_text).collect::<Vec<_>>().join(",")
        ))?;
        let mut still = Vec::new();
        for key in pods {
            match self.find_pod(key) {
                Some(p) if p.state == PodState::Terminating && !p.stuck => p.state = PodState::Gone,
                Some(p) if p.state != PodState::Gone => still.push(key.clone()),
                _ => {}
            }
        }
        if !still.is_empty() {
            self.clock_ms += timeout_seconds * 1000;
        }
        Ok(still)
    }

    fn wait_node_ready(&mut self, node: &str, timeout_seconds: u64) -> Result<(), OpsError> {
        self.ops_gate(format!("wait-node-ready {node} {timeout_seconds}"))?;
        let id = self
            .instances
            .iter()
            .find(|(_, i)| i.in_cluster && i.capture.instance.lan_ip.as_deref() == Some(node))
            .map(|(id, _)| id.clone());
        if let Some(id) = id {
            self.recreate_node(&id);
        }
        match self.nodes.get(node) {
            Some(n) if n.ready => Ok(()),
            _ => {
                self.clock_ms += timeout_seconds * 1000;
                Err(OpsError::TimedOut(format!("node {node} is not Ready")))
            }
        }
    }

    fn wait_node_gone(&mut self, node: &str, timeout_seconds: u64) -> Result<(), OpsError> {
        self.ops_gate(format!("wait-node-gone {node} {timeout_seconds}"))?;
        if self.nodes.contains_key(node) {
            self.clock_ms += timeout_seconds * 1000;
            return Err(OpsError::TimedOut(format!("node {node} still exists")));
        }
        Ok(())
    }

    fn set_node_metadata(
        &mut self,
        node: &str,
        labels: &[Label],
        taints: &[Taint],
    ) -> Result<(), OpsError> {
        self.mutating_ops_gate(format!(
            "set-node-metadata {node} labels=[{}] taints=[{}]",
            labels
                .iter()
                .map(crate::capture::label_text)
                .collect::<Vec<_>>()
                .join(","),
            taints
                .iter()
                .map(crate::capture::taint_text)
                .collect::<Vec<_>>()
                .join(",")
        ))?;
        let n = self
            .nodes
            .get_mut(node)
            .ok_or_else(|| OpsError::NotFound(format!("node {node}")))?;
        for l in labels {
            n.labels.retain(|x| x.key != l.key);
            n.labels.push(l.clone());
        }
        for t in taints {
            if !n
                .taints
                .iter()
                .any(|x| x.key == t.key && x.effect == t.effect)
            {
                n.taints.push(t.clone());
            }
        }
        Ok(())
    }

    fn sleep(&mut self, seconds: u64) -> Result<(), OpsError> {
        self.ops_gate(format!("sleep {seconds}"))?;
        self.clock_ms += seconds * 1000;
        Ok(())
    }

    fn now_ms(&mut self) -> u64 {
        self.clock_ms
    }

    fn run_policies(
        &mut self,
        phase: Phase,
        targets: &[String],
        affected: &[ObjectRef],
    ) -> Result<Vec<Finding>, OpsError> {
        let targets = targets.join(",");
        match phase {
            Phase::Pre => {
                self.ops_gate(format!("policies pre {targets}"))?;
                Ok(self.pre_findings.get(&targets).cloned().unwrap_or_default())
            }
            Phase::Post => {
                self.ops_gate(format!(
                    "policies post {targets} affected={}",
                    affected
                        .iter()
                        .map(crate::capture::ref_text)
                        .collect::<Vec<_>>()
                        .join(",")
                ))?;
                Ok(self.post_findings.pop_front().unwrap_or_default())
            }
        }
    }

    fn confirm(&mut self, question: &str) -> Result<bool, OpsError> {
        self.ops_gate(format!("confirm {question}"))?;
        Ok(self.confirm_answer)
    }

    fn report(&mut self, event: &Progress) {
        self.calls
            .push(format!("report {} {}", event.node, event.step));
        self.reports.push(event.clone());
    }

    fn describe_instance(
        &mut self,
        instance_id: &str,
    ) -> Result<Option<ClusterInstance>, TkeError> {
        self.tke_gate(format!("describe {instance_id}"))?;
        Ok(self
            .instances
            .get(instance_id)
            .filter(|i| i.in_cluster)
            .map(|i| i.capture.instance.clone()))
    }

    fn capture_instance(&mut self, instance_id: &str) -> Result<InstanceCapture, TkeError> {
        self.tke_gate(format!("capture {instance_id}"))?;
        match self.instances.get_mut(instance_id) {
            Some(i) if i.in_cluster || i.captured => {
                i.captured = true;
                Ok(i.capture.clone())
            }
            _ => Err(TkeError::NotFound(format!("instance {instance_id}"))),
        }
    }

    fn remove_instance_keep_vm(&mut self, instance_id: &str) -> Result<(), TkeError> {
        self.tke_gate(format!("remove {instance_id}"))?;
        if self.dry_run {
            return Err(TkeError::Refused("dry run".into()));
        }
        let Some(instance) = self.instances.get_mut(instance_id) else {
            return Err(TkeError::NotFound(instance_id.into()));
        };
        if !instance.in_cluster {
            return Err(TkeError::NotFound(instance_id.into()));
        }
        instance.in_cluster = false;
        let name = instance.capture.instance.lan_ip.clone().unwrap_or_default();
        self.nodes.remove(&name);
        for p in &mut self.pods {
            if p.pod.node_name.as_deref() == Some(name.as_str()) {
                p.state = PodState::Gone;
            }
        }
        Ok(())
    }

    fn add_existing_instance(&mut self, request: &AddRequest) -> Result<AddOutcome, TkeError> {
        self.tke_gate(format!("add {}", request.instance_id))?;
        if self.dry_run {
            return Err(TkeError::Refused("dry run".into()));
        }
        let script = self.add_script.pop_front().unwrap_or(AddScript::Accept);
        let Some(instance) = self.instances.get_mut(&request.instance_id) else {
            return Err(TkeError::NotFound(request.instance_id.clone()));
        };
        if instance.in_cluster {
            self.double_add = true;
            return Err(TkeError::Refused("already in the cluster".into()));
        }
        let mut added = || {
            instance.in_cluster = true;
            instance.added_with = Some(request.settings.clone());
        };
        match script {
            AddScript::Accept => {
                added();
                Ok(AddOutcome::Accepted)
            }
            AddScript::Fail(reason) => Ok(AddOutcome::Failed(reason)),
            AddScript::TimedOutButAdded => {
                added();
                Ok(AddOutcome::TimedOut)
            }
            AddScript::TimedOutNotAdded => Ok(AddOutcome::TimedOut),
            AddScript::TransportButAdded => {
                added();
                Err(TkeError::Transport("connection reset".into()))
            }
            AddScript::Invalid(reason) => Err(TkeError::Invalid(reason)),
        }
    }

    fn wait_instance_running(
        &mut self,
        instance_id: &str,
        timeout_seconds: u64,
    ) -> Result<(), TkeError> {
        self.tke_gate(format!(
            "wait-instance-running {instance_id} {timeout_seconds}"
        ))?;
        match self.instances.get(instance_id) {
            Some(i) if i.in_cluster => Ok(()),
            _ => Err(TkeError::Api(format!(
                "{instance_id} is not in the cluster"
            ))),
        }
    }

    fn journal_get(&mut self, key: &str) -> Result<Option<String>, JournalError> {
        match self.call(format!("get {key}")) {
            Gate::Go => Ok(self.journal.get(key).cloned()),
            Gate::Cancel | Gate::Dead => Err(JournalError::Storage("the process died".into())),
        }
    }

    fn journal_put(&mut self, key: &str, value: &str) -> Result<(), JournalError> {
        let text = if key.ends_with("/step") {
            format!("put {key}={value}")
        } else {
            format!("put {key}")
        };
        match self.call(text) {
            Gate::Go => {
                self.journal.insert(key.into(), value.into());
                Ok(())
            }
            Gate::Cancel | Gate::Dead => Err(JournalError::Storage("the process died".into())),
        }
    }

    fn node(&mut self, name: &str) -> Option<NodeSummary> {
        self.calls.push(format!("node {name}"));
        self.nodes.get(name).map(|n| NodeSummary {
            node: n.clone(),
            requested: no_resources(),
        })
    }

    fn nodes(&mut self) -> NodeTable {
        self.calls.push("nodes".into());
        let flags: Vec<(&str, u8)> = self
            .nodes
            .values()
            .map(|n| {
                (
                    n.name.as_str(),
                    u8::from(n.unschedulable) | (u8::from(n.ready) << 1),
                )
            })
            .collect();
        crate::nodes::tests::table(&flags)
    }

    fn pdbs_covering(&mut self, pods: &[ObjectRef]) -> Vec<CoveringPdb> {
        self.calls.push(format!("pdbs-covering {}", pods.len()));
        let mut by_pdb: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        for r in pods {
            if let Some(p) = self
                .pods
                .iter()
                .find(|p| Some(&p.pod.namespace) == r.namespace.as_ref() && p.pod.name == r.name)
                && let Some(pdb) = &p.pdb
            {
                by_pdb
                    .entry((p.pod.namespace.clone(), pdb.clone()))
                    .or_default()
                    .push(p.pod.name.clone());
            }
        }
        by_pdb
            .into_iter()
            .map(|((namespace, name), pods)| CoveringPdb {
                pdb: Pdb {
                    namespace,
                    name,
                    selector: LabelSelector {
                        match_labels: vec![],
                        match_expressions: vec![],
                    },
                    min_available: None,
                    max_unavailable: None,
                    disruptions_allowed: 1,
                    current_healthy: 2,
                    desired_healthy: 1,
                    expected_pods: 2,
                    unhealthy_pod_eviction_policy: UnhealthyPodEvictionPolicy::IfHealthyBudget,
                },
                pods,
            })
            .collect()
    }

    fn log(&mut self, _level: Level, _message: &str) {}
}

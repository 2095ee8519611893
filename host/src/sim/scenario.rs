//! Scenario files: the YAML model of a practice cluster (its nodes and their VMs, VMs outside the
//! cluster, Kubernetes manifests, timings and injected faults) and a generator for big clusters.
//!
//! This module only describes and validates; turning a scenario into objects and VMs is done by
//! `Sim::start`.

use super::kube_version::{KubeVersion, VersionError};
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Why a scenario could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("failed to read scenario {path}")]
    ReadFailed {
        /// Path.
        path: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The YAML does not match the scenario model.
    #[error("failed to parse scenario")]
    ParseFailed(#[source] serde_yaml::Error),
    /// A `--generate` spec is not `nodes=N,pods=M`.
    #[error("bad generate spec {0:?}: expected nodes=N,pods=M")]
    BadGenerateSpec(String),
    /// A semantic problem (duplicate node, manifest without kind...).
    #[error("invalid scenario: {0}")]
    Invalid(String),
}

/// A practice cluster.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Scenario {
    /// A name for humans.
    #[serde(default)]
    pub name: Option<String>,
    /// Default clock speed (simulated seconds per real second).
    #[serde(default)]
    pub speed: Option<f64>,
    /// The TKE cluster.
    #[serde(default)]
    pub cluster: ClusterSpec,
    /// API credentials the sim accepts.
    #[serde(default)]
    pub credentials: Credentials,
    /// Simulated durations.
    #[serde(default)]
    pub timing: Timing,
    /// Worker nodes (each with its VM).
    #[serde(default)]
    pub nodes: Vec<NodeSpec>,
    /// VMs that are not in the cluster.
    #[serde(default)]
    pub vms: Vec<VmSpec>,
    /// Kubernetes manifests (Deployments, StatefulSets, DaemonSets, PDBs, PVs, PVCs, Pods...).
    #[serde(default)]
    pub objects: Vec<Value>,
    /// Injected faults.
    #[serde(default)]
    pub faults: Faults,
    /// Generate a big cluster on top of what is listed.
    #[serde(default)]
    pub generate: Option<Generate>,
}

/// The TKE cluster's identity.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ClusterSpec {
    /// Cluster ID.
    pub id: String,
    /// Cluster name.
    pub name: String,
    /// The Kubernetes version played (`1.20` to `1.34`, as `1.x` or `1.x.y`): `/version`, and
    /// which API versions the practice cluster serves (see [`KubeVersion`]). Also accepted as
    /// `kubernetesVersion`.
    #[serde(alias = "kubernetesVersion", alias = "kubernetes_version")]
    pub version: String,
    /// Region, e.g. ap-guangzhou.
    pub region: String,
    /// Zone name, e.g. ap-guangzhou-3.
    pub zone: String,
    /// Numeric zone ID used in providerID and zone labels.
    pub zone_id: String,
    /// Container runtime.
    pub container_runtime: String,
    /// Security groups that exist in the account besides those the VMs are in: AddExistedInstances
    /// accepts these (and any group a VM of the scenario is in) and refuses every other.
    pub security_groups: Vec<String>,
    /// The group TKE binds when AddExistedInstances is given no SecurityGroupIds (the project's
    /// default group: usually not the one the node was in).
    pub default_security_group_id: String,
    /// The cluster's resource tags (`DescribeClusters` filters on them: `Tags`, `tag-key`,
    /// `tag-value`).
    pub tags: std::collections::BTreeMap<String, String>,
}

impl ClusterSpec {
    /// The Kubernetes version played, parsed.
    pub fn kube_version(&self) -> Result<KubeVersion, VersionError> {
        KubeVersion::parse(&self.version)
    }
}

impl Default for ClusterSpec {
    fn default() -> Self {
        ClusterSpec {
            id: "cls-sim00001".into(),
            name: "practice".into(),
            version: "1.32.2".into(),
            region: "ap-guangzhou".into(),
            zone: "ap-guangzhou-3".into(),
            zone_id: "100003".into(),
            container_runtime: "containerd".into(),
            security_groups: vec![],
            default_security_group_id: "sg-default0".into(),
            tags: std::collections::BTreeMap::new(),
        }
    }
}

/// Credentials the sim accepts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Credentials {
    /// Tencent Cloud SecretId.
    pub secret_id: String,
    /// Tencent Cloud SecretKey.
    pub secret_key: String,
    /// Kubernetes bearer token.
    pub token: String,
}

impl Default for Credentials {
    fn default() -> Self {
        Credentials {
            secret_id: "AKIDsimPRACTICE0000000000000000000000".into(),
            secret_key: "simPracticeSecretKey000000000000".into(),
            token: "sim-practice-token".into(),
        }
    }
}

/// Simulated durations in seconds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Timing {
    /// Image pull per pod; pulls on one node run one at a time unless `parallelImagePulls`.
    pub image_pull_seconds: f64,
    /// From containers started to Ready.
    pub ready_seconds: f64,
    /// How long containers take to exit after SIGTERM (capped by the grace period).
    pub shutdown_seconds: f64,
    /// Pull images in parallel (kubelet serializeImagePulls=false).
    pub parallel_image_pulls: bool,
    /// From AddExistedInstances to the Node object reappearing.
    pub add_instance_seconds: f64,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            image_pull_seconds: 2.0,
            ready_seconds: 1.0,
            shutdown_seconds: 2.0,
            parallel_image_pulls: false,
            add_instance_seconds: 60.0,
        }
    }
}

/// A data disk of a VM.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DiskSpec {
    /// Disk ID (generated when absent).
    #[serde(default)]
    pub disk_id: Option<String>,
    /// Current file system; empty or absent means unformatted.
    #[serde(default)]
    pub file_system: Option<String>,
    /// Where it is mounted now.
    #[serde(default)]
    pub mount_target: Option<String>,
    /// Size in GB.
    #[serde(default = "default_disk_size")]
    pub size_gb: u64,
    /// Block device (TKE's DiskPartition), default `/dev/vdb`, `/dev/vdc`... in list order.
    #[serde(default)]
    pub device: Option<String>,
}

fn default_disk_size() -> u64 {
    100
}

/// A taint in scenario form.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TaintSpec {
    /// Key.
    pub key: String,
    /// Value.
    #[serde(default)]
    pub value: String,
    /// NoSchedule, PreferNoSchedule or NoExecute.
    pub effect: String,
}

/// A worker node and its VM.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeSpec {
    /// LAN IP; also the node name (TKE lan-ip naming) unless `name` is set.
    pub lan_ip: String,
    /// Node name override (hostname naming).
    #[serde(default)]
    pub name: Option<String>,
    /// Instance ID (generated from the IP when absent).
    #[serde(default)]
    pub instance_id: Option<String>,
    /// CVM instance type.
    #[serde(default = "default_instance_type")]
    pub instance_type: String,
    /// Allocatable CPU.
    #[serde(default = "default_cpu")]
    pub cpu: String,
    /// Allocatable memory.
    #[serde(default = "default_memory")]
    pub memory: String,
    /// Allocatable pod slots.
    #[serde(default = "default_pods")]
    pub pods: u32,
    /// Extended allocatable resources, e.g. nvidia.com/gpu: "1".
    #[serde(default)]
    pub extended: BTreeMap<String, String>,
    /// Labels TKE set when the node was added (in its InstanceAdvancedSettings) and on the Node.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Taints TKE set when the node was added (in its InstanceAdvancedSettings) and on the Node.
    #[serde(default)]
    pub taints: Vec<TaintSpec>,
    /// Labels an operator added by hand (`kubectl label`): on the Node only, so TKE does not put
    /// them back when the VM is re-added.
    #[serde(default)]
    pub node_only_labels: BTreeMap<String, String>,
    /// Taints an operator added by hand (`kubectl taint`): on the Node only.
    #[serde(default)]
    pub node_only_taints: Vec<TaintSpec>,
    /// Cordoned at start.
    #[serde(default)]
    pub unschedulable: bool,
    /// PREPAID, POSTPAID_BY_HOUR, SPOTPAID...
    #[serde(default = "default_charge")]
    pub charge_type: String,
    /// Data disks.
    #[serde(default)]
    pub data_disks: Vec<DiskSpec>,
    /// Node pool, if any.
    #[serde(default)]
    pub node_pool_id: Option<String>,
    /// Security groups of the VM.
    #[serde(default = "default_security_groups")]
    pub security_group_ids: Vec<String>,
    /// SSH key pairs of the VM (CVM LoginSettings.KeyIds).
    #[serde(default = "default_key_ids")]
    pub key_ids: Vec<String>,
}

fn default_instance_type() -> String {
    "S5.LARGE8".into()
}
fn default_cpu() -> String {
    "3920m".into()
}
fn default_memory() -> String {
    "14Gi".into()
}
fn default_pods() -> u32 {
    61
}
fn default_charge() -> String {
    "POSTPAID_BY_HOUR".into()
}
/// The security group of every scenario VM that does not name its own.
pub fn default_security_groups() -> Vec<String> {
    vec!["sg-sim00001".into()]
}
/// The key pair of every scenario VM that does not name its own.
pub fn default_key_ids() -> Vec<String> {
    vec!["skey-sim00001".into()]
}

impl NodeSpec {
    /// The node name.
    pub fn node_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.lan_ip)
    }

    /// The instance ID, derived from the LAN IP when not given.
    pub fn instance_id(&self) -> String {
        self.instance_id
            .clone()
            .unwrap_or_else(|| instance_id_for(&self.lan_ip))
    }
}

/// A deterministic `ins-xxxxxxxx` for an IP.
pub fn instance_id_for(ip: &str) -> String {
    let h = crate::tke::sign::sha256_hex(ip.as_bytes());
    format!("ins-{}", &h[..8])
}

/// A VM outside the cluster.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VmSpec {
    /// Instance ID.
    pub instance_id: String,
    /// LAN IP.
    pub lan_ip: String,
    /// Instance type.
    #[serde(default = "default_instance_type")]
    pub instance_type: String,
    /// Charge type.
    #[serde(default = "default_charge")]
    pub charge_type: String,
    /// RUNNING, STOPPED...
    #[serde(default = "default_state")]
    pub state: String,
    /// Data disks.
    #[serde(default)]
    pub data_disks: Vec<DiskSpec>,
    /// Security groups.
    #[serde(default = "default_security_groups")]
    pub security_group_ids: Vec<String>,
    /// SSH key pairs.
    #[serde(default = "default_key_ids")]
    pub key_ids: Vec<String>,
}

fn default_state() -> String {
    "RUNNING".into()
}

/// Injected faults. Ratios are applied deterministically, not at random, so that a test sees
/// the same faults on every run: see [`nth_is_faulted`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Faults {
    /// Share (0..1) of TKE/CVM calls, counted per action, that answer RequestLimitExceeded.
    #[serde(alias = "tkeThrottleRatio")]
    pub tke_throttle_rate: f64,
    /// Requests per second per action before RequestLimitExceeded (real TKE: 20).
    pub tke_rate_limit: Option<u32>,
    /// The first N AddExistedInstances calls fail for every instance.
    pub add_fail_times: u32,
    /// Instances whose add answers TimeoutInstanceIds (the add still happens).
    pub add_timeout_instance_ids: Vec<String>,
    /// Instances whose add answers TimeoutInstanceIds and did not happen (the VM stays outside
    /// the cluster, not reinstalled).
    pub add_timeout_failed_instance_ids: Vec<String>,
    /// Share (0..1) of Kubernetes resource requests that answer 500 or 503.
    #[serde(alias = "apiServer5xxRatio")]
    pub api_server_5xx_rate: f64,
    /// Pods take their full grace period (plus this many seconds) to terminate.
    pub slow_termination_seconds: Option<f64>,
}

/// Whether the `k`-th call (1-based) of a stream is faulted under `ratio`: when
/// `floor(k * ratio) > floor((k - 1) * ratio)`. Exactly `floor(n * ratio)` of the first `n` calls
/// are faulted, evenly spread (0.3: the 4th, 7th, 10th...; 0.5: every second), the first call
/// goes through unless `ratio >= 1`, and the same sequence of calls always meets the same faults.
pub fn nth_is_faulted(k: u64, ratio: f64) -> bool {
    const PARTS: u64 = 1_000_000;
    if k == 0 || ratio.is_nan() || ratio <= 0.0 {
        return false;
    }
    if ratio >= 1.0 {
        return true;
    }
    let p = (ratio * PARTS as f64).round() as u64;
    let hits = |n: u64| (u128::from(n) * u128::from(p)) / u128::from(PARTS);
    hits(k) > hits(k - 1)
}

/// A generated big cluster.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Generate {
    /// Nodes.
    pub nodes: usize,
    /// Pods (spread over Deployments of 30 replicas, bound and Running at start).
    pub pods: usize,
}

impl Generate {
    /// Parse `nodes=5000,pods=150000`.
    pub fn parse(spec: &str) -> Result<Self, ScenarioError> {
        let mut g = Generate { nodes: 0, pods: 0 };
        for part in spec.split(',') {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| ScenarioError::BadGenerateSpec(spec.into()))?;
            let n: usize = v
                .trim()
                .parse()
                .map_err(|_| ScenarioError::BadGenerateSpec(spec.into()))?;
            match k.trim() {
                "nodes" => g.nodes = n,
                "pods" => g.pods = n,
                _ => return Err(ScenarioError::BadGenerateSpec(spec.into())),
            }
        }
        if g.nodes == 0 {
            return Err(ScenarioError::BadGenerateSpec(spec.into()));
        }
        Ok(g)
    }
}

impl Scenario {
    /// Parse YAML.
    pub fn from_yaml(text: &str) -> Result<Self, ScenarioError> {
        let s: Scenario = serde_yaml::from_str(text).map_err(ScenarioError::ParseFailed)?;
        s.validate()?;
        Ok(s)
    }

    /// Read and parse a file.
    pub fn from_file(path: &std::path::Path) -> Result<Self, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::ReadFailed {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_yaml(&text)
    }

    fn validate(&self) -> Result<(), ScenarioError> {
        let mut names = std::collections::HashSet::new();
        for n in &self.nodes {
            if !names.insert(n.node_name().to_owned()) {
                return Err(ScenarioError::Invalid(format!(
                    "node {} is listed twice",
                    n.node_name()
                )));
            }
            if let Some(k) = n
                .node_only_labels
                .keys()
                .find(|k| n.labels.contains_key(*k))
            {
                return Err(ScenarioError::Invalid(format!(
                    "node {}: label {k} is in both labels and nodeOnlyLabels",
                    n.node_name()
                )));
            }
        }
        for (name, r) in [
            ("tkeThrottleRate", self.faults.tke_throttle_rate),
            ("apiServer5xxRate", self.faults.api_server_5xx_rate),
        ] {
            if !(0.0..=1.0).contains(&r) {
                return Err(ScenarioError::Invalid(format!(
                    "faults.{name} is {r}: use a share between 0 and 1"
                )));
            }
        }
        KubeVersion::parse(&self.cluster.version)
            .map_err(|e| ScenarioError::Invalid(format!("cluster.version: {e}")))?;
        for (i, o) in self.objects.iter().enumerate() {
            let kind = o.get("kind").and_then(Value::as_str).unwrap_or("");
            let api = o.get("apiVersion").and_then(Value::as_str).unwrap_or("");
            if super::resource::Res::by_manifest_kind(api, kind).is_none() {
                return Err(ScenarioError::Invalid(format!(
                    "objects[{i}]: unsupported apiVersion/kind {api:?}/{kind:?}"
                )));
            }
        }
        Ok(())
    }

    /// Add a generated cluster: `g.nodes` nodes named 10.x.y.z are appended to `nodes`, and the
    /// returned iterator yields `g.pods` pods in Deployments of 30 replicas (with their
    /// ReplicaSets, already bound and Running) and a PDB per Deployment. The objects are produced
    /// lazily so that 150,000 pods never exist as JSON trees all at once.
    pub fn generate(&mut self, g: Generate) -> impl Iterator<Item = Value> + use<> {
        for i in 0..g.nodes {
            let ip = format!(
                "10.{}.{}.{}",
                100 + i / 62_500,
                (i / 250) % 250,
                i % 250 + 2
            );
            self.nodes.push(NodeSpec {
                lan_ip: ip,
                name: None,
                instance_id: Some(format!("ins-g{i:07}")),
                instance_type: default_instance_type(),
                cpu: "31900m".into(),
                memory: "120Gi".into(),
                pods: 110,
                extended: BTreeMap::new(),
                labels: BTreeMap::new(),
                taints: vec![],
                node_only_labels: BTreeMap::new(),
                node_only_taints: vec![],
                unschedulable: false,
                charge_type: if i % 3 == 0 {
                    "PREPAID".into()
                } else {
                    default_charge()
                },
                data_disks: vec![],
                node_pool_id: None,
                security_group_ids: default_security_groups(),
                key_ids: default_key_ids(),
            });
        }
        let node_names: Vec<String> = self
            .nodes
            .iter()
            .map(|n| n.node_name().to_owned())
            .collect();
        let per = 30usize;
        let deployments = if node_names.is_empty() {
            0
        } else {
            g.pods.div_ceil(per)
        };
        let now = super::clock::Clock::wall_rfc3339();
        (0..deployments).flat_map(move |d| {
            let placed = d * per;
            let replicas = per.min(g.pods - placed);
            generated_deployment(d, placed, replicas, &node_names, &now)
        })
    }
}

/// One generated Deployment with its ReplicaSet, PDB and Running pods.
fn generated_deployment(
    d: usize,
    placed: usize,
    replicas: usize,
    node_names: &[String],
    now: &str,
) -> Vec<Value> {
    let mut out = Vec::with_capacity(replicas + 3);
    let ns = format!("team-{}", d % 50);
    let name = format!("svc-{d}");
    let hash: String = format!("{d:010x}")
        .chars()
        .map(|c| {
            if c.is_ascii_digit() {
                (b'b' + (c as u8 - b'0')) as char
            } else {
                c
            }
        })
        .collect();
    let dep_uid = format!("00000000-0000-4000-8000-{:012}", d * 2);
    let rs_uid = format!("00000000-0000-4000-8000-{:012}", d * 2 + 1);
    let template = json!({
        "metadata": {"labels": {"app": name}},
        "spec": {"containers": [{"name": "app", "image": "registry.example.com/app:1",
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}],
            "terminationGracePeriodSeconds": 30}
    });
    out.push(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "uid": dep_uid},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}, "template": template},
        "status": {"replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas, "updatedReplicas": replicas, "observedGeneration": 1}
    }));
    let mut rs_template = template.clone();
    rs_template["metadata"]["labels"]["pod-template-hash"] = json!(hash);
    let rs_name = format!("{name}-{hash}");
    out.push(json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": rs_name, "namespace": ns, "uid": rs_uid,
            "labels": {"app": name, "pod-template-hash": hash},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name, "uid": dep_uid, "controller": true, "blockOwnerDeletion": true}]},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name, "pod-template-hash": hash}}, "template": rs_template},
        "status": {"replicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas, "fullyLabeledReplicas": replicas, "observedGeneration": 1}
    }));
    out.push(json!({
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": {"name": name, "namespace": ns},
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": name}}}
    }));
    for r in 0..replicas {
        let i = placed + r;
        let node = &node_names[i % node_names.len()];
        let mut spec = rs_template["spec"].clone();
        spec["nodeName"] = json!(node);
        out.push(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("{rs_name}-{r:05}"), "namespace": ns,
                "labels": {"app": name, "pod-template-hash": hash},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs_name, "uid": rs_uid, "controller": true, "blockOwnerDeletion": true}]},
            "spec": spec,
            "status": {"phase": "Running", "hostIP": node, "podIP": format!("172.16.{}.{}", i / 250 % 250, i % 250 + 2),
                "startTime": now,
                "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": now},
                               {"type": "PodScheduled", "status": "True", "lastTransitionTime": now}]}
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_spec_parses() {
        assert_eq!(
            Generate::parse("nodes=5000,pods=150000").expect("ok"),
            Generate {
                nodes: 5000,
                pods: 150000
            }
        );
        assert!(Generate::parse("nodes=x").is_err());
        assert!(Generate::parse("cats=1").is_err());
    }

    #[test]
    fn generated_cluster_has_the_requested_sizes() {
        let mut s = Scenario::default();
        let objects: Vec<Value> = s
            .generate(Generate {
                nodes: 10,
                pods: 95,
            })
            .collect();
        assert_eq!(s.nodes.len(), 10);
        let pods = objects.iter().filter(|o| o["kind"] == "Pod").count();
        assert_eq!(pods, 95);
        s.objects = objects;
        s.validate().expect("valid");
    }

    #[test]
    fn unknown_fields_are_rejected() {
        assert!(Scenario::from_yaml("nodes:\n- lanIp: 10.0.0.1\n  cpus: 4\n").is_err());
        let s = Scenario::from_yaml("nodes:\n- lanIp: 10.0.0.1\n").expect("ok");
        assert_eq!(s.nodes[0].node_name(), "10.0.0.1");
        assert!(s.nodes[0].instance_id().starts_with("ins-"));
    }

    #[test]
    fn fault_shares_are_exact_and_evenly_spread() {
        let faulted = |ratio: f64, n: u64| (1..=n).filter(|k| nth_is_faulted(*k, ratio)).count();
        assert_eq!(faulted(0.3, 100), 30);
        assert_eq!(faulted(0.3, 10), 3);
        assert_eq!(faulted(0.5, 9), 4);
        assert_eq!(faulted(0.0, 50), 0);
        assert_eq!(faulted(1.0, 50), 50);
        let at: Vec<u64> = (1..=10).filter(|k| nth_is_faulted(*k, 0.3)).collect();
        assert_eq!(at, vec![4, 7, 10]);
        assert!(!nth_is_faulted(1, 0.99), "the first call goes through");
    }

    #[test]
    fn vms_default_to_one_security_group_and_key_and_ratios_take_either_name() {
        let s = Scenario::from_yaml(
            "nodes:\n- lanIp: 10.0.0.1\nvms:\n- {instanceId: ins-x, lanIp: 10.0.0.2}\nfaults: {tkeThrottleRatio: 0.3, apiServer5xxRatio: 0.1}\n",
        )
        .expect("ok");
        assert_eq!(s.nodes[0].security_group_ids, vec!["sg-sim00001"]);
        assert_eq!(s.nodes[0].key_ids, vec!["skey-sim00001"]);
        assert_eq!(s.vms[0].security_group_ids, vec!["sg-sim00001"]);
        assert_eq!(s.faults.tke_throttle_rate, 0.3);
        assert_eq!(s.faults.api_server_5xx_rate, 0.1);
        assert!(Scenario::from_yaml("faults: {tkeThrottleRate: 30}\n").is_err());
    }

    #[test]
    fn a_label_cannot_be_both_tke_managed_and_hand_added() {
        let e = Scenario::from_yaml(
            "nodes:\n- {lanIp: 10.0.0.1, labels: {a: x}, nodeOnlyLabels: {a: y}}\n",
        )
        .expect_err("ambiguous");
        assert!(e.to_string().contains("nodeOnlyLabels"), "{e}");
    }

    #[test]
    fn shipped_scenarios_parse() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).expect("scenarios dir") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "yaml") {
                Scenario::from_file(&path).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
                seen += 1;
            }
        }
        assert!(seen >= 4, "{seen}");
    }
}

//! Projection of Kubernetes objects (k8s-openapi) into the compact model of `wit/types.wit`.
//!
//! Pure functions, no I/O: the snapshot reader lists objects and feeds them here page by page, so
//! that only the compact records stay in memory. What this module resolves once, for every
//! policy: a pod's top-level owner (ReplicaSet -> Deployment), its effective requests (the
//! scheduler's arithmetic), the node a local PV pins it to, a node's Tencent Cloud instance ID.
//! It deliberately drops what no recycle decision needs (container images, env, probes, status
//! details), which is what keeps a snapshot near a few hundred bytes per pod.

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::quantity::{self, QuantityError};
use crate::bindings::types::{
    Claim, EmptyDir, ExtendedResource, IntOrPercent, Label, LabelSelector, Node,
    NodeInclusionPolicy, NodeSelectorTerm, Pdb, Pod, PodAffinityTerm, PodPhase, Resources,
    SelectorOperator, SelectorRequirement, Taint, TaintEffect, Toleration, TolerationOperator,
    TopologySpreadConstraint, UnhealthyPodEvictionPolicy, UnsatisfiableAction, Volume,
    VolumeSource, Workload, WorkloadKind, WorkloadRef,
};

/// The label TKE puts on every worker node with its CVM instance ID.
pub const INSTANCE_ID_LABEL: &str = "cloud.tencent.com/node-instance-id";
/// The annotation the kubelet puts on the API mirror of a static pod.
pub const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";
/// The node label a local PV's node affinity names.
pub const HOSTNAME_LABEL: &str = "kubernetes.io/hostname";
/// Kubernetes' default `terminationGracePeriodSeconds`.
const DEFAULT_GRACE_SECONDS: u64 = 30;

/// An object could not be projected. The API server validates all of these fields, so this only
/// happens with a broken or hostile server; the snapshot is refused rather than guessed.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// An object read at an older API version does not fit the version the projection reads.
    #[error("a PodDisruptionBudget read as policy/v1beta1 does not read as policy/v1")]
    Convert(#[source] serde_json::Error),
    /// A resource quantity does not parse.
    #[error("{kind} {name}: resource {resource} has an invalid quantity")]
    BadQuantity {
        /// Object kind.
        kind: &'static str,
        /// `namespace/name` or `name`.
        name: String,
        /// Resource name, e.g. `cpu`.
        resource: String,
        /// The parse error.
        #[source]
        source: QuantityError,
    },
    /// A selector, toleration or taint uses an operator or effect Kubernetes does not define.
    #[error("{kind} {name}: unknown {what} {value:?}")]
    UnknownEnum {
        /// Object kind.
        kind: &'static str,
        /// `namespace/name` or `name`.
        name: String,
        /// Which field, e.g. `selector operator`.
        what: &'static str,
        /// The value found.
        value: String,
    },
}

/// Which object is being projected, for error messages.
struct Subject<'a> {
    kind: &'static str,
    namespace: Option<&'a str>,
    name: &'a str,
}

impl Subject<'_> {
    fn display(&self) -> String {
        match self.namespace {
            Some(ns) => format!("{ns}/{}", self.name),
            None => self.name.to_owned(),
        }
    }

    fn unknown(&self, what: &'static str, value: &str) -> ProjectError {
        ProjectError::UnknownEnum {
            kind: self.kind,
            name: self.display(),
            what,
            value: value.to_owned(),
        }
    }

    fn quantity(&self, resource: &str, q: &Quantity, millis: bool) -> Result<u64, ProjectError> {
        let parsed = if millis {
            quantity::parse_millis(&q.0)
        } else {
            quantity::parse_units(&q.0)
        };
        parsed.map_err(|source| ProjectError::BadQuantity {
            kind: self.kind,
            name: self.display(),
            resource: resource.to_owned(),
            source,
        })
    }
}

fn labels(map: Option<&BTreeMap<String, String>>) -> Vec<Label> {
    map.map(|m| {
        m.iter()
            .map(|(k, v)| Label {
                key: k.clone(),
                value: v.clone(),
            })
            .collect()
    })
    .unwrap_or_default()
}

fn empty_resources() -> Resources {
    Resources {
        cpu_millis: 0,
        memory_bytes: 0,
        pods: 0,
        ephemeral_storage_bytes: 0,
        extended: Vec::new(),
    }
}

/// Extended resources are the fully qualified names outside the `kubernetes.io` domain
/// (`nvidia.com/gpu`, `tke.cloud.tencent.com/eni-ip`); `hugepages-*` and the like are left out.
fn is_extended(name: &str) -> bool {
    name.contains('/') && !name.starts_with("kubernetes.io/") && !name.starts_with("requests.")
}

/// A resource list (`requests`, `allocatable`, `overhead`) as [`Resources`].
fn resources(
    subject: &Subject<'_>,
    list: Option<&BTreeMap<String, Quantity>>,
) -> Result<Resources, ProjectError> {
    let mut out = empty_resources();
    let Some(list) = list else { return Ok(out) };
    for (name, q) in list {
        match name.as_str() {
            "cpu" => out.cpu_millis = subject.quantity(name, q, true)?,
            "memory" => out.memory_bytes = subject.quantity(name, q, false)?,
            "pods" => out.pods = subject.quantity(name, q, false)?,
            "ephemeral-storage" => {
                out.ephemeral_storage_bytes = subject.quantity(name, q, false)?
            }
            other if is_extended(other) => out.extended.push(ExtendedResource {
                name: other.to_owned(),
                amount: subject.quantity(name, q, false)?,
            }),
            _ => {}
        }
    }
    // BTreeMap iteration already yields names in order; the WIT contract promises sorted.
    Ok(out)
}

fn combine(a: &mut Resources, b: &Resources, op: fn(u64, u64) -> u64) {
    a.cpu_millis = op(a.cpu_millis, b.cpu_millis);
    a.memory_bytes = op(a.memory_bytes, b.memory_bytes);
    a.ephemeral_storage_bytes = op(a.ephemeral_storage_bytes, b.ephemeral_storage_bytes);
    for ext in &b.extended {
        match a.extended.iter_mut().find(|e| e.name == ext.name) {
            Some(e) => e.amount = op(e.amount, ext.amount),
            None => a.extended.push(ExtendedResource {
                name: ext.name.clone(),
                amount: op(0, ext.amount),
            }),
        }
    }
}

fn add(a: &mut Resources, b: &Resources) {
    combine(a, b, u64::saturating_add);
}

fn max(a: &mut Resources, b: &Resources) {
    combine(a, b, u64::max);
}

fn container_requests(
    subject: &Subject<'_>,
    c: &core::Container,
) -> Result<Resources, ProjectError> {
    resources(
        subject,
        c.resources.as_ref().and_then(|r| r.requests.as_ref()),
    )
}

/// What the scheduler reserves for a pod (`resourcehelper.PodRequests`): the larger of the sum of
/// the app containers and each init container's peak, where restartable init containers
/// (sidecars, `restartPolicy: Always`) keep running and so add to everything after them; then
/// pod-level requests where set (they replace the container aggregate per resource); then the
/// runtime class overhead.
pub fn pod_requests(pod: &core::Pod) -> Result<Resources, ProjectError> {
    let meta = &pod.metadata;
    let subject = Subject {
        kind: "Pod",
        namespace: meta.namespace.as_deref(),
        name: meta.name.as_deref().unwrap_or_default(),
    };
    let mut total = empty_resources();
    let Some(spec) = &pod.spec else {
        return Ok(total);
    };
    for c in &spec.containers {
        add(&mut total, &container_requests(&subject, c)?);
    }
    let mut sidecars = empty_resources();
    let mut init_peak = empty_resources();
    for c in spec.init_containers.iter().flatten() {
        let req = container_requests(&subject, c)?;
        if c.restart_policy.as_deref() == Some("Always") {
            add(&mut sidecars, &req);
            // A sidecar starting counts with the sidecars before it.
            max(&mut init_peak, &sidecars);
        } else {
            let mut peak = req;
            add(&mut peak, &sidecars);
            max(&mut init_peak, &peak);
        }
    }
    add(&mut total, &sidecars);
    max(&mut total, &init_peak);
    let pod_level = resources(
        &subject,
        spec.resources.as_ref().and_then(|r| r.requests.as_ref()),
    )?;
    let pod_level_set = |name: &str| {
        spec.resources
            .as_ref()
            .and_then(|r| r.requests.as_ref())
            .is_some_and(|r| r.contains_key(name))
    };
    if pod_level_set("cpu") {
        total.cpu_millis = pod_level.cpu_millis;
    }
    if pod_level_set("memory") {
        total.memory_bytes = pod_level.memory_bytes;
    }
    add(&mut total, &resources(&subject, spec.overhead.as_ref())?);
    total.extended.sort_by(|a, b| a.name.cmp(&b.name));
    total.pods = 0;
    Ok(total)
}

fn selector_operator(subject: &Subject<'_>, op: &str) -> Result<SelectorOperator, ProjectError> {
    Ok(match op {
        "In" => SelectorOperator::In,
        "NotIn" => SelectorOperator::NotIn,
        "Exists" => SelectorOperator::Exists,
        "DoesNotExist" => SelectorOperator::DoesNotExist,
        "Gt" => SelectorOperator::Gt,
        "Lt" => SelectorOperator::Lt,
        other => return Err(subject.unknown("selector operator", other)),
    })
}

fn label_selector(
    subject: &Subject<'_>,
    sel: Option<&meta::LabelSelector>,
) -> Result<LabelSelector, ProjectError> {
    let Some(sel) = sel else {
        return Ok(LabelSelector {
            match_labels: Vec::new(),
            match_expressions: Vec::new(),
        });
    };
    let match_expressions = sel
        .match_expressions
        .iter()
        .flatten()
        .map(|r| {
            Ok(SelectorRequirement {
                key: r.key.clone(),
                operator: selector_operator(subject, &r.operator)?,
                values: r.values.clone().unwrap_or_default(),
            })
        })
        .collect::<Result<_, ProjectError>>()?;
    Ok(LabelSelector {
        match_labels: labels(sel.match_labels.as_ref()),
        match_expressions,
    })
}

fn node_selector_requirements(
    subject: &Subject<'_>,
    reqs: Option<&Vec<core::NodeSelectorRequirement>>,
) -> Result<Vec<SelectorRequirement>, ProjectError> {
    reqs.into_iter()
        .flatten()
        .map(|r| {
            Ok(SelectorRequirement {
                key: r.key.clone(),
                operator: selector_operator(subject, &r.operator)?,
                values: r.values.clone().unwrap_or_default(),
            })
        })
        .collect()
}

fn node_selector_terms(
    subject: &Subject<'_>,
    terms: &[core::NodeSelectorTerm],
) -> Result<Vec<NodeSelectorTerm>, ProjectError> {
    terms
        .iter()
        .map(|t| {
            Ok(NodeSelectorTerm {
                match_expressions: node_selector_requirements(
                    subject,
                    t.match_expressions.as_ref(),
                )?,
                match_fields: node_selector_requirements(subject, t.match_fields.as_ref())?,
            })
        })
        .collect()
}

fn taint_effect(subject: &Subject<'_>, effect: &str) -> Result<TaintEffect, ProjectError> {
    Ok(match effect {
        "NoSchedule" => TaintEffect::NoSchedule,
        "PreferNoSchedule" => TaintEffect::PreferNoSchedule,
        "NoExecute" => TaintEffect::NoExecute,
        other => return Err(subject.unknown("taint effect", other)),
    })
}

fn toleration(subject: &Subject<'_>, t: &core::Toleration) -> Result<Toleration, ProjectError> {
    let operator = match t.operator.as_deref() {
        None | Some("" | "Equal") => TolerationOperator::Equal,
        Some("Exists") => TolerationOperator::Exists,
        Some(other) => return Err(subject.unknown("toleration operator", other)),
    };
    let effect = match t.effect.as_deref() {
        None | Some("") => None,
        Some(e) => Some(taint_effect(subject, e)?),
    };
    Ok(Toleration {
        key: t.key.clone().filter(|k| !k.is_empty()),
        operator,
        value: t.value.clone().filter(|v| !v.is_empty()),
        effect,
    })
}

/// The instance ID from `spec.providerID` (`qcloud:///<zone>/ins-...`) or, failing that, the
/// `cloud.tencent.com/node-instance-id` label. `None` for nodes that are not TKE CVMs (virtual
/// nodes, other clouds): those cannot be recycled through the TKE API.
pub fn instance_id(
    provider_id: Option<&str>,
    labels: Option<&BTreeMap<String, String>>,
) -> Option<String> {
    let from_provider = provider_id
        .and_then(|p| p.strip_prefix("qcloud://"))
        .and_then(|rest| rest.rsplit('/').next())
        .filter(|id| id.starts_with("ins-") && id.len() > 4);
    from_provider.map(str::to_owned).or_else(|| {
        labels
            .and_then(|l| l.get(INSTANCE_ID_LABEL))
            .filter(|id| id.starts_with("ins-"))
            .cloned()
    })
}

fn condition_true<'a>(
    mut conditions: impl Iterator<Item = (&'a str, &'a str)>,
    kind: &str,
) -> bool {
    conditions.any(|(t, s)| t == kind && s == "True")
}

/// A Node, projected.
pub fn node(n: &core::Node) -> Result<Node, ProjectError> {
    let name = n.metadata.name.clone().unwrap_or_default();
    let subject = Subject {
        kind: "Node",
        namespace: None,
        name: &name,
    };
    let spec = n.spec.as_ref();
    let status = n.status.as_ref();
    let taints = spec
        .and_then(|s| s.taints.as_ref())
        .into_iter()
        .flatten()
        .map(|t| {
            Ok(Taint {
                key: t.key.clone(),
                value: t.value.clone().unwrap_or_default(),
                effect: taint_effect(&subject, &t.effect)?,
            })
        })
        .collect::<Result<_, ProjectError>>()?;
    let ready = condition_true(
        status
            .and_then(|s| s.conditions.as_ref())
            .into_iter()
            .flatten()
            .map(|c| (c.type_.as_str(), c.status.as_str())),
        "Ready",
    );
    let internal_ip = status
        .and_then(|s| s.addresses.as_ref())
        .into_iter()
        .flatten()
        .find(|a| a.type_ == "InternalIP")
        .map(|a| a.address.clone());
    Ok(Node {
        instance_id: instance_id(
            spec.and_then(|s| s.provider_id.as_deref()),
            n.metadata.labels.as_ref(),
        ),
        internal_ip,
        labels: labels(n.metadata.labels.as_ref()),
        taints,
        unschedulable: spec.and_then(|s| s.unschedulable).unwrap_or(false),
        ready,
        allocatable: resources(&subject, status.and_then(|s| s.allocatable.as_ref()))?,
        name,
    })
}

fn workload_kind(kind: &str, api_version: &str) -> WorkloadKind {
    let group = api_version.split_once('/').map_or("", |(g, _)| g);
    match (group, kind) {
        ("apps", "Deployment") => WorkloadKind::Deployment,
        ("apps", "ReplicaSet") => WorkloadKind::ReplicaSet,
        ("apps", "StatefulSet") => WorkloadKind::StatefulSet,
        ("apps", "DaemonSet") => WorkloadKind::DaemonSet,
        ("batch", "Job") => WorkloadKind::Job,
        // No WIT case of its own: a new case would break every policy component compiled against
        // the current contract, while `other` already carries it; the SDKs' `is_batch` knows it.
        (_, other) => WorkloadKind::Other(other.to_owned()),
    }
}

/// The controlling owner reference (the one with `controller: true`, else the first).
fn controller_of(meta: &meta::ObjectMeta) -> Option<&meta::OwnerReference> {
    let refs = meta.owner_references.as_ref()?;
    refs.iter()
        .find(|r| r.controller == Some(true))
        .or_else(|| refs.first())
}

/// What a ReplicaSet, PVC or PV resolves to; built once from the lists read before the pods.
#[derive(Debug, Clone, Default)]
pub struct Resolver {
    /// (namespace, ReplicaSet) -> owning Deployment.
    /// Keyed by namespace, then ReplicaSet, so that a pod's lookup borrows its strings: it is
    /// done once per pod, 150,000 times in a large snapshot.
    deployment_of_rs: HashMap<String, HashMap<String, String>>,
    /// (namespace, Job) -> owning CronJob, keyed like `deployment_of_rs`.
    cron_job_of_job: HashMap<String, HashMap<String, String>>,
    /// (namespace, claim) -> (bound PV, storage class).
    claims: HashMap<(String, String), (Option<String>, Option<String>)>,
    /// PV name -> (pinned node, storage class).
    volumes: HashMap<String, (Option<String>, Option<String>)>,
    /// `kubernetes.io/hostname` label value -> node name (they differ when TKE names nodes by IP
    /// but the hostname label carries the host name).
    node_by_hostname: HashMap<String, String>,
}

impl Resolver {
    /// Remember which Deployment owns each ReplicaSet.
    pub fn add_replica_set(&mut self, rs: &ReplicaSet) {
        let (Some(ns), Some(name)) = (&rs.metadata.namespace, &rs.metadata.name) else {
            return;
        };
        if let Some(owner) = controller_of(&rs.metadata)
            && owner.kind == "Deployment"
            && owner.api_version.starts_with("apps/")
        {
            self.deployment_of_rs
                .entry(ns.clone())
                .or_default()
                .insert(name.clone(), owner.name.clone());
        }
    }

    /// Whether a ReplicaSet is owned by a Deployment (and so not a workload of its own).
    pub fn rs_has_deployment(&self, namespace: &str, name: &str) -> bool {
        self.deployment_of_rs
            .get(namespace)
            .is_some_and(|rs| rs.contains_key(name))
    }

    /// Remember which CronJob owns each Job.
    pub fn add_job(&mut self, job: &Job) {
        let (Some(ns), Some(name)) = (&job.metadata.namespace, &job.metadata.name) else {
            return;
        };
        if let Some(owner) = controller_of(&job.metadata)
            && owner.kind == CRON_JOB
            && owner.api_version.starts_with("batch/")
        {
            self.cron_job_of_job
                .entry(ns.clone())
                .or_default()
                .insert(name.clone(), owner.name.clone());
        }
    }

    /// The CronJob owning a Job, if one does (the Job is then not a workload of its own).
    pub fn cron_job_of(&self, namespace: &str, job: &str) -> Option<&str> {
        self.cron_job_of_job
            .get(namespace)
            .and_then(|jobs| jobs.get(job))
            .map(String::as_str)
    }

    /// Remember a claim's bound volume and class.
    pub fn add_claim(&mut self, pvc: &core::PersistentVolumeClaim) {
        let (Some(ns), Some(name)) = (&pvc.metadata.namespace, &pvc.metadata.name) else {
            return;
        };
        let spec = pvc.spec.as_ref();
        self.claims.insert(
            (ns.clone(), name.clone()),
            (
                spec.and_then(|s| s.volume_name.clone())
                    .filter(|v| !v.is_empty()),
                spec.and_then(|s| s.storage_class_name.clone()),
            ),
        );
    }

    /// Remember a volume's node pinning and class.
    pub fn add_volume(&mut self, pv: &core::PersistentVolume) {
        let Some(name) = &pv.metadata.name else {
            return;
        };
        let spec = pv.spec.as_ref();
        let pinned = spec
            .and_then(|s| s.node_affinity.as_ref())
            .and_then(|a| a.required.as_ref())
            .and_then(|r| pinned_host(&r.node_selector_terms));
        self.volumes.insert(
            name.clone(),
            (pinned, spec.and_then(|s| s.storage_class_name.clone())),
        );
    }

    /// Remember each node's hostname label, to turn a local PV's pinning into a node name.
    pub fn add_node(&mut self, node: &Node) {
        if let Some(l) = node.labels.iter().find(|l| l.key == HOSTNAME_LABEL) {
            self.node_by_hostname
                .insert(l.value.clone(), node.name.clone());
        }
    }

    fn owner(&self, namespace: &str, meta: &meta::ObjectMeta) -> Option<WorkloadRef> {
        let owner = controller_of(meta)?;
        let kind = workload_kind(&owner.kind, &owner.api_version);
        if kind == WorkloadKind::ReplicaSet
            && let Some(deployment) = self
                .deployment_of_rs
                .get(namespace)
                .and_then(|rs| rs.get(&owner.name))
        {
            return Some(WorkloadRef {
                kind: WorkloadKind::Deployment,
                name: deployment.clone(),
            });
        }
        if kind == WorkloadKind::Job
            && let Some(cron_job) = self.cron_job_of(namespace, &owner.name)
        {
            return Some(WorkloadRef {
                kind: WorkloadKind::Other(CRON_JOB.to_owned()),
                name: cron_job.to_owned(),
            });
        }
        Some(WorkloadRef {
            kind,
            name: owner.name.clone(),
        })
    }

    fn claim(&self, namespace: &str, claim: &str) -> Claim {
        let (volume, claim_class) = self
            .claims
            .get(&(namespace.to_owned(), claim.to_owned()))
            .cloned()
            .unwrap_or_default();
        let (pinned, volume_class) = volume
            .and_then(|v| self.volumes.get(&v).cloned())
            .unwrap_or_default();
        let pinned_node =
            pinned.map(|host| self.node_by_hostname.get(&host).cloned().unwrap_or(host));
        Claim {
            name: claim.to_owned(),
            storage_class: volume_class.or(claim_class),
            pinned_node,
        }
    }
}

/// The single host a PV's required node affinity allows, if it allows exactly one: one term
/// whose `kubernetes.io/hostname In [x]` names one value (how local PVs and the local-path and
/// OpenEBS provisioners pin volumes).
fn pinned_host(terms: &[core::NodeSelectorTerm]) -> Option<String> {
    let [term] = terms else { return None };
    let hosts: Vec<&String> = term
        .match_expressions
        .iter()
        .flatten()
        .filter(|r| r.key == HOSTNAME_LABEL && r.operator == "In")
        .flat_map(|r| r.values.iter().flatten())
        .collect();
    match hosts.as_slice() {
        [one] => Some((*one).clone()),
        _ => None,
    }
}

fn pod_phase(phase: Option<&str>) -> PodPhase {
    match phase {
        Some("Pending") => PodPhase::Pending,
        Some("Running") => PodPhase::Running,
        Some("Succeeded") => PodPhase::Succeeded,
        Some("Failed") => PodPhase::Failed,
        _ => PodPhase::Unknown,
    }
}

fn volume(resolver: &Resolver, namespace: &str, v: &core::Volume) -> Option<Volume> {
    let source = if let Some(h) = &v.host_path {
        VolumeSource::HostPath(h.path.clone())
    } else if let Some(e) = &v.empty_dir {
        VolumeSource::EmptyDir(EmptyDir {
            in_memory: e.medium.as_deref() == Some("Memory"),
            size_limit_bytes: e
                .size_limit
                .as_ref()
                .and_then(|q| quantity::parse_units(&q.0).ok()),
        })
    } else if let Some(c) = &v.persistent_volume_claim {
        VolumeSource::PersistentVolumeClaim(resolver.claim(namespace, &c.claim_name))
    } else if v.ephemeral.is_some() {
        // A generic ephemeral volume is a PVC named `<pod>-<volume>` created for the pod; it is
        // resolved by the caller, which knows the pod name.
        return None;
    } else {
        // Config maps, secrets, projected, downward API, network volumes: nothing node-bound.
        return None;
    };
    Some(Volume {
        name: v.name.clone(),
        source,
    })
}

/// A pod's topology spread constraints. `matchLabelKeys` is folded into the selector as
/// `key In [the pod's value]` (keys the pod lacks are skipped), as the API server merges them;
/// a constraint without a label selector counts no pods and is left out.
fn topology_spread(
    subject: &Subject<'_>,
    pod_labels: Option<&BTreeMap<String, String>>,
    constraints: &[core::TopologySpreadConstraint],
) -> Result<Vec<TopologySpreadConstraint>, ProjectError> {
    let policy = |what: &'static str, value: Option<&str>, default| match value {
        None => Ok(default),
        Some("Honor") => Ok(NodeInclusionPolicy::Honor),
        Some("Ignore") => Ok(NodeInclusionPolicy::Ignore),
        Some(other) => Err(subject.unknown(what, other)),
    };
    let mut out = Vec::new();
    for c in constraints {
        let Some(sel) = c.label_selector.as_ref() else {
            continue;
        };
        let mut selector = label_selector(subject, Some(sel))?;
        for key in c.match_label_keys.iter().flatten() {
            if let Some(value) = pod_labels.and_then(|l| l.get(key)) {
                selector.match_expressions.push(SelectorRequirement {
                    key: key.clone(),
                    operator: SelectorOperator::In,
                    values: vec![value.clone()],
                });
            }
        }
        out.push(TopologySpreadConstraint {
            max_skew: u32::try_from(c.max_skew).unwrap_or(0),
            topology_key: c.topology_key.clone(),
            when_unsatisfiable: match c.when_unsatisfiable.as_str() {
                "DoNotSchedule" => UnsatisfiableAction::DoNotSchedule,
                "ScheduleAnyway" => UnsatisfiableAction::ScheduleAnyway,
                other => return Err(subject.unknown("whenUnsatisfiable", other)),
            },
            selector,
            min_domains: c.min_domains.and_then(|m| u32::try_from(m).ok()),
            node_affinity_policy: policy(
                "nodeAffinityPolicy",
                c.node_affinity_policy.as_deref(),
                NodeInclusionPolicy::Honor,
            )?,
            node_taints_policy: policy(
                "nodeTaintsPolicy",
                c.node_taints_policy.as_deref(),
                NodeInclusionPolicy::Ignore,
            )?,
        });
    }
    Ok(out)
}

/// Required pod affinity or anti-affinity terms, projected.
fn pod_affinity_terms(
    subject: &Subject<'_>,
    terms: Option<&[core::PodAffinityTerm]>,
) -> Result<Vec<PodAffinityTerm>, ProjectError> {
    terms
        .unwrap_or_default()
        .iter()
        .map(|t| {
            Ok(PodAffinityTerm {
                selector: label_selector(subject, t.label_selector.as_ref())?,
                namespaces: t.namespaces.clone().unwrap_or_default(),
                topology_key: t.topology_key.clone(),
            })
        })
        .collect()
}

/// A Pod, projected, with its owner and volumes resolved through `resolver`.
pub fn pod(resolver: &Resolver, p: &core::Pod) -> Result<Pod, ProjectError> {
    let meta = &p.metadata;
    let namespace = meta.namespace.clone().unwrap_or_default();
    let name = meta.name.clone().unwrap_or_default();
    let subject = Subject {
        kind: "Pod",
        namespace: Some(&namespace),
        name: &name,
    };
    let spec = p.spec.as_ref();
    let status = p.status.as_ref();
    let affinity = spec.and_then(|s| s.affinity.as_ref());
    let required_node_affinity =
        match affinity
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|n| {
                n.required_during_scheduling_ignored_during_execution
                    .as_ref()
            }) {
            Some(sel) => node_selector_terms(&subject, &sel.node_selector_terms)?,
            None => Vec::new(),
        };
    let required_affinity = pod_affinity_terms(
        &subject,
        affinity
            .and_then(|a| a.pod_affinity.as_ref())
            .and_then(|a| {
                a.required_during_scheduling_ignored_during_execution
                    .as_deref()
            }),
    )?;
    let required_anti_affinity = pod_affinity_terms(
        &subject,
        affinity
            .and_then(|a| a.pod_anti_affinity.as_ref())
            .and_then(|a| {
                a.required_during_scheduling_ignored_during_execution
                    .as_deref()
            }),
    )?;
    let tolerations = spec
        .and_then(|s| s.tolerations.as_ref())
        .into_iter()
        .flatten()
        .map(|t| toleration(&subject, t))
        .collect::<Result<_, _>>()?;
    let topology_spread = topology_spread(
        &subject,
        meta.labels.as_ref(),
        spec.and_then(|s| s.topology_spread_constraints.as_deref())
            .unwrap_or_default(),
    )?;
    let mut volumes = Vec::new();
    for v in spec.and_then(|s| s.volumes.as_ref()).into_iter().flatten() {
        if let Some(projected) = volume(resolver, &namespace, v) {
            volumes.push(projected);
        } else if v.ephemeral.is_some() {
            volumes.push(Volume {
                name: v.name.clone(),
                source: VolumeSource::PersistentVolumeClaim(
                    resolver.claim(&namespace, &format!("{name}-{}", v.name)),
                ),
            });
        }
    }
    let ready = condition_true(
        status
            .and_then(|s| s.conditions.as_ref())
            .into_iter()
            .flatten()
            .map(|c| (c.type_.as_str(), c.status.as_str())),
        "Ready",
    );
    Ok(Pod {
        uid: meta.uid.clone().unwrap_or_default(),
        node_name: spec
            .and_then(|s| s.node_name.clone())
            .filter(|n| !n.is_empty()),
        phase: pod_phase(status.and_then(|s| s.phase.as_deref())),
        ready,
        terminating: meta.deletion_timestamp.is_some(),
        labels: labels(meta.labels.as_ref()),
        owner: resolver.owner(&namespace, meta),
        mirror: meta
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key(MIRROR_ANNOTATION)),
        priority: spec.and_then(|s| s.priority).unwrap_or(0),
        requests: pod_requests(p)?,
        node_selector: labels(spec.and_then(|s| s.node_selector.as_ref())),
        required_node_affinity,
        tolerations,
        required_anti_affinity,
        required_affinity: Some(required_affinity),
        topology_spread: Some(topology_spread),
        preempts: Some(spec.and_then(|s| s.preemption_policy.as_deref()) != Some("Never")),
        volumes,
        termination_grace_seconds: spec
            .and_then(|s| s.termination_grace_period_seconds)
            .map_or(DEFAULT_GRACE_SECONDS, |s| u64::try_from(s).unwrap_or(0)),
        namespace,
        name,
    })
}

fn count(v: Option<i32>) -> u32 {
    v.and_then(|v| u32::try_from(v).ok()).unwrap_or(0)
}

fn int_or_percent(v: &IntOrString) -> Option<IntOrPercent> {
    match v {
        IntOrString::Int(n) => u32::try_from(*n).ok().map(IntOrPercent::Count),
        IntOrString::String(s) => match s.strip_suffix('%') {
            Some(p) => p.trim().parse().ok().map(IntOrPercent::Percent),
            None => s.trim().parse().ok().map(IntOrPercent::Count),
        },
    }
}

/// A policy/v1 PodDisruptionBudget, projected.
pub fn pdb(p: &PodDisruptionBudget) -> Result<Pdb, ProjectError> {
    let namespace = p.metadata.namespace.clone().unwrap_or_default();
    let name = p.metadata.name.clone().unwrap_or_default();
    let subject = Subject {
        kind: "PodDisruptionBudget",
        namespace: Some(&namespace),
        name: &name,
    };
    let spec = p.spec.as_ref();
    let status = p.status.as_ref();
    let policy = match spec.and_then(|s| s.unhealthy_pod_eviction_policy.as_deref()) {
        None | Some("" | "IfHealthyBudget") => UnhealthyPodEvictionPolicy::IfHealthyBudget,
        Some("AlwaysAllow") => UnhealthyPodEvictionPolicy::AlwaysAllow,
        Some(other) => return Err(subject.unknown("unhealthyPodEvictionPolicy", other)),
    };
    Ok(Pdb {
        selector: label_selector(&subject, spec.and_then(|s| s.selector.as_ref()))?,
        min_available: spec
            .and_then(|s| s.min_available.as_ref())
            .and_then(int_or_percent),
        max_unavailable: spec
            .and_then(|s| s.max_unavailable.as_ref())
            .and_then(int_or_percent),
        disruptions_allowed: count(status.map(|s| s.disruptions_allowed)),
        current_healthy: count(status.map(|s| s.current_healthy)),
        desired_healthy: count(status.map(|s| s.desired_healthy)),
        expected_pods: count(status.map(|s| s.expected_pods)),
        unhealthy_pod_eviction_policy: policy,
        namespace,
        name,
    })
}

fn workload(
    kind: WorkloadKind,
    kind_name: &'static str,
    meta: &meta::ObjectMeta,
    replicas: u32,
    ready: u32,
    selector: Option<&meta::LabelSelector>,
) -> Result<Workload, ProjectError> {
    let namespace = meta.namespace.clone().unwrap_or_default();
    let name = meta.name.clone().unwrap_or_default();
    let subject = Subject {
        kind: kind_name,
        namespace: Some(&namespace),
        name: &name,
    };
    Ok(Workload {
        selector: label_selector(&subject, selector)?,
        kind,
        replicas,
        ready_replicas: ready,
        namespace,
        name,
    })
}

/// A Deployment, projected (`spec.replicas` defaults to 1).
pub fn deployment(d: &Deployment) -> Result<Workload, ProjectError> {
    let spec = d.spec.as_ref();
    workload(
        WorkloadKind::Deployment,
        "Deployment",
        &d.metadata,
        spec.map_or(1, |s| count(Some(s.replicas.unwrap_or(1)))),
        count(d.status.as_ref().and_then(|s| s.ready_replicas)),
        spec.map(|s| &s.selector),
    )
}

/// A StatefulSet, projected.
pub fn stateful_set(s: &StatefulSet) -> Result<Workload, ProjectError> {
    let spec = s.spec.as_ref();
    workload(
        WorkloadKind::StatefulSet,
        "StatefulSet",
        &s.metadata,
        spec.map_or(1, |s| count(Some(s.replicas.unwrap_or(1)))),
        count(s.status.as_ref().and_then(|s| s.ready_replicas)),
        spec.map(|s| &s.selector),
    )
}

/// A ReplicaSet that no Deployment owns, projected.
pub fn replica_set(r: &ReplicaSet) -> Result<Workload, ProjectError> {
    let spec = r.spec.as_ref();
    workload(
        WorkloadKind::ReplicaSet,
        "ReplicaSet",
        &r.metadata,
        spec.map_or(1, |s| count(Some(s.replicas.unwrap_or(1)))),
        count(r.status.as_ref().and_then(|s| s.ready_replicas)),
        spec.map(|s| &s.selector),
    )
}

/// A DaemonSet, projected: replicas are the nodes it should run on.
pub fn daemon_set(d: &DaemonSet) -> Result<Workload, ProjectError> {
    let status = d.status.as_ref();
    workload(
        WorkloadKind::DaemonSet,
        "DaemonSet",
        &d.metadata,
        count(status.map(|s| s.desired_number_scheduled)),
        count(status.map(|s| s.number_ready)),
        d.spec.as_ref().map(|s| &s.selector),
    )
}

/// The kind name of batch/v1 CronJobs, carried as `WorkloadKind::Other`.
pub const CRON_JOB: &str = "CronJob";

/// Whether a Job has finished: a `Complete` or `Failed` condition is true.
fn job_finished(j: &Job) -> bool {
    j.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
        })
}

/// The pods a Job wants running now, as its controller computes it: `parallelism` (default 1),
/// capped by the completions still missing; none once finished, so that a finished Job is never
/// short of replicas.
pub fn job_wanted_pods(j: &Job) -> u32 {
    if job_finished(j) {
        return 0;
    }
    let spec = j.spec.as_ref();
    let parallelism = count(Some(spec.and_then(|s| s.parallelism).unwrap_or(1)));
    let succeeded = count(j.status.as_ref().and_then(|s| s.succeeded));
    match spec.and_then(|s| s.completions) {
        Some(c) => parallelism.min(count(Some(c)).saturating_sub(succeeded)),
        None => parallelism,
    }
}

/// A Job, projected: replicas are the pods it wants running now ([`job_wanted_pods`]), ready its
/// active pods with a Ready condition.
pub fn job(j: &Job) -> Result<Workload, ProjectError> {
    workload(
        WorkloadKind::Job,
        "Job",
        &j.metadata,
        job_wanted_pods(j),
        count(j.status.as_ref().and_then(|s| s.ready)),
        j.spec.as_ref().and_then(|s| s.selector.as_ref()),
    )
}

/// A CronJob, projected with no pods: those of its Jobs are added by the projection
/// ([`add_job_pods`]). Its selector is its Job template's (usually none: each Job selects its pods
/// by its own uid).
pub fn cron_job(c: &CronJob) -> Result<Workload, ProjectError> {
    let template = c.spec.as_ref().and_then(|s| s.job_template.spec.as_ref());
    workload(
        WorkloadKind::Other(CRON_JOB.to_owned()),
        CRON_JOB,
        &c.metadata,
        0,
        0,
        template.and_then(|t| t.selector.as_ref()),
    )
}

/// Count a Job's wanted and ready pods into its CronJob's workload.
pub fn add_job_pods(cron_job: &mut Workload, j: &Job) {
    cron_job.replicas = cron_job.replicas.saturating_add(job_wanted_pods(j));
    cron_job.ready_replicas = cron_job
        .ready_replicas
        .saturating_add(count(j.status.as_ref().and_then(|s| s.ready)));
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn from<T: serde::de::DeserializeOwned>(v: Value) -> T {
        serde_json::from_value(v).expect("fixture is a valid object")
    }

    fn pod_with(spec: Value) -> core::Pod {
        from(json!({"metadata": {"namespace": "shop", "name": "web-1", "uid": "u1"}, "spec": spec}))
    }

    fn req(cpu: &str, mem: &str) -> Value {
        json!({"requests": {"cpu": cpu, "memory": mem}})
    }

    #[test]
    fn effective_requests_follow_the_scheduler() {
        // (case, spec, cpu millis, memory bytes)
        let cases: Vec<(&str, Value, u64, u64)> = vec![
            (
                "sum_of_containers",
                json!({"containers": [
                    {"name": "a", "resources": req("100m", "128Mi")},
                    {"name": "b", "resources": req("0.5", "1.5Gi")}]}),
                600,
                (128 << 20) + 1_610_612_736,
            ),
            (
                "largest_init_container_wins_when_bigger",
                json!({"initContainers": [
                    {"name": "i1", "resources": req("2", "100M")},
                    {"name": "i2", "resources": req("1900m", "2607596Ki")}],
                    "containers": [{"name": "a", "resources": req("100m", "1Gi")}]}),
                2000,
                2_607_596 * 1024,
            ),
            (
                "sidecar_adds_to_containers_and_later_inits",
                json!({"initContainers": [
                    {"name": "mesh", "restartPolicy": "Always", "resources": req("200m", "64Mi")},
                    {"name": "migrate", "resources": req("1", "64Mi")}],
                    "containers": [{"name": "a", "resources": req("300m", "64Mi")}]}),
                1200,
                128 << 20,
            ),
            (
                "overhead_is_added",
                json!({"containers": [{"name": "a", "resources": req("100m", "100M")}],
                       "overhead": {"cpu": "250m", "memory": "120Mi"}}),
                350,
                100_000_000 + (120 << 20),
            ),
            (
                "pod_level_requests_replace_the_aggregate",
                json!({"containers": [{"name": "a", "resources": req("100m", "100M")}],
                       "resources": {"requests": {"cpu": "1"}}}),
                1000,
                100_000_000,
            ),
            (
                "no_requests_is_zero",
                json!({"containers": [{"name": "a"}]}),
                0,
                0,
            ),
        ];
        for (case, spec, cpu, mem) in cases {
            let r = pod_requests(&pod_with(spec)).expect(case);
            assert_eq!((r.cpu_millis, r.memory_bytes), (cpu, mem), "{case}");
            assert_eq!(r.pods, 0, "{case}");
        }
    }

    #[test]
    fn extended_resources_are_summed_and_sorted() {
        let p = pod_with(json!({"containers": [
            {"name": "a", "resources": {"requests": {"nvidia.com/gpu": "1", "hugepages-2Mi": "2Mi"}}},
            {"name": "b", "resources": {"requests": {"nvidia.com/gpu": "2", "example.com/foo": "3"}}}]}));
        let r = pod_requests(&p).expect("valid");
        let ext: Vec<(&str, u64)> = r
            .extended
            .iter()
            .map(|e| (e.name.as_str(), e.amount))
            .collect();
        assert_eq!(ext, vec![("example.com/foo", 3), ("nvidia.com/gpu", 3)]);
    }

    #[test]
    fn bad_quantity_names_pod_and_resource() {
        let p = pod_with(json!({"containers": [{"name": "a", "resources": req("lots", "1Gi")}]}));
        let err = pod_requests(&p).expect_err("invalid cpu");
        assert_eq!(
            err.to_string(),
            "Pod shop/web-1: resource cpu has an invalid quantity"
        );
    }

    #[test]
    fn instance_id_from_provider_id_or_label() {
        let label = |v: &str| BTreeMap::from([(INSTANCE_ID_LABEL.to_owned(), v.to_owned())]);
        // (case, providerID, labels, expected instance ID)
        type Case<'a> = (
            &'a str,
            Option<&'a str>,
            Option<BTreeMap<String, String>>,
            Option<&'a str>,
        );
        let cases: Vec<Case<'_>> = vec![
            (
                "provider_id",
                Some("qcloud:///300003/ins-bzwza4jk"),
                None,
                Some("ins-bzwza4jk"),
            ),
            (
                "provider_id_wins_over_label",
                Some("qcloud:///300003/ins-aaaa1111"),
                Some(label("ins-bbbb2222")),
                Some("ins-aaaa1111"),
            ),
            (
                "label_when_no_provider_id",
                None,
                Some(label("ins-bzwza4jk")),
                Some("ins-bzwza4jk"),
            ),
            (
                "label_when_provider_id_is_foreign",
                Some("aws:///us-east-1a/i-0123"),
                Some(label("ins-cccc3333")),
                Some("ins-cccc3333"),
            ),
            (
                "virtual_node_has_none",
                Some("qcloud:///eklet/eklet-xyz"),
                None,
                None,
            ),
            ("garbage_label_ignored", None, Some(label("i-123")), None),
        ];
        for (case, provider, labels, want) in cases {
            assert_eq!(
                instance_id(provider, labels.as_ref()).as_deref(),
                want,
                "{case}"
            );
        }
    }

    #[test]
    fn tke_node_projects_like_the_real_thing() {
        let n: core::Node = from(json!({
            "metadata": {"name": "192.168.2.105", "labels": {
                "cloud.tencent.com/node-instance-id": "ins-bzwza4jk",
                "kubernetes.io/hostname": "192.168.2.105",
                "topology.kubernetes.io/zone": "300003"}},
            "spec": {"providerID": "qcloud:///300003/ins-bzwza4jk", "unschedulable": true,
                     "taints": [{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]},
            "status": {
                "allocatable": {"cpu": "1900m", "memory": "2607596Ki", "pods": "61",
                                "ephemeral-storage": "47093746742", "nvidia.com/gpu": "1"},
                "addresses": [{"type": "Hostname", "address": "h"},
                              {"type": "InternalIP", "address": "192.168.2.105"}],
                "conditions": [{"type": "MemoryPressure", "status": "False"},
                               {"type": "Ready", "status": "True"}]}
        }));
        let node = node(&n).expect("valid node");
        assert_eq!(node.instance_id.as_deref(), Some("ins-bzwza4jk"));
        assert_eq!(node.internal_ip.as_deref(), Some("192.168.2.105"));
        assert!(node.unschedulable && node.ready);
        assert_eq!(node.allocatable.cpu_millis, 1900);
        assert_eq!(node.allocatable.memory_bytes, 2_670_178_304);
        assert_eq!(node.allocatable.pods, 61);
        assert_eq!(node.allocatable.ephemeral_storage_bytes, 47_093_746_742);
        assert_eq!(node.allocatable.extended.len(), 1);
        assert_eq!(node.taints[0].effect, TaintEffect::NoSchedule);
        assert_eq!(node.taints[0].value, "");
        assert_eq!(node.labels.len(), 3);
    }

    fn resolver() -> Resolver {
        let mut r = Resolver::default();
        r.add_replica_set(&from(
            json!({"metadata": {"namespace": "shop", "name": "web-7d9c5b",
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                                 "uid": "d1", "controller": true}]}}),
        ));
        r.add_replica_set(&from(
            json!({"metadata": {"namespace": "shop", "name": "bare-rs"}}),
        ));
        r.add_job(&from(
            json!({"metadata": {"namespace": "shop", "name": "report-29081234",
            "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "report",
                                 "uid": "c1", "controller": true}]}}),
        ));
        r.add_claim(&from(
            json!({"metadata": {"namespace": "db", "name": "data-pg-0"},
            "spec": {"volumeName": "local-pv-1", "storageClassName": "local-storage"}}),
        ));
        r.add_claim(&from(
            json!({"metadata": {"namespace": "db", "name": "cbs"},
            "spec": {"volumeName": "pvc-abc"}}),
        ));
        r.add_claim(&from(
            json!({"metadata": {"namespace": "db", "name": "pending"},
            "spec": {"storageClassName": "cbs"}}),
        ));
        r.add_volume(&from(json!({"metadata": {"name": "local-pv-1"}, "spec": {
            "local": {"path": "/mnt/disks/ssd1"}, "storageClassName": "local-storage",
            "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "In", "values": ["vm-10-0-1-13"]}]}]}}}})));
        r.add_volume(&from(json!({"metadata": {"name": "pvc-abc"}, "spec": {
            "storageClassName": "cbs-ssd",
            "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["300003"]}]}]}}}})));
        r.add_node(&Node {
            name: "10.0.1.13".into(),
            instance_id: None,
            internal_ip: None,
            labels: vec![Label {
                key: HOSTNAME_LABEL.into(),
                value: "vm-10-0-1-13".into(),
            }],
            taints: vec![],
            unschedulable: false,
            ready: true,
            allocatable: empty_resources(),
        });
        r
    }

    fn owned_pod(kind: &str, api_version: &str, name: &str) -> core::Pod {
        from(
            json!({"metadata": {"namespace": "shop", "name": "p", "uid": "u",
            "ownerReferences": [{"apiVersion": api_version, "kind": kind, "name": name,
                                 "uid": "o", "controller": true}]},
            "spec": {"containers": [{"name": "a"}]}}),
        )
    }

    #[test]
    fn owner_is_resolved_to_the_top_workload() {
        let r = resolver();
        let cases: Vec<(&str, core::Pod, Option<WorkloadRef>)> = vec![
            (
                "replica_set_of_a_deployment",
                owned_pod("ReplicaSet", "apps/v1", "web-7d9c5b"),
                Some(WorkloadRef {
                    kind: WorkloadKind::Deployment,
                    name: "web".into(),
                }),
            ),
            (
                "replica_set_without_deployment",
                owned_pod("ReplicaSet", "apps/v1", "bare-rs"),
                Some(WorkloadRef {
                    kind: WorkloadKind::ReplicaSet,
                    name: "bare-rs".into(),
                }),
            ),
            (
                "stateful_set",
                owned_pod("StatefulSet", "apps/v1", "pg"),
                Some(WorkloadRef {
                    kind: WorkloadKind::StatefulSet,
                    name: "pg".into(),
                }),
            ),
            (
                "daemon_set",
                owned_pod("DaemonSet", "apps/v1", "kube-proxy"),
                Some(WorkloadRef {
                    kind: WorkloadKind::DaemonSet,
                    name: "kube-proxy".into(),
                }),
            ),
            (
                "job",
                owned_pod("Job", "batch/v1", "backup-123"),
                Some(WorkloadRef {
                    kind: WorkloadKind::Job,
                    name: "backup-123".into(),
                }),
            ),
            (
                "job_of_a_cron_job",
                owned_pod("Job", "batch/v1", "report-29081234"),
                Some(WorkloadRef {
                    kind: WorkloadKind::Other(CRON_JOB.into()),
                    name: "report".into(),
                }),
            ),
            (
                "custom_controller",
                owned_pod("Rollout", "argoproj.io/v1alpha1", "canary"),
                Some(WorkloadRef {
                    kind: WorkloadKind::Other("Rollout".into()),
                    name: "canary".into(),
                }),
            ),
            (
                "bare_pod",
                pod_with(json!({"containers": [{"name": "a"}]})),
                None,
            ),
        ];
        for (case, p, want) in cases {
            assert_eq!(pod(&r, &p).expect(case).owner, want, "{case}");
        }
    }

    #[test]
    fn volumes_keep_only_node_bound_data_and_resolve_local_pvs() {
        let p: core::Pod = from(
            json!({"metadata": {"namespace": "db", "name": "pg-0", "uid": "u"},
            "spec": {"containers": [{"name": "a"}], "volumes": [
                {"name": "data", "persistentVolumeClaim": {"claimName": "data-pg-0"}},
                {"name": "cloud", "persistentVolumeClaim": {"claimName": "cbs"}},
                {"name": "unbound", "persistentVolumeClaim": {"claimName": "pending"}},
                {"name": "logs", "hostPath": {"path": "/var/log"}},
                {"name": "scratch", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
                {"name": "cfg", "configMap": {"name": "pg"}},
                {"name": "token", "projected": {"sources": []}}]}}),
        );
        let vols = pod(&resolver(), &p).expect("valid").volumes;
        let got: Vec<(&str, VolumeSource)> = vols
            .iter()
            .map(|v| (v.name.as_str(), v.source.clone()))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "data",
                    VolumeSource::PersistentVolumeClaim(Claim {
                        name: "data-pg-0".into(),
                        storage_class: Some("local-storage".into()),
                        pinned_node: Some("10.0.1.13".into()),
                    })
                ),
                (
                    "cloud",
                    VolumeSource::PersistentVolumeClaim(Claim {
                        name: "cbs".into(),
                        storage_class: Some("cbs-ssd".into()),
                        pinned_node: None,
                    })
                ),
                (
                    "unbound",
                    VolumeSource::PersistentVolumeClaim(Claim {
                        name: "pending".into(),
                        storage_class: Some("cbs".into()),
                        pinned_node: None,
                    })
                ),
                ("logs", VolumeSource::HostPath("/var/log".into())),
                (
                    "scratch",
                    VolumeSource::EmptyDir(EmptyDir {
                        in_memory: true,
                        size_limit_bytes: Some(64 << 20),
                    })
                ),
            ]
        );
    }

    #[test]
    fn pod_scheduling_fields_and_flags() {
        let p: core::Pod = from(json!({
            "metadata": {"namespace": "kube-system", "name": "etcd-10.0.1.11", "uid": "u",
                "deletionTimestamp": "2026-11-27T10:00:00Z",
                "labels": {"tier": "control-plane"},
                "annotations": {"kubernetes.io/config.mirror": "abc"},
                "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": "10.0.1.11",
                                     "uid": "n", "controller": true}]},
            "spec": {"nodeName": "10.0.1.11", "priority": 2000001000,
                "terminationGracePeriodSeconds": 5,
                "nodeSelector": {"disk": "ssd"},
                "containers": [{"name": "etcd"}],
                "tolerations": [{"operator": "Exists"},
                                {"key": "k", "value": "v", "effect": "NoExecute"}],
                "affinity": {
                    "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [{"matchExpressions": [
                            {"key": "zone", "operator": "NotIn", "values": ["a"]}],
                            "matchFields": [{"key": "metadata.name", "operator": "In", "values": ["x"]}]}]}},
                    "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                        {"labelSelector": {"matchLabels": {"app": "etcd"}},
                         "topologyKey": "kubernetes.io/hostname"}]}}},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
        }));
        let got = pod(&Resolver::default(), &p).expect("valid");
        assert!(got.mirror && got.terminating && got.ready);
        assert_eq!(got.phase, PodPhase::Running);
        assert_eq!(got.priority, 2_000_001_000);
        assert_eq!(got.termination_grace_seconds, 5);
        assert_eq!(got.node_name.as_deref(), Some("10.0.1.11"));
        assert_eq!(got.node_selector.len(), 1);
        assert_eq!(
            got.tolerations,
            vec![
                Toleration {
                    key: None,
                    operator: TolerationOperator::Exists,
                    value: None,
                    effect: None
                },
                Toleration {
                    key: Some("k".into()),
                    operator: TolerationOperator::Equal,
                    value: Some("v".into()),
                    effect: Some(TaintEffect::NoExecute),
                },
            ]
        );
        let term = &got.required_node_affinity[0];
        assert_eq!(term.match_expressions[0].operator, SelectorOperator::NotIn);
        assert_eq!(term.match_fields[0].key, "metadata.name");
        assert_eq!(
            got.required_anti_affinity[0].topology_key,
            "kubernetes.io/hostname"
        );
        assert_eq!(
            got.required_anti_affinity[0].selector.match_labels[0].value,
            "etcd"
        );
        assert_eq!(
            got.owner,
            Some(WorkloadRef {
                kind: WorkloadKind::Other("Node".into()),
                name: "10.0.1.11".into()
            })
        );
    }

    #[test]
    fn unknown_operator_is_refused() {
        let p = pod_with(json!({"containers": [{"name": "a"}],
            "tolerations": [{"key": "k", "operator": "Near"}]}));
        let err = pod(&Resolver::default(), &p).expect_err("unknown operator");
        assert!(
            err.to_string()
                .contains("unknown toleration operator \"Near\""),
            "{err}"
        );
    }

    #[test]
    fn pdb_budgets_and_status() {
        let cases: Vec<(&str, Value, Option<IntOrPercent>, Option<IntOrPercent>)> = vec![
            (
                "min_available_count",
                json!({"minAvailable": 2}),
                Some(IntOrPercent::Count(2)),
                None,
            ),
            (
                "max_unavailable_percent",
                json!({"maxUnavailable": "25%"}),
                None,
                Some(IntOrPercent::Percent(25)),
            ),
            (
                "min_available_percent",
                json!({"minAvailable": "100%"}),
                Some(IntOrPercent::Percent(100)),
                None,
            ),
        ];
        for (case, spec, min, max) in cases {
            let p: PodDisruptionBudget = from(json!({
                "metadata": {"namespace": "shop", "name": "web"},
                "spec": spec,
                "status": {"disruptionsAllowed": 0, "currentHealthy": 3, "desiredHealthy": 3,
                           "expectedPods": 3}}));
            let got = pdb(&p).expect(case);
            assert_eq!(
                (got.min_available, got.max_unavailable),
                (min, max),
                "{case}"
            );
            assert_eq!(
                got.unhealthy_pod_eviction_policy,
                UnhealthyPodEvictionPolicy::IfHealthyBudget
            );
            assert_eq!(
                (
                    got.disruptions_allowed,
                    got.current_healthy,
                    got.expected_pods
                ),
                (0, 3, 3)
            );
            assert!(got.selector.match_labels.is_empty());
        }
    }

    #[test]
    fn workloads_default_replicas_and_daemon_sets_count_nodes() {
        let d: Deployment = from(json!({"metadata": {"namespace": "shop", "name": "web"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {}},
            "status": {"readyReplicas": 1}}));
        let w = deployment(&d).expect("valid");
        assert_eq!(
            (w.kind, w.replicas, w.ready_replicas),
            (WorkloadKind::Deployment, 1, 1)
        );
        let ds: DaemonSet = from(
            json!({"metadata": {"namespace": "kube-system", "name": "proxy"},
            "spec": {"selector": {}, "template": {}},
            "status": {"desiredNumberScheduled": 5, "numberReady": 4, "currentNumberScheduled": 5,
                       "numberMisscheduled": 0}}),
        );
        let w = daemon_set(&ds).expect("valid");
        assert_eq!((w.replicas, w.ready_replicas), (5, 4));
    }

    #[test]
    fn a_job_wants_parallelism_capped_by_missing_completions_and_nothing_once_finished() {
        let cases: Vec<(&str, Value, Value, (u32, u32))> = vec![
            ("parallelism_defaults_to_one", json!({}), json!({}), (1, 0)),
            (
                "parallelism_when_many_completions_remain",
                json!({"parallelism": 3, "completions": 10}),
                json!({"succeeded": 2, "active": 3, "ready": 2}),
                (3, 2),
            ),
            (
                "capped_by_the_completions_still_missing",
                json!({"parallelism": 3, "completions": 5}),
                json!({"succeeded": 4, "active": 1, "ready": 1}),
                (1, 1),
            ),
            (
                "nothing_once_complete",
                json!({"parallelism": 2, "completions": 2}),
                json!({"succeeded": 2, "conditions": [{"type": "Complete", "status": "True"}]}),
                (0, 0),
            ),
            (
                "nothing_once_failed",
                json!({"parallelism": 2}),
                json!({"failed": 7, "conditions": [{"type": "Failed", "status": "True"}]}),
                (0, 0),
            ),
        ];
        for (case, mut spec, status, want) in cases {
            spec["template"] = json!({});
            let j: Job = from(json!({"metadata": {"namespace": "batch", "name": "j"},
                "spec": spec, "status": status}));
            let w = job(&j).expect(case);
            assert_eq!(w.kind, WorkloadKind::Job, "{case}");
            assert_eq!((w.replicas, w.ready_replicas), want, "{case}");
        }
    }

    #[test]
    fn a_cron_job_counts_the_pods_of_its_jobs() {
        let c: CronJob = from(json!({"metadata": {"namespace": "batch", "name": "report"},
            "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": {}}}}}));
        let mut w = cron_job(&c).expect("valid");
        assert_eq!(w.kind, WorkloadKind::Other(CRON_JOB.into()));
        assert_eq!((w.replicas, w.ready_replicas), (0, 0));
        let running: Job = from(
            json!({"metadata": {"namespace": "batch", "name": "report-2"},
            "spec": {"parallelism": 2, "template": {}}, "status": {"active": 2, "ready": 1}}),
        );
        let done: Job = from(
            json!({"metadata": {"namespace": "batch", "name": "report-1"},
            "spec": {"template": {}},
            "status": {"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]}}),
        );
        add_job_pods(&mut w, &running);
        add_job_pods(&mut w, &done);
        assert_eq!((w.replicas, w.ready_replicas), (2, 1));
    }
}

//! The live cluster view of a run: one kube-runtime reflector per kind the snapshot reads, kept
//! current by watches, so that a refresh between two steps costs what changed rather than a
//! re-list of every node and pod (seconds and hundreds of MiB of JSON on 5,000 nodes).
//!
//! [`LiveCluster::start`] lists each kind once (the watcher's paged initial list) and then follows
//! its watch in a spawned task; [`LiveCluster::snapshot`] projects the caches with the very
//! [`Projection`] that [`read_snapshot`](super::snapshot::read_snapshot) uses, in the same order
//! and with the objects in the API server's list order (namespace, name), so both give the same
//! [`Snapshot`]. [`LiveCluster::generation`] moves with every change, so a caller can skip
//! re-projecting when nothing happened.
//!
//! Memory: each object is stripped before it enters a cache, down to what the projection and the
//! drain read (see the `strip_*` functions): managed fields, annotations, pod templates, container
//! images/env/args/probes, configMap/secret/projected volumes, container statuses and node image
//! lists are dropped. The objects handed out by [`LiveCluster::pods_on_node`] and
//! [`LiveCluster::node`] are these stripped objects: fine for deciding and evicting, not for
//! writing back.
//!
//! Not here: re-listing on demand (the watcher re-lists by itself after a 410 Gone) and any
//! cross-kind consistency (each cache is current on its own, as each list of a read snapshot is).

use std::fmt::Debug;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::Node;
use k8s_openapi::api::core::v1::{
    Affinity, Container, EphemeralVolumeSource, NodeAffinity, NodeStatus, PersistentVolume,
    PersistentVolumeClaim, PersistentVolumeClaimSpec, PersistentVolumeSpec, Pod, PodAffinity,
    PodAntiAffinity, PodCondition, PodSpec, PodStatus, PodTemplateSpec, ResourceRequirements,
    Volume,
};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::Api;
use kube::runtime::WatchStreamExt as _;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::watcher::{self, Event, watcher};
use serde::de::DeserializeOwned;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::api_error;
use super::project::{MIRROR_ANNOTATION, ProjectError};
use super::served::PdbVersion;
use super::snapshot::{Projection, now_seconds};
use crate::snapshot::Snapshot;

/// How long [`LiveCluster::start`] waits for every initial list.
pub const START_TIMEOUT: Duration = Duration::from_secs(120);

/// The annotation `kubectl apply` leaves on every object it created: a full copy of the manifest.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The live view could not be started.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// The initial list of a kind failed in a way retrying cannot fix (forbidden, not served,
    /// bad request), or kept failing until the start timeout.
    #[error("failed to watch {what}")]
    WatchFailed {
        /// Plural resource, e.g. `pods`.
        what: &'static str,
        /// The last error the watch saw.
        #[source]
        source: watcher::Error,
    },
    /// Discovery of batch/v1 CronJobs failed.
    #[error("failed to find whether the cluster serves batch/v1 CronJobs")]
    CronJobDiscovery(#[source] super::served::ServedError),
    /// The initial list of some kinds did not complete within the start timeout, without an
    /// error (a slow or stuck API server).
    #[error("the initial list of {what} did not complete within {waited:?}")]
    NotReady {
        /// The plural resources still listing, comma-separated.
        what: String,
        /// How long start waited.
        waited: Duration,
    },
}

/// Whether a watch error before the first complete list means the list can never succeed: a
/// client error other than throttling (429) or an expired resourceVersion (410), e.g. 403
/// forbidden by RBAC or 404 for a kind the server does not serve.
fn is_permanent(e: &watcher::Error) -> bool {
    let (watcher::Error::InitialListFailed(kube::Error::Api(status))
    | watcher::Error::WatchStartFailed(kube::Error::Api(status))) = e
    else {
        return false;
    };
    (400..500).contains(&status.code) && status.code != 429 && status.code != 410
}

/// One kind's watch as it starts: its readiness and the error it is stuck on, if any.
struct Starting {
    what: &'static str,
    ready: Arc<AtomicBool>,
    last_error: Arc<Mutex<Option<watcher::Error>>>,
    permanent: oneshot::Receiver<watcher::Error>,
    ready_wait: futures::future::BoxFuture<'static, ()>,
}

/// Counters shared by every watch task.
#[derive(Debug, Default)]
struct Counters {
    /// Events applied (objects added, changed or deleted, and completed lists).
    events: AtomicU64,
    /// Completed full lists.
    lists: AtomicU64,
}

/// Reflect every object of `api` into a store, stripped by `strip`, from a spawned task.
fn spawn_watch<K>(
    events: impl futures::Stream<Item = Result<Event<K>, watcher::Error>> + Send + 'static,
    what: &'static str,
    strip: fn(&mut K),
    counters: Arc<Counters>,
) -> (Store<K>, JoinHandle<()>, Starting)
where
    K: kube::Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let (store, writer) = reflector::store();
    let ready = Arc::new(AtomicBool::new(false));
    let last_error = Arc::new(Mutex::new(None));
    let (permanent_tx, permanent) = oneshot::channel();
    // The strip runs before the reflector, so that only stripped objects are ever cached (the
    // watcher has already taken each event's resourceVersion by then).
    let stream = reflector::reflector(writer, events.modify(strip));
    let task = {
        let ready = ready.clone();
        let last_error = last_error.clone();
        tokio::spawn(async move {
            let mut stream = std::pin::pin!(stream);
            let mut permanent_tx = Some(permanent_tx);
            while let Some(event) = stream.next().await {
                match event {
                    Ok(Event::Apply(_) | Event::Delete(_)) => {
                        counters.events.fetch_add(1, Ordering::AcqRel);
                    }
                    Ok(Event::InitDone) => {
                        counters.events.fetch_add(1, Ordering::AcqRel);
                        counters.lists.fetch_add(1, Ordering::AcqRel);
                        ready.store(true, Ordering::Release);
                        permanent_tx = None;
                    }
                    Ok(Event::Init | Event::InitApply(_)) => {}
                    Err(e) if !ready.load(Ordering::Acquire) && is_permanent(&e) => {
                        if let Some(tx) = permanent_tx.take() {
                            let _ = tx.send(e);
                        }
                        return;
                    }
                    Err(e) => {
                        // The watcher resumes (re-listing when it must) after a backoff.
                        tracing::warn!(resource = what, error = %api_error::render(&e), "watch failed; retrying");
                        if !ready.load(Ordering::Acquire) {
                            *last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                        }
                    }
                }
            }
            tracing::warn!(resource = what, "watch ended");
        })
    };
    let ready_wait = {
        let store = store.clone();
        Box::pin(async move {
            // Err only when the writer is gone, i.e. the task ended: the permanent error (or
            // the task's end) is reported by the caller.
            if store.wait_until_ready().await.is_err() {
                futures::future::pending::<()>().await;
            }
        })
    };
    (
        store,
        task,
        Starting {
            what,
            ready,
            last_error,
            permanent,
            ready_wait,
        },
    )
}

/// The watch events of a kind read with its own type.
fn typed_events<K>(
    client: &kube::Client,
) -> impl futures::Stream<Item = Result<Event<K>, watcher::Error>> + Send + 'static
where
    K: kube::Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + 'static,
{
    watcher(Api::<K>::all(client.clone()), watcher::Config::default()).default_backoff()
}

/// The watch events of PDBs read at the served version, as `policy/v1` objects.
fn pdb_events(
    client: &kube::Client,
    version: PdbVersion,
) -> impl futures::Stream<Item = Result<Event<PodDisruptionBudget>, watcher::Error>> + Send + 'static
{
    watcher(version.api(client), watcher::Config::default())
        .default_backoff()
        .map(move |event| {
            event.and_then(|e| {
                convert_event(e, |o| version.to_v1(o))
                    .map_err(|e| watcher::Error::WatchFailed(kube::Error::SerdeError(e)))
            })
        })
}

/// The same event with its object converted.
fn convert_event<A, B, E>(
    event: Event<A>,
    convert: impl Fn(A) -> Result<B, E>,
) -> Result<Event<B>, E> {
    Ok(match event {
        Event::Apply(o) => Event::Apply(convert(o)?),
        Event::Delete(o) => Event::Delete(convert(o)?),
        Event::Init => Event::Init,
        Event::InitApply(o) => Event::InitApply(convert(o)?),
        Event::InitDone => Event::InitDone,
    })
}

/// Wait until one kind has listed, or report why it cannot.
async fn until_ready(mut s: Starting) -> Result<(), LiveError> {
    tokio::select! {
        () = &mut s.ready_wait => Ok(()),
        Ok(source) = &mut s.permanent => Err(LiveError::WatchFailed { what: s.what, source }),
    }
}

/// The live view of one cluster for the duration of a run. Dropping it stops its watches.
pub struct LiveCluster {
    cluster_id: Option<String>,
    nodes: Store<Node>,
    volumes: Store<PersistentVolume>,
    claims: Store<PersistentVolumeClaim>,
    replica_sets: Store<ReplicaSet>,
    deployments: Store<Deployment>,
    stateful_sets: Store<StatefulSet>,
    daemon_sets: Store<DaemonSet>,
    cron_jobs: Store<CronJob>,
    jobs: Store<Job>,
    pdbs: Store<PodDisruptionBudget>,
    pods: Store<Pod>,
    counters: Arc<Counters>,
    tasks: Vec<JoinHandle<()>>,
}

impl Debug for LiveCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveCluster")
            .field("cluster_id", &self.cluster_id)
            .field("nodes", &self.nodes.len())
            .field("pods", &self.pods.len())
            .field("generation", &self.generation())
            .finish_non_exhaustive()
    }
}

impl Drop for LiveCluster {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Objects of a store in the API server's list order (namespace, then name).
fn in_list_order<K: kube::Resource<DynamicType = ()> + Clone>(store: &Store<K>) -> Vec<Arc<K>> {
    let mut objects = store.state();
    objects.sort_unstable_by(|a, b| {
        let (a, b) = (a.meta(), b.meta());
        (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name))
    });
    objects
}

impl LiveCluster {
    /// Start watching nodes, PVs, PVCs, ReplicaSets, Deployments, StatefulSets, DaemonSets,
    /// CronJobs, Jobs, PDBs (at `pdb_version`, from [`super::served`]) and pods, and wait (up to
    /// [`START_TIMEOUT`]) until each has been listed. Needs a Tokio runtime: the watches run as
    /// spawned tasks.
    pub async fn start(
        client: &kube::Client,
        cluster_id: Option<String>,
        pdb_version: PdbVersion,
    ) -> Result<LiveCluster, LiveError> {
        Self::start_with_timeout(client, cluster_id, pdb_version, START_TIMEOUT).await
    }

    /// [`start`](Self::start) with another timeout for the initial lists.
    pub async fn start_with_timeout(
        client: &kube::Client,
        cluster_id: Option<String>,
        pdb_version: PdbVersion,
        timeout: Duration,
    ) -> Result<LiveCluster, LiveError> {
        let started = Instant::now();
        let serves_cron_jobs = super::served::serves_cron_jobs(client)
            .await
            .map_err(LiveError::CronJobDiscovery)?;
        let counters = Arc::new(Counters::default());
        let mut tasks = Vec::new();
        let mut starting = Vec::new();
        macro_rules! watch {
            ($kind:ty, $what:literal, $strip:expr) => {
                watch!($kind, $what, $strip, typed_events::<$kind>(client))
            };
            ($kind:ty, $what:literal, $strip:expr, $events:expr) => {{
                let (store, task, s) =
                    spawn_watch::<$kind>($events, $what, $strip, counters.clone());
                tasks.push(task);
                starting.push(s);
                store
            }};
        }
        let mut live = LiveCluster {
            cluster_id,
            nodes: watch!(Node, "nodes", strip_node),
            volumes: watch!(PersistentVolume, "persistentvolumes", strip_volume),
            claims: watch!(PersistentVolumeClaim, "persistentvolumeclaims", strip_claim),
            replica_sets: watch!(ReplicaSet, "replicasets", strip_replica_set),
            deployments: watch!(Deployment, "deployments", strip_deployment),
            stateful_sets: watch!(StatefulSet, "statefulsets", strip_stateful_set),
            daemon_sets: watch!(DaemonSet, "daemonsets", strip_daemon_set),
            // Not served (Kubernetes 1.20): an empty store, as the snapshot reads none.
            cron_jobs: if serves_cron_jobs {
                watch!(CronJob, "cronjobs", strip_cron_job)
            } else {
                reflector::store().0
            },
            jobs: watch!(Job, "jobs", strip_job),
            pdbs: watch!(
                PodDisruptionBudget,
                "poddisruptionbudgets",
                strip_pdb,
                pdb_events(client, pdb_version)
            ),
            pods: watch!(Pod, "pods", strip_pod),
            counters,
            tasks: Vec::new(),
        };
        // Dropping `live` on an early return aborts every task.
        live.tasks = tasks;
        let states: Vec<_> = starting
            .iter()
            .map(|s| (s.what, s.ready.clone(), s.last_error.clone()))
            .collect();
        let all = futures::future::try_join_all(starting.into_iter().map(until_ready));
        match tokio::time::timeout(timeout, all).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => {
                let mut pending = Vec::new();
                for (what, ready, last_error) in states {
                    if ready.load(Ordering::Acquire) {
                        continue;
                    }
                    // A kind that kept failing is reported with its error; else, slowness.
                    let last = last_error.lock().unwrap_or_else(|p| p.into_inner()).take();
                    if let Some(source) = last {
                        return Err(LiveError::WatchFailed { what, source });
                    }
                    pending.push(what);
                }
                return Err(LiveError::NotReady {
                    what: pending.join(", "),
                    waited: timeout,
                });
            }
        }
        tracing::debug!(
            nodes = live.nodes.len(),
            pods = live.pods.len(),
            elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "live cluster view ready"
        );
        Ok(live)
    }

    /// Project the caches into a [`Snapshot`], exactly as
    /// [`read_snapshot`](super::snapshot::read_snapshot) projects the lists. Read
    /// [`generation`](Self::generation) before calling this to know what it includes.
    pub fn snapshot(&self) -> Result<Snapshot, ProjectError> {
        let mut p = Projection::new(self.cluster_id.clone(), now_seconds());
        p.nodes(in_list_order(&self.nodes))?;
        p.volumes(in_list_order(&self.volumes));
        p.claims(in_list_order(&self.claims));
        p.replica_sets(in_list_order(&self.replica_sets))?;
        p.deployments(in_list_order(&self.deployments))?;
        p.stateful_sets(in_list_order(&self.stateful_sets))?;
        p.daemon_sets(in_list_order(&self.daemon_sets))?;
        p.cron_jobs(in_list_order(&self.cron_jobs))?;
        p.jobs(in_list_order(&self.jobs))?;
        p.pdbs(in_list_order(&self.pdbs))?;
        p.pods(in_list_order(&self.pods))?;
        Ok(p.finish())
    }

    /// The pods bound to `node` (any phase, terminating ones included), by namespace and name.
    /// They are the cache's stripped objects (see the module docs).
    pub fn pods_on_node(&self, node: &str) -> Vec<Arc<Pod>> {
        let mut pods = self.pods.state_filter(|p| {
            p.spec
                .as_ref()
                .and_then(|s| s.node_name.as_deref())
                .is_some_and(|n| n == node)
        });
        pods.sort_unstable_by(|a, b| {
            (&a.metadata.namespace, &a.metadata.name)
                .cmp(&(&b.metadata.namespace, &b.metadata.name))
        });
        pods
    }

    /// The node named `name`, as cached (stripped: no image list, no managed fields).
    pub fn node(&self, name: &str) -> Option<Arc<Node>> {
        self.nodes.get(&ObjectRef::new(name))
    }

    /// A counter that moves with every change the watches apply (an object added, changed or
    /// deleted, a re-list completed). Equal values mean equal views: a caller may keep its last
    /// snapshot.
    pub fn generation(&self) -> u64 {
        self.counters.events.load(Ordering::Acquire)
    }

    /// How many full lists the watches have done: one per kind at start, one more each time a
    /// watch had to re-list (its resourceVersion expired, 410 Gone).
    pub fn lists(&self) -> u64 {
        self.counters.lists.load(Ordering::Acquire)
    }
}

/// Drop managed fields and every annotation `keep` rejects (the last-applied copy always).
fn strip_meta(meta: &mut ObjectMeta, keep: impl Fn(&str) -> bool) {
    meta.managed_fields = None;
    if let Some(annotations) = &mut meta.annotations {
        annotations.retain(|k, _| k != LAST_APPLIED && keep(k));
        if annotations.is_empty() {
            meta.annotations = None;
        }
    }
}

fn no_annotations(_: &str) -> bool {
    false
}

/// A container reduced to its name, requests and restart policy (which makes an init container
/// a sidecar): what effective requests are computed from.
fn strip_container(c: Container) -> Container {
    Container {
        name: c.name,
        restart_policy: c.restart_policy,
        resources: c.resources.map(|r| ResourceRequirements {
            requests: r.requests,
            ..ResourceRequirements::default()
        }),
        ..Container::default()
    }
}

/// A volume kept only when it binds the pod to its node or its data (host path, emptyDir,
/// claim, generic ephemeral claim); configMaps, secrets, projected tokens and the like go.
fn strip_pod_volume(v: Volume) -> Option<Volume> {
    let keep = v.host_path.is_some()
        || v.empty_dir.is_some()
        || v.persistent_volume_claim.is_some()
        || v.ephemeral.is_some();
    keep.then(|| Volume {
        name: v.name,
        host_path: v.host_path,
        empty_dir: v.empty_dir,
        persistent_volume_claim: v.persistent_volume_claim,
        // The claim is named after the pod and the volume; its template is never read.
        ephemeral: v.ephemeral.map(|_| EphemeralVolumeSource::default()),
        ..Volume::default()
    })
}

/// A pod reduced to what the projection and the drain read: identity, labels, owners, the
/// mirror annotation, deletion, scheduling constraints, requests, node-bound volumes, phase and
/// the Ready condition.
pub fn strip_pod(p: &mut Pod) {
    strip_meta(&mut p.metadata, |k| k == MIRROR_ANNOTATION);
    if let Some(spec) = p.spec.take() {
        let affinity = spec.affinity.map(|a| Affinity {
            node_affinity: a.node_affinity.map(|n| NodeAffinity {
                required_during_scheduling_ignored_during_execution: n
                    .required_during_scheduling_ignored_during_execution,
                ..NodeAffinity::default()
            }),
            pod_affinity: a.pod_affinity.map(|n| PodAffinity {
                required_during_scheduling_ignored_during_execution: n
                    .required_during_scheduling_ignored_during_execution,
                ..PodAffinity::default()
            }),
            pod_anti_affinity: a.pod_anti_affinity.map(|n| PodAntiAffinity {
                required_during_scheduling_ignored_during_execution: n
                    .required_during_scheduling_ignored_during_execution,
                ..PodAntiAffinity::default()
            }),
        });
        p.spec = Some(PodSpec {
            node_name: spec.node_name,
            priority: spec.priority,
            preemption_policy: spec.preemption_policy,
            termination_grace_period_seconds: spec.termination_grace_period_seconds,
            node_selector: spec.node_selector,
            affinity,
            tolerations: spec.tolerations,
            topology_spread_constraints: spec.topology_spread_constraints,
            volumes: spec
                .volumes
                .map(|v| v.into_iter().filter_map(strip_pod_volume).collect()),
            containers: spec.containers.into_iter().map(strip_container).collect(),
            init_containers: spec
                .init_containers
                .map(|c| c.into_iter().map(strip_container).collect()),
            overhead: spec.overhead,
            resources: spec.resources.map(|r| ResourceRequirements {
                requests: r.requests,
                ..ResourceRequirements::default()
            }),
            ..PodSpec::default()
        });
    }
    if let Some(status) = p.status.take() {
        p.status = Some(PodStatus {
            phase: status.phase,
            conditions: status.conditions.map(|c| {
                c.into_iter()
                    .filter(|c| c.type_ == "Ready")
                    .map(|c| PodCondition {
                        type_: c.type_,
                        status: c.status,
                        ..PodCondition::default()
                    })
                    .collect()
            }),
            ..PodStatus::default()
        });
    }
}

/// A node without what only the kubelet and the scheduler's image locality care about: image
/// lists, attached volumes, daemon endpoints. Spec, labels, annotations (but the last-applied
/// copy), conditions, addresses, capacity and node info stay.
pub fn strip_node(n: &mut Node) {
    strip_meta(&mut n.metadata, |_| true);
    if let Some(status) = n.status.take() {
        n.status = Some(NodeStatus {
            addresses: status.addresses,
            allocatable: status.allocatable,
            capacity: status.capacity,
            conditions: status.conditions,
            node_info: status.node_info,
            ..NodeStatus::default()
        });
    }
}

/// A PV reduced to its node affinity and class.
pub fn strip_volume(pv: &mut PersistentVolume) {
    strip_meta(&mut pv.metadata, no_annotations);
    pv.spec = pv.spec.take().map(|s| PersistentVolumeSpec {
        node_affinity: s.node_affinity,
        storage_class_name: s.storage_class_name,
        ..PersistentVolumeSpec::default()
    });
    pv.status = None;
}

/// A PVC reduced to its bound volume and class.
pub fn strip_claim(pvc: &mut PersistentVolumeClaim) {
    strip_meta(&mut pvc.metadata, no_annotations);
    pvc.spec = pvc.spec.take().map(|s| PersistentVolumeClaimSpec {
        volume_name: s.volume_name,
        storage_class_name: s.storage_class_name,
        ..PersistentVolumeClaimSpec::default()
    });
    pvc.status = None;
}

/// A ReplicaSet without its pod template and conditions (owners, replicas, selector stay).
pub fn strip_replica_set(rs: &mut ReplicaSet) {
    strip_meta(&mut rs.metadata, no_annotations);
    if let Some(spec) = &mut rs.spec {
        spec.template = None;
    }
    if let Some(status) = &mut rs.status {
        status.conditions = None;
    }
}

/// A Deployment without its pod template and conditions.
pub fn strip_deployment(d: &mut Deployment) {
    strip_meta(&mut d.metadata, no_annotations);
    if let Some(spec) = &mut d.spec {
        spec.template = PodTemplateSpec::default();
    }
    if let Some(status) = &mut d.status {
        status.conditions = None;
    }
}

/// A StatefulSet without its pod and claim templates and conditions.
pub fn strip_stateful_set(s: &mut StatefulSet) {
    strip_meta(&mut s.metadata, no_annotations);
    if let Some(spec) = &mut s.spec {
        spec.template = PodTemplateSpec::default();
        spec.volume_claim_templates = None;
    }
    if let Some(status) = &mut s.status {
        status.conditions = None;
    }
}

/// A DaemonSet without its pod template and conditions.
pub fn strip_daemon_set(d: &mut DaemonSet) {
    strip_meta(&mut d.metadata, no_annotations);
    if let Some(spec) = &mut d.spec {
        spec.template = PodTemplateSpec::default();
    }
    if let Some(status) = &mut d.status {
        status.conditions = None;
    }
}

/// A CronJob without its Job's pod template and its status (owners and the template's selector
/// stay).
pub fn strip_cron_job(c: &mut CronJob) {
    strip_meta(&mut c.metadata, no_annotations);
    if let Some(spec) = c.spec.as_mut().and_then(|s| s.job_template.spec.as_mut()) {
        spec.template = PodTemplateSpec::default();
    }
    c.status = None;
}

/// A Job without its pod template and the per-pod bookkeeping of its status; its conditions
/// stay, they say whether it has finished.
pub fn strip_job(j: &mut Job) {
    strip_meta(&mut j.metadata, no_annotations);
    if let Some(spec) = &mut j.spec {
        spec.template = PodTemplateSpec::default();
    }
    if let Some(status) = &mut j.status {
        status.uncounted_terminated_pods = None;
        status.failed_indexes = None;
        status.completed_indexes = None;
    }
}

/// A PDB without its conditions and its list of pods being disrupted (one entry per eviction
/// in flight, on a busy cluster).
pub fn strip_pdb(p: &mut PodDisruptionBudget) {
    strip_meta(&mut p.metadata, no_annotations);
    if let Some(status) = &mut p.status {
        status.conditions = None;
        status.disrupted_pods = None;
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::k8s::project::{self, Resolver};

    fn from<T: DeserializeOwned>(v: Value) -> T {
        serde_json::from_value(v).expect("fixture is a valid object")
    }

    fn meta(ns: Option<&str>, name: &str) -> Value {
        json!({"name": name, "namespace": ns, "uid": "u-1", "resourceVersion": "42",
            "labels": {"app": "web"},
            "annotations": {LAST_APPLIED: "{\"huge\": true}", "team": "shop",
                            MIRROR_ANNOTATION: "abc"},
            "managedFields": [{"manager": "kubectl", "operation": "Apply"}]})
    }

    /// A pod with every field the projection reads and much it does not.
    fn full_pod() -> Pod {
        let mut m = meta(Some("db"), "pg-0");
        m["deletionTimestamp"] = json!("2026-11-27T10:00:00Z");
        m["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "name": "web-7d9c5b", "uid": "o", "controller": true}]);
        from(json!({"metadata": m, "spec": {
            "nodeName": "10.0.1.13", "priority": 100, "preemptionPolicy": "Never", "terminationGracePeriodSeconds": 7,
            "serviceAccountName": "pg", "hostname": "pg-0",
            "nodeSelector": {"disk": "ssd"},
            "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoExecute"}],
            "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone",
                "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"app": "pg"}}}],
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]},
                    "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1,
                        "preference": {"matchExpressions": [{"key": "x", "operator": "Exists"}]}}]},
                "podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                    {"labelSelector": {"matchLabels": {"app": "cache"}}, "topologyKey": "zone"}]},
                "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                    {"labelSelector": {"matchLabels": {"app": "pg"}},
                     "topologyKey": "kubernetes.io/hostname"}]}},
            "overhead": {"cpu": "50m"},
            "resources": {"requests": {"memory": "2Gi"}, "limits": {"memory": "4Gi"}},
            "initContainers": [
                {"name": "mesh", "image": "envoy", "restartPolicy": "Always",
                 "args": ["--big"], "resources": {"requests": {"cpu": "200m"}}},
                {"name": "migrate", "image": "m", "command": ["sh"],
                 "resources": {"requests": {"cpu": "1"}}}],
            "containers": [{"name": "pg", "image": "postgres:16",
                "env": [{"name": "PGDATA", "value": "/data"}],
                "livenessProbe": {"exec": {"command": ["pg_isready"]}},
                "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                "resources": {"requests": {"cpu": "500m", "memory": "1Gi", "nvidia.com/gpu": "1"},
                              "limits": {"cpu": "1"}}}],
            "volumes": [
                {"name": "data", "persistentVolumeClaim": {"claimName": "data-pg-0"}},
                {"name": "logs", "hostPath": {"path": "/var/log"}},
                {"name": "scratch", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
                {"name": "eph", "ephemeral": {"volumeClaimTemplate": {"spec": {
                    "accessModes": ["ReadWriteOnce"], "storageClassName": "cbs"}}}},
                {"name": "cfg", "configMap": {"name": "pg"}},
                {"name": "token", "projected": {"sources": []}}]},
            "status": {"phase": "Running", "podIP": "172.16.0.9",
                "conditions": [{"type": "PodScheduled", "status": "True"},
                               {"type": "Ready", "status": "True", "message": "ok"}],
                "containerStatuses": [{"name": "pg", "ready": true, "restartCount": 0,
                    "image": "postgres:16", "imageID": "sha256:abc"}]}}))
    }

    fn resolver() -> Resolver {
        let mut r = Resolver::default();
        r.add_replica_set(&from(
            json!({"metadata": {"namespace": "db", "name": "web-7d9c5b",
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                                 "uid": "d", "controller": true}]}}),
        ));
        r.add_claim(&from(
            json!({"metadata": {"namespace": "db", "name": "data-pg-0"},
            "spec": {"volumeName": "pv-1", "storageClassName": "local"}}),
        ));
        r
    }

    #[test]
    fn stripped_pod_projects_like_the_full_pod() {
        let full = full_pod();
        let mut stripped = full.clone();
        strip_pod(&mut stripped);
        let r = resolver();
        assert_eq!(
            project::pod(&r, &stripped).expect("stripped"),
            project::pod(&r, &full).expect("full")
        );
        // And it is smaller: what the projection never reads is gone.
        let json = serde_json::to_string(&stripped).expect("serialises");
        for gone in [
            LAST_APPLIED,
            "managedFields",
            "postgres:16",
            "PGDATA",
            "livenessProbe",
            "configMap",
            "projected",
            "containerStatuses",
            "preferredDuringScheduling",
            "limits",
            "PodScheduled",
            "team",
            "volumeClaimTemplate",
        ] {
            assert!(!json.contains(gone), "{gone} kept: {json}");
        }
        // The drain still sees what it decides on.
        assert!(json.contains(MIRROR_ANNOTATION) && json.contains("deletionTimestamp"));
    }

    #[test]
    fn stripped_node_projects_like_the_full_node() {
        let mut m = meta(None, "10.0.1.11");
        m["labels"] = json!({"kubernetes.io/hostname": "vm-1",
            "cloud.tencent.com/node-instance-id": "ins-abcd1234"});
        let full: Node = from(json!({"metadata": m,
            "spec": {"providerID": "qcloud:///100003/ins-abcd1234", "unschedulable": true,
                     "taints": [{"key": "k", "value": "v", "effect": "NoSchedule"}]},
            "status": {"allocatable": {"cpu": "3900m", "memory": "7Gi", "pods": "61"},
                "capacity": {"cpu": "4"},
                "addresses": [{"type": "InternalIP", "address": "10.0.1.11"}],
                "conditions": [{"type": "Ready", "status": "True"}],
                "images": [{"names": ["nginx:1.27"], "sizeBytes": 1}],
                "volumesInUse": ["kubernetes.io/csi/x"],
                "nodeInfo": {"architecture": "amd64", "bootID": "", "containerRuntimeVersion": "",
                    "kernelVersion": "", "kubeProxyVersion": "", "kubeletVersion": "v1.32.2",
                    "machineID": "", "operatingSystem": "linux", "osImage": "", "systemUUID": ""}}}));
        let mut stripped = full.clone();
        strip_node(&mut stripped);
        assert_eq!(
            project::node(&stripped).expect("stripped"),
            project::node(&full).expect("full")
        );
        let json = serde_json::to_string(&stripped).expect("serialises");
        for gone in [LAST_APPLIED, "managedFields", "nginx:1.27", "volumesInUse"] {
            assert!(!json.contains(gone), "{gone} kept: {json}");
        }
        assert!(json.contains("v1.32.2") && json.contains("team"));
    }

    #[test]
    fn stripped_workloads_volumes_and_pdbs_project_alike() {
        let template = json!({"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}});
        let selector = json!({"matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["batch"]}]});
        let status = json!({"replicas": 3, "readyReplicas": 2,
            "conditions": [{"type": "Available", "status": "True"}]});

        let d: Deployment = from(json!({"metadata": meta(Some("shop"), "web"),
            "spec": {"replicas": 3, "selector": selector, "template": template},
            "status": status}));
        let mut sd = d.clone();
        strip_deployment(&mut sd);
        assert_eq!(project::deployment(&sd).ok(), project::deployment(&d).ok());

        let rs: ReplicaSet = from(json!({"metadata": meta(Some("shop"), "bare"),
            "spec": {"replicas": 3, "selector": selector, "template": template},
            "status": status}));
        let mut srs = rs.clone();
        strip_replica_set(&mut srs);
        assert_eq!(
            project::replica_set(&srs).ok(),
            project::replica_set(&rs).ok()
        );

        let s: StatefulSet = from(json!({"metadata": meta(Some("shop"), "db"),
            "spec": {"replicas": 2, "selector": selector, "template": template,
                     "serviceName": "db", "volumeClaimTemplates": [{"metadata": {"name": "data"}}]},
            "status": status}));
        let mut ss = s.clone();
        strip_stateful_set(&mut ss);
        assert_eq!(
            project::stateful_set(&ss).ok(),
            project::stateful_set(&s).ok()
        );

        let ds: DaemonSet = from(json!({"metadata": meta(Some("kube-system"), "proxy"),
            "spec": {"selector": selector, "template": template},
            "status": {"desiredNumberScheduled": 5, "numberReady": 4, "currentNumberScheduled": 5,
                       "numberMisscheduled": 0}}));
        let mut sds = ds.clone();
        strip_daemon_set(&mut sds);
        assert_eq!(
            project::daemon_set(&sds).ok(),
            project::daemon_set(&ds).ok()
        );

        let cj: CronJob = from(json!({"metadata": meta(Some("batch"), "report"),
            "spec": {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": template}}},
            "status": {"active": [{"kind": "Job", "name": "report-1"}]}}));
        let mut scj = cj.clone();
        strip_cron_job(&mut scj);
        assert_eq!(project::cron_job(&scj).ok(), project::cron_job(&cj).ok());

        let job: Job = from(json!({"metadata": meta(Some("batch"), "backup"),
            "spec": {"parallelism": 2, "completions": 3, "selector": selector, "template": template},
            "status": {"active": 2, "ready": 1, "succeeded": 1,
                       "uncountedTerminatedPods": {"succeeded": ["u1"]},
                       "conditions": [{"type": "Complete", "status": "False"}]}}));
        let mut sjob = job.clone();
        strip_job(&mut sjob);
        assert_eq!(project::job(&sjob).ok(), project::job(&job).ok());

        let pdb: PodDisruptionBudget = from(json!({"metadata": meta(Some("shop"), "web"),
            "spec": {"minAvailable": "50%", "selector": selector,
                     "unhealthyPodEvictionPolicy": "AlwaysAllow"},
            "status": {"disruptionsAllowed": 1, "currentHealthy": 3, "desiredHealthy": 2,
                       "expectedPods": 3, "disruptedPods": {"web-1": "2026-11-27T10:00:00Z"}}}));
        let mut spdb = pdb.clone();
        strip_pdb(&mut spdb);
        assert_eq!(project::pdb(&spdb).ok(), project::pdb(&pdb).ok());

        // Volumes and claims: the resolver must pin the same node through the stripped pair.
        let pv: PersistentVolume = from(json!({"metadata": meta(None, "pv-1"), "spec": {
            "capacity": {"storage": "10Gi"}, "local": {"path": "/mnt/ssd"},
            "storageClassName": "local",
            "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "In", "values": ["vm-1"]}]}]}}},
            "status": {"phase": "Bound"}}));
        let pvc: PersistentVolumeClaim = from(json!({"metadata": meta(Some("db"), "data-pg-0"),
            "spec": {"volumeName": "pv-1", "accessModes": ["ReadWriteOnce"]},
            "status": {"phase": "Bound"}}));
        let (mut spv, mut spvc) = (pv.clone(), pvc.clone());
        strip_volume(&mut spv);
        strip_claim(&mut spvc);
        let pod = full_pod();
        let resolved = |pv: &PersistentVolume, pvc: &PersistentVolumeClaim| {
            let mut r = Resolver::default();
            r.add_volume(pv);
            r.add_claim(pvc);
            project::pod(&r, &pod).expect("pod").volumes
        };
        assert_eq!(resolved(&spv, &spvc), resolved(&pv, &pvc));
        assert!(spv.status.is_none() && spvc.status.is_none());
    }

    #[test]
    fn only_client_errors_other_than_throttling_stop_the_start() {
        let api = |code: u16| {
            watcher::Error::InitialListFailed(kube::Error::Api(Box::new(
                kube::core::Status::failure("x", "y").with_code(code),
            )))
        };
        // (case, error, permanent)
        let cases: Vec<(&str, watcher::Error, bool)> = vec![
            ("forbidden", api(403), true),
            ("not_served", api(404), true),
            ("throttled", api(429), false),
            ("expired", api(410), false),
            ("server_error", api(503), false),
            (
                "no_resource_version",
                watcher::Error::NoResourceVersion,
                false,
            ),
        ];
        for (case, e, want) in cases {
            assert_eq!(is_permanent(&e), want, "{case}");
        }
    }
}

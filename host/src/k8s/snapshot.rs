//! Reading a [`Snapshot`] from the API server: every list paginated 500 at a time and projected
//! page by page, so that the host holds only a few pages of full Kubernetes objects at a time.
//!
//! [`Projection`] is the one projection of a cluster's objects into a [`Snapshot`], fed kind by
//! kind in dependency order; [`read_snapshot`] feeds it list pages, the live view
//! ([`super::live`]) feeds it its watch caches.
//!
//! Consistency: each list is one consistent read (its continue tokens pin the resourceVersion of
//! its first page). The lists are read concurrently but projected in dependency order (nodes,
//! volumes, claims, ReplicaSets, Jobs before pods) so that every pod's owner and claims can be resolved
//! when it is projected; objects created while the lists are read are simply absent or
//! unresolved, which a check run tolerates.

use std::borrow::Borrow;
use std::future::Future;
use std::sync::Arc;

use futures::future::{BoxFuture, FutureExt, ready};
use std::collections::HashMap;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta;
use kube::Resource;
use kube::api::{DynamicObject, ListParams, ObjectList};
use kube::core::Request;
use serde::de::DeserializeOwned;
use tokio::sync::{Semaphore, mpsc, watch};

use super::project::{self, ProjectError, Resolver};
use super::wire::LeanPod;
use crate::bindings::types::Pod as ProjectedPod;
use crate::bindings::types::Workload;
use crate::snapshot::{Snapshot, SnapshotError, SnapshotFile};

/// Objects per list request, as kubectl pages.
pub const PAGE_SIZE: u32 = 500;

/// Reading the snapshot failed.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotReadError {
    /// A list request failed.
    #[error("failed to list {what}")]
    List {
        /// Plural resource, e.g. `pods`.
        what: &'static str,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// Discovery of the served PDB version failed.
    #[error("failed to find which PodDisruptionBudget version the cluster serves")]
    Discovery(#[source] super::served::ServedError),
    /// Discovery of batch/v1 CronJobs failed.
    #[error("failed to find whether the cluster serves batch/v1 CronJobs")]
    CronJobDiscovery(#[source] super::served::ServedError),
    /// The snapshot file could not be written.
    #[error(transparent)]
    Write(#[from] SnapshotError),
    /// An object could not be projected.
    #[error("failed to read {what}")]
    Project {
        /// Plural resource.
        what: &'static str,
        /// Why.
        #[source]
        source: ProjectError,
    },
}

/// Where a [`Projection`] is in the dependency order; each kind must come after the ones before
/// it in this list, because pods resolve through everything else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Nodes,
    Volumes,
    Claims,
    ReplicaSets,
    Deployments,
    StatefulSets,
    DaemonSets,
    CronJobs,
    Jobs,
    Pdbs,
    Pods,
}

/// The projection of a cluster's objects into a [`Snapshot`].
///
/// Feed it in this order, each kind in as many batches as convenient (a list page, or a whole
/// watch cache): nodes, PersistentVolumes, PersistentVolumeClaims, ReplicaSets, Deployments,
/// StatefulSets, DaemonSets, CronJobs, Jobs, PodDisruptionBudgets, pods; then [`finish`](Self::finish). Each
/// method takes owned objects, references or `Arc`s alike. Only the compact records are kept:
/// full objects can be dropped as soon as a batch is projected.
#[derive(Debug)]
pub struct Projection {
    snapshot: Snapshot,
    /// Shared with the pods' projection once complete ([`Self::pod_resolver`]); before that it
    /// is this projection's alone, so `Arc::make_mut` never copies it.
    resolver: Arc<Resolver>,
    stage: Stage,
    /// ReplicaSets no Deployment owns are workloads of their own, listed after the Deployments.
    bare_replica_sets: Vec<Workload>,
    /// (namespace, name) -> index in the workloads of each CronJob, to count its Jobs' pods in.
    cron_jobs: HashMap<(String, String), usize>,
}

impl Projection {
    /// An empty projection for the snapshot of `cluster_id` taken at `taken_at` (Unix seconds).
    pub fn new(cluster_id: Option<String>, taken_at: u64) -> Self {
        Self {
            snapshot: Snapshot {
                cluster_id,
                taken_at,
                ..Snapshot::default()
            },
            resolver: Arc::default(),
            stage: Stage::Nodes,
            bare_replica_sets: Vec::new(),
            cron_jobs: HashMap::new(),
        }
    }

    /// Move to `to`; leaving the Deployments appends the bare ReplicaSets after them.
    fn enter(&mut self, to: Stage) {
        debug_assert!(
            self.stage <= to,
            "projection fed {to:?} after {:?}",
            self.stage
        );
        if self.stage <= Stage::Deployments && to > Stage::Deployments {
            self.snapshot.workloads.append(&mut self.bare_replica_sets);
        }
        self.stage = to;
    }

    /// Nodes (first: local PVs resolve through their hostname labels).
    pub fn nodes<I>(&mut self, items: I) -> Result<(), ProjectError>
    where
        I: IntoIterator,
        I::Item: Borrow<Node>,
    {
        self.enter(Stage::Nodes);
        for n in items {
            let node = project::node(n.borrow())?;
            Arc::make_mut(&mut self.resolver).add_node(&node);
            self.snapshot.nodes.push(node);
        }
        Ok(())
    }

    /// PersistentVolumes.
    pub fn volumes<I>(&mut self, items: I)
    where
        I: IntoIterator,
        I::Item: Borrow<PersistentVolume>,
    {
        self.enter(Stage::Volumes);
        for pv in items {
            Arc::make_mut(&mut self.resolver).add_volume(pv.borrow());
        }
    }

    /// PersistentVolumeClaims.
    pub fn claims<I>(&mut self, items: I)
    where
        I: IntoIterator,
        I::Item: Borrow<PersistentVolumeClaim>,
    {
        self.enter(Stage::Claims);
        for pvc in items {
            Arc::make_mut(&mut self.resolver).add_claim(pvc.borrow());
        }
    }

    /// ReplicaSets: those a Deployment owns become an entry of the resolver, the others are
    /// workloads of their own.
    pub fn replica_sets<I>(&mut self, items: I) -> Result<(), ProjectError>
    where
        I: IntoIterator,
        I::Item: Borrow<ReplicaSet>,
    {
        self.enter(Stage::ReplicaSets);
        for rs in items {
            let rs = rs.borrow();
            Arc::make_mut(&mut self.resolver).add_replica_set(rs);
            let ns = rs.metadata.namespace.as_deref().unwrap_or_default();
            let name = rs.metadata.name.as_deref().unwrap_or_default();
            if !self.resolver.rs_has_deployment(ns, name) {
                self.bare_replica_sets.push(project::replica_set(rs)?);
            }
        }
        Ok(())
    }

    /// Deployments.
    pub fn deployments<I>(&mut self, items: I) -> Result<(), ProjectError>
    where
        I: IntoIterator,
        I::Item: Borrow<Deployment>,
    {
        self.enter(Stage::Deployments);
        for d in items {
            self.snapshot
                .workloads
                .push(project::deployment(d.borrow())?);
        }
        Ok(())
    }

    /// StatefulSets.
    pub fn stateful_sets<I>(&mut self, items: I) -> Result<(), ProjectError>
    where
        I: IntoIterator,
        I::Item: Borrow<StatefulSet>,
    {
        self.enter(Stage::StatefulSets);
        for s in items {
            self.snapshot
                .workloads
                .push(project::stateful_set(s.borrow())?);
        }
        Ok(())
    }

    /// DaemonSets.
    pub fn daemon_sets<I>(&mut self, items: I) -> Result<(), ProjectError>
    where
        I: IntoIterator,
        I::Item: Borrow<DaemonSet>,
    {
        self.enter(Stage::DaemonSets);
        for d in items {
            self.snapshot
                .workloads
                .push(project::daemon_set(d.borrow())?);
        }
        Ok(())
    }

    /// CronJobs (before the Jobs, which count their pods into them).
    pub fn cron_jobs<I>(&mut self, items: I) -> Result<(), ProjectError>
    where
        I: IntoIterator,
        I::Item: Borrow<CronJob>,
    {
        self.enter(Stage::CronJobs);
        for c in items {
            let w = project::cron_job(c.borrow())?;
            self.cron_jobs.insert(
                (w.namespace.clone(), w.name.clone()),
                self.snapshot.workloads.len(),
            );
            self.snapshot.workloads.push(w);
        }
        Ok(())
    }

    /// Jobs: those a CronJob owns become an entry of the resolver (their pods belong to the
    /// CronJob, which counts them), the others are workloads of their own.
    pub fn jobs<I>(&mut self, items: I) -> Result<(), ProjectError>
    where
        I: IntoIterator,
        I::Item: Borrow<Job>,
    {
        self.enter(Stage::Jobs);
        for j in items {
            let j = j.borrow();
            Arc::make_mut(&mut self.resolver).add_job(j);
            let ns = j.metadata.namespace.as_deref().unwrap_or_default();
            let name = j.metadata.name.as_deref().unwrap_or_default();
            match self.resolver.cron_job_of(ns, name) {
                Some(cron_job) => {
                    // A CronJob deleted while its Jobs linger (orphaned until collected) has no
                    // record to count into; its pods still name it as their owner.
                    if let Some(&i) = self.cron_jobs.get(&(ns.to_owned(), cron_job.to_owned())) {
                        project::add_job_pods(&mut self.snapshot.workloads[i], j);
                    }
                }
                None => self.snapshot.workloads.push(project::job(j)?),
            }
        }
        Ok(())
    }

    /// policy/v1 PodDisruptionBudgets.
    pub fn pdbs<I>(&mut self, items: I) -> Result<(), ProjectError>
    where
        I: IntoIterator,
        I::Item: Borrow<PodDisruptionBudget>,
    {
        self.enter(Stage::Pdbs);
        for p in items {
            self.snapshot.pdbs.push(project::pdb(p.borrow())?);
        }
        Ok(())
    }

    /// Pods (last: their owners and claims resolve through everything before).
    pub fn pods<I>(&mut self, items: I) -> Result<(), ProjectError>
    where
        I: IntoIterator,
        I::Item: Borrow<Pod>,
    {
        self.enter(Stage::Pods);
        // One Vec grown by doubling: its large buffers are mmapped, so growing moves pages with
        // mremap instead of copying and the unused tail is never resident. (Collecting pages and
        // concatenating them measured worse: 225 MiB instead of 181 MiB at 150,000 pods.)
        for p in items {
            self.snapshot
                .pods
                .push(project::pod(&self.resolver, p.borrow())?);
        }
        Ok(())
    }

    /// Enter the pod stage and share the now complete resolver, to project pods elsewhere (in
    /// parallel) with [`project::pod`] and feed them with [`Self::projected_pods`].
    pub(crate) fn pod_resolver(&mut self) -> Arc<Resolver> {
        self.enter(Stage::Pods);
        self.resolver.clone()
    }

    /// Pods projected with the resolver of [`Self::pod_resolver`], in list order.
    pub(crate) fn projected_pods(&mut self, pods: Vec<crate::bindings::types::Pod>) {
        self.enter(Stage::Pods);
        self.snapshot.pods.extend(pods);
    }

    /// The snapshot. Kinds never fed are empty.
    pub fn finish(mut self) -> Snapshot {
        self.enter(Stage::Pods);
        let mut snapshot = self.snapshot;
        snapshot.nodes.shrink_to_fit();
        snapshot.pods.shrink_to_fit();
        tracing::debug!(
            nodes = snapshot.nodes.len(),
            pods = snapshot.pods.len(),
            pdbs = snapshot.pdbs.len(),
            workloads = snapshot.workloads.len(),
            "snapshot projected"
        );
        snapshot
    }
}

/// The current time as a snapshot's `taken_at`.
pub(crate) fn now_seconds() -> u64 {
    u64::try_from(jiff::Timestamp::now().as_second()).unwrap_or(0)
}

/// Parsed pages one list may hold ahead of its consumer besides the one being parsed: enough to
/// keep the next request in flight while a page is parsed and projected, few enough that the
/// lists read ahead of the pods hold a few pages each.
const READ_AHEAD: usize = 1;

/// The same for the pods, which wait for every other list to be projected before their own
/// projection can start: lean pods are small (a page of 500 is well under 1 MB parsed), so the
/// pods keep coming meanwhile instead of stalling behind the nodes and workloads.
const POD_READ_AHEAD: usize = 16;

/// A list page on its way (parsed, and for pods projected, on the blocking pool while the next
/// one is fetched), and whether it is the list's last.
struct PendingPage<T> {
    items: BoxFuture<'static, Result<T, SnapshotReadError>>,
    last: bool,
}

impl<T: Send + 'static> PendingPage<T> {
    /// A page already at hand (or a failed read), as the list's last unless told otherwise.
    fn ready(items: Result<T, SnapshotReadError>) -> Self {
        Self {
            items: ready(items).boxed(),
            last: true,
        }
    }
}

/// The pages of one list, read ahead of their consumer.
///
/// A task requests the pages one after the other (each continue token comes from the page
/// before). As soon as a page's body is in, its continue token is read from the list metadata,
/// which API servers write before the items, and the next request goes out while the page is
/// parsed on the blocking pool and then handed to the list's `then` stage (the pods are projected
/// there, off the consumer's thread). The channel holds at most `read_ahead` pages, so a list
/// whose consumer is busy with an earlier list waits instead of filling memory.
struct Pager<T> {
    what: &'static str,
    pages: mpsc::Receiver<PendingPage<T>>,
}

impl<T: Send + 'static> Pager<T> {
    /// Start listing the collection at `path` (e.g. `/api/v1/pods`); `what` names it in errors.
    /// Each page's objects are parsed in their wire form `W` (the object itself, or a lean form
    /// that declares only what the projection reads), then `then` makes the page's `T` of them.
    fn start<W, F, Fut>(
        client: &kube::Client,
        parsers: &Arc<Semaphore>,
        path: String,
        what: &'static str,
        read_ahead: usize,
        then: F,
    ) -> Self
    where
        W: Clone + DeserializeOwned + Send + 'static,
        F: Fn(Vec<W>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, SnapshotReadError>> + Send + 'static,
    {
        let (tx, pages) = mpsc::channel(read_ahead);
        let client = client.clone();
        let parsers = parsers.clone();
        let then = Arc::new(then);
        tokio::spawn(async move {
            let mut params = ListParams::default().limit(PAGE_SIZE);
            loop {
                let (next, page) = match fetch_page(&client, &path, &params).await {
                    Ok(body) => read_page(&parsers, body, what, then.clone()).await,
                    Err(source) => (
                        None,
                        PendingPage::ready(Err(SnapshotReadError::List { what, source })),
                    ),
                };
                if tx.send(page).await.is_err() {
                    return; // The consumer stopped.
                }
                match next {
                    Some(token) => params = params.continue_token(&token),
                    None => return,
                }
            }
        });
        Self { what, pages }
    }

    /// Hand each page to `each`, in order.
    async fn for_each<E: Into<PageError>>(
        mut self,
        mut each: impl FnMut(T) -> Result<(), E>,
    ) -> Result<(), SnapshotReadError> {
        let what = self.what;
        loop {
            // The reader ends the channel only after the last page: an end before it is an
            // error, never a silently shorter list.
            let page = self
                .pages
                .recv()
                .await
                .ok_or_else(|| SnapshotReadError::List {
                    what,
                    source: kube::Error::Service(
                        "the list's reader stopped before its last page".into(),
                    ),
                })?;
            let items = page.items.await?;
            each(items).map_err(|e| match e.into() {
                PageError::Project(source) => SnapshotReadError::Project { what, source },
                PageError::Write(e) => SnapshotReadError::Write(e),
            })?;
            if page.last {
                return Ok(());
            }
        }
    }
}

/// Why the consumer of a page could not take it.
enum PageError {
    Project(ProjectError),
    Write(SnapshotError),
}

impl From<ProjectError> for PageError {
    fn from(e: ProjectError) -> Self {
        Self::Project(e)
    }
}

impl From<SnapshotError> for PageError {
    fn from(e: SnapshotError) -> Self {
        Self::Write(e)
    }
}

/// A list's `then` stage that hands the parsed objects on as they are.
fn as_parsed<K: Send + 'static>(
    items: Vec<K>,
) -> futures::future::Ready<Result<Vec<K>, SnapshotReadError>> {
    ready(Ok(items))
}

/// Start reading a page's `body` (objects in their wire form `W`): a task parses it on the
/// blocking pool (at most as many parses at once as `parsers` allows), then runs `then` on the
/// objects. Returns the next page's continue token (`None` on the last page) with the page on its
/// way. The token comes from the metadata ahead of the items, or from the parsed page when that
/// is the only way to know.
async fn read_page<W, T, F, Fut>(
    parsers: &Arc<Semaphore>,
    body: String,
    what: &'static str,
    then: Arc<F>,
) -> (Option<String>, PendingPage<T>)
where
    W: Clone + DeserializeOwned + Send + 'static,
    T: Send + 'static,
    F: Fn(Vec<W>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, SnapshotReadError>> + Send + 'static,
{
    let peeked = peek_continue(&body);
    let list_error = move |source| SnapshotReadError::List { what, source };
    let parsers = parsers.clone();
    let task = tokio::spawn(async move {
        // The semaphore is never closed; if it were, parsing unthrottled is still correct.
        let permit = parsers.acquire_owned().await;
        let parsed = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            serde_json::from_str::<ObjectList<W>>(&body)
        })
        .await;
        let list = match parsed {
            Ok(list) => list.map_err(|e| list_error(kube::Error::SerdeError(e)))?,
            // A parse that panicked is an error of the list, not a crash.
            Err(e) => return Err(list_error(kube::Error::Service(Box::new(e)))),
        };
        let next = next_token(&list.metadata);
        Ok((next, then(list.items).await?))
    });
    let items = task.map(move |joined| match joined {
        Ok(page) => page,
        Err(e) => Err(list_error(kube::Error::Service(Box::new(e)))),
    });
    let (next, last) = match peeked {
        Peek::Next(token) => (Some(token), false),
        Peek::Last => (None, true),
        // Metadata after the items: the token is known only once the page is read.
        Peek::Unknown => {
            return match items.await {
                Ok((next, items)) => {
                    let mut page = PendingPage::ready(Ok(items));
                    page.last = next.is_none();
                    (next, page)
                }
                Err(e) => (None, PendingPage::ready(Err(e))),
            };
        }
    };
    let page = PendingPage {
        items: items.map(|page| page.map(|(_, items)| items)).boxed(),
        last,
    };
    (next, page)
}

/// One page's body, API errors (non-2xx) as [`kube::Error::Api`].
async fn fetch_page(
    client: &kube::Client,
    path: &str,
    params: &ListParams,
) -> Result<String, kube::Error> {
    let request = Request::new(path)
        .list(params)
        .map_err(kube::Error::BuildRequest)?;
    client.request_text(request).await
}

/// The continue token of a page, if more pages follow.
fn next_token(meta: &ListMeta) -> Option<String> {
    meta.continue_.clone().filter(|c| !c.is_empty())
}

/// What the list metadata ahead of the items says about the next page.
#[derive(Debug, PartialEq, Eq)]
enum Peek {
    /// More pages follow, from this token.
    Next(String),
    /// This is the last page.
    Last,
    /// No metadata ahead of the items: parse the page to know.
    Unknown,
}

/// Read the continue token from the part of a list body before `"items"`, without parsing the
/// items. API servers write `kind`, `apiVersion`, `metadata`, then `items`; if a server wrote the
/// metadata after the items, the answer is [`Peek::Unknown`], never a guess.
fn peek_continue(body: &str) -> Peek {
    #[derive(serde::Deserialize)]
    struct Head {
        metadata: Option<ListMeta>,
    }
    let Some(at) = body.find("\"items\"") else {
        return Peek::Unknown;
    };
    let head = body[..at].trim_end();
    let head = head.strip_suffix(',').unwrap_or(head);
    match serde_json::from_str::<Head>(&format!("{head}}}")) {
        Ok(Head {
            metadata: Some(meta),
        }) => next_token(&meta).map_or(Peek::Last, Peek::Next),
        _ => Peek::Unknown,
    }
}

/// Read nodes, PVs, PVCs, ReplicaSets, Deployments, StatefulSets, DaemonSets, CronJobs, Jobs, PDBs
/// and pods, and
/// project them into a [`Snapshot`]. PDBs are read at the version the cluster serves
/// (discovered first: `policy/v1`, or `policy/v1beta1` on Kubernetes 1.20).
///
/// The eleven lists are read at once, each a [`Pager`] a page or more ahead, and projected in
/// dependency order as their pages arrive: the pods are on the wire while the nodes are
/// projected, a page is parsed while the next one is requested, and the pods are projected on
/// the blocking pool in parallel.
pub async fn read_snapshot(
    client: &kube::Client,
    cluster_id: Option<String>,
) -> Result<Snapshot, SnapshotReadError> {
    let (mut p, pods) = read_lists(client, cluster_id, Ok).await?;
    pods.for_each(|page| {
        p.projected_pods(page);
        Ok::<_, ProjectError>(())
    })
    .await?;
    Ok(p.finish())
}

/// What [`write_snapshot`] wrote.
#[derive(Debug)]
pub struct WrittenSnapshot {
    /// The snapshot without its pods.
    pub head: Snapshot,
    /// How many pods the file holds.
    pub pods: usize,
}

/// Read the cluster as [`read_snapshot`] does and write it to the snapshot file `path`, the pods
/// serialized page by page on the blocking pool as they are projected and appended as they
/// come, so that they are never all in memory and the file is complete soon after the last page.
pub async fn write_snapshot(
    client: &kube::Client,
    cluster_id: Option<String>,
    path: &std::path::Path,
) -> Result<WrittenSnapshot, SnapshotReadError> {
    let (p, pods) = read_lists(client, cluster_id, |page: Vec<ProjectedPod>| {
        Ok((SnapshotFile::pods_json(&page)?, page.len()))
    })
    .await?;
    let head = p.finish();
    let mut file = SnapshotFile::create(path, &head)?;
    pods.for_each(|(json, count): (Vec<u8>, usize)| file.append_pods(&json, count))
        .await?;
    let pods = file.finish()?;
    Ok(WrittenSnapshot { head, pods })
}

/// Start the eleven lists, project all but the pods, and return the projection (entered into its
/// pod stage) with the pods' pager: each page of pods is projected, then made a `T` by
/// `finish_page`, on the blocking pool.
async fn read_lists<T, F>(
    client: &kube::Client,
    cluster_id: Option<String>,
    finish_page: F,
) -> Result<(Projection, Pager<T>), SnapshotReadError>
where
    T: Send + 'static,
    F: Fn(Vec<ProjectedPod>) -> Result<T, SnapshotReadError> + Send + Sync + 'static,
{
    let pdb_version = super::served::discover_pdb(client)
        .await
        .map_err(SnapshotReadError::Discovery)?;
    let serves_cron_jobs = super::served::serves_cron_jobs(client)
        .await
        .map_err(SnapshotReadError::CronJobDiscovery)?;
    // Parses at once: one per core. More would not go faster, and each extra blocking thread
    // is one more malloc arena holding freed pages (measured here: 10-25 MiB more peak memory).
    let parsers = Arc::new(Semaphore::new(
        std::thread::available_parallelism().map_or(2, usize::from),
    ));
    fn typed<K>(
        client: &kube::Client,
        parsers: &Arc<Semaphore>,
        what: &'static str,
    ) -> Pager<Vec<K>>
    where
        K: kube::Resource<DynamicType = ()> + Clone + DeserializeOwned + Send + 'static,
    {
        Pager::start(
            client,
            parsers,
            K::url_path(&(), None),
            what,
            READ_AHEAD,
            as_parsed::<K>,
        )
    }
    let nodes = typed::<Node>(client, &parsers, "nodes");
    let volumes = typed::<PersistentVolume>(client, &parsers, "persistentvolumes");
    let claims = typed::<PersistentVolumeClaim>(client, &parsers, "persistentvolumeclaims");
    let replica_sets = typed::<ReplicaSet>(client, &parsers, "replicasets");
    let deployments = typed::<Deployment>(client, &parsers, "deployments");
    let stateful_sets = typed::<StatefulSet>(client, &parsers, "statefulsets");
    let daemon_sets = typed::<DaemonSet>(client, &parsers, "daemonsets");
    let cron_jobs = serves_cron_jobs.then(|| typed::<CronJob>(client, &parsers, "cronjobs"));
    let jobs = typed::<Job>(client, &parsers, "jobs");
    let pdbs = Pager::start(
        client,
        &parsers,
        DynamicObject::url_path(&pdb_version.resource(), None),
        "poddisruptionbudgets",
        READ_AHEAD,
        as_parsed::<DynamicObject>,
    );
    // Pods are most of the work. They are read in their lean form and projected page by page
    // on the blocking pool, in parallel with the parsing of the next pages, as soon as the
    // resolver is complete (the lists before them are projected).
    let (resolver_tx, resolver_rx) = watch::channel(None::<Arc<Resolver>>);
    let pods = {
        let parsers = parsers.clone();
        let finish_page = Arc::new(finish_page);
        Pager::start(
            client,
            &parsers.clone(),
            Pod::url_path(&(), None),
            "pods",
            POD_READ_AHEAD,
            move |items: Vec<LeanPod>| {
                project_pods(
                    items,
                    resolver_rx.clone(),
                    parsers.clone(),
                    finish_page.clone(),
                )
            },
        )
    };

    let mut p = Projection::new(cluster_id, now_seconds());
    nodes.for_each(|page| p.nodes(page)).await?;
    volumes
        .for_each(|page| {
            p.volumes(page);
            Ok::<_, ProjectError>(())
        })
        .await?;
    claims
        .for_each(|page| {
            p.claims(page);
            Ok::<_, ProjectError>(())
        })
        .await?;
    replica_sets.for_each(|page| p.replica_sets(page)).await?;
    deployments.for_each(|page| p.deployments(page)).await?;
    stateful_sets.for_each(|page| p.stateful_sets(page)).await?;
    daemon_sets.for_each(|page| p.daemon_sets(page)).await?;
    if let Some(cron_jobs) = cron_jobs {
        cron_jobs.for_each(|page| p.cron_jobs(page)).await?;
    }
    jobs.for_each(|page| p.jobs(page)).await?;
    pdbs.for_each(|page| {
        let pdbs = page
            .into_iter()
            .map(|o| pdb_version.to_v1(o))
            .collect::<Result<Vec<_>, _>>()
            .map_err(ProjectError::Convert)?;
        p.pdbs(pdbs)
    })
    .await?;
    // No receiver left only if the pods' reader already ended, which its pager reports.
    let _ = resolver_tx.send(Some(p.pod_resolver()));
    Ok((p, pods))
}

/// The pods' `then` stage: wait until the resolver is complete, then project the page and pass
/// it through `finish_page` on the blocking pool (one of the `parsers` permits, like a parse).
async fn project_pods<T, F>(
    items: Vec<LeanPod>,
    mut resolver: watch::Receiver<Option<Arc<Resolver>>>,
    parsers: Arc<Semaphore>,
    finish_page: Arc<F>,
) -> Result<T, SnapshotReadError>
where
    T: Send + 'static,
    F: Fn(Vec<ProjectedPod>) -> Result<T, SnapshotReadError> + Send + Sync + 'static,
{
    // The sender gone before sending means the snapshot stopped early.
    let resolver = resolver
        .wait_for(Option::is_some)
        .await
        .ok()
        .and_then(|r| r.clone());
    let Some(resolver) = resolver else {
        return Err(SnapshotReadError::List {
            what: "pods",
            source: kube::Error::Service("the snapshot stopped before its pods".into()),
        });
    };
    let permit = parsers.acquire_owned().await;
    let projected = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let pods = items
            .into_iter()
            .map(|p| project::pod(&resolver, &Pod::from(p)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|source| SnapshotReadError::Project {
                what: "pods",
                source,
            })?;
        finish_page(pods)
    })
    .await;
    projected.unwrap_or_else(|e| {
        Err(SnapshotReadError::List {
            what: "pods",
            source: kube::Error::Service(Box::new(e)),
        })
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::{Value, json};

    use super::*;
    use crate::bindings::types::{WorkloadKind, WorkloadRef};

    fn from<T: DeserializeOwned>(v: Value) -> T {
        serde_json::from_value(v).expect("fixture is a valid object")
    }

    fn rs(name: &str, deployment: Option<&str>) -> ReplicaSet {
        let owners = deployment.map(|d| {
            json!([{"apiVersion": "apps/v1", "kind": "Deployment", "name": d, "uid": "d",
                    "controller": true}])
        });
        from(
            json!({"metadata": {"namespace": "shop", "name": name, "ownerReferences": owners},
            "spec": {"selector": {"matchLabels": {"app": name}}}}),
        )
    }

    fn workload<K: DeserializeOwned>(name: &str) -> K {
        from(json!({"metadata": {"namespace": "shop", "name": name},
            "spec": {"selector": {}, "template": {}}}))
    }

    fn pod(name: &str, rs: &str) -> Pod {
        from(
            json!({"metadata": {"namespace": "shop", "name": name, "uid": name,
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs,
                                 "uid": "r", "controller": true}]},
            "spec": {"containers": [{"name": "c"}]}}),
        )
    }

    /// Feed the same objects in batches of `batch` (1 = a page per object).
    fn project(batch: usize) -> Snapshot {
        let replica_sets = [rs("web-1", Some("web")), rs("bare", None)];
        let deployments: [Deployment; 2] = [workload("web"), workload("api")];
        let pods = [
            Arc::new(pod("web-1-a", "web-1")),
            Arc::new(pod("bare-b", "bare")),
        ];
        let mut p = Projection::new(Some("cls-1".into()), 7);
        for chunk in replica_sets.chunks(batch) {
            p.replica_sets(chunk).expect("replica sets");
        }
        for chunk in deployments.chunks(batch) {
            p.deployments(chunk.iter()).expect("deployments");
        }
        p.stateful_sets([workload::<StatefulSet>("db")])
            .expect("stateful sets");
        p.daemon_sets(Vec::<DaemonSet>::new()).expect("daemon sets");
        for chunk in pods.chunks(batch) {
            p.pods(chunk.iter().cloned()).expect("pods");
        }
        p.finish()
    }

    #[test]
    fn workloads_come_in_list_order_with_bare_replica_sets_after_deployments() {
        let snap = project(1);
        let got: Vec<(WorkloadKind, &str)> = snap
            .workloads
            .iter()
            .map(|w| (w.kind.clone(), w.name.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (WorkloadKind::Deployment, "web"),
                (WorkloadKind::Deployment, "api"),
                (WorkloadKind::ReplicaSet, "bare"),
                (WorkloadKind::StatefulSet, "db"),
            ]
        );
        let owners: Vec<Option<WorkloadRef>> = snap.pods.iter().map(|p| p.owner.clone()).collect();
        assert_eq!(
            owners,
            vec![
                Some(WorkloadRef {
                    kind: WorkloadKind::Deployment,
                    name: "web".into()
                }),
                Some(WorkloadRef {
                    kind: WorkloadKind::ReplicaSet,
                    name: "bare".into()
                }),
            ]
        );
        assert_eq!(
            (snap.cluster_id.as_deref(), snap.taken_at),
            (Some("cls-1"), 7)
        );
    }

    #[test]
    fn the_continue_token_is_read_ahead_of_the_items() {
        let body = r#"{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"7","continue":"abc="},"items":[{"metadata":{"name":"items"}}]}"#;
        assert_eq!(peek_continue(body), Peek::Next("abc=".into()));
        let last = r#"{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"7","continue":""} , "items":[]}"#;
        assert_eq!(peek_continue(last), Peek::Last);
        let no_token = r#"{"metadata":{"resourceVersion":"7"},"items":[]}"#;
        assert_eq!(peek_continue(no_token), Peek::Last);
    }

    #[test]
    fn metadata_after_the_items_is_not_guessed() {
        let after = r#"{"kind":"PodList","items":[],"metadata":{"continue":"abc="}}"#;
        assert_eq!(peek_continue(after), Peek::Unknown);
        assert_eq!(peek_continue(r#"{"kind":"Status"}"#), Peek::Unknown);
        assert_eq!(peek_continue("not json \"items\""), Peek::Unknown);
    }

    #[test]
    fn batching_does_not_change_the_projection() {
        let (paged, whole) = (project(1), project(100));
        assert_eq!(paged.workloads, whole.workloads);
        assert_eq!(paged.pods, whole.pods);
    }

    #[test]
    fn bare_replica_sets_are_kept_when_no_later_kind_is_fed() {
        let mut p = Projection::new(None, 0);
        p.replica_sets([rs("bare", None)]).expect("replica sets");
        assert_eq!(p.finish().workloads.len(), 1);
    }
}

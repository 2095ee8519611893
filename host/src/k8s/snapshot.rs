//! Reading a [`Snapshot`] from the API server: every list paginated 500 at a time and projected
//! page by page, so that the host never holds more than one page of full Kubernetes objects.
//!
//! [`Projection`] is the one projection of a cluster's objects into a [`Snapshot`], fed kind by
//! kind in dependency order; [`read_snapshot`] feeds it list pages, the live view
//! ([`super::live`]) feeds it its watch caches.
//!
//! Consistency: each list is one consistent read (its continue tokens pin the resourceVersion of
//! its first page). The lists are read in dependency order (nodes, volumes, claims, ReplicaSets
//! before pods) so that every pod's owner and claims can be resolved when it arrives; objects
//! created between two lists are simply absent or unresolved, which a check run tolerates.

use std::borrow::Borrow;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, ListParams};
use serde::de::DeserializeOwned;

use super::project::{self, ProjectError, Resolver};
use crate::bindings::types::Workload;
use crate::snapshot::Snapshot;

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
    Pdbs,
    Pods,
}

/// The projection of a cluster's objects into a [`Snapshot`].
///
/// Feed it in this order, each kind in as many batches as convenient (a list page, or a whole
/// watch cache): nodes, PersistentVolumes, PersistentVolumeClaims, ReplicaSets, Deployments,
/// StatefulSets, DaemonSets, PodDisruptionBudgets, pods; then [`finish`](Self::finish). Each
/// method takes owned objects, references or `Arc`s alike. Only the compact records are kept:
/// full objects can be dropped as soon as a batch is projected.
#[derive(Debug)]
pub struct Projection {
    snapshot: Snapshot,
    resolver: Resolver,
    stage: Stage,
    /// ReplicaSets no Deployment owns are workloads of their own, listed after the Deployments.
    bare_replica_sets: Vec<Workload>,
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
            resolver: Resolver::default(),
            stage: Stage::Nodes,
            bare_replica_sets: Vec::new(),
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
            self.resolver.add_node(&node);
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
            self.resolver.add_volume(pv.borrow());
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
            self.resolver.add_claim(pvc.borrow());
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
            self.resolver.add_replica_set(rs);
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

/// List every object of `api`, page by page, handing each page to `each`.
async fn for_each_page<K>(
    api: &Api<K>,
    what: &'static str,
    mut each: impl FnMut(Vec<K>) -> Result<(), ProjectError>,
) -> Result<usize, SnapshotReadError>
where
    K: kube::Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let mut params = ListParams::default().limit(PAGE_SIZE);
    let mut count = 0;
    loop {
        let page = api
            .list(&params)
            .await
            .map_err(|source| SnapshotReadError::List { what, source })?;
        let next = page.metadata.continue_.clone().filter(|c| !c.is_empty());
        count += page.items.len();
        each(page.items).map_err(|source| SnapshotReadError::Project { what, source })?;
        match next {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(count),
        }
    }
}

/// Read nodes, PVs, PVCs, ReplicaSets, Deployments, StatefulSets, DaemonSets, PDBs and pods, and
/// project them into a [`Snapshot`]. PDBs are read at the version the cluster serves
/// (discovered first: `policy/v1`, or `policy/v1beta1` on Kubernetes 1.20).
pub async fn read_snapshot(
    client: &kube::Client,
    cluster_id: Option<String>,
) -> Result<Snapshot, SnapshotReadError> {
    let pdb_version = super::served::discover_pdb(client)
        .await
        .map_err(SnapshotReadError::Discovery)?;
    let mut p = Projection::new(cluster_id, now_seconds());
    for_each_page(&Api::<Node>::all(client.clone()), "nodes", |page| {
        p.nodes(page)
    })
    .await?;
    for_each_page(
        &Api::<PersistentVolume>::all(client.clone()),
        "persistentvolumes",
        |page| {
            p.volumes(page);
            Ok(())
        },
    )
    .await?;
    for_each_page(
        &Api::<PersistentVolumeClaim>::all(client.clone()),
        "persistentvolumeclaims",
        |page| {
            p.claims(page);
            Ok(())
        },
    )
    .await?;
    for_each_page(
        &Api::<ReplicaSet>::all(client.clone()),
        "replicasets",
        |page| p.replica_sets(page),
    )
    .await?;
    for_each_page(
        &Api::<Deployment>::all(client.clone()),
        "deployments",
        |page| p.deployments(page),
    )
    .await?;
    for_each_page(
        &Api::<StatefulSet>::all(client.clone()),
        "statefulsets",
        |page| p.stateful_sets(page),
    )
    .await?;
    for_each_page(
        &Api::<DaemonSet>::all(client.clone()),
        "daemonsets",
        |page| p.daemon_sets(page),
    )
    .await?;
    for_each_page(&pdb_version.api(client), "poddisruptionbudgets", |page| {
        let pdbs = page
            .into_iter()
            .map(|o| pdb_version.to_v1(o))
            .collect::<Result<Vec<_>, _>>()
            .map_err(ProjectError::Convert)?;
        p.pdbs(pdbs)
    })
    .await?;
    for_each_page(&Api::<Pod>::all(client.clone()), "pods", |page| {
        p.pods(page)
    })
    .await?;
    Ok(p.finish())
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

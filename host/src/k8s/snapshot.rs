//! Reading a [`Snapshot`] from the API server: every list paginated 500 at a time and projected
//! page by page, so that the host never holds more than one page of full Kubernetes objects.
//!
//! Consistency: each list is one consistent read (its continue tokens pin the resourceVersion of
//! its first page). The lists are read in dependency order (nodes, volumes, claims, ReplicaSets
//! before pods) so that every pod's owner and claims can be resolved when it arrives; objects
//! created between two lists are simply absent or unresolved, which a check run tolerates.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Node, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, ListParams};
use serde::de::DeserializeOwned;

use super::project::{self, ProjectError, Resolver};
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

/// List every object of `api`, page by page, handing each to `each`.
async fn for_each<K>(
    api: &Api<K>,
    what: &'static str,
    mut each: impl FnMut(K) -> Result<(), ProjectError>,
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
        for item in page.items {
            count += 1;
            each(item).map_err(|source| SnapshotReadError::Project { what, source })?;
        }
        match next {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(count),
        }
    }
}

/// Read nodes, PVs, PVCs, ReplicaSets, Deployments, StatefulSets, DaemonSets, PDBs and pods, and
/// project them into a [`Snapshot`].
pub async fn read_snapshot(
    client: &kube::Client,
    cluster_id: Option<String>,
) -> Result<Snapshot, SnapshotReadError> {
    let taken_at = u64::try_from(jiff::Timestamp::now().as_second()).unwrap_or(0);
    let mut snapshot = Snapshot {
        cluster_id,
        taken_at,
        ..Snapshot::default()
    };
    let mut resolver = Resolver::default();

    for_each(&Api::<Node>::all(client.clone()), "nodes", |n| {
        let node = project::node(&n)?;
        resolver.add_node(&node);
        snapshot.nodes.push(node);
        Ok(())
    })
    .await?;
    for_each(
        &Api::<PersistentVolume>::all(client.clone()),
        "persistentvolumes",
        |pv| {
            resolver.add_volume(&pv);
            Ok(())
        },
    )
    .await?;
    for_each(
        &Api::<PersistentVolumeClaim>::all(client.clone()),
        "persistentvolumeclaims",
        |pvc| {
            resolver.add_claim(&pvc);
            Ok(())
        },
    )
    .await?;
    // ReplicaSets are kept only as long as needed: those a Deployment owns become an entry of the
    // resolver, the others are workloads of their own.
    let mut bare_replica_sets = Vec::new();
    for_each(
        &Api::<ReplicaSet>::all(client.clone()),
        "replicasets",
        |rs| {
            resolver.add_replica_set(&rs);
            let ns = rs.metadata.namespace.as_deref().unwrap_or_default();
            let name = rs.metadata.name.as_deref().unwrap_or_default();
            if !resolver.rs_has_deployment(ns, name) {
                bare_replica_sets.push(project::replica_set(&rs)?);
            }
            Ok(())
        },
    )
    .await?;
    for_each(
        &Api::<Deployment>::all(client.clone()),
        "deployments",
        |d| {
            snapshot.workloads.push(project::deployment(&d)?);
            Ok(())
        },
    )
    .await?;
    snapshot.workloads.extend(bare_replica_sets);
    for_each(
        &Api::<StatefulSet>::all(client.clone()),
        "statefulsets",
        |s| {
            snapshot.workloads.push(project::stateful_set(&s)?);
            Ok(())
        },
    )
    .await?;
    for_each(&Api::<DaemonSet>::all(client.clone()), "daemonsets", |d| {
        snapshot.workloads.push(project::daemon_set(&d)?);
        Ok(())
    })
    .await?;
    for_each(
        &Api::<PodDisruptionBudget>::all(client.clone()),
        "poddisruptionbudgets",
        |p| {
            snapshot.pdbs.push(project::pdb(&p)?);
            Ok(())
        },
    )
    .await?;
    // One Vec grown by doubling: its large buffers are mmapped, so growing moves pages with
    // mremap instead of copying and the unused tail is never resident. (Collecting pages and
    // concatenating them measured worse: 225 MiB instead of 181 MiB at 150,000 pods.)
    for_each(&Api::<Pod>::all(client.clone()), "pods", |p| {
        snapshot.pods.push(project::pod(&resolver, &p)?);
        Ok(())
    })
    .await?;
    snapshot.nodes.shrink_to_fit();
    snapshot.pods.shrink_to_fit();
    tracing::debug!(
        nodes = snapshot.nodes.len(),
        pods = snapshot.pods.len(),
        pdbs = snapshot.pdbs.len(),
        workloads = snapshot.workloads.len(),
        "snapshot read"
    );
    Ok(snapshot)
}

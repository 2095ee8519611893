//! `tke:recycle/cluster`: read-only queries answered from one [`ClusterView`].

use std::sync::{Arc, RwLock};

use super::policy_world::tke::recycle::cluster::Host;
use super::types::{
    CoveringPdb, Label, LabelSelector, NodeSummary, NodeTable, ObjectRef, Pod, SnapshotInfo,
    Workload, WorkloadKind,
};
use crate::snapshot::ClusterView;

/// A view that the runbook's `refresh-snapshot` replaces while its `cluster` queries read it.
pub type SharedView = Arc<RwLock<Arc<ClusterView>>>;

/// What a guest's `cluster` imports can see: one snapshot, shared read-only between calls (a
/// policy), or the run's current view, replaced on refresh (the runbook).
pub struct ClusterHost {
    view: SharedView,
}

impl ClusterHost {
    /// Answer queries from `view`.
    pub fn new(view: Arc<ClusterView>) -> Self {
        Self {
            view: Arc::new(RwLock::new(view)),
        }
    }

    /// Answer queries from whatever view `cell` holds at the time of each query.
    pub fn shared(cell: SharedView) -> Self {
        Self { view: cell }
    }

    /// The view in force. A poisoned lock still holds a complete view (writers only swap an
    /// `Arc`), so it is used as it is.
    fn current(&self) -> Arc<ClusterView> {
        self.view
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

impl Host for ClusterHost {
    async fn info(&mut self) -> wasmtime::Result<SnapshotInfo> {
        Ok(self.current().info())
    }

    async fn nodes(&mut self) -> wasmtime::Result<NodeTable> {
        // Too large a table traps the guest with the reason: it fails closed, naming the cause.
        Ok(self.current().node_table()?.clone())
    }

    async fn node(&mut self, name: String) -> wasmtime::Result<Option<NodeSummary>> {
        Ok(self.current().node(&name))
    }

    async fn pods_on_node(&mut self, node: String) -> wasmtime::Result<Vec<Pod>> {
        Ok(self.current().pods_on_node(&node))
    }

    async fn pods_matching(
        &mut self,
        namespace: String,
        selector: LabelSelector,
    ) -> wasmtime::Result<Vec<Pod>> {
        Ok(self.current().pods_matching(&namespace, &selector))
    }

    async fn nodes_with_pods_matching(
        &mut self,
        namespaces: Vec<String>,
        selector: LabelSelector,
    ) -> wasmtime::Result<Vec<String>> {
        Ok(self
            .current()
            .nodes_with_pods_matching(&namespaces, &selector))
    }

    async fn pods_with_anti_affinity_matching(
        &mut self,
        namespace: String,
        labels: Vec<Label>,
    ) -> wasmtime::Result<Vec<Pod>> {
        Ok(self
            .current()
            .pods_with_anti_affinity_matching(&namespace, &labels))
    }

    async fn pdbs_covering(&mut self, pods: Vec<ObjectRef>) -> wasmtime::Result<Vec<CoveringPdb>> {
        Ok(self.current().pdbs_covering(&pods))
    }

    async fn find_workload(
        &mut self,
        namespace: String,
        kind: WorkloadKind,
        name: String,
    ) -> wasmtime::Result<Option<Workload>> {
        Ok(self.current().workload(&namespace, &kind, &name))
    }
}

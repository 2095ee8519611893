//! `tke:recycle/cluster`: read-only queries answered from one [`ClusterView`].

use std::sync::Arc;

use super::policy_world::tke::recycle::cluster::Host;
use super::types::{
    CoveringPdb, LabelSelector, NodeSummary, NodeTable, ObjectRef, Pod, SnapshotInfo, Workload,
    WorkloadKind,
};
use crate::snapshot::ClusterView;

/// What a guest's `cluster` imports can see: one snapshot, shared read-only between calls.
pub struct ClusterHost {
    view: Arc<ClusterView>,
}

impl ClusterHost {
    /// Answer queries from `view`.
    pub fn new(view: Arc<ClusterView>) -> Self {
        Self { view }
    }
}

impl Host for ClusterHost {
    async fn info(&mut self) -> wasmtime::Result<SnapshotInfo> {
        Ok(self.view.info())
    }

    async fn nodes(&mut self) -> wasmtime::Result<NodeTable> {
        // Too large a table traps the guest with the reason: it fails closed, naming the cause.
        Ok(self.view.node_table()?.clone())
    }

    async fn node(&mut self, name: String) -> wasmtime::Result<Option<NodeSummary>> {
        Ok(self.view.node(&name))
    }

    async fn pods_on_node(&mut self, node: String) -> wasmtime::Result<Vec<Pod>> {
        Ok(self.view.pods_on_node(&node))
    }

    async fn pods_matching(
        &mut self,
        namespace: String,
        selector: LabelSelector,
    ) -> wasmtime::Result<Vec<Pod>> {
        Ok(self.view.pods_matching(&namespace, &selector))
    }

    async fn nodes_with_pods_matching(
        &mut self,
        namespaces: Vec<String>,
        selector: LabelSelector,
    ) -> wasmtime::Result<Vec<String>> {
        Ok(self.view.nodes_with_pods_matching(&namespaces, &selector))
    }

    async fn pdbs_covering(&mut self, pods: Vec<ObjectRef>) -> wasmtime::Result<Vec<CoveringPdb>> {
        Ok(self.view.pdbs_covering(&pods))
    }

    async fn find_workload(
        &mut self,
        namespace: String,
        kind: WorkloadKind,
        name: String,
    ) -> wasmtime::Result<Option<Workload>> {
        Ok(self.view.workload(&namespace, &kind, &name))
    }
}

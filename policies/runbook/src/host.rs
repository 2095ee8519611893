//! The host's capabilities as the runbook uses them: one trait method per import call.
//!
//! The procedure is written against [`Host`] so that it runs natively in tests against a simulated
//! cluster; [`WasmHost`] (built for `wasm32` only) forwards each method to the generated import.
//! This module owns no decision: it only moves values across.

#[cfg(target_arch = "wasm32")]
use crate::bindings::tke::recycle::cluster;
use crate::bindings::tke::recycle::{journal, log, operations, tke, types};

pub use log::Level;
pub use operations::{Error as OpsError, EvictionOutcome, PodKey, Progress};
pub use tke::{
    AddOutcome, AddRequest, AdvancedSettings, ClusterInstance, DataDisk, Error as TkeError,
    InstanceCapture, Login,
};
pub use types::{
    CoveringPdb, Finding, Label, Node, NodeSummary, NodeTable, ObjectRef, Phase, Pod, Severity,
    Taint, TaintEffect,
};

/// The journal's error type.
pub type JournalError = journal::Error;

/// Every import the runbook calls. `&mut self` lets test doubles record calls without cells.
pub trait Host {
    // --- operations ---

    /// `operations.cordon`.
    fn cordon(&mut self, node: &str) -> Result<(), OpsError>;
    /// `operations.uncordon`.
    fn uncordon(&mut self, node: &str) -> Result<(), OpsError>;
    /// `operations.refresh-snapshot`.
    fn refresh_snapshot(&mut self) -> Result<(), OpsError>;
    /// `operations.pods-to-evict`.
    fn pods_to_evict(&mut self, node: &str) -> Result<Vec<Pod>, OpsError>;
    /// `operations.evict-pods`.
    fn evict_pods(&mut self, pods: &[PodKey]) -> Vec<Result<EvictionOutcome, OpsError>>;
    /// `operations.delete-pods`.
    fn delete_pods(&mut self, pods: &[PodKey]) -> Vec<Result<(), OpsError>>;
    /// `operations.wait-pods-gone`.
    fn wait_pods_gone(
        &mut self,
        node: &str,
        pods: &[PodKey],
        timeout_seconds: u64,
    ) -> Result<Vec<PodKey>, OpsError>;
    /// `operations.wait-node-ready`.
    fn wait_node_ready(&mut self, node: &str, timeout_seconds: u64) -> Result<(), OpsError>;
    /// `operations.wait-node-gone`.
    fn wait_node_gone(&mut self, node: &str, timeout_seconds: u64) -> Result<(), OpsError>;
    /// `operations.set-node-metadata`.
    fn set_node_metadata(
        &mut self,
        node: &str,
        labels: &[Label],
        taints: &[Taint],
    ) -> Result<(), OpsError>;
    /// `operations.sleep`.
    fn sleep(&mut self, seconds: u64) -> Result<(), OpsError>;
    /// `operations.now-ms`.
    fn now_ms(&mut self) -> u64;
    /// `operations.run-policies`.
    fn run_policies(
        &mut self,
        phase: Phase,
        targets: &[String],
        affected: &[ObjectRef],
    ) -> Result<Vec<Finding>, OpsError>;
    /// `operations.confirm`.
    fn confirm(&mut self, question: &str) -> Result<bool, OpsError>;
    /// `operations.report`.
    fn report(&mut self, event: &Progress);

    // --- tke ---

    /// `tke.describe-instance`.
    fn describe_instance(&mut self, instance_id: &str)
    -> Result<Option<ClusterInstance>, TkeError>;
    /// `tke.capture-instance`.
    fn capture_instance(&mut self, instance_id: &str) -> Result<InstanceCapture, TkeError>;
    /// `tke.remove-instance-keep-vm`.
    fn remove_instance_keep_vm(&mut self, instance_id: &str) -> Result<(), TkeError>;
    /// `tke.add-existing-instance`.
    fn add_existing_instance(&mut self, request: &AddRequest) -> Result<AddOutcome, TkeError>;
    /// `tke.wait-instance-running`.
    fn wait_instance_running(
        &mut self,
        instance_id: &str,
        timeout_seconds: u64,
    ) -> Result<(), TkeError>;

    // --- journal ---

    /// `journal.get`.
    fn journal_get(&mut self, key: &str) -> Result<Option<String>, JournalError>;
    /// `journal.put`.
    fn journal_put(&mut self, key: &str, value: &str) -> Result<(), JournalError>;

    // --- cluster ---

    /// `cluster.node`.
    fn node(&mut self, name: &str) -> Option<NodeSummary>;
    /// `cluster.nodes`, as the table the host sends.
    fn nodes(&mut self) -> NodeTable;
    /// `cluster.pdbs-covering`.
    fn pdbs_covering(&mut self, pods: &[ObjectRef]) -> Vec<CoveringPdb>;

    // --- log ---

    /// `log.write`.
    fn log(&mut self, level: Level, message: &str);
}

/// The real host: each method is the generated import of the same name.
#[cfg(target_arch = "wasm32")]
pub struct WasmHost;

#[cfg(target_arch = "wasm32")]
impl Host for WasmHost {
    fn cordon(&mut self, node: &str) -> Result<(), OpsError> {
        operations::cordon(node)
    }
    fn uncordon(&mut self, node: &str) -> Result<(), OpsError> {
        operations::uncordon(node)
    }
    fn refresh_snapshot(&mut self) -> Result<(), OpsError> {
        operations::refresh_snapshot()
    }
    fn pods_to_evict(&mut self, node: &str) -> Result<Vec<Pod>, OpsError> {
        operations::pods_to_evict(node)
    }
    fn evict_pods(&mut self, pods: &[PodKey]) -> Vec<Result<EvictionOutcome, OpsError>> {
        operations::evict_pods(pods)
    }
    fn delete_pods(&mut self, pods: &[PodKey]) -> Vec<Result<(), OpsError>> {
        operations::delete_pods(pods)
    }
    fn wait_pods_gone(
        &mut self,
        node: &str,
        pods: &[PodKey],
        timeout_seconds: u64,
    ) -> Result<Vec<PodKey>, OpsError> {
        operations::wait_pods_gone(node, pods, timeout_seconds)
    }
    fn wait_node_ready(&mut self, node: &str, timeout_seconds: u64) -> Result<(), OpsError> {
        operations::wait_node_ready(node, timeout_seconds)
    }
    fn wait_node_gone(&mut self, node: &str, timeout_seconds: u64) -> Result<(), OpsError> {
        operations::wait_node_gone(node, timeout_seconds)
    }
    fn set_node_metadata(
        &mut self,
        node: &str,
        labels: &[Label],
        taints: &[Taint],
    ) -> Result<(), OpsError> {
        operations::set_node_metadata(node, labels, taints)
    }
    fn sleep(&mut self, seconds: u64) -> Result<(), OpsError> {
        operations::sleep(seconds)
    }
    fn now_ms(&mut self) -> u64 {
        operations::now_ms()
    }
    fn run_policies(
        &mut self,
        phase: Phase,
        targets: &[String],
        affected: &[ObjectRef],
    ) -> Result<Vec<Finding>, OpsError> {
        operations::run_policies(phase, targets, affected)
    }
    fn confirm(&mut self, question: &str) -> Result<bool, OpsError> {
        operations::confirm(question)
    }
    fn report(&mut self, event: &Progress) {
        operations::report(event);
    }
    fn describe_instance(
        &mut self,
        instance_id: &str,
    ) -> Result<Option<ClusterInstance>, TkeError> {
        tke::describe_instance(instance_id)
    }
    fn capture_instance(&mut self, instance_id: &str) -> Result<InstanceCapture, TkeError> {
        tke::capture_instance(instance_id)
    }
    fn remove_instance_keep_vm(&mut self, instance_id: &str) -> Result<(), TkeError> {
        tke::remove_instance_keep_vm(instance_id)
    }
    fn add_existing_instance(&mut self, request: &AddRequest) -> Result<AddOutcome, TkeError> {
        tke::add_existing_instance(request)
    }
    fn wait_instance_running(
        &mut self,
        instance_id: &str,
        timeout_seconds: u64,
    ) -> Result<(), TkeError> {
        tke::wait_instance_running(instance_id, timeout_seconds)
    }
    fn journal_get(&mut self, key: &str) -> Result<Option<String>, JournalError> {
        journal::get(key)
    }
    fn journal_put(&mut self, key: &str, value: &str) -> Result<(), JournalError> {
        journal::put(key, value)
    }
    fn node(&mut self, name: &str) -> Option<NodeSummary> {
        cluster::node(name)
    }
    fn nodes(&mut self) -> NodeTable {
        cluster::nodes()
    }
    fn pdbs_covering(&mut self, pods: &[ObjectRef]) -> Vec<CoveringPdb> {
        cluster::pdbs_covering(pods)
    }
    fn log(&mut self, level: Level, message: &str) {
        log::write(level, message);
    }
}

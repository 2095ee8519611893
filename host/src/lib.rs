//! tke-recycle: recycle Kubernetes nodes of a Tencent Kubernetes Engine cluster safely.
//!
//! The host owns every access to the cluster and the cloud; the runbook and the pre-check policies
//! are WebAssembly components that get narrow, typed capabilities through the WIT package in
//! `wit/`. Module map:
//!
//! - [`engine`]: the wasmtime engine, compile cache, limits, and calling modules fail-closed.
//! - [`bindings`]: the host side of each WIT import.
//! - [`snapshot`]: the compact cluster model and the indexed view policies query.
//! - [`checks`]: running a set of policies for a phase and collecting findings.
//! - [`bundled`]: the modules built from `policies/` and embedded in the binary.
//! - [`k8s`]: Kubernetes access: snapshot, cordon, evict, waits, lease lock, node events.
//! - [`run`]: the run machinery: the durable run journal (file, ConfigMap, memory), failpoints.
//! - [`runbook`]: loading and running the runbook module; the host side of its imports.
//! - [`cli`]: the `tke-recycle` command line.
//! - [`tke`]: Tencent Cloud API 3.0 pieces shared by the client and the practice cluster.
//! - [`sim`]: the practice cluster, a Kubernetes API and a TKE API served on loopback.

pub mod bindings;
pub mod bundled;
pub mod checks;
pub mod cli;
pub mod engine;
pub mod fleet;
pub mod k8s;
pub mod run;
pub mod runbook;
pub mod sim;
pub mod snapshot;
pub mod tke;

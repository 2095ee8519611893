//! The policy author's kit for tke-recycle.
//!
//! A policy is a crate with `crate-type = ["cdylib", "rlib"]` that implements [`Policy`] as a pure
//! function of its settings, the [`CheckRequest`] and a [`Cluster`], and exports itself with
//! [`export_policy!`]. Built for `wasm32-wasip2`, the [`Cluster`] it sees is the host's snapshot
//! ([`HostCluster`]); in native unit tests it is a [`MemoryCluster`] built from records or from a
//! snapshot file, so the same decision code is tested without Wasm.
//!
//! Helpers, so that a policy does not re-derive Kubernetes rules: [`selectors`] (label selectors,
//! node affinity, taints and tolerations), [`drain`] (what a drain evicts and what comes back,
//! the targets' pods, workload names), [`quantity`] (resource arithmetic and formatting),
//! [`finding`] builders, [`parse_settings`] and [`SeverityOverrides`], and [`testkit`] (a TKE-sized
//! node, a running pod, a request) for native case tables.
//!
//! What this crate deliberately does not do: I/O of any kind. The host owns the cluster and the
//! cloud; a policy only reads the snapshot it is handed.

mod cluster;
pub mod drain;
mod findings;
mod node_table;
pub mod quantity;
pub mod selectors;
mod settings;
pub mod testkit;

/// Generated bindings for the `policy` world (`wit/worlds.wit`). Types derive serde so that the
/// snapshot file format, which is these records as JSON, loads natively too.
#[allow(missing_docs, reason = "generated code; the WIT files carry the docs")]
#[allow(unsafe_code, reason = "generated canonical-ABI glue")]
#[allow(
    clippy::too_many_arguments,
    reason = "generated code mirrors the WIT signatures"
)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "policy",
        additional_derives: [serde::Serialize, serde::Deserialize, PartialEq],
        pub_export_macro: true,
        export_macro_name: "export_component",
        default_bindings_module: "tke_recycle_policy_sdk::bindings",
        generate_all,
    });
}

pub use bindings::exports::tke::recycle::module_info::Info as ModuleInfo;
pub use bindings::tke::recycle::log::Level as LogLevel;
pub use bindings::tke::recycle::types::*;
pub use cluster::{Cluster, HostCluster, MemoryCluster, SnapshotFile};
pub use findings::{FindingBuilder, finding, node_ref, object_ref, pod_ref, unknown_node};
pub use node_table::{MalformedNodeTable, decode_node_table};
pub use settings::{SeverityOverrides, parse_settings, parse_severity};

/// A policy: pure decisions over the snapshot.
pub trait Policy {
    /// Name, version and one line of description.
    fn info() -> ModuleInfo;

    /// Accept or reject the settings JSON. The message names the field, the bad value and the fix.
    fn validate_settings(settings: &str) -> Result<(), String>;

    /// Decide. `Err` means "could not decide", which the host turns into a deny finding.
    fn check(request: &CheckRequest, cluster: &dyn Cluster) -> Result<Vec<Finding>, String>;
}

/// Write a line to the host log (no-op in native builds, where there is no host).
pub fn log(level: LogLevel, message: &str) {
    #[cfg(target_arch = "wasm32")]
    bindings::tke::recycle::log::write(level, message);
    #[cfg(not(target_arch = "wasm32"))]
    let _ = (level, message);
}

/// Export a [`Policy`] implementation as the component's `policy` world.
///
/// ```text
/// struct MyPolicy;
/// impl tke_recycle_policy_sdk::Policy for MyPolicy { /* ... */ }
/// tke_recycle_policy_sdk::export_policy!(MyPolicy);
/// ```
#[macro_export]
macro_rules! export_policy {
    ($policy:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct Component;
            impl $crate::bindings::Guest for Component {
                fn validate_settings(settings: String) -> Result<(), String> {
                    <$policy as $crate::Policy>::validate_settings(&settings)
                }
                fn check(request: $crate::CheckRequest) -> Result<Vec<$crate::Finding>, String> {
                    <$policy as $crate::Policy>::check(&request, &$crate::HostCluster)
                }
            }
            impl $crate::bindings::exports::tke::recycle::module_info::Guest for Component {
                fn describe() -> $crate::ModuleInfo {
                    <$policy as $crate::Policy>::info()
                }
            }
    $crate::bindings::export_component!(Component with_types_in $crate::bindings);
        };
    };
}

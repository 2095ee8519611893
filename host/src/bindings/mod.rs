//! The generated WIT bindings and the host side of the read-only imports.
//!
//! `bindgen!` runs here for both worlds; the runbook world reuses the policy world's types,
//! `cluster` and `log`, so one Rust type stands for each WIT type. Each interface's `Host` impl
//! lives in its own file and sees only a narrow view of the store (its own struct). The
//! runbook's own imports (`operations`, `tke`, `journal`) are implemented in
//! [`crate::runbook`], so that this module, which everyone imports for the WIT types, does not
//! depend on the cluster, cloud and journal clients.

pub mod cluster;
pub mod log;

/// Generated from `wit/` for the `policy` world. Types derive serde: serialised as JSON they are
/// the snapshot file format (snake_case fields, enum cases by their Rust names).
#[allow(missing_docs, reason = "generated code; the WIT files carry the docs")]
mod policy_world {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "policy",
        imports: { default: async | trappable },
        exports: { default: async },
        additional_derives: [serde::Serialize, serde::Deserialize, PartialEq],
    });
}

/// Generated from `wit/` for the `runbook` world, sharing the policy world's types and read-only
/// interfaces.
#[allow(missing_docs, reason = "generated code; the WIT files carry the docs")]
pub mod runbook_world {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "runbook",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "tke:recycle/types": super::policy_world::tke::recycle::types,
            "tke:recycle/cluster": super::policy_world::tke::recycle::cluster,
            "tke:recycle/log": super::policy_world::tke::recycle::log,
        },
        additional_derives: [serde::Serialize, serde::Deserialize, PartialEq],
    });
}

pub use policy_world::exports::tke::recycle::module_info::Info as ModuleInfo;
pub use policy_world::tke::recycle::log::Level as LogLevel;
pub use policy_world::tke::recycle::types;
pub use policy_world::{Policy, PolicyPre};
pub use runbook_world::tke::recycle::{journal, operations, tke};
pub use runbook_world::{RunMode, RunRequest, Runbook, RunbookPre};

pub(crate) use policy_world::tke::recycle::cluster::add_to_linker as add_cluster_to_linker;
pub(crate) use policy_world::tke::recycle::log::add_to_linker as add_log_to_linker;

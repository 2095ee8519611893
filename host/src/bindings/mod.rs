//! The host side of the WIT imports.
//!
//! `bindgen!` runs once here; each interface's `Host` impl lives in its own file and sees only a
//! narrow view of the store (its own struct), never the whole store state.

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

pub use policy_world::exports::tke::recycle::module_info::Info as ModuleInfo;
pub use policy_world::tke::recycle::log::Level as LogLevel;
pub use policy_world::tke::recycle::types;
pub use policy_world::{Policy, PolicyPre};

pub(crate) use policy_world::tke::recycle::cluster::add_to_linker as add_cluster_to_linker;
pub(crate) use policy_world::tke::recycle::log::add_to_linker as add_log_to_linker;

//! `runbook`: the bundled recycle runbook, a component of the `runbook` world.
//!
//! The host owns every byte of I/O (cluster, cloud, journal, terminal); this crate owns every
//! decision: which step comes next, what to do with an eviction refused by a PDB, whether an add
//! that timed out went through, what a resumed run still has to do. The procedure is written
//! against the [`Host`] trait so that it is tested natively against a simulated cluster
//! (`src/tests/`); built for `wasm32`, [`Host`] is the generated imports.
//!
//! Modules: `settings` (the JSON settings), `steps` (journal keys and step names), `capture` (the
//! record that puts a node back as it was), `script` (the keep-data-disk user script), `drain`
//! (evictions, backoff, blocking PDBs), `driver` (the procedure per node), `plan` (the dry run),
//! `nodes` (the bit of `cluster.nodes` the runbook reads), `findings` and `error`.

pub mod capture;
pub mod drain;
pub mod driver;
pub mod error;
pub mod findings;
pub mod host;
pub mod nodes;
pub mod plan;
pub mod script;
pub mod settings;
pub mod steps;

/// Generated bindings for the `runbook` world (`wit/worlds.wit`). The records derive serde so
/// that the capture record, which holds the add request, round-trips through the journal.
#[allow(missing_docs, reason = "generated code; the WIT files carry the docs")]
#[allow(unsafe_code, reason = "generated canonical-ABI glue")]
#[allow(
    clippy::too_many_arguments,
    reason = "generated code mirrors the WIT signatures"
)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "runbook",
        additional_derives: [serde::Serialize, serde::Deserialize, PartialEq],
        generate_all,
    });
}

pub use bindings::{RunMode, RunRequest};
pub use driver::{Mode, Runbook};
pub use host::Host;
pub use settings::Settings;

use bindings::exports::tke::recycle::module_info::Info;

/// What `describe` answers.
pub fn info() -> Info {
    Info {
        name: "runbook".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        description: "the recycle runbook: checks, capture, cordon, drain, remove (VM kept), add back, wait, restore, uncordon, post-check gate".into(),
    }
}

/// Run a request against `host`: parse the settings, check the node list, drive the procedure.
/// The error is the message the run stops with (`cancelled` when it was cancelled).
pub fn run(host: &mut dyn Host, request: &RunRequest) -> Result<(), String> {
    let settings = Settings::parse(&request.settings)?;
    if request.nodes.is_empty() {
        return Err(
            "no nodes to recycle: name at least one node (`tke-recycle nodes` lists them)".into(),
        );
    }
    for (i, node) in request.nodes.iter().enumerate() {
        if node.trim().is_empty() {
            return Err(format!(
                "node #{} has an empty name; name every node",
                i + 1
            ));
        }
        if request.nodes[..i].contains(node) {
            return Err(format!("node {node} is listed twice; name each node once"));
        }
    }
    let mode = match request.mode {
        RunMode::Recycle => Mode::Recycle,
        RunMode::Drain => Mode::Drain,
        RunMode::Plan => Mode::Plan,
    };
    let mut runbook = Runbook {
        host,
        settings,
        cluster_id: request.cluster_id.clone(),
        mode,
        nodes: request.nodes.clone(),
        resume: request.resume && mode != Mode::Plan,
    };
    runbook.run().map_err(error::Stop::into_message)
}

#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code, reason = "the generated export glue")]
mod component {
    use crate::bindings::exports::tke::recycle::module_info::{Guest as ModuleInfo, Info};
    use crate::bindings::{Guest, RunRequest};
    use crate::host::WasmHost;

    struct Component;

    impl ModuleInfo for Component {
        fn describe() -> Info {
            crate::info()
        }
    }

    impl Guest for Component {
        fn run(request: RunRequest) -> Result<(), String> {
            crate::run(&mut WasmHost, &request)
        }
    }

    crate::bindings::export!(Component with_types_in crate::bindings);
}

#[cfg(test)]
mod tests;

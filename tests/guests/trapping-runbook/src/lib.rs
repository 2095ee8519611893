//! A test-only runbook that does one mutating step (cordon the first node) and then panics. The
//! host must stop the run, keep the journal (its cordon is recorded), and `resume` with the
//! bundled runbook must finish the run.

#![cfg_attr(
    not(target_arch = "wasm32"),
    allow(dead_code, reason = "only the component build exports it")
)]
#![allow(
    unsafe_code,
    missing_docs,
    clippy::too_many_arguments,
    reason = "generated bindings"
)]

wit_bindgen::generate!({
    path: "../../../wit",
    world: "runbook",
    generate_all,
});

use exports::tke::recycle::module_info::Info;

struct TrappingRunbook;

impl exports::tke::recycle::module_info::Guest for TrappingRunbook {
    fn describe() -> Info {
        Info {
            name: "trapping-runbook".into(),
            version: "0.0.0".into(),
            description: "cordons the first node, then panics".into(),
        }
    }
}

impl Guest for TrappingRunbook {
    fn run(request: RunRequest) -> Result<(), String> {
        if let Some(node) = request.nodes.first() {
            tke::recycle::operations::cordon(node).map_err(|e| format!("{e:?}"))?;
        }
        panic!("deliberate trap after the first mutating step");
    }
}

// Native builds (unit tests, `cargo build --workspace`) must not export component symbols.
#[cfg(target_arch = "wasm32")]
export!(TrappingRunbook);

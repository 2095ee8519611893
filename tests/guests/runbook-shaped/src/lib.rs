//! A test-only component of the `runbook` world. Loaded as a policy it must be refused: it
//! exports `run`, not `validate-settings` and `check`.

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

struct RunbookShaped;

impl exports::tke::recycle::module_info::Guest for RunbookShaped {
    fn describe() -> Info {
        Info {
            name: "runbook-shaped".into(),
            version: "0.0.0".into(),
            description: "not a policy".into(),
        }
    }
}

impl Guest for RunbookShaped {
    fn run(_request: RunRequest) -> Result<(), String> {
        Ok(())
    }
}

// Native builds (unit tests, `cargo build --workspace`) must not export component symbols.
#[cfg(target_arch = "wasm32")]
export!(RunbookShaped);

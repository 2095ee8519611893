//! A test-only policy that imports `tke:recycle/operations` and cordons its targets: what a
//! malicious or careless team policy might try. The host must refuse it at load.

#![allow(
    unsafe_code,
    missing_docs,
    clippy::too_many_arguments,
    reason = "generated bindings"
)]

wit_bindgen::generate!({
    path: "../../../wit",
    inline: "
        package test:sneaky;
        world sneaky {
            include tke:recycle/policy@0.1.0;
            import tke:recycle/operations@0.1.0;
        }
    ",
    world: "test:sneaky/sneaky",
    generate_all,
});

use exports::tke::recycle::module_info::Info;

struct Sneaky;

impl exports::tke::recycle::module_info::Guest for Sneaky {
    fn describe() -> Info {
        Info {
            name: "sneaky-policy".into(),
            version: "0.0.0".into(),
            description: "cordons nodes".into(),
        }
    }
}

impl Guest for Sneaky {
    fn validate_settings(_settings: String) -> Result<(), String> {
        Ok(())
    }

    fn check(request: CheckRequest) -> Result<Vec<Finding>, String> {
        for node in &request.targets {
            tke::recycle::operations::cordon(node).map_err(|_| "cordon failed".to_string())?;
        }
        Ok(Vec::new())
    }
}

// Native builds (unit tests, `cargo build --workspace`) must not export component symbols.
#[cfg(target_arch = "wasm32")]
export!(Sneaky);

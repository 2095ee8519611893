//! Nothing to link: this crate exists for its build script, which makes sure the `wasm32-wasip2`
//! Rust target is installed (with rustup, when cargo came from rustup) before `host/build.rs`
//! builds the policies and the runbook for it. See `build.rs`.
#![no_std]

//! End-to-end tests: the host library and the real binary with real Wasm components.
//!
//! One test binary with modules (linking wasmtime once), as wasmtime's own `tests/all` does.

mod access;
mod bench_access;
mod cli;
mod hostile;
mod support;
mod tke_secret;

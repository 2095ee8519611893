//! End-to-end tests: the host library and the real binary with real Wasm components, and the
//! practice cluster with the clients that talk to it.
//!
//! One test binary with modules (linking wasmtime once), as wasmtime's own `tests/all` does.

mod access;
mod bench_access;
mod cli;
mod hostile;
mod sim_api;
mod sim_cli;
mod sim_common;
mod sim_kubectl;
mod sim_tke;
mod support;
mod tke_secret;

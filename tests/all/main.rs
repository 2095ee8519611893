//! End-to-end tests: the host library and the real binary with real Wasm components, and the
//! practice cluster driven by our clients and by clients we did not write (kubectl, the official
//! Tencent Cloud SDK).
//!
//! One test binary with modules (linking wasmtime once), as wasmtime's own `tests/all` does.

mod access;
mod batch;
mod bundled;
mod cli;
mod error_text;
mod fixtures;
mod fleet;
mod foreign_build;
mod foreign_policies;
mod headroom_agreement;
mod hostile;
mod in_cluster;
mod journal;
mod live;
mod node_table;
mod old_clusters;
mod recycle;
mod recycle_crash;
mod recycle_faults;
mod sim_api;
mod sim_cli;
mod sim_common;
mod sim_kubectl;
mod sim_tke;
mod support;
mod tke_secret;

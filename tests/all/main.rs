//! End-to-end tests, one binary with modules (linking the host once is slow on small machines).

mod sim_api;
mod sim_cli;
mod sim_common;
mod sim_kubectl;
mod sim_tke;

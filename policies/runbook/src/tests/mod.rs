//! Native tests of the procedure against a simulated cluster ([`fake::FakeHost`]). Test names
//! read as the specification; case tables where the same rule holds for several inputs.

pub(crate) mod fake;

mod add_back;
mod checks;
mod drain;
mod modes;
mod procedure;
mod resume;

use crate::bindings::{RunMode, RunRequest};
use fake::FakeHost;

/// A request for `nodes` with `settings` (JSON).
fn request(mode: RunMode, nodes: &[&str], settings: &str, resume: bool) -> RunRequest {
    RunRequest {
        cluster_id: "cls-test".into(),
        mode,
        nodes: nodes.iter().map(|n| (*n).to_owned()).collect(),
        settings: settings.into(),
        resume,
    }
}

/// Recycle `nodes`.
fn recycle(fake: &mut FakeHost, nodes: &[&str], settings: &str) -> Result<(), String> {
    crate::run(fake, &request(RunMode::Recycle, nodes, settings, false))
}

/// Resume a recycle of `nodes`.
fn resume(fake: &mut FakeHost, nodes: &[&str], settings: &str) -> Result<(), String> {
    crate::run(fake, &request(RunMode::Recycle, nodes, settings, true))
}

/// Assert `haystack` contains `needle`, showing both.
#[track_caller]
fn assert_contains(haystack: &str, needle: &str) {
    assert!(
        haystack.contains(needle),
        "expected {needle:?} in:\n{haystack}"
    );
}

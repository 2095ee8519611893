//! The wasmtime engine: configuration, limits, compiled-component cache, and calling modules.

/// The WIT world a module implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum World {
    /// `tke:recycle/policy`: a pre- or post-check.
    Policy,
    /// `tke:recycle/runbook`: the recycle procedure.
    Runbook,
}

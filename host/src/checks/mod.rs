//! Running a set of policies for a phase and collecting their findings, fail closed.
//!
//! Whatever goes wrong with a policy (it cannot be loaded, rejects its settings, traps, panics,
//! runs out of time or memory, returns malformed or oversized output, or says it could not
//! decide) becomes a `deny` finding of its own that names the module and the cause. It never
//! passes silently, never stops the host, and the other policies still run.

mod output;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::bindings::types::{CheckRequest, Finding, ObjectRef, Severity};
use crate::bundled::BundledModule;
use crate::engine::{CallError, LoadError, PolicyModule, Runtime};
use crate::snapshot::ClusterView;

pub use output::OutputLimits;

/// Where a policy's component comes from.
#[derive(Debug, Clone)]
pub enum PolicySource {
    /// Embedded in the binary.
    Bundled(&'static BundledModule),
    /// A `.wasm` file.
    File(PathBuf),
}

/// One policy to run: its name, component and settings.
#[derive(Debug, Clone)]
pub struct PolicySpec {
    /// The name findings are attributed to.
    pub name: String,
    /// The component.
    pub source: PolicySource,
    /// Settings JSON (`{}` for the defaults).
    pub settings: String,
}

impl PolicySpec {
    /// A bundled module with its default settings.
    pub fn bundled(module: &'static BundledModule) -> Self {
        Self {
            name: module.name.to_owned(),
            source: PolicySource::Bundled(module),
            settings: "{}".into(),
        }
    }

    /// A module file, named after its file stem.
    pub fn file(path: PathBuf, settings: String) -> Self {
        let name = path.file_stem().map_or_else(
            || path.display().to_string(),
            |s| s.to_string_lossy().into_owned(),
        );
        Self {
            name,
            source: PolicySource::File(path),
            settings,
        }
    }
}

/// The stable codes of the findings the host itself raises for a failed policy.
pub mod codes {
    /// The module could not be read, compiled, checked against the world or linked.
    pub const LOAD_FAILED: &str = "policy.load-failed";
    /// The module rejected its settings.
    pub const SETTINGS_REJECTED: &str = "policy.settings-rejected";
    /// The module trapped or panicked.
    pub const TRAPPED: &str = "policy.trapped";
    /// The module exceeded its time limit.
    pub const TIMED_OUT: &str = "policy.timed-out";
    /// The module exceeded its memory limit.
    pub const OUT_OF_MEMORY: &str = "policy.out-of-memory";
    /// The module returned output the host does not accept.
    pub const OUTPUT_INVALID: &str = "policy.output-invalid";
    /// The module said it could not decide.
    pub const UNDECIDED: &str = "policy.undecided";
}

/// What one policy produced.
#[derive(Debug)]
pub struct PolicyOutcome {
    /// The policy's name.
    pub policy: String,
    /// Its findings (or the host's deny finding about it).
    pub findings: Vec<Finding>,
    /// Wall time spent on it, loading included.
    pub elapsed: Duration,
}

/// The result of a check run.
#[derive(Debug, Default)]
pub struct Report {
    /// One outcome per policy, in the order they ran.
    pub outcomes: Vec<PolicyOutcome>,
}

impl Report {
    /// Every finding, policy by policy.
    pub fn findings(&self) -> impl Iterator<Item = &Finding> {
        self.outcomes.iter().flat_map(|o| o.findings.iter())
    }

    /// Whether any finding denies.
    pub fn denied(&self) -> bool {
        self.findings().any(|f| f.severity == Severity::Deny)
    }
}

fn host_finding(policy: &str, code: &str, message: String, remedy: &str) -> Finding {
    Finding {
        policy: policy.to_owned(),
        code: code.to_owned(),
        severity: Severity::Deny,
        message,
        subject: ObjectRef {
            kind: "Policy".into(),
            namespace: None,
            name: policy.to_owned(),
        },
        remedy: Some(remedy.to_owned()),
    }
}

fn call_failed(policy: &str, during: &str, err: &CallError) -> Finding {
    let (code, remedy) = match err {
        CallError::TimedOut { .. } => (
            codes::TIMED_OUT,
            "fix the module's loop, or raise --policy-timeout-ms if the cluster is very large",
        ),
        CallError::MemoryExceeded { .. } => (
            codes::OUT_OF_MEMORY,
            "use narrower cluster queries in the module, or raise --policy-memory-mb",
        ),
        CallError::Trapped { .. } | CallError::Instantiate(_) => (
            codes::TRAPPED,
            "fix the module; the host treats a crashing policy as a deny",
        ),
    };
    host_finding(
        policy,
        code,
        format!("policy {policy} {err} during {during}"),
        remedy,
    )
}

fn load_failed(policy: &str, err: &LoadError) -> Finding {
    host_finding(
        policy,
        codes::LOAD_FAILED,
        format!("policy {policy} could not be loaded: {err}"),
        "check the path and rebuild the module for wasm32-wasip2 against this host's wit/",
    )
}

/// Load a policy's component (bundled or file).
pub fn load(runtime: &Runtime, spec: &PolicySpec) -> Result<PolicyModule, LoadError> {
    match &spec.source {
        PolicySource::Bundled(m) => runtime.load_policy(&spec.name, m.wasm),
        PolicySource::File(path) => runtime.load_policy_file(&spec.name, path),
    }
}

/// Run one policy: load, validate its settings, check, vet its output.
pub async fn run_policy(
    runtime: &Runtime,
    spec: &PolicySpec,
    view: Arc<ClusterView>,
    request: &CheckRequest,
    limits: &OutputLimits,
) -> PolicyOutcome {
    let started = Instant::now();
    let name = spec.name.as_str();
    let findings = match load(runtime, spec) {
        Err(e) => vec![load_failed(name, &e)],
        Ok(module) => match module.validate_settings(&spec.settings).await {
            Err(e) => vec![call_failed(name, "validate-settings", &e)],
            Ok(Err(why)) => vec![host_finding(
                name,
                codes::SETTINGS_REJECTED,
                format!(
                    "policy {name} rejected its settings: {}",
                    output::clip(&why, limits.max_message_bytes)
                ),
                "fix the settings as the message says (see policies/README.md)",
            )],
            Ok(Ok(())) => {
                let request = CheckRequest {
                    settings: spec.settings.clone(),
                    ..request.clone()
                };
                match module.check(view, &request).await {
                    Err(e) => vec![call_failed(name, "check", &e)],
                    Ok(Err(why)) => vec![host_finding(
                        name,
                        codes::UNDECIDED,
                        format!(
                            "policy {name} could not decide: {}",
                            output::clip(&why, limits.max_message_bytes)
                        ),
                        "fix what the message names; until then the host treats it as a deny",
                    )],
                    Ok(Ok(findings)) => match output::vet(name, findings, limits) {
                        Ok(findings) => findings,
                        Err(why) => vec![host_finding(
                            name,
                            codes::OUTPUT_INVALID,
                            format!("policy {name} returned invalid output: {why}"),
                            "fix the module; its findings were discarded and count as a deny",
                        )],
                    },
                }
            }
        },
    };
    PolicyOutcome {
        policy: spec.name.clone(),
        findings,
        elapsed: started.elapsed(),
    }
}

/// Run every policy in order against one snapshot.
pub async fn run_policies(
    runtime: &Runtime,
    specs: &[PolicySpec],
    view: Arc<ClusterView>,
    request: &CheckRequest,
    limits: &OutputLimits,
) -> Report {
    let mut report = Report::default();
    for spec in specs {
        report
            .outcomes
            .push(run_policy(runtime, spec, view.clone(), request, limits).await);
    }
    report
}

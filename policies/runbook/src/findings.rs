//! Sorting policy findings into what stops a node, what the operator accepted, and what only
//! needs a look; and writing them for reports.

use serde_json::{Value, json};

use crate::capture::ref_json;
use crate::host::{Finding, ObjectRef, Severity};
use crate::settings::Settings;

/// The code of the runbook's own refusal to take the last Ready, schedulable node.
pub const LAST_READY_NODE: &str = "runbook.last-ready-node";

/// Findings of one policy run, sorted by what they mean for the node.
#[derive(Debug, Default)]
pub struct Verdict {
    /// Deny findings whose code the operator did not accept: the node must not go.
    pub denied: Vec<Finding>,
    /// Deny findings the operator accepted for this run (`accept`).
    pub accepted: Vec<Finding>,
    /// Warnings.
    pub warnings: Vec<Finding>,
    /// Everything, in the order the host gave it.
    pub all: Vec<Finding>,
}

impl Verdict {
    /// Sort `findings` with the operator's `accept` list.
    pub fn of(findings: Vec<Finding>, settings: &Settings) -> Verdict {
        let mut v = Verdict::default();
        for f in &findings {
            match f.severity {
                Severity::Deny if settings.accepts(&f.code) => v.accepted.push(f.clone()),
                Severity::Deny => v.denied.push(f.clone()),
                Severity::Warn => v.warnings.push(f.clone()),
                Severity::Info => {}
            }
        }
        v.all = findings;
        v
    }
}

/// The distinct codes of `findings`, in first-seen order.
pub fn codes(findings: &[Finding]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for f in findings {
        if !out.contains(&f.code) {
            out.push(f.code.clone());
        }
    }
    out
}

/// `code: message` for each finding, joined with `; `.
pub fn listing(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(|f| format!("{}: {}", f.code, f.message))
        .collect::<Vec<_>>()
        .join("; ")
}

/// One finding as JSON (severity in lower case, as the CLI prints it).
pub fn finding_json(f: &Finding) -> Value {
    let severity = match f.severity {
        Severity::Info => "info",
        Severity::Warn => "warn",
        Severity::Deny => "deny",
    };
    json!({
        "policy": f.policy,
        "code": f.code,
        "severity": severity,
        "message": f.message,
        "subject": ref_json(&f.subject),
        "remedy": f.remedy,
    })
}

/// Findings as a JSON array.
pub fn findings_json(findings: &[Finding]) -> Value {
    Value::Array(findings.iter().map(finding_json).collect())
}

/// The runbook's own deny when no node outside the run's remaining targets is Ready and
/// schedulable: the evicted pods would have nowhere to go.
pub fn last_ready_node(node: &str) -> Finding {
    Finding {
        policy: "runbook".into(),
        code: LAST_READY_NODE.into(),
        severity: Severity::Deny,
        message: format!(
            "no node other than {node} and the run's remaining targets is Ready and schedulable, so the evicted pods would have nowhere to run"
        ),
        subject: ObjectRef {
            kind: "Node".into(),
            namespace: None,
            name: node.to_owned(),
        },
        remedy: Some(
            "add a node or uncordon one first, or accept it for this run with --accept runbook.last-ready-node if the downtime is intended".into(),
        ),
    }
}

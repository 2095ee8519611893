//! Printing findings: a table for people, JSON for machines.

use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use serde::Serialize;

use crate::bindings::types::{Finding, Severity};
use crate::checks::Report;

fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Info => "info",
        Severity::Warn => "warn",
        Severity::Deny => "deny",
    }
}

fn subject(f: &Finding) -> String {
    match &f.subject.namespace {
        Some(ns) => format!("{}/{}/{}", f.subject.kind, ns, f.subject.name),
        None => format!("{}/{}", f.subject.kind, f.subject.name),
    }
}

/// The findings as a table plus a verdict line.
pub fn table(targets: &[String], report: &Report) -> String {
    let mut findings: Vec<&Finding> = report.findings().collect();
    // Denies first: that is what the operator has to act on.
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity as u8));
    let mut out = String::new();
    if !findings.is_empty() {
        let mut table = Table::new();
        table
            .load_preset(UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Dynamic);
        table.set_header(["SEVERITY", "POLICY", "CODE", "SUBJECT", "MESSAGE"]);
        for f in &findings {
            let mut message = f.message.clone();
            if let Some(remedy) = &f.remedy {
                message.push_str("\n-> ");
                message.push_str(remedy);
            }
            table.add_row([
                severity_name(f.severity),
                &f.policy,
                &f.code,
                &subject(f),
                &message,
            ]);
        }
        out.push_str(&table.to_string());
        out.push('\n');
    }
    let count = |s| findings.iter().filter(|f| f.severity == s).count();
    let policies = report.outcomes.len();
    let verdict = if report.denied() { "DENIED" } else { "ALLOWED" };
    out.push_str(&format!(
        "{verdict}: recycling {} ({policies} policies; {} deny, {} warn, {} info)\n",
        targets.join(", "),
        count(Severity::Deny),
        count(Severity::Warn),
        count(Severity::Info),
    ));
    out
}

#[derive(Serialize)]
struct JsonFinding<'a> {
    policy: &'a str,
    code: &'a str,
    severity: &'static str,
    message: &'a str,
    subject: &'a crate::bindings::types::ObjectRef,
    remedy: Option<&'a str>,
}

#[derive(Serialize)]
struct JsonPolicy<'a> {
    name: &'a str,
    findings: usize,
    elapsed_ms: f64,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    targets: &'a [String],
    denied: bool,
    findings: Vec<JsonFinding<'a>>,
    policies: Vec<JsonPolicy<'a>>,
}

/// The report as JSON: `{targets, denied, findings: [...], policies: [...]}`.
pub fn json(targets: &[String], report: &Report) -> String {
    let doc = JsonReport {
        targets,
        denied: report.denied(),
        findings: report
            .findings()
            .map(|f| JsonFinding {
                policy: &f.policy,
                code: &f.code,
                severity: severity_name(f.severity),
                message: &f.message,
                subject: &f.subject,
                remedy: f.remedy.as_deref(),
            })
            .collect(),
        policies: report
            .outcomes
            .iter()
            .map(|o| JsonPolicy {
                name: &o.policy,
                findings: o.findings.len(),
                elapsed_ms: o.elapsed.as_secs_f64() * 1e3,
            })
            .collect(),
    };
    serde_json::to_string_pretty(&doc)
        .unwrap_or_else(|e| format!("{{\"error\": \"cannot serialise report: {e}\"}}"))
}

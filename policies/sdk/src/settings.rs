//! Settings helpers: strict parsing with messages that say what to fix, and per-code severity
//! overrides so that a team can knowingly turn a deny into a warn.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::{Finding, Severity};

/// Parse settings JSON into `T` (which should use `#[serde(deny_unknown_fields)]`). An empty
/// string means `{}`. The error quotes serde's precise complaint (unknown field and the expected
/// ones, wrong type and where) and says how to fix it.
pub fn parse_settings<T: DeserializeOwned>(settings: &str) -> Result<T, String> {
    let text = if settings.trim().is_empty() {
        "{}"
    } else {
        settings
    };
    serde_json::from_str(text).map_err(|e| {
        format!("invalid settings: {e}; fix or remove that field (see the policy's settings in policies/README.md)")
    })
}

/// `severity_overrides`: finding code -> `info` | `warn` | `deny`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(transparent)]
pub struct SeverityOverrides(BTreeMap<String, String>);

impl SeverityOverrides {
    /// Reject unknown codes and severities, naming the bad one and the choices.
    pub fn validate(&self, known_codes: &[&str]) -> Result<(), String> {
        for (code, severity) in &self.0 {
            if !known_codes.contains(&code.as_str()) {
                return Err(format!(
                    "severity_overrides: unknown finding code {code:?}; known codes: {}",
                    known_codes.join(", ")
                ));
            }
            parse_severity(severity).map_err(|e| format!("severity_overrides.{code}: {e}"))?;
        }
        Ok(())
    }

    /// Apply the overrides to findings (codes without an override keep their severity).
    pub fn apply(&self, findings: &mut [Finding]) {
        for f in findings {
            if let Some(Ok(severity)) = self.0.get(&f.code).map(|s| parse_severity(s)) {
                f.severity = severity;
            }
        }
    }
}

/// `info`, `warn` or `deny`.
pub fn parse_severity(text: &str) -> Result<Severity, String> {
    match text {
        "info" => Ok(Severity::Info),
        "warn" => Ok(Severity::Warn),
        "deny" => Ok(Severity::Deny),
        other => Err(format!(
            "{other:?} is not a severity; use \"info\", \"warn\" or \"deny\""
        )),
    }
}

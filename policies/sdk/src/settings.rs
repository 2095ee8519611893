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
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        format!("invalid settings: {e}; settings must be one JSON object, e.g. {{}}")
    })?;
    if !value.is_object() {
        // serde would read a struct from an array too; settings are named fields only.
        return Err(format!(
            "invalid settings: {value} is not a JSON object; write the fields by name, e.g. {{}}"
        ));
    }
    serde_json::from_value(value.clone()).map_err(|e| {
        match culprit::<T>(&value) {
            Some(field) => format!(
                "invalid settings: field `{field}`: {e}; fix or remove that field (see the policy's settings in policies/README.md)"
            ),
            None => format!(
                "invalid settings: {e}; fix or remove that field (see the policy's settings in policies/README.md)"
            ),
        }
    })
}

/// serde_json names the bad value but not the field it belongs to. Settings are tiny objects whose
/// fields all have defaults, so try each top-level field alone and name the first one that fails.
fn culprit<T: DeserializeOwned>(value: &serde_json::Value) -> Option<String> {
    let object = value.as_object()?;
    object.iter().find_map(|(key, field)| {
        let mut alone = serde_json::Map::new();
        alone.insert(key.clone(), field.clone());
        serde_json::from_value::<T>(serde_json::Value::Object(alone))
            .is_err()
            .then(|| key.clone())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code, reason = "only parsed")]
    struct Example {
        #[serde(default)]
        limit: u32,
        #[serde(default)]
        name: String,
    }

    #[test]
    fn wrong_type_names_the_field_and_the_value() {
        let err = parse_settings::<Example>(r#"{"name": "x", "limit": "85%"}"#).expect_err("bad");
        assert!(err.contains("field `limit`"), "{err}");
        assert!(err.contains("85%"), "{err}");
    }

    #[test]
    fn unknown_field_is_named_with_the_expected_ones() {
        let err = parse_settings::<Example>(r#"{"limt": 1}"#).expect_err("typo");
        assert!(err.contains("`limt`") && err.contains("limit"), "{err}");
    }

    #[test]
    fn empty_text_means_defaults() {
        assert!(parse_settings::<Example>("  ").is_ok());
        assert!(parse_settings::<Example>("[1]").is_err());
    }
}

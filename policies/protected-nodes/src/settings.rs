//! Settings of `protected-nodes`.

use serde::Deserialize;
use tke_recycle_policy_sdk::{SeverityOverrides, parse_settings};

/// The codes this policy emits.
pub const CODES: &[&str] = &["protected-nodes.labelled", "protected-nodes.unknown-node"];

/// `{"labels": ["key", "key=value"], "severity_overrides": {"protected-nodes.labelled": "warn"}}`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Protection labels: `key` matches any value, `key=value` only that value.
    #[serde(default = "default_labels")]
    pub labels: Vec<String>,
    /// Per-code severity overrides.
    #[serde(default)]
    pub severity_overrides: SeverityOverrides,
}

fn default_labels() -> Vec<String> {
    vec!["tke-recycle.io/protected".to_owned()]
}

/// One parsed protection label.
#[derive(Debug, PartialEq)]
pub struct LabelRule<'a> {
    /// Label key.
    pub key: &'a str,
    /// Required value, if any.
    pub value: Option<&'a str>,
}

impl Settings {
    /// Parse and validate.
    pub fn parse(json: &str) -> Result<Self, String> {
        let settings: Self = parse_settings(json)?;
        settings.rules()?;
        settings.severity_overrides.validate(CODES)?;
        Ok(settings)
    }

    /// The label rules, rejecting empty keys and keys with spaces.
    pub fn rules(&self) -> Result<Vec<LabelRule<'_>>, String> {
        self.labels
            .iter()
            .map(|entry| {
                let (key, value) = match entry.split_once('=') {
                    Some((k, v)) => (k, Some(v)),
                    None => (entry.as_str(), None),
                };
                if key.is_empty() || key.contains(char::is_whitespace) {
                    return Err(format!(
                        "labels: {entry:?} is not a label; write \"key\" or \"key=value\", e.g. \"tke-recycle.io/protected\""
                    ));
                }
                Ok(LabelRule { key, value })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_to_the_protected_label() {
        let s = Settings::parse("{}").expect("defaults are valid");
        assert_eq!(
            s.rules().expect("valid"),
            vec![LabelRule {
                key: "tke-recycle.io/protected",
                value: None
            }]
        );
    }

    #[test]
    fn rejects_typos_naming_the_field() {
        let err = Settings::parse(r#"{"lables": ["x"]}"#).expect_err("typo must be rejected");
        assert!(err.contains("unknown field `lables`"), "{err}");
        assert!(err.contains("labels"), "{err}");
    }

    #[test]
    fn rejects_a_bad_label_naming_value_and_fix() {
        let err = Settings::parse(r#"{"labels": ["=x"]}"#).expect_err("empty key");
        assert!(err.contains("\"=x\"") && err.contains("key=value"), "{err}");
    }

    #[test]
    fn rejects_unknown_override_codes() {
        let err = Settings::parse(r#"{"severity_overrides": {"nope": "warn"}}"#)
            .expect_err("unknown code");
        assert!(err.contains("\"nope\""), "{err}");
        let err = Settings::parse(r#"{"severity_overrides": {"protected-nodes.labelled": "meh"}}"#)
            .expect_err("bad severity");
        assert!(err.contains("\"meh\""), "{err}");
    }
}

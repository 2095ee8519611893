//! Settings of `spread`.

use serde::Deserialize;
use tke_recycle_policy_sdk::{SeverityOverrides, parse_settings};

/// The codes this policy emits.
pub const CODES: &[&str] = &[
    "spread.all-replicas-on-targets",
    "spread.single-replica",
    "spread.no-controller",
    "spread.unknown-workload",
    "spread.unknown-node",
];

/// `{"ignore_namespaces": ["kube-system"], "severity_overrides": {}}`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Namespaces whose pods this policy does not look at.
    #[serde(default)]
    pub ignore_namespaces: Vec<String>,
    /// Per-code severity overrides.
    #[serde(default)]
    pub severity_overrides: SeverityOverrides,
}

impl Settings {
    /// Parse and validate.
    pub fn parse(json: &str) -> Result<Self, String> {
        let settings: Self = parse_settings(json)?;
        for ns in &settings.ignore_namespaces {
            let valid = !ns.is_empty()
                && ns.len() <= 63
                && ns
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !valid {
                return Err(format!(
                    "ignore_namespaces: {ns:?} is not a namespace name; use lower-case letters, digits and '-', e.g. \"kube-system\""
                ));
            }
        }
        settings.severity_overrides.validate(CODES)?;
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::reject_upper_case_namespace(r#"{"ignore_namespaces": ["Kube-System"]}"#, &["ignore_namespaces", "\"Kube-System\"", "e.g. \"kube-system\""])]
    #[case::reject_namespace_as_string(r#"{"ignore_namespaces": "kube-system"}"#, &["ignore_namespaces", "kube-system"])]
    #[case::reject_typo(r#"{"ignore_namespace": []}"#, &["ignore_namespace", "ignore_namespaces"])]
    #[case::reject_unknown_override(r#"{"severity_overrides": {"spread.all-replicas": "warn"}}"#, &["spread.all-replicas", "spread.all-replicas-on-targets"])]
    fn invalid_settings_name_field_value_and_fix(#[case] json: &str, #[case] needles: &[&str]) {
        let err = Settings::parse(json).expect_err("must be rejected");
        for needle in needles {
            assert!(err.contains(needle), "{err:?} lacks {needle:?}");
        }
    }
}

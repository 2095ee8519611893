//! Settings of `pdb`.

use serde::Deserialize;
use tke_recycle_policy_sdk::{SeverityOverrides, parse_settings};

/// The codes this policy emits.
pub const CODES: &[&str] = &[
    "pdb.zero-budget",
    "pdb.budget-exceeded-by-node",
    "pdb.multiple-pdbs",
    "pdb.exhausted",
    "pdb.unhealthy-pods",
    "pdb.unknown-node",
];

/// `{"severity_overrides": {"pdb.budget-exceeded-by-node": "deny"}}`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// How many unhealthy pods to name in `pdb.unhealthy-pods` (1-50).
    #[serde(default = "default_max_pods_named")]
    pub max_pods_named: u32,
    /// Per-code severity overrides.
    #[serde(default)]
    pub severity_overrides: SeverityOverrides,
}

fn default_max_pods_named() -> u32 {
    5
}

impl Settings {
    /// Parse and validate.
    pub fn parse(json: &str) -> Result<Self, String> {
        let settings: Self = parse_settings(json)?;
        if !(1..=50).contains(&settings.max_pods_named) {
            return Err(format!(
                "max_pods_named: {} is out of range; use a count from 1 to 50, e.g. 5",
                settings.max_pods_named
            ));
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
    #[case::reject_zero_pods_named(r#"{"max_pods_named": 0}"#, &["max_pods_named", "0", "e.g. 5"])]
    #[case::reject_negative_pods_named(r#"{"max_pods_named": -1}"#, &["max_pods_named", "-1"])]
    #[case::reject_typo(r#"{"severity_override": {}}"#, &["severity_override", "severity_overrides"])]
    #[case::reject_unknown_severity(r#"{"severity_overrides": {"pdb.zero-budget": "ignore"}}"#, &["pdb.zero-budget", "\"ignore\"", "\"warn\""])]
    fn invalid_settings_name_field_value_and_fix(#[case] json: &str, #[case] needles: &[&str]) {
        let err = Settings::parse(json).expect_err("must be rejected");
        for needle in needles {
            assert!(err.contains(needle), "{err:?} lacks {needle:?}");
        }
    }

    #[test]
    fn empty_settings_are_valid() {
        assert_eq!(Settings::parse("").map(|s| s.max_pods_named), Ok(5));
    }
}

//! Settings of `headroom`.

use serde::Deserialize;
use tke_recycle_policy_sdk::{SeverityOverrides, parse_settings};

/// The codes this policy emits.
pub const CODES: &[&str] = &[
    "headroom.unschedulable",
    "headroom.preemption",
    "headroom.allocation-high",
    "headroom.image-pull-burst",
    "headroom.unknown-node",
    "headroom.placement",
];

/// `{"max_allocation_percent": 85, "max_pods_per_node": 20, "severity_overrides": {}}`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Warn when, after the drain, the remaining schedulable nodes have more than this share of
    /// their allocatable cpu or memory requested (1-100).
    #[serde(default = "default_max_allocation_percent")]
    pub max_allocation_percent: u32,
    /// Warn when more than this many evicted pods would land on one node (kubelet pulls images one
    /// at a time by default, so they start slowly).
    #[serde(default = "default_max_pods_per_node")]
    pub max_pods_per_node: u32,
    /// Also report, as an info finding, the node each evicted pod is expected to land on
    /// (`tke-recycle plan` turns this on).
    #[serde(default)]
    pub report_placements: bool,
    /// Per-code severity overrides.
    #[serde(default)]
    pub severity_overrides: SeverityOverrides,
}

fn default_max_allocation_percent() -> u32 {
    85
}

fn default_max_pods_per_node() -> u32 {
    20
}

impl Settings {
    /// Parse and validate.
    pub fn parse(json: &str) -> Result<Self, String> {
        let settings: Self = parse_settings(json)?;
        if !(1..=100).contains(&settings.max_allocation_percent) {
            return Err(format!(
                "max_allocation_percent: {} is out of range; use a whole percentage from 1 to 100, e.g. 85",
                settings.max_allocation_percent
            ));
        }
        if settings.max_pods_per_node == 0 {
            return Err(
                "max_pods_per_node: 0 would warn on every pod; use a count of 1 or more, e.g. 20"
                    .to_owned(),
            );
        }
        settings.severity_overrides.validate(CODES)?;
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[test]
    fn defaults_are_85_percent_and_20_pods() {
        let s = Settings::parse("{}").expect("defaults are valid");
        assert_eq!((s.max_allocation_percent, s.max_pods_per_node), (85, 20));
    }

    #[rstest]
    #[case::reject_zero_percent(r#"{"max_allocation_percent": 0}"#, &["max_allocation_percent", "0", "1 to 100"])]
    #[case::reject_more_than_100_percent(r#"{"max_allocation_percent": 120}"#, &["max_allocation_percent", "120"])]
    #[case::reject_percent_as_string(r#"{"max_allocation_percent": "85%"}"#, &["max_allocation_percent", "85%"])]
    #[case::reject_zero_pods(r#"{"max_pods_per_node": 0}"#, &["max_pods_per_node", "0", "e.g. 20"])]
    #[case::reject_typo(r#"{"max_pod_per_node": 5}"#, &["max_pod_per_node", "max_pods_per_node"])]
    #[case::reject_unknown_override(r#"{"severity_overrides": {"headroom.nope": "warn"}}"#, &["headroom.nope", "headroom.unschedulable"])]
    fn invalid_settings_name_field_value_and_fix(#[case] json: &str, #[case] needles: &[&str]) {
        let err = Settings::parse(json).expect_err("must be rejected");
        for needle in needles {
            assert!(err.contains(needle), "{err:?} lacks {needle:?}");
        }
    }
}

//! Settings of `workloads-healthy`.

use serde::Deserialize;
use tke_recycle_policy_sdk::{SeverityOverrides, parse_settings};

/// The codes this policy emits.
pub const CODES: &[&str] = &[
    "workloads-healthy.not-ready",
    "workloads-healthy.pdb-unhealthy",
    "workloads-healthy.workload-missing",
    "workloads-healthy.pdb-not-found",
    "workloads-healthy.nothing-recorded",
];

/// `{"severity_overrides": {"workloads-healthy.not-ready": "warn"}}`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Per-code severity overrides.
    #[serde(default)]
    pub severity_overrides: SeverityOverrides,
}

impl Settings {
    /// Parse and validate.
    pub fn parse(json: &str) -> Result<Self, String> {
        let settings: Self = parse_settings(json)?;
        settings.severity_overrides.validate(CODES)?;
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_typos_and_unknown_codes() {
        let err = Settings::parse(r#"{"timeout": 30}"#).expect_err("unknown field");
        assert!(
            err.contains("`timeout`") && err.contains("severity_overrides"),
            "{err}"
        );
        let err = Settings::parse(r#"{"severity_overrides": {"workloads-healthy.ready": "warn"}}"#)
            .expect_err("unknown code");
        assert!(
            err.contains("workloads-healthy.ready") && err.contains("workloads-healthy.not-ready"),
            "{err}"
        );
    }
}

//! Settings of `local-data`.

use serde::Deserialize;
use tke_recycle_policy_sdk::{SeverityOverrides, parse_settings};

/// The codes this policy emits.
pub const CODES: &[&str] = &[
    "local-data.pinned-volume",
    "local-data.host-path",
    "local-data.empty-dir",
    "local-data.unknown-node",
];

/// `{"ignore_host_paths": ["/var/log"], "severity_overrides": {"local-data.empty-dir": "info"}}`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// hostPath prefixes that hold nothing worth keeping (system and runtime paths). A path
    /// matches when it is the prefix or lies below it. Replaces the default list.
    #[serde(default = "default_ignore_host_paths")]
    pub ignore_host_paths: Vec<String>,
    /// Per-code severity overrides.
    #[serde(default)]
    pub severity_overrides: SeverityOverrides,
}

/// System paths that DaemonSets mount on every node and that the reinstall recreates.
pub fn default_ignore_host_paths() -> Vec<String> {
    [
        "/proc",
        "/sys",
        "/dev",
        "/run",
        "/var/run",
        "/etc",
        "/usr",
        "/lib/modules",
        "/opt/cni",
        "/var/log",
        "/var/lib/kubelet",
        "/var/lib/docker",
        "/var/lib/containerd",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}

impl Settings {
    /// Parse and validate.
    pub fn parse(json: &str) -> Result<Self, String> {
        let settings: Self = parse_settings(json)?;
        for path in &settings.ignore_host_paths {
            if !path.starts_with('/') || path == "/" {
                return Err(format!(
                    "ignore_host_paths: {path:?} is not an absolute directory below /; write it as the pod spec does, e.g. \"/var/log\""
                ));
            }
        }
        settings.severity_overrides.validate(CODES)?;
        Ok(settings)
    }

    /// Whether `path` is at or below an ignored prefix.
    pub fn ignores(&self, path: &str) -> bool {
        let path = path.trim_end_matches('/');
        self.ignore_host_paths.iter().any(|prefix| {
            let prefix = prefix.trim_end_matches('/');
            path == prefix
                || path
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with('/'))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::ignore_the_prefix_itself("/var/log", true)]
    #[case::ignore_below_the_prefix("/var/log/pods", true)]
    #[case::ignore_with_trailing_slash("/var/log/", true)]
    #[case::keep_a_sibling_sharing_the_prefix_text("/var/logs-archive", false)]
    #[case::keep_data_directories("/data/uploads", false)]
    fn default_ignore_list(#[case] path: &str, #[case] ignored: bool) {
        let s = Settings::parse("{}").expect("defaults are valid");
        assert_eq!(s.ignores(path), ignored);
    }

    #[rstest]
    #[case::reject_relative_path(r#"{"ignore_host_paths": ["var/log"]}"#, &["ignore_host_paths", "\"var/log\"", "e.g. \"/var/log\""])]
    #[case::reject_root(r#"{"ignore_host_paths": ["/"]}"#, &["ignore_host_paths", "\"/\""])]
    #[case::reject_typo(r#"{"ignore_hostpaths": []}"#, &["ignore_hostpaths", "ignore_host_paths"])]
    #[case::reject_unknown_override(r#"{"severity_overrides": {"local-data.hostpath": "info"}}"#, &["local-data.hostpath", "local-data.host-path"])]
    fn invalid_settings_name_field_value_and_fix(#[case] json: &str, #[case] needles: &[&str]) {
        let err = Settings::parse(json).expect_err("must be rejected");
        for needle in needles {
            assert!(err.contains(needle), "{err:?} lacks {needle:?}");
        }
    }
}

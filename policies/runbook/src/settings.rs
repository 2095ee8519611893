//! The runbook's settings: JSON in snake_case, unknown fields refused, every value checked before
//! the first node is touched. Each message names the field, the bad value and the fix.

use serde::Deserialize;

/// What to do when a drain cannot finish within `drain_timeout_seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnBlocked {
    /// Stop the run (the node is uncordoned first).
    #[default]
    Stop,
    /// Uncordon the node, record it as skipped and go on with the next node.
    Skip,
}

/// How the reinstalled node can be logged into, as the operator chose it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginChoice {
    /// These SSH key IDs (`skey-...`).
    KeyIds(Vec<String>),
    /// Keep the image's login settings.
    KeepImageLogin,
}

/// `login` as written in the settings: exactly one of the two fields.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginSettings {
    key_ids: Option<Vec<String>>,
    keep_image_login: Option<bool>,
}

/// A data disk whose content survives the reinstall: TKE does not mount it, a user script does.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeepDataDisk {
    /// Block device, e.g. `/dev/vdb`.
    pub device: String,
    /// Where it is mounted, e.g. `/data`.
    pub mount_target: String,
}

/// The settings as they are written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Raw {
    accept: Vec<String>,
    assume_yes: bool,
    drain_timeout_seconds: u64,
    on_blocked: OnBlocked,
    disable_eviction: bool,
    uncordon_after_drain: bool,
    node_gone_timeout_seconds: u64,
    instance_running_timeout_seconds: u64,
    node_ready_timeout_seconds: u64,
    post_check_timeout_seconds: u64,
    post_check_interval_seconds: u64,
    add_attempts: u32,
    login: Option<LoginSettings>,
    keep_data_disk: Option<KeepDataDisk>,
}

impl Default for Raw {
    fn default() -> Self {
        let d = Settings::default();
        Raw {
            accept: d.accept,
            assume_yes: d.assume_yes,
            drain_timeout_seconds: d.drain_timeout_seconds,
            on_blocked: d.on_blocked,
            disable_eviction: d.disable_eviction,
            uncordon_after_drain: d.uncordon_after_drain,
            node_gone_timeout_seconds: d.node_gone_timeout_seconds,
            instance_running_timeout_seconds: d.instance_running_timeout_seconds,
            node_ready_timeout_seconds: d.node_ready_timeout_seconds,
            post_check_timeout_seconds: d.post_check_timeout_seconds,
            post_check_interval_seconds: d.post_check_interval_seconds,
            add_attempts: d.add_attempts,
            login: None,
            keep_data_disk: None,
        }
    }
}

/// The validated settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Deny finding codes the operator accepts for this run.
    pub accept: Vec<String>,
    /// Warnings need no confirmation.
    pub assume_yes: bool,
    /// How long a drain may take, from its start.
    pub drain_timeout_seconds: u64,
    /// What a drain that cannot finish does to the run.
    pub on_blocked: OnBlocked,
    /// Delete pods instead of evicting them (PDBs bypassed; the host also needs the operator's
    /// opt-in).
    pub disable_eviction: bool,
    /// Drain mode only: uncordon the node after the drain.
    pub uncordon_after_drain: bool,
    /// How long the Node object may take to disappear after the removal.
    pub node_gone_timeout_seconds: u64,
    /// How long TKE may take to report the re-added instance `running`.
    pub instance_running_timeout_seconds: u64,
    /// How long the Node may take to come back Ready.
    pub node_ready_timeout_seconds: u64,
    /// How long the post-check may keep denying before the run stops.
    pub post_check_timeout_seconds: u64,
    /// Pause between two post-check rounds.
    pub post_check_interval_seconds: u64,
    /// How many times an add that failed is tried in all.
    pub add_attempts: u32,
    /// The login of the reinstalled node; `None` means the key IDs captured from CVM.
    pub login: Option<LoginChoice>,
    /// A data disk to keep (and mount from a user script) instead of letting TKE mount it.
    pub keep_data_disk: Option<KeepDataDisk>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            accept: Vec::new(),
            assume_yes: false,
            drain_timeout_seconds: 600,
            on_blocked: OnBlocked::Stop,
            disable_eviction: false,
            uncordon_after_drain: false,
            node_gone_timeout_seconds: 300,
            instance_running_timeout_seconds: 1800,
            node_ready_timeout_seconds: 900,
            post_check_timeout_seconds: 600,
            post_check_interval_seconds: 5,
            add_attempts: 3,
            login: None,
            keep_data_disk: None,
        }
    }
}

impl Settings {
    /// Parse and validate. An empty string or `null` means every default.
    pub fn parse(json: &str) -> Result<Settings, String> {
        let json = json.trim();
        let raw: Raw = if json.is_empty() || json == "null" {
            Raw::default()
        } else {
            serde_json::from_str(json).map_err(|e| format!("invalid runbook settings: {e}"))?
        };
        validate(raw)
    }

    /// True when the operator accepts deny findings with this code for this run.
    pub fn accepts(&self, code: &str) -> bool {
        self.accept.iter().any(|c| c == code)
    }
}

fn validate(raw: Raw) -> Result<Settings, String> {
    for code in &raw.accept {
        if code.trim().is_empty() || code.chars().any(char::is_whitespace) {
            return Err(format!(
                "invalid runbook settings: accept: {code:?} is not a finding code; give codes such as \"pdb.zero-budget\" (see `tke-recycle policy list`)"
            ));
        }
    }
    for (field, value) in [
        ("drain_timeout_seconds", raw.drain_timeout_seconds),
        ("node_gone_timeout_seconds", raw.node_gone_timeout_seconds),
        (
            "instance_running_timeout_seconds",
            raw.instance_running_timeout_seconds,
        ),
        ("node_ready_timeout_seconds", raw.node_ready_timeout_seconds),
        ("post_check_timeout_seconds", raw.post_check_timeout_seconds),
        (
            "post_check_interval_seconds",
            raw.post_check_interval_seconds,
        ),
    ] {
        if value == 0 {
            return Err(format!(
                "invalid runbook settings: {field}: 0 leaves no time at all; give at least 1 (seconds) or leave it out for the default"
            ));
        }
    }
    if raw.add_attempts == 0 {
        return Err(
            "invalid runbook settings: add_attempts: 0 would never add the node back; give at least 1 (default 3)"
                .to_owned(),
        );
    }
    let login = raw.login.map(validate_login).transpose()?;
    if let Some(disk) = &raw.keep_data_disk {
        validate_path("keep_data_disk.device", &disk.device, "/dev/vdb")?;
        validate_path("keep_data_disk.mount_target", &disk.mount_target, "/data")?;
        if !disk.device.starts_with("/dev/") {
            return Err(format!(
                "invalid runbook settings: keep_data_disk.device: {:?} is not a block device path; give the device under /dev, e.g. \"/dev/vdb\"",
                disk.device
            ));
        }
        if disk.mount_target.trim_end_matches('/').is_empty() {
            return Err(format!(
                "invalid runbook settings: keep_data_disk.mount_target: {:?} is the root file system; give the data disk's own mount point, e.g. \"/data\"",
                disk.mount_target
            ));
        }
    }
    Ok(Settings {
        accept: raw.accept,
        assume_yes: raw.assume_yes,
        drain_timeout_seconds: raw.drain_timeout_seconds,
        on_blocked: raw.on_blocked,
        disable_eviction: raw.disable_eviction,
        uncordon_after_drain: raw.uncordon_after_drain,
        node_gone_timeout_seconds: raw.node_gone_timeout_seconds,
        instance_running_timeout_seconds: raw.instance_running_timeout_seconds,
        node_ready_timeout_seconds: raw.node_ready_timeout_seconds,
        post_check_timeout_seconds: raw.post_check_timeout_seconds,
        post_check_interval_seconds: raw.post_check_interval_seconds,
        add_attempts: raw.add_attempts,
        login,
        keep_data_disk: raw.keep_data_disk.map(|d| KeepDataDisk {
            device: d.device,
            mount_target: trim_trailing_slash(&d.mount_target),
        }),
    })
}

fn validate_login(login: LoginSettings) -> Result<LoginChoice, String> {
    match (login.key_ids, login.keep_image_login) {
        (Some(ids), None) => {
            if ids.is_empty() {
                return Err("invalid runbook settings: login.key_ids: [] names no key; give at least one SSH key ID (\"skey-...\") or use {\"keep_image_login\": true}".to_owned());
            }
            for id in &ids {
                let rest = id.strip_prefix("skey-").unwrap_or("");
                if rest.is_empty() || !rest.chars().all(|c| c.is_ascii_alphanumeric()) {
                    return Err(format!(
                        "invalid runbook settings: login.key_ids: {id:?} is not an SSH key ID; give IDs of the form \"skey-xxxxxxxx\" (CVM console, SSH keys)"
                    ));
                }
            }
            Ok(LoginChoice::KeyIds(ids))
        }
        (None, Some(true)) => Ok(LoginChoice::KeepImageLogin),
        (None, Some(false)) => Err("invalid runbook settings: login.keep_image_login: false chooses nothing; give {\"keep_image_login\": true}, {\"key_ids\": [\"skey-...\"]} or leave login out (null) to reuse the captured key IDs".to_owned()),
        (Some(_), Some(_)) => Err("invalid runbook settings: login: both key_ids and keep_image_login are given; give exactly one of them".to_owned()),
        (None, None) => Err("invalid runbook settings: login: {} chooses nothing; give {\"key_ids\": [\"skey-...\"]} or {\"keep_image_login\": true}, or null to reuse the captured key IDs".to_owned()),
    }
}

/// The paths go into a shell script: absolute, and only characters that need no quoting.
fn validate_path(field: &str, value: &str, example: &str) -> Result<(), String> {
    if !value.starts_with('/') {
        return Err(format!(
            "invalid runbook settings: {field}: {value:?} is not an absolute path; give one starting with /, e.g. \"{example}\""
        ));
    }
    if let Some(bad) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-')))
    {
        return Err(format!(
            "invalid runbook settings: {field}: {value:?} contains {bad:?}; use only letters, digits and / . _ - (the path goes into the node's boot script)"
        ));
    }
    if value.split('/').any(|part| part == "..") {
        return Err(format!(
            "invalid runbook settings: {field}: {value:?} contains \"..\"; give the path without it, e.g. \"{example}\""
        ));
    }
    Ok(())
}

fn trim_trailing_slash(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        "/".to_owned()
    } else {
        trimmed.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[test]
    fn empty_settings_are_the_defaults() {
        assert_eq!(Settings::parse("{}"), Ok(Settings::default()));
        assert_eq!(Settings::parse(""), Ok(Settings::default()));
        assert_eq!(Settings::parse("null"), Ok(Settings::default()));
    }

    #[test]
    fn every_field_is_read() {
        let s = Settings::parse(
            r#"{"accept": ["pdb.zero-budget"], "assume_yes": true, "drain_timeout_seconds": 60,
                "on_blocked": "skip", "disable_eviction": true, "uncordon_after_drain": true,
                "node_gone_timeout_seconds": 1, "instance_running_timeout_seconds": 2,
                "node_ready_timeout_seconds": 3, "post_check_timeout_seconds": 4,
                "post_check_interval_seconds": 5, "add_attempts": 1,
                "login": {"key_ids": ["skey-abc123"]},
                "keep_data_disk": {"device": "/dev/vdb", "mount_target": "/data/"}}"#,
        );
        let s = s.expect("valid settings");
        assert!(s.accepts("pdb.zero-budget"));
        assert!(s.assume_yes && s.disable_eviction && s.uncordon_after_drain);
        assert_eq!(s.on_blocked, OnBlocked::Skip);
        assert_eq!(s.drain_timeout_seconds, 60);
        assert_eq!(s.add_attempts, 1);
        assert_eq!(
            s.login,
            Some(LoginChoice::KeyIds(vec!["skey-abc123".into()]))
        );
        assert_eq!(
            s.keep_data_disk,
            Some(KeepDataDisk {
                device: "/dev/vdb".into(),
                mount_target: "/data".into()
            })
        );
    }

    #[test]
    fn keep_image_login_is_read() {
        let s = Settings::parse(r#"{"login": {"keep_image_login": true}}"#).expect("valid");
        assert_eq!(s.login, Some(LoginChoice::KeepImageLogin));
    }

    #[rstest]
    #[case::unknown_field_is_an_error(r#"{"drain_timeout": 5}"#, "unknown field `drain_timeout`")]
    #[case::unknown_on_blocked_value(r#"{"on_blocked": "retry"}"#, "unknown variant `retry`")]
    #[case::zero_timeout_names_the_field(
        r#"{"drain_timeout_seconds": 0}"#,
        "drain_timeout_seconds: 0"
    )]
    #[case::zero_interval_names_the_field(
        r#"{"post_check_interval_seconds": 0}"#,
        "post_check_interval_seconds: 0"
    )]
    #[case::zero_add_attempts(r#"{"add_attempts": 0}"#, "add_attempts: 0")]
    #[case::empty_accept_code(r#"{"accept": [""]}"#, "accept: \"\"")]
    #[case::login_with_both(
        r#"{"login": {"key_ids": ["skey-a1"], "keep_image_login": true}}"#,
        "both key_ids and keep_image_login"
    )]
    #[case::login_with_neither(r#"{"login": {}}"#, "login: {} chooses nothing")]
    #[case::login_keep_false(
        r#"{"login": {"keep_image_login": false}}"#,
        "keep_image_login: false"
    )]
    #[case::login_empty_keys(r#"{"login": {"key_ids": []}}"#, "login.key_ids: []")]
    #[case::login_bad_key(
        r#"{"login": {"key_ids": ["ssh-rsa AAAA"]}}"#,
        "\"ssh-rsa AAAA\" is not an SSH key ID"
    )]
    #[case::login_unknown_field(r#"{"login": {"password": "x"}}"#, "unknown field `password`")]
    #[case::relative_device(
        r#"{"keep_data_disk": {"device": "vdb", "mount_target": "/data"}}"#,
        "keep_data_disk.device: \"vdb\" is not an absolute path"
    )]
    #[case::device_not_in_dev(
        r#"{"keep_data_disk": {"device": "/data/vdb", "mount_target": "/data"}}"#,
        "not a block device path"
    )]
    #[case::relative_mount_target(
        r#"{"keep_data_disk": {"device": "/dev/vdb", "mount_target": "data"}}"#,
        "keep_data_disk.mount_target: \"data\" is not an absolute path"
    )]
    #[case::root_mount_target(
        r#"{"keep_data_disk": {"device": "/dev/vdb", "mount_target": "/"}}"#,
        "is the root file system"
    )]
    #[case::shell_characters_in_path(
        r#"{"keep_data_disk": {"device": "/dev/vdb", "mount_target": "/data; rm -rf /"}}"#,
        "contains ';'"
    )]
    #[case::dot_dot_in_path(
        r#"{"keep_data_disk": {"device": "/dev/vdb", "mount_target": "/data/../etc"}}"#,
        "contains \"..\""
    )]
    #[case::missing_mount_target(
        r#"{"keep_data_disk": {"device": "/dev/vdb"}}"#,
        "missing field `mount_target`"
    )]
    fn bad_settings_are_refused_naming_the_field(#[case] json: &str, #[case] expected: &str) {
        let err = Settings::parse(json).expect_err("must be refused");
        assert!(
            err.contains(expected),
            "{err:?} should contain {expected:?}"
        );
        assert!(err.starts_with("invalid runbook settings"), "{err}");
    }
}

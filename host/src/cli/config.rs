//! `recycle.yaml`: what a recycle run is told in a file rather than in flags. Flags override it.
//! Unknown fields are errors (a typo must not silently change what a run does), and every
//! problem names the field and the fix before anything is touched.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::args::UsageError;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RecycleConfig {
    /// TKE cluster ID.
    pub cluster: Option<String>,
    /// Nodes, in order.
    #[serde(default)]
    pub nodes: Vec<String>,
    /// A label selector choosing the nodes instead (sorted by name).
    pub selector: Option<String>,
    /// Policies beyond (or instead of) the bundled ones, with settings.
    #[serde(default)]
    pub policies: Vec<PolicyEntry>,
    /// Run only the policies listed here.
    #[serde(default)]
    pub no_bundled_policies: bool,
    /// Deny finding codes accepted for this run.
    #[serde(default)]
    pub accept: Vec<String>,
    /// Warnings need no confirmation.
    #[serde(default)]
    pub yes: bool,
    /// Timeouts in seconds.
    #[serde(default)]
    pub timeouts: Timeouts,
    /// `stop` (default) or `skip` when a node's drain is blocked.
    pub on_blocked: Option<String>,
    /// Delete pods instead of evicting them (bypasses PDBs).
    #[serde(default)]
    pub disable_eviction: bool,
    /// How re-added nodes can be logged into.
    pub login: Option<LoginConfig>,
    /// `DEVICE:MOUNT`: keep this data disk's content across the reinstall.
    pub keep_data_disk: Option<String>,
    /// Where the journal lives.
    #[serde(default)]
    pub journal: JournalConfig,
    /// A runbook component to use instead of the bundled one.
    pub runbook: Option<PathBuf>,
}

/// One policy.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PolicyEntry {
    /// A bundled policy's name.
    pub name: Option<String>,
    /// Or a component file.
    pub path: Option<PathBuf>,
    /// `pre` (default) or `post`.
    pub phase: Option<String>,
    /// Its settings (any YAML, handed over as JSON); severity overrides go here too.
    pub settings: Option<serde_json::Value>,
}

/// Timeouts, seconds.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Timeouts {
    /// Per node drain.
    pub drain: Option<u64>,
    /// Node object gone after removal.
    pub node_gone: Option<u64>,
    /// Instance running after the add.
    pub instance_running: Option<u64>,
    /// Node Ready after it is running.
    pub node_ready: Option<u64>,
    /// The post-check gate.
    pub post_check: Option<u64>,
}

/// Login settings.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LoginConfig {
    /// SSH key IDs.
    #[serde(default)]
    pub key_ids: Vec<String>,
    /// Keep the image's login settings.
    #[serde(default)]
    pub keep_image_login: bool,
}

/// Journal placement.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct JournalConfig {
    /// Directory of the file journal.
    pub dir: Option<PathBuf>,
    /// Keep it in a ConfigMap in the cluster.
    #[serde(default)]
    pub in_cluster: bool,
    /// Namespace of that ConfigMap.
    pub namespace: Option<String>,
}

fn bad(path: &Path, message: impl std::fmt::Display) -> UsageError {
    UsageError(format!("config {}: {message}", path.display()))
}

impl RecycleConfig {
    /// Read and check a config file. Relative policy and runbook paths are taken relative to
    /// the file's directory.
    pub fn load(path: &Path) -> Result<Self, UsageError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| bad(path, format!("cannot read it: {e}")))?;
        let config: Self = serde_yaml::from_str(&text).map_err(|e| {
            bad(
                path,
                format!("{e} (fields: cluster, nodes, selector, policies, noBundledPolicies, accept, yes, timeouts, onBlocked, disableEviction, login, keepDataDisk, journal, runbook)"),
            )
        })?;
        config.checked(path, "")
    }

    /// Check a config read from `path` (its section `prefix`, e.g. `recycle.`, when it is part
    /// of a larger file) and make its relative paths relative to the file's directory.
    pub fn checked(mut self, path: &Path, prefix: &str) -> Result<Self, UsageError> {
        let config = &mut self;
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        for (i, p) in config.policies.iter_mut().enumerate() {
            match (&p.name, &p.path) {
                (Some(_), Some(_)) | (None, None) => {
                    return Err(bad(
                        path,
                        format!(
                            "{prefix}policies[{i}] needs exactly one of `name` (a bundled policy) or `path` (a .wasm file)"
                        ),
                    ));
                }
                _ => {}
            }
            if let Some(p) = p.path.as_mut().filter(|p| p.is_relative()) {
                *p = base.join(&*p);
            }
            if let Some(phase) = &p.phase
                && phase != "pre"
                && phase != "post"
            {
                return Err(bad(
                    path,
                    format!("{prefix}policies[{i}].phase is {phase:?}; use `pre` or `post`"),
                ));
            }
        }
        if let Some(r) = config.runbook.as_mut().filter(|r| r.is_relative()) {
            *r = base.join(&*r);
        }
        if let Some(o) = &config.on_blocked
            && o != "stop"
            && o != "skip"
        {
            return Err(bad(
                path,
                format!("{prefix}onBlocked is {o:?}; use `stop` or `skip`"),
            ));
        }
        if let Some(l) = &config.login
            && l.keep_image_login
            && !l.key_ids.is_empty()
        {
            return Err(bad(
                path,
                format!("{prefix}login has both keyIds and keepImageLogin; TKE takes one of them"),
            ));
        }
        if !config.nodes.is_empty() && config.selector.is_some() {
            return Err(bad(path, "give `nodes` or `selector`, not both"));
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<RecycleConfig, UsageError> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("recycle.yaml");
        std::fs::write(&path, text).expect("write");
        RecycleConfig::load(&path)
    }

    #[test]
    fn a_full_config_loads() {
        let c = load(
            "cluster: cls-1\nnodes: [10.0.1.11]\npolicies:\n- name: headroom\n  settings: {maxUtilization: 90}\n- path: team.wasm\n  phase: post\naccept: [pdb.exhausted]\ntimeouts: {drain: 60}\nonBlocked: skip\nlogin: {keyIds: [skey-1]}\nkeepDataDisk: /dev/vdb:/data\njournal: {inCluster: true}\n",
        )
        .expect("loads");
        assert_eq!(c.cluster.as_deref(), Some("cls-1"));
        assert_eq!(c.timeouts.drain, Some(60));
        assert!(c.policies[1].path.as_ref().is_some_and(|p| p.is_absolute()));
        assert!(c.journal.in_cluster);
    }

    #[test]
    fn mistakes_name_the_field_and_the_fix() {
        let cases = [
            ("typo", "nodez: [a]\n", "unknown field `nodez`"),
            ("on_blocked", "onBlocked: later\n", "use `stop` or `skip`"),
            (
                "phase",
                "policies:\n- name: pdb\n  phase: during\n",
                "policies[0].phase",
            ),
            (
                "policy_source",
                "policies:\n- settings: {}\n",
                "exactly one of `name`",
            ),
            ("both_targets", "nodes: [a]\nselector: x=y\n", "not both"),
            (
                "login",
                "login: {keyIds: [k], keepImageLogin: true}\n",
                "one of them",
            ),
            ("type", "timeouts: {drain: soon}\n", "timeouts.drain"),
        ];
        for (case, text, want) in cases {
            let err = load(text).expect_err(case).to_string();
            assert!(err.contains(want), "{case}: {err}");
        }
    }
}

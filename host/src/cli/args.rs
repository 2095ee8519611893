//! Flag groups shared by several subcommands, and resolving them into a plan.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{ArgMatches, Args, ValueEnum};

use crate::bundled::{self, Phase};
use crate::checks::PolicySpec;
use crate::engine::{EngineConfig, Limits, Runtime, default_cache_dir};

/// Bad usage, configuration or input: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

fn usage(message: impl Into<String>) -> anyhow::Error {
    UsageError(message.into()).into()
}

/// Engine flags: limits and the compile cache.
#[derive(Debug, Clone, Args)]
pub struct EngineArgs {
    /// Directory for compiled modules (default: $TKE_RECYCLE_CACHE_DIR or the user cache dir).
    #[arg(long, value_name = "DIR", global = true)]
    pub cache_dir: Option<PathBuf>,
    /// Do not read or write the compile cache.
    #[arg(long, global = true)]
    pub no_cache: bool,
    /// Time limit of one policy call, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 2000, global = true)]
    pub policy_timeout_ms: u64,
    /// Memory limit of one policy call, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = 64, global = true)]
    pub policy_memory_mb: usize,
}

impl EngineArgs {
    /// Build the runtime these flags describe.
    pub fn runtime(&self) -> anyhow::Result<Runtime> {
        if self.policy_timeout_ms == 0 || self.policy_memory_mb == 0 {
            return Err(usage(
                "--policy-timeout-ms and --policy-memory-mb must be greater than 0",
            ));
        }
        let policy_limits = Limits {
            memory_bytes: self.policy_memory_mb.saturating_mul(1 << 20),
            time: Duration::from_millis(self.policy_timeout_ms),
            ..Limits::policy()
        };
        let cache_dir = if self.no_cache {
            None
        } else {
            self.cache_dir.clone().or_else(default_cache_dir)
        };
        Ok(Runtime::new(EngineConfig {
            cache_dir,
            policy_limits,
        })?)
    }
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Human-readable table.
    Table,
    /// JSON on stdout.
    Json,
}

/// Which policies run, with which settings.
#[derive(Debug, Args)]
pub struct PolicySelection {
    /// A bundled policy by name (to give it settings) or a policy component file (.wasm).
    /// Repeatable; each may be followed by --settings.
    #[arg(long = "policy", value_name = "NAME|PATH.wasm")]
    pub policies: Vec<String>,
    /// Settings for the --policy just before it: JSON, or @FILE to read JSON from a file.
    #[arg(long = "settings", value_name = "JSON|@FILE")]
    pub settings: Vec<String>,
    /// Run only the policies named with --policy, not the bundled ones.
    #[arg(long)]
    pub no_bundled: bool,
}

/// Read `--settings` text: inline JSON or `@FILE`, and make sure it is JSON.
fn read_settings(policy: &str, raw: &str) -> anyhow::Result<String> {
    let text = match raw.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).map_err(|e| {
            usage(format!(
                "--settings for policy {policy}: cannot read {path}: {e}"
            ))
        })?,
        None => raw.to_owned(),
    };
    serde_json::from_str::<serde_json::Value>(&text).map_err(|e| {
        usage(format!("--settings for policy {policy} is not valid JSON ({e}); pass e.g. '{{\"labels\": [\"team=db\"]}}'"))
    })?;
    Ok(text)
}

impl PolicySelection {
    /// The policies to run for `phase`: the bundled ones (unless --no-bundled) with their defaults,
    /// then each --policy in order, a bundled name replacing that module's defaults.
    /// `matches` are the subcommand's matches, used to pair each --settings with its --policy.
    pub fn resolve(
        &self,
        phase: Phase,
        matches: Option<&ArgMatches>,
    ) -> anyhow::Result<Vec<PolicySpec>> {
        let policy_idx: Vec<usize> = matches
            .and_then(|m| m.indices_of("policies"))
            .map(Iterator::collect)
            .unwrap_or_default();
        let settings_idx: Vec<usize> = matches
            .and_then(|m| m.indices_of("settings"))
            .map(Iterator::collect)
            .unwrap_or_default();
        let mut settings_for: Vec<Option<String>> = vec![None; self.policies.len()];
        for (i, raw) in self.settings.iter().enumerate() {
            // clap reports each occurrence's position on the command line; a --settings belongs
            // to the closest --policy before it.
            let owner = settings_idx
                .get(i)
                .and_then(|&at| policy_idx.iter().rposition(|&p| p < at));
            let Some(owner) = owner else {
                return Err(usage(format!(
                    "--settings {raw} comes before any --policy; put it right after the --policy it configures"
                )));
            };
            let name = &self.policies[owner];
            if settings_for[owner].is_some() {
                return Err(usage(format!(
                    "--policy {name} has two --settings; merge them into one JSON object"
                )));
            }
            settings_for[owner] = Some(read_settings(name, raw)?);
        }

        let mut specs: Vec<PolicySpec> = if self.no_bundled {
            Vec::new()
        } else {
            bundled::policies(phase).map(PolicySpec::bundled).collect()
        };
        for (value, settings) in self.policies.iter().zip(settings_for) {
            let settings = settings.unwrap_or_else(|| "{}".into());
            let path = Path::new(value);
            if let Some(module) = bundled::find(value).filter(|_| !value.ends_with(".wasm")) {
                match specs.iter_mut().find(|s| s.name == module.name) {
                    Some(existing) => existing.settings = settings,
                    None => specs.push(PolicySpec {
                        settings,
                        ..PolicySpec::bundled(module)
                    }),
                }
            } else if path.is_file() {
                let spec = PolicySpec::file(path.to_owned(), settings);
                if specs.iter().any(|s| s.name == spec.name) {
                    return Err(usage(format!(
                        "--policy {value}: a policy named {} is already selected; rename the file",
                        spec.name
                    )));
                }
                specs.push(spec);
            } else {
                let names: Vec<&str> = bundled::BUNDLED.iter().map(|m| m.name).collect();
                return Err(usage(format!(
                    "--policy {value}: no such file, and no bundled policy of that name (bundled: {})",
                    names.join(", ")
                )));
            }
        }
        if specs.is_empty() {
            return Err(usage(
                "no policies selected: drop --no-bundled or add --policy",
            ));
        }
        Ok(specs)
    }
}

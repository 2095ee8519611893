//! `tke-recycle policy list`: the bundled modules and any module files, with world and version.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{ArgMatches, Args};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use serde::Serialize;

use super::EXIT_OK;
use super::args::{EngineArgs, Format};
use crate::bundled::{BUNDLED, Phase};
use crate::engine::{LoadError, PolicyModule, World};

/// List policies.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Also describe these module files (.wasm).
    #[arg(long = "policy", value_name = "PATH.wasm")]
    pub files: Vec<PathBuf>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Table)]
    pub format: Format,
    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Serialize)]
struct Row {
    name: String,
    source: String,
    world: String,
    phase: String,
    version: String,
    description: String,
}

/// (version, description) of a policy, or "-" and why it could not be described.
async fn describe_policy(
    name: &str,
    load: impl FnOnce() -> Result<PolicyModule, LoadError>,
) -> (String, String) {
    match load() {
        Err(e) => ("-".into(), format!("cannot load: {e}")),
        Ok(module) => match module.describe().await {
            Ok(info) => (info.version, info.description),
            Err(e) => ("-".into(), format!("policy {name} {e} during describe")),
        },
    }
}

impl ListArgs {
    /// Run it.
    pub async fn execute(self, _matches: Option<&ArgMatches>) -> anyhow::Result<u8> {
        let runtime = self
            .engine
            .runtime()
            .context("cannot start the policy engine")?;
        let mut rows = Vec::new();
        for m in BUNDLED {
            let (version, description) = match m.world {
                World::Policy => {
                    describe_policy(m.name, || runtime.load_policy(m.name, m.wasm)).await
                }
                World::Runbook => (String::from("-"), String::from("the recycle runbook")),
            };
            rows.push(Row {
                name: m.name.to_owned(),
                source: "bundled".into(),
                world: m.world.to_string(),
                phase: match m.phase {
                    Some(Phase::Pre) => "pre".into(),
                    Some(Phase::Post) => "post".into(),
                    None => "-".into(),
                },
                version,
                description,
            });
        }
        for path in &self.files {
            let name = path.file_stem().map_or_else(
                || path.display().to_string(),
                |s| s.to_string_lossy().into_owned(),
            );
            let (version, description) =
                describe_policy(&name, || runtime.load_policy_file(&name, path)).await;
            rows.push(Row {
                name,
                source: path.display().to_string(),
                world: World::Policy.to_string(),
                phase: "-".into(),
                version,
                description,
            });
        }
        match self.format {
            Format::Json => println!("{}", serde_json::to_string_pretty(&rows)?),
            Format::Table => {
                let mut table = Table::new();
                table.load_preset(UTF8_FULL_CONDENSED);
                table.set_header(["NAME", "SOURCE", "WORLD", "PHASE", "VERSION", "DESCRIPTION"]);
                for r in &rows {
                    table.add_row([
                        &r.name,
                        &r.source,
                        &r.world,
                        &r.phase,
                        &r.version,
                        &r.description,
                    ]);
                }
                println!("{table}");
            }
        }
        Ok(EXIT_OK)
    }
}

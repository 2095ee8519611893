//! `tke-recycle policy ...`: the policy subcommands.

use clap::{ArgMatches, Subcommand};

use super::{policy_check, policy_list};

/// Policy subcommands.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// List the bundled policies and any given module files, with world and version.
    List(policy_list::ListArgs),
    /// Evaluate policies offline against a snapshot file.
    Check(policy_check::CheckArgs),
}

/// The matches of the `policy` subcommand's own subcommand (for flags whose order matters).
pub fn sub_matches(matches: &ArgMatches) -> Option<&ArgMatches> {
    matches
        .subcommand_matches("policy")
        .and_then(|m| m.subcommand().map(|(_, m)| m))
}

impl PolicyCommand {
    /// Run it.
    pub async fn execute(self, matches: Option<&ArgMatches>) -> anyhow::Result<u8> {
        match self {
            PolicyCommand::List(args) => args.execute(matches).await,
            PolicyCommand::Check(args) => args.execute(matches).await,
        }
    }
}

//! The `tke-recycle` command line: clap derive, one file per subcommand.
//!
//! Exit codes (also in `--help` and the README): 0 the checks passed or the command succeeded;
//! 1 a policy denied (an answer, not a failure); 2 bad usage, configuration or input; 3 the command
//! could not complete (cluster or cloud unreachable, a step failed).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod sim;

/// Exit code: success, or every check passed.
pub const EXIT_OK: u8 = 0;
/// Exit code: a policy denied.
pub const EXIT_DENY: u8 = 1;
/// Exit code: bad usage, configuration or input.
pub const EXIT_USAGE: u8 = 2;
/// Exit code: the command could not complete.
pub const EXIT_FAILED: u8 = 3;

const EXIT_CODES_HELP: &str = "Exit codes:\n  0  success; every check passed (warnings allowed)\n  1  a policy denied\n  2  bad usage, configuration or input\n  3  the command could not complete (cluster or cloud unreachable, a step failed)";

/// Recycle TKE nodes safely: check, cordon, drain, remove keeping the VM, add back, verify.
#[derive(Debug, Parser)]
#[command(name = "tke-recycle", version, about, after_help = EXIT_CODES_HELP)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the practice cluster (a Kubernetes API and a TKE API on 127.0.0.1).
    Sim(sim::SimCommand),
}

/// Parse the command line, run, print errors once, return the exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(err) => {
            eprintln!("error: failed to start the async runtime: {err}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let result = match cli.command {
        Command::Sim(args) => runtime.block_on(args.execute()),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}

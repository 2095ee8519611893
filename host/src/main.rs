//! The `tke-recycle` binary: parse, run, print the error chain once, map to a documented exit code.

use std::process::ExitCode;

fn main() -> ExitCode {
    tke_recycle::cli::main()
}

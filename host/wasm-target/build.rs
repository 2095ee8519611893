//! Makes sure the `wasm32-wasip2` target is installed, at the start of a build.
//!
//! tke-recycle builds its policies and runbook for that target (host/build.rs), and a fresh
//! rustup install has only the host's target. `rust-toolchain.toml`'s `targets` does not help:
//! rustup does not add a target to a toolchain that is already installed. So when the target is
//! missing and cargo runs under rustup, this script runs `rustup target add` for the toolchain in
//! use, saying so on the terminal while it does. Without rustup it stops with the command to run.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const TARGET: &str = "wasm32-wasip2";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=RUSTUP_TOOLCHAIN");
    let Some(sysroot) = sysroot() else {
        // Without a sysroot there is nothing to check against; host/build.rs reports what fails.
        println!("cargo:warning=could not ask rustc for its sysroot; not checking for {TARGET}");
        return;
    };
    let target_dir = sysroot.join("lib/rustlib").join(TARGET);
    // Watching the target's directory reruns this script if the target is removed later (a
    // missing path always counts as changed).
    println!("cargo:rerun-if-changed={}", target_dir.display());
    if target_dir.exists() {
        return;
    }

    // rustup's proxies name the toolchain they run; its absence means cargo did not come from
    // rustup (a distribution's package, a custom build), and then only the user can add the target.
    let Some(toolchain) = std::env::var("RUSTUP_TOOLCHAIN")
        .ok()
        .filter(|t| !t.is_empty())
    else {
        panic!(
            "\n\nthe Rust target {TARGET} is not installed; tke-recycle builds its policies for it.\n\
             This cargo does not run under rustup, so the build cannot add it. Install it with\n\n    \
             rustup target add {TARGET}\n\n\
             or your distribution's package of the Rust standard library for {TARGET}.\n\n"
        );
    };

    let mut terminal = Terminal::open();
    terminal.say(&format!(
        "tke-recycle: installing the Rust target {TARGET} for toolchain {toolchain} \
         (rustup target add {TARGET}); the policies are built for it\n"
    ));
    let mut cmd = Command::new(rustup());
    cmd.args(["target", "add", TARGET, "--toolchain", &toolchain]);
    // rustup's download progress goes to the terminal when there is one, so a user watching the
    // build sees what it waits for; otherwise to cargo, which shows it if this script fails.
    cmd.stdout(terminal.stdio()).stderr(terminal.stdio());
    let status = cmd.status();
    match status {
        Ok(s) if s.success() && target_dir.exists() => {
            terminal.say(&format!("tke-recycle: {TARGET} installed\n"));
            println!(
                "cargo:warning=installed the Rust target {TARGET} for {toolchain} with `rustup target add {TARGET}` (tke-recycle builds its policies for it)"
            );
        }
        Ok(s) => panic!(
            "\n\n`rustup target add {TARGET} --toolchain {toolchain}` did not install the target \
             ({s}); tke-recycle builds its policies for it.\n\
             Run it yourself to see why (no network? no write access to {}?), then build again.\n\n",
            sysroot.display()
        ),
        Err(e) => panic!(
            "\n\nthe Rust target {TARGET} is not installed and rustup could not be run ({e}).\n\
             Install it with:\n\n    rustup target add {TARGET}\n\n"
        ),
    }
}

/// The sysroot of the rustc cargo builds with (cargo sets `RUSTC` for build scripts).
fn sysroot() -> Option<PathBuf> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let path = text.trim();
    (out.status.success() && !path.is_empty()).then(|| PathBuf::from(path))
}

/// `rustup` from `$CARGO_HOME/bin` when it is there, else from PATH.
fn rustup() -> PathBuf {
    let in_cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
        .map(|home| home.join("bin").join("rustup"));
    match in_cargo_home {
        Some(path) if path.exists() => path,
        _ => PathBuf::from("rustup"),
    }
}

/// The controlling terminal, when the build has one: cargo captures a build script's output and
/// shows it only at the end, which is too late for a download the user is waiting on.
struct Terminal(Option<std::fs::File>);

impl Terminal {
    fn open() -> Self {
        Self(
            std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/tty")
                .ok(),
        )
    }

    fn say(&mut self, text: &str) {
        eprint!("{text}");
        if let Some(tty) = self.0.as_mut() {
            // Best effort: the message is also on stderr, which cargo shows on failure.
            let _ = tty.write_all(text.as_bytes());
        }
    }

    fn stdio(&self) -> Stdio {
        match self.0.as_ref().and_then(|t| t.try_clone().ok()) {
            Some(tty) => Stdio::from(tty),
            // Not stdout: cargo reads a build script's stdout for its directives.
            None => Stdio::from(std::io::stderr()),
        }
    }
}

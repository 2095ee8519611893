//! Building the policies written in Python and JavaScript (`policies/examples/`) and their
//! test-only hostile modules (`tests/foreign-guests/`) with their own documented build commands,
//! once per test process, into the target directory. Shared by the tests and the benchmark.
//!
//! The build scripts are make-like (a component newer than its sources is kept), so only the
//! first run on a machine pays for `pip install` / `npm ci` and the componentize steps. A
//! missing `python3` or `node` fails the tests with the scripts' own message: never a skip.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
        .to_owned()
}

/// Where a language's build script put its components.
pub struct Language {
    /// The components it built.
    pub out: PathBuf,
}

impl Language {
    /// The path of a built component by its name (without `.wasm`).
    pub fn component(&self, name: &str) -> PathBuf {
        self.out.join(format!("{name}.wasm"))
    }
}

/// Run `policies/examples/<name>/build.sh OUT` once per process; panic with its output if it
/// fails.
pub fn built(name: &'static str) -> Language {
    static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    static JAVASCRIPT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let cell = match name {
        "python" => &PYTHON,
        "javascript" => &JAVASCRIPT,
        other => panic!("no examples in {other}"),
    };
    let out = cell.get_or_init(|| build(name));
    match out {
        Ok(out) => Language { out: out.clone() },
        Err(e) => panic!("{e}"),
    }
}

fn build(name: &str) -> Result<PathBuf, String> {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("foreign-guests")
        .join(name);
    let script = repo().join("policies/examples").join(name).join("build.sh");
    let result = Command::new("bash")
        .arg(&script)
        .arg(&out)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !result.status.success() {
        return Err(format!(
            "{} {} failed ({}):\n{}\n{}",
            script.display(),
            out.display(),
            result.status,
            String::from_utf8_lossy(&result.stdout),
            String::from_utf8_lossy(&result.stderr)
        ));
    }
    Ok(out)
}

//! Builds every guest crate for `wasm32-wasip2` with one nested cargo, embeds the bundled modules
//! (crates under `policies/` with a `[package.metadata.tke-recycle]` table) in the host, and
//! points the tests at the test-only guests under `tests/guests/`.
//!
//! The nested cargo gets its own target dir under OUT_DIR so it never waits on the outer build's
//! lock, and the outer build's RUSTFLAGS (meant for the host) are removed.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";
const PROFILE: &str = "guest";

struct Guest {
    package: String,
    dir: PathBuf,
    /// `policy` or `runbook`; None for test guests without metadata.
    world: Option<String>,
    /// `pre` or `post` for policies.
    phase: Option<String>,
    bundled: bool,
}

fn main() {
    let manifest_dir =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest_dir
        .parent()
        .expect("host/ has a parent")
        .to_path_buf();
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));

    for dir in ["wit", "policies", "tests/guests"] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    // Cargo.toml holds `[profile.guest]`; Cargo.lock the guests' dependency versions.
    for file in ["Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(file).display());
    }

    let mut guests = discover(&root.join("policies"), true);
    guests.extend(discover(&root.join("tests/guests"), false));

    // The target itself is installed (or its absence explained) by the build script of
    // tke-recycle-wasm-target, a dependency with `links`, which cargo runs before this one.

    let target_dir = out_dir.join("guests");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"))
        .args(["--target", TARGET, "--profile", PROFILE])
        .arg("--target-dir")
        .arg(&target_dir);
    for g in &guests {
        cmd.args(["-p", &g.package]);
    }
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd
        .status()
        .expect("failed to run the nested cargo that builds the guest components");
    assert!(
        status.success(),
        "building the guest components for {TARGET} failed (see the errors above)"
    );

    let wasm_dir = target_dir.join(TARGET).join(PROFILE);
    let mut code = String::from(
        "/// Modules built from `policies/` and embedded in the binary.\npub const BUNDLED: &[BundledModule] = &[\n",
    );
    for g in guests.iter().filter(|g| g.bundled) {
        let wasm = wasm_dir.join(format!("{}.wasm", g.package.replace('-', "_")));
        assert!(
            wasm.exists(),
            "expected the component {} after building {}",
            wasm.display(),
            g.package
        );
        let world = match g.world.as_deref() {
            Some("runbook") => "World::Runbook",
            _ => "World::Policy",
        };
        let phase = match g.phase.as_deref() {
            Some("post") => "Some(Phase::Post)",
            Some(_) => "Some(Phase::Pre)",
            None => "None",
        };
        writeln!(
            code,
            "    BundledModule {{ name: {:?}, world: {world}, phase: {phase}, wasm: include_bytes!({:?}) }},",
            g.package,
            wasm.display().to_string()
        )
        .expect("writing to a String");
        println!("cargo:rerun-if-changed={}", g.dir.display());
    }
    code.push_str("];\n\n");
    // wasmtime's `foreach_p2!` pattern: tests/all expands this with a macro that refers to a test
    // module named after each bundled guest, so a bundled module without a test does not compile.
    code.push_str(
        "/// Calls `$mac!(crate_ident)` once per bundled module (used to require a test per module).\n#[macro_export]\nmacro_rules! foreach_bundled {\n    ($mac:ident) => {\n",
    );
    for g in guests.iter().filter(|g| g.bundled) {
        writeln!(code, "        $mac!({});", g.package.replace('-', "_"))
            .expect("writing to a String");
    }
    code.push_str("    };\n}\n");
    std::fs::write(out_dir.join("bundled.rs"), code).expect("write bundled.rs");
    println!(
        "cargo:rustc-env=TKE_RECYCLE_TEST_GUESTS_DIR={}",
        wasm_dir.display()
    );
}

/// Every crate directory below `dir` whose manifest has a `[lib]` cdylib (a component).
fn discover(dir: &Path, bundled: bool) -> Vec<Guest> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut guests = Vec::new();
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        let manifest = path.join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        let doc: toml::Table = text
            .parse()
            .unwrap_or_else(|e| panic!("{}: {e}", manifest.display()));
        let is_component = doc
            .get("lib")
            .and_then(|l| l.get("crate-type"))
            .and_then(|t| t.as_array())
            .is_some_and(|types| types.iter().any(|t| t.as_str() == Some("cdylib")));
        if !is_component {
            continue;
        }
        let package = doc
            .get("package")
            .and_then(|p| p.as_table())
            .expect("[package]");
        let name = package
            .get("name")
            .and_then(|n| n.as_str())
            .expect("package.name")
            .to_owned();
        let meta = package.get("metadata").and_then(|m| m.get("tke-recycle"));
        let get = |key: &str| {
            meta.and_then(|m| m.get(key))
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        guests.push(Guest {
            package: name,
            dir: path.clone(),
            world: get("world"),
            phase: get("phase"),
            bundled: bundled && meta.is_some(),
        });
    }
    guests
}

//! The load-time contract check: a module must implement the expected world and import nothing
//! beyond it. wasmtime's linker would also refuse a module with unknown imports, but with a
//! message about a missing definition; an operator needs to hear "this policy asks for the
//! `operations` interface, which policies may not have".

use wasmtime::component::Component;

use super::World;

const PACKAGE: &str = "tke:recycle/";

/// Interfaces of our package that each world may import.
fn allowed_imports(world: World) -> &'static [&'static str] {
    match world {
        World::Policy => &["types", "cluster", "log"],
        World::Runbook => &["types", "cluster", "log", "operations", "tke", "journal"],
    }
}

/// Exports each world must have.
fn required_exports(world: World) -> &'static [&'static str] {
    match world {
        World::Policy => &["tke:recycle/module-info", "validate-settings", "check"],
        World::Runbook => &["tke:recycle/module-info", "run"],
    }
}

/// How a component does not fit a world.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ContractError {
    /// It imports an interface of ours that this world must not have.
    #[error(
        "it imports `{import}`, which only the runbook may use; a policy may import only tke:recycle/cluster and tke:recycle/log"
    )]
    ForbiddenImport {
        /// The import's full name.
        import: String,
    },
    /// It imports something neither ours nor WASI.
    #[error("it imports `{import}`, which this host does not provide")]
    UnknownImport {
        /// The import's full name.
        import: String,
    },
    /// It lacks exports of the world: it was built for another world (or another version).
    #[error(
        "it lacks the export(s) {missing} (it exports: {found}); build it against the `{world}` world of wit/"
    )]
    MissingExports {
        /// What is missing.
        missing: String,
        /// What it has.
        found: String,
        /// The expected world, for the message.
        world: World,
    },
    /// It was built against another version of our package.
    #[error(
        "it uses `{name}`, but this host provides tke:recycle@{expected}; rebuild it against this host's wit/"
    )]
    VersionMismatch {
        /// The import or export with the other version.
        name: String,
        /// The version this host speaks.
        expected: &'static str,
    },
}

const VERSION: &str = "0.1.0";

/// Split `tke:recycle/cluster@0.1.0` into (`cluster`, Some("0.1.0")).
fn our_interface(name: &str) -> Option<(&str, Option<&str>)> {
    let rest = name.strip_prefix(PACKAGE)?;
    Some(match rest.split_once('@') {
        Some((iface, version)) => (iface, Some(version)),
        None => (rest, None),
    })
}

/// Check `component` against `world`.
pub fn check(
    engine: &wasmtime::Engine,
    component: &Component,
    world: World,
) -> Result<(), ContractError> {
    let ty = component.component_type();
    for (import, _) in ty.imports(engine) {
        if let Some((iface, version)) = our_interface(import) {
            if version.is_some_and(|v| v != VERSION) {
                return Err(ContractError::VersionMismatch {
                    name: import.to_owned(),
                    expected: VERSION,
                });
            }
            if !allowed_imports(world).contains(&iface) {
                return Err(if allowed_imports(World::Runbook).contains(&iface) {
                    ContractError::ForbiddenImport {
                        import: import.to_owned(),
                    }
                } else {
                    ContractError::UnknownImport {
                        import: import.to_owned(),
                    }
                });
            }
        } else if !import.starts_with("wasi:") {
            return Err(ContractError::UnknownImport {
                import: import.to_owned(),
            });
        }
    }
    let exports: Vec<String> = ty
        .exports(engine)
        .map(|(name, _)| name.to_owned())
        .collect();
    for name in &exports {
        if let Some((_, Some(version))) = our_interface(name)
            && version != VERSION
        {
            return Err(ContractError::VersionMismatch {
                name: name.clone(),
                expected: VERSION,
            });
        }
    }
    let base = |name: &str| name.split('@').next().unwrap_or(name).to_owned();
    let missing: Vec<&str> = required_exports(world)
        .iter()
        .copied()
        .filter(|want| !exports.iter().any(|e| base(e) == *want))
        .collect();
    if !missing.is_empty() {
        return Err(ContractError::MissingExports {
            missing: missing.join(", "),
            found: if exports.is_empty() {
                "nothing".into()
            } else {
                exports.join(", ")
            },
            world,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_our_interface_names() {
        assert_eq!(
            our_interface("tke:recycle/cluster@0.1.0"),
            Some(("cluster", Some("0.1.0")))
        );
        assert_eq!(our_interface("tke:recycle/log"), Some(("log", None)));
        assert_eq!(our_interface("wasi:cli/stdout@0.2.6"), None);
    }

    #[test]
    fn policies_may_not_import_runbook_capabilities() {
        for iface in ["operations", "tke", "journal"] {
            assert!(!allowed_imports(World::Policy).contains(&iface));
            assert!(allowed_imports(World::Runbook).contains(&iface));
        }
    }
}

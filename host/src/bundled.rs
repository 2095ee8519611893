//! The modules built from `policies/` by `host/build.rs` and embedded in the binary.

use crate::engine::World;

/// When a bundled policy runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Before the target nodes are touched.
    Pre,
    /// After a node came back.
    Post,
}

/// One embedded module.
#[derive(Debug)]
pub struct BundledModule {
    /// Crate name, which is also the module's name.
    pub name: &'static str,
    /// The world it implements.
    pub world: World,
    /// For policies: the phase it belongs to.
    pub phase: Option<Phase>,
    /// The component bytes.
    pub wasm: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/bundled.rs"));

/// A bundled module by name.
pub fn find(name: &str) -> Option<&'static BundledModule> {
    BUNDLED.iter().find(|m| m.name == name)
}

/// The bundled policies of a phase, in a stable order.
pub fn policies(phase: Phase) -> impl Iterator<Item = &'static BundledModule> {
    BUNDLED
        .iter()
        .filter(move |m| m.world == World::Policy && m.phase == Some(phase))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bundled_module_is_a_component() {
        assert!(!BUNDLED.is_empty());
        for m in BUNDLED {
            // A component's preamble: magic, then version 0x0d with layer 1.
            assert_eq!(
                &m.wasm[..8],
                b"\0asm\x0d\0\x01\0",
                "{} is not a component",
                m.name
            );
        }
    }

    #[test]
    fn the_example_policy_is_bundled_as_a_pre_check() {
        let m = find("protected-nodes").expect("protected-nodes is bundled");
        assert_eq!((m.world, m.phase), (World::Policy, Some(Phase::Pre)));
    }
}

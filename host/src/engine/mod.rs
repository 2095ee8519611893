//! The wasmtime engine: configuration, limits, the compiled-component cache, the contract check at
//! load, and calling modules with a fresh, limited store per call.
//!
//! What it deliberately does not do: decide what a failed call means for a recycle. It reports
//! *why* a call failed ([`CallError`]); [`crate::checks`] turns that into a deny finding.

mod cache;
mod contract;
pub(crate) mod deadline;
mod policy;
pub(crate) mod store;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::component::{Component, Linker};

pub use cache::{CacheStats, CompileCache};
pub use contract::ContractError;
pub use policy::PolicyModule;
pub use store::CallError;

use store::GuestState;

/// The WIT world a module implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum World {
    /// `tke:recycle/policy`: a pre- or post-check.
    Policy,
    /// `tke:recycle/runbook`: the recycle procedure.
    Runbook,
}

impl std::fmt::Display for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            World::Policy => "policy",
            World::Runbook => "runbook",
        })
    }
}

/// Limits applied to every call into a module.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Linear memory a call may grow to, in bytes.
    pub memory_bytes: usize,
    /// Time a call may run.
    pub time: Duration,
    /// Whether time spent inside host calls is excluded from `time` (the runbook waits on the
    /// cluster for minutes; that is not the guest using CPU).
    pub exclude_host_time: bool,
    /// Bytes of stdout and of stderr kept per call (for the host log and panic messages).
    pub stdio_bytes: usize,
    /// Log lines a guest may write per call through the `log` import.
    pub log_lines: u32,
}

impl Limits {
    /// Defaults for the runbook's `run`: 128 MiB, and 60 s of the guest's own time; the minutes
    /// it spends waiting in host calls (drains, reinstalls) do not count.
    pub fn runbook() -> Self {
        Self {
            memory_bytes: 128 << 20,
            time: Duration::from_secs(60),
            exclude_host_time: true,
            stdio_bytes: 64 << 10,
            log_lines: 10_000,
        }
    }

    /// Defaults for a policy call: 64 MiB, 2 s wall time including host calls.
    pub fn policy() -> Self {
        Self {
            memory_bytes: 64 << 20,
            time: Duration::from_secs(2),
            exclude_host_time: false,
            stdio_bytes: 64 << 10,
            log_lines: 200,
        }
    }
}

/// How to build a [`Runtime`].
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Where compiled components are cached; `None` disables the disk cache.
    pub cache_dir: Option<PathBuf>,
    /// Limits for policy calls.
    pub policy_limits: Limits,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            cache_dir: default_cache_dir(),
            policy_limits: Limits::policy(),
        }
    }
}

/// `$TKE_RECYCLE_CACHE_DIR`, else the user's cache directory + `tke-recycle`.
pub fn default_cache_dir() -> Option<PathBuf> {
    std::env::var_os("TKE_RECYCLE_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| dirs::cache_dir().map(|d| d.join("tke-recycle")))
}

/// A module could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The bytes are not a Wasm component (corrupt, or a core module).
    #[error("module {module} is not a WebAssembly component: {reason}")]
    NotAComponent {
        /// Module name.
        module: String,
        /// What is wrong with the bytes.
        reason: String,
    },
    /// Compiling the component failed.
    #[error("module {module} failed to compile: {reason}")]
    Compile {
        /// Module name.
        module: String,
        /// The compiler's message.
        reason: String,
    },
    /// The component does not implement the expected world.
    #[error("module {module} does not fit the {world} world: {source}")]
    Contract {
        /// Module name.
        module: String,
        /// The expected world.
        world: World,
        /// What does not fit.
        #[source]
        source: ContractError,
    },
    /// Linking its imports failed (e.g. a WASI interface version this host does not provide).
    #[error("module {module} cannot be linked: {reason}")]
    Link {
        /// Module name.
        module: String,
        /// The linker's message.
        reason: String,
    },
    /// A module file could not be read.
    #[error("cannot read module file {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Creating the engine failed.
#[derive(Debug, thiserror::Error)]
#[error("failed to create the WebAssembly engine: {0}")]
pub struct EngineError(String);

/// The engine, its epoch ticker, the compile cache and the linkers: build once per process.
pub struct Runtime {
    engine: wasmtime::Engine,
    cache: CompileCache,
    policy_linker: Linker<GuestState>,
    config: EngineConfig,
    _ticker: EpochTicker,
}

/// How many guest instances may be alive at once in one [`Runtime`]. Calls run one after the
/// other today, so this is headroom, not a tuning knob; one more instance than this fails its
/// call (closed, as a deny finding), it does not wait.
const CONCURRENT_INSTANCES: u32 = 32;

/// Guest memory kept mapped between calls and reset with `memset`, per pool slot.
const MEMORY_KEEP_RESIDENT: usize = 16 << 20;

/// The pooling instance allocator: every call gets a fresh instance, and the pool makes that cheap.
/// Memory slots are reserved once and reused, so a call does not map fresh memory and fault in
/// every page the guest touches; the first 16 MiB of a slot stay resident and are zeroed with
/// `memset` between calls. Measured on 5,000 nodes: instantiate + `describe` 72 -> 31 us, and
/// the `nodes` query 10 -> 7 ms before the node table became columns.
///
/// Slots keep wasmtime's default size (the whole 4 GiB a 32-bit memory can address): the
/// per-call limiter enforces the configured cap, so a module whose initial memory exceeds it is
/// reported as out of memory, not refused at load as a pool misfit.
fn instance_pool() -> wasmtime::PoolingAllocationConfig {
    let mut pool = wasmtime::PoolingAllocationConfig::new();
    pool.total_component_instances(CONCURRENT_INSTANCES)
        // A Rust wasip2 component is a few core instances (the module and its adapter shims).
        .total_core_instances(CONCURRENT_INSTANCES * 8)
        .total_memories(CONCURRENT_INSTANCES)
        .total_tables(CONCURRENT_INSTANCES * 8)
        .total_stacks(CONCURRENT_INSTANCES)
        .linear_memory_keep_resident(MEMORY_KEEP_RESIDENT);
    pool
}

/// How often the epoch advances; the granularity of time limits.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

impl Runtime {
    /// Build the engine and link the host imports.
    pub fn new(config: EngineConfig) -> Result<Self, EngineError> {
        let mut wasm_config = wasmtime::Config::new();
        wasm_config.wasm_component_model(true);
        wasm_config.epoch_interruption(true);
        // Deep recursion in a guest must trap (StackOverflow), never crash the host.
        wasm_config.max_wasm_stack(1 << 20);
        wasm_config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(
            instance_pool(),
        ));
        let engine =
            wasmtime::Engine::new(&wasm_config).map_err(|e| EngineError(format!("{e:#}")))?;
        let policy_linker =
            store::policy_linker(&engine).map_err(|e| EngineError(format!("{e:#}")))?;
        let cache = CompileCache::new(config.cache_dir.clone(), &engine);
        let ticker = EpochTicker::start(engine.clone())?;
        Ok(Self {
            engine,
            cache,
            policy_linker,
            config,
            _ticker: ticker,
        })
    }

    /// The engine configuration in force.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The compile cache (for statistics).
    pub fn cache(&self) -> &CompileCache {
        &self.cache
    }

    /// Compile (or load from the cache) and check a module's bytes against `world`.
    pub(crate) fn component(
        &self,
        module: &str,
        wasm: &[u8],
        world: World,
    ) -> Result<Component, LoadError> {
        if wasm.len() < 8 || &wasm[..4] != b"\0asm" {
            return Err(LoadError::NotAComponent {
                module: module.to_owned(),
                reason: "the file does not start with the Wasm magic bytes (corrupt or not Wasm)"
                    .into(),
            });
        }
        if wasmparser_layer(wasm) == Some(0) {
            return Err(LoadError::NotAComponent {
                module: module.to_owned(),
                reason: "it is a core Wasm module; build it for wasm32-wasip2 (a component), e.g. `cargo build --target wasm32-wasip2`".into(),
            });
        }
        let component = self.cache.load(&self.engine, module, wasm)?;
        contract::check(&self.engine, &component, world).map_err(|source| LoadError::Contract {
            module: module.to_owned(),
            world,
            source,
        })?;
        Ok(component)
    }

    /// Load a policy from its bytes: compile or fetch from the cache, check the contract,
    /// pre-instantiate.
    pub fn load_policy(&self, module: &str, wasm: &[u8]) -> Result<PolicyModule, LoadError> {
        let component = self.component(module, wasm, World::Policy)?;
        PolicyModule::new(
            &self.policy_linker,
            module,
            &component,
            self.config.policy_limits.clone(),
        )
    }

    /// Load a policy from a `.wasm` file.
    pub fn load_policy_file(
        &self,
        module: &str,
        path: &std::path::Path,
    ) -> Result<PolicyModule, LoadError> {
        let wasm = std::fs::read(path).map_err(|source| LoadError::Read {
            path: path.to_owned(),
            source,
        })?;
        self.load_policy(module, &wasm)
    }

    /// The engine itself (benchmarks and tests).
    pub fn engine(&self) -> &wasmtime::Engine {
        &self.engine
    }
}

/// The layer field of a Wasm preamble: 0 for a core module, 1 for a component.
fn wasmparser_layer(wasm: &[u8]) -> Option<u16> {
    wasm.get(6..8).map(|b| u16::from_le_bytes([b[0], b[1]]))
}

/// Advances the engine's epoch every [`EPOCH_TICK`] so that epoch deadlines turn into time limits.
struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    /// Without the ticker no time limit would ever fire, so failing to start it is fatal.
    fn start(engine: wasmtime::Engine) -> Result<Self, EngineError> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("wasm-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .map_err(|e| EngineError(format!("cannot start the epoch ticker thread: {e}")))?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

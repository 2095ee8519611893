//! One call's store: the sandboxed WASI context, the memory cap, the host views, captured stdio;
//! and turning a failed call into a [`CallError`] that says why.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::component::{HasData, Linker, ResourceTable};
use wasmtime::{ResourceLimiter, Store, Trap};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{
    HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView,
};

use super::Limits;
use super::deadline::CallClock;
use crate::bindings::cluster::ClusterHost;
use crate::bindings::log::GuestLog;
use crate::snapshot::ClusterView;

/// A byte count in MiB, with one decimal when it is not whole: a module that starts at 1,114,112
/// bytes under a 1 MiB cap "tried to grow to 1.1 MiB", not to "1 MiB".
fn mib(bytes: usize) -> String {
    if bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else {
        #[allow(clippy::cast_precision_loss, reason = "one decimal of a memory size")]
        let mib = bytes as f64 / f64::from(1u32 << 20);
        format!("{mib:.1} MiB")
    }
}

/// Why a call into a module failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The guest ran past its time limit and was interrupted.
    #[error("exceeded its time limit of {} ms and was stopped", limit.as_millis())]
    TimedOut {
        /// The limit.
        limit: Duration,
    },
    /// The guest tried to grow its memory past the cap.
    #[error("exceeded its memory limit of {} (tried to grow to {}) and was stopped", mib(*limit), mib(*requested))]
    MemoryExceeded {
        /// The cap in bytes.
        limit: usize,
        /// What it asked for.
        requested: usize,
    },
    /// The guest trapped: a panic, a stack overflow, an out-of-bounds access...
    #[error("trapped ({trap}){}", panic.as_ref().map(|p| format!(": {p}")).unwrap_or_default())]
    Trapped {
        /// The trap kind or message.
        trap: String,
        /// The guest's last stderr lines (its panic message), if any.
        panic: Option<String>,
    },
    /// Creating the instance failed.
    #[error("could not be instantiated: {0}")]
    Instantiate(String),
}

/// Caps linear memory and tables, and remembers a refused growth so that the resulting trap can
/// be reported as "out of memory" rather than a bare trap.
pub(crate) struct MemoryCap {
    limit: usize,
    refused: Option<usize>,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit {
            self.refused = Some(desired);
            wasmtime::bail!("memory limit of {} bytes exceeded", self.limit);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Tables hold function references; a legitimate guest needs a few thousand at most.
        Ok(desired <= 100_000)
    }
}

/// A guest's clocks stand still at the Unix epoch: guests get the time only through
/// `check-request.now`, so that a check is reproducible from its inputs.
struct FrozenClock;

impl HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

/// Everything one call's store holds; `E` is what a world adds beyond `cluster` and `log` (the
/// runbook's imports), `()` for a policy.
pub(crate) struct GuestState<E = ()> {
    wasi: WasiCtx,
    table: ResourceTable,
    memory: MemoryCap,
    cluster: ClusterHost,
    log: GuestLog,
    clock: CallClock,
    stderr: MemoryOutputPipe,
    stdout: MemoryOutputPipe,
    module: String,
    /// The world's further imports.
    pub(crate) ext: E,
}

impl<E: Send + 'static> WasiView for GuestState<E> {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

struct HasCluster;
impl HasData for HasCluster {
    type Data<'a> = &'a mut ClusterHost;
}

struct HasLog;
impl HasData for HasLog {
    type Data<'a> = &'a mut GuestLog;
}

/// A linker with what every world gets: WASI (granting nothing, see [`new_store_with`]),
/// `cluster`, `log`.
pub(crate) fn base_linker<E: Send + 'static>(
    engine: &wasmtime::Engine,
) -> wasmtime::Result<Linker<GuestState<E>>> {
    let mut linker = Linker::new(engine);
    // A std guest imports wasi:cli, wasi:io and wasi:filesystem even if its world names none.
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    crate::bindings::add_cluster_to_linker::<GuestState<E>, HasCluster>(&mut linker, |s| {
        &mut s.cluster
    })?;
    crate::bindings::add_log_to_linker::<GuestState<E>, HasLog>(&mut linker, |s| &mut s.log)?;
    Ok(linker)
}

/// The linker for the policy world: the base imports and nothing else.
pub(crate) fn policy_linker(engine: &wasmtime::Engine) -> wasmtime::Result<Linker<GuestState>> {
    base_linker(engine)
}

/// A fresh store for one call of a policy `module` that sees `view`.
pub(crate) fn new_store(
    engine: &wasmtime::Engine,
    module: &str,
    limits: &Limits,
    view: Arc<ClusterView>,
) -> Store<GuestState> {
    new_store_with(engine, module, limits, ClusterHost::new(view), |_| ())
}

/// A fresh store for one call of `module` whose `cluster` queries go to `cluster`; `ext` builds
/// the world's further imports, given the call's clock so that they can exclude the time they
/// spend waiting from the guest's budget.
pub(crate) fn new_store_with<E: Send + 'static>(
    engine: &wasmtime::Engine,
    module: &str,
    limits: &Limits,
    cluster: ClusterHost,
    ext: impl FnOnce(&CallClock) -> E,
) -> Store<GuestState<E>> {
    let stdout = MemoryOutputPipe::new(limits.stdio_bytes);
    let stderr = MemoryOutputPipe::new(limits.stdio_bytes);
    // No preopens, no environment, no arguments, no network, no clock: the builder grants only
    // what is named, and we name nothing but the captured stdio and the frozen clocks.
    let wasi = WasiCtxBuilder::new()
        .stdout(stdout.clone())
        .stderr(stderr.clone())
        .wall_clock(FrozenClock)
        .monotonic_clock(FrozenClock)
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .build();
    let clock = CallClock::start(limits.time, limits.exclude_host_time);
    let state = GuestState {
        wasi,
        table: ResourceTable::new(),
        memory: MemoryCap {
            limit: limits.memory_bytes,
            refused: None,
        },
        cluster,
        log: GuestLog::new(module, limits.log_lines),
        ext: ext(&clock),
        clock: clock.clone(),
        stderr,
        stdout,
        module: module.to_owned(),
    };
    let mut store = Store::new(engine, state);
    store.limiter(|s| &mut s.memory);
    store.set_epoch_deadline(super::deadline::ticks(limits.time));
    store.epoch_deadline_callback(move |ctx| Ok(ctx.data().clock.update(Instant::now())));
    store
}

/// Lines of a guest's stderr quoted in a trap report: a Rust panic is one or two, a Python
/// traceback's last frame and exception plus the interpreter's own panic about five.
const TRAP_LINES: usize = 8;

/// The last few lines of a captured stream, for error messages: up to `max_lines` lines and the
/// last 1,000 bytes of them, where an interpreter's traceback ends with the exception. Rust's
/// "run with `RUST_BACKTRACE=1`" hint is left out: it is about the guest's runtime and cannot be
/// acted on from outside it.
fn tail(pipe: &MemoryOutputPipe, max_lines: usize) -> Option<String> {
    let bytes = pipe.contents();
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("note: run with `RUST_BACKTRACE=1`"))
        .collect();
    if lines.is_empty() {
        return None;
    }
    let out = lines[lines.len().saturating_sub(max_lines)..].join(" | ");
    if out.len() <= 1000 {
        return Some(out);
    }
    let mut cut = out.len() - 1000;
    while !out.is_char_boundary(cut) {
        cut += 1;
    }
    Some(format!("...{}", &out[cut..]))
}

impl<E> GuestState<E> {
    /// Forward what the guest printed to the host log.
    pub(crate) fn flush_stdio(&self) {
        for (stream, pipe) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            let bytes = pipe.contents();
            for line in String::from_utf8_lossy(&bytes)
                .lines()
                .filter(|l| !l.trim().is_empty())
            {
                tracing::debug!(module = %self.module, stream, "{line}");
            }
        }
    }

    /// Explain a failed call.
    pub(crate) fn classify(&self, err: &wasmtime::Error) -> CallError {
        if let Some(requested) = self.memory.refused {
            return CallError::MemoryExceeded {
                limit: self.memory.limit,
                requested,
            };
        }
        match err.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => CallError::TimedOut {
                limit: self.clock.budget(),
            },
            Some(trap) => CallError::Trapped {
                trap: match trap {
                    Trap::UnreachableCodeReached => {
                        "panic or abort: unreachable code reached".into()
                    }
                    Trap::StackOverflow => "stack overflow".into(),
                    other => other.to_string(),
                },
                panic: tail(&self.stderr, TRAP_LINES),
            },
            None => CallError::Trapped {
                trap: format!("{err:#}"),
                panic: tail(&self.stderr, TRAP_LINES),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sizes_read_in_mib_with_a_decimal_when_not_whole() {
        let err = CallError::MemoryExceeded {
            limit: 64 << 20,
            requested: 1_114_112 + (64 << 20),
        };
        assert_eq!(
            err.to_string(),
            "exceeded its memory limit of 64 MiB (tried to grow to 65.1 MiB) and was stopped"
        );
    }
}

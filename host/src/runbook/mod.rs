//! The runbook: loading the component of the `runbook` world, calling its `run` with a fresh,
//! limited store, and the host side of its own imports (`operations`, `tke`, `journal`, one file
//! each) over one [`RunContext`].
//!
//! What the host enforces here, whatever the runbook asks: every mutating call is journaled
//! before and after it runs; a dry run refuses every mutating call; pods are deleted without
//! eviction only when the operator opted in; an instance is removed or added only after its
//! capture is journaled; an instance TKE already has is never added again; removal always keeps
//! the VM. What it deliberately does not do: decide the procedure. Order, retries, backoff and
//! what a finding means are the runbook's.

pub mod context;
mod journal;
mod operations;
mod tke;

use std::sync::Arc;

use wasmtime::component::{HasData, Linker};

pub use context::{Cancel, EventSink, PolicySet, RunContext, RunEvent};

use crate::bindings::cluster::ClusterHost;
use crate::bindings::{ModuleInfo, RunRequest, RunbookPre, runbook_world};
use crate::engine::store::{GuestState, base_linker, new_store_with};
use crate::engine::{CallError, Limits, LoadError, Runtime, World};

/// The runbook's imports beyond `cluster` and `log`, as one store holds them.
pub(crate) struct RunbookImports {
    ops: operations::OperationsHost,
    tke: tke::TkeHost,
    journal: journal::JournalHost,
}

struct HasOps;
impl HasData for HasOps {
    type Data<'a> = &'a mut operations::OperationsHost;
}
struct HasTke;
impl HasData for HasTke {
    type Data<'a> = &'a mut tke::TkeHost;
}
struct HasJournal;
impl HasData for HasJournal {
    type Data<'a> = &'a mut journal::JournalHost;
}

type State = GuestState<RunbookImports>;

fn runbook_linker(engine: &wasmtime::Engine) -> wasmtime::Result<Linker<State>> {
    let mut linker = base_linker::<RunbookImports>(engine)?;
    runbook_world::tke::recycle::operations::add_to_linker::<State, HasOps>(&mut linker, |s| {
        &mut s.ext.ops
    })?;
    runbook_world::tke::recycle::tke::add_to_linker::<State, HasTke>(&mut linker, |s| {
        &mut s.ext.tke
    })?;
    runbook_world::tke::recycle::journal::add_to_linker::<State, HasJournal>(&mut linker, |s| {
        &mut s.ext.journal
    })?;
    Ok(linker)
}

/// A runbook ready to run.
pub struct RunbookModule {
    name: String,
    pre: RunbookPre<State>,
    limits: Limits,
}

impl RunbookModule {
    /// Compile (or fetch from the cache), check against the `runbook` world and pre-instantiate.
    pub fn load(
        runtime: &Runtime,
        module: &str,
        wasm: &[u8],
        limits: Limits,
    ) -> Result<Self, LoadError> {
        let component = runtime.component(module, wasm, World::Runbook)?;
        let link_err = |e: wasmtime::Error| LoadError::Link {
            module: module.to_owned(),
            reason: format!("{e:#}"),
        };
        let linker = runbook_linker(runtime.engine()).map_err(link_err)?;
        let pre = linker.instantiate_pre(&component).map_err(link_err)?;
        let pre = RunbookPre::new(pre).map_err(link_err)?;
        Ok(Self {
            name: module.to_owned(),
            pre,
            limits,
        })
    }

    /// The module's name as configured.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn store(&self, ctx: &Arc<RunContext>) -> wasmtime::Store<State> {
        let ctx = ctx.clone();
        new_store_with(
            self.pre.engine(),
            &self.name,
            &self.limits,
            ClusterHost::shared(ctx.view.clone()),
            move |clock| RunbookImports {
                ops: operations::OperationsHost::new(ctx.clone(), clock.clone()),
                tke: tke::TkeHost::new(ctx.clone(), clock.clone()),
                journal: journal::JournalHost::new(ctx, clock.clone()),
            },
        )
    }

    /// Ask the module who it is.
    pub async fn describe(&self, ctx: &Arc<RunContext>) -> Result<ModuleInfo, CallError> {
        let mut store = self.store(ctx);
        let result = async {
            let instance = self.pre.instantiate_async(&mut store).await?;
            let info = instance
                .tke_recycle_module_info()
                .call_describe(&mut store)
                .await?;
            Ok(ModuleInfo {
                name: info.name,
                version: info.version,
                description: info.description,
            })
        }
        .await;
        let state = store.data();
        state.flush_stdio();
        result.map_err(|e| state.classify(&e))
    }

    /// Run it (`Ok(Err(why))`: the runbook stopped the run and said why).
    pub async fn run(
        &self,
        ctx: &Arc<RunContext>,
        request: &RunRequest,
    ) -> Result<Result<(), String>, CallError> {
        let mut store = self.store(ctx);
        let result = async {
            let instance = self.pre.instantiate_async(&mut store).await?;
            instance.call_run(&mut store, request).await
        }
        .await;
        let state = store.data();
        state.flush_stdio();
        result.map_err(|e| state.classify(&e))
    }
}

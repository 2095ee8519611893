//! A loaded policy: pre-instantiated once, called with a fresh store per call.

use std::sync::Arc;

use wasmtime::Store;
use wasmtime::component::{Component, Linker};

use super::store::{GuestState, new_store};
use super::{CallError, Limits, LoadError};
use crate::bindings::types::{CheckRequest, Finding};
use crate::bindings::{ModuleInfo, PolicyPre};
use crate::snapshot::{ClusterView, Snapshot};

/// A policy ready to be called. Cheap to call many times: each call instantiates from the
/// pre-instantiated component into a new store (tens of microseconds).
pub struct PolicyModule {
    name: String,
    pre: PolicyPre<GuestState>,
    limits: Limits,
}

impl PolicyModule {
    pub(super) fn new(
        linker: &Linker<GuestState>,
        module: &str,
        component: &Component,
        limits: Limits,
    ) -> Result<Self, LoadError> {
        let link_err = |e: wasmtime::Error| LoadError::Link {
            module: module.to_owned(),
            reason: format!("{e:#}"),
        };
        let pre = linker.instantiate_pre(component).map_err(link_err)?;
        let pre = PolicyPre::new(pre).map_err(link_err)?;
        Ok(Self {
            name: module.to_owned(),
            pre,
            limits,
        })
    }

    /// The module's name (as configured, not as it describes itself).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The limits its calls run under.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    fn store(&self, view: Arc<ClusterView>) -> Store<GuestState> {
        new_store(self.pre.engine(), &self.name, &self.limits, view)
    }

    fn finish<R>(store: &Store<GuestState>, result: wasmtime::Result<R>) -> Result<R, CallError> {
        let state = store.data();
        state.flush_stdio();
        result.map_err(|e| state.classify(&e))
    }

    /// Ask the module who it is.
    pub async fn describe(&self) -> Result<ModuleInfo, CallError> {
        let mut store = self.store(Arc::new(ClusterView::new(Snapshot::default())));
        let result = async {
            let instance = self.pre.instantiate_async(&mut store).await?;
            instance
                .tke_recycle_module_info()
                .call_describe(&mut store)
                .await
        }
        .await;
        Self::finish(&store, result)
    }

    /// Let the module accept or reject its settings (`Ok(Err(why))` is a rejection).
    pub async fn validate_settings(&self, settings: &str) -> Result<Result<(), String>, CallError> {
        let mut store = self.store(Arc::new(ClusterView::new(Snapshot::default())));
        let result = async {
            let instance = self.pre.instantiate_async(&mut store).await?;
            instance.call_validate_settings(&mut store, settings).await
        }
        .await;
        Self::finish(&store, result)
    }

    /// Run the check against `view` (`Ok(Err(why))` means the policy could not decide).
    pub async fn check(
        &self,
        view: Arc<ClusterView>,
        request: &CheckRequest,
    ) -> Result<Result<Vec<Finding>, String>, CallError> {
        let mut store = self.store(view);
        let result = async {
            let instance = self.pre.instantiate_async(&mut store).await?;
            instance.call_check(&mut store, request).await
        }
        .await;
        Self::finish(&store, result)
    }
}

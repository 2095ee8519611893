//! `tke:recycle/journal`: the runbook's own durable keys in the run's journal. Keys under
//! `host/` are the host's (its step records and instance captures): readable, never writable.

use std::sync::Arc;

use super::context::{RunContext, host_time};
use crate::bindings::journal::{Error, Host};
use crate::engine::deadline::CallClock;
use crate::k8s::api_error;
use crate::run::journal::JournalError;

/// The prefix of the keys only the host writes.
pub const HOST_PREFIX: &str = "host/";

/// The `journal` imports of one runbook call.
pub struct JournalHost {
    ctx: Arc<RunContext>,
    clock: CallClock,
}

impl JournalHost {
    pub(super) fn new(ctx: Arc<RunContext>, clock: CallClock) -> Self {
        Self { ctx, clock }
    }
}

fn reserved(key: &str) -> Option<Error> {
    key.starts_with(HOST_PREFIX).then(|| {
        Error::Reserved(format!(
            "key {key} is under {HOST_PREFIX}, which only the host writes; use another prefix"
        ))
    })
}

fn storage(e: JournalError) -> Error {
    match e {
        e @ JournalError::TooLarge { .. } => Error::TooLarge(e.to_string()),
        other => Error::Storage(api_error::render(&other)),
    }
}

impl Host for JournalHost {
    async fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<String>, Error>> {
        let journal = self.ctx.journal.lock().await;
        Ok(Ok(journal.get(&key).map(str::to_owned)))
    }

    async fn put(&mut self, key: String, value: String) -> wasmtime::Result<Result<(), Error>> {
        if let Some(e) = reserved(&key) {
            return Ok(Err(e));
        }
        let ctx = self.ctx.clone();
        let written = host_time(&self.clock, async move {
            ctx.journal.lock().await.put(&key, &value).await
        })
        .await;
        Ok(written.map_err(storage))
    }

    async fn remove(&mut self, key: String) -> wasmtime::Result<Result<(), Error>> {
        if let Some(e) = reserved(&key) {
            return Ok(Err(e));
        }
        let ctx = self.ctx.clone();
        let removed = host_time(&self.clock, async move {
            ctx.journal.lock().await.remove(&key).await
        })
        .await;
        Ok(removed.map_err(storage))
    }

    async fn keys(&mut self, prefix: String) -> wasmtime::Result<Result<Vec<String>, Error>> {
        Ok(Ok(self.ctx.journal.lock().await.keys(&prefix)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_keys_are_reserved() {
        assert!(reserved("host/capture/ins-1").is_some());
        assert!(reserved("node/10.0.1.11/step").is_none());
        assert!(reserved("hosted").is_none());
    }
}

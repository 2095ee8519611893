//! The in-cluster backend: one ConfigMap per run, the document in `data["journal.json"]`.
//!
//! Created with a POST (a 409 there means the run exists); every later write is a PUT carrying
//! the resourceVersion this process last read or wrote, so the API server refuses it with a 409
//! when anyone else wrote the ConfigMap in between. That is reported as a conflict and never
//! retried over: two processes resuming the same run must not interleave their steps.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ListParams, PostParams};

use super::{Document, JournalError, RunRecord, chain, decode};

/// Where journal ConfigMaps live unless configured.
pub const DEFAULT_NAMESPACE: &str = "kube-system";
/// The label every journal ConfigMap carries (value `tke-recycle`); listing selects on it.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// The label naming the run (value: the run ID).
pub const RUN_LABEL: &str = "tke-recycle.io/run";
const MANAGED_BY: &str = "tke-recycle";
const DATA_KEY: &str = "journal.json";

/// The ConfigMap name of a run: `tke-recycle-run-<run-id>`.
pub fn configmap_name(run_id: &str) -> String {
    format!("tke-recycle-run-{run_id}")
}

fn location(namespace: &str, name: &str) -> String {
    format!("ConfigMap {namespace}/{name}")
}

/// One run's ConfigMap and the resourceVersion this process last saw of it.
pub(super) struct ConfigMapStore {
    api: Api<ConfigMap>,
    run_id: String,
    namespace: String,
    name: String,
    resource_version: Option<String>,
}

impl ConfigMapStore {
    pub(super) fn new(client: &kube::Client, namespace: &str, run_id: &str) -> Self {
        Self {
            api: Api::namespaced(client.clone(), namespace),
            run_id: run_id.to_owned(),
            namespace: namespace.to_owned(),
            name: configmap_name(run_id),
            resource_version: None,
        }
    }

    pub(super) fn location(&self) -> String {
        location(&self.namespace, &self.name)
    }

    fn api_err(&self, action: &'static str, source: kube::Error) -> JournalError {
        JournalError::Api {
            action,
            location: self.location(),
            source,
        }
    }

    fn object(&self, text: String) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                namespace: Some(self.namespace.clone()),
                labels: Some(BTreeMap::from([
                    (MANAGED_BY_LABEL.to_owned(), MANAGED_BY.to_owned()),
                    (RUN_LABEL.to_owned(), self.run_id.clone()),
                ])),
                resource_version: self.resource_version.clone(),
                ..ObjectMeta::default()
            },
            data: Some(BTreeMap::from([(DATA_KEY.to_owned(), text)])),
            ..ConfigMap::default()
        }
    }

    /// POST the first document; a 409 means the run already has a journal.
    pub(super) async fn create(&mut self, text: String) -> Result<(), JournalError> {
        let object = self.object(text);
        match self.api.create(&PostParams::default(), &object).await {
            Ok(written) => {
                self.resource_version = written.metadata.resource_version;
                Ok(())
            }
            Err(kube::Error::Api(s)) if s.code == 409 => Err(JournalError::AlreadyExists {
                run_id: self.run_id.clone(),
                location: self.location(),
            }),
            Err(e) => Err(self.api_err("create", e)),
        }
    }

    /// PUT the document with the last resourceVersion seen.
    pub(super) async fn write(&mut self, text: String) -> Result<(), JournalError> {
        let object = self.object(text);
        match self
            .api
            .replace(&self.name, &PostParams::default(), &object)
            .await
        {
            Ok(written) => {
                self.resource_version = written.metadata.resource_version;
                Ok(())
            }
            Err(kube::Error::Api(s)) if s.code == 409 => Err(JournalError::Conflict {
                run_id: self.run_id.clone(),
                location: self.location(),
                holder: self.current_holder().await,
            }),
            Err(kube::Error::Api(s)) if s.code == 404 => Err(JournalError::NotFound {
                run_id: self.run_id.clone(),
                location: self.location(),
            }),
            Err(e) => Err(self.api_err("update", e)),
        }
    }

    /// Who the stored document names as holder, for the conflict message (best effort).
    async fn current_holder(&self) -> Option<String> {
        let object = self.api.get_opt(&self.name).await.ok()??;
        let text = object.data?.remove(DATA_KEY)?;
        let doc = decode(text.as_bytes(), &self.location(), None).ok()?;
        Some(doc.run.holder)
    }

    /// GET and decode the document, remembering its resourceVersion.
    pub(super) async fn read(&mut self) -> Result<Document, JournalError> {
        let object = self
            .api
            .get_opt(&self.name)
            .await
            .map_err(|e| self.api_err("read", e))?
            .ok_or_else(|| JournalError::NotFound {
                run_id: self.run_id.clone(),
                location: self.location(),
            })?;
        let doc = decode_object(&object, &self.location(), Some(&self.run_id))?;
        self.resource_version = object.metadata.resource_version;
        Ok(doc)
    }
}

fn decode_object(
    object: &ConfigMap,
    location: &str,
    run_id: Option<&str>,
) -> Result<Document, JournalError> {
    let text = object
        .data
        .as_ref()
        .and_then(|d| d.get(DATA_KEY))
        .ok_or_else(|| JournalError::Corrupt {
            location: location.to_owned(),
            detail: format!("it has no data[\"{DATA_KEY}\"]"),
            source: None,
        })?;
    decode(text.as_bytes(), location, run_id)
}

/// The records of every journal ConfigMap in `namespace` (selected by label); ConfigMaps that
/// do not hold a readable journal are skipped with a warning.
pub(super) async fn list(
    client: &kube::Client,
    namespace: &str,
) -> Result<Vec<RunRecord>, JournalError> {
    let api = Api::<ConfigMap>::namespaced(client.clone(), namespace);
    let selector = format!("{MANAGED_BY_LABEL}={MANAGED_BY},{RUN_LABEL}");
    let list = api
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|source| JournalError::Api {
            action: "list",
            location: format!("ConfigMaps in namespace {namespace}"),
            source,
        })?;
    let mut records = Vec::new();
    for object in list.items {
        let name = object.metadata.name.clone().unwrap_or_default();
        let run_id = object
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(RUN_LABEL))
            .cloned()
            .unwrap_or_default();
        let location = location(namespace, &name);
        let result = if name == configmap_name(&run_id) {
            decode_object(&object, &location, Some(&run_id))
        } else {
            Err(JournalError::Corrupt {
                location: location.clone(),
                detail: format!("its name does not match its {RUN_LABEL} label {run_id:?}"),
                source: None,
            })
        };
        match result {
            Ok(doc) => records.push(doc.run),
            Err(e) => tracing::warn!(
                configmap = %location,
                "skipping a run journal that cannot be read: {}",
                chain(&e)
            ),
        }
    }
    Ok(records)
}

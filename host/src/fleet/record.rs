//! The fleet's own record: which clusters are in which batch and where each stands. It lives in
//! a ConfigMap of one cluster the config names (`record: {cluster: cls-...}`), so any machine
//! sees the same picture; without one it is rebuilt from the clusters' run journals each time
//! (see [`ClusterState::from_journal`]). Either way the truth of a cluster's recycle is its own
//! run journal: the record only adds what no journal knows (the batches, a cluster skipped
//! because its pre-checks denied, why the fleet stopped).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ObjectMeta, PostParams};
use serde::{Deserialize, Serialize};

use crate::run::journal::{RunRecord, RunStatus};

/// The record's format; a newer one is refused rather than misread.
pub const FORMAT_VERSION: u32 = 1;

/// The key of the record in its ConfigMap.
const DATA_KEY: &str = "fleet.json";

/// The journal entry a cluster's run gets when the fleet's health gate passed after it: with
/// it, a rebuilt record knows the cluster is finished, not merely recycled.
pub const GATE_ENTRY: &str = "fleet.gate";

/// The run key of a fleet's run on one cluster: what makes a resumed fleet find (and never
/// repeat) the run it started there.
pub fn run_key(fleet: &str, cluster_id: &str) -> String {
    format!("fleet-{fleet}-{cluster_id}")
}

/// The ConfigMap holding a fleet's record.
pub fn configmap_name(fleet: &str) -> String {
    format!("tke-recycle-fleet-{fleet}")
}

/// A fleet name: it is part of ConfigMap names and run keys, so a DNS label of at most 40
/// characters.
pub fn validate_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 40
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "fleet name {name:?} must be 1-40 lowercase letters, digits or '-', not starting or ending with '-' (e.g. k8s-1-30-upgrade)"
        ))
    }
}

/// Where one cluster stands in the fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClusterState {
    /// Not started.
    Pending,
    /// Its run is under way (or its process died: `fleet resume` continues it).
    Running,
    /// Its run finished every node; the health gate has not passed yet.
    Recycled,
    /// Recycled and the health gate passed.
    Done,
    /// Its pre-checks denied before anything was touched; nothing was changed.
    Skipped,
    /// Recycled, but the health gate did not pass: the fleet stopped there.
    GateFailed,
    /// Its run stopped or failed (a blocked drain, a failed step): the fleet stopped there.
    Failed,
}

impl ClusterState {
    /// Nothing more will happen to the cluster in this fleet.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Done | Self::Skipped)
    }

    /// The state a cluster's run journal alone implies (`None`: the fleet started no run
    /// there). `gate_passed` is whether the run carries [`GATE_ENTRY`] = `passed`.
    pub fn from_journal(run: Option<&RunRecord>, gate_passed: bool) -> Self {
        match run.map(|r| &r.status) {
            None => Self::Pending,
            Some(RunStatus::Done) if gate_passed => Self::Done,
            Some(RunStatus::Done) => Self::Recycled,
            Some(RunStatus::Running) => Self::Running,
            Some(RunStatus::Stopped { .. } | RunStatus::Failed { .. }) => Self::Failed,
        }
    }
}

impl std::fmt::Display for ClusterState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Recycled => "recycled",
            Self::Done => "done",
            Self::Skipped => "skipped",
            Self::GateFailed => "gate-failed",
            Self::Failed => "failed",
        })
    }
}

/// One cluster's line in the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterEntry {
    /// Where it stands.
    pub state: ClusterState,
    /// Its batch, from 1.
    pub batch: usize,
    /// The run the fleet started there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// The nodes that run recycles.
    #[serde(default)]
    pub nodes: Vec<String>,
    /// Of those, how many are done.
    #[serde(default)]
    pub nodes_done: usize,
    /// Why it was skipped, failed or stopped the fleet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When this line last changed (RFC 3339).
    #[serde(default)]
    pub updated_at: String,
}

/// The whole fleet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FleetRecord {
    /// [`FORMAT_VERSION`] when written.
    pub format: u32,
    /// The fleet's name.
    pub fleet: String,
    /// Clusters per batch.
    pub batch_size: usize,
    /// The batches, in order, fixed when the fleet started: a resumed fleet keeps them even if
    /// discovery would now order or find the clusters differently.
    pub batches: Vec<Vec<String>>,
    /// Every cluster's line, by cluster ID.
    pub clusters: BTreeMap<String, ClusterEntry>,
    /// Why the fleet stopped last, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// When the fleet started (RFC 3339).
    pub created_at: String,
    /// When the record last changed (RFC 3339).
    pub updated_at: String,
}

/// The clusters in batches of `size` (at least 1), in the given order.
pub fn batches(cluster_ids: &[String], size: usize) -> Vec<Vec<String>> {
    cluster_ids
        .chunks(size.max(1))
        .map(<[String]>::to_vec)
        .collect()
}

impl FleetRecord {
    /// A new fleet with every cluster pending.
    pub fn new(fleet: &str, cluster_ids: &[String], batch_size: usize) -> Self {
        let now = jiff::Timestamp::now().to_string();
        let batches = batches(cluster_ids, batch_size);
        let clusters = batches
            .iter()
            .enumerate()
            .flat_map(|(i, b)| b.iter().map(move |c| (c, i + 1)))
            .map(|(c, batch)| {
                (
                    c.clone(),
                    ClusterEntry {
                        state: ClusterState::Pending,
                        batch,
                        run: None,
                        nodes: Vec::new(),
                        nodes_done: 0,
                        message: None,
                        updated_at: now.clone(),
                    },
                )
            })
            .collect();
        Self {
            format: FORMAT_VERSION,
            fleet: fleet.to_owned(),
            batch_size: batch_size.max(1),
            batches,
            clusters,
            stopped: None,
            created_at: now.clone(),
            updated_at: now,
        }
    }

    /// The first batch (index from 0) with a cluster not finished, if any.
    pub fn next_batch(&self) -> Option<usize> {
        self.batches.iter().position(|b| {
            b.iter()
                .any(|c| self.clusters.get(c).is_none_or(|e| !e.state.is_final()))
        })
    }

    /// Every cluster is done or skipped.
    pub fn finished(&self) -> bool {
        self.next_batch().is_none()
    }

    /// Change one cluster's line (and the record's time).
    pub fn update(&mut self, cluster_id: &str, change: impl FnOnce(&mut ClusterEntry)) {
        let now = jiff::Timestamp::now().to_string();
        if let Some(e) = self.clusters.get_mut(cluster_id) {
            change(e);
            e.updated_at.clone_from(&now);
        }
        self.updated_at = now;
    }
}

/// Reading or writing the record failed.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The API call failed.
    #[error("cannot {action} the fleet record ConfigMap {location}")]
    Api {
        /// read, create or update.
        action: &'static str,
        /// `namespace/name`.
        location: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// Another process changed the record since it was read.
    #[error(
        "the fleet record ConfigMap {location} was changed by another process (is another `tke-recycle fleet` running for this fleet?); run `tke-recycle fleet status` and try again"
    )]
    Conflict {
        /// `namespace/name`.
        location: String,
    },
    /// The ConfigMap holds something that is not a fleet record this version can read.
    #[error("the fleet record ConfigMap {location} cannot be read: {reason}")]
    Unreadable {
        /// `namespace/name`.
        location: String,
        /// Why.
        reason: String,
    },
}

/// The record's ConfigMap in one cluster, with the resourceVersion last seen so that two
/// writers cannot silently overwrite each other.
#[derive(Clone)]
pub struct RecordStore {
    api: Api<ConfigMap>,
    namespace: String,
    name: String,
    resource_version: Option<String>,
}

impl std::fmt::Debug for RecordStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.location())
    }
}

impl RecordStore {
    /// The record of `fleet` in `namespace` of the cluster `client` talks to.
    pub fn new(client: &kube::Client, namespace: &str, fleet: &str) -> Self {
        Self {
            api: Api::namespaced(client.clone(), namespace),
            namespace: namespace.to_owned(),
            name: configmap_name(fleet),
            resource_version: None,
        }
    }

    /// `namespace/name`, for people.
    pub fn location(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// The record, if the fleet has one yet.
    pub async fn read(&mut self) -> Result<Option<FleetRecord>, RecordError> {
        let cm = self
            .api
            .get_opt(&self.name)
            .await
            .map_err(|source| RecordError::Api {
                action: "read",
                location: self.location(),
                source,
            })?;
        let Some(cm) = cm else {
            self.resource_version = None;
            return Ok(None);
        };
        self.resource_version
            .clone_from(&cm.metadata.resource_version);
        let text = cm
            .data
            .as_ref()
            .and_then(|d| d.get(DATA_KEY))
            .ok_or_else(|| RecordError::Unreadable {
                location: self.location(),
                reason: format!("it has no {DATA_KEY} key"),
            })?;
        let record = decode(text).map_err(|reason| RecordError::Unreadable {
            location: self.location(),
            reason,
        })?;
        Ok(Some(record))
    }

    /// Write the record: create it the first time, then replace exactly the version read or
    /// last written.
    pub async fn write(&mut self, record: &FleetRecord) -> Result<(), RecordError> {
        let text = serde_json::to_string_pretty(record).map_err(|e| RecordError::Unreadable {
            location: self.location(),
            reason: e.to_string(),
        })?;
        let cm = ConfigMap {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                namespace: Some(self.namespace.clone()),
                resource_version: self.resource_version.clone(),
                labels: Some(
                    [
                        ("app.kubernetes.io/managed-by", "tke-recycle"),
                        ("tke-recycle/fleet", record.fleet.as_str()),
                    ]
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect(),
                ),
                ..ObjectMeta::default()
            },
            data: Some([(DATA_KEY.to_owned(), text)].into_iter().collect()),
            ..ConfigMap::default()
        };
        let pp = PostParams::default();
        let (action, result) = match &self.resource_version {
            None => ("create", self.api.create(&pp, &cm).await),
            Some(_) => ("update", self.api.replace(&self.name, &pp, &cm).await),
        };
        match result {
            Ok(written) => {
                self.resource_version = written.metadata.resource_version;
                Ok(())
            }
            Err(kube::Error::Api(s)) if s.code == 409 => Err(RecordError::Conflict {
                location: self.location(),
            }),
            Err(source) => Err(RecordError::Api {
                action,
                location: self.location(),
                source,
            }),
        }
    }
}

/// Parse a record, refusing a newer format.
pub fn decode(text: &str) -> Result<FleetRecord, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let format = value
        .get("format")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0);
    if format > u64::from(FORMAT_VERSION) {
        return Err(format!(
            "it has format {format}, newer than this tke-recycle's {FORMAT_VERSION}; use a newer tke-recycle"
        ));
    }
    serde_json::from_value(value).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("cls-{i}")).collect()
    }

    #[test]
    fn clusters_go_in_batches_in_config_order() {
        assert_eq!(
            batches(&ids(3), 2),
            vec![vec!["cls-1", "cls-2"], vec!["cls-3"]]
        );
        assert_eq!(batches(&ids(2), 0).len(), 2, "a size of 0 means 1");
        let r = FleetRecord::new("f", &ids(3), 2);
        assert_eq!(r.clusters["cls-3"].batch, 2);
    }

    #[test]
    fn the_next_batch_is_the_first_with_an_unfinished_cluster() {
        let mut r = FleetRecord::new("f", &ids(3), 2);
        assert_eq!(r.next_batch(), Some(0));
        r.update("cls-1", |e| e.state = ClusterState::Done);
        assert_eq!(r.next_batch(), Some(0));
        r.update("cls-2", |e| e.state = ClusterState::GateFailed);
        assert_eq!(r.next_batch(), Some(0), "a failed gate holds its batch");
        r.update("cls-2", |e| e.state = ClusterState::Skipped);
        assert_eq!(r.next_batch(), Some(1));
        r.update("cls-3", |e| e.state = ClusterState::Done);
        assert!(r.finished());
    }

    #[test]
    fn a_journal_alone_says_where_a_cluster_stands() {
        let run = |status| RunRecord {
            status,
            ..RunRecord::new(
                "r".into(),
                "recycle",
                crate::run::journal::RunbookRef {
                    name: "runbook".into(),
                    sha256: String::new(),
                    path: None,
                },
                "me".into(),
            )
        };
        let cases = [
            (None, false, ClusterState::Pending),
            (Some(run(RunStatus::Running)), false, ClusterState::Running),
            (Some(run(RunStatus::Done)), false, ClusterState::Recycled),
            (Some(run(RunStatus::Done)), true, ClusterState::Done),
            (
                Some(run(RunStatus::Stopped { reason: "x".into() })),
                false,
                ClusterState::Failed,
            ),
        ];
        for (run, gate, want) in cases {
            assert_eq!(ClusterState::from_journal(run.as_ref(), gate), want);
        }
    }

    #[test]
    fn records_round_trip_and_newer_formats_are_refused() {
        let r = FleetRecord::new("f", &ids(2), 1);
        let text = serde_json::to_string(&r).expect("json");
        assert_eq!(decode(&text).expect("decode"), r);
        let newer = text.replace("\"format\":1", "\"format\":9");
        assert!(decode(&newer).expect_err("newer").contains("newer"));
    }

    #[test]
    fn fleet_names_fit_in_object_names() {
        assert!(validate_name("k8s-1-30").is_ok());
        for bad in ["", "Upper", "-x", "x-", "a_b", &"x".repeat(41)] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }
}

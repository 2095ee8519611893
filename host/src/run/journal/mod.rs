//! The run journal: durable key/value state of one recycle run plus the run's record, so that
//! `tke-recycle resume` can finish a crashed run on this or another machine.
//!
//! One JSON document per run, `{"format": 1, "run": RunRecord, "entries": {...}}`, rewritten
//! whole on every write, and durable before the write returns. Three backends behind one type:
//!
//! - **File** (default): `<state dir>/runs/<run-id>/journal.json`, replaced atomically (write
//!   `journal.json.tmp`, fsync it, rename it over, fsync the directory), so a crash leaves either
//!   the old or the new document, never half of one. There is no concurrency check between two
//!   processes on one machine: the run lock (the cluster Lease) keeps a second writer out.
//! - **In-cluster**: a ConfigMap `tke-recycle-run-<run-id>` (default namespace `kube-system`),
//!   so that a rescheduled Job, or an operator elsewhere, can resume. Every write after the
//!   first carries the resourceVersion last read or written; a 409 means another process wrote
//!   the run since, and is [`JournalError::Conflict`], never retried over.
//! - **Memory**: the same API with nothing persisted, for plans and dry runs.
//!
//! Limits: a key is at most [`MAX_KEY_BYTES`], a value at most [`MAX_VALUE_BYTES`], the whole
//! document (as written) at most [`MAX_DOCUMENT_BYTES`], which keeps it inside a ConfigMap's
//! 1 MiB with room for metadata.
//!
//! After every durable write the journal calls [`failpoint::after_journal_write`], which the
//! crash-matrix tests use to kill the process at an exact write.
//!
//! This module owns the document, its storage and the host's step records
//! ([`Journal::record_step`]); it does not decide what a run journals, nor which keys a guest may
//! write (the `journal` binding refuses `host/...` keys to the runbook).
//!
//! A write whose future is dropped before it returns may or may not have become durable; the
//! journal in memory then still shows the state before it. Callers do not cancel writes.

mod configmap;
mod file;

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::failpoint;

pub use configmap::{DEFAULT_NAMESPACE, MANAGED_BY_LABEL, RUN_LABEL, configmap_name};

/// The document format this build writes and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;
/// The longest key, in bytes.
pub const MAX_KEY_BYTES: usize = 256;
/// The longest value, in bytes.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;
/// The largest document, in bytes as written (a ConfigMap holds at most 1 MiB in all).
pub const MAX_DOCUMENT_BYTES: usize = 900 * 1024;
/// The environment variable naming the state directory (below `--journal`, above the default).
pub const STATE_DIR_ENV: &str = "TKE_RECYCLE_STATE_DIR";
/// Keys under this prefix belong to the host (step records, instance captures).
pub const HOST_PREFIX: &str = "host/";
/// Keys of the host's step records: `host/step/000001`, ...
pub const STEP_PREFIX: &str = "host/step/";

/// A journal could not be created, read or written.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// Writing the journal file (or creating its directory) failed.
    #[error("failed to write journal {location}")]
    Write {
        /// The path written.
        location: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Reading the journal file or listing the runs directory failed.
    #[error("failed to read journal {location}")]
    Read {
        /// The path read.
        location: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The stored document is not a journal this build can use.
    #[error("journal {location} is corrupt: {detail}")]
    Corrupt {
        /// The path or ConfigMap.
        location: String,
        /// What is wrong with it.
        detail: String,
        /// The JSON error, when there is one.
        #[source]
        source: Option<serde_json::Error>,
    },
    /// The document was written by a newer tke-recycle, in a format this build does not know.
    #[error(
        "journal of run {run} has format {found}, this tke-recycle understands up to {supported}; use a newer tke-recycle to resume it"
    )]
    NewerFormat {
        /// The run.
        run: String,
        /// The document's format.
        found: u64,
        /// [`FORMAT_VERSION`].
        supported: u32,
    },
    /// There is no journal for the run (or it was deleted while the run was writing it).
    #[error("no journal for run {run_id} at {location}")]
    NotFound {
        /// The run.
        run_id: String,
        /// Where it was looked for.
        location: String,
    },
    /// [`Journal::create`] for a run that already has a journal.
    #[error("run {run_id} already has a journal at {location}")]
    AlreadyExists {
        /// The run.
        run_id: String,
        /// Where.
        location: String,
    },
    /// The in-cluster journal changed since this process last read or wrote it.
    #[error(
        "journal {location} was changed by another writer{} since this process last read it (did another process resume run {run_id}?); this process stops writing it", holder.as_ref().map(|h| format!(" (now held by {h})")).unwrap_or_default()
    )]
    Conflict {
        /// The run.
        run_id: String,
        /// The ConfigMap.
        location: String,
        /// The holder recorded in the newer document, when it could be read.
        holder: Option<String>,
    },
    /// A key, a value or the whole document is over its limit.
    #[error(
        "cannot write {subject} to the journal: {what} would be {size} bytes, over the limit of {limit} bytes"
    )]
    TooLarge {
        /// `key host/...` or `the run record`.
        subject: String,
        /// `the key`, `the value` or `the whole document`.
        what: &'static str,
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A run ID that is not `YYYYMMDD-HHMMSS-xxxx`.
    #[error(
        "invalid run id {run_id:?}: expected YYYYMMDD-HHMMSS-xxxx (UTC date and time, then 4 lowercase hex digits), e.g. 20250102-030405-a1b2"
    )]
    InvalidRunId {
        /// What was given.
        run_id: String,
    },
    /// A Kubernetes API call on the journal ConfigMap failed.
    #[error("failed to {action} journal {location}")]
    Api {
        /// `create`, `read`, `update`, `list`.
        action: &'static str,
        /// The ConfigMap, or the namespace for a list.
        location: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// The document could not be encoded (cannot happen for documents this module builds).
    #[error("failed to encode journal {location}")]
    Encode {
        /// The path or ConfigMap.
        location: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
}

/// Which runbook a run runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunbookRef {
    /// Its name (`bundled` or the file name).
    pub name: String,
    /// SHA-256 of the component, lowercase hex: resume refuses a different runbook.
    pub sha256: String,
    /// Where it was loaded from, for a runbook that is not bundled.
    #[serde(default)]
    pub path: Option<PathBuf>,
}

/// Where a run stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum RunStatus {
    /// Started and not finished (or crashed: the journal cannot tell, the lock can).
    Running,
    /// Stopped on purpose (an operator, a deny finding, a signal) and resumable.
    Stopped {
        /// Why.
        reason: String,
    },
    /// Ended with an error.
    Failed {
        /// Why.
        reason: String,
    },
    /// Finished: every node done.
    Done,
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Running => f.write_str("running"),
            Self::Stopped { reason } => write!(f, "stopped: {reason}"),
            Self::Failed { reason } => write!(f, "failed: {reason}"),
            Self::Done => f.write_str("done"),
        }
    }
}

/// The record of one run: what it was asked to do and where it stands. Stored in the journal
/// document beside the entries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// `YYYYMMDD-HHMMSS-xxxx` ([`new_run_id`]).
    pub run_id: String,
    /// The TKE cluster ID, when known.
    #[serde(default)]
    pub cluster_id: Option<String>,
    /// `recycle` or `drain`.
    pub mode: String,
    /// The nodes to process, in order.
    #[serde(default)]
    pub nodes: Vec<String>,
    /// The runbook settings (JSON, as the runbook validated them).
    #[serde(default)]
    pub settings: serde_json::Value,
    /// The runbook.
    pub runbook: RunbookRef,
    /// What the CLI needs to re-create the policy set (opaque to the journal).
    #[serde(default)]
    pub policies: serde_json::Value,
    /// When the run was created (RFC 3339).
    pub created_at: String,
    /// When the journal was last written (RFC 3339); every write updates it.
    pub updated_at: String,
    /// Where the run stands.
    pub status: RunStatus,
    /// Who last ran it (`user@host pid N`).
    pub holder: String,
    /// The kubeconfig context, when one was chosen.
    #[serde(default)]
    pub kube_context: Option<String>,
    /// The run's key (`run --run-key`, a Job's UID): a later `run` with the same key resumes
    /// this run instead of starting another, so a rescheduled Job pod does not start over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Durable writes of this journal so far, this record's updates included.
    #[serde(default)]
    pub journal_writes: u64,
}

impl RunRecord {
    /// A `Running` record created `now`, with no cluster, nodes, settings or policies yet.
    pub fn new(run_id: String, mode: &str, runbook: RunbookRef, holder: String) -> Self {
        let now = jiff::Timestamp::now().to_string();
        Self {
            run_id,
            cluster_id: None,
            mode: mode.to_owned(),
            nodes: Vec::new(),
            settings: serde_json::Value::Null,
            runbook,
            policies: serde_json::Value::Null,
            created_at: now.clone(),
            updated_at: now,
            status: RunStatus::Running,
            holder,
            kube_context: None,
            key: None,
            journal_writes: 0,
        }
    }
}

/// One step of the host, as [`Journal::record_step`] wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepRecord {
    /// Its sequence number (the key is `host/step/<seq:06>`).
    pub seq: u64,
    /// The operation (`cordon`, `remove-instance`, ...).
    pub op: String,
    /// What it acted on (a node, a pod, a PDB).
    pub subject: String,
    /// Before or after.
    pub phase: StepPhase,
    /// When it was written (RFC 3339).
    pub at: String,
}

/// Whether a step record is written before or after the step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepPhase {
    /// About to run it.
    Begin,
    /// It ran.
    End {
        /// How it went (`ok`, `blocked by pdb x`, an error message).
        outcome: String,
    },
}

/// A step record as stored: `{op, subject, phase, outcome, at}`.
#[derive(Serialize, Deserialize)]
struct StepWire {
    op: String,
    subject: String,
    phase: PhaseWire,
    #[serde(default)]
    outcome: Option<String>,
    at: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum PhaseWire {
    Begin,
    End,
}

/// Where journals are kept.
#[derive(Clone)]
pub enum JournalBackend {
    /// Files under a state directory: `<dir>/runs/<run-id>/journal.json`.
    File {
        /// The state directory ([`state_dir`]).
        dir: PathBuf,
    },
    /// ConfigMaps in the cluster.
    InCluster {
        /// A client for writes: no retry layer, so a 409 reaches the journal at once.
        client: kube::Client,
        /// The namespace ([`DEFAULT_NAMESPACE`] unless configured).
        namespace: String,
    },
    /// Nothing persisted (plans, dry runs).
    Memory,
}

impl std::fmt::Debug for JournalBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File { dir } => f.debug_struct("File").field("dir", dir).finish(),
            Self::InCluster { namespace, .. } => f
                .debug_struct("InCluster")
                .field("namespace", namespace)
                .finish_non_exhaustive(),
            Self::Memory => f.write_str("Memory"),
        }
    }
}

/// The state directory: `--journal DIR` when given, else `$TKE_RECYCLE_STATE_DIR`, else
/// [`default_state_dir`].
pub fn state_dir(flag: Option<&Path>) -> Option<PathBuf> {
    choose_state_dir(
        flag,
        std::env::var_os(STATE_DIR_ENV).map(PathBuf::from),
        dirs::state_dir(),
        dirs::home_dir(),
    )
}

/// The state directory when no `--journal` is given: `$TKE_RECYCLE_STATE_DIR`, else the
/// platform's state directory plus `tke-recycle` (`~/.local/state/tke-recycle` on Linux), else
/// `~/.local/state/tke-recycle` where the platform has none (macOS). `None` without a home.
pub fn default_state_dir() -> Option<PathBuf> {
    state_dir(None)
}

fn choose_state_dir(
    flag: Option<&Path>,
    env: Option<PathBuf>,
    platform: Option<PathBuf>,
    home: Option<PathBuf>,
) -> Option<PathBuf> {
    if let Some(dir) = flag {
        return Some(dir.to_owned());
    }
    if let Some(dir) = env.filter(|d| !d.as_os_str().is_empty()) {
        return Some(dir);
    }
    platform
        .map(|d| d.join("tke-recycle"))
        .or_else(|| home.map(|h| h.join(".local/state/tke-recycle")))
}

/// A new run ID for a run starting `now`: `YYYYMMDD-HHMMSS-xxxx` (UTC, 4 random lowercase hex
/// digits). Sorts by time, and is valid as a directory name, a ConfigMap name part and a label
/// value.
pub fn new_run_id(now: jiff::Timestamp) -> String {
    let suffix: u16 = rand::random();
    format!("{}-{suffix:04x}", now.strftime("%Y%m%d-%H%M%S"))
}

/// Accept only `YYYYMMDD-HHMMSS-xxxx` (digits, then lowercase hex): a run ID becomes a path and
/// an object name, so `../x` and friends must never get that far.
pub fn validate_run_id(run_id: &str) -> Result<(), JournalError> {
    let b = run_id.as_bytes();
    let ok = b.len() == 20
        && b[..8].iter().all(u8::is_ascii_digit)
        && b[8] == b'-'
        && b[9..15].iter().all(u8::is_ascii_digit)
        && b[15] == b'-'
        && b[16..]
            .iter()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c));
    if ok {
        Ok(())
    } else {
        Err(JournalError::InvalidRunId {
            run_id: run_id.to_owned(),
        })
    }
}

/// The stored document.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Document {
    format: u32,
    run: RunRecord,
    #[serde(default)]
    entries: BTreeMap<String, String>,
}

/// Encode a document as stored (pretty JSON, so an operator can read it with `cat` or
/// `kubectl get -o yaml`), refusing one over [`MAX_DOCUMENT_BYTES`].
fn encode(doc: &Document, subject: &str, location: &str) -> Result<String, JournalError> {
    let mut text = serde_json::to_string_pretty(doc).map_err(|source| JournalError::Encode {
        location: location.to_owned(),
        source,
    })?;
    text.push('\n');
    if text.len() > MAX_DOCUMENT_BYTES {
        return Err(JournalError::TooLarge {
            subject: subject.to_owned(),
            what: "the whole document",
            size: text.len(),
            limit: MAX_DOCUMENT_BYTES,
        });
    }
    Ok(text)
}

fn corrupt(
    location: &str,
    detail: impl Into<String>,
    source: Option<serde_json::Error>,
) -> JournalError {
    JournalError::Corrupt {
        location: location.to_owned(),
        detail: detail.into(),
        source,
    }
}

/// Decode a stored document, checking its format before its shape (a newer format may have a
/// different shape) and, when known, that it belongs to `expect_run`.
fn decode(
    bytes: &[u8],
    location: &str,
    expect_run: Option<&str>,
) -> Result<Document, JournalError> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| corrupt(location, "it is not valid JSON", Some(e)))?;
    let format = value
        .get("format")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| corrupt(location, "it has no \"format\" number", None))?;
    if format > u64::from(FORMAT_VERSION) {
        let run = value
            .pointer("/run/run_id")
            .and_then(serde_json::Value::as_str)
            .or(expect_run)
            .unwrap_or("(unknown)");
        return Err(JournalError::NewerFormat {
            run: run.to_owned(),
            found: format,
            supported: FORMAT_VERSION,
        });
    }
    if format == 0 {
        return Err(corrupt(location, "format 0 is not a journal format", None));
    }
    let doc: Document = serde_json::from_value(value).map_err(|e| {
        corrupt(
            location,
            format!("it is not a valid format {format} journal document"),
            Some(e),
        )
    })?;
    if let Some(expected) = expect_run
        && doc.run.run_id != expected
    {
        return Err(corrupt(
            location,
            format!("it belongs to run {}, not {expected}", doc.run.run_id),
            None,
        ));
    }
    Ok(doc)
}

/// `error: cause: cause` for a log line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Where one journal lives, with what its writes need.
enum Store {
    File(file::FileStore),
    InCluster(Box<configmap::ConfigMapStore>),
    Memory,
}

impl Store {
    fn location(&self) -> String {
        match self {
            Self::File(s) => s.location(),
            Self::InCluster(s) => s.location(),
            Self::Memory => "memory (dry run, not persisted)".to_owned(),
        }
    }

    /// Write `text` durably; true when it was (not the memory journal).
    async fn write(&mut self, text: String) -> Result<bool, JournalError> {
        match self {
            Self::File(s) => s.write(text).await.map(|()| true),
            Self::InCluster(s) => s.write(text).await.map(|()| true),
            Self::Memory => Ok(false),
        }
    }
}

/// The journal of one run (see the module docs).
pub struct Journal {
    store: Store,
    doc: Document,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("location", &self.store.location())
            .field("run_id", &self.doc.run.run_id)
            .field("entries", &self.doc.entries.len())
            .finish()
    }
}

impl Journal {
    /// Create the journal of a new run with `record` as its record (its `journal_writes` counts
    /// this first write; `updated_at` is set now). Fails with [`JournalError::AlreadyExists`] if
    /// the run has a journal.
    pub async fn create(
        backend: &JournalBackend,
        mut record: RunRecord,
    ) -> Result<Self, JournalError> {
        validate_run_id(&record.run_id)?;
        let now = jiff::Timestamp::now().to_string();
        if record.created_at.is_empty() {
            record.created_at = now.clone();
        }
        record.updated_at = now;
        record.journal_writes += 1;
        let run_id = record.run_id.clone();
        let doc = Document {
            format: FORMAT_VERSION,
            run: record,
            entries: BTreeMap::new(),
        };
        let (store, durable) = match backend {
            JournalBackend::File { dir } => {
                let store = file::FileStore::new(dir, &run_id);
                let text = encode(&doc, "the run record", &store.location())?;
                store.create(text).await?;
                (Store::File(store), true)
            }
            JournalBackend::InCluster { client, namespace } => {
                let mut store = configmap::ConfigMapStore::new(client, namespace, &run_id);
                let text = encode(&doc, "the run record", &store.location())?;
                store.create(text).await?;
                (Store::InCluster(Box::new(store)), true)
            }
            JournalBackend::Memory => {
                encode(&doc, "the run record", "memory")?;
                (Store::Memory, false)
            }
        };
        let journal = Self { store, doc };
        tracing::debug!(run = %run_id, location = %journal.location(), "journal created");
        if durable {
            failpoint::after_journal_write();
        }
        Ok(journal)
    }

    /// Open the journal of an existing run.
    pub async fn open(backend: &JournalBackend, run_id: &str) -> Result<Self, JournalError> {
        validate_run_id(run_id)?;
        let (store, doc) = match backend {
            JournalBackend::File { dir } => {
                let store = file::FileStore::new(dir, run_id);
                let doc = store.read().await?;
                (Store::File(store), doc)
            }
            JournalBackend::InCluster { client, namespace } => {
                let mut store = configmap::ConfigMapStore::new(client, namespace, run_id);
                let doc = store.read().await?;
                (Store::InCluster(Box::new(store)), doc)
            }
            JournalBackend::Memory => {
                return Err(JournalError::NotFound {
                    run_id: run_id.to_owned(),
                    location: Store::Memory.location(),
                });
            }
        };
        Ok(Self { store, doc })
    }

    /// The records of every run the backend holds, oldest first. Journals that cannot be read
    /// are skipped with a warning: one damaged run must not hide the others.
    pub async fn list(backend: &JournalBackend) -> Result<Vec<RunRecord>, JournalError> {
        let mut runs = match backend {
            JournalBackend::File { dir } => file::list(dir).await?,
            JournalBackend::InCluster { client, namespace } => {
                configmap::list(client, namespace).await?
            }
            JournalBackend::Memory => Vec::new(),
        };
        runs.sort_by(|a, b| {
            let at = |r: &RunRecord| r.created_at.parse::<jiff::Timestamp>().ok();
            at(a)
                .cmp(&at(b))
                .then_with(|| a.created_at.cmp(&b.created_at))
                .then_with(|| a.run_id.cmp(&b.run_id))
        });
        Ok(runs)
    }

    /// The newest run whose record passes `filter` (e.g. not `Done`), if any.
    pub async fn latest(
        backend: &JournalBackend,
        filter: impl Fn(&RunRecord) -> bool,
    ) -> Result<Option<RunRecord>, JournalError> {
        Ok(Self::list(backend)
            .await?
            .into_iter()
            .rev()
            .find(|r| filter(r)))
    }

    /// The run's record.
    pub fn run(&self) -> &RunRecord {
        &self.doc.run
    }

    /// Where the journal is, for people: a path or `ConfigMap ns/name`.
    pub fn location(&self) -> String {
        self.store.location()
    }

    /// Set the run's status (durable).
    pub async fn set_status(&mut self, status: RunStatus) -> Result<(), JournalError> {
        self.commit("the run record", |doc| doc.run.status = status)
            .await
    }

    /// Record who runs it now (durable), e.g. when resuming.
    pub async fn set_holder(&mut self, holder: &str) -> Result<(), JournalError> {
        self.commit("the run record", |doc| doc.run.holder = holder.to_owned())
            .await
    }

    /// A value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.doc.entries.get(key).map(String::as_str)
    }

    /// Write a value (durable).
    pub async fn put(&mut self, key: &str, value: &str) -> Result<(), JournalError> {
        let subject = || format!("key {}", shorten(key));
        if key.len() > MAX_KEY_BYTES {
            return Err(JournalError::TooLarge {
                subject: subject(),
                what: "the key",
                size: key.len(),
                limit: MAX_KEY_BYTES,
            });
        }
        if value.len() > MAX_VALUE_BYTES {
            return Err(JournalError::TooLarge {
                subject: subject(),
                what: "the value",
                size: value.len(),
                limit: MAX_VALUE_BYTES,
            });
        }
        self.commit(&subject(), |doc| {
            doc.entries.insert(key.to_owned(), value.to_owned());
        })
        .await
    }

    /// Remove a value (durable). Removing an absent key writes nothing.
    pub async fn remove(&mut self, key: &str) -> Result<(), JournalError> {
        if !self.doc.entries.contains_key(key) {
            return Ok(());
        }
        self.commit(&format!("key {}", shorten(key)), |doc| {
            doc.entries.remove(key);
        })
        .await
    }

    /// The keys that start with `prefix`, sorted.
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        self.doc
            .entries
            .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Every entry.
    pub fn entries(&self) -> &BTreeMap<String, String> {
        &self.doc.entries
    }

    /// Append a host step record under `host/step/<seq:06>` (durable) and return its sequence
    /// number. A step's begin and end are two records, each with its own number: the journal
    /// only ever grows by appending, so a crash between them leaves a begin without an end,
    /// which is exactly what resume needs to see.
    pub async fn record_step(
        &mut self,
        op: &str,
        subject: &str,
        phase: StepPhase,
    ) -> Result<u64, JournalError> {
        let seq = self.next_step_seq();
        let (phase, outcome) = match phase {
            StepPhase::Begin => (PhaseWire::Begin, None),
            StepPhase::End { outcome } => (PhaseWire::End, Some(outcome)),
        };
        let wire = StepWire {
            op: op.to_owned(),
            subject: subject.to_owned(),
            phase,
            outcome,
            at: jiff::Timestamp::now().to_string(),
        };
        let value = serde_json::to_string(&wire).map_err(|source| JournalError::Encode {
            location: self.location(),
            source,
        })?;
        self.put(&format!("{STEP_PREFIX}{seq:06}"), &value).await?;
        Ok(seq)
    }

    /// The host's step records, in sequence order. Records that do not parse are skipped with
    /// a warning.
    pub fn host_steps(&self) -> Vec<StepRecord> {
        let mut steps: Vec<StepRecord> = self
            .keys(STEP_PREFIX)
            .into_iter()
            .filter_map(|key| {
                let seq = step_seq(&key)?;
                let value = self.get(&key)?;
                match serde_json::from_str::<StepWire>(value) {
                    Ok(w) => Some(StepRecord {
                        seq,
                        op: w.op,
                        subject: w.subject,
                        phase: match w.phase {
                            PhaseWire::Begin => StepPhase::Begin,
                            PhaseWire::End => StepPhase::End {
                                outcome: w.outcome.unwrap_or_default(),
                            },
                        },
                        at: w.at,
                    }),
                    Err(e) => {
                        tracing::warn!(key, location = %self.location(), "skipping unreadable step record: {e}");
                        None
                    }
                }
            })
            .collect();
        steps.sort_by_key(|s| s.seq);
        steps
    }

    fn next_step_seq(&self) -> u64 {
        self.keys(STEP_PREFIX)
            .iter()
            .filter_map(|k| step_seq(k))
            .max()
            .unwrap_or(0)
            + 1
    }

    /// Apply `change` to a copy of the document, write it durably, and only then adopt it: a
    /// failed write leaves the journal in memory as it is on disk (or in the cluster).
    async fn commit(
        &mut self,
        subject: &str,
        change: impl FnOnce(&mut Document),
    ) -> Result<(), JournalError> {
        let mut next = self.doc.clone();
        change(&mut next);
        next.run.journal_writes += 1;
        next.run.updated_at = jiff::Timestamp::now().to_string();
        let text = encode(&next, subject, &self.store.location())?;
        let durable = self.store.write(text).await?;
        self.doc = next;
        if durable {
            failpoint::after_journal_write();
        }
        Ok(())
    }
}

/// The sequence number of a step key, `host/step/000042` -> 42.
fn step_seq(key: &str) -> Option<u64> {
    key.strip_prefix(STEP_PREFIX)?.parse().ok()
}

/// A key for an error message: at most 80 characters.
fn shorten(key: &str) -> String {
    match key.char_indices().nth(80) {
        Some((i, _)) => format!("{}...", &key[..i]),
        None => key.to_owned(),
    }
}

#[cfg(test)]
mod tests;

//! The object store: every served object as compact JSON plus a few indexed facts, one global
//! resourceVersion, and watch fan-out with a bounded history. The history (each change with the
//! object before it) also answers a list as of an older resourceVersion, as long as it reaches
//! back that far.
//!
//! Objects are kept as their serialized JSON (what lists and watches send verbatim) so that
//! 150,000 pods stay small; the facts controllers and selectors need often (labels, owner, a pod's
//! node, phase, readiness and requests) are extracted once per write. The store knows nothing of
//! HTTP or of controller behaviour: it enforces names, UIDs, resourceVersions and generations.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use rand::Rng;
use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::clock::Clock;
use super::quantity::Resources;
use super::resource::Res;

/// How many watch events are kept for watches that resume from a resourceVersion.
const HISTORY: usize = 50_000;
/// Buffered events per watcher before it is cut off (the client then re-lists, as with a real
/// API server that drops a slow watcher).
const FANOUT: usize = 65_536;

/// (namespace, name); the namespace is empty for cluster-scoped objects.
pub type Key = (String, String);

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The object does not exist.
    #[error("{plural} \"{name}\" not found")]
    NotFound {
        /// Resource plural.
        plural: &'static str,
        /// Object name.
        name: String,
    },
    /// Create of a name that exists.
    #[error("{plural} \"{name}\" already exists")]
    AlreadyExists {
        /// Resource plural.
        plural: &'static str,
        /// Object name.
        name: String,
    },
    /// resourceVersion or UID precondition failed.
    #[error("{0}")]
    Conflict(String),
    /// The object is not acceptable (missing name, bad metadata).
    #[error("{0}")]
    Invalid(String),
}

/// The controlling owner of an object (ownerReferences entry with controller: true).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerRef {
    /// Owner kind.
    pub kind: Box<str>,
    /// Owner name.
    pub name: Box<str>,
    /// Owner UID.
    pub uid: Box<str>,
}

/// Facts about a pod that the scheduler, kubelet, disruption controller and field selectors use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodFacts {
    /// `spec.nodeName`.
    pub node_name: Option<Box<str>>,
    /// `status.phase` (Pending when absent).
    pub phase: Box<str>,
    /// The Ready condition is True.
    pub ready: bool,
    /// `metadata.deletionTimestamp` is set.
    pub deleting: bool,
    /// Effective requests.
    pub requests: Resources,
    /// `spec.terminationGracePeriodSeconds` (30 when absent).
    pub grace: i64,
}

/// One stored object.
#[derive(Debug)]
pub struct Object {
    /// resourceVersion of the last write.
    pub rv: u64,
    /// Namespace, empty when cluster-scoped.
    pub namespace: Box<str>,
    /// Name.
    pub name: Box<str>,
    /// UID.
    pub uid: Box<str>,
    /// Labels.
    pub labels: Box<[(Box<str>, Box<str>)]>,
    /// Controlling owner.
    pub controller: Option<Box<OwnerRef>>,
    /// Pod facts, for pods only.
    pub pod: Option<Box<PodFacts>>,
    /// The object as compact JSON, including apiVersion, kind and resourceVersion.
    pub json: Bytes,
}

impl Object {
    /// The label's value.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| &**k == key)
            .map(|(_, v)| &**v)
    }

    /// Parse the JSON back (controllers and read-modify-write).
    pub fn value(&self) -> Value {
        serde_json::from_slice(&self.json).unwrap_or(Value::Null)
    }

    /// Parse into a typed k8s-openapi object.
    pub fn typed<T: serde::de::DeserializeOwned>(&self) -> Option<T> {
        serde_json::from_slice(&self.json).ok()
    }

    /// The same object stamped with another resourceVersion: what a watch sends for an object
    /// that left its selection or was deleted (its last content, the change's version).
    pub fn at_resource_version(&self, res: Res, rv: u64) -> Object {
        Store::serialize(res, rv, self.value())
    }

    /// Whether `metadata.deletionTimestamp` is set (pods only track it as a fact).
    pub fn deleting(&self) -> bool {
        self.pod.as_ref().is_some_and(|p| p.deleting)
    }

    fn build(res: Res, rv: u64, value: &Value, json: Bytes) -> Object {
        let meta = value.get("metadata");
        let s = |p: &str| value.pointer(p).and_then(Value::as_str).unwrap_or("");
        let labels = meta
            .and_then(|m| m.get("labels"))
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.as_str().into(), v.as_str().unwrap_or("").into()))
                    .collect::<Vec<_>>()
                    .into_boxed_slice()
            })
            .unwrap_or_default();
        let controller = meta
            .and_then(|m| m.get("ownerReferences"))
            .and_then(Value::as_array)
            .and_then(|refs| {
                refs.iter()
                    .find(|r| r.get("controller") == Some(&Value::Bool(true)))
            })
            .map(|r| {
                let f = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("").into();
                Box::new(OwnerRef {
                    kind: f("kind"),
                    name: f("name"),
                    uid: f("uid"),
                })
            });
        let pod = (res == Res::Pods).then(|| {
            let ready = value
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .is_some_and(|cs| {
                    cs.iter().any(|c| {
                        c.get("type").and_then(Value::as_str) == Some("Ready")
                            && c.get("status").and_then(Value::as_str) == Some("True")
                    })
                });
            let node = s("/spec/nodeName");
            Box::new(PodFacts {
                node_name: (!node.is_empty()).then(|| node.into()),
                phase: match s("/status/phase") {
                    "" => "Pending".into(),
                    p => p.into(),
                },
                ready,
                deleting: value
                    .pointer("/metadata/deletionTimestamp")
                    .is_some_and(|v| !v.is_null()),
                requests: Resources::of_pod_spec(value.get("spec")),
                grace: value
                    .pointer("/spec/terminationGracePeriodSeconds")
                    .and_then(Value::as_i64)
                    .unwrap_or(30),
            })
        });
        Object {
            rv,
            namespace: s("/metadata/namespace").into(),
            name: s("/metadata/name").into(),
            uid: s("/metadata/uid").into(),
            labels,
            controller,
            pod,
            json,
        }
    }
}

/// Watch event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// Created.
    Added,
    /// Updated.
    Modified,
    /// Deleted (the object as it was, with the deletion's resourceVersion).
    Deleted,
}

impl EventType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change, as fanned out to watchers.
#[derive(Debug)]
pub struct Event {
    /// The store's resourceVersion after the change.
    pub rv: u64,
    /// The resource type.
    pub res: Res,
    /// What happened.
    pub kind: EventType,
    /// The object after the change (before it, for deletes).
    pub obj: Arc<Object>,
    /// The object before the change as it was stored (None for a create): a watch with a
    /// selector needs it to tell an object that stopped matching, and a list as of an older
    /// resourceVersion needs it to undo the change.
    pub prev: Option<Arc<Object>>,
}

struct Inner {
    rv: u64,
    tables: HashMap<Res, BTreeMap<Key, Arc<Object>>>,
    history: VecDeque<Arc<Event>>,
    /// Events with rv above this are all in `history` (or later).
    history_floor: u64,
    record: bool,
}

impl Inner {
    /// The stored object under `key`, or the API's NotFound.
    fn existing(&self, res: Res, key: &Key) -> Result<Arc<Object>, StoreError> {
        self.tables
            .get(&res)
            .and_then(|t| t.get(key))
            .cloned()
            .ok_or_else(|| StoreError::NotFound {
                plural: res.def().plural,
                name: key.1.clone(),
            })
    }
}

/// The object store shared by the API server and the controllers.
pub struct Store {
    inner: Mutex<Inner>,
    tx: broadcast::Sender<Arc<Event>>,
}

/// What a watch starts from: the events it missed, then a receiver for the rest.
pub type WatchStart = (Vec<Arc<Event>>, broadcast::Receiver<Arc<Event>>);

/// A resourceVersion a watch asked for is older than the kept history (HTTP 410 Gone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooOld;

/// A page of a list.
#[derive(Debug)]
pub struct Page {
    /// The store resourceVersion when the page was read.
    pub rv: u64,
    /// Matching objects in key order.
    pub items: Vec<Arc<Object>>,
    /// Set when more matching objects follow the last item.
    pub more: bool,
}

/// A random UID in the 8-4-4-4-12 hex form Kubernetes uses.
pub fn new_uid() -> String {
    let b: [u8; 16] = rand::rng().random();
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A 5-character suffix from the alphabet Kubernetes uses for generated names.
pub fn name_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    (0..5)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

fn has_generation(res: Res) -> bool {
    matches!(
        res,
        Res::Deployments
            | Res::ReplicaSets
            | Res::StatefulSets
            | Res::DaemonSets
            | Res::Jobs
            | Res::CronJobs
            | Res::PodDisruptionBudgets
    )
}

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

impl Store {
    /// An empty store.
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(FANOUT);
        Store {
            inner: Mutex::new(Inner {
                rv: 1,
                tables: Res::ALL.into_iter().map(|r| (r, BTreeMap::new())).collect(),
                history: VecDeque::new(),
                history_floor: 1,
                record: true,
            }),
            tx,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent data (every write is one insert).
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current resourceVersion.
    pub fn rv(&self) -> u64 {
        self.lock().rv
    }

    /// Stop (false) or resume (true) recording watch history, for bulk loading at start.
    pub fn set_recording(&self, on: bool) {
        let mut g = self.lock();
        g.record = on;
        if on {
            g.history_floor = g.rv;
        }
    }

    /// One object.
    pub fn get(&self, res: Res, ns: &str, name: &str) -> Option<Arc<Object>> {
        self.lock()
            .tables
            .get(&res)?
            .get(&(ns.to_owned(), name.to_owned()))
            .cloned()
    }

    /// Every object of a type, optionally in one namespace.
    pub fn list(&self, res: Res, ns: Option<&str>) -> Vec<Arc<Object>> {
        self.page(res, ns, None, usize::MAX, |_| true).items
    }

    /// Up to `limit` objects matching `filter`, after key `after`, in key order.
    pub fn page(
        &self,
        res: Res,
        ns: Option<&str>,
        after: Option<&Key>,
        limit: usize,
        filter: impl Fn(&Object) -> bool,
    ) -> Page {
        let g = self.lock();
        let rv = g.rv;
        Self::collect(&g, res, ns, after, limit, rv, &BTreeMap::new(), filter)
    }

    /// Like [`page`](Self::page), but as the objects were at resourceVersion `at`: what the
    /// later pages of a paged list are served from, so that a list is one consistent snapshot
    /// however long its reader takes, as etcd's MVCC reads give the real API server. The
    /// changes since `at` are undone from the watch history; when they are no longer all in
    /// it (the history has moved past `at`, as etcd compacts), the answer is [`TooOld`].
    pub fn page_at(
        &self,
        res: Res,
        ns: Option<&str>,
        after: Option<&Key>,
        limit: usize,
        at: u64,
        filter: impl Fn(&Object) -> bool,
    ) -> Result<Page, TooOld> {
        let g = self.lock();
        if at >= g.rv {
            let rv = g.rv;
            return Ok(Self::collect(
                &g,
                res,
                ns,
                after,
                limit,
                rv,
                &BTreeMap::new(),
                filter,
            ));
        }
        if at < g.history_floor || !g.record {
            return Err(TooOld);
        }
        // Each object changed since `at` is as the first change after `at` found it.
        let first_after = g.history.partition_point(|e| e.rv <= at);
        let mut then: BTreeMap<Key, Option<Arc<Object>>> = BTreeMap::new();
        for e in g.history.range(first_after..).filter(|e| e.res == res) {
            then.entry((e.obj.namespace.to_string(), e.obj.name.to_string()))
                .or_insert_with(|| e.prev.clone());
        }
        Ok(Self::collect(&g, res, ns, after, limit, at, &then, filter))
    }

    /// A page of the table of `res` with `overlay` laid over it: a key in the overlay is the
    /// object it names (or absent, for `None`) whatever the table holds.
    #[allow(clippy::too_many_arguments, reason = "one page request, spelled out")]
    fn collect(
        g: &Inner,
        res: Res,
        ns: Option<&str>,
        after: Option<&Key>,
        limit: usize,
        rv: u64,
        overlay: &BTreeMap<Key, Option<Arc<Object>>>,
        filter: impl Fn(&Object) -> bool,
    ) -> Page {
        use std::ops::Bound;
        let empty = BTreeMap::new();
        let table = g.tables.get(&res).unwrap_or(&empty);
        let start = match (after, ns) {
            (Some(k), _) => Bound::Excluded(k.clone()),
            (None, Some(ns)) => Bound::Included((ns.to_owned(), String::new())),
            (None, None) => Bound::Unbounded,
        };
        let mut now = table.range((start.clone(), Bound::Unbounded)).peekable();
        let mut then = overlay.range((start, Bound::Unbounded)).peekable();
        let mut items = Vec::new();
        let mut more = false;
        loop {
            // Merge the two key-ordered sequences; the overlay wins on equal keys.
            let from_overlay = match (now.peek(), then.peek()) {
                (None, None) => break,
                (Some((k, _)), Some((o, _))) => o <= k,
                (Some(_), None) => false,
                (None, Some(_)) => true,
            };
            let (key, obj): (&Key, Option<&Arc<Object>>) = if from_overlay {
                let Some((k, o)) = then.next() else { break };
                if now.peek().is_some_and(|(n, _)| *n == k) {
                    now.next();
                }
                (k, o.as_ref())
            } else {
                let Some((k, o)) = now.next() else { break };
                (k, Some(o))
            };
            if let Some(ns) = ns
                && key.0 != ns
            {
                break;
            }
            let Some(obj) = obj else {
                continue;
            };
            if filter(obj) {
                if items.len() >= limit {
                    more = true;
                    break;
                }
                items.push(obj.clone());
            }
        }
        Page { rv, items, more }
    }

    /// Store a new version of an object under the next resourceVersion and tell the watchers.
    fn store_version(
        &self,
        g: &mut Inner,
        res: Res,
        key: Key,
        value: Value,
        kind: EventType,
    ) -> Arc<Object> {
        g.rv += 1;
        let obj = Arc::new(Self::serialize(res, g.rv, value));
        let prev = g.tables.entry(res).or_default().insert(key, obj.clone());
        self.emit(g, res, kind, obj.clone(), prev);
        obj
    }

    fn emit(
        &self,
        g: &mut Inner,
        res: Res,
        kind: EventType,
        obj: Arc<Object>,
        prev: Option<Arc<Object>>,
    ) {
        let ev = Arc::new(Event {
            rv: g.rv,
            res,
            kind,
            obj,
            prev,
        });
        if g.record {
            g.history.push_back(ev.clone());
            if g.history.len() > HISTORY
                && let Some(old) = g.history.pop_front()
            {
                g.history_floor = old.rv;
            }
        }
        // No receivers is fine.
        let _ = self.tx.send(ev);
    }

    fn serialize(res: Res, rv: u64, mut value: Value) -> Object {
        if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert("resourceVersion".into(), Value::String(rv.to_string()));
        }
        let json = Bytes::from(serde_json::to_vec(&value).unwrap_or_default());
        Object::build(res, rv, &value, json)
    }

    fn key_of(res: Res, value: &Value) -> Result<Key, StoreError> {
        let name = value
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        if name.is_empty() {
            return Err(StoreError::Invalid(
                "name or generateName is required".into(),
            ));
        }
        let ns = if res.def().namespaced {
            let ns = value
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or("");
            if ns.is_empty() {
                return Err(StoreError::Invalid(
                    "the namespace of the object is required".into(),
                ));
            }
            ns
        } else {
            ""
        };
        Ok((ns.to_owned(), name.to_owned()))
    }

    /// Create an object: assigns name (from generateName), UID, creationTimestamp, generation
    /// and resourceVersion. `keep_uid` keeps a UID the caller set (scenario loading).
    pub fn create(
        &self,
        res: Res,
        mut value: Value,
        keep_uid: bool,
    ) -> Result<Arc<Object>, StoreError> {
        let def = res.def();
        if !value.is_object() {
            return Err(StoreError::Invalid("the body must be an object".into()));
        }
        value["apiVersion"] = Value::String(res.api_version());
        value["kind"] = Value::String(def.kind.to_owned());
        if !value.get("metadata").is_some_and(Value::is_object) {
            value["metadata"] = json!({});
        }
        let meta = &mut value["metadata"];
        if meta
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .is_empty()
            && let Some(prefix) = meta.get("generateName").and_then(Value::as_str)
        {
            let name = format!("{prefix}{}", name_suffix());
            meta["name"] = Value::String(name);
        }
        if !def.namespaced
            && let Some(m) = meta.as_object_mut()
        {
            m.remove("namespace");
        }
        if !(keep_uid
            && meta
                .get("uid")
                .and_then(Value::as_str)
                .is_some_and(|u| !u.is_empty()))
        {
            meta["uid"] = Value::String(new_uid());
        }
        if meta.get("creationTimestamp").is_none_or(Value::is_null) || !keep_uid {
            meta["creationTimestamp"] = Value::String(Clock::wall_rfc3339());
        }
        if has_generation(res) {
            meta["generation"] = json!(1);
        }
        if let Some(m) = meta.as_object_mut() {
            m.remove("deletionTimestamp");
            m.remove("deletionGracePeriodSeconds");
            m.remove("resourceVersion");
        }
        let key = Self::key_of(res, &value)?;
        let mut g = self.lock();
        if g.tables.get(&res).is_some_and(|t| t.contains_key(&key)) {
            return Err(StoreError::AlreadyExists {
                plural: def.plural,
                name: key.1,
            });
        }
        Ok(self.store_version(&mut g, res, key, value, EventType::Added))
    }

    /// Replace an object. With `expected_rv`, a different current resourceVersion is a conflict.
    /// Identity fields (uid, creationTimestamp, deletion fields) are kept from the stored object;
    /// generation is bumped when `spec` changes.
    pub fn replace(
        &self,
        res: Res,
        value: Value,
        expected_rv: Option<&str>,
    ) -> Result<Arc<Object>, StoreError> {
        let key = Self::key_of(res, &value)?;
        let mut g = self.lock();
        let old = g.existing(res, &key)?;
        if let Some(rv) = expected_rv
            && !rv.is_empty()
            && rv != old.rv.to_string()
        {
            return Err(conflict(res, &key.1));
        }
        Ok(self.commit(&mut g, res, key, &old, value))
    }

    /// Read-modify-write under the store lock, so controllers never conflict with each other.
    pub fn update_with(
        &self,
        res: Res,
        ns: &str,
        name: &str,
        f: impl FnOnce(&mut Value) -> Result<(), StoreError>,
    ) -> Result<Arc<Object>, StoreError> {
        let key = (ns.to_owned(), name.to_owned());
        let mut g = self.lock();
        let old = g.existing(res, &key)?;
        let mut value = old.value();
        f(&mut value)?;
        Ok(self.commit(&mut g, res, key, &old, value))
    }

    fn commit(
        &self,
        g: &mut Inner,
        res: Res,
        key: Key,
        old: &Arc<Object>,
        mut value: Value,
    ) -> Arc<Object> {
        let old_value = old.value();
        value["apiVersion"] = Value::String(res.api_version());
        value["kind"] = Value::String(res.def().kind.to_owned());
        if !value.get("metadata").is_some_and(Value::is_object) {
            value["metadata"] = json!({});
        }
        for field in [
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ] {
            match old_value.pointer(&format!("/metadata/{field}")) {
                Some(v) => value["metadata"][field] = v.clone(),
                None => {
                    if let Some(m) = value["metadata"].as_object_mut() {
                        m.remove(field);
                    }
                }
            }
        }
        value["metadata"]["name"] = Value::String(key.1.clone());
        if res.def().namespaced {
            value["metadata"]["namespace"] = Value::String(key.0.clone());
        }
        if has_generation(res) && value.get("spec") != old_value.get("spec") {
            let gen_ = old_value
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            value["metadata"]["generation"] = json!(gen_ + 1);
        }
        value["metadata"]["resourceVersion"] = Value::String(old.rv.to_string());
        if value == old_value {
            // A no-op write does not bump the resourceVersion, as on a real API server.
            return old.clone();
        }
        self.store_version(g, res, key, value, EventType::Modified)
    }

    /// Set a pod's deletion fields as a graceful delete does (only the store may write them).
    pub fn mark_deleting(
        &self,
        res: Res,
        ns: &str,
        name: &str,
        grace: i64,
    ) -> Result<Arc<Object>, StoreError> {
        let key = (ns.to_owned(), name.to_owned());
        let mut g = self.lock();
        let old = g.existing(res, &key)?;
        let mut value = old.value();
        let current = value
            .pointer("/metadata/deletionGracePeriodSeconds")
            .and_then(Value::as_i64);
        // A repeated delete may only shorten the grace period.
        if current.is_some_and(|c| c <= grace) {
            return Ok(old);
        }
        value["metadata"]["deletionTimestamp"] = Value::String(Clock::wall_rfc3339_in(grace));
        value["metadata"]["deletionGracePeriodSeconds"] = json!(grace);
        Ok(self.store_version(&mut g, res, key, value, EventType::Modified))
    }

    /// Remove an object now. `uid`/`rv` preconditions give a conflict when they differ.
    pub fn delete(
        &self,
        res: Res,
        ns: &str,
        name: &str,
        uid: Option<&str>,
        rv: Option<&str>,
    ) -> Result<Arc<Object>, StoreError> {
        let key = (ns.to_owned(), name.to_owned());
        let mut g = self.lock();
        let old = g.existing(res, &key)?;
        check_preconditions(res, &old, uid, rv)?;
        if let Some(t) = g.tables.get_mut(&res) {
            t.remove(&key);
        }
        g.rv += 1;
        let obj = Arc::new(old.at_resource_version(res, g.rv));
        self.emit(&mut g, res, EventType::Deleted, obj.clone(), Some(old));
        Ok(obj)
    }

    /// Events after `rv` from history plus a receiver for what follows, taken atomically.
    pub fn watch_from(&self, rv: u64) -> Result<WatchStart, TooOld> {
        let g = self.lock();
        if rv < g.history_floor {
            return Err(TooOld);
        }
        let past = g.history.iter().filter(|e| e.rv > rv).cloned().collect();
        Ok((past, self.tx.subscribe()))
    }

    /// A receiver for future events only, plus the current resourceVersion, taken atomically.
    pub fn subscribe(&self) -> (u64, broadcast::Receiver<Arc<Event>>) {
        let g = self.lock();
        (g.rv, self.tx.subscribe())
    }
}

/// The message a real API server gives for a stale resourceVersion.
pub fn conflict(res: Res, name: &str) -> StoreError {
    let d = res.def();
    let gr = if d.group.is_empty() {
        d.plural.to_owned()
    } else {
        format!("{}.{}", d.plural, d.group)
    };
    StoreError::Conflict(format!(
        "Operation cannot be fulfilled on {gr} \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
    ))
}

/// Check delete preconditions as the API server words them.
pub fn check_preconditions(
    res: Res,
    obj: &Object,
    uid: Option<&str>,
    rv: Option<&str>,
) -> Result<(), StoreError> {
    if let Some(uid) = uid
        && !uid.is_empty()
        && uid != &*obj.uid
    {
        return Err(StoreError::Conflict(format!(
            "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
            obj.uid
        )));
    }
    if let Some(rv) = rv
        && !rv.is_empty()
        && rv != obj.rv.to_string()
    {
        let _ = res;
        return Err(StoreError::Conflict(format!(
            "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
            obj.rv
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str) -> Value {
        json!({"metadata": {"name": name, "namespace": "default", "labels": {"app": "a"}},
               "spec": {"nodeName": "n1", "containers": [{"name": "c", "resources": {"requests": {"cpu": "100m"}}}]}})
    }

    #[test]
    fn create_assigns_identity_and_indexes_facts() {
        let s = Store::new();
        let o = s.create(Res::Pods, pod("p1"), false).expect("create");
        assert_eq!(o.label("app"), Some("a"));
        let facts = o.pod.as_ref().expect("pod facts");
        assert_eq!(facts.node_name.as_deref(), Some("n1"));
        assert_eq!(facts.requests.cpu_m, 100);
        assert_eq!(&*facts.phase, "Pending");
        let v = o.value();
        assert_eq!(v["kind"], "Pod");
        assert_eq!(v["metadata"]["resourceVersion"], o.rv.to_string());
        assert!(matches!(
            s.create(Res::Pods, pod("p1"), false),
            Err(StoreError::AlreadyExists { .. })
        ));
    }

    #[test]
    fn stale_resource_version_conflicts_and_noop_keeps_rv() {
        let s = Store::new();
        let o = s
            .create(
                Res::Deployments,
                json!({"metadata": {"name": "d", "namespace": "x"}, "spec": {"replicas": 1}}),
                false,
            )
            .expect("create");
        let mut v = o.value();
        v["spec"]["replicas"] = json!(2);
        let o2 = s
            .replace(Res::Deployments, v.clone(), Some(&o.rv.to_string()))
            .expect("update");
        assert_eq!(o2.value()["metadata"]["generation"], 2);
        assert!(matches!(
            s.replace(Res::Deployments, v, Some(&o.rv.to_string())),
            Err(StoreError::Conflict(_))
        ));
        let o3 = s
            .update_with(Res::Deployments, "x", "d", |_| Ok(()))
            .expect("noop");
        assert_eq!(o3.rv, o2.rv);
    }

    #[test]
    fn watch_replays_history_and_pages_continue() {
        let s = Store::new();
        let start = s.rv();
        for i in 0..5 {
            s.create(Res::Pods, pod(&format!("p{i}")), false)
                .expect("create");
        }
        let (past, _rx) = s.watch_from(start).expect("history");
        assert_eq!(past.len(), 5);
        let p = s.page(Res::Pods, Some("default"), None, 2, |_| true);
        assert!(p.more);
        let last = p
            .items
            .last()
            .map(|o| (o.namespace.to_string(), o.name.to_string()))
            .expect("item");
        let p2 = s.page(Res::Pods, Some("default"), Some(&last), 10, |_| true);
        assert_eq!(p2.items.len(), 3);
        assert!(!p2.more);
        let d = s.delete(Res::Pods, "default", "p0", Some("wrong"), None);
        assert!(matches!(d, Err(StoreError::Conflict(_))));
    }

    fn names(p: &Page) -> Vec<String> {
        p.items.iter().map(|o| o.name.to_string()).collect()
    }

    #[test]
    fn later_pages_read_the_first_pages_snapshot() {
        let s = Store::new();
        for name in ["a", "c", "e", "g"] {
            s.create(Res::Pods, pod(name), false).expect("create");
        }
        let first = s.page(Res::Pods, None, None, 2, |_| true);
        assert_eq!(names(&first), ["a", "c"]);
        let at = first.rv;
        let after = ("default".to_owned(), "c".to_owned());
        // Between the pages: one created, one deleted, one changed, one created and deleted.
        s.create(Res::Pods, pod("d"), false).expect("create d");
        s.delete(Res::Pods, "default", "e", None, None)
            .expect("delete e");
        s.update_with(Res::Pods, "default", "g", |v| {
            v["metadata"]["labels"]["app"] = json!("changed");
            Ok(())
        })
        .expect("update g");
        s.create(Res::Pods, pod("f"), false).expect("create f");
        s.delete(Res::Pods, "default", "f", None, None)
            .expect("delete f");
        let now = s.page(Res::Pods, None, Some(&after), 10, |_| true);
        assert_eq!(names(&now), ["d", "g"], "the current state differs");
        let then = s
            .page_at(Res::Pods, None, Some(&after), 10, at, |_| true)
            .expect("in history");
        assert_eq!(names(&then), ["e", "g"]);
        assert_eq!(then.rv, at);
        assert_eq!(then.items[1].label("app"), Some("a"), "g as it was");
        // A filter sees the old content, and paging within the snapshot still stops at limit.
        let labelled = s
            .page_at(Res::Pods, Some("default"), None, 1, at, |o| {
                o.label("app") == Some("a")
            })
            .expect("in history");
        assert_eq!(
            (names(&labelled), labelled.more),
            (vec!["a".to_owned()], true)
        );
        // Other resources' changes do not leak in.
        assert!(
            s.page_at(Res::Nodes, None, None, 10, at, |_| true)
                .expect("nodes")
                .items
                .is_empty()
        );
    }

    #[test]
    fn a_snapshot_older_than_the_history_is_gone() {
        let s = Store::new();
        s.create(Res::Pods, pod("a"), false).expect("create");
        let at = s.rv();
        s.create(Res::Pods, pod("b"), false).expect("create");
        assert!(s.page_at(Res::Pods, None, None, 10, at, |_| true).is_ok());
        // Past the history's reach, as etcd compacts: nothing left to undo the changes with.
        for i in 0..=HISTORY {
            s.update_with(Res::Pods, "default", "b", |v| {
                v["metadata"]["labels"]["n"] = json!(i.to_string());
                Ok(())
            })
            .expect("update");
        }
        assert_eq!(
            s.page_at(Res::Pods, None, None, 10, at, |_| true)
                .map(|p| p.rv),
            Err(TooOld)
        );
        let now = s.rv();
        assert_eq!(
            s.page_at(Res::Pods, None, None, 10, now, |_| true)
                .map(|p| p.items.len()),
            Ok(2)
        );
    }
}

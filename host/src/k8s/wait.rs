//! Waiting by watch, not by polling: pods gone or replaced (UID-aware), a node Ready, a node
//! removed, a node (re)appeared. Each wait has a timeout and says what it was still waiting for.
//!
//! The decision logic is a small state machine per wait, fed with kube-runtime watcher events, so
//! it is unit-tested without a server. A watch that breaks is resumed by the watcher with backoff
//! (relisting when needed); the timeout bounds everything.

use super::api_error;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

use futures::StreamExt as _;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::Api;
use kube::runtime::WatchStreamExt as _;
use kube::runtime::watcher::{self, Event, watcher};

/// A wait did not finish.
#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    /// The timeout passed first.
    #[error("timed out after {waited:?} waiting for {what}")]
    TimedOut {
        /// What was awaited, with what was still missing.
        what: String,
        /// How long.
        waited: Duration,
    },
    /// The watch ended (the stream closed), which a healthy watcher never does.
    #[error("the watch for {what} ended unexpectedly")]
    WatchEnded {
        /// What was awaited.
        what: String,
    },
}

/// A pod as the eviction knew it: the UID tells the pod apart from a replacement of the same name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PodKey {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// UID at eviction time.
    pub uid: String,
}

/// Something that watcher events move towards done.
pub trait Progress<K> {
    /// Feed one event; true when the wait is over.
    fn on(&mut self, event: &Event<K>) -> bool;
    /// What is still awaited, for the timeout message.
    fn describe(&self) -> String;
}

/// Pods gone or replaced: a pod counts as gone when it is deleted, absent from a (re)list, or
/// present with another UID (a StatefulSet pod recreated under the same name).
#[derive(Debug)]
pub struct PodsGone {
    remaining: HashMap<(String, String), String>,
    listed: HashSet<(String, String)>,
}

impl PodsGone {
    /// Wait for these pods.
    pub fn new(pods: &[PodKey]) -> Self {
        Self {
            remaining: pods
                .iter()
                .map(|p| ((p.namespace.clone(), p.name.clone()), p.uid.clone()))
                .collect(),
            listed: HashSet::new(),
        }
    }

    fn key(pod: &Pod) -> ((String, String), &str) {
        (
            (
                pod.metadata.namespace.clone().unwrap_or_default(),
                pod.metadata.name.clone().unwrap_or_default(),
            ),
            pod.metadata.uid.as_deref().unwrap_or_default(),
        )
    }

    /// Drop `key` if the pod seen has another UID (replaced); report whether the original is there.
    fn seen(&mut self, pod: &Pod) -> Option<(String, String)> {
        let (key, uid) = Self::key(pod);
        match self.remaining.get(&key) {
            Some(want) if want == uid => Some(key),
            Some(_) => {
                self.remaining.remove(&key);
                None
            }
            None => None,
        }
    }
}

impl Progress<Pod> for PodsGone {
    fn on(&mut self, event: &Event<Pod>) -> bool {
        match event {
            Event::Init => self.listed.clear(),
            Event::InitApply(pod) => {
                if let Some(key) = self.seen(pod) {
                    self.listed.insert(key);
                }
            }
            Event::InitDone => {
                let listed = std::mem::take(&mut self.listed);
                self.remaining.retain(|k, _| listed.contains(k));
            }
            Event::Apply(pod) => {
                self.seen(pod);
            }
            Event::Delete(pod) => {
                let (key, uid) = Self::key(pod);
                if self.remaining.get(&key).is_some_and(|want| want == uid) {
                    self.remaining.remove(&key);
                }
            }
        }
        self.remaining.is_empty()
    }

    fn describe(&self) -> String {
        let mut names: Vec<String> = self
            .remaining
            .keys()
            .map(|(ns, n)| format!("{ns}/{n}"))
            .collect();
        names.sort();
        let shown = names
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        let more = names.len().saturating_sub(10);
        if more > 0 {
            format!(
                "{} pods to go (still there: {shown} and {more} more)",
                names.len()
            )
        } else {
            format!("{} pods to go (still there: {shown})", names.len())
        }
    }
}

/// What to wait for on one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeGoal {
    /// The Ready condition is True.
    Ready,
    /// The Node object is gone.
    Removed,
    /// A Node object exists whose UID is not this one (or any, with `None`): the node re-joined.
    Present {
        /// The UID the node had before it was removed.
        old_uid: Option<String>,
    },
}

/// One node reaching a [`NodeGoal`].
#[derive(Debug)]
pub struct NodeReaches {
    name: String,
    goal: NodeGoal,
    listed: bool,
    /// The UID of the node when the goal was reached.
    pub uid: Option<String>,
}

impl NodeReaches {
    /// Wait for `name` to reach `goal`.
    pub fn new(name: &str, goal: NodeGoal) -> Self {
        Self {
            name: name.to_owned(),
            goal,
            listed: false,
            uid: None,
        }
    }

    fn matches(&mut self, node: &Node) -> bool {
        if node.metadata.name.as_deref() != Some(self.name.as_str()) {
            return false;
        }
        let uid = node.metadata.uid.clone();
        let reached = match &self.goal {
            NodeGoal::Ready => node
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True")),
            NodeGoal::Removed => false,
            NodeGoal::Present { old_uid } => old_uid.is_none() || *old_uid != uid,
        };
        if reached {
            self.uid = uid;
        }
        reached
    }
}

impl Progress<Node> for NodeReaches {
    fn on(&mut self, event: &Event<Node>) -> bool {
        match event {
            Event::Init => {
                self.listed = false;
                false
            }
            Event::InitApply(node) => {
                if node.metadata.name.as_deref() == Some(self.name.as_str()) {
                    self.listed = true;
                }
                self.matches(node)
            }
            Event::Apply(node) => self.matches(node),
            Event::InitDone => self.goal == NodeGoal::Removed && !self.listed,
            Event::Delete(node) => {
                self.goal == NodeGoal::Removed
                    && node.metadata.name.as_deref() == Some(self.name.as_str())
            }
        }
    }

    fn describe(&self) -> String {
        match &self.goal {
            NodeGoal::Ready => format!("node {} to be Ready", self.name),
            NodeGoal::Removed => format!("node {} to be removed", self.name),
            NodeGoal::Present { .. } => format!("node {} to (re)appear", self.name),
        }
    }
}

/// Run a watch until `progress` is done or `timeout` passes.
async fn watch_until<K, P>(
    api: Api<K>,
    config: watcher::Config,
    progress: &mut P,
    timeout: Duration,
) -> Result<(), WaitError>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
    P: Progress<K>,
{
    let stream = watcher(api, config).default_backoff();
    let mut stream = std::pin::pin!(stream);
    let run = async {
        while let Some(event) = stream.next().await {
            match event {
                Ok(event) => {
                    if progress.on(&event) {
                        return Ok(());
                    }
                }
                // The watcher relists and resumes with backoff; keep waiting within the timeout.
                Err(e) => tracing::warn!(error = %api_error::render(&e), "watch failed; retrying"),
            }
        }
        Err(WaitError::WatchEnded {
            what: progress.describe(),
        })
    };
    match tokio::time::timeout(timeout, run).await {
        Ok(result) => result,
        Err(_) => Err(WaitError::TimedOut {
            what: progress.describe(),
            waited: timeout,
        }),
    }
}

/// Wait until each pod (which was on `node`) is gone or replaced by a pod with another UID.
pub async fn pods_gone(
    client: &kube::Client,
    node: &str,
    pods: &[PodKey],
    timeout: Duration,
) -> Result<(), WaitError> {
    let mut progress = PodsGone::new(pods);
    if progress.remaining.is_empty() {
        return Ok(());
    }
    // Only the node's pods are watched: the evicted ones are there until they are deleted, and a
    // watch with a field selector reports an object leaving it as a deletion.
    let config = watcher::Config::default().fields(&format!("spec.nodeName={node}"));
    watch_until(
        Api::<Pod>::all(client.clone()),
        config,
        &mut progress,
        timeout,
    )
    .await
}

/// Wait until node `name` reaches `goal`; returns its UID at that moment (None for `Removed`).
pub async fn node(
    client: &kube::Client,
    name: &str,
    goal: NodeGoal,
    timeout: Duration,
) -> Result<Option<String>, WaitError> {
    let mut progress = NodeReaches::new(name, goal);
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    watch_until(
        Api::<Node>::all(client.clone()),
        config,
        &mut progress,
        timeout,
    )
    .await?;
    Ok(progress.uid)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod(name: &str, uid: &str) -> Pod {
        serde_json::from_value(json!({"metadata": {"namespace": "shop", "name": name, "uid": uid}}))
            .expect("valid pod")
    }

    fn key(name: &str, uid: &str) -> PodKey {
        PodKey {
            namespace: "shop".into(),
            name: name.into(),
            uid: uid.into(),
        }
    }

    #[test]
    fn pods_are_gone_when_deleted_replaced_or_missing_from_the_list() {
        let mut w = PodsGone::new(&[key("a", "1"), key("b", "2"), key("c", "3"), key("d", "4")]);
        let events = [
            (Event::Init, false),
            (Event::InitApply(pod("a", "1")), false),
            (Event::InitApply(pod("b", "2")), false),
            (Event::InitApply(pod("c", "30")), false), // c replaced before the watch started
            (Event::InitDone, false),                  // d was not listed: gone
            (Event::Apply(pod("a", "1")), false),      // a terminating: still there
            (Event::Delete(pod("b", "other")), false), // another b deleted: not ours
            (Event::Delete(pod("a", "1")), false),
            (Event::Apply(pod("b", "20")), true), // b recreated with a new UID
        ];
        for (i, (event, done)) in events.iter().enumerate() {
            assert_eq!(w.on(event), *done, "event {i}: {}", w.describe());
        }
    }

    #[test]
    fn timeout_message_names_the_pods_still_there() {
        let w = PodsGone::new(&[key("web-1", "1")]);
        assert_eq!(w.describe(), "1 pods to go (still there: shop/web-1)");
    }

    fn node_obj(name: &str, uid: &str, ready: &str) -> Node {
        serde_json::from_value(json!({"metadata": {"name": name, "uid": uid},
            "status": {"conditions": [{"type": "Ready", "status": ready}]}}))
        .expect("valid node")
    }

    #[test]
    fn node_goals() {
        let mut ready = NodeReaches::new("n1", NodeGoal::Ready);
        assert!(!ready.on(&Event::InitApply(node_obj("n1", "u1", "False"))));
        assert!(!ready.on(&Event::InitDone));
        assert!(ready.on(&Event::Apply(node_obj("n1", "u1", "True"))));
        assert_eq!(ready.uid.as_deref(), Some("u1"));

        let mut removed = NodeReaches::new("n1", NodeGoal::Removed);
        assert!(!removed.on(&Event::InitApply(node_obj("n1", "u1", "True"))));
        assert!(!removed.on(&Event::InitDone));
        assert!(removed.on(&Event::Delete(node_obj("n1", "u1", "True"))));
        let mut already = NodeReaches::new("n1", NodeGoal::Removed);
        assert!(!already.on(&Event::Init));
        assert!(
            already.on(&Event::InitDone),
            "absent from the list: already removed"
        );

        let mut back = NodeReaches::new(
            "n1",
            NodeGoal::Present {
                old_uid: Some("u1".into()),
            },
        );
        assert!(
            !back.on(&Event::InitApply(node_obj("n1", "u1", "True"))),
            "still the old node"
        );
        assert!(!back.on(&Event::Delete(node_obj("n1", "u1", "True"))));
        assert!(back.on(&Event::Apply(node_obj("n1", "u2", "False"))));
        assert_eq!(back.uid.as_deref(), Some("u2"));
    }
}

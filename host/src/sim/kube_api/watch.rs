//! Watches: newline-delimited JSON events over a chunked response, resuming from a
//! resourceVersion out of the store's history, with synthetic ADDED events when no
//! resourceVersion is given, bookmarks for `sendInitialEvents`, and 410 Expired when the
//! requested version is older than the history. Selectors are applied to the object before and
//! after each change, so objects entering or leaving the selection arrive as ADDED or DELETED;
//! events go out as one-row Tables when the client asked for Tables.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::json;
use tokio::sync::broadcast;

use super::handlers::selectors;
use super::status::{ApiError, json_response};
use super::table::TableRequest;
use super::{KubeApi, Query, Target};
use crate::sim::resource::Res;
use crate::sim::selector::{FieldSelector, LabelSelector};
use crate::sim::store::{Event, EventType, Object};

fn line(kind: &str, obj: &[u8]) -> Bytes {
    let mut v = Vec::with_capacity(obj.len() + 32);
    v.extend_from_slice(b"{\"type\":\"");
    v.extend_from_slice(kind.as_bytes());
    v.extend_from_slice(b"\",\"object\":");
    v.extend_from_slice(obj);
    v.extend_from_slice(b"}\n");
    Bytes::from(v)
}

struct Filter {
    res: Res,
    ns: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
    /// Events go out as one-row Tables when the client asked for Tables.
    table: Option<TableRequest>,
    /// Whether an event went out yet: only the first Table carries column definitions.
    sent: AtomicBool,
}

impl Filter {
    fn matches(&self, res: Res, o: &Object) -> bool {
        res == self.res
            && self.ns.as_deref().is_none_or(|ns| *o.namespace == *ns)
            && self.labels.matches(o)
            && self.fields.matches(o)
    }

    /// The line a change makes on this watch, if any. As the real watch cache filters: an
    /// object that starts matching (a label added, a pod bound to the watched node) arrives as
    /// ADDED, one that stops matching leaves as DELETED with its last matching content at the
    /// change's resourceVersion, so a client's view of the selection stays exact.
    fn event(&self, e: &Event) -> Option<Bytes> {
        if e.res != self.res {
            return None;
        }
        let now = e.kind != EventType::Deleted && self.matches(e.res, &e.obj);
        let before = e.prev.as_ref().is_some_and(|p| self.matches(e.res, p));
        match (before, now) {
            (false, true) => Some(self.line(EventType::Added.as_str(), &e.obj)),
            (true, true) => Some(self.line(e.kind.as_str(), &e.obj)),
            // A delete already carries the last content at the delete's resourceVersion.
            (true, false) if e.kind == EventType::Deleted => {
                Some(self.line(EventType::Deleted.as_str(), &e.obj))
            }
            (true, false) => e.prev.as_ref().map(|p| {
                self.line(
                    EventType::Deleted.as_str(),
                    &p.at_resource_version(e.res, e.rv),
                )
            }),
            (false, false) => None,
        }
    }

    /// One event line with `obj` as stored or as a Table.
    fn line(&self, kind: &str, obj: &Object) -> Bytes {
        let first = !self.sent.swap(true, Ordering::Relaxed);
        match &self.table {
            Some(t) => {
                let table = t.watch_object(self.res, obj, first);
                line(kind, &serde_json::to_vec(&table).unwrap_or_default())
            }
            None => line(kind, &obj.json),
        }
    }
}

/// Serve `?watch=true`.
pub fn watch(api: &KubeApi, t: &Target, q: &Query, table: Option<TableRequest>) -> Response {
    let (labels, fields) = match selectors(t.res, q) {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let filter = Arc::new(Filter {
        res: t.res,
        ns: t.ns.clone(),
        labels,
        fields,
        table,
        sent: AtomicBool::new(false),
    });
    let timeout = q
        .get("timeoutSeconds")
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(1800)
        .min(3600);
    let rv = q
        .get("resourceVersion")
        .filter(|r| !r.is_empty() && *r != "0");
    let send_initial = q.flag("sendInitialEvents");
    let mut pending: VecDeque<Bytes> = VecDeque::new();
    let rx = match rv.map(|r| r.parse::<u64>()) {
        Some(Ok(rv)) if !send_initial => match api.store.watch_from(rv) {
            Ok((past, rx)) => {
                pending.extend(past.iter().filter_map(|e| filter.event(e)));
                Some(rx)
            }
            Err(_) => {
                let status = ApiError::new(
                    410,
                    "Expired",
                    format!("too old resource version: {rv} ({})", api.store.rv()),
                );
                pending.push_back(line(
                    "ERROR",
                    &serde_json::to_vec(&status.to_status()).unwrap_or_default(),
                ));
                None
            }
        },
        Some(Err(_)) => {
            return ApiError::bad_request("invalid resourceVersion").into_response();
        }
        _ => {
            // No resourceVersion (or sendInitialEvents): the current state as ADDED events.
            let (now, rx) = api.store.subscribe();
            let page = api
                .store
                .page(t.res, t.ns.as_deref(), None, usize::MAX, |o| {
                    filter.matches(t.res, o)
                });
            pending.extend(
                page.items
                    .iter()
                    .filter(|o| o.rv <= now)
                    .map(|o| filter.line("ADDED", o)),
            );
            if send_initial {
                let d = t.res.def();
                let bookmark = json!({"kind": d.kind, "apiVersion": t.res.api_version(),
                    "metadata": {"resourceVersion": now.to_string(),
                                 "annotations": {"k8s.io/initial-events-end": "true"}}});
                pending.push_back(line(
                    "BOOKMARK",
                    &serde_json::to_vec(&bookmark).unwrap_or_default(),
                ));
            }
            Some(rx)
        }
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
    let stream = futures::stream::unfold(
        (pending, rx, filter),
        move |(mut pending, mut rx, filter)| async move {
            loop {
                if let Some(b) = pending.pop_front() {
                    return Some((Ok::<Bytes, std::io::Error>(b), (pending, rx, filter)));
                }
                let r = rx.as_mut()?;
                match tokio::time::timeout_at(deadline, r.recv()).await {
                    Ok(Ok(ev)) => {
                        if let Some(b) = filter.event(&ev) {
                            pending.push_back(b);
                        }
                    }
                    // Lagged or closed: end the watch; the client re-lists, as after a real timeout.
                    Ok(Err(broadcast::error::RecvError::Lagged(_)))
                    | Ok(Err(broadcast::error::RecvError::Closed)) => {
                        return None;
                    }
                    Err(_) => return None,
                }
            }
        },
    );
    json_response(200, Body::from_stream(stream))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::sim::store::Store;

    /// The (type, name, resourceVersion, nodeName) of each line `filter` makes of the changes
    /// since `from`.
    fn lines(store: &Store, filter: &Filter, from: u64) -> Vec<(String, String, String, String)> {
        let (past, _rx) = store.watch_from(from).expect("history");
        past.iter()
            .filter_map(|e| filter.event(e))
            .map(|b| {
                let v: Value = serde_json::from_slice(&b).expect("json line");
                let s = |p: &str| {
                    v.pointer(p)
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_owned()
                };
                (
                    s("/type"),
                    s("/object/metadata/name"),
                    s("/object/metadata/resourceVersion"),
                    s("/object/spec/nodeName"),
                )
            })
            .collect()
    }

    #[test]
    fn objects_entering_and_leaving_a_field_selection_are_added_and_deleted() {
        let store = Store::new();
        let from = store.rv();
        let pod = json!({"metadata": {"name": "p", "namespace": "shop"}, "spec": {}});
        store.create(Res::Pods, pod, false).expect("create");
        let bind = |node: &str| {
            store
                .update_with(Res::Pods, "shop", "p", |v| {
                    v["spec"]["nodeName"] = json!(node);
                    Ok(())
                })
                .expect("bind")
                .rv
        };
        let bound = bind("n1");
        let relabelled = store
            .update_with(Res::Pods, "shop", "p", |v| {
                v["metadata"]["labels"] = json!({"x": "y"});
                Ok(())
            })
            .expect("relabel")
            .rv;
        let moved = bind("n2");
        bind("n1");
        let deleted = store
            .delete(Res::Pods, "shop", "p", None, None)
            .expect("delete")
            .rv;
        let filter = Filter {
            res: Res::Pods,
            ns: None,
            labels: LabelSelector::default(),
            fields: FieldSelector::parse("spec.nodeName=n1", &["spec.nodeName"]).expect("fields"),
            table: None,
            sent: AtomicBool::new(false),
        };
        let rv = |n: u64| n.to_string();
        let l = |t: &str, r: String, node: &str| (t.to_owned(), "p".to_owned(), r, node.to_owned());
        let got = lines(&store, &filter, from);
        assert_eq!(
            got[..3],
            [
                l("ADDED", rv(bound), "n1"),
                l("MODIFIED", rv(relabelled), "n1"),
                // Leaving: the last content that matched, at the change's resourceVersion.
                l("DELETED", rv(moved), "n1"),
            ]
        );
        assert_eq!(got[3].0, "ADDED");
        assert_eq!(got[4], l("DELETED", rv(deleted), "n1"));
        assert_eq!(got.len(), 5, "{got:?}");
        // Another resource's changes and non-matching objects say nothing.
        let nodes = Filter {
            res: Res::Nodes,
            ..filter
        };
        assert!(lines(&store, &nodes, from).is_empty());
    }
}

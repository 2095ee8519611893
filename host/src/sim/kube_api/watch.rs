//! Watches: newline-delimited JSON events over a chunked response, resuming from a
//! resourceVersion out of the store's history, with synthetic ADDED events when no
//! resourceVersion is given, bookmarks for `sendInitialEvents`, and 410 Expired when the
//! requested version is older than the history.

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
use crate::sim::store::{Event, Object};

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

    fn event(&self, e: &Event) -> Option<Bytes> {
        self.matches(e.res, &e.obj)
            .then(|| self.line(e.kind.as_str(), &e.obj))
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

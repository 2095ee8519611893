//! Server-side printing: the `meta.k8s.io` Table a client gets when its Accept header asks for
//! one (`application/json;as=Table;v=v1;g=meta.k8s.io`, what `kubectl get` sends), for a list,
//! one object, or each event of a watch.
//!
//! As on the real API server, each row carries `object` as `includeObject` asks: the object's
//! metadata as a `PartialObjectMetadata` by default (kubectl reads namespaces and labels from
//! it), the whole object for `Object` (kubectl asks for it when it sorts), nothing for `None`.
//! A watch sends the column definitions with its first event only. The columns and cells
//! themselves are `printers`' concern.

use std::sync::Arc;

use axum::http::{HeaderValue, header};
use axum::response::Response;
use jiff::Timestamp;
use serde_json::{Value, json};

use super::Query;
use super::printers;
use super::status::{ApiError, json_response};
use crate::sim::resource::Res;
use crate::sim::store::Object;

/// What a row's `object` holds (`includeObject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncludeObject {
    /// No object (`null`).
    None,
    /// A `PartialObjectMetadata` with the object's metadata (the default).
    Metadata,
    /// The whole object.
    Object,
}

/// A request for a Table: the version asked for and what rows carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableRequest {
    /// `meta.k8s.io/v1` or `meta.k8s.io/v1beta1`.
    pub api_version: &'static str,
    /// What each row's `object` holds.
    pub include: IncludeObject,
}

impl TableRequest {
    /// The Table a request asks for, if any: the first media range of `accept` the server can
    /// produce decides, as in the real server's content negotiation (kubectl lists Table v1,
    /// then Table v1beta1, then plain JSON). `includeObject` is only read when a Table is
    /// served; an unknown value is a 400.
    pub fn negotiate(accept: Option<&str>, query: &Query) -> Result<Option<Self>, ApiError> {
        let Some(api_version) = accept.and_then(table_version) else {
            return Ok(None);
        };
        let include = match query.get("includeObject") {
            None | Some("" | "Metadata") => IncludeObject::Metadata,
            Some("None") => IncludeObject::None,
            Some("Object") => IncludeObject::Object,
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "unrecognized includeObject value: {other:?}"
                )));
            }
        };
        Ok(Some(TableRequest {
            api_version,
            include,
        }))
    }

    /// The Table of a list page: `metadata` is the list's (resourceVersion, continue).
    pub fn list(&self, res: Res, metadata: Value, items: &[Arc<Object>]) -> Response {
        self.respond(&self.table(res, metadata, items.iter().map(|o| &**o), true))
    }

    /// The Table of one object.
    pub fn object(&self, res: Res, obj: &Object) -> Response {
        let metadata = json!({"resourceVersion": obj.rv.to_string()});
        self.respond(&self.table(res, metadata, [obj], true))
    }

    /// One watch event's object as a Table with one row; the column definitions go with the
    /// first event of a watch only, as the real server's watch sets `NoHeaders` after it.
    pub fn watch_object(&self, res: Res, obj: &Object, headers: bool) -> Value {
        let metadata = json!({"resourceVersion": obj.rv.to_string()});
        self.table(res, metadata, [obj], headers)
    }

    fn table<'a>(
        &self,
        res: Res,
        metadata: Value,
        items: impl IntoIterator<Item = &'a Object>,
        headers: bool,
    ) -> Value {
        let now = Timestamp::now();
        let columns: Option<Vec<Value>> =
            headers.then(|| printers::columns(res).iter().map(|c| c.to_json()).collect());
        let rows: Vec<Value> = items
            .into_iter()
            .map(|o| {
                let v = o.value();
                let printed = printers::row(res, &v, now);
                let object = match self.include {
                    IncludeObject::None => Value::Null,
                    IncludeObject::Metadata => json!({"kind": "PartialObjectMetadata",
                        "apiVersion": self.api_version, "metadata": v.get("metadata")}),
                    IncludeObject::Object => v,
                };
                let mut row = json!({"cells": printed.cells, "object": object});
                if let Some(c) = printed.conditions {
                    row["conditions"] = c;
                }
                row
            })
            .collect();
        json!({"kind": "Table", "apiVersion": self.api_version, "metadata": metadata,
               "columnDefinitions": columns, "rows": rows})
    }

    fn respond(&self, table: &Value) -> Response {
        let mut r = json_response(200, serde_json::to_vec(table).unwrap_or_default());
        let content_type = match self.api_version {
            "meta.k8s.io/v1beta1" => "application/json;as=Table;v=v1beta1;g=meta.k8s.io",
            _ => "application/json;as=Table;v=v1;g=meta.k8s.io",
        };
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        r
    }
}

/// The Table version of the first media range in `accept` that the server serves: a Table
/// (`as=Table;g=meta.k8s.io` at v1 or v1beta1) or plain JSON (`None`); ranges it cannot
/// produce (protobuf, other conversions) are skipped.
fn table_version(accept: &str) -> Option<&'static str> {
    for range in accept.split(',') {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or("").to_ascii_lowercase();
        if !matches!(media.as_str(), "application/json" | "application/*" | "*/*") {
            continue;
        }
        let (mut as_, mut g, mut v) = ("", "", "");
        for p in parts {
            match p.split_once('=') {
                Some(("as", x)) => as_ = x,
                Some(("g", x)) => g = x,
                Some(("v", x)) => v = x,
                _ => {}
            }
        }
        match (as_, g, v) {
            ("", _, _) => return None,
            ("Table", "meta.k8s.io", "v1") => return Some("meta.k8s.io/v1"),
            ("Table", "meta.k8s.io", "v1beta1") => return Some("meta.k8s.io/v1beta1"),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::store::Store;

    const KUBECTL: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

    fn query(q: &str) -> Query {
        Query::parse(Some(q))
    }

    #[test]
    fn the_first_servable_media_range_decides() {
        assert_eq!(table_version(KUBECTL), Some("meta.k8s.io/v1"));
        assert_eq!(
            table_version(
                "application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io, application/json;as=Table;v=v1beta1;g=meta.k8s.io"
            ),
            Some("meta.k8s.io/v1beta1")
        );
        assert_eq!(table_version("application/json"), None);
        assert_eq!(
            table_version("application/json, application/json;as=Table;v=v1;g=meta.k8s.io"),
            None
        );
        assert_eq!(
            table_version("application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io"),
            None
        );
    }

    #[test]
    fn include_object_is_checked_only_for_tables() {
        assert!(
            TableRequest::negotiate(Some("application/json"), &query("includeObject=Bogus"))
                .expect("plain json ignores it")
                .is_none()
        );
        let e =
            TableRequest::negotiate(Some(KUBECTL), &query("includeObject=Bogus")).expect_err("400");
        assert_eq!(e.code, 400);
        assert_eq!(e.message, r#"unrecognized includeObject value: "Bogus""#);
        let t = TableRequest::negotiate(Some(KUBECTL), &query("")).expect("ok");
        assert_eq!(t.map(|t| t.include), Some(IncludeObject::Metadata));
    }

    #[test]
    fn rows_carry_the_object_as_asked_and_watch_events_omit_headers() {
        let store = Store::new();
        let ns = store
            .create(
                Res::Namespaces,
                json!({"metadata": {"name": "shop", "labels": {"team": "a"}}, "status": {"phase": "Active"}}),
                false,
            )
            .expect("namespace");
        let table = |include| TableRequest {
            api_version: "meta.k8s.io/v1",
            include,
        };
        let meta = table(IncludeObject::Metadata).watch_object(Res::Namespaces, &ns, true);
        assert_eq!(meta["kind"], "Table");
        assert_eq!(meta["columnDefinitions"][1]["name"], "Status");
        assert_eq!(meta["rows"][0]["cells"], json!(["shop", "Active", "0s"]));
        let object = &meta["rows"][0]["object"];
        assert_eq!(object["kind"], "PartialObjectMetadata");
        assert_eq!(object["apiVersion"], "meta.k8s.io/v1");
        assert_eq!(object["metadata"]["labels"]["team"], "a");
        assert_eq!(meta["metadata"]["resourceVersion"], ns.rv.to_string());
        let whole = table(IncludeObject::Object).watch_object(Res::Namespaces, &ns, false);
        assert_eq!(whole["rows"][0]["object"]["status"]["phase"], "Active");
        assert!(whole["columnDefinitions"].is_null());
        let none = table(IncludeObject::None).watch_object(Res::Namespaces, &ns, false);
        assert!(none["rows"][0]["object"].is_null());
    }
}

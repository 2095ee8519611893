//! The body of a list response: `{"kind":..,"metadata":..,"items":[obj,obj,..]}` written from
//! the objects' stored JSON, lazily, in chunks of about [`CHUNK`] bytes.
//!
//! Why chunks of this size: a real API server writes a list through a buffered encoder, so a
//! client sees a few large HTTP chunks per page. Writing one chunk per object (a 500-pod page
//! as 1,000 chunks) makes hyper's client hand the body over frame by frame, each frame a
//! cross-thread wake-up: the tool then spent most of a page's time in futex calls, a wait no
//! real server causes. Copying the objects into chunks costs one memcpy of the page, and the
//! body is still produced as it is sent, so a 150,000-pod list never becomes one buffer.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use crate::sim::store::Object;

/// Target size of one HTTP chunk of a list body.
pub const CHUNK: usize = 64 * 1024;

/// The chunks of a list body: `head` is the list object without its closing brace (kind,
/// apiVersion, metadata), then the items array of `items`' stored JSON.
pub fn chunks(head: Vec<u8>, items: Vec<Arc<Object>>) -> ListChunks {
    ListChunks {
        head: Some(head),
        items: items.into_iter(),
        first: true,
        done: false,
    }
}

/// Iterator over the chunks of a list body (see [`chunks`]).
pub struct ListChunks {
    head: Option<Vec<u8>>,
    items: std::vec::IntoIter<Arc<Object>>,
    first: bool,
    done: bool,
}

impl Iterator for ListChunks {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        if self.done {
            return None;
        }
        let mut buf = BytesMut::with_capacity(CHUNK + 4 * 1024);
        if let Some(head) = self.head.take() {
            buf.extend_from_slice(&head);
            buf.extend_from_slice(b",\"items\":[");
        }
        while buf.len() < CHUNK {
            let Some(obj) = self.items.next() else {
                break;
            };
            if !self.first {
                buf.extend_from_slice(b",");
            }
            self.first = false;
            buf.extend_from_slice(&obj.json);
        }
        // Close the array in the chunk that took the last object, not in one of its own.
        if self.items.len() == 0 {
            buf.extend_from_slice(b"]}");
            self.done = true;
        }
        Some(buf.freeze())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::sim::resource::Res;
    use crate::sim::store::Store;

    fn objects(n: usize, padding: usize) -> Vec<Arc<Object>> {
        let store = Store::new();
        store
            .create(
                Res::Namespaces,
                json!({"metadata": {"name": "default"}}),
                false,
            )
            .expect("namespace");
        (0..n)
            .map(|i| {
                store
                    .create(
                        Res::ConfigMaps,
                        json!({"metadata": {"name": format!("cm-{i:05}"), "namespace": "default"},
                               "data": {"pad": "x".repeat(padding)}}),
                        false,
                    )
                    .expect("configmap")
            })
            .collect()
    }

    fn body(items: Vec<Arc<Object>>) -> (Vec<Bytes>, Value) {
        let head = br#"{"kind":"ConfigMapList","apiVersion":"v1","metadata":{}}"#;
        let mut head = head.to_vec();
        head.pop();
        let parts: Vec<Bytes> = chunks(head, items).collect();
        let joined: Vec<u8> = parts.iter().flat_map(|b| b.iter().copied()).collect();
        let value = serde_json::from_slice(&joined).expect("the chunks join into valid JSON");
        (parts, value)
    }

    #[test]
    fn an_empty_list_is_one_chunk_of_valid_json() {
        let (parts, value) = body(Vec::new());
        assert_eq!(parts.len(), 1);
        assert_eq!(value["items"], json!([]));
        assert_eq!(value["kind"], "ConfigMapList");
    }

    #[test]
    fn many_objects_come_in_few_large_chunks_in_order() {
        let (parts, value) = body(objects(500, 2_000));
        let items = value["items"].as_array().expect("items");
        assert_eq!(items.len(), 500);
        assert_eq!(items[0]["metadata"]["name"], "cm-00000");
        assert_eq!(items[499]["metadata"]["name"], "cm-00499");
        // About 1 MB in 64 KiB chunks: a handful, not one per object.
        assert!(parts.len() < 25, "{} chunks", parts.len());
        for part in &parts[..parts.len() - 1] {
            assert!(
                part.len() >= CHUNK,
                "a middle chunk of {} bytes",
                part.len()
            );
        }
    }

    #[test]
    fn an_object_larger_than_a_chunk_is_written_whole() {
        let (parts, value) = body(objects(3, 3 * CHUNK));
        assert_eq!(value["items"].as_array().map(Vec::len), Some(3));
        assert_eq!(parts.len(), 3);
    }
}

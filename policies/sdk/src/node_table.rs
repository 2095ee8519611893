//! Turning the host's `node-table` (the answer of `cluster.nodes`) back into node summaries.
//!
//! The table is columns of numbers plus one text because that is what crosses the Wasm boundary
//! cheaply; see `node-table` in `wit/types.wit` for the layout. Decoding allocates the same
//! strings a `list<node-summary>` would have, but with the guest's own allocator, not one
//! boundary call each.

use std::fmt;
use std::ops::Range;

use crate::{
    ExtendedResource, Label, Node, NodeSummary, NodeTable, ResourceColumns, Resources, Taint,
};

/// Bit of `node-flags`: `spec.unschedulable`.
const UNSCHEDULABLE: u8 = 1;
/// Bit of `node-flags`: the Ready condition is True.
const READY: u8 = 2;

/// A `node-table` that does not hold together (a column too short, an index or offset out of
/// range): the host broke the contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedNodeTable(String);

impl fmt::Display for MalformedNodeTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed node table from the host: {}", self.0)
    }
}

impl std::error::Error for MalformedNodeTable {}

fn malformed(what: String) -> MalformedNodeTable {
    MalformedNodeTable(what)
}

/// Decode every node of `table`, in its order.
pub fn decode_node_table(table: &NodeTable) -> Result<Vec<NodeSummary>, MalformedNodeTable> {
    let strings = Strings::new(table)?;
    let nodes = table.node_name.len();
    for (column, len) in [
        ("node-instance-id", table.node_instance_id.len()),
        ("node-internal-ip", table.node_internal_ip.len()),
        ("node-flags", table.node_flags.len()),
        ("label-ends", table.label_ends.len()),
        ("taint-ends", table.taint_ends.len()),
    ] {
        same_length(column, len, "node-name", nodes)?;
    }
    same_length(
        "label-value",
        table.label_value.len(),
        "label-key",
        table.label_key.len(),
    )?;
    same_length(
        "taint-value",
        table.taint_value.len(),
        "taint-key",
        table.taint_key.len(),
    )?;
    same_length(
        "taint-effect",
        table.taint_effect.len(),
        "taint-key",
        table.taint_key.len(),
    )?;
    let allocatable = Columns::new("allocatable", &table.allocatable, nodes)?;
    let requested = Columns::new("requested", &table.requested, nodes)?;

    let mut out = Vec::with_capacity(nodes);
    for i in 0..nodes {
        let labels = run("labels", &table.label_ends, i, table.label_key.len())?;
        let mut node_labels = Vec::with_capacity(labels.len());
        for l in labels {
            node_labels.push(Label {
                key: strings.get(table.label_key[l])?,
                value: strings.get(table.label_value[l])?,
            });
        }
        let taints = run("taints", &table.taint_ends, i, table.taint_key.len())?;
        let mut node_taints = Vec::with_capacity(taints.len());
        for t in taints {
            node_taints.push(Taint {
                key: strings.get(table.taint_key[t])?,
                value: strings.get(table.taint_value[t])?,
                effect: table.taint_effect[t],
            });
        }
        let flags = table.node_flags[i];
        out.push(NodeSummary {
            node: Node {
                name: strings.get(table.node_name[i])?,
                instance_id: strings.optional(table.node_instance_id[i])?,
                internal_ip: strings.optional(table.node_internal_ip[i])?,
                labels: node_labels,
                taints: node_taints,
                unschedulable: flags & UNSCHEDULABLE != 0,
                ready: flags & READY != 0,
                allocatable: allocatable.resources(i, &strings)?,
            },
            requested: requested.resources(i, &strings)?,
        });
    }
    Ok(out)
}

fn same_length(
    column: &str,
    len: usize,
    reference: &str,
    expected: usize,
) -> Result<(), MalformedNodeTable> {
    if len == expected {
        Ok(())
    } else {
        Err(malformed(format!(
            "column {column} has {len} entries, {reference} has {expected}"
        )))
    }
}

/// Entry `i`'s run `ends[i - 1] .. ends[i]` of a column with `len` entries.
fn run(what: &str, ends: &[u32], i: usize, len: usize) -> Result<Range<usize>, MalformedNodeTable> {
    let start = if i == 0 { 0 } else { ends[i - 1] as usize };
    let end = ends[i] as usize;
    if start <= end && end <= len {
        Ok(start..end)
    } else {
        Err(malformed(format!(
            "the {what} of row {i} are entries {start}..{end} of {len}"
        )))
    }
}

/// The table's strings by index, each checked once (a label key is used by every node).
struct Strings<'t>(Vec<&'t str>);

impl<'t> Strings<'t> {
    fn new(table: &'t NodeTable) -> Result<Self, MalformedNodeTable> {
        if table.string_ends.first() != Some(&0) {
            return Err(malformed(
                "string 0 (the empty string, \"absent\") is missing".into(),
            ));
        }
        let mut start = 0;
        let mut all = Vec::with_capacity(table.string_ends.len());
        for (s, &end) in table.string_ends.iter().enumerate() {
            let text = table
                .text
                .get(start as usize..end as usize)
                .ok_or_else(|| {
                    malformed(format!(
                        "string {s} at bytes {start}..{end} is not a string inside the {} bytes of \
                     text",
                        table.text.len()
                    ))
                })?;
            all.push(text);
            start = end;
        }
        Ok(Self(all))
    }

    fn get(&self, s: u32) -> Result<String, MalformedNodeTable> {
        self.0
            .get(s as usize)
            .map(|&text| text.to_owned())
            .ok_or_else(|| {
                malformed(format!(
                    "string {s} does not exist; the table has {}",
                    self.0.len()
                ))
            })
    }

    fn optional(&self, s: u32) -> Result<Option<String>, MalformedNodeTable> {
        if s == 0 {
            Ok(None)
        } else {
            self.get(s).map(Some)
        }
    }
}

/// One `resource-columns`, checked against the node count.
struct Columns<'t> {
    what: &'static str,
    columns: &'t ResourceColumns,
}

impl<'t> Columns<'t> {
    fn new(
        what: &'static str,
        columns: &'t ResourceColumns,
        nodes: usize,
    ) -> Result<Self, MalformedNodeTable> {
        for (column, len) in [
            ("cpu-millis", columns.cpu_millis.len()),
            ("memory-bytes", columns.memory_bytes.len()),
            ("pods", columns.pods.len()),
            (
                "ephemeral-storage-bytes",
                columns.ephemeral_storage_bytes.len(),
            ),
            ("extended-ends", columns.extended_ends.len()),
        ] {
            same_length(&format!("{what}.{column}"), len, "node-name", nodes)?;
        }
        same_length(
            &format!("{what}.extended-amount"),
            columns.extended_amount.len(),
            &format!("{what}.extended-name"),
            columns.extended_name.len(),
        )?;
        Ok(Self { what, columns })
    }

    fn resources(&self, i: usize, strings: &Strings<'_>) -> Result<Resources, MalformedNodeTable> {
        let c = self.columns;
        let run = run(self.what, &c.extended_ends, i, c.extended_name.len())?;
        let mut extended = Vec::with_capacity(run.len());
        for e in run {
            extended.push(ExtendedResource {
                name: strings.get(c.extended_name[e])?,
                amount: c.extended_amount[e],
            });
        }
        Ok(Resources {
            cpu_millis: c.cpu_millis[i],
            memory_bytes: c.memory_bytes[i],
            pods: c.pods[i],
            ephemeral_storage_bytes: c.ephemeral_storage_bytes[i],
            extended,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TaintEffect;

    fn columns(cpu: [u64; 2], extended_ends: [u32; 2], gpus: &[u64]) -> ResourceColumns {
        ResourceColumns {
            cpu_millis: cpu.to_vec(),
            memory_bytes: vec![8 << 30; 2],
            pods: vec![61; 2],
            ephemeral_storage_bytes: vec![0; 2],
            extended_ends: extended_ends.to_vec(),
            extended_name: vec![4; gpus.len()],
            extended_amount: gpus.to_vec(),
        }
    }

    fn no_columns() -> ResourceColumns {
        ResourceColumns {
            cpu_millis: Vec::new(),
            memory_bytes: Vec::new(),
            pods: Vec::new(),
            ephemeral_storage_bytes: Vec::new(),
            extended_ends: Vec::new(),
            extended_name: Vec::new(),
            extended_amount: Vec::new(),
        }
    }

    /// Two nodes sharing the label key; the second is cordoned and has a tainted GPU.
    fn table() -> NodeTable {
        // Strings: 0 "", 1 "10.0.0.1", 2 "10.0.0.2", 3 "kubernetes.io/hostname",
        // 4 "nvidia.com/gpu", 5 "ins-abcd1234", 6 "" (a present empty value).
        NodeTable {
            text: "10.0.0.110.0.0.2kubernetes.io/hostnamenvidia.com/gpuins-abcd1234".into(),
            string_ends: vec![0, 8, 16, 38, 52, 64, 64],
            node_name: vec![1, 2],
            node_instance_id: vec![0, 5],
            node_internal_ip: vec![1, 2],
            node_flags: vec![READY, UNSCHEDULABLE | READY],
            label_ends: vec![1, 2],
            label_key: vec![3, 3],
            label_value: vec![1, 2],
            taint_ends: vec![0, 1],
            taint_key: vec![4],
            taint_value: vec![6],
            taint_effect: vec![TaintEffect::NoSchedule],
            allocatable: columns([4000, 8000], [0, 1], &[2]),
            requested: columns([250, 0], [0, 0], &[]),
        }
    }

    #[test]
    fn decodes_every_field() {
        let nodes = decode_node_table(&table()).expect("well formed");
        assert_eq!(nodes.len(), 2);
        let gpu = &nodes[1].node;
        assert_eq!(gpu.name, "10.0.0.2");
        assert_eq!(gpu.instance_id.as_deref(), Some("ins-abcd1234"));
        assert_eq!(gpu.internal_ip.as_deref(), Some("10.0.0.2"));
        assert!(gpu.unschedulable && gpu.ready);
        assert_eq!(
            gpu.labels,
            [Label {
                key: "kubernetes.io/hostname".into(),
                value: "10.0.0.2".into()
            }]
        );
        assert_eq!(
            gpu.taints,
            [Taint {
                key: "nvidia.com/gpu".into(),
                value: String::new(),
                effect: TaintEffect::NoSchedule
            }]
        );
        assert_eq!(gpu.allocatable.cpu_millis, 8000);
        assert_eq!(
            gpu.allocatable.extended,
            [ExtendedResource {
                name: "nvidia.com/gpu".into(),
                amount: 2
            }]
        );
        assert_eq!(nodes[1].requested.cpu_millis, 0);
        let first = &nodes[0];
        assert_eq!(first.node.instance_id, None, "string 0 is absent");
        assert!(!first.node.unschedulable && first.node.ready);
        assert!(first.node.taints.is_empty());
        assert!(first.node.allocatable.extended.is_empty());
        assert_eq!(first.requested.cpu_millis, 250);
    }

    #[test]
    fn an_empty_table_is_no_nodes() {
        let empty = NodeTable {
            text: String::new(),
            string_ends: vec![0],
            node_name: Vec::new(),
            node_instance_id: Vec::new(),
            node_internal_ip: Vec::new(),
            node_flags: Vec::new(),
            label_ends: Vec::new(),
            label_key: Vec::new(),
            label_value: Vec::new(),
            taint_ends: Vec::new(),
            taint_key: Vec::new(),
            taint_value: Vec::new(),
            taint_effect: Vec::new(),
            allocatable: no_columns(),
            requested: no_columns(),
        };
        assert_eq!(decode_node_table(&empty), Ok(Vec::new()));
    }

    /// Each way a table can fail to hold together, and the words that name it.
    #[test]
    fn a_table_that_does_not_hold_together_is_refused_saying_where() {
        type Break = fn(&mut NodeTable);
        let cases: [(&str, Break, &str); 9] = [
            (
                "string index past the strings",
                |t| t.node_name[1] = 7,
                "string 7 does not exist; the table has 7",
            ),
            (
                "string past the text",
                |t| t.string_ends[6] = 65,
                "string 6 at bytes 64..65 is not a string inside the 64 bytes of text",
            ),
            (
                "string ends before it starts",
                |t| t.string_ends[2] = 4,
                "string 2 at bytes 8..4",
            ),
            (
                "string splitting a character",
                |t| t.text = "aé".repeat(22),
                "is not a string inside the 66 bytes of text",
            ),
            (
                "no string 0",
                |t| t.string_ends.clear(),
                "string 0 (the empty string, \"absent\") is missing",
            ),
            (
                "short node column",
                |t| {
                    t.node_flags.pop();
                },
                "column node-flags has 1 entries, node-name has 2",
            ),
            (
                "run past its column",
                |t| t.taint_ends[1] = 2,
                "the taints of row 1 are entries 0..2 of 1",
            ),
            (
                "run ending before it starts",
                |t| t.label_ends = vec![2, 1],
                "the labels of row 1 are entries 2..1 of 2",
            ),
            (
                "short resource column",
                |t| {
                    t.requested.extended_amount.push(1);
                },
                "column requested.extended-amount has 1 entries, requested.extended-name has 0",
            ),
        ];
        for (case, break_it, expected) in cases {
            let mut t = table();
            break_it(&mut t);
            let err = decode_node_table(&t).expect_err(case).to_string();
            assert!(
                err.starts_with("malformed node table from the host: ") && err.contains(expected),
                "{case}: {err}"
            );
        }
    }
}

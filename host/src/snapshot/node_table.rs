//! The `node-table` encoding of the node summaries: what `cluster.nodes` hands a guest.
//!
//! The canonical ABI pays one guest allocator call per string and per list it copies in, and one
//! store per record field, while a list of integers crosses as one copy. So the summaries go as
//! columns of numbers plus one text holding every distinct string once (see `node-table` in
//! `wit/types.wit` for the layout). The policy SDK decodes them back into `node-summary` records.

use std::collections::HashMap;

use crate::bindings::types::{Node, NodeTable, ResourceColumns, Resources};

/// Bit of `node-flags`: `spec.unschedulable`.
const UNSCHEDULABLE: u8 = 1;
/// Bit of `node-flags`: the Ready condition is True.
const READY: u8 = 2;

/// The node summaries do not fit a table whose offsets are 32-bit.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "the snapshot's nodes hold more than 4 GiB of text or 4 billion labels, taints or extended \
     resources, more than a node table can address; check the snapshot file"
)]
pub struct NodeTableTooLarge;

/// Encode nodes with their requested totals, in the order given.
pub fn encode<'a>(
    summaries: impl IntoIterator<Item = (&'a Node, &'a Resources)>,
) -> Result<NodeTable, NodeTableTooLarge> {
    let mut encoder = Encoder {
        table: NodeTable {
            text: String::new(),
            // String 0: empty, "absent" in the optional columns.
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
            allocatable: empty_columns(),
            requested: empty_columns(),
        },
        strings: HashMap::new(),
    };
    for (node, requested) in summaries {
        encoder.node(node, requested)?;
    }
    Ok(encoder.table)
}

fn empty_columns() -> ResourceColumns {
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

struct Encoder<'a> {
    table: NodeTable,
    /// The index of each distinct string already in the table: label keys, zones and instance
    /// types repeat on every node and are stored once.
    strings: HashMap<&'a str, u32>,
}

impl<'a> Encoder<'a> {
    fn node(&mut self, node: &'a Node, requested: &'a Resources) -> Result<(), NodeTableTooLarge> {
        let name = self.string(&node.name)?;
        let instance_id = self.optional(node.instance_id.as_deref())?;
        let internal_ip = self.optional(node.internal_ip.as_deref())?;
        let t = &mut self.table;
        t.node_name.push(name);
        t.node_instance_id.push(instance_id);
        t.node_internal_ip.push(internal_ip);
        t.node_flags.push(
            if node.unschedulable { UNSCHEDULABLE } else { 0 } | if node.ready { READY } else { 0 },
        );
        for label in &node.labels {
            let key = self.string(&label.key)?;
            let value = self.string(&label.value)?;
            self.table.label_key.push(key);
            self.table.label_value.push(value);
        }
        self.table
            .label_ends
            .push(index(self.table.label_key.len())?);
        for taint in &node.taints {
            let key = self.string(&taint.key)?;
            let value = self.string(&taint.value)?;
            self.table.taint_key.push(key);
            self.table.taint_value.push(value);
            self.table.taint_effect.push(taint.effect);
        }
        self.table
            .taint_ends
            .push(index(self.table.taint_key.len())?);
        let allocatable = self.extended_names(&node.allocatable)?;
        push_resources(&mut self.table.allocatable, &node.allocatable, &allocatable)?;
        let requested_names = self.extended_names(requested)?;
        push_resources(&mut self.table.requested, requested, &requested_names)
    }

    fn extended_names(&mut self, r: &'a Resources) -> Result<Vec<u32>, NodeTableTooLarge> {
        r.extended.iter().map(|e| self.string(&e.name)).collect()
    }

    fn optional(&mut self, s: Option<&'a str>) -> Result<u32, NodeTableTooLarge> {
        s.map_or(Ok(0), |s| self.string(s))
    }

    fn string(&mut self, s: &'a str) -> Result<u32, NodeTableTooLarge> {
        if let Some(&i) = self.strings.get(s) {
            return Ok(i);
        }
        let i = index(self.table.string_ends.len())?;
        self.table.text.push_str(s);
        let end = index(self.table.text.len())?;
        self.table.string_ends.push(end);
        self.strings.insert(s, i);
        Ok(i)
    }
}

fn push_resources(
    columns: &mut ResourceColumns,
    r: &Resources,
    extended_names: &[u32],
) -> Result<(), NodeTableTooLarge> {
    columns.cpu_millis.push(r.cpu_millis);
    columns.memory_bytes.push(r.memory_bytes);
    columns.pods.push(r.pods);
    columns
        .ephemeral_storage_bytes
        .push(r.ephemeral_storage_bytes);
    columns.extended_name.extend_from_slice(extended_names);
    columns
        .extended_amount
        .extend(r.extended.iter().map(|e| e.amount));
    columns
        .extended_ends
        .push(index(columns.extended_name.len())?);
    Ok(())
}

fn index(n: usize) -> Result<u32, NodeTableTooLarge> {
    u32::try_from(n).map_err(|_| NodeTableTooLarge)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::types::{ExtendedResource, Label, Taint, TaintEffect};

    fn resources(cpu: u64, gpus: u64) -> Resources {
        Resources {
            cpu_millis: cpu,
            memory_bytes: 1 << 30,
            pods: 110,
            ephemeral_storage_bytes: 0,
            extended: (gpus > 0)
                .then(|| ExtendedResource {
                    name: "nvidia.com/gpu".into(),
                    amount: gpus,
                })
                .into_iter()
                .collect(),
        }
    }

    fn node(name: &str, zone: &str) -> Node {
        Node {
            name: name.into(),
            instance_id: Some(format!("ins-{name}")),
            internal_ip: None,
            labels: vec![
                Label {
                    key: "kubernetes.io/hostname".into(),
                    value: name.into(),
                },
                Label {
                    key: "node-role.kubernetes.io/gpu".into(),
                    value: String::new(),
                },
                Label {
                    key: "topology.kubernetes.io/zone".into(),
                    value: zone.into(),
                },
            ],
            taints: vec![Taint {
                key: "nvidia.com/gpu".into(),
                value: String::new(),
                effect: TaintEffect::NoSchedule,
            }],
            unschedulable: true,
            ready: true,
            allocatable: resources(4000, 2),
        }
    }

    fn string(table: &NodeTable, s: u32) -> &str {
        let s = s as usize;
        let start = if s == 0 { 0 } else { table.string_ends[s - 1] };
        &table.text[start as usize..table.string_ends[s] as usize]
    }

    #[test]
    fn columns_hold_each_node_in_its_row_and_runs() {
        let (a, b) = (
            node("10.0.0.1", "ap-guangzhou-3"),
            node("10.0.0.2", "ap-guangzhou-4"),
        );
        let (ra, rb) = (resources(500, 1), resources(0, 0));
        let t = encode([(&a, &ra), (&b, &rb)]).expect("small");
        assert_eq!(t.node_name.len(), 2);
        assert_eq!(string(&t, t.node_name[1]), "10.0.0.2");
        assert_eq!(string(&t, t.node_instance_id[1]), "ins-10.0.0.2");
        assert_eq!(t.node_internal_ip, [0, 0], "absent is string 0");
        assert_eq!(t.node_flags, [UNSCHEDULABLE | READY; 2]);
        assert_eq!(t.label_ends, [3, 6]);
        let second: Vec<(&str, &str)> = (3..6)
            .map(|l| (string(&t, t.label_key[l]), string(&t, t.label_value[l])))
            .collect();
        assert_eq!(
            second,
            [
                ("kubernetes.io/hostname", "10.0.0.2"),
                ("node-role.kubernetes.io/gpu", ""),
                ("topology.kubernetes.io/zone", "ap-guangzhou-4"),
            ]
        );
        assert_ne!(t.label_value[4], 0, "a present empty value is not 'absent'");
        assert_eq!(t.taint_ends, [1, 2]);
        assert_eq!(t.taint_effect, [TaintEffect::NoSchedule; 2]);
        assert_eq!(t.requested.cpu_millis, [500, 0]);
        assert_eq!(t.requested.extended_ends, [1, 1], "node 2 requests no GPU");
        assert_eq!(t.requested.extended_amount, [1]);
        assert_eq!(t.allocatable.extended_ends, [1, 2]);
        assert_eq!(string(&t, t.allocatable.extended_name[1]), "nvidia.com/gpu");
    }

    #[test]
    fn repeated_strings_are_stored_once() {
        let nodes: Vec<Node> = (0..100)
            .map(|i| node(&format!("10.0.0.{i}"), "ap-guangzhou-3"))
            .collect();
        let requested = resources(0, 0);
        let t = encode(nodes.iter().map(|n| (n, &requested))).expect("small");
        assert_eq!(t.text.matches("topology.kubernetes.io/zone").count(), 1);
        assert_eq!(
            t.label_value[42 * 3],
            t.node_name[42],
            "the name and the hostname label are one string"
        );
    }
}

//! What the runbook needs from `cluster.nodes`: each node's name and its Ready / cordoned flags.
//!
//! The table is columnar (see `node-table` in `wit/types.wit`); the runbook decodes only the
//! name column, the string table and the flags, not the labels, taints and resources a policy
//! would need.

use crate::host::NodeTable;

/// Bit of `node-flags`: `spec.unschedulable`.
const UNSCHEDULABLE: u8 = 1;
/// Bit of `node-flags`: the Ready condition is True.
const READY: u8 = 2;

/// One node's name and state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeState {
    /// Node name.
    pub name: String,
    /// The Ready condition is True.
    pub ready: bool,
    /// Cordoned.
    pub unschedulable: bool,
}

/// Decode names and flags; an error names the broken column (the host broke the contract).
pub fn node_states(table: &NodeTable) -> Result<Vec<NodeState>, String> {
    if table.node_flags.len() != table.node_name.len() {
        return Err(format!(
            "malformed node table from the host: node-flags has {} entries, node-name {}",
            table.node_flags.len(),
            table.node_name.len()
        ));
    }
    table
        .node_name
        .iter()
        .zip(&table.node_flags)
        .map(|(&index, &flags)| {
            Ok(NodeState {
                name: string_at(table, index)?,
                ready: flags & READY != 0,
                unschedulable: flags & UNSCHEDULABLE != 0,
            })
        })
        .collect()
}

/// String `index` of the table: bytes `string-ends[index - 1] .. string-ends[index]`.
fn string_at(table: &NodeTable, index: u32) -> Result<String, String> {
    let malformed = |what: String| format!("malformed node table from the host: {what}");
    let i = usize::try_from(index).map_err(|_| malformed(format!("string index {index}")))?;
    let end = *table.string_ends.get(i).ok_or_else(|| {
        malformed(format!(
            "string index {index} beyond {} strings",
            table.string_ends.len()
        ))
    })?;
    let start = match i.checked_sub(1) {
        Some(previous) => table.string_ends.get(previous).copied().unwrap_or(0),
        None => 0,
    };
    let (start, end) = (start as usize, end as usize);
    table
        .text
        .get(start..end)
        .map(str::to_owned)
        .ok_or_else(|| {
            malformed(format!(
                "string {index} spans bytes {start}..{end}, outside the text or inside a character"
            ))
        })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::bindings::tke::recycle::types::ResourceColumns;

    fn columns(n: usize) -> ResourceColumns {
        ResourceColumns {
            cpu_millis: vec![0; n],
            memory_bytes: vec![0; n],
            pods: vec![0; n],
            ephemeral_storage_bytes: vec![0; n],
            extended_ends: vec![0; n],
            extended_name: vec![],
            extended_amount: vec![],
        }
    }

    fn index(n: usize) -> u32 {
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// A table of nodes with their flags, strings laid out as the host does (string 0 empty).
    pub(crate) fn table(nodes: &[(&str, u8)]) -> NodeTable {
        let mut text = String::new();
        let mut ends = vec![0u32];
        let mut name = Vec::new();
        for (n, _) in nodes {
            text.push_str(n);
            ends.push(index(text.len()));
            name.push(index(ends.len() - 1));
        }
        let count = nodes.len();
        NodeTable {
            text,
            string_ends: ends,
            node_name: name,
            node_instance_id: vec![0; count],
            node_internal_ip: vec![0; count],
            node_flags: nodes.iter().map(|(_, f)| *f).collect(),
            label_ends: vec![0; count],
            label_key: vec![],
            label_value: vec![],
            taint_ends: vec![0; count],
            taint_key: vec![],
            taint_value: vec![],
            taint_effect: vec![],
            allocatable: columns(count),
            requested: columns(count),
        }
    }

    #[test]
    fn names_and_flags_are_decoded() {
        let states = node_states(&table(&[("a", 2), ("b", 3), ("c", 0)])).expect("valid");
        let got: Vec<(&str, bool, bool)> = states
            .iter()
            .map(|s| (s.name.as_str(), s.ready, s.unschedulable))
            .collect();
        assert_eq!(
            got,
            vec![("a", true, false), ("b", true, true), ("c", false, false)]
        );
    }

    #[test]
    fn an_index_beyond_the_strings_is_an_error() {
        let mut t = table(&[("a", 2)]);
        t.node_name[0] = 9;
        let err = node_states(&t).expect_err("malformed");
        assert!(err.contains("string index 9"), "{err}");
    }

    #[test]
    fn a_short_flags_column_is_an_error() {
        let mut t = table(&[("a", 2), ("b", 2)]);
        t.node_flags.pop();
        assert!(node_states(&t).is_err());
    }
}

"""Decoding the columnar `node-table` that `cluster.nodes` answers (see wit/types.wit).

Mirrors policies/sdk/src/node_table.rs, error messages included: strings are byte ranges of the
UTF-8 `text` (string `s` is `string_ends[s-1]..string_ends[s]`, string 0 is the empty string and
means "absent" in the optional columns); node `i`'s labels, taints and extended resources are the
entries `ends[i-1]..ends[i]` of their columns.

`table` may be the binding record (`wit_world.imports.types.NodeTable`) or anything with the same
attributes (e.g. `NodeTable` below); taint effects may be binding enum members or strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, List, Sequence

from .model import ExtendedResource, Node, NodeSummary, Resources, Taint

UNSCHEDULABLE = 1
READY = 2


class MalformedNodeTable(ValueError):
    """The host sent a table that does not hold together."""

    def __init__(self, what: str):
        super().__init__(f"malformed node table from the host: {what}")


@dataclass
class ResourceColumns:
    cpu_millis: List[int] = field(default_factory=list)
    memory_bytes: List[int] = field(default_factory=list)
    pods: List[int] = field(default_factory=list)
    ephemeral_storage_bytes: List[int] = field(default_factory=list)
    extended_ends: List[int] = field(default_factory=list)
    extended_name: List[int] = field(default_factory=list)
    extended_amount: List[int] = field(default_factory=list)


@dataclass
class NodeTable:
    """A pure-Python `node-table` with the binding's attribute names (for tests)."""

    text: str = ""
    string_ends: List[int] = field(default_factory=lambda: [0])
    node_name: List[int] = field(default_factory=list)
    node_instance_id: List[int] = field(default_factory=list)
    node_internal_ip: List[int] = field(default_factory=list)
    node_flags: Sequence[int] = field(default_factory=list)
    label_ends: List[int] = field(default_factory=list)
    label_key: List[int] = field(default_factory=list)
    label_value: List[int] = field(default_factory=list)
    taint_ends: List[int] = field(default_factory=list)
    taint_key: List[int] = field(default_factory=list)
    taint_value: List[int] = field(default_factory=list)
    taint_effect: List[Any] = field(default_factory=list)
    allocatable: ResourceColumns = field(default_factory=ResourceColumns)
    requested: ResourceColumns = field(default_factory=ResourceColumns)


def enum_name(value: Any) -> str:
    """`TaintEffect.NO_SCHEDULE` (a binding enum member) -> `"NoSchedule"`; strings pass through."""
    if isinstance(value, str):
        return value
    return "".join(part.capitalize() for part in value.name.split("_"))


def _same_length(column: str, length: int, reference: str, expected: int) -> None:
    if length != expected:
        raise MalformedNodeTable(
            f"column {column} has {length} entries, {reference} has {expected}"
        )


def _run(what: str, ends: Sequence[int], i: int, length: int) -> range:
    start = 0 if i == 0 else ends[i - 1]
    end = ends[i]
    if start <= end <= length:
        return range(start, end)
    raise MalformedNodeTable(f"the {what} of row {i} are entries {start}..{end} of {length}")


class _Strings:
    def __init__(self, table: Any):
        ends = list(table.string_ends)
        if not ends or ends[0] != 0:
            raise MalformedNodeTable('string 0 (the empty string, "absent") is missing')
        raw = table.text.encode("utf-8")
        self.all: List[str] = []
        start = 0
        for s, end in enumerate(ends):
            text = None
            if start <= end <= len(raw):
                try:
                    text = raw[start:end].decode("utf-8")
                except UnicodeDecodeError:
                    text = None
            if text is None:
                raise MalformedNodeTable(
                    f"string {s} at bytes {start}..{end} is not a string inside the "
                    f"{len(raw)} bytes of text"
                )
            self.all.append(text)
            start = end

    def get(self, s: int) -> str:
        if 0 <= s < len(self.all):
            return self.all[s]
        raise MalformedNodeTable(f"string {s} does not exist; the table has {len(self.all)}")

    def optional(self, s: int):
        return None if s == 0 else self.get(s)


def _check_columns(what: str, c: Any, nodes: int) -> None:
    for column in ("cpu_millis", "memory_bytes", "pods", "ephemeral_storage_bytes", "extended_ends"):
        _same_length(f"{what}.{column.replace('_', '-')}", len(getattr(c, column)), "node-name", nodes)
    _same_length(
        f"{what}.extended-amount",
        len(c.extended_amount),
        f"{what}.extended-name",
        len(c.extended_name),
    )


def _resources(what: str, c: Any, i: int, strings: _Strings) -> Resources:
    extended = [
        ExtendedResource(name=strings.get(c.extended_name[e]), amount=c.extended_amount[e])
        for e in _run(what, c.extended_ends, i, len(c.extended_name))
    ]
    return Resources(
        cpu_millis=c.cpu_millis[i],
        memory_bytes=c.memory_bytes[i],
        pods=c.pods[i],
        ephemeral_storage_bytes=c.ephemeral_storage_bytes[i],
        extended=extended,
    )


def decode_node_table(table: Any) -> List[NodeSummary]:
    """Every node summary of the table, in table order (sorted by name)."""
    strings = _Strings(table)
    nodes = len(table.node_name)
    for column, attr in (
        ("node-instance-id", "node_instance_id"),
        ("node-internal-ip", "node_internal_ip"),
        ("node-flags", "node_flags"),
        ("label-ends", "label_ends"),
        ("taint-ends", "taint_ends"),
    ):
        _same_length(column, len(getattr(table, attr)), "node-name", nodes)
    _same_length("label-value", len(table.label_value), "label-key", len(table.label_key))
    _same_length("taint-value", len(table.taint_value), "taint-key", len(table.taint_key))
    _same_length("taint-effect", len(table.taint_effect), "taint-key", len(table.taint_key))
    _check_columns("allocatable", table.allocatable, nodes)
    _check_columns("requested", table.requested, nodes)

    out: List[NodeSummary] = []
    for i in range(nodes):
        labels = {}
        for entry in _run("labels", table.label_ends, i, len(table.label_key)):
            key = strings.get(table.label_key[entry])
            value = strings.get(table.label_value[entry])
            labels.setdefault(key, value)
        taints = [
            Taint(
                key=strings.get(table.taint_key[t]),
                value=strings.get(table.taint_value[t]),
                effect=enum_name(table.taint_effect[t]),
            )
            for t in _run("taints", table.taint_ends, i, len(table.taint_key))
        ]
        flags = table.node_flags[i]
        out.append(
            NodeSummary(
                node=Node(
                    name=strings.get(table.node_name[i]),
                    instance_id=strings.optional(table.node_instance_id[i]),
                    internal_ip=strings.optional(table.node_internal_ip[i]),
                    labels=labels,
                    taints=taints,
                    unschedulable=bool(flags & UNSCHEDULABLE),
                    ready=bool(flags & READY),
                    allocatable=_resources("allocatable", table.allocatable, i, strings),
                ),
                requested=_resources("requested", table.requested, i, strings),
            )
        )
    return out


def encode_node_table(summaries: Sequence[NodeSummary]) -> NodeTable:
    """The inverse of `decode_node_table` (what the host does), for tests and `FakeCluster`."""
    index = {"": 0}
    text: List[str] = []
    ends = [0]

    def s(value: str) -> int:
        if value not in index:
            index[value] = len(ends)
            text.append(value)
            ends.append(ends[-1] + len(value.encode("utf-8")))
        return index[value]

    def optional(value):
        return 0 if value is None else s(value)

    t = NodeTable()
    for summary in summaries:
        n = summary.node
        t.node_name.append(s(n.name))
        t.node_instance_id.append(optional(n.instance_id))
        t.node_internal_ip.append(optional(n.internal_ip))
        t.node_flags.append((UNSCHEDULABLE if n.unschedulable else 0) | (READY if n.ready else 0))
        for key, value in n.labels.items():
            t.label_key.append(s(key))
            t.label_value.append(s(value))
        t.label_ends.append(len(t.label_key))
        for taint in n.taints:
            t.taint_key.append(s(taint.key))
            t.taint_value.append(s(taint.value))
            t.taint_effect.append(taint.effect)
        t.taint_ends.append(len(t.taint_key))
        for columns, res in ((t.allocatable, n.allocatable), (t.requested, summary.requested)):
            columns.cpu_millis.append(res.cpu_millis)
            columns.memory_bytes.append(res.memory_bytes)
            columns.pods.append(res.pods)
            columns.ephemeral_storage_bytes.append(res.ephemeral_storage_bytes)
            for ext in sorted(res.extended, key=lambda e: e.name):
                columns.extended_name.append(s(ext.name))
                columns.extended_amount.append(ext.amount)
            columns.extended_ends.append(len(columns.extended_name))
    t.text = "".join(text)
    t.string_ends = ends
    return t

"""Inside the component only: the `cluster` imports as `model` records, findings back as WIT.

Import this module from the component's `app.py`, never from pure logic: it imports the
componentize-py bindings (`wit_world`), which plain pytest does not have. The import is at module
level on purpose: componentize-py snapshots the modules `app.py` imports at build time, and a
binding module first imported inside `check` is not found at run time.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Dict, Iterable, List, Optional

from wit_world.imports import cluster as _cluster
from wit_world.imports import types as _wit_types

from . import model
from .node_table import decode_node_table, enum_name

_LABEL_FIELDS = ("labels", "node_selector", "match_labels")
_WORKLOAD_KIND_CASES = {
    "Deployment": "WorkloadKind_Deployment",
    "ReplicaSet": "WorkloadKind_ReplicaSet",
    "StatefulSet": "WorkloadKind_StatefulSet",
    "DaemonSet": "WorkloadKind_DaemonSet",
    "Job": "WorkloadKind_Job",
}


def from_wit(value: Any) -> Any:
    """A binding value (record, variant, enum, list, option) -> the `model` equivalent."""
    if value is None or isinstance(value, (str, int, float, bool, bytes)):
        return value
    if isinstance(value, list):
        return [from_wit(v) for v in value]
    if isinstance(value, Enum):
        return enum_name(value)
    name = type(value).__name__
    if "_" in name:  # a variant case: `WorkloadKind_Other`, `VolumeSource_HostPath`, ...
        base, case = name.split("_", 1)
        if base == "WorkloadKind":
            return value.value if case == "Other" else case
        if base == "VolumeSource":
            return model.VolumeSource(case, from_wit(value.value))
        if base == "IntOrPercent":
            return model.IntOrPercent(case, value.value)
        raise TypeError(f"no model for the variant case {name}")
    cls = getattr(model, name)
    fields = {}
    for field_name, field_value in vars(value).items():
        if field_name in _LABEL_FIELDS:
            labels = {}
            for label in field_value:
                labels.setdefault(label.key, label.value)
            fields[field_name] = labels
        else:
            fields[field_name] = from_wit(field_value)
    return cls(**fields)


def _types():
    return _wit_types


def _pascal_to_enum(enum_cls, name: str):
    upper = "".join("_" + c if c.isupper() and i else c for i, c in enumerate(name)).upper()
    return enum_cls[upper]


def selector_to_wit(selector: model.LabelSelector):
    t = _types()
    return t.LabelSelector(
        match_labels=[t.Label(k, v) for k, v in selector.match_labels.items()],
        match_expressions=[
            t.SelectorRequirement(r.key, _pascal_to_enum(t.SelectorOperator, r.operator), list(r.values))
            for r in selector.match_expressions
        ],
    )


def object_ref_to_wit(ref: model.ObjectRef):
    return _types().ObjectRef(kind=ref.kind, namespace=ref.namespace, name=ref.name)


def workload_kind_to_wit(kind: str):
    t = _types()
    case = _WORKLOAD_KIND_CASES.get(kind)
    return getattr(t, case)() if case else t.WorkloadKind_Other(kind)


def finding_to_wit(f: model.Finding):
    t = _types()
    return t.Finding(
        policy=f.policy,
        code=f.code,
        severity=t.Severity[f.severity.upper()],
        message=f.message,
        subject=object_ref_to_wit(f.subject),
        remedy=f.remedy,
    )


def findings_to_wit(findings: Iterable[model.Finding]) -> list:
    return [finding_to_wit(f) for f in findings]


def request_from_wit(request: Any) -> model.CheckRequest:
    return model.CheckRequest(
        targets=list(request.targets),
        phase=enum_name(request.phase).lower(),
        settings=request.settings,
        now=request.now,
        affected=[from_wit(r) for r in request.affected],
    )


class HostCluster:
    """The host's `cluster` imports with `FakeCluster`'s methods, answering `model` records."""

    def __init__(self):
        self._c = _cluster

    def info(self) -> model.SnapshotInfo:
        return from_wit(self._c.info())

    def nodes(self) -> List[model.NodeSummary]:
        return decode_node_table(self._c.nodes())

    def node_table(self):
        return self._c.nodes()

    def node(self, name: str) -> Optional[model.NodeSummary]:
        return from_wit(self._c.node(name))

    def pods_on_node(self, node: str) -> List[model.Pod]:
        return from_wit(self._c.pods_on_node(node))

    def pods_matching(self, namespace: str, selector: model.LabelSelector) -> List[model.Pod]:
        return from_wit(self._c.pods_matching(namespace, selector_to_wit(selector)))

    def nodes_with_pods_matching(self, namespaces, selector: model.LabelSelector) -> List[str]:
        return list(self._c.nodes_with_pods_matching(list(namespaces), selector_to_wit(selector)))

    def pods_with_anti_affinity_matching(self, namespace: str, labels: Dict[str, str]) -> List[model.Pod]:
        t = _types()
        return from_wit(
            self._c.pods_with_anti_affinity_matching(namespace, [t.Label(k, v) for k, v in labels.items()])
        )

    def pdbs_covering(self, pods) -> List[model.CoveringPdb]:
        return from_wit(self._c.pdbs_covering([object_ref_to_wit(p) for p in pods]))

    def find_workload(self, namespace: str, kind: str, name: str) -> Optional[model.Workload]:
        return from_wit(self._c.find_workload(namespace, workload_kind_to_wit(kind), name))

    workload = find_workload

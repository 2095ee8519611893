"""An in-memory cluster for native tests, answering like the host (policies/sdk/src/cluster.rs).

Built from a snapshot file (`host/snapshots/*.json`: the WIT records as JSON, enums and variants
spelled the serde way: `"Running"`, `{"Count": 2}`, `{"HostPath": "/proc"}`, `{"Other": "Rollout"}`)
or from lists of `model` records.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

from .model import (
    Claim,
    CoveringPdb,
    EmptyDir,
    ExtendedResource,
    IntOrPercent,
    LabelSelector,
    Node,
    NodeSelectorTerm,
    NodeSummary,
    ObjectRef,
    Pdb,
    Pod,
    PodAffinityTerm,
    Resources,
    SelectorRequirement,
    SnapshotInfo,
    Taint,
    Toleration,
    TopologySpreadConstraint,
    Volume,
    VolumeSource,
    Workload,
    WorkloadRef,
)
from .node_table import encode_node_table
from .quantity import add_resources
from .selectors import pod_is_finished, selector_matches

SNAPSHOT_KEYS = ("cluster_id", "taken_at", "nodes", "pods", "pdbs", "workloads")


def _labels(items: Optional[List[Dict[str, str]]]) -> Dict[str, str]:
    out: Dict[str, str] = {}
    for item in items or []:
        out.setdefault(item["key"], item["value"])
    return out


def _variant(value: Any):
    """serde's external tagging: `"Case"` or `{"Case": payload}` -> (case, payload)."""
    if isinstance(value, str):
        return value, None
    (case, payload), = value.items()
    return case, payload


def _resources(d: Optional[Dict[str, Any]]) -> Resources:
    d = d or {}
    return Resources(
        cpu_millis=d.get("cpu_millis", 0),
        memory_bytes=d.get("memory_bytes", 0),
        pods=d.get("pods", 0),
        ephemeral_storage_bytes=d.get("ephemeral_storage_bytes", 0),
        extended=[ExtendedResource(e["name"], e["amount"]) for e in d.get("extended", [])],
    )


def _requirements(items) -> List[SelectorRequirement]:
    return [SelectorRequirement(r["key"], r["operator"], list(r.get("values", []))) for r in items or []]


def _selector(d: Optional[Dict[str, Any]]) -> LabelSelector:
    d = d or {}
    return LabelSelector(_labels(d.get("match_labels")), _requirements(d.get("match_expressions")))


def workload_kind(value: Any) -> str:
    case, payload = _variant(value)
    return payload if case == "Other" else case


def _volume(d: Dict[str, Any]) -> Volume:
    case, payload = _variant(d["source"])
    if case == "EmptyDir":
        payload = EmptyDir(payload.get("in_memory", False), payload.get("size_limit_bytes"))
    elif case == "PersistentVolumeClaim":
        payload = Claim(payload["name"], payload.get("storage_class"), payload.get("pinned_node"))
    return Volume(d["name"], VolumeSource(case, payload))


def pod_from_json(d: Dict[str, Any]) -> Pod:
    owner = d.get("owner")
    return Pod(
        namespace=d["namespace"],
        name=d["name"],
        uid=d.get("uid", ""),
        node_name=d.get("node_name"),
        phase=d.get("phase", "Running"),
        ready=d.get("ready", True),
        terminating=d.get("terminating", False),
        labels=_labels(d.get("labels")),
        owner=WorkloadRef(workload_kind(owner["kind"]), owner["name"]) if owner else None,
        mirror=d.get("mirror", False),
        priority=d.get("priority", 0),
        preempts=d.get("preempts"),
        requests=_resources(d.get("requests")),
        node_selector=_labels(d.get("node_selector")),
        required_node_affinity=[
            NodeSelectorTerm(_requirements(t.get("match_expressions")), _requirements(t.get("match_fields")))
            for t in d.get("required_node_affinity", [])
        ],
        tolerations=[
            Toleration(t.get("key"), t["operator"], t.get("value"), t.get("effect"))
            for t in d.get("tolerations", [])
        ],
        required_anti_affinity=[
            PodAffinityTerm(_selector(t["selector"]), list(t.get("namespaces", [])), t["topology_key"])
            for t in d.get("required_anti_affinity", [])
        ],
        required_affinity=[
            PodAffinityTerm(_selector(t["selector"]), list(t.get("namespaces", [])), t["topology_key"])
            for t in d.get("required_affinity") or []
        ],
        topology_spread=[
            TopologySpreadConstraint(
                t["max_skew"],
                t["topology_key"],
                t["when_unsatisfiable"],
                _selector(t["selector"]),
                t.get("min_domains"),
                t.get("node_affinity_policy", "Honor"),
                t.get("node_taints_policy", "Ignore"),
            )
            for t in d.get("topology_spread") or []
        ],
        volumes=[_volume(v) for v in d.get("volumes", [])],
        termination_grace_seconds=d.get("termination_grace_seconds", 30),
    )


def node_from_json(d: Dict[str, Any]) -> Node:
    return Node(
        name=d["name"],
        instance_id=d.get("instance_id"),
        internal_ip=d.get("internal_ip"),
        labels=_labels(d.get("labels")),
        taints=[Taint(t["key"], t.get("value", ""), t["effect"]) for t in d.get("taints", [])],
        unschedulable=d.get("unschedulable", False),
        ready=d.get("ready", True),
        allocatable=_resources(d.get("allocatable")),
    )


def _int_or_percent(value) -> Optional[IntOrPercent]:
    if value is None:
        return None
    case, payload = _variant(value)
    return IntOrPercent(case, payload)


def pdb_from_json(d: Dict[str, Any]) -> Pdb:
    return Pdb(
        namespace=d["namespace"],
        name=d["name"],
        selector=_selector(d.get("selector")),
        min_available=_int_or_percent(d.get("min_available")),
        max_unavailable=_int_or_percent(d.get("max_unavailable")),
        disruptions_allowed=d.get("disruptions_allowed", 0),
        current_healthy=d.get("current_healthy", 0),
        desired_healthy=d.get("desired_healthy", 0),
        expected_pods=d.get("expected_pods", 0),
        unhealthy_pod_eviction_policy=d.get("unhealthy_pod_eviction_policy", "IfHealthyBudget"),
    )


def workload_from_json(d: Dict[str, Any]) -> Workload:
    return Workload(
        namespace=d["namespace"],
        kind=workload_kind(d["kind"]),
        name=d["name"],
        replicas=d.get("replicas", 0),
        ready_replicas=d.get("ready_replicas", 0),
        selector=_selector(d.get("selector")),
    )


class FakeCluster:
    """The `cluster` interface of wit/cluster.wit over in-memory records.

    Method names are the WIT names in snake_case; `nodes()` answers decoded summaries (what the
    SDK's `HostCluster.nodes()` answers after decoding the table), `node_table()` the table."""

    def __init__(
        self,
        nodes: Sequence[Node] = (),
        pods: Sequence[Pod] = (),
        pdbs: Sequence[Pdb] = (),
        workloads: Sequence[Workload] = (),
        cluster_id: Optional[str] = None,
        taken_at: int = 0,
    ):
        self._nodes = list(nodes)
        self._pods = list(pods)
        self._pdbs = list(pdbs)
        self._workloads = list(workloads)
        self._cluster_id = cluster_id
        self._taken_at = taken_at

    @classmethod
    def from_snapshot(cls, snapshot: Union[str, Path, Dict[str, Any]]) -> "FakeCluster":
        """From a snapshot file path, or its parsed JSON. Unknown keys are refused, like the host."""
        data = snapshot if isinstance(snapshot, dict) else json.loads(Path(snapshot).read_text())
        unknown = sorted(set(data) - set(SNAPSHOT_KEYS))
        if unknown:
            raise ValueError(f"unknown snapshot keys {unknown}; expected {list(SNAPSHOT_KEYS)}")
        return cls(
            nodes=[node_from_json(n) for n in data.get("nodes", [])],
            pods=[pod_from_json(p) for p in data.get("pods", [])],
            pdbs=[pdb_from_json(p) for p in data.get("pdbs", [])],
            workloads=[workload_from_json(w) for w in data.get("workloads", [])],
            cluster_id=data.get("cluster_id"),
            taken_at=data.get("taken_at", 0),
        )

    def _summary(self, node: Node) -> NodeSummary:
        requested = Resources()
        for pod in self._pods:
            if pod.node_name == node.name and not pod_is_finished(pod):
                add_resources(requested, pod.requests)
                requested.pods += 1
        return NodeSummary(node=node, requested=requested)

    def info(self) -> SnapshotInfo:
        return SnapshotInfo(self._cluster_id, self._taken_at, len(self._nodes), len(self._pods))

    def nodes(self) -> List[NodeSummary]:
        return sorted((self._summary(n) for n in self._nodes), key=lambda s: s.node.name)

    def node_table(self):
        return encode_node_table(self.nodes())

    def node(self, name: str) -> Optional[NodeSummary]:
        return next((self._summary(n) for n in self._nodes if n.name == name), None)

    def pods_on_node(self, node: str) -> List[Pod]:
        """Finished pods included."""
        return [p for p in self._pods if p.node_name == node]

    def pods_matching(self, namespace: str, selector: LabelSelector) -> List[Pod]:
        return [p for p in self._pods if p.namespace == namespace and selector_matches(selector, p.labels)]

    def pods_with_anti_affinity_matching(self, namespace: str, labels: Dict[str, str]) -> List[Pod]:
        """Bound, unfinished pods with a required anti-affinity term selecting a pod of `namespace`
        with `labels` (a term without namespaces selects in its own pod's namespace)."""

        def selects(holder: Pod, term) -> bool:
            in_scope = namespace in term.namespaces if term.namespaces else holder.namespace == namespace
            return in_scope and selector_matches(term.selector, labels)

        return [
            p
            for p in self._pods
            if p.node_name is not None
            and not pod_is_finished(p)
            and any(selects(p, t) for t in p.required_anti_affinity)
        ]

    def nodes_with_pods_matching(self, namespaces: Iterable[str], selector: LabelSelector) -> List[str]:
        namespaces = list(namespaces)
        return sorted(
            {
                p.node_name
                for p in self._pods
                if p.namespace in namespaces
                and not pod_is_finished(p)
                and selector_matches(selector, p.labels)
                and p.node_name is not None
            }
        )

    def pdbs_covering(self, pods: Sequence[ObjectRef]) -> List[CoveringPdb]:
        index = {(p.namespace, p.name): p for p in self._pods}
        asked = [index[(r.namespace, r.name)] for r in pods if r.namespace is not None and (r.namespace, r.name) in index]
        out = []
        for pdb in self._pdbs:
            covered = [
                p.name for p in asked if p.namespace == pdb.namespace and selector_matches(pdb.selector, p.labels)
            ]
            if covered:
                out.append(CoveringPdb(pdb=pdb, pods=covered))
        return out

    def find_workload(self, namespace: str, kind: str, name: str) -> Optional[Workload]:
        return next(
            (w for w in self._workloads if w.namespace == namespace and w.kind == kind and w.name == name),
            None,
        )

    workload = find_workload

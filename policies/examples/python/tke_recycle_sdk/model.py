"""Plain Python records mirroring the WIT types (wit/types.wit) that policies read.

Field names are the WIT names in snake_case (as in the snapshot JSON). Differences, for
ergonomics:

- label lists (`labels`, `node_selector`, `match_labels`) are dicts, key -> value (the first
  value wins should a key repeat, as the Rust SDK's lookup does);
- enums are strings spelled as in the snapshot JSON: pod phase `"Running"`, taint effect
  `"NoSchedule"`, selector operator `"NotIn"`, ...; severities are `"info"`, `"warn"`, `"deny"`;
- a workload kind is a string: `"Deployment"`, `"ReplicaSet"`, `"StatefulSet"`, `"DaemonSet"`,
  `"Job"`, or for `other(k)` the kind `k` itself (e.g. `"Rollout"`; a CronJob's pods, whose Job
  the host resolves to the CronJob, say `"CronJob"`);
- the variants `volume-source` and `int-or-percent` are `VolumeSource(kind, value)` and
  `IntOrPercent(kind, value)` with `kind` the case name (`"HostPath"`, `"Count"`, ...).

Nothing here imports the componentize-py bindings: the same records come from `FakeCluster`
under pytest and from `wit_adapter.HostCluster` inside the component.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

KNOWN_WORKLOAD_KINDS = ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job")
FINISHED_PHASES = ("Succeeded", "Failed")
SEVERITIES = ("info", "warn", "deny")


@dataclass
class ExtendedResource:
    name: str
    amount: int


@dataclass
class Resources:
    cpu_millis: int = 0
    memory_bytes: int = 0
    pods: int = 0
    ephemeral_storage_bytes: int = 0
    extended: List[ExtendedResource] = field(default_factory=list)


@dataclass
class Taint:
    key: str
    value: str
    effect: str


@dataclass
class Toleration:
    key: Optional[str]
    operator: str
    value: Optional[str]
    effect: Optional[str]


@dataclass
class SelectorRequirement:
    key: str
    operator: str
    values: List[str] = field(default_factory=list)


@dataclass
class LabelSelector:
    match_labels: Dict[str, str] = field(default_factory=dict)
    match_expressions: List[SelectorRequirement] = field(default_factory=list)


@dataclass
class NodeSelectorTerm:
    match_expressions: List[SelectorRequirement] = field(default_factory=list)
    match_fields: List[SelectorRequirement] = field(default_factory=list)


@dataclass
class PodAffinityTerm:
    selector: LabelSelector
    namespaces: List[str]
    topology_key: str


@dataclass
class TopologySpreadConstraint:
    max_skew: int
    topology_key: str
    when_unsatisfiable: str  # "DoNotSchedule" | "ScheduleAnyway"
    selector: LabelSelector
    min_domains: Optional[int] = None
    node_affinity_policy: str = "Honor"  # "Honor" | "Ignore"
    node_taints_policy: str = "Ignore"


@dataclass
class Claim:
    name: str
    storage_class: Optional[str]
    pinned_node: Optional[str]


@dataclass
class EmptyDir:
    in_memory: bool
    size_limit_bytes: Optional[int]


@dataclass
class VolumeSource:
    kind: str  # "HostPath" | "EmptyDir" | "PersistentVolumeClaim"
    value: Any  # str | EmptyDir | Claim


@dataclass
class Volume:
    name: str
    source: VolumeSource


@dataclass
class WorkloadRef:
    kind: str
    name: str


@dataclass
class Pod:
    namespace: str
    name: str
    uid: str = ""
    node_name: Optional[str] = None
    phase: str = "Running"
    ready: bool = True
    terminating: bool = False
    labels: Dict[str, str] = field(default_factory=dict)
    owner: Optional[WorkloadRef] = None
    mirror: bool = False
    priority: int = 0
    # False for `preemptionPolicy: Never`; None (older snapshot files) means the default, true.
    preempts: Optional[bool] = None
    requests: Resources = field(default_factory=Resources)
    node_selector: Dict[str, str] = field(default_factory=dict)
    required_node_affinity: List[NodeSelectorTerm] = field(default_factory=list)
    tolerations: List[Toleration] = field(default_factory=list)
    required_anti_affinity: List[PodAffinityTerm] = field(default_factory=list)
    # Optional in the contract (absent from older snapshot files); always a list here.
    required_affinity: List[PodAffinityTerm] = field(default_factory=list)
    topology_spread: List[TopologySpreadConstraint] = field(default_factory=list)
    volumes: List[Volume] = field(default_factory=list)
    termination_grace_seconds: int = 30

    def __post_init__(self):
        if self.required_affinity is None:
            self.required_affinity = []
        if self.topology_spread is None:
            self.topology_spread = []


@dataclass
class Node:
    name: str
    instance_id: Optional[str] = None
    internal_ip: Optional[str] = None
    labels: Dict[str, str] = field(default_factory=dict)
    taints: List[Taint] = field(default_factory=list)
    unschedulable: bool = False
    ready: bool = True
    allocatable: Resources = field(default_factory=Resources)

    @property
    def cordoned(self) -> bool:
        """`spec.unschedulable`."""
        return self.unschedulable


@dataclass
class NodeSummary:
    node: Node
    requested: Resources


@dataclass
class IntOrPercent:
    kind: str  # "Count" | "Percent"
    value: int


@dataclass
class Pdb:
    namespace: str
    name: str
    selector: LabelSelector
    min_available: Optional[IntOrPercent] = None
    max_unavailable: Optional[IntOrPercent] = None
    disruptions_allowed: int = 0
    current_healthy: int = 0
    desired_healthy: int = 0
    expected_pods: int = 0
    unhealthy_pod_eviction_policy: str = "IfHealthyBudget"


@dataclass
class CoveringPdb:
    pdb: Pdb
    pods: List[str]


@dataclass
class Workload:
    namespace: str
    kind: str
    name: str
    replicas: int
    ready_replicas: int
    selector: LabelSelector


@dataclass
class SnapshotInfo:
    cluster_id: Optional[str]
    taken_at: int
    node_count: int
    pod_count: int


@dataclass
class ObjectRef:
    kind: str
    namespace: Optional[str]
    name: str


@dataclass
class Finding:
    code: str
    severity: str
    message: str
    subject: ObjectRef
    remedy: Optional[str] = None
    policy: str = ""


@dataclass
class CheckRequest:
    targets: List[str]
    phase: str = "pre"
    settings: str = "{}"
    now: int = 0
    affected: List[ObjectRef] = field(default_factory=list)

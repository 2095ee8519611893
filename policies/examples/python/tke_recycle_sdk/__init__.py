"""tke-recycle policy SDK for Python policies (componentize-py), mirroring policies/sdk.

Pure Python: importing this package never imports the componentize-py bindings, so policy logic
and its tests run under plain pytest. Only `tke_recycle_sdk.wit_adapter` (imported by a
component's `app.py`) talks to the host.
"""

from .fake_cluster import FakeCluster
from .findings import finding, node_ref, object_ref, pod_ref, unknown_node
from .model import (
    CheckRequest,
    CoveringPdb,
    Finding,
    LabelSelector,
    Node,
    NodeSummary,
    ObjectRef,
    Pdb,
    Pod,
    Resources,
    SelectorRequirement,
    Workload,
    WorkloadRef,
)
from .node_table import MalformedNodeTable, NodeTable, ResourceColumns, decode_node_table, encode_node_table
from .quantity import QuantityError, format_bytes, format_cpu, parse_millis, parse_quantity, parse_units
from .selectors import evicted_by_drain, pod_is_finished, requirement_matches, selector_matches
from .settings import SettingsError, parse_settings_object

__all__ = [name for name in dir() if not name.startswith("_")]

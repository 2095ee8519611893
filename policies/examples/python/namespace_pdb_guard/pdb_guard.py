"""namespace-pdb-guard: pods of listed namespaces on the target nodes must be covered by a PDB.

Pure logic: a function of the request fields and a cluster object (`tke_recycle_sdk.FakeCluster`
in tests, `tke_recycle_sdk.wit_adapter.HostCluster` in the component).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, List, Sequence

from tke_recycle_sdk import evicted_by_drain, finding, object_ref, pod_ref, unknown_node
from tke_recycle_sdk.model import Finding, Pod
from tke_recycle_sdk.settings import SettingsError, parse_settings_object, reject_unknown_fields, show

NAME = "namespace-pdb-guard"
VERSION = "0.1.0"
DESCRIPTION = "pods of the listed namespaces on the target nodes must be covered by a PodDisruptionBudget"

UNCOVERED = "namespace-pdb-guard.uncovered"
UNKNOWN_NODE = "namespace-pdb-guard.unknown-node"
CODES = (UNCOVERED, UNKNOWN_NODE)

EXAMPLE = '{"namespaces": ["shop"], "severity": "deny"}'
FIELDS = ("namespaces", "severity")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@dataclass(frozen=True)
class Settings:
    namespaces: tuple
    severity: str = "deny"


def parse_settings(text: str) -> Settings:
    """`{"namespaces": [...], "severity": "deny" | "warn"}`; raises `SettingsError`."""
    obj = parse_settings_object(text, EXAMPLE)
    reject_unknown_fields(obj, FIELDS, EXAMPLE)
    if "namespaces" not in obj:
        raise SettingsError(
            'namespaces: missing; list the namespaces whose pods must be covered by a '
            'PodDisruptionBudget, e.g. {"namespaces": ["shop"]}'
        )
    namespaces = obj["namespaces"]
    if not isinstance(namespaces, list):
        raise SettingsError(
            f'namespaces: {show(namespaces)} is not a list of namespace names; '
            f'write a JSON list, e.g. ["shop"]'
        )
    if not namespaces:
        raise SettingsError(
            'namespaces: [] is empty, so nothing would be checked; '
            'list at least one namespace, e.g. ["shop"]'
        )
    for ns in namespaces:
        if not isinstance(ns, str) or len(ns) > 63 or not _DNS_LABEL.match(ns):
            raise SettingsError(
                f"namespaces: {show(ns)} is not a namespace name; write lowercase letters, "
                f'digits and "-" (at most 63), as a string, e.g. ["shop"]'
            )
    severity = obj.get("severity", "deny")
    if severity not in ("deny", "warn"):
        raise SettingsError(
            f'severity: {show(severity)} is not a severity this policy emits; '
            f'write "deny" (stops the recycle) or "warn" (reported only), e.g. "warn"'
        )
    return Settings(namespaces=tuple(dict.fromkeys(namespaces)), severity=severity)


def needs_budget(pod: Pod, namespaces: Sequence[str]) -> bool:
    """A pod the drain evicts (not mirror, DaemonSet or finished), in a listed namespace."""
    return pod.namespace in namespaces and evicted_by_drain(pod)


def _suggested_selector(pod: Pod) -> str:
    if "app" in pod.labels:
        return f"app={pod.labels['app']}"
    if "app.kubernetes.io/name" in pod.labels:
        return f"app.kubernetes.io/name={pod.labels['app.kubernetes.io/name']}"
    if pod.labels:
        return ",".join(f"{k}={v}" for k, v in sorted(pod.labels.items()))
    return ""


def uncovered(pod: Pod, node: str, severity: str) -> Finding:
    owner = f"{pod.owner.kind} {pod.owner.name}" if pod.owner else "no controller"
    selector = _suggested_selector(pod)
    budget = pod.owner.name if pod.owner else pod.name
    if selector:
        remedy = (
            f"add a PodDisruptionBudget that selects it, e.g. `kubectl create poddisruptionbudget "
            f"{budget} -n {pod.namespace} --selector {selector} --max-unavailable 1`, "
            f"or remove {pod.namespace} from this policy's namespaces"
        )
    else:
        remedy = (
            f"the pod has no labels, so no PodDisruptionBudget can select it: label it (through "
            f"its controller), then e.g. `kubectl create poddisruptionbudget {budget} -n "
            f"{pod.namespace} --selector app={budget} --max-unavailable 1`"
        )
    return finding(
        UNCOVERED,
        severity,
        pod_ref(pod),
        message=(
            f"pod {pod.namespace}/{pod.name} ({owner}) on node {node} is not covered by any "
            f"PodDisruptionBudget, and namespace {pod.namespace} requires one: the drain would "
            f"evict it without a budget"
        ),
        remedy=remedy,
    )


def evaluate(targets: Sequence[str], settings: str, cluster: Any) -> List[Finding]:
    """The findings for the target nodes. Raises `SettingsError` on bad settings."""
    s = parse_settings(settings)
    findings: List[Finding] = []
    for node in dict.fromkeys(targets):
        if cluster.node(node) is None:
            findings.append(unknown_node(UNKNOWN_NODE, node))
            continue
        pods = sorted(
            (p for p in cluster.pods_on_node(node) if needs_budget(p, s.namespaces)),
            key=lambda p: (p.namespace, p.name),
        )
        if not pods:
            continue
        covering = cluster.pdbs_covering([object_ref("Pod", p.namespace, p.name) for p in pods])
        covered = {(c.pdb.namespace, name) for c in covering for name in c.pods}
        findings.extend(
            uncovered(p, node, s.severity) for p in pods if (p.namespace, p.name) not in covered
        )
    return findings

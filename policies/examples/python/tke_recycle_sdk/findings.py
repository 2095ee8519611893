"""Building findings, mirroring policies/sdk/src/findings.rs."""

from __future__ import annotations

from typing import Any, Optional

from .model import SEVERITIES, Finding, ObjectRef


def object_ref(kind: str, namespace: Optional[str], name: str) -> ObjectRef:
    return ObjectRef(kind=kind, namespace=namespace, name=name)


def node_ref(node: Any) -> ObjectRef:
    """Subject for a node (a `Node` record or a node name)."""
    return object_ref("Node", None, node if isinstance(node, str) else node.name)


def pod_ref(pod: Any) -> ObjectRef:
    return object_ref("Pod", pod.namespace, pod.name)


def finding(
    code: str,
    severity: str,
    subject: ObjectRef,
    message: str = "",
    remedy: Optional[str] = None,
) -> Finding:
    """One finding; `severity` is `"info"`, `"warn"` or `"deny"`. The host sets `policy`."""
    if severity not in SEVERITIES:
        raise ValueError(f"severity {severity!r} is not one of {', '.join(SEVERITIES)}")
    return Finding(code=code, severity=severity, message=message, subject=subject, remedy=remedy)


def unknown_node(code: str, name: str) -> Finding:
    return finding(
        code,
        "deny",
        object_ref("Node", None, name),
        message=f"node {name} is not in the snapshot",
        remedy="check the node name with `kubectl get nodes` (TKE names nodes by their LAN IP)",
    )

"""Label selectors, mirroring policies/sdk/src/selectors.rs.

`labels` may be a dict (key -> value) or a list of objects with `key` and `value` (the binding's
`list<label>`); with a list the first entry of a key wins, as in the Rust SDK.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

from .node_table import enum_name


def _label(labels: Any, key: str) -> Optional[str]:
    if isinstance(labels, Mapping):
        return labels.get(key)
    for label in labels:
        if label.key == key:
            return label.value
    return None


def _int(text: str) -> Optional[int]:
    # Rust's i64::from_str: an optional sign and ASCII digits, nothing else, within i64.
    body = text[1:] if text[:1] in ("+", "-") else text
    if not body or not all("0" <= c <= "9" for c in body):
        return None
    value = int(text)
    return value if -(2**63) <= value < 2**63 else None


def requirement_matches(req: Any, labels: Any) -> bool:
    """One `selector-requirement` against a label set (In, NotIn, Exists, DoesNotExist, Gt, Lt)."""
    value = _label(labels, req.key)
    op = enum_name(req.operator)
    if op == "In":
        return value is not None and value in req.values
    if op == "NotIn":
        return value is None or value not in req.values
    if op == "Exists":
        return value is not None
    if op == "DoesNotExist":
        return value is None
    if op in ("Gt", "Lt"):
        if value is None or len(req.values) != 1:
            return False
        v, bound = _int(value), _int(req.values[0])
        if v is None or bound is None:
            return False
        return v > bound if op == "Gt" else v < bound
    raise ValueError(f"unknown selector operator {op!r}")


def selector_matches(selector: Any, labels: Any) -> bool:
    """A `label-selector` against a label set: every match label and every expression holds.

    An empty selector matches everything."""
    match_labels = selector.match_labels
    pairs = match_labels.items() if isinstance(match_labels, Mapping) else (
        (m.key, m.value) for m in match_labels
    )
    return all(_label(labels, k) == v for k, v in pairs) and all(
        requirement_matches(r, labels) for r in selector.match_expressions
    )


label_selector_matches = selector_matches


def pod_is_finished(pod: Any) -> bool:
    """Succeeded or Failed."""
    return enum_name(pod.phase) in ("Succeeded", "Failed")


def evicted_by_drain(pod: Any) -> bool:
    """Whether a drain evicts the pod, as kubectl decides: not a mirror (static) pod, not a
    DaemonSet's pod, not finished (the Rust SDK's `drain::evicted_by_drain`)."""
    owner = getattr(pod, "owner", None)
    return (
        not pod.mirror
        and not (owner is not None and enum_name(owner.kind) == "DaemonSet")
        and not pod_is_finished(pod)
    )

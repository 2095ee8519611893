"""namespace-pdb-guard, natively against host/snapshots/small-cluster.json.

The snapshot: shop/web-7d9c-{0,1,2} on 10.0.1.11/12/13 are covered by PDB shop/web; shop/db-0
(StatefulSet) on 10.0.1.12 is not; ops/licence-server (bare pod) on 10.0.1.14 is not;
kube-system/node-exporter-* are DaemonSet pods on every node.
"""

import json

import pytest

import pdb_guard
from tke_recycle_sdk import FakeCluster, Node, Pdb, Pod, LabelSelector
from tke_recycle_sdk.model import WorkloadRef
from tke_recycle_sdk.settings import SettingsError

ALL = json.dumps({"namespaces": ["shop", "ops", "kube-system"]})


def subjects(findings):
    return [(f.code, f.severity, f.subject.kind, f.subject.namespace, f.subject.name) for f in findings]


@pytest.mark.parametrize(
    "targets, settings, expected",
    [
        pytest.param(["10.0.1.11"], ALL, [], id="covered_web_replica_and_daemonset_pod_are_fine"),
        pytest.param(["10.0.1.12"], ALL, [("namespace-pdb-guard.uncovered", "deny", "Pod", "shop", "db-0")],
                     id="statefulset_pod_without_pdb_is_denied"),
        pytest.param(["10.0.1.13"], ALL, [], id="only_covered_pods"),
        pytest.param(["10.0.1.14"], ALL, [("namespace-pdb-guard.uncovered", "deny", "Pod", "ops", "licence-server")],
                     id="bare_pod_without_pdb_is_denied"),
        pytest.param(["10.0.1.14"], json.dumps({"namespaces": ["shop"]}), [],
                     id="unlisted_namespace_is_not_looked_at"),
        pytest.param(["10.0.1.11"], json.dumps({"namespaces": ["payments"]}), [],
                     id="listed_namespace_without_pods_on_targets_gives_nothing"),
        pytest.param(["10.0.1.14", "10.0.1.12", "10.0.1.12"], json.dumps({"namespaces": ["shop", "ops"], "severity": "warn"}),
                     [("namespace-pdb-guard.uncovered", "warn", "Pod", "ops", "licence-server"),
                      ("namespace-pdb-guard.uncovered", "warn", "Pod", "shop", "db-0")],
                     id="severity_warn_and_targets_in_order_once"),
        pytest.param(["10.9.9.9"], ALL, [("namespace-pdb-guard.unknown-node", "deny", "Node", None, "10.9.9.9")],
                     id="unknown_target_is_denied"),
    ],
)
def test_small_cluster(small_cluster, targets, settings, expected):
    assert subjects(pdb_guard.evaluate(targets, settings, small_cluster)) == expected


def test_finding_text(small_cluster):
    (f,) = pdb_guard.evaluate(["10.0.1.12"], ALL, small_cluster)
    assert f.message == (
        "pod shop/db-0 (StatefulSet db) on node 10.0.1.12 is not covered by any "
        "PodDisruptionBudget, and namespace shop requires one: the drain would evict it without a budget"
    )
    assert f.remedy == (
        "add a PodDisruptionBudget that selects it, e.g. `kubectl create poddisruptionbudget db "
        "-n shop --selector app=db --max-unavailable 1`, or remove shop from this policy's namespaces"
    )


def test_skips_pods_a_drain_does_not_evict():
    pods = [
        Pod("shop", "mirror", node_name="n1", mirror=True, labels={"app": "m"}),
        Pod("shop", "ds", node_name="n1", owner=WorkloadRef("DaemonSet", "agent")),
        Pod("shop", "done", node_name="n1", phase="Succeeded"),
        Pod("shop", "failed", node_name="n1", phase="Failed"),
        Pod("shop", "pending", node_name="n1", phase="Pending", owner=WorkloadRef("Rollout", "canary"), labels={"app": "canary"}),
        Pod("shop", "nolabels", node_name="n1", owner=WorkloadRef("Deployment", "plain")),
        Pod("shop", "covered", node_name="n1", labels={"app": "web"}),
    ]
    cluster = FakeCluster(nodes=[Node("n1")], pods=pods, pdbs=[Pdb("shop", "web", LabelSelector({"app": "web"}))])
    findings = pdb_guard.evaluate(["n1"], '{"namespaces": ["shop"]}', cluster)
    assert [f.subject.name for f in findings] == ["nolabels", "pending"]
    assert findings[0].remedy.startswith("the pod has no labels, so no PodDisruptionBudget can select it")
    assert "(Rollout canary)" in findings[1].message


@pytest.mark.parametrize(
    "settings, message",
    [
        pytest.param("", 'namespaces: missing; list the namespaces whose pods must be covered by a PodDisruptionBudget, e.g. {"namespaces": ["shop"]}', id="empty_text"),
        pytest.param("{}", 'namespaces: missing; list the namespaces whose pods must be covered by a PodDisruptionBudget, e.g. {"namespaces": ["shop"]}', id="missing_namespaces"),
        pytest.param("[1]", 'invalid settings: [1] is not a JSON object; write the fields by name, e.g. {"namespaces": ["shop"], "severity": "deny"}', id="not_an_object"),
        pytest.param("{", 'invalid settings: Expecting property name enclosed in double quotes: line 1 column 2 (char 1); settings must be one JSON object, e.g. {"namespaces": ["shop"], "severity": "deny"}', id="not_json"),
        pytest.param('{"namespaces": ["shop"], "namespace": "ops"}', 'namespace: unknown field (value "ops"); the fields are namespaces, severity; remove it or fix its name, e.g. {"namespaces": ["shop"], "severity": "deny"}', id="unknown_field"),
        pytest.param('{"namespaces": "shop"}', 'namespaces: "shop" is not a list of namespace names; write a JSON list, e.g. ["shop"]', id="namespaces_not_a_list"),
        pytest.param('{"namespaces": []}', 'namespaces: [] is empty, so nothing would be checked; list at least one namespace, e.g. ["shop"]', id="namespaces_empty"),
        pytest.param('{"namespaces": ["shop", 3]}', 'namespaces: 3 is not a namespace name; write lowercase letters, digits and "-" (at most 63), as a string, e.g. ["shop"]', id="namespace_not_a_string"),
        pytest.param('{"namespaces": ["Shop"]}', 'namespaces: "Shop" is not a namespace name; write lowercase letters, digits and "-" (at most 63), as a string, e.g. ["shop"]', id="namespace_not_a_dns_label"),
        pytest.param('{"namespaces": ["shop"], "severity": "info"}', 'severity: "info" is not a severity this policy emits; write "deny" (stops the recycle) or "warn" (reported only), e.g. "warn"', id="severity_info"),
        pytest.param('{"namespaces": ["shop"], "severity": 2}', 'severity: 2 is not a severity this policy emits; write "deny" (stops the recycle) or "warn" (reported only), e.g. "warn"', id="severity_not_a_string"),
    ],
)
def test_settings_are_rejected_naming_field_value_and_fix(settings, message):
    with pytest.raises(SettingsError) as err:
        pdb_guard.parse_settings(settings)
    assert str(err.value) == message


def test_settings_defaults():
    s = pdb_guard.parse_settings('{"namespaces": ["shop", "ops", "shop"]}')
    assert s.namespaces == ("shop", "ops")
    assert s.severity == "deny"


def test_bad_settings_at_check_time_fail_closed(small_cluster):
    with pytest.raises(SettingsError):
        pdb_guard.evaluate(["10.0.1.12"], '{"namespaces": []}', small_cluster)


def test_pure_modules_do_not_import_the_bindings():
    import sys

    assert "wit_world" not in sys.modules and "componentize_py_types" not in sys.modules

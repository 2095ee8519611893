"""FakeCluster answers like the host (the cases of policies/sdk/src/testkit.rs)."""

from tke_recycle_sdk import FakeCluster, LabelSelector, Pdb, Pod, object_ref
from tke_recycle_sdk.model import IntOrPercent, Node, Resources

APP = LabelSelector({"app": "web"})


def cluster():
    web = Pod("shop", "web-0", node_name="10.0.1.11", labels={"app": "web"}, requests=Resources(100, 128 << 20))
    done = Pod("shop", "web-old", node_name="10.0.1.12", labels={"app": "web"}, phase="Succeeded",
               requests=Resources(100, 128 << 20))
    other_ns = Pod("ops", "web-0", node_name="10.0.1.13", labels={"app": "web"})
    return FakeCluster(
        nodes=[Node("10.0.1.13"), Node("10.0.1.11"), Node("10.0.1.12")],
        pods=[web, done, other_ns],
        pdbs=[Pdb("shop", "web", APP, max_unavailable=IntOrPercent("Count", 1), disruptions_allowed=1,
                  current_healthy=1, expected_pods=1)],
    )


def test_answers_like_the_host():
    c = cluster()
    assert c.nodes_with_pods_matching(["shop"], APP) == ["10.0.1.11"], "finished pods and other namespaces do not count"
    assert len(c.pods_matching("shop", APP)) == 2
    assert c.node("10.0.1.12").requested.pods == 0
    assert c.node("10.0.1.11").requested.cpu_millis == 100
    assert [s.node.name for s in c.nodes()] == ["10.0.1.11", "10.0.1.12", "10.0.1.13"]
    covering = c.pdbs_covering([object_ref("Pod", "shop", "web-0"), object_ref("Pod", "ops", "web-0")])
    assert [(x.pdb.name, x.pods) for x in covering] == [("web", ["web-0"])]
    assert c.node("10.9.9.9") is None
    assert c.pods_on_node("10.0.1.12")[0].name == "web-old", "finished pods are on their node"


def test_reads_the_small_cluster_snapshot(small_cluster):
    info = small_cluster.info()
    assert (info.cluster_id, info.node_count, info.pod_count) == ("cls-7ph3twqe", 4, 9)
    db = next(p for p in small_cluster.pods_on_node("10.0.1.12") if p.name == "db-0")
    assert db.owner.kind == "StatefulSet"
    assert db.volumes[0].source.kind == "PersistentVolumeClaim"
    assert db.volumes[0].source.value.name == "data-db-0"
    assert small_cluster.find_workload("kube-system", "DaemonSet", "node-exporter").replicas == 4
    pdb = small_cluster.pdbs_covering([object_ref("Pod", "shop", "web-7d9c-0")])[0].pdb
    assert pdb.min_available == IntOrPercent("Count", 2)
    assert small_cluster.node("10.0.1.14").node.labels["tke-recycle.io/protected"] == "licence-bound"
    assert small_cluster.node("10.0.1.11").requested.pods == 2


def test_reads_spread_and_affinity_and_older_files_without_them():
    import json
    from pathlib import Path

    fixtures = Path(__file__).resolve().parents[4] / "tests" / "fixtures" / "snapshots"

    def fixture(name):
        data = json.loads((fixtures / name).read_text())
        return FakeCluster.from_snapshot(data.get("snapshot", data))

    spread = fixture("zone-spread-drained-zone.deny.json")
    constrained = [p for n in spread.nodes() for p in spread.pods_on_node(n.node.name) if p.topology_spread]
    assert constrained, "the fixture's pods carry their spread constraints"
    c = constrained[0].topology_spread[0]
    assert (c.max_skew, c.topology_key, c.when_unsatisfiable) == (1, "topology.kubernetes.io/zone", "DoNotSchedule")
    assert (c.node_affinity_policy, c.node_taints_policy) == ("Honor", "Ignore")
    affinity = fixture("affinity-to-local-agent.deny.json")
    terms = [t for n in affinity.nodes() for p in affinity.pods_on_node(n.node.name) for t in p.required_affinity]
    assert terms and terms[0].topology_key == "kubernetes.io/hostname"
    # An older file has neither field: both read as empty lists.
    assert Pod("shop", "web-0").required_affinity == [] and Pod("shop", "web-0", topology_spread=None).topology_spread == []


def test_pods_with_anti_affinity_matching_answers_like_the_host():
    from tke_recycle_sdk.model import PodAffinityTerm

    def holder(ns, name, namespaces, node="10.0.1.11", phase="Running"):
        term = PodAffinityTerm(LabelSelector({"app": "web"}), namespaces, "kubernetes.io/hostname")
        return Pod(ns, name, node_name=node, phase=phase, required_anti_affinity=[term])

    c = FakeCluster(
        nodes=[Node("10.0.1.11")],
        pods=[
            holder("shop", "own-ns", []),
            holder("ops", "named-ns", ["shop"]),
            holder("ops", "other-ns", []),
            holder("shop", "unbound", [], node=None),
            holder("shop", "done", [], phase="Succeeded"),
        ],
    )
    found = [p.name for p in c.pods_with_anti_affinity_matching("shop", {"app": "web"})]
    assert found == ["own-ns", "named-ns"], "own namespace by default, named ones when listed"
    assert c.pods_with_anti_affinity_matching("shop", {"app": "db"}) == []
    assert Pod("shop", "p").preempts is None, "absent means the default"

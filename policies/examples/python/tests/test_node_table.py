"""decode_node_table, on the hand-built table of policies/sdk/src/node_table.rs."""

import copy

import pytest

from tke_recycle_sdk import NodeTable, ResourceColumns, decode_node_table, encode_node_table
from tke_recycle_sdk.model import ExtendedResource, Taint
from tke_recycle_sdk.node_table import READY, UNSCHEDULABLE, MalformedNodeTable


def columns(cpu, extended_ends, gpus):
    return ResourceColumns(
        cpu_millis=list(cpu),
        memory_bytes=[8 << 30] * 2,
        pods=[61] * 2,
        ephemeral_storage_bytes=[0] * 2,
        extended_ends=list(extended_ends),
        extended_name=[4] * len(gpus),
        extended_amount=list(gpus),
    )


def table():
    return NodeTable(
        text="10.0.0.110.0.0.2kubernetes.io/hostnamenvidia.com/gpuins-abcd1234",
        string_ends=[0, 8, 16, 38, 52, 64, 64],
        node_name=[1, 2],
        node_instance_id=[0, 5],
        node_internal_ip=[1, 2],
        node_flags=bytes([READY, UNSCHEDULABLE | READY]),  # list<u8> is bytes in the bindings
        label_ends=[1, 2],
        label_key=[3, 3],
        label_value=[1, 2],
        taint_ends=[0, 1],
        taint_key=[4],
        taint_value=[6],
        taint_effect=["NoSchedule"],
        allocatable=columns([4000, 8000], [0, 1], [2]),
        requested=columns([250, 0], [0, 0], []),
    )


def test_decodes_every_field():
    nodes = decode_node_table(table())
    assert len(nodes) == 2
    gpu = nodes[1].node
    assert gpu.name == "10.0.0.2"
    assert gpu.instance_id == "ins-abcd1234"
    assert gpu.internal_ip == "10.0.0.2"
    assert gpu.cordoned and gpu.unschedulable and gpu.ready
    assert gpu.labels == {"kubernetes.io/hostname": "10.0.0.2"}
    assert gpu.taints == [Taint("nvidia.com/gpu", "", "NoSchedule")]
    assert gpu.allocatable.cpu_millis == 8000
    assert gpu.allocatable.extended == [ExtendedResource("nvidia.com/gpu", 2)]
    assert nodes[1].requested.cpu_millis == 0
    first = nodes[0]
    assert first.node.instance_id is None, "string 0 is absent"
    assert not first.node.cordoned and first.node.ready
    assert first.node.taints == []
    assert first.node.allocatable.extended == []
    assert first.requested.cpu_millis == 250


def test_a_present_empty_string_is_not_absent():
    t = table()
    t.node_instance_id = [6, 5]  # string 6 is empty but not string 0
    assert decode_node_table(t)[0].node.instance_id == ""


def test_binding_enum_members_decode_to_names():
    class Effect:  # stands in for wit_world.imports.types.TaintEffect.NO_EXECUTE
        name = "NO_EXECUTE"

    t = table()
    t.taint_effect = [Effect()]
    assert decode_node_table(t)[1].node.taints[0].effect == "NoExecute"


def test_an_empty_table_is_no_nodes():
    assert decode_node_table(NodeTable()) == []


def test_encode_then_decode_is_identity(small_cluster):
    summaries = small_cluster.nodes()
    assert decode_node_table(encode_node_table(summaries)) == summaries


def _set(attr, value):
    def apply(t):
        obj = t
        *path, last = attr.split(".")
        for p in path:
            obj = getattr(obj, p)
        setattr(obj, last, value)

    return apply


def _index(attr, i, value):
    def apply(t):
        getattr(t, attr)[i] = value

    return apply


def _pop(attr):
    return lambda t: getattr(t, attr).pop() if isinstance(getattr(t, attr), list) else setattr(
        t, attr, getattr(t, attr)[:-1]
    )


@pytest.mark.parametrize(
    "break_it, expected",
    [
        pytest.param(_index("node_name", 1, 7), "string 7 does not exist; the table has 7", id="string_index_past_the_strings"),
        pytest.param(_index("string_ends", 6, 65), "string 6 at bytes 64..65 is not a string inside the 64 bytes of text", id="string_past_the_text"),
        pytest.param(_index("string_ends", 2, 4), "string 2 at bytes 8..4", id="string_ends_before_it_starts"),
        pytest.param(_set("text", "aé" * 22), "is not a string inside the 66 bytes of text", id="string_splitting_a_character"),
        pytest.param(_set("string_ends", []), 'string 0 (the empty string, "absent") is missing', id="no_string_0"),
        pytest.param(_pop("node_flags"), "column node-flags has 1 entries, node-name has 2", id="short_node_column"),
        pytest.param(_index("taint_ends", 1, 2), "the taints of row 1 are entries 0..2 of 1", id="run_past_its_column"),
        pytest.param(_set("label_ends", [2, 1]), "the labels of row 1 are entries 2..1 of 2", id="run_ending_before_it_starts"),
        pytest.param(lambda t: t.requested.extended_amount.append(1), "column requested.extended-amount has 1 entries, requested.extended-name has 0", id="short_resource_column"),
        pytest.param(lambda t: t.allocatable.pods.pop(), "column allocatable.pods has 1 entries, node-name has 2", id="short_allocatable_column"),
    ],
)
def test_a_table_that_does_not_hold_together_is_refused_saying_where(break_it, expected):
    t = copy.deepcopy(table())
    break_it(t)
    with pytest.raises(MalformedNodeTable) as err:
        decode_node_table(t)
    message = str(err.value)
    assert message.startswith("malformed node table from the host: ")
    assert expected in message

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXAMPLE = HERE.parent
ROOT = EXAMPLE.parents[2]
SMALL_CLUSTER = ROOT / "host" / "snapshots" / "small-cluster.json"

# The SDK package and the policy's modules, as the component sees them (top-level imports).
for path in (EXAMPLE, EXAMPLE / "namespace_pdb_guard"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import pytest  # noqa: E402


@pytest.fixture
def small_cluster():
    from tke_recycle_sdk import FakeCluster

    return FakeCluster.from_snapshot(SMALL_CLUSTER)

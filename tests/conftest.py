from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.demo import Part, Topology


@pytest.fixture(scope="module")
def single_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Part, Topology]]:
    """One simulated server without a peer, shared by a test module (it is active at once)."""
    topo = Topology.create(tmp_path_factory.mktemp("sim"))
    part = topo.add_single_sim()
    with topo:
        topo.start_all()
        topo.wait_ready()
        yield part, topo


@pytest.fixture
def sim_pair(tmp_path: Path) -> Iterator[Topology]:
    topo = Topology.create(tmp_path)
    topo.add_sims()
    with topo:
        topo.start_all()
        topo.wait_ready()
        topo.wait_settled()
        yield topo


@pytest.fixture
def system(tmp_path: Path) -> Iterator[Topology]:
    """Two sims and two managers, primary manager forwarding and secondary in failover mode. No action rate
    limit: several tests send hundreds of actions from one station (test_security covers the limit)."""
    from tests.helpers import manager_field, wait_for

    with Topology.create(tmp_path, action_rate=0) as topo:
        topo.start_system()
        pm, sm = topo.parts["primary manager"].url, topo.parts["secondary manager"].url
        wait_for(
            lambda: (
                manager_field(pm, "forwarding") == "true"
                and manager_field(sm, "mode") == "failover"
                and manager_field(sm, "activeservername") == "primary"
            ),
            10,
            "managers ready",
        )
        yield topo

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
        yield topo

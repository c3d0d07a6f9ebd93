"""Pictures pass through the managers untouched: bytes and content type, bounded in size; an XML error stays XML."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.demo import Topology, free_port
from tests.fake_picture_server import picture
from tests.helpers import manager_field, wait_for


@pytest.fixture
def picture_system(tmp_path: Path) -> Iterator[tuple[str, str]]:
    with Topology.create(tmp_path, action_rate=0) as topo:
        port = free_port()
        server = topo.add("server", [], f"http://127.0.0.1:{port}")
        server.command = [sys.executable, "-m", "tests.fake_picture_server", "--port", str(port)]
        topo.add_etcd(count=1)
        topo.add_managers(servers=[server.url])
        topo.start_all()
        topo.wait_ready()
        pm, sm = topo.parts["primary manager"].url, topo.parts["secondary manager"].url
        wait_for(lambda: manager_field(pm, "activeserver") != "" and manager_field(sm, "activeserver") != "", 15, "x")
        yield pm, sm


def test_a_picture_passes_through_both_managers_untouched(picture_system: tuple[str, str]) -> None:
    for base in picture_system:
        q = "command=getLiveImage&serverid=1&cameraid=7&imagewidth=320&imageheight=176"
        r = httpx.get(f"{base}/command?{q}", timeout=5)
        assert r.status_code == 200
        assert r.headers["content-type"] == "image/jpeg"
        assert r.content == picture(q)


def test_a_picture_error_stays_sense_xml(picture_system: tuple[str, str]) -> None:
    r = httpx.get(f"{picture_system[0]}/command?command=getLiveImage&serverid=1&cameraid=down", timeout=5)
    assert r.headers["content-type"].startswith("text/xml")
    assert b'errorcode="-21"' in r.content


def test_a_picture_over_the_limit_is_refused_with_the_limit_named(picture_system: tuple[str, str]) -> None:
    r = httpx.get(f"{picture_system[0]}/command?command=getLiveImage&serverid=1&cameraid=huge", timeout=10)
    assert r.headers["content-type"].startswith("text/xml")
    assert b'errorcode="-110"' in r.content and b"8 MiB" in r.content


def test_an_action_carries_the_active_servers_epoch_as_a_fencing_token(picture_system: tuple[str, str]) -> None:
    r = httpx.get(f"{picture_system[0]}/command?command=selectLayout&layoutid=1&uid=fence-1", timeout=5)
    assert b"epoch=1" in r.content, r.content  # the fake server's /info says epoch 1

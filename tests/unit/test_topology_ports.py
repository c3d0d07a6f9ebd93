"""The demo's and the tests' port picking: a port once handed out is never handed out again by the process."""

from __future__ import annotations

import socket

from app.config import LOOPBACK
from app.demo.topology import _ephemeral_low, free_port


def test_ports_handed_out_are_all_different() -> None:
    # 1500 picks is what one whole test run takes; random picks in the ~12,800 ports below the ephemeral range
    # repeat one within 150 picks on average (a birthday collision), which made two parts of one system share a port.
    ports = [free_port() for _ in range(1500)]
    assert len(set(ports)) == len(ports)


def test_a_port_handed_out_is_free_and_below_the_ephemeral_range() -> None:
    port = free_port()
    assert port < _ephemeral_low() or _ephemeral_low() <= 21000
    with socket.socket() as s:
        s.bind((LOOPBACK, port))  # nothing holds it: the part that gets it can bind it


def test_a_port_in_use_is_never_handed_out() -> None:
    held = []
    try:
        for _ in range(50):
            s = socket.socket()
            s.bind((LOOPBACK, free_port()))
            s.listen()
            held.append(s)
        taken = {s.getsockname()[1] for s in held}
        assert not taken & {free_port() for _ in range(200)}
    finally:
        for s in held:
            s.close()

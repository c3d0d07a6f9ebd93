"""`sensetwin demo`: the whole system on loopback, with parts to kill and restart."""

from .run import run_demo
from .topology import Part, Topology, free_port

__all__ = ["Part", "Topology", "free_port", "run_demo"]

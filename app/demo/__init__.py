"""`sensetwin demo`: the whole system on loopback, with parts to kill and restart."""

from .run import run_demo
from .topology import DEMO_ALARMS, Part, Topology, free_port

__all__ = ["DEMO_ALARMS", "Part", "Topology", "free_port", "run_demo"]

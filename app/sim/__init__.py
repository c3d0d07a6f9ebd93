"""The simulated VDG Sense management server pair (`sensetwin sim`)."""

from .journal import Journal, read_journal
from .pair import Failback, Role, State
from .server import SimSettings, Simulator, create_app, run

__all__ = ["Failback", "Journal", "Role", "SimSettings", "Simulator", "State", "create_app", "read_journal", "run"]

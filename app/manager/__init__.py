"""The primary/secondary manager service (`sensetwin manager`)."""

from .core import Manager, Mode
from .service import create_app, run
from .settings import ManagerSettings, Role, load_toml

__all__ = ["Manager", "ManagerSettings", "Mode", "Role", "create_app", "load_toml", "run"]

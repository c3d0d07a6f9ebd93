"""The redundant client: Qt-free (asyncio + httpx). `from app.client import RedundantClient, SystemView`."""

from .outcome import ManagerAnswer, Outcome
from .pairing import PairSettings
from .redundant import ActionError, ClientSettings, RedundantClient
from .view import Change, ManagerState, PeerConsole, ServerState, SystemView

__all__ = [
    "ActionError",
    "Change",
    "ClientSettings",
    "ManagerAnswer",
    "ManagerState",
    "Outcome",
    "PairSettings",
    "PeerConsole",
    "RedundantClient",
    "ServerState",
    "SystemView",
]

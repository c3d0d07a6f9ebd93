"""Every default of the system in one place, and the per-user paths (platformdirs)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "SenseTwin"
APP_AUTHOR = "SenseTwin"
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Defaults:
    """Timing and sizing defaults. Seconds unless the name says otherwise."""

    heartbeat_interval: float = 0.2  # J: the standby server checks the active one this often
    heartbeat_misses: int = 3  # this many missed checks in a row = the peer is down
    startup_grace: float = 3.0  # a server that has never seen its peer waits this long before taking over
    replicate_timeout: float = 0.25  # an active server waits this long to copy its state to the standby
    manager_queue_timeout: float = 0.4  # a copy nobody claimed for this long: the secondary claims it (normal mode)
    client_timeout: float = 2.0  # the console's per-manager timeout
    dedup_window: float = 600.0  # how long a manager remembers a uid
    dedup_capacity: int = 1_000_000  # at most this many uids are remembered
    health_poll: float = 1.0  # status polls and long-poll waits
    peer_gone: float = 3.0  # a paired console without news from its peer for this long says so
    event_buffer: int = 10_000  # events a simulated server keeps
    sense_port: int = 80  # the documented (implicit) port of a real Sense server
    server_poll: float = 0.2  # a manager checks both servers' /info this often
    upstream_timeout: float = 0.8  # a manager waits this long for a server's answer
    # An action not sent this long after it reached a manager is never sent (written `expired` in etcd): with the
    # upstream timeout it stays below the console's timeout, so no action executes after the console answered.
    hold_timeout: float = 1.0
    etcd_ttl: int = 2  # a manager's liveness lease in etcd (etcd's shortest); kept alive four times a TTL
    etcd_timeout: float = 0.5  # a manager waits this long for one etcd request before it tries another member
    max_uid_length: int = 128
    action_rate: float = 10.0  # new actions a second one console may send a manager on average (0 = no limit)
    action_burst: int = 30  # ... and at once
    watch_interval: float = 0.25  # a console checks each manager and server this often
    watch_timeout: float = 0.6  # ... and calls it down when it has not answered within this
    max_answer_bytes: int = 4 * 1024 * 1024  # a console reads at most this much of any answer
    peer_heartbeat: float = 0.5  # paired consoles tell each other they are alive this often
    peer_max_age: float = 60.0  # a peer message older than this is refused as a replay


DEFAULTS = Defaults()


def config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, APP_AUTHOR))


def state_dir() -> Path:
    return Path(platformdirs.user_state_dir(APP_NAME, APP_AUTHOR))


def log_dir() -> Path:
    return Path(platformdirs.user_log_dir(APP_NAME, APP_AUTHOR))


def parse_listen(value: str, default_host: str = LOOPBACK) -> tuple[str, int]:
    """'127.0.0.1:8080', ':8080' or '8080' → (host, port), with a message that says what is wrong."""
    host, sep, port = value.rpartition(":")
    if not sep:
        host, port = "", value
    host = host.strip("[]") or default_host
    try:
        number = int(port)
    except ValueError:
        raise ValueError(f"listen address {value!r} needs a port number, e.g. 127.0.0.1:8080") from None
    if not 0 <= number <= 65535:
        raise ValueError(f"port {number} in {value!r} is outside 0..65535")
    return host, number

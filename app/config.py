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
    dedup_capacity: int = 100_000  # uids a manager caches in memory at most (the truth is in etcd)
    health_poll: float = 1.0  # status polls and long-poll waits
    peer_gone: float = 3.0  # a paired console without news from its peer for this long says so
    event_buffer: int = 10_000  # events a simulated server keeps
    sense_port: int = 80  # the documented (implicit) port of a real Sense server
    server_poll: float = 0.2  # a manager checks both servers' /info this often
    upstream_timeout: float = 0.8  # a manager waits this long for a server's answer
    info_timeout: float = 0.4  # ... and this long for a server's /info (a few hundred bytes): a stopped server shows
    # An action not sent this long after it reached a manager is never sent (written `expired` in etcd): with the
    # upstream timeout it stays below the console's timeout, so no action executes after the console answered.
    hold_timeout: float = 1.0
    etcd_ttl: int = 2  # a manager's liveness lease in etcd (etcd's shortest); kept alive four times a TTL
    etcd_timeout: float = 0.5  # a manager waits this long for one etcd request before it tries another member
    max_uid_length: int = 128
    # Shared operator workflows (docs/workflows-protocol.md), kept by the managers in etcd.
    ptz_hold: float = 15.0  # a dome stays with the console that moved it last for this long
    flood_count: int = 10  # more alarms of one rule than this within flood_window are grouped
    flood_window: float = 600.0
    reaction_window: float = 60.0  # an alarm offers its reaction this long after it was raised (<< dedup_window)
    ptz_priority: int = 5  # a PTZ move's priority (1..10) when it names a console and no priority
    action_rate: float = 10.0  # new actions a second one console may send a manager on average (0 = no limit)
    action_burst: int = 30  # ... and at once
    watch_interval: float = 0.25  # a console checks each manager and server this often
    watch_timeout: float = 0.6  # ... and calls it down when it has not answered within this
    max_answer_bytes: int = 4 * 1024 * 1024  # a console reads at most this much of any answer
    peer_heartbeat: float = 0.5  # paired consoles tell each other they are alive this often
    peer_max_age: float = 60.0  # a peer message older than this is refused as a replay
    # Pictures in the console (getLiveImage / getHistoricalImage through the managers).
    picture_interval: float = 1.0  # a wall panel on screen asks for a new picture this often
    preview_interval: float = 0.5  # the selected camera's preview and the PTZ view
    steer_interval: float = 0.2  # the PTZ view while the pad is pressed
    picture_timeout: float = 1.5  # one picture from one manager, whole, within this (else the other manager)
    picture_avoid: float = 3.0  # a manager that failed a picture is asked last for this long
    picture_frozen_after: float = 2.0  # a picture that has not changed for longer is marked FROZEN with its age
    picture_max_bytes: int = 2 * 1024 * 1024  # a picture answer larger than this is refused unread
    picture_max_pixels: int = 1920 * 1080  # ... and one that would decode larger than this is not decoded
    picture_max_in_flight: int = 8  # picture requests at once for the whole console (one per panel at most)
    picture_decode_threads: int = 2  # decoding happens in these worker threads, never on the UI thread
    picture_max_width: int = 1280  # the largest picture asked for, whatever the panel's size
    picture_max_height: int = 720
    picture_tick: float = 0.1  # the picture scheduler looks for due panels this often
    wall_all_viewers_up_to: int = 4  # a site with this many viewer stations or fewer shows them all by default
    # Operator input (issue 15): the CCTV keyboard, a joystick on the selected dome, the alarm sound.
    key_entry_timeout: float = 4.0  # digits typed for a camera or preset number are forgotten after this long
    key_entry_digits: int = 6  # ... and at most this many are kept
    key_speed: float = 0.5  # pan/tilt/zoom speed (of −1..1) while an arrow, + or − key is held
    ptz_command_rate: float = 5.0  # joystick PTZ commands a second at most (the latest position wins, stops are kept)
    joystick_poll: float = 0.02  # the joystick is read this often (50 Hz)
    joystick_dead_zone: float = 0.15  # stick travel (of 0..1) that counts as centred
    joystick_curve: float = 3.0  # speed = travel ** curve: cubic gives fine control near the centre
    joystick_step: float = 0.05  # speeds are rounded to this, so a stick jittering in place sends nothing new
    joystick_erratic_jumps: int = 10  # more end-to-end jumps than this in a second: the device is ignored ...
    joystick_calm: float = 1.0  # ... until it has sent none for this long
    joystick_preset_holdoff: float = 1.0  # the same preset button again within this is one press (contact bounce)
    joystick_max_events: int = 512  # joystick events handled per poll at most; the rest are dropped (a flood)
    joystick_flood_rate: float = 5000.0  # events a second above which the status says the device floods
    alarm_silence: float = 60.0  # the alarm sound is silenced this long when the operator silences it
    alarm_refill: float = 0.25  # the alarm sound's queue is topped up this often


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

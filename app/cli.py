"""The one entry point: `sensetwin` (the console), `sensetwin sim`, `sensetwin manager`, `sensetwin demo`."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__
from .config import DEFAULTS, parse_listen

if TYPE_CHECKING:
    from .manager import ManagerSettings


def _listen(value: str) -> tuple[str, int]:
    try:
        return parse_listen(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"{value!r} is not an http:// or https:// address")
    return value.rstrip("/")


def _url_list(text: str) -> list[str]:
    """'http://a:1, http://b:2/' -> ['http://a:1', 'http://b:2']: empty entries dropped, no trailing slash."""
    return [u.strip().rstrip("/") for u in text.split(",") if u.strip()]


def _manager_settings(args: argparse.Namespace) -> ManagerSettings:
    from .config import state_dir
    from .manager import ManagerSettings, Role, load_toml

    try:
        values: dict[str, Any] = load_toml(args.config) if args.config else {}
    except ValueError as exc:
        raise SystemExit(f"sensetwin manager: {exc}") from None
    if args.role:
        values["role"] = Role(args.role)
    if args.listen:
        values["host"], values["port"] = args.listen
    if args.servers:
        values["servers"] = _url_list(args.servers)
    if args.etcd:
        values["etcd"] = _url_list(args.etcd)
    if args.etcd_prefix:
        values["etcd_prefix"] = args.etcd_prefix
    if args.site:
        values["site"] = args.site
    if args.etcd_allow_fewer:
        values["etcd_allow_fewer"] = True
    if args.state_dir:
        values["state_dir"] = args.state_dir
    if args.queue_timeout is not None:
        values["queue_timeout"] = args.queue_timeout
    if args.action_rate is not None:
        values["action_rate"] = args.action_rate
    missing = [k for k in ("role", "servers") if k not in values]
    if missing:
        raise SystemExit(
            f"sensetwin manager: give {' and '.join('--' + k for k in missing)} (or set them in the --config file)"
        )
    values.setdefault("state_dir", state_dir())
    try:
        settings = ManagerSettings(**values)
        settings.check()
    except (TypeError, ValueError) as exc:
        raise SystemExit(f"sensetwin manager: {exc}") from None
    return settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sensetwin", description="Redundant operator console for VDG Sense.")
    parser.add_argument("--version", action="version", version=f"sensetwin {__version__}")
    sub = parser.add_subparsers(dest="part", metavar="{sim,manager,client,demo,check,install-desktop}")

    sim = sub.add_parser("sim", help="run one simulated Sense management server of a pair")
    sim.add_argument("--role", choices=["primary", "secondary"], required=True)
    sim.add_argument("--listen", type=_listen, default=("127.0.0.1", 0), metavar="HOST:PORT")
    sim.add_argument("--peer", type=_url, help="address of the other server of the pair (J)")
    sim.add_argument(
        "--site",
        default="demo",
        metavar="demo|big|FILE",
        help="the site to serve: demo (the built-in demo site, default), big (20 servers, 2,000 cameras, "
        "30 viewer stations) or a site description file (JSON, the shape of the demo site)",
    )
    sim.add_argument("--journal", type=Path, help="append every executed action here as a JSON line")
    sim.add_argument("--state-dir", type=Path, help="where the server keeps its epoch across restarts")
    sim.add_argument("--failback", choices=["auto", "manual"], default="auto")
    sim.add_argument("--heartbeat-ms", type=int, default=int(DEFAULTS.heartbeat_interval * 1000))
    sim.add_argument("--misses", type=int, default=DEFAULTS.heartbeat_misses)
    sim.add_argument("--user", default="", help="check /webservice logins (password: SENSETWIN_SIM_PASSWORD)")
    sim.add_argument("--tls-cert", type=Path, help="serve https with this certificate (PEM) and --tls-key")
    sim.add_argument("--tls-key", type=Path, help="the private key (PEM) of --tls-cert")

    man = sub.add_parser("manager", help="run the primary or secondary manager service")
    man.add_argument("--config", type=Path, help="TOML file with the settings below (command-line values win)")
    man.add_argument("--role", choices=["primary", "secondary"])
    man.add_argument("--listen", type=_listen, metavar="HOST:PORT")
    man.add_argument("--servers", help="primary and secondary Sense server addresses, comma-separated")
    man.add_argument("--etcd", help="the three etcd members' client addresses, comma-separated")
    man.add_argument("--etcd-prefix", help="the site's etcd key prefix (default /sensetwin/)")
    man.add_argument("--site", help="the site's name, the same for both managers (default sensetwin)")
    man.add_argument(
        "--etcd-allow-fewer", action="store_true", help="allow fewer than three etcd members (a trial or a test)"
    )
    man.add_argument("--state-dir", type=Path, help="where the manager keeps its small local state")
    man.add_argument("--queue-timeout", type=float, help=f"seconds (default {DEFAULTS.manager_queue_timeout})")
    man.add_argument(
        "--action-rate",
        type=float,
        help=f"new actions a second per console, 0 = none (default {DEFAULTS.action_rate:g})",
    )

    cli = sub.add_parser("client", help="the redundant client without a window, driven by JSON lines on stdin")
    cli.add_argument("--station", required=True, help="this workstation's name (it appears in every uid)")
    cli.add_argument("--managers", required=True, help="primary and secondary manager addresses, comma-separated")
    cli.add_argument("--servers", default="", help="primary and secondary server addresses to watch")
    cli.add_argument("--pair-role", choices=["primary", "secondary"], help="this console's role in a pair")
    cli.add_argument("--pair", default="pair", help="the pair's name (both consoles use the same)")
    cli.add_argument("--peer", type=_url, help="the paired console's peer-link address")
    cli.add_argument("--peer-listen", type=_listen, default=("127.0.0.1", 0), metavar="HOST:PORT")
    cli.add_argument("--ca-bundle", type=Path, help="CA certificates (PEM) for https managers and servers")
    cli.add_argument(
        "--ptz-priority",
        type=int,
        choices=range(1, 11),
        default=5,
        metavar="1..10",
        help="this console's PTZ priority: a dome another console steers yields to a higher one (default 5)",
    )
    # Tokens come from the environment (SENSETWIN_TOKEN, SENSETWIN_PAIR_TOKEN), never the command line (ps shows it).

    chk = sub.add_parser("check", help="reach both managers and servers, show roles and round-trip times")
    chk.add_argument("--managers", help="manager addresses, comma-separated (default: from the console settings)")
    chk.add_argument("--servers", help="server addresses, comma-separated (default: from the console settings)")
    chk.add_argument("--ca-bundle", type=Path, help="CA certificates (PEM) for https")

    desk = sub.add_parser("install-desktop", help="add SenseTwin to this user's application menu (Linux)")
    desk.add_argument("--uninstall", action="store_true", help="remove it again")

    demo = sub.add_parser("demo", help="run two sims (and managers) on loopback")
    demo.add_argument("--state-dir", type=Path, help="keep journals and state here (default: a temporary folder)")
    demo.add_argument("--screenshot", type=Path, metavar="FILE", help="save the window once connected, then exit")
    demo.add_argument("--no-console", action="store_true", help="run the system only, print where it listens")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.part == "sim":
        from .sim import Failback, Role, SimSettings, run

        host, port = args.listen
        if args.heartbeat_ms < 20 or args.misses < 1:
            raise SystemExit("sensetwin sim: --heartbeat-ms must be at least 20 and --misses at least 1")
        run(
            SimSettings(
                role=Role(args.role),
                host=host,
                port=port,
                peer_url=args.peer,
                site=args.site,
                journal=args.journal,
                state_dir=args.state_dir,
                failback=Failback(args.failback),
                interval=args.heartbeat_ms / 1000,
                misses=args.misses,
                user=args.user,
                password=os.environ.get("SENSETWIN_SIM_PASSWORD", ""),
                tls_cert=args.tls_cert,
                tls_key=args.tls_key,
            )
        )
        return 0
    if args.part == "manager":
        from .manager import run as run_manager

        run_manager(_manager_settings(args))
        return 0
    if args.part == "client":
        import asyncio

        from .client import ClientSettings, PairSettings
        from .client.headless import run as run_client
        from .ui.settings import env_token

        urls, servers = _url_list(args.managers), _url_list(args.servers)
        pair = None
        if args.pair_role:
            if not args.peer:
                raise SystemExit("sensetwin client: --pair-role needs --peer (the other console's address)")
            pair = PairSettings(
                args.pair_role, args.pair, args.peer, args.peer_listen, token=os.environ.get("SENSETWIN_PAIR_TOKEN", "")
            )
        settings = ClientSettings(
            args.station,
            urls,
            servers,
            pair=pair,
            verify=str(args.ca_bundle) if args.ca_bundle else True,
            token=env_token(),
            ptz_priority=args.ptz_priority,
        )
        return asyncio.run(run_client(settings))
    if args.part == "check":
        return _check(args)
    if args.part == "install-desktop":
        from .desktop import install, uninstall

        return uninstall() if args.uninstall else install()
    if args.part == "demo":
        from .demo import run_demo

        return run_demo(args.state_dir, console=not args.no_console, screenshot=args.screenshot)
    return _console()


def _check(args: argparse.Namespace) -> int:
    import asyncio

    from .check import run_check
    from .ui.settings import ConsoleSettings, SettingsError, env_token, load

    try:
        s = load()
    except SettingsError as exc:
        if not (args.managers and args.servers):
            print(f"sensetwin check: {exc}", file=sys.stderr)
            return 2
        s = ConsoleSettings(token=env_token())
    managers = _url_list(args.managers) if args.managers else s.managers
    servers = _url_list(args.servers) if args.servers else s.servers
    verify: bool | str = str(args.ca_bundle) if args.ca_bundle else (s.ca_bundle or True)
    return asyncio.run(run_check(managers, servers, s.token, verify))


def _console() -> int:
    from .ui.app import display_available, run_console
    from .ui.settings import SettingsError, load, settings_path

    try:
        settings = load()
    except SettingsError as exc:
        print(f"sensetwin: {exc}", file=sys.stderr)
        return 2
    if not settings_path().exists():
        print(
            f"sensetwin: no settings yet; using defaults (managers {', '.join(settings.managers)}). "
            "Set the real addresses in File > Settings, or try `sensetwin demo`.",
            file=sys.stderr,
        )
    if not display_available():
        print(
            "sensetwin: no display found (DISPLAY is not set). Run it on a desktop session or under xvfb-run.",
            file=sys.stderr,
        )
        return 2
    from .ui import xcb

    why = xcb.problem()
    if why:  # Qt would abort with a message that names the wrong library
        print(f"sensetwin: {why}", file=sys.stderr)
        return 2
    return run_console(settings)


if __name__ == "__main__":
    sys.exit(main())

"""The ``zcomet`` command: send, spy, check, forward, listen, keygen, demo, bench.

Exit codes: 0 success; 1 bad input data, a failed check or an unmet wait;
2 a wrong command line or configuration.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import logging
import os
import signal
import sys
from collections.abc import Sequence
from types import FrameType, ModuleType
from typing import Any

from zcomet import __version__
from zcomet.app.keys import (
    add_key_options,
    add_keygen_options,
    run_keygen,
    settings_from_args,
)
from zcomet.app.logs import LEVELS, level_from_name, setup_logging
from zcomet.core.catalog import Catalog
from zcomet.errors import ChannelError, ConfigError, DefinitionError, SecurityError
from zcomet.net.security import Security

__all__ = ["ENDPOINTS_HELP", "build_parser", "main"]

log = logging.getLogger(__name__)

#: Where ``zcomet forward`` listens by default: senders here...
FRONTEND = "tcp://127.0.0.1:5555"
#: ...and listeners here.
BACKEND = "tcp://127.0.0.1:5556"

ENDPOINTS_HELP = f"""\
endpoints:
  One notation on every command: '@' binds, '>' connects.
    @tcp://127.0.0.1:5555     bind a TCP port ('tcp://*:5555' on every interface)
    >tcp://10.0.0.2:5556      connect to another host
    >ipc:///tmp/zc-out.sock   connect to a local socket file
  A bare address binds for 'send' and 'forward' and connects for 'spy' and
  'listen'; write the prefix and there is no doubt. Several endpoints: a
  comma-separated list ('@ipc:///tmp/a.sock,@tcp://*:5555').
  Defaults: 'zcomet forward' binds @{FRONTEND} for senders
  and @{BACKEND} for listeners; 'send' connects to the first,
  'spy' and 'listen' to the second.
"""

EXIT_DATA = 1
EXIT_USAGE = 2

_DEFAULT = "default %(default)s"


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=30)


def _common(default_level: str) -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--log-level",
        type=str.upper,
        choices=LEVELS,
        default=None,
        help=f"log level on stderr (default {default_level})",
    )
    parent.set_defaults(default_level=default_level)
    return parent


def _catalog_option(parser: argparse.ArgumentParser, required: bool) -> None:
    env = os.environ.get("ZCOMET_CATALOG")
    parser.add_argument(
        "--catalog",
        "-c",
        metavar="FILE",
        default=env,
        required=required and env is None,
        help="definitions file (.toml or .json); default $ZCOMET_CATALOG",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="zcomet",
        description="Brokerless real-time messaging over ZeroMQ.",
        epilog=ENDPOINTS_HELP,
        formatter_class=_formatter,
    )
    parser.add_argument("--version", action="version", version=__version__)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    quiet, loud = _common("WARNING"), _common("INFO")

    def add(name: str, summary: str, example: str, parents: list[Any]) -> Any:
        return commands.add_parser(
            name,
            help=summary,
            description=f"{summary}\n\nexample:\n  {example}",
            epilog=ENDPOINTS_HELP,
            formatter_class=_formatter,
            parents=parents,
        )

    send = add(
        "send",
        "validate JSON data and send it on a channel",
        "zcomet send -c examples/helpdesk/definitions.toml \\\n"
        "      --endpoint '>tcp://127.0.0.1:5555' escalation page_ack \\\n"
        '      \'{"ticket_id": "T-1001", "officer": "Ana", '
        '"acknowledged_at": "2025-01-02T03:04:05Z"}\'',
        [quiet],
    )
    send.add_argument("channel", help="a channel name (no wildcards)")
    send.add_argument("definition", help="the definition's technical name")
    send.add_argument(
        "data", nargs="?", help="a JSON object; read from stdin if absent or '-'"
    )
    _catalog_option(send, required=True)
    send.add_argument(
        "--endpoint", "-e", metavar="EP", default=">" + FRONTEND, help=_DEFAULT
    )
    send.add_argument(
        "--lines", action="store_true", help="stdin holds one JSON object per line"
    )
    send.add_argument(
        "--wait-listeners",
        type=int,
        default=1,
        metavar="N",
        help="send only once N subscriptions cover the channel, so no listener "
        "misses the first messages; 0 sends at once (default %(default)s). "
        "Through a forwarder, listeners with identical subscriptions count "
        "once for a sender that connects after them",
    )
    send.add_argument(
        "--timeout", type=float, default=5.0, help="seconds to wait (default 5)"
    )
    send.add_argument(
        "--linger", type=float, default=2.0, help="seconds to flush at exit (2)"
    )
    send.add_argument("--quiet", "-q", action="store_true", help="no summary line")
    add_key_options(send)

    spy = add(
        "spy",
        "print every message on channels, or count them with --stats",
        "zcomet spy --endpoint '>tcp://127.0.0.1:5556' 'helpdesk.>' escalation",
        [quiet],
    )
    spy.add_argument(
        "patterns",
        nargs="*",
        metavar="CHANNEL",
        help="channels or patterns ('alerts.*', 'alerts.>'); all if none",
    )
    _catalog_option(spy, required=False)
    spy.add_argument(
        "--endpoint", "-e", metavar="EP", default=">" + BACKEND, help=_DEFAULT
    )
    spy.add_argument("--json", action="store_true", help="one JSON object per line")
    spy.add_argument(
        "--stats", action="store_true", help="count per channel, print rates"
    )
    spy.add_argument(
        "--interval", type=float, default=1.0, help="seconds between --stats tables"
    )
    spy.add_argument("--count", "-n", type=int, help="exit after N messages")
    spy.add_argument("--timeout", type=float, help="exit after SECONDS")

    check = add(
        "check",
        "check a definitions file; print technical names and fingerprints",
        "zcomet check examples/helpdesk/definitions.toml",
        [quiet],
    )
    check.add_argument("catalog", metavar="CATALOG", help="a .toml or .json file")

    forward = add(
        "forward",
        "run a forwarder: senders connect to its frontend, listeners to its "
        "backend; SIGUSR1 prints statistics, SIGHUP reloads the key allowlists",
        "zcomet forward --frontend '@tcp://*:5555' --backend '@tcp://*:5556'",
        [loud],
    )
    forward.add_argument(
        "--frontend", metavar="EP", default="@" + FRONTEND, help="senders: " + _DEFAULT
    )
    forward.add_argument(
        "--backend", metavar="EP", default="@" + BACKEND, help="listeners: " + _DEFAULT
    )
    forward.add_argument(
        "--stats-interval",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="log statistics this often; 0: never (default %(default)s)",
    )
    add_key_options(forward, "frontend")
    add_key_options(forward, "backend")

    listen = add(
        "listen",
        "run the listener daemon: handlers from a TOML config file",
        "zcomet listen --config examples/helpdesk/listeners.toml",
        [loud],
    )
    listen.add_argument("--config", required=True, metavar="FILE")
    listen.add_argument(
        "--endpoint", "-e", metavar="EP", help="instead of the file's endpoints"
    )
    listen.add_argument(
        "--max-messages", type=int, metavar="N", help="exit after reading N messages"
    )
    add_key_options(listen)

    keygen = add(
        "keygen",
        "write a CURVE key pair: NAME.key (public) and NAME.key_secret",
        "zcomet keygen forwarder --dir keys",
        [quiet],
    )
    add_keygen_options(keygen)

    add(
        "demo",
        "run the helpdesk demo: forwarder, listener daemon, sender",
        "zcomet demo   (from a source checkout)",
        [quiet],
    )
    commands.add_parser(
        "bench",
        help="run the benchmarks (source checkout); 'zcomet bench --help'",
        add_help=False,
    )
    return parser


def _from_checkout(module: str) -> ModuleType | None:
    """Import a module that lives in the source checkout, not the package."""
    for attempt in range(2):
        try:
            return importlib.import_module(module)
        except ModuleNotFoundError as exc:
            top = module.partition(".")[0]
            if exc.name not in (top, module) or attempt:
                return None
            sys.path.insert(0, os.getcwd())
    return None


def _error(command: str, message: str, code: int) -> int:
    print(f"zcomet {command}: error: {message}", file=sys.stderr)
    return code


def _load_catalog(command: str, path: str | None) -> Catalog | int:
    if path is None:
        return Catalog()
    try:
        return Catalog.load(path)
    except DefinitionError as exc:
        return _error(command, str(exc), EXIT_USAGE)


def _check(args: argparse.Namespace) -> int:
    try:
        catalog = Catalog.load(args.catalog)
    except DefinitionError as exc:
        return _error("check", str(exc), EXIT_DATA)
    width = max([len(d.technical_name) for d in catalog] + [len("technical name")])
    print(f"{'technical name':<{width}}  {'fingerprint':<16}  name")
    for definition in catalog:
        print(
            f"{definition.technical_name:<{width}}  {definition.fingerprint}  "
            f"{definition.name}"
        )
    print(f"{args.catalog}: {len(catalog)} definition(s), ok", file=sys.stderr)
    return 0


def _forward(args: argparse.Namespace) -> int:
    from zcomet.net.forwarder import Forwarder, describe_statistics

    authenticators = []
    try:
        front, front_auth = settings_from_args(args, "frontend").build()
        # One authenticator per context: the backend shares the frontend's.
        back_settings = settings_from_args(args, "backend")
        if front_auth is not None and back_settings.allowlist:
            assert back_settings.keys is not None
            back: Security | None = Security.server(
                back_settings.keys, back_settings.allowlist, front_auth
            )
            back_auth = None
        else:
            back, back_auth = back_settings.build()
        authenticators = [a for a in (front_auth, back_auth) if a is not None]
        forwarder = Forwarder(
            args.frontend,
            args.backend,
            frontend_security=front,
            backend_security=back,
        )
    except (ConfigError, SecurityError) as exc:
        for auth in authenticators:
            auth.stop()
        return _error("forward", str(exc), EXIT_USAGE)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGUSR1:
            forwarder.request_statistics()
        elif signum == signal.SIGHUP:
            # Python runs this in the main thread, between two bytecodes of
            # run()'s loop: reading a directory here is safe.
            for auth in authenticators:
                try:
                    auth.reload()
                except SecurityError as exc:
                    log.error("SIGHUP: %s", exc)
        else:
            forwarder.request_stop()

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGHUP):
        signal.signal(signum, on_signal)

    def show(stats: Any) -> None:
        print(f"statistics: {describe_statistics(stats)}", flush=True)

    try:
        forwarder.run(stats_interval=args.stats_interval or None, on_request=show)
    finally:
        for auth in authenticators:
            auth.stop()
    return 0


def _listen(args: argparse.Namespace) -> int:
    from zcomet.app.config import load_config
    from zcomet.app.daemon import serve

    try:
        config = load_config(args.config, endpoints=args.endpoint)
    except ConfigError as exc:
        return _error("listen", str(exc), EXIT_USAGE)
    # Key options, else ZCOMET_* variables, else the file's [security] table.
    settings = settings_from_args(args)
    if settings.enabled:
        config = dataclasses.replace(config, security=settings)
    if args.log_level is None and config.log_level is not None:
        setup_logging(level_from_name(config.log_level))
    try:
        return serve(config, max_messages=args.max_messages)
    except (ConfigError, SecurityError) as exc:
        return _error("listen", str(exc), EXIT_USAGE)


def _demo(args: argparse.Namespace) -> int:
    module = _from_checkout("examples.helpdesk.demo")
    if module is None:
        return _error(
            "demo",
            "the demo lives in the source checkout (examples/helpdesk); "
            "run 'zcomet demo' from the repository's top directory",
            EXIT_USAGE,
        )
    code: int = module.main()
    return code


def _bench(argv: list[str]) -> int:
    module = _from_checkout("benchmarks.__main__")
    if module is None or not hasattr(module, "main"):
        return _error(
            "bench",
            "the benchmarks live in the source checkout (benchmarks/); "
            "run 'zcomet bench' from the repository's top directory",
            EXIT_USAGE,
        )
    code: int = module.main(argv)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``zcomet`` command; returns the process exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["bench"]:
        setup_logging(logging.WARNING)
        return _bench(arguments[1:])
    args = build_parser().parse_args(arguments)
    setup_logging(level_from_name(args.log_level or args.default_level))

    if args.command == "check":
        return _check(args)
    if args.command == "forward":
        return _forward(args)
    if args.command == "listen":
        return _listen(args)
    if args.command == "demo":
        return _demo(args)
    if args.command == "keygen":
        return run_keygen(args)

    catalog = _load_catalog(args.command, args.catalog)
    if isinstance(catalog, int):
        return catalog
    if args.command == "send":
        from zcomet.app.send import run_send

        return run_send(args, catalog)
    from zcomet.app.spy import run_spy

    try:
        return run_spy(args, catalog if args.catalog else None)
    except (ConfigError, ChannelError) as exc:
        return _error("spy", str(exc), EXIT_USAGE)


if __name__ == "__main__":
    sys.exit(main())

"""The listener daemon: config checks, handlers, pools, signals (real processes)."""

from __future__ import annotations

import signal
import socket
import textwrap
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from tests.helpers import HELPDESK, make_address, wait_until
from tests.processes import Proc, running, zcomet, zcomet_env
from zcomet import Catalog, ConfigError, Sender
from zcomet.app.config import load_config

pytestmark = pytest.mark.timeout(60)


def ack(number: int) -> dict[str, str]:
    """A valid page_ack message."""
    return {
        "ticket_id": f"T-{1000 + number}",
        "officer": "Ana",
        "acknowledged_at": "2025-01-02T03:04:05Z",
    }


def write_config(folder: Path, endpoint: str, subscriptions: str) -> Path:
    path = folder / "listeners.toml"
    path.write_text(
        f'endpoints = "{endpoint}"\n'
        f'catalog = "{HELPDESK}"\n'
        'log_level = "INFO"\n'
        "linger = 0.5\n" + textwrap.dedent(subscriptions)
    )
    return path


class Rig:
    """A daemon binding an ipc endpoint and an in-process sender connected to it."""

    def __init__(self, folder: Path, catalog: Catalog, subscriptions: str) -> None:
        self.out = folder / "handled.txt"
        self.out.touch()
        address = make_address("ipc", folder)
        self.config = write_config(folder, "@" + address, subscriptions)
        self.env = zcomet_env(ZCOMET_TEST_OUT=str(self.out))
        self.address = address
        self.catalog = catalog

    def lines(self) -> list[str]:
        return self.out.read_text().splitlines()

    def wait_lines(self, count: int, timeout: float = 10.0) -> list[str]:
        wait_until(lambda: len(self.lines()) >= count, timeout)
        return self.lines()

    @property
    def daemon(self) -> AbstractContextManager[Proc]:
        return running("listen", "--config", self.config, env=self.env)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path


RECORD = "tests.daemon_handlers:record"


def table(**keys: object) -> str:
    """One ``[[subscriptions]]`` table with these keys (TOML values via repr)."""
    lines = "".join(f"{key} = {value!r}\n" for key, value in keys.items())
    return "[[subscriptions]]\n" + lines.replace("'", '"')


@pytest.mark.parametrize(
    ("subscriptions", "key", "words"),
    [
        (table(channel="acks"), "subscriptions[0].handler", "missing"),
        (
            table(channel="acks", handler="no.such.module:f"),
            "subscriptions[0].handler",
            "cannot import",
        ),
        (
            table(channel="acks", handler="tests.daemon_handlers:nope"),
            "subscriptions[0].handler",
            "has no",
        ),
        (
            table(channel="acks..x", handler=RECORD),
            "subscriptions[0].channel",
            "invalid",
        ),
        (
            table(channel="acks", definition="nope", handler=RECORD),
            "subscriptions[0].definition",
            "not in the catalog",
        ),
        (
            table(channel="acks", concurrency=0, handler=RECORD),
            "subscriptions[0].concurrency",
            "1 or more",
        ),
        (
            table(chanel="acks", handler=RECORD),
            "subscriptions[0].chanel",
            "unknown key",
        ),
        (
            table(channel="acks", handler=RECORD) + table(channel=5, handler=RECORD),
            "subscriptions[1].channel",
            "expected str",
        ),
        ("subscriptions = []\n", "subscriptions", "at least one"),
    ],
)
def test_config_errors_name_the_file_and_the_key(
    folder: Path, subscriptions: str, key: str, words: str
) -> None:
    path = write_config(folder, ">ipc:///tmp/unused.sock", subscriptions)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.source == str(path)
    assert caught.value.key == key
    assert words in str(caught.value)


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"catalog": "missing.toml"}, "catalog"),
        ({"endpoints": "nowhere"}, "endpoints"),
        ({"log_level": "LOUD"}, "log_level"),
    ],
)
def test_top_level_config_errors_name_the_key(
    folder: Path, change: dict[str, str], key: str
) -> None:
    values = {"endpoints": ">ipc:///tmp/unused.sock", "catalog": str(HELPDESK)}
    values.update(change)
    path = folder / "listeners.toml"
    path.write_text(
        "".join(f'{k} = "{v}"\n' for k, v in values.items())
        + "[[subscriptions]]\nchannel = 'acks'\n"
        "handler = 'tests.daemon_handlers:record'\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.key == key


def test_a_config_error_exits_2_with_the_file_and_key_on_stderr(folder: Path) -> None:
    path = write_config(
        folder,
        ">ipc:///tmp/unused.sock",
        "[[subscriptions]]\nchannel = 'acks'\nhandler = 'tests.daemon_handlers'\n",
    )
    result = zcomet("listen", "--config", path)
    assert result.returncode == 2
    assert str(path) in result.stderr
    assert "subscriptions[0].handler" in result.stderr
    assert "package.module:function" in result.stderr


def test_sync_and_async_handlers_run_and_a_failing_one_does_not_stop_the_daemon(
    folder: Path, catalog: Catalog
) -> None:
    rig = Rig(
        folder,
        catalog,
        """
        [[subscriptions]]
        channel = "acks.sync"
        handler = "tests.daemon_handlers:record"

        [[subscriptions]]
        channel = "acks.*"
        definition = "page_ack"
        handler = "tests.daemon_handlers:record_async"

        [[subscriptions]]
        channel = "acks.fail"
        handler = "tests.daemon_handlers:fail"
        """,
    )
    with rig.daemon as daemon, Sender(">" + rig.address, catalog) as sender:
        daemon.wait_for("daemon ready")
        for channel in ("acks.sync", "acks.fail"):
            sender.wait_for_listeners(channel, 1, timeout=10)
        sender.send("acks.fail", "page_ack", ack(1))
        sender.send("acks.sync", "page_ack", ack(2))
        lines = rig.wait_lines(3)
        daemon.wait_for("failing on purpose on T-1001")

        daemon.popen.send_signal(signal.SIGTERM)
        assert daemon.wait(10) == 0

    assert sorted(lines) == [
        "async acks.fail T-1001",
        "async acks.sync T-1002",
        "sync acks.sync T-1002",
    ]
    assert "Traceback" in daemon.stderr
    assert "'failed': 1" in daemon.stderr  # counted, in the final report


def test_sigterm_finishes_the_message_in_hand_and_exits_0(
    folder: Path, catalog: Catalog
) -> None:
    rig = Rig(
        folder,
        catalog,
        """
        [[subscriptions]]
        channel = "acks"
        handler = "tests.daemon_handlers:slow"
        """,
    )
    with rig.daemon as daemon, Sender(">" + rig.address, catalog) as sender:
        sender.wait_for_listeners("acks", 1, timeout=10)
        sender.send("acks", "page_ack", ack(1))
        rig.wait_lines(1)  # the handler has started and sleeps 0.5 s

        daemon.popen.send_signal(signal.SIGTERM)
        assert daemon.wait(10) == 0
    assert rig.lines() == ["start T-1001", "done T-1001"]
    assert "finishing the message in hand" in daemon.stderr


@pytest.mark.parametrize("handler", ["pooled", "pooled_async"])
def test_a_pool_runs_calls_at_once_reports_when_full_and_drains_on_stop(
    folder: Path, catalog: Catalog, handler: str
) -> None:
    rig = Rig(
        folder,
        catalog,
        f"""
        [[subscriptions]]
        channel = "acks"
        handler = "tests.daemon_handlers:{handler}"
        concurrency = 2
        """,
    )
    with rig.daemon as daemon, Sender(">" + rig.address, catalog) as sender:
        sender.wait_for_listeners("acks", 1, timeout=10)
        for number in range(1, 6):
            sender.send("acks", "page_ack", ack(number))
        daemon.wait_for("all 2 workers busy")
        rig.wait_lines(3)

        # Stop with calls still running: they finish before the exit.
        daemon.popen.send_signal(signal.SIGTERM)
        assert daemon.wait(15) == 0

    peaks = [int(line.split()[-1]) for line in rig.lines()]
    assert len(peaks) == 5
    assert max(peaks) == 2  # two at once, never more
    assert "'pool_full': " in daemon.stderr


def test_the_daemon_tells_systemd_when_it_is_ready_and_when_it_stops(
    folder: Path, catalog: Catalog
) -> None:
    rig = Rig(folder, catalog, table(channel="acks", handler=RECORD))
    notify_path = folder / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as notify:
        notify.bind(str(notify_path))
        notify.settimeout(15)
        env = {**rig.env, "NOTIFY_SOCKET": str(notify_path)}
        with running("listen", "--config", rig.config, env=env) as daemon:
            assert notify.recv(100) == b"READY=1"
            daemon.popen.send_signal(signal.SIGTERM)
            assert notify.recv(100) == b"STOPPING=1"
            assert daemon.wait(10) == 0

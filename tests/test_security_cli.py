"""CURVE from the command line: keygen, a secured forwarder, daemon, send, SIGHUP."""

from __future__ import annotations

import shutil
import signal
import socket
from pathlib import Path

import pytest

from tests.helpers import HELPDESK, ticket, wait_until
from tests.processes import running, zcomet, zcomet_env
from zcomet.app.jsonio import dumps

pytestmark = pytest.mark.timeout(90)


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_keygen_writes_a_pair_and_never_overwrites(tmp_path: Path) -> None:
    first = zcomet("keygen", "alice", "--dir", tmp_path)
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "alice.key").exists()
    assert (tmp_path / "alice.key_secret").stat().st_mode & 0o077 == 0

    again = zcomet("keygen", "alice", "--dir", tmp_path)
    assert again.returncode == 2
    assert "not overwriting" in again.stderr


def test_a_forwarder_with_an_empty_allowlist_refuses_to_start(tmp_path: Path) -> None:
    assert zcomet("keygen", "fw", "--dir", tmp_path).returncode == 0
    (tmp_path / "empty").mkdir()
    result = zcomet(
        "forward", "--frontend", f"@tcp://127.0.0.1:{_port()}",
        "--frontend-keys", tmp_path / "fw.key_secret",
        "--frontend-allowlist", tmp_path / "empty",
    )  # fmt: skip
    assert result.returncode == 2
    assert "holds no *.key file" in result.stderr


def test_secured_forwarder_daemon_and_send_then_sighup_removes_a_key(
    tmp_path: Path,
) -> None:
    keys = tmp_path / "keys"
    for name in ("forwarder", "app", "pager"):
        assert zcomet("keygen", name, "--dir", keys).returncode == 0
    senders, listeners = keys / "senders", keys / "listeners"
    senders.mkdir()
    listeners.mkdir()
    shutil.copy(keys / "app.key", senders)
    shutil.copy(keys / "pager.key", listeners)
    frontend, backend = _port(), _port()
    out = tmp_path / "handled.txt"
    config = tmp_path / "listeners.toml"
    config.write_text(
        f'endpoints = ">tcp://127.0.0.1:{backend}"\ncatalog = "{HELPDESK}"\n'
        "[[subscriptions]]\nchannel = 'escalation'\n"
        "handler = 'tests.daemon_handlers:record'\n"
        "[security]\nkeys = 'keys/pager.key_secret'\n"
        "server_key = 'keys/forwarder.key'\n"
    )
    forward = (
        "forward",
        "--frontend", f"@tcp://127.0.0.1:{frontend}",
        "--backend", f"@tcp://127.0.0.1:{backend}",
        "--frontend-keys", keys / "forwarder.key_secret",
        "--frontend-allowlist", senders,
        "--backend-keys", keys / "forwarder.key_secret",
        "--backend-allowlist", listeners,
    )  # fmt: skip
    # The sender's keys come from the environment.
    app_env = zcomet_env(
        ZCOMET_KEYS=str(keys / "app.key_secret"),
        ZCOMET_SERVER_KEY=str(keys / "forwarder.key"),
    )
    send = (
        "send", "-e", f">tcp://127.0.0.1:{frontend}", "-c", HELPDESK,
        "--timeout", "5", "escalation", "ticket_escalation", dumps(ticket(1)),
    )  # fmt: skip
    with (
        running(*forward) as forwarder,
        running(
            "listen", "--config", config, env=zcomet_env(ZCOMET_TEST_OUT=str(out))
        ) as daemon,
    ):
        forwarder.wait_for("forwarding")
        daemon.wait_for("daemon ready")

        sent = zcomet(*send, env=app_env)
        assert sent.returncode == 0, sent.stderr
        wait_until(lambda: out.exists() and "T-1001" in out.read_text(), 10)

        # A wrong server key: a clear error within the timeout, nothing sent.
        wrong_env = zcomet_env(
            ZCOMET_KEYS=str(keys / "app.key_secret"),
            ZCOMET_SERVER_KEY=str(keys / "pager.key"),
        )
        wrong = zcomet(*send[:-5], "--timeout", "1", *send[-3:], env=wrong_env)
        assert wrong.returncode == 1
        assert "wrong server key" in wrong.stderr

        # Remove the app's key and reload: it can no longer connect.
        (senders / "app.key").unlink()
        shutil.copy(keys / "pager.key", senders)  # keep the allowlist non-empty
        forwarder.popen.send_signal(signal.SIGHUP)
        forwarder.wait_for("reloaded")
        refused = zcomet(*send, env=app_env)
        assert refused.returncode == 1
        assert "refused our key" in refused.stderr

        daemon.popen.send_signal(signal.SIGTERM)
        assert daemon.wait() == 0
    assert out.read_text().count("T-1001") == 1

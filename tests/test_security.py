"""CURVE security: refused peers deliver nothing, startup fails closed, bytes hide.

Each figure is a test with its positive control in the same test: an
authorised sender delivers N of N while the unauthorised ones deliver 0 of N.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq

from tests.helpers import Inbox, ticket, wait_until
from zcomet import Catalog, Forwarder, Listener, SecurityError, Sender
from zcomet.net.security import Authenticator, Security, generate_keys, load_allowlist

pytestmark = pytest.mark.timeout(60)

N = 20


class Keys:
    """A key directory: server, senders', listeners' and stranger key pairs."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.senders = root / "senders"
        self.listeners = root / "listeners"
        for folder in (self.senders, self.listeners):
            folder.mkdir()
        for name in ("server", "sender", "listener", "stranger"):
            generate_keys(root, name)
        shutil.copy(root / "sender.key", self.senders)
        shutil.copy(root / "listener.key", self.listeners)

    def secret(self, name: str) -> Path:
        return self.root / f"{name}.key_secret"

    def public(self, name: str) -> Path:
        return self.root / f"{name}.key"

    def client(self, name: str, server: str = "server") -> Security:
        return Security.client(self.secret(name), self.public(server))


@pytest.fixture
def keys(tmp_path: Path) -> Keys:
    return Keys(tmp_path)


@pytest.fixture
def auth() -> Iterator[Authenticator]:
    authenticator = Authenticator().start()
    yield authenticator
    authenticator.stop()


@pytest.fixture
def forwarder(keys: Keys, auth: Authenticator) -> Iterator[Forwarder]:
    fw = Forwarder(
        "@tcp://127.0.0.1:*",
        "@tcp://127.0.0.1:*",
        frontend_security=Security.server(keys.secret("server"), keys.senders, auth),
        backend_security=Security.server(keys.secret("server"), keys.listeners, auth),
    )
    with fw:
        fw.start()
        yield fw


def _raw_bytes(address: str) -> None:
    """Connect with plain TCP, write garbage and a fake ZMTP greeting, leave."""
    host, port = address.removeprefix("tcp://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=2) as raw:
        raw.sendall(b"\xff" + b"\x00" * 8 + b"\x7f\x03\x00NULL" + b"\x00" * 16)
        raw.sendall(b"escalation T-0001 " * 50)


def _plain_zmq_sender(
    address: str, mechanism: str, frames: list[bytes]
) -> zmq.Socket[bytes]:
    """Send N copies of valid zcomet frames from a non-CURVE pyzmq socket."""
    ctx = zmq.Context.instance()
    pub = ctx.socket(zmq.PUB)
    pub.linger = 0
    if mechanism == "PLAIN":
        pub.plain_username = b"admin"
        pub.plain_password = b"secret"
    pub.connect(address)
    for _ in range(N):
        pub.send_multipart(frames)
    return pub  # left open, retrying, until the test ends


def test_unauthorised_senders_deliver_nothing_and_the_authorised_one_everything(
    catalog: Catalog,
    keys: Keys,
    forwarder: Forwarder,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    frontend = forwarder.frontend_addresses[0]
    backend = forwarder.backend_addresses[0]
    inbox = Inbox()
    listener = Listener(">" + backend, catalog, security=keys.client("listener"))
    control = Sender(">" + frontend, catalog, security=keys.client("sender"))
    intruders = {
        "random key": Sender(">" + frontend, catalog, security=keys.client("stranger")),
        "wrong server key": Sender(
            ">" + frontend, catalog, security=keys.client("sender", "stranger")
        ),
        "NULL": Sender(">" + frontend, catalog),
    }
    with listener, control:
        listener.on("escalation", inbox)
        listener.start()
        listener.wait_secure(5)
        control.wait_secure(5)
        control.wait_for_listeners("escalation", 1)
        # The intruders see no subscription, so they would not even send:
        # make them try, and have raw pyzmq senders push valid frames anyway.
        for sender in intruders.values():
            with pytest.raises(SecurityError):  # NULL: not secured at all
                sender.wait_secure(0.5)
            for number in range(N):
                sender.send("escalation", "ticket_escalation", ticket(number + 1))
        frames = _valid_frames(catalog)
        raw_senders = [
            _plain_zmq_sender(frontend, mechanism, frames)
            for mechanism in ("NULL", "PLAIN")
        ]
        _raw_bytes(frontend)

        for number in range(N):
            control.send("escalation", "ticket_escalation", ticket(number + 1))
        messages = inbox.wait_for(N)
        guard = forwarder.frontend_guard
        assert guard is not None
        # Every kind of intruder is seen and counted before we look at the inbox.
        wait_until(lambda: guard.stats.wrong_mechanism >= 3)
        wait_until(lambda: guard.stats.unauthorised >= 1)
        wait_until(lambda: guard.stats.bad_handshake >= 2)

    for sender in intruders.values():
        sender.close()
    for raw in raw_senders:
        raw.close(0)
    assert len(messages) == N  # control: N of N
    assert {m.sender for m in inbox.messages} == {control.id}  # intruders: 0 of N
    warnings = " ".join(r.getMessage() for r in caplog.records)
    assert "unknown key" in warnings
    assert "wrong mechanism" in warnings
    assert "bad handshake" in warnings


def test_unauthorised_listeners_receive_nothing_on_the_backend(
    catalog: Catalog, keys: Keys, forwarder: Forwarder
) -> None:
    frontend = forwarder.frontend_addresses[0]
    backend = forwarder.backend_addresses[0]
    good, bad = Inbox(), Inbox()
    listener = Listener(">" + backend, catalog, security=keys.client("listener"))
    intruders = [
        Listener(">" + backend, catalog, security=keys.client("stranger")),
        # An authorised sender's key is still a stranger on the listeners' side.
        Listener(">" + backend, catalog, security=keys.client("sender")),
        Listener(">" + backend, catalog, security=keys.client("listener", "stranger")),
        Listener(">" + backend, catalog),
    ]
    sender = Sender(">" + frontend, catalog, security=keys.client("sender"))
    with sender, listener:
        for intruder in intruders:
            intruder.on("escalation", bad)
            intruder.start()
        listener.on("escalation", good)
        listener.start()
        listener.wait_secure(5)
        sender.wait_for_listeners("escalation", 1)
        for intruder in intruders[:3]:
            with pytest.raises(SecurityError, match="last failure"):
                intruder.wait_secure(0.5)

        for number in range(N):
            sender.send("escalation", "ticket_escalation", ticket(number + 1))
        good.wait_for(N)
        # Only one subscription ever reached the sender: the authorised one.
        assert sender.subscriptions("escalation") == 1

    for intruder in intruders:
        intruder.close()
    assert len(good.messages) == N
    assert bad.messages == []
    backend_guard = forwarder.backend_guard
    assert backend_guard is not None
    assert backend_guard.stats.refused >= 3


def test_a_wrong_server_key_raises_a_clear_error_within_the_timeout(
    catalog: Catalog, keys: Keys, auth: Authenticator
) -> None:
    server = Security.server(keys.secret("server"), keys.listeners, auth)
    with Sender("@tcp://127.0.0.1:*", catalog, security=server) as sender:
        wrong = keys.client("listener", server="stranger")
        with Listener(">" + sender.addresses[0], catalog, security=wrong) as listener:
            started = time.monotonic()
            with pytest.raises(SecurityError, match="wrong server key"):
                listener.wait_secure(1.0)
            assert time.monotonic() - started < 2.0


@pytest.mark.parametrize("state", ["never started", "stopped"])
def test_a_curve_server_without_a_running_authenticator_refuses_to_start(
    catalog: Catalog, keys: Keys, state: str
) -> None:
    auth = Authenticator()
    server = Security.server(keys.secret("server"), keys.senders, auth)
    if state == "stopped":
        auth.start()
        auth.stop()
    refusals = 0
    for _ in range(20):
        with pytest.raises(SecurityError, match="authenticator is not running"):
            Sender("@tcp://127.0.0.1:*", catalog, security=server)
        with pytest.raises(SecurityError, match="authenticator is not running"):
            Forwarder(
                "@tcp://127.0.0.1:*", "@tcp://127.0.0.1:*", frontend_security=server
            )
        refusals += 2
    assert refusals == 40

    # Positive control: the same settings start once the authenticator runs.
    with auth, Sender("@tcp://127.0.0.1:*", catalog, security=server) as sender:
        assert sender.addresses


@pytest.mark.parametrize("case", ["empty", "missing", "unreadable", "malformed"])
def test_a_bad_allowlist_is_a_startup_error(
    keys: Keys, auth: Authenticator, tmp_path: Path, case: str
) -> None:
    folder = tmp_path / "allow"
    if case != "missing":
        folder.mkdir()
    if case == "unreadable":
        shutil.copy(keys.public("sender"), folder)
        if os.geteuid() == 0:
            pytest.skip("root reads any directory")
        folder.chmod(0)
    if case == "malformed":
        (folder / "x.key").write_text("not a key\n")
    try:
        with pytest.raises(SecurityError):
            Security.server(keys.secret("server"), folder, auth)
    finally:
        folder.chmod(0o700) if folder.exists() else None
    assert load_allowlist(keys.senders)  # control: a good directory loads


def test_stopping_the_authenticator_closes_the_server_sockets(
    catalog: Catalog, keys: Keys
) -> None:
    auth = Authenticator().start()
    server = Security.server(keys.secret("server"), keys.listeners, auth)
    sender = Sender("@tcp://127.0.0.1:*", catalog, security=server)
    forwarder = Forwarder(
        "@tcp://127.0.0.1:*", "@tcp://127.0.0.1:*", backend_security=server
    ).start()
    sender.send("escalation", "ticket_escalation", ticket(1))  # control

    auth.stop()

    with pytest.raises(SecurityError, match="authenticator stopped"):
        sender.send("escalation", "ticket_escalation", ticket(2))
    assert not forwarder.running
    sender.close()


def test_a_removed_key_can_no_longer_connect_after_reload(
    catalog: Catalog, keys: Keys, auth: Authenticator
) -> None:
    generate_keys(keys.root, "temp")
    shutil.copy(keys.public("temp"), keys.listeners)
    server = Security.server(keys.secret("server"), keys.listeners, auth)
    with Sender("@tcp://127.0.0.1:*", catalog, security=server) as sender:
        address = ">" + sender.addresses[0]
        with Listener(address, catalog, security=keys.client("temp")) as before:
            before.wait_secure(5)  # control: allowed before the reload

        (keys.listeners / "temp.key").unlink()
        assert server.reload() == 1

        after = Listener(address, catalog, security=keys.client("temp"))
        with after, pytest.raises(SecurityError, match="refused our key"):
            after.wait_secure(1)
        with Listener(address, catalog, security=keys.client("listener")) as kept:
            kept.wait_secure(5)  # control: the remaining key still connects
        stats = server.stats
        assert stats is not None and stats.refused >= 1 and stats.reloads == 1


def test_a_reload_to_an_empty_allowlist_refuses_everyone(
    catalog: Catalog, keys: Keys, auth: Authenticator
) -> None:
    server = Security.server(keys.secret("server"), keys.listeners, auth)
    with Sender("@tcp://127.0.0.1:*", catalog, security=server) as sender:
        (keys.listeners / "listener.key").unlink()
        with pytest.raises(SecurityError, match="holds no"):
            server.reload()
        address = ">" + sender.addresses[0]
        late = Listener(address, catalog, security=keys.client("listener"))
        with late, pytest.raises(SecurityError, match="refused our key"):
            late.wait_secure(1)


# -- confidentiality: a loopback capture -------------------------------------

CANARY = "CANARY-7f3a9c-zcomet"


def _tcpdump() -> str:
    path = shutil.which("tcpdump")
    if path is None:
        pytest.skip("tcpdump is not installed (make test installs it as root)")
    if os.geteuid() != 0:
        pytest.skip("capturing on lo needs root")
    return path


class Capture:
    """tcpdump on lo for one TCP port, started and stopped with deadlines."""

    def __init__(self, tcpdump: str, port: int, pcap: Path) -> None:
        self.pcap = pcap
        self.process = subprocess.Popen(
            [
                tcpdump,
                "-i",
                "lo",
                "--immediate-mode",
                "-U",
                "-n",
                "-w",
                str(pcap),
                f"tcp port {port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        assert self.process.stderr is not None
        deadline = time.monotonic() + 10
        line = b""
        while b"listening on" not in line:
            assert time.monotonic() < deadline, "tcpdump did not start"
            line = self.process.stderr.readline()
            if not line and self.process.poll() is not None:
                pytest.skip(f"tcpdump cannot capture: exit {self.process.returncode}")

    def stop(self) -> bytes:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        return self.pcap.read_bytes()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("secured", [True, False], ids=["curve", "plain-control"])
def test_a_canary_never_appears_on_the_wire_with_curve(
    catalog: Catalog, keys: Keys, auth: Authenticator, tmp_path: Path, secured: bool
) -> None:
    tcpdump = _tcpdump()
    port = _free_port()
    capture = Capture(tcpdump, port, tmp_path / "lo.pcap")
    server = Security.server(keys.secret("server"), keys.listeners, auth)
    inbox = Inbox()
    try:
        with Sender(
            f"@tcp://127.0.0.1:{port}", catalog, security=server if secured else None
        ) as sender:
            client = keys.client("listener") if secured else None
            with Listener(">" + sender.addresses[0], catalog, security=client) as ear:
                ear.on("escalation", inbox)
                ear.start()
                sender.wait_for_listeners("escalation", 1)
                for number in range(N):
                    data = ticket(number + 1, customer=f"{CANARY} {number}")
                    sender.send("escalation", "ticket_escalation", data)
                inbox.wait_for(N)
    finally:
        captured = capture.stop()

    seen = captured.count(CANARY.encode())
    print(f"canary seen {seen} times in {len(captured)} captured bytes")
    assert len(inbox.messages) == N  # the messages did travel, N of N
    if secured:
        assert seen == 0, f"canary seen {seen} times in the CURVE capture"
    else:
        assert seen > 0, f"canary seen {seen} times without CURVE"


# -- helpers -------------------------------------------------------------------


def _valid_frames(catalog: Catalog) -> list[bytes]:
    """Well-formed zcomet frames, as an intruder copying the protocol would send."""
    from zcomet.net.outbox import Outbox, new_sender_id

    outbox = Outbox(catalog, new_sender_id())
    resolved, body = outbox.body("ticket_escalation", ticket(1))
    _, header = outbox.number("escalation", resolved)
    return [outbox.topic("escalation"), header, body]

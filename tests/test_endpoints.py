from __future__ import annotations

import pytest
import zmq

from zcomet import ConfigError, Endpoint
from zcomet.net.endpoints import attach, parse_endpoints


@pytest.mark.parametrize(
    ("spec", "default", "expected"),
    [
        ("@tcp://127.0.0.1:5555", "connect", [Endpoint("tcp://127.0.0.1:5555", True)]),
        (">ipc:///tmp/a.sock", "bind", [Endpoint("ipc:///tmp/a.sock", False)]),
        ("tcp://127.0.0.1:1", "bind", [Endpoint("tcp://127.0.0.1:1", True)]),
        ("tcp://127.0.0.1:1", "connect", [Endpoint("tcp://127.0.0.1:1", False)]),
        (
            "@inproc://a, >tcp://127.0.0.1:2",
            "connect",
            [Endpoint("inproc://a", True), Endpoint("tcp://127.0.0.1:2", False)],
        ),
        (
            ["@inproc://a", Endpoint("inproc://b", False)],
            "bind",
            [Endpoint("inproc://a", True), Endpoint("inproc://b", False)],
        ),
    ],
)
def test_the_endpoint_notation(
    spec: str | list[str | Endpoint], default: str, expected: list[Endpoint]
) -> None:
    assert parse_endpoints(spec, default) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("spec", ["", "127.0.0.1:5555", "@localhost", "http://x", []])
def test_bad_endpoints_raise_config_error_with_an_example(spec: str) -> None:
    with pytest.raises(ConfigError, match=r"endpoint"):
        parse_endpoints(spec, "bind")


def test_endpoints_print_in_their_own_notation() -> None:
    assert str(Endpoint("tcp://127.0.0.1:5555", True)) == "@tcp://127.0.0.1:5555"
    assert str(Endpoint("ipc:///tmp/x", False)) == ">ipc:///tmp/x"


def test_attach_reports_the_port_a_wildcard_bind_picked() -> None:
    socket = zmq.Context.instance().socket(zmq.PUB)
    try:
        [address] = attach(socket, parse_endpoints("@tcp://127.0.0.1:*", "bind"))
        assert address.startswith("tcp://127.0.0.1:")
        assert int(address.rsplit(":", 1)[1]) > 0
    finally:
        socket.close(0)


def test_attach_turns_a_refused_bind_into_config_error() -> None:
    context = zmq.Context.instance()
    first, second = context.socket(zmq.PUB), context.socket(zmq.PUB)
    try:
        [address] = attach(first, parse_endpoints("@tcp://127.0.0.1:*", "bind"))
        with pytest.raises(ConfigError, match="cannot bind"):
            attach(second, parse_endpoints("@" + address, "bind"))
    finally:
        first.close(0)
        second.close(0)

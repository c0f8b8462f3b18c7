"""The zcomet command, driven in subprocesses as a user drives it."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.helpers import HELPDESK, make_address, ticket, wait_until
from tests.processes import running, zcomet, zcomet_env
from zcomet import Catalog, Sender
from zcomet.app import cli
from zcomet.app.jsonio import dumps

pytestmark = pytest.mark.timeout(60)


def ticket_json(number: int = 1, **changes: object) -> str:
    return dumps(ticket(number, **changes))


def test_check_prints_each_technical_name_and_fingerprint(catalog: Catalog) -> None:
    result = zcomet("check", HELPDESK)
    assert result.returncode == 0, result.stderr
    rows = [line.split()[:2] for line in result.stdout.splitlines()[1:]]
    assert rows == [[d.technical_name, d.fingerprint] for d in catalog]


def test_check_of_a_bad_file_exits_non_zero_naming_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[[definitions]]\nname = 'X'\nfields.a = { type = 'colour' }\n")
    result = zcomet("check", bad)
    assert result.returncode == 1
    assert str(bad) in result.stderr
    assert result.stdout == ""


def test_send_through_a_forwarder_reaches_the_daemon_and_spy(
    tmp_path: Path, catalog: Catalog
) -> None:
    frontend, backend = (make_address("ipc", tmp_path) for _ in range(2))
    out = tmp_path / "handled.txt"
    config = tmp_path / "listeners.toml"
    config.write_text(
        f'endpoints = ">{backend}"\ncatalog = "{HELPDESK}"\n'
        "[[subscriptions]]\nchannel = 'escalation'\n"
        "handler = 'tests.daemon_handlers:record'\n"
    )
    env = zcomet_env(ZCOMET_TEST_OUT=str(out))
    data = [ticket_json(1), ticket_json(2)]
    forward = ("forward", "--frontend", f"@{frontend}", "--backend", f"@{backend}")
    # Spy takes every channel: its subscription (the empty prefix) differs
    # from the daemon's, so a sender connecting later sees two. (Identical
    # subscriptions reach a late sender merged into one, by libzmq's XSUB.)
    spy_args = ("spy", "-e", f">{backend}", "-c", HELPDESK, "--json", "-n", "2")
    with (
        running(*forward) as forwarder,
        running("listen", "--config", config, env=env) as daemon,
        running(*spy_args, "--timeout", "30") as spy,
    ):
        forwarder.wait_for("forwarding")
        # One message from the argument, one from stdin; both wait for the
        # daemon's and spy's subscriptions to come through the forwarder.
        sent = [
            zcomet(
                "send", "-e", f">{frontend}", "-c", HELPDESK, "--wait-listeners", "2",
                "escalation", "ticket_escalation", data[0],
            ),
            zcomet(
                "send", "-e", f">{frontend}", "-c", HELPDESK, "--wait-listeners", "2",
                "escalation", "ticket_escalation", input=data[1],
            ),
        ]  # fmt: skip
        for result in sent:
            assert result.returncode == 0, result.stderr
            assert "sent 1 ticket_escalation message(s) on escalation" in result.stderr

        assert spy.wait(15) == 0
        wait_until(lambda: out.exists() and len(out.read_text().splitlines()) == 2, 15)
        daemon.popen.send_signal(signal.SIGTERM)
        assert daemon.wait(10) == 0

    assert out.read_text().splitlines() == [
        "sync escalation T-1001",
        "sync escalation T-1002",
    ]
    records = [json.loads(line) for line in spy.stdout.splitlines()]
    assert [r["data"]["ticket_id"] for r in records] == ["T-1001", "T-1002"]
    first = records[0]
    assert first["channel"] == "escalation"
    assert first["definition"] == "ticket_escalation"
    assert first["fingerprint"] == catalog["ticket_escalation"].fingerprint
    assert first["check"] == "valid"
    assert first["sequence"] == 1
    assert first["data"]["response_due"] == 900.0
    # What spy prints can be sent again (spy also shows absent optional fields).
    assert {k: v for k, v in first["data"].items() if v is not None} == json.loads(
        data[0]
    )


def test_bad_json_and_invalid_data_exit_non_zero_and_send_nothing(
    tmp_path: Path,
) -> None:
    frontend, backend = (make_address("ipc", tmp_path) for _ in range(2))
    send = ("send", "-e", f">{frontend}", "-c", HELPDESK, "escalation")
    forward = ("forward", "--frontend", f"@{frontend}", "--backend", f"@{backend}")
    with (
        running(*forward) as forwarder,
        running("spy", "-e", f">{backend}", "--json", "-n", "1", "escalation") as spy,
    ):
        forwarder.wait_for("forwarding")
        spy.wait_for("listening on escalation")

        bad_json = zcomet(*send, "ticket_escalation", '{"ticket_id": "T-1001",')
        invalid = zcomet(
            *send, "ticket_escalation", ticket_json(1, ticket_id="oops", priority="meh")
        )
        bad_line = zcomet(
            *send, "ticket_escalation", "--lines",
            input=f"{ticket_json(1)}\n{ticket_json(2, impact_score=11)}\n",
        )  # fmt: skip
        unknown = zcomet(*send, "no_such_definition", ticket_json(1))
        # The positive control: a valid message in the same set-up arrives.
        good = zcomet(*send, "ticket_escalation", ticket_json(7))
        assert good.returncode == 0, good.stderr
        assert spy.wait(15) == 0

        forwarder.popen.send_signal(signal.SIGUSR1)
        stats = forwarder.wait_for("statistics:", stream="stdout")

    assert bad_json.returncode == 1
    assert "not valid JSON" in bad_json.stderr
    assert "nothing sent" in bad_json.stderr
    assert invalid.returncode == 1
    assert "ticket_id: Does not match the pattern" in invalid.stderr
    assert "priority: " in invalid.stderr
    assert bad_line.returncode == 1
    assert "(line 2)" in bad_line.stderr
    assert "impact_score: " in bad_line.stderr
    assert unknown.returncode == 2
    assert "no definition 'no_such_definition'" in unknown.stderr
    # Only the control went through: one message of three frames.
    assert [
        json.loads(line)["data"]["ticket_id"] for line in spy.stdout.splitlines()
    ] == ["T-1007"]
    assert "statistics: in 3 frames" in stats


def test_send_without_listeners_times_out_and_sends_nothing(tmp_path: Path) -> None:
    result = zcomet(
        "send", "-e", f">{make_address('ipc', tmp_path)}", "-c", HELPDESK,
        "--timeout", "0.2", "escalation", "ticket_escalation", ticket_json(1),
    )  # fmt: skip
    assert result.returncode == 1
    assert "0 of 1 listeners" in result.stderr
    assert "nothing sent" in result.stderr


def test_spy_shows_messages_of_definitions_it_has_no_catalog_for(
    tmp_path: Path, catalog: Catalog
) -> None:
    address = make_address("ipc", tmp_path)
    spy_args = ("spy", "-e", f">{address}", "-n", "1", "escalation")
    with Sender("@" + address, catalog) as sender, running(*spy_args) as spy:
        sender.wait_for_listeners("escalation", 1, timeout=10)
        sender.send("escalation", "ticket_escalation", ticket(3))
        assert spy.wait(15) == 0
    header = spy.stdout.splitlines()[0]
    assert "escalation ticket_escalation #1 from" in header
    assert "(unchecked)" in header
    assert '"ticket_id": "T-1003"' in spy.stdout


def test_spy_stats_counts_messages_per_channel(
    tmp_path: Path, catalog: Catalog
) -> None:
    address = make_address("ipc", tmp_path)
    with Sender("@" + address, catalog) as sender:
        spy_args = ("spy", "-e", f">{address}", "--stats", "-n", "3", "desk.>")
        with running(*spy_args) as spy:
            sender.wait_for_listeners("desk.a", 1, timeout=10)
            for channel in ("desk.a", "desk.b", "other", "desk.a"):
                sender.send(channel, "ticket_escalation", ticket(1))
            assert spy.wait(15) == 0
    rows = {line.split()[0]: line.split() for line in spy.stdout.splitlines()}
    assert rows["desk.a"][1] == "2"
    assert rows["desk.b"][1] == "1"
    assert "other" not in rows
    assert "rate/s" in spy.stdout


def test_zcomet_demo_pages_the_duty_officer_through_forwarder_and_daemon() -> None:
    result = zcomet("demo", timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("PAGE duty officer:") == 3
    assert "demo: ok" in result.stdout
    assert "daemon ready" in result.stderr


@pytest.mark.parametrize(
    "command", ["send", "spy", "check", "forward", "listen", "demo"]
)
def test_every_command_help_explains_the_endpoint_notation(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main([command, "--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    assert "'@' binds, '>' connects" in text
    assert "example:" in text


def test_bench_forwards_its_arguments_to_the_benchmarks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[list[str]] = []
    fake = ModuleType("benchmarks.__main__")
    fake.main = lambda argv: seen.append(argv) or 7  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "benchmarks.__main__", fake)
    assert cli.main(["bench", "--help", "--size", "64"]) == 7
    assert seen == [["--help", "--size", "64"]]


def test_bench_outside_a_checkout_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "_from_checkout", lambda module: None)
    assert cli.main(["bench"]) == 2
    assert "source checkout" in capsys.readouterr().err

"""Run every reliability scenario at full size; print a table, write JSON.

``make stress`` runs ``python -m stress.run``; the JSON goes to
``results/stress.json`` (``--out`` to change it).
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import zmq

from stress import accounting, fanout, faults, hostile


def _checks(r: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(figure, measured, requirement met) for the table."""
    d, lo, sl = r["delivery"], r["loss"], r["slow_listener"]
    fw, li, hb, cy = (
        r["forwarder_killed"],
        r["listener_killed"],
        r["heartbeat"],
        r["cycles"],
    )
    rows, big, fan = r["hostile"], r["oversized"], r["fanout"]
    first = fan["steps"][0]
    control = hb["control_without_heartbeat_still_connected"]
    return [
        ("delivered after readiness wait (no sleep)",
         f"{d['received']:,} of {d['sent']:,}, {d['settings']}",
         d["received"] == d["sent"]),
        ("sent = received + reported gaps",
         f"{lo['sent']:,} = {lo['received']:,} + {lo['gaps']:,} ({lo['settings']})",
         lo["balanced"] and lo["gaps_reported_to_callback"] == lo["gaps"]),
        ("duplicates", f"{lo['duplicates']}", lo["duplicates"] == 0),
        ("slow listener: drops counted as gaps",
         f"{sl['sent']:,} = {sl['received']:,} + {sl['gaps']:,}", sl["balanced"]),
        ("slow listener: longest send (drop policy)",
         f"{sl['longest_send_ms']} ms", sl["longest_send_ms"] < 500),
        ("lag signal after threshold crossed",
         f"{sl['lag_signal_delay_s']} s (threshold {sl['lag_threshold_s']} s)",
         sl["lag_signal_delay_s"] is not None and sl["lag_signal_delay_s"] < 1.0),
        ("forwarder SIGKILL: delivery resumed after restart",
         f"{fw['ready_to_resumed_s']} s after bound "
         f"(+{fw['restart_to_ready_s']} s process start)",
         fw["resumed"] and fw["ready_to_resumed_s"] < 2.0),
        ("forwarder SIGKILL: gaps exact",
         f"{fw['sent']:,} = {fw['received']:,} + {fw['gaps']:,}", fw["balanced"]),
        ("listener SIGKILL: restarted one receives",
         f"{li['received_after_restart']} msgs, {li['resume_s']} s incl. start",
         li["resumed_after_kill"]),
        ("heartbeat: SIGSTOPped peer detected",
         f"{hb['detected_after_s']} s (ivl {hb['heartbeat_ivl_ms']} ms, "
         f"timeout {hb['heartbeat_timeout_ms']} ms); control w/o heartbeat: "
         f"{'connected' if control else 'lost'}",
         hb["detected"] and control),
        ("start/stop cycles (fwd+sender+listener)",
         f"{cy['cycles']:,} cycles, {cy['hangs']} hangs, slowest stop "
         f"{max(cy['slowest_stop_s'].values())} s (limit {cy['limit_s']} s)",
         cy["hangs"] == 0),
        ("hostile kinds x messages",
         f"{len(rows)} kinds x {rows[0]['sent']:,}: "
         f"{sum(x['rejected'] for x in rows):,} rejected, "
         f"{sum(x['handler_calls'] for x in rows)} handler calls, "
         f"{sum(x['control_delivered'] for x in rows)} controls delivered",
         all(x["rejected"] == x["sent"] and not x["handler_calls"]
             and not x["other_causes"] and x["control_delivered"] for x in rows)),
        ("oversized frame refused unread",
         f"{big['frame_bytes']:,} B > max_body {big['max_body']:,}: peer "
         f"{'disconnected' if big['peer_disconnected'] else 'kept'}, "
         f"control {'delivered' if big['control_delivered'] else 'lost'}",
         big["peer_disconnected"] and big["control_delivered"]
         and big["messages_read"] == 1),
        ("fan-out: 1 forwarder, listener sockets",
         f"{fan['sockets']:,} in {fan['processes']} processes: "
         f"{first['sockets_complete']:,} complete at {first['rate']:g} msg/s",
         first["sockets_complete"] == fan["sockets"] and not first["missed"]),
        ("fan-out: rate where loss begins (hwm "
         f"{fan['hwm']:,}, {fan['step_s']:g} s steps)",
         f"{fan['loss_onset_rate']} msg/s (none lost at "
         f"{fan['last_lossless_rate']} msg/s)", True),
        ("fan-out: highest rate kept up with (drained within 1 s)",
         (f"{fan['highest_rate_kept_up']:g} msg/s to every socket"
          if fan["highest_rate_kept_up"] else "no step drained within 1 s")
         + f"; at most {fan['sustained_deliveries_per_s'] or 0:,} validated "
         "deliveries/s in all (drain included)", True),
        ("fan-out: memory per listener socket",
         f"{fan['listener_kib_per_socket']} KiB in listeners, forwarder "
         f"{fan['forwarder_kib_per_listener']} KiB idle, "
         f"{fan['forwarder_kib_per_listener_after_traffic']} KiB after traffic",
         True),
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Run the scenarios; exit status 1 if a requirement is not met."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="results/stress.json")
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--cycles", type=int, default=1000)
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        filename=out.with_suffix(".log"), filemode="w", level=logging.WARNING
    )

    started = time.monotonic()
    results: dict[str, Any] = {}
    for name, run in (
        ("delivery", lambda: accounting.delivery(args.count)),
        ("loss", lambda: accounting.loss(args.count)),
        ("slow_listener", lambda: accounting.slow_listener(20_000)),
        ("forwarder_killed", faults.forwarder_killed),
        ("listener_killed", faults.listener_killed),
        ("heartbeat", faults.heartbeat),
        ("cycles", lambda: faults.cycles(args.cycles)),
        ("hostile", lambda: hostile.hostile(1000)),
        ("oversized", hostile.oversized),
        ("fanout", lambda: fanout.fanout(rates=fanout.SWEEP, step_s=3.0)),
    ):
        print(f"running {name}...", file=sys.stderr, flush=True)
        results[name] = run()

    checks = _checks(results)
    width = max(len(name) for name, _, _ in checks)
    print(f"{'figure'.ljust(width)}  ok  measured")
    for name, measured, ok in checks:
        print(f"{name.ljust(width)}  {'yes' if ok else 'NO '} {measured}")
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "make stress",
        "python": platform.python_version(),
        "libzmq": zmq.zmq_version(),
        "seconds": round(time.monotonic() - started, 1),
        "table": [{"figure": n, "measured": m, "ok": ok} for n, m, ok in checks],
        "results": results,
    }
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {out}")
    return 0 if all(ok for _, _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())

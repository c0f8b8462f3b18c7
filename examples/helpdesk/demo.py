"""``make demo``: the helpdesk example end to end, as separate processes.

    helpdesk app (sender) ──▶ zcomet forward ──▶ zcomet listen (the pager)

The forwarder binds two ipc sockets in a temporary directory; the listener
daemon runs ``examples.helpdesk.pager:page_duty_officer`` as configured in
``listeners.toml`` and connects to the forwarder's backend; the app connects
to its frontend and waits until the daemon's subscription has come through
the forwarder before sending (no sleeps). The daemon exits after the tickets
(``--max-messages``); the forwarder is then stopped with SIGTERM.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
TIMEOUT = 30.0


def _zcomet(*args: str) -> list[str]:
    return [sys.executable, "-m", "zcomet", *args]


def main() -> int:
    tickets = 3
    processes: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory(prefix="zcomet-demo-") as tmp:
        frontend = f"ipc://{Path(tmp) / 'senders.sock'}"
        backend = f"ipc://{Path(tmp) / 'listeners.sock'}"
        try:
            forwarder = subprocess.Popen(
                _zcomet(
                    "forward", "--frontend", f"@{frontend}", "--backend", f"@{backend}"
                ),
                cwd=ROOT,
            )
            processes.append(forwarder)
            daemon = subprocess.Popen(
                _zcomet(
                    "listen",
                    "--config",
                    str(HERE / "listeners.toml"),
                    "--endpoint",
                    f">{backend}",
                    "--max-messages",
                    str(tickets),
                ),
                cwd=ROOT,
            )
            processes.append(daemon)
            app = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "examples.helpdesk.app",
                    "--endpoint",
                    f">{frontend}",
                    "--tickets",
                    str(tickets),
                ],
                cwd=ROOT,
                timeout=TIMEOUT,
            )
            daemon_code = daemon.wait(timeout=TIMEOUT)
            forwarder.send_signal(signal.SIGTERM)
            forwarder_code = forwarder.wait(timeout=TIMEOUT)
        finally:
            for process in processes:
                if process.poll() is None:
                    process.kill()
                    process.wait()
    ok = app.returncode == 0 and daemon_code == 0 and forwarder_code == 0
    print("demo: ok" if ok else "demo: FAILED", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""``make demo``: the helpdesk example end to end, on local endpoints.

Starts the pager (a listener process), then the helpdesk app (a sender
process) which waits for the pager's subscription before sending. Both end by
themselves; no broker or server is involved.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path


def main() -> int:
    tickets = 3
    with tempfile.TemporaryDirectory(prefix="zcomet-demo-") as tmp:
        address = f"ipc://{Path(tmp) / 'escalation.sock'}"
        python = sys.executable
        pager = subprocess.Popen(
            [
                python,
                "-m",
                "examples.helpdesk.pager",
                "--endpoint",
                f">{address}",
                "--count",
                str(tickets),
                "--timeout",
                "30",
            ],
        )
        try:
            app = subprocess.run(
                [
                    python,
                    "-m",
                    "examples.helpdesk.app",
                    "--endpoint",
                    f"@{address}",
                    "--tickets",
                    str(tickets),
                ],
                timeout=30,
            )
            pager_code = pager.wait(timeout=30)
        finally:
            if pager.poll() is None:
                pager.kill()
                pager.wait()
    ok = app.returncode == 0 and pager_code == 0
    print("demo: ok" if ok else "demo: FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Run the real ``zcomet`` command in subprocesses, with deadlines everywhere."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.helpers import ROOT

__all__ = ["Proc", "running", "zcomet", "zcomet_env"]


def zcomet_env(**extra: str) -> dict[str, str]:
    """The environment for a child: unbuffered, the checkout importable."""
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), *filter(None, [env.get("PYTHONPATH")])]
    )
    env.pop("ZCOMET_CATALOG", None)
    env.update(extra)
    return env


def zcomet(
    *args: str | Path,
    input: str | None = None,
    timeout: float = 20.0,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m zcomet ARGS`` to completion (bounded by ``timeout``)."""
    return subprocess.run(
        [sys.executable, "-m", "zcomet", *map(str, args)],
        input=input if input is not None else "",
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=env or zcomet_env(),
    )


class Proc:
    """A running ``zcomet`` subprocess whose output lines are collected."""

    def __init__(self, *args: str | Path, env: dict[str, str] | None = None) -> None:
        self.args = [sys.executable, "-m", "zcomet", *map(str, args)]
        self.popen = subprocess.Popen(
            self.args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env or zcomet_env(),
        )
        self.lines: dict[str, list[str]] = {"stdout": [], "stderr": []}
        self._cond = threading.Condition()
        self._readers = [
            threading.Thread(target=self._read, args=(name,), daemon=True)
            for name in self.lines
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, name: str) -> None:
        stream = getattr(self.popen, name)
        for line in stream:
            with self._cond:
                self.lines[name].append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    @property
    def stdout(self) -> str:
        with self._cond:
            return "\n".join(self.lines["stdout"])

    @property
    def stderr(self) -> str:
        with self._cond:
            return "\n".join(self.lines["stderr"])

    def wait_for(self, text: str, stream: str = "stderr", timeout: float = 10.0) -> str:
        """Wait for a line containing ``text``; fail with the output if none."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.lines[stream]:
                    if text in line:
                        return line
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (
                    self.popen.poll() is not None
                    and not any(r.is_alive() for r in self._readers)
                ):
                    break
                self._cond.wait(min(remaining, 0.1))
        raise AssertionError(
            f"no {text!r} on {stream} of {self.args[3:]} within {timeout} s\n"
            f"stdout:\n{self.stdout}\nstderr:\n{self.stderr}"
        )

    def wait(self, timeout: float = 10.0) -> int:
        """Wait for the exit code; fail if it does not come in time."""
        code = self.popen.wait(timeout)
        for reader in self._readers:
            reader.join(timeout)
        return code

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait(10)


@contextmanager
def running(*args: str | Path, env: dict[str, str] | None = None) -> Iterator[Proc]:
    """Start ``zcomet ARGS``; it is killed on the way out whatever happens."""
    proc = Proc(*args, env=env)
    try:
        yield proc
    finally:
        proc.kill()

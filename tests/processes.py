"""Run the real ``zcomet`` command in subprocesses, with deadlines everywhere."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.helpers import ROOT

__all__ = ["Child", "Proc", "running", "zcomet", "zcomet_env"]


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


class Child:
    """A running subprocess whose output lines are collected as they come.

    Args:
        command: The argv to run.
        env: Its environment (:func:`zcomet_env` by default).
        stdin: Give it a pipe for :meth:`send` rather than no input.
    """

    def __init__(
        self, command: list[str], env: dict[str, str] | None = None, stdin: bool = False
    ) -> None:
        self.command = command
        self.popen = subprocess.Popen(
            command,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env or zcomet_env(),
        )
        self.output: dict[str, list[str]] = {"stdout": [], "stderr": []}
        self._cond = threading.Condition()
        self._readers = [
            threading.Thread(target=self._read, args=(name,), daemon=True)
            for name in self.output
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, name: str) -> None:
        stream = getattr(self.popen, name)
        for line in stream:
            with self._cond:
                self.output[name].append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    @property
    def stdout(self) -> str:
        with self._cond:
            return "\n".join(self.output["stdout"])

    @property
    def stderr(self) -> str:
        with self._cond:
            return "\n".join(self.output["stderr"])

    def send(self, line: str) -> None:
        """Write one line to the process's stdin."""
        assert self.popen.stdin is not None
        self.popen.stdin.write(line + "\n")
        self.popen.stdin.flush()

    def wait_line(
        self,
        test: Callable[[str], bool],
        stream: str,
        timeout: float,
        after: int = 0,
        what: str = "matching line",
    ) -> str:
        """The first line of ``stream`` from index ``after`` that passes ``test``.

        Woken by each new line; fails (with the output) after ``timeout``
        seconds or when the process has ended without one.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self.output[stream][after:]:
                    if test(line):
                        return line
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (
                    self.popen.poll() is not None
                    and not any(r.is_alive() for r in self._readers)
                ):
                    break
                self._cond.wait(min(remaining, 0.1))
        raise AssertionError(
            f"no {what} on {stream} of {self.command[-6:]} within {timeout} s\n"
            f"stdout:\n{self.stdout[-4000:]}\nstderr:\n{self.stderr[-4000:]}"
        )

    def wait(self, timeout: float = 10.0) -> int:
        """Wait for the exit code; fail if it does not come in time."""
        code = self.popen.wait(timeout)
        for reader in self._readers:
            reader.join(timeout)
        return code

    def kill(self) -> None:
        """SIGKILL the process (if it runs) and reap it."""
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait(10)


class Proc(Child):
    """A running ``zcomet`` command."""

    def __init__(self, *args: str | Path, env: dict[str, str] | None = None) -> None:
        super().__init__([sys.executable, "-m", "zcomet", *map(str, args)], env)

    def wait_for(self, text: str, stream: str = "stderr", timeout: float = 10.0) -> str:
        """Wait for a line containing ``text``; fail with the output if none."""
        return self.wait_line(
            lambda line: text in line, stream, timeout, what=repr(text)
        )


@contextmanager
def running(*args: str | Path, env: dict[str, str] | None = None) -> Iterator[Proc]:
    """Start ``zcomet ARGS``; it is killed on the way out whatever happens."""
    proc = Proc(*args, env=env)
    try:
        yield proc
    finally:
        proc.kill()

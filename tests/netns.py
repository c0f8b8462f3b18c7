"""Simulated hosts: Linux network namespaces joined by veth pairs.

A :class:`Lab` makes namespaces (one per simulated host) and point-to-point
veth links between them, each link its own ``10.N.L.0/24`` subnet, then runs
processes inside them with ``ip netns exec``. Everything it makes carries
the prefix ``zc<pid>``, so two runs never share a name, and is removed when
the lab closes, whatever happened: processes killed first, then namespaces
deleted (which deletes their veth ends). Namespaces left behind by a run
that died (its pid gone) are removed when the next lab opens.

No link leads out of the lab: traffic stays between its namespaces.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.processes import Child

__all__ = ["Host", "Lab", "Link", "Proc", "unavailable"]

_PREFIX = "zc"
_STALE = re.compile(rf"^{_PREFIX}(\d+)-")


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ip", *args], capture_output=True, text=True, timeout=20, check=check
    )


def unavailable() -> str | None:
    """Why namespaces cannot be used here, or None if they can."""
    if shutil.which("ip") is None:
        return "no 'ip' command (install iproute2; make test does as root)"
    if os.geteuid() != 0:
        return "network namespaces need root"
    probe = f"{_PREFIX}{os.getpid()}-probe"
    made = _ip("netns", "add", probe, check=False)
    if made.returncode:
        return f"'ip netns add' failed: {made.stderr.strip()}"
    _ip("netns", "del", probe, check=False)
    return None


def remove_stale() -> list[str]:
    """Delete lab namespaces whose creating process is gone; their names."""
    listed = _ip("netns", "list", check=False).stdout.splitlines()
    removed = []
    for line in listed:
        name = line.split()[0] if line.split() else ""
        match = _STALE.match(name)
        if match and not Path(f"/proc/{match.group(1)}").exists():
            _ip("netns", "del", name, check=False)
            removed.append(name)
    return removed


@dataclass(frozen=True)
class Host:
    """A simulated host: one namespace."""

    name: str
    netns: str


@dataclass(frozen=True)
class Link:
    """A veth pair between two hosts, one address at each end."""

    a: Host
    b: Host
    a_dev: str
    b_dev: str
    a_ip: str
    b_ip: str

    def ip_of(self, host: Host) -> str:
        """This link's address on ``host``."""
        return self.a_ip if host == self.a else self.b_ip

    def dev_of(self, host: Host) -> str:
        """This link's device on ``host``."""
        return self.a_dev if host == self.a else self.b_dev


class Proc(Child):
    """A process in a namespace; its output lines are collected as they come."""

    def __init__(self, host: Host, argv: list[str], stdin: bool = False) -> None:
        self.host = host
        command = ["ip", "netns", "exec", host.netns, sys.executable, *argv]
        super().__init__(command, stdin=stdin)

    @property
    def lines(self) -> list[str]:
        """The stdout lines so far (the list itself, growing)."""
        return self.output["stdout"]

    @property
    def errors(self) -> list[str]:
        """The stderr lines so far."""
        return self.output["stderr"]

    def wait_for_prefix(self, prefix: str, timeout: float, after: int = 0) -> str:
        """The first stdout line from index ``after`` starting with ``prefix``."""
        return self.wait_line(
            lambda line: line.startswith(prefix), "stdout", timeout, after, repr(prefix)
        )


class Lab:
    """Namespaces and veth links for one test run; a context manager.

    Example:
        >>> with Lab() as lab:
        ...     a, b = lab.host("a"), lab.host("b")
        ...     link = lab.link(a, b)
        ...     lab.run(b, ["-m", "zcomet", "forward", ...])
    """

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.tag = f"{_PREFIX}{self.pid}"
        # The second octet from the pid: two runs at once use other subnets.
        self.octet = 16 + self.pid % 224
        self.hosts: list[Host] = []
        self.links: list[Link] = []
        self.procs: list[Proc] = []

    def __enter__(self) -> Lab:
        remove_stale()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def host(self, name: str) -> Host:
        """A new namespace with its loopback up."""
        host = Host(name, f"{self.tag}-{name}")
        _ip("netns", "add", host.netns)
        self.hosts.append(host)
        _ip("-n", host.netns, "link", "set", "lo", "up")
        return host

    def link(self, a: Host, b: Host) -> Link:
        """A veth pair between ``a`` and ``b`` on a subnet of its own."""
        n = len(self.links) + 1
        # Device names are at most 15 characters; these are unique per run.
        a_dev, b_dev = f"{self.tag}l{n}a", f"{self.tag}l{n}b"
        link = Link(
            a, b, a_dev, b_dev, f"10.{self.octet}.{n}.1", f"10.{self.octet}.{n}.2"
        )
        # Made straight inside the two namespaces: never in the host's own.
        _ip(
            "link", "add", a_dev, "netns", a.netns, "type", "veth",
            "peer", "name", b_dev, "netns", b.netns,
        )  # fmt: skip
        for host, dev, address in ((a, a_dev, link.a_ip), (b, b_dev, link.b_ip)):
            _ip("-n", host.netns, "addr", "add", f"{address}/24", "dev", dev)
            _ip("-n", host.netns, "link", "set", dev, "up")
        self.links.append(link)
        return link

    def set_link(self, link: Link, host: Host, up: bool) -> None:
        """Take ``host``'s end of ``link`` down, or bring it back up."""
        state = "up" if up else "down"
        _ip("-n", host.netns, "link", "set", link.dev_of(host), state)

    def run(self, host: Host, argv: list[str], stdin: bool = False) -> Proc:
        """Run ``python ARGV`` inside ``host``; killed when the lab closes."""
        proc = Proc(host, argv, stdin)
        self.procs.append(proc)
        return proc

    def close(self) -> None:
        """Kill every process, then delete every namespace (and its links)."""
        for proc in self.procs:
            # Keep cleaning whatever one process does.
            with contextlib.suppress(Exception):
                proc.kill()
        for host in self.hosts:
            _ip("netns", "del", host.netns, check=False)
        self.procs.clear()
        self.hosts.clear()
        self.links.clear()

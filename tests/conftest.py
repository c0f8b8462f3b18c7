"""Shared fixtures: the example catalog and fresh addresses."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import HELPDESK, make_address
from zcomet import Catalog


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    """The helpdesk example's catalog."""
    return Catalog.load(HELPDESK)


@pytest.fixture
def ipc_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="zc-") as tmp:
        yield Path(tmp)


@pytest.fixture(params=["tcp", "ipc", "inproc"])
def address(request: pytest.FixtureRequest, ipc_dir: Path) -> str:
    """A fresh address on each transport, for a bind and a connect."""
    return make_address(request.param, ipc_dir)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the figures the reliability tests measured."""
    from tests.figures import summary_lines

    lines = summary_lines()
    if lines:
        terminalreporter.section("reliability figures")
        for line in lines:
            terminalreporter.write_line(line)

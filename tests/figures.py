"""Figures the reliability tests measured, printed at the end of the run."""

from __future__ import annotations

import json
from typing import Any

FIGURES: list[tuple[str, Any]] = []


def report(name: str, figures: Any) -> None:
    """Keep a test's figures for the summary at the end of ``pytest``."""
    FIGURES.append((name, figures))


def summary_lines() -> list[str]:
    """One line per reported figure set."""
    return [f"{name}: {json.dumps(figures)}" for name, figures in FIGURES]

"""Logging set-up shared by every ``zcomet`` command: stderr, one format."""

from __future__ import annotations

import logging
import sys

__all__ = ["LEVELS", "LOG_FORMAT", "level_from_name", "setup_logging"]

#: One line per record, readable by people and by journald alike.
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

#: Level names accepted by ``--log-level`` and the ``log_level`` config key.
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def level_from_name(name: str) -> int:
    """The logging level for a name in :data:`LEVELS` (any case).

    Raises:
        ValueError: Not a known level name.
    """
    upper = name.upper()
    if upper not in LEVELS:
        raise ValueError(f"unknown log level {name!r}; use one of {', '.join(LEVELS)}")
    level: int = getattr(logging, upper)
    return level


def setup_logging(level: int) -> None:
    """Send every record at ``level`` or above to stderr in :data:`LOG_FORMAT`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)

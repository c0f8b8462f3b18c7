"""``python -m zcomet``: the ``zcomet`` command."""

from __future__ import annotations

import sys

from zcomet.app.cli import main

sys.exit(main())

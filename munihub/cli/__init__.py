"""The `munihub` command line, one module per command group; each parses, calls one core
function and renders.  `main` is the console script."""
from __future__ import annotations

from munihub.cli.main import main

__all__ = ["main"]

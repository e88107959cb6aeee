"""The benchmarks' own virtualenvs for the tools munihub is measured against (dlt, Splink):
made from PyPI on first use under `.bench-venvs/<name>` (gitignored), never dependencies of
the hub."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def tool_python(name: str, pins: list[str]) -> str:
    """The Python of the tool's virtualenv, made (and `pins` installed) the first time."""
    venv = ROOT / ".bench-venvs" / name
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"making {name}'s own virtualenv in {venv.relative_to(ROOT)} (once)", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *pins], check=True)
    return str(python)

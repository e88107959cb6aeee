"""The wings' layering (`.importlinter`) holds, and breaks the suite when it is broken."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(repo: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT), "--no-cache"], cwd=repo, capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(repo), "PATH": "/usr/bin:/bin"})


def test_the_layers_hold():
    done = _lint(ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


@pytest.fixture(scope="module")
def copy(tmp_path_factory) -> Path:
    repo = tmp_path_factory.mktemp("layers")
    for name in ("munihub", "connectors"):
        shutil.copytree(ROOT / name, repo / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / ".importlinter", repo / ".importlinter")
    return repo


@pytest.mark.parametrize("module, line, contract", [
    ("munihub/resolve/golden.py", "from munihub.pipeline import sync_source", "nothing imports upwards"),
    ("munihub/ingest/stage.py", "import munihub.cli.main", "nothing imports upwards"),
    ("munihub/store/rows.py", "from munihub.contracts import Contract", "nothing imports upwards"),
    ("munihub/report/build.py", "import airflow", "Only munihub.airflow"),
    ("connectors/rest.py", "from munihub.store import engine_for", "only through the connector interface"),
    ("munihub/pipeline/sync.py", "import connectors.sql", "never by import"),
    ("munihub/persian/letters.py", "from munihub.persian import names", "No import cycles"),
])
def test_a_planted_import_breaks_its_contract(copy, module, line, contract):
    path = copy / module
    original = path.read_text(encoding="utf-8")
    head, sep, rest = original.partition("from __future__ import annotations\n")
    path.write_text(head + sep + line + "  # noqa\n" + rest, encoding="utf-8")
    try:
        done = _lint(copy)
    finally:
        path.write_text(original, encoding="utf-8")
    assert done.returncode != 0
    broken = done.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken, done.stdout[-3000:]

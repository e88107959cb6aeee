"""The core engine imports with Airflow made unimportable: only `munihub.airflow.glue` may need it."""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = textwrap.dedent("""
    import importlib, importlib.abc, pkgutil, sys

    class NoAirflow(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "airflow" or name.startswith("airflow."):
                raise ImportError(f"airflow is blocked in this test (tried to import {name})")
            return None

    sys.meta_path.insert(0, NoAirflow())
    import munihub
    allowed = {"munihub.airflow.glue"}   # imports Airflow lazily, and only dags/ imports it
    names = sorted(m.name for m in pkgutil.walk_packages(munihub.__path__, "munihub."))
    failed = []
    for name in names:
        if name in allowed or name.startswith("munihub.store.migrations."):
            continue
        try:
            importlib.import_module(name)
        except Exception as exc:
            failed.append(f"{name}: {type(exc).__name__}: {exc}")
    print("IMPORTED", len(names) - len(failed))
    for line in failed:
        print("FAILED", line)
    assert not any(m == "airflow" or m.startswith("airflow.") for m in sys.modules), "airflow got imported"
""")


def test_every_core_module_imports_with_airflow_blocked():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=ROOT, timeout=300)
    failed = [line for line in out.stdout.splitlines() if line.startswith("FAILED")]
    assert out.returncode == 0 and not failed, out.stdout + out.stderr[-3000:]
    imported = int(next(line for line in out.stdout.splitlines() if line.startswith("IMPORTED")).split()[1])
    assert imported >= 10


def test_the_blocker_really_blocks():
    """Guard against a probe that passes because nothing was blocked."""
    code = PROBE.split("import munihub")[0] + "import airflow\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode != 0 and "airflow is blocked" in out.stderr


def test_glue_itself_imports_without_airflow_until_used():
    """The glue defers every Airflow import to call time, so even it loads without Airflow."""
    code = PROBE.split("import munihub")[0] + (
        "import munihub.airflow.glue as g, munihub.airflow.home as h\n"
        "assert g.asset_uri('registry.citizens') == 'munihub://registry.citizens'\n"
        "assert g.run_stage(lambda: 7) == 7\n"
        "assert h.airflow_env('/tmp/x')['AIRFLOW__CORE__LOAD_EXAMPLES'] == 'False'\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]

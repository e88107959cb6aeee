"""The main job as a user runs it: the demo city end to end, then again (incremental)."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def run_demo(home: Path, *extra: str, timeout: int = 900) -> str:
    proc = subprocess.run([sys.executable, "-m", "demo.run", "--home", str(home), "--people", "80", *extra],
                          cwd=REPO, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def source_lines(out: str) -> dict[str, list[str]]:
    table = out.split("Sources (this run)")[1].split("Duplicate cutting")[0]
    rows = [line.split() for line in table.strip().splitlines()[2:] if line.strip()]
    return {r[0]: r[1:] for r in rows}


def check_first_and_second_run(home: Path, *extra: str) -> None:
    first = run_demo(home, *extra)
    rows = source_lines(first)
    assert len(rows) == 8, first
    for source, (status, read, published, new, quarantined, set_aside, balanced) in rows.items():
        assert status == "published", (source, first)
        assert int(read) == int(published) + int(quarantined) and balanced == "yes"
        # every demo source carries a few bad records: held whole, or published with the bad value set aside
        assert int(read) > 0 and int(quarantined) + int(set_aside) >= 1
    person = re.search(r"^person\s+(\d+)\s+(\d+)\s+(\d+)", first, re.M)
    assert person and int(person.group(2)) < int(person.group(1))  # duplicates were cut
    assert "quality report:" in first and "index.html" in first
    second = run_demo(home, *extra)
    assert all(r[1] == "0" and r[2] == "0" for r in source_lines(second).values()), second
    check_the_printed_lines_reach_the_demo_home(home, second)


def check_the_printed_lines_reach_the_demo_home(home: Path, out: str) -> None:
    """The demo ends with the two lines that point the CLI at its home; typed as printed, in a
    shell without any MUNIHUB_* variable, `munihub status` shows the demo's sources."""
    import csv
    import io
    import os
    lines = out.split("use this home from the CLI:")[1].strip().splitlines()
    assert lines[0].strip().startswith(". ") and lines[1].strip() == "munihub status"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MUNIHUB_")}
    env["PYTHONPATH"] = str(REPO)
    # `munihub` as the installed script would run it, from this checkout
    script = f"{lines[0].strip()} && {sys.executable} -m munihub.cli.main status --format csv"
    proc = subprocess.run(["bash", "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert len(rows) == 8 and {r["checked"].split()[0] for r in rows} == {"published"}, proc.stdout


def test_demo_core_end_to_end_on_sqlite(tmp_path):
    check_first_and_second_run(tmp_path / "home", "--no-airflow")


@pytest.mark.postgres
def test_demo_core_end_to_end_on_postgresql(tmp_path, pg_url):
    check_first_and_second_run(tmp_path / "home", "--no-airflow", "--store-url", pg_url)


@pytest.mark.airflow
@pytest.mark.slow
def test_demo_through_airflow(tmp_path):
    check_first_and_second_run(tmp_path / "home")

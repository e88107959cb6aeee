"""Every `munihub …` command shown in README.md and docs/ parses, and the concrete ones run,
as written, against the demo home (a README that drifted from the CLI is a new user's first
error).  Synopsis lines (`list|show ID`, `[FILES]`) are parsed with each alternative and a
sample value per placeholder; the few concrete lines that cannot run here are listed in
NOT_RUN with the reason, so a new example is run unless someone says why not.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from munihub.cli.main import COMMANDS, build_parser, main

REPO = Path(__file__).resolve().parent.parent
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
PLACEHOLDER = re.compile(r"^[A-Z][A-Z_]*(\.[A-Z_]+)?$")
SAMPLES = {"DATASET": "registry.citizens", "ID": "1", "IDS": "1", "FILE": "out.csv", "FILES": "a.yaml",
           "GIT_REF": "HEAD", "OLD": "old.yaml", "NEW": "new.yaml", "A": "water", "D": "meters",
           "AGENCY": "police", "AGENCY.DATASET": "registry.citizens"}
NOT_RUN = {  # concrete examples that cannot run against the demo home, and why
    "munihub serve": "starts a server that runs until stopped (tests/test_api.py covers it)",
    'munihub users add sara --role steward --name "سارا محمدی"': "asks for the password twice at the terminal",
    "munihub serve --workers 4": "starts four server processes that run until stopped (tests/test_api.py covers them)",
    "munihub contracts test water.meters -n 1000": "water.meters is the guide's new contract: its source does not exist",
    "munihub contracts diff old.yaml new.yaml": "old.yaml and new.yaml stand for two versions the reader has",
    "munihub contracts check --against origin/main": "needs a git remote (tests/test_contract_tools.py runs it on a real repo)",
    "munihub review decide 17 match --why \"same person, typo in name\"": "17 stands for a pair id from `review list`",
    "munihub review decide \"registry.citizens|K1\" \"health.patients|9\" no-match --why \"twins\" --by zahra":
        "the refs name an illustrative health.patients source",
}
NOT_RUN = {shlex.join(shlex.split(k)): why for k, why in NOT_RUN.items()}
EXIT = {  # documented to fail: the guide says lint exits 1 while the new template has TODOs
    "munihub contracts lint contracts/water/meters.yaml": 1,
}


def _examples() -> list[tuple[str, str]]:
    """(file:line, command) for every `munihub` line inside a fenced code block, in order."""
    out = []
    for doc in DOCS:
        fenced = False
        for n, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1):
            if line.lstrip().startswith("```"):
                fenced = not fenced
                continue
            if fenced and line.startswith("munihub "):
                words = shlex.split(line, comments=True)
                out.append((f"{doc.relative_to(REPO)}:{n}", shlex.join(words)))
    return out


EXAMPLES = _examples()


def _variants(command: str) -> list[list[str]]:
    """Argument lists to parse for one example: each `a|b` alternative, brackets dropped,
    placeholders replaced by a sample value."""
    words = shlex.split(command)[1:]
    if "|" in words:   # `contracts list | lint [FILES]`: alternatives after the command group
        tails, current = [], []
        for word in words[1:]:
            if word == "|":
                tails.append(current)
                current = []
            else:
                current.append(word)
        return [v for tail in tails + [current] for v in _variants(shlex.join(["munihub", words[0], *tail]))]
    variants = [[]]
    for word in words:
        word = word.strip("[]")
        if not word:
            continue
        options = word.split("|") if "|" in word and not word.startswith(("registry", "health")) else [word]
        options = [SAMPLES.get(o, o) for o in options]
        variants = [v + [o] for v in variants for o in options]
    return variants


def _concrete(command: str) -> bool:
    words = shlex.split(command)[1:]
    return not any(("|" in w and '"' not in command) or "[" in w or PLACEHOLDER.match(w) for w in words)


def test_the_docs_show_commands():
    assert len(EXAMPLES) >= 40 and any(w.startswith("docs/gateway.md") for w, _ in EXAMPLES)


@pytest.mark.parametrize("where, command", EXAMPLES, ids=[w for w, _ in EXAMPLES])
def test_every_documented_command_parses(where, command):
    parser = build_parser()
    for argv in _variants(command):
        try:
            args = parser.parse_args(argv)
        except SystemExit:
            pytest.fail(f"{where}: `munihub {' '.join(argv)}` is refused by the CLI")
        name = args.cmd if not getattr(args, "sub", None) else f"{args.cmd}.{args.sub}"
        assert name in COMMANDS, f"{where}: {command} reaches no command"


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory):
    """A demo home built as `make demo` builds it (core only, a small city), its hub.env read."""
    home = tmp_path_factory.mktemp("demo") / "home"
    proc = subprocess.run([sys.executable, "-m", "demo.run", "--home", str(home), "--people", "60", "--no-airflow"],
                          cwd=REPO, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    env = {}
    for line in (home / "hub.env").read_text(encoding="utf-8").splitlines():
        if line.startswith("export "):
            key, _, value = line.removeprefix("export ").partition("=")
            env[key] = shlex.split(value)[0]
    return home, env


@pytest.mark.slow
def test_every_concrete_documented_command_runs_against_the_demo_home(demo_home, tmp_path, monkeypatch):
    from demo.requests_api import serve
    from munihub.testing.municipality_server import shutdown

    home, env = demo_home
    work = tmp_path / "work"   # the reader's folder: a copy of the contracts, outputs land here
    work.mkdir()
    shutil.copytree(REPO / "contracts", work / "contracts")
    for key in [k for k in os.environ if k.startswith("MUNIHUB_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MUNIHUB_CONTRACTS", str(work / "contracts"))
    monkeypatch.setenv("VIDA_PW", "a-password-for-the-docs-example")  # docs/workbench.md's scripted user
    monkeypatch.setenv("MINA_PW", "a-password-for-the-docs-example")  # and its manager
    monkeypatch.chdir(work)
    url = serve(Path(env["MUNIHUB_DEMO_DIR"]) / "requests.json")   # what hub.env says to start
    monkeypatch.setenv("MUNIHUB_DEMO_137_URL", url)
    failed, ran = [], 0
    try:
        for where, command in EXAMPLES:
            if not _concrete(command) or command in NOT_RUN:
                continue
            ran += 1
            code = main(shlex.split(command)[1:])
            if code != EXIT.get(command, 0):
                failed.append(f"{where}: {command} (exit {code})")
    finally:
        shutdown(url)
    assert ran >= 20 and failed == []

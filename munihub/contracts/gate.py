"""Compare every contract in the working tree with the same file at a git ref (for CI and PRs).

A contract changed in a breaking way without a major version bump is a violation, and so is
a deleted contract (its consumers lose the dataset).  New files are fine.  Git runs as a
subprocess; the old text comes from `git show REF:path`, so nothing is checked out.
"""
from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from munihub.contracts.diff import bump_verdict, diff_contracts
from munihub.contracts.load import Loader
from munihub.errors import ConfigError, ContractError

SUFFIXES = (".yaml", ".yml")


def _git(repo: Path, *args: str) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, timeout=60)
    except FileNotFoundError as exc:
        raise ConfigError("git is not installed", hint="install git to compare contracts with a ref") from exc
    if done.returncode != 0:
        raise ConfigError(f"git {' '.join(args)} failed: {done.stderr.strip() or done.stdout.strip()}",
                          where=str(repo))
    return done.stdout


def git_root(path: Path) -> Path:
    """The top of the git checkout holding `path`; a ConfigError if it is not in one."""
    path = Path(path).resolve()
    try:
        return Path(_git(path if path.is_dir() else path.parent, "rev-parse", "--show-toplevel").strip())
    except ConfigError as exc:
        raise ConfigError("not a git checkout", where=str(path),
                          hint="`contracts check --against REF` compares with git history; run it inside "
                               "the repository, or use `contracts diff OLD NEW` on two files") from exc


def _parse(text: str, where: str) -> dict:
    try:
        data = yaml.load(text, Loader=Loader)
    except yaml.YAMLError as exc:
        raise ContractError(f"invalid YAML: {exc}", where=where) from exc
    if not isinstance(data, dict):
        raise ContractError("a contract must be a YAML mapping", where=where)
    return data


def check_against(ref: str, contracts_dir: Path) -> list[dict[str, Any]]:
    """One result per contract file changed since `ref`: status ok | new | deleted | violation | broken."""
    contracts_dir = Path(contracts_dir).resolve()
    root = git_root(contracts_dir)
    try:
        _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except ConfigError as exc:
        raise ConfigError(f"unknown git ref {ref!r}", where=str(root),
                          hint="give a branch, tag or commit that exists here (e.g. origin/main, HEAD~1); "
                               "in CI fetch it first") from exc
    rel = contracts_dir.relative_to(root).as_posix()
    listing = _git(root, "diff", "--name-status", "--no-renames", ref, "--", rel)
    results = []
    for line in listing.splitlines():
        status, _, name = line.partition("\t")
        if not name.endswith(SUFFIXES):
            continue
        results.append(_check_file(root, ref, status[:1], name))
    return results


def _check_file(root: Path, ref: str, status: str, name: str) -> dict[str, Any]:
    result: dict[str, Any] = {"file": name, "status": "ok", "changes": [], "required": None, "actual": None,
                              "message": ""}
    if status == "A":
        return {**result, "status": "new", "message": "new contract"}
    if status == "D":
        return {**result, "status": "violation", "required": "major",
                "message": "contract deleted: its consumers lose the dataset; mark it "
                           "status: deprecated and announce removal instead"}
    try:
        old = _parse(_git(root, "show", f"{ref}:{name}"), f"{ref}:{name}")
        new = _parse((root / name).read_text(encoding="utf-8"), name)
    except (ContractError, OSError) as exc:
        return {**result, "status": "broken", "message": str(exc)}
    changes = diff_contracts(old, new)
    verdict = bump_verdict(old, new, changes)
    result.update(changes=[c.to_dict() for c in changes], required=verdict["required"], actual=verdict["actual"],
                  old_version=verdict["old_version"], new_version=verdict["new_version"])
    if verdict["sufficient"]:
        return {**result, "message": f"{verdict['old_version']} → {verdict['new_version']} covers "
                                     f"{verdict['required'] or 'no'} change"}
    breaking = [c for c in changes if c.breaking]
    status_word = "violation" if breaking else "underbumped"
    return {**result, "status": status_word,
            "message": f"needs a {verdict['required']} bump, version went {verdict['old_version']} → "
                       f"{verdict['new_version']} ({verdict['actual'] or 'unchanged'})"}

"""Settings from the environment, validated once at load with every problem reported together.

The hub reads no settings file of its own: the city's deployment sets environment variables
(or Airflow passes them).  Secrets never come from here; they come from the environment
variables a contract names, or from Airflow connections (see `munihub.secrets`).
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path

from munihub.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclasses.dataclass(frozen=True)
class Settings:
    """Where the hub keeps its state and finds its contracts."""

    home: Path                 # run reports, staging files, the embedded store
    store_url: str             # SQLAlchemy URL of the consolidated store
    contracts_dir: Path        # contracts/<agency>/<dataset>.yaml
    schemas_dir: Path          # shared JSON Schemas
    batch_size: int = 1000
    report_dir: Path | None = None
    #: per entity type overrides of the matcher's settings, e.g. {"person": {"match": 0.97, "review": 0.7}}
    match_settings: dict | None = None
    #: indicator definitions (YAML, munihub.indicators); None: the shipped ones (MUNIHUB_INDICATORS)
    indicators_dir: Path | None = None
    #: build great-expectations Data Docs for every load (MUNIHUB_DATA_DOCS=1).  Off by default:
    #: every check's verdict and message are in the report and the workbench without them, and
    #: importing GE and pandas cost each sync process ~2 s of CPU and ~150 MB (a 100-row source
    #: synced in 3.4 s instead of well under one); README's settings table says why.
    data_docs: bool = False

    @property
    def reports(self) -> Path:
        return self.report_dir or self.home / "reports"

    @property
    def indicators(self) -> Path:
        return self.indicators_dir or REPO_ROOT / "indicators"


def home_dir(env: Mapping[str, str] | None = None) -> Path:
    """munihub's own folder: $MUNIHUB_HOME, else `.munihub` in the working directory."""
    env = os.environ if env is None else env
    return Path(env.get("MUNIHUB_HOME") or Path.cwd() / ".munihub").expanduser()


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Build Settings from `env` (default: os.environ); raise one ConfigError listing every problem."""
    env = dict(os.environ if env is None else env)
    problems: list[str] = []
    home = home_dir(env)
    store_url = env.get("MUNIHUB_STORE_URL") or f"sqlite:///{home / 'munihub.db'}"
    contracts_dir = Path(env.get("MUNIHUB_CONTRACTS") or REPO_ROOT / "contracts").expanduser()
    schemas_dir = Path(env.get("MUNIHUB_SCHEMAS") or REPO_ROOT / "schemas").expanduser()
    indicators_dir = Path(env.get("MUNIHUB_INDICATORS") or REPO_ROOT / "indicators").expanduser()
    if not contracts_dir.is_dir():
        problems.append(f"MUNIHUB_CONTRACTS: folder {contracts_dir} does not exist")
    if not schemas_dir.is_dir():
        problems.append(f"MUNIHUB_SCHEMAS: folder {schemas_dir} does not exist")
    if env.get("MUNIHUB_INDICATORS") and not indicators_dir.is_dir():
        problems.append(f"MUNIHUB_INDICATORS: folder {indicators_dir} does not exist")
    if "://" not in store_url:
        problems.append(f"MUNIHUB_STORE_URL: {store_url!r} is not a SQLAlchemy URL "
                        "(for example sqlite:///path/munihub.db or postgresql+psycopg2://user@host/db)")
    batch_size = 1000
    raw_batch = env.get("MUNIHUB_BATCH_SIZE")
    if raw_batch:
        try:
            batch_size = int(raw_batch)
            if batch_size < 1:
                raise ValueError
        except ValueError:
            problems.append(f"MUNIHUB_BATCH_SIZE: {raw_batch!r} is not a positive whole number")
    raw_docs = (env.get("MUNIHUB_DATA_DOCS") or "0").strip().lower()
    if raw_docs not in {"0", "1", "true", "false", "yes", "no"}:
        problems.append(f"MUNIHUB_DATA_DOCS: {raw_docs!r} is not 1/0 (true/false)")
    report_dir = Path(env["MUNIHUB_REPORTS"]).expanduser() if env.get("MUNIHUB_REPORTS") else None
    match_settings = _match_settings(env.get("MUNIHUB_MATCH_SETTINGS"), problems)
    if problems:
        raise ConfigError("invalid settings", where="environment",
                          hint="; ".join(problems))
    return Settings(home=home, store_url=store_url, contracts_dir=contracts_dir,
                    schemas_dir=schemas_dir, batch_size=batch_size, report_dir=report_dir,
                    match_settings=match_settings, indicators_dir=indicators_dir,
                    data_docs=raw_docs not in {"0", "false", "no"})


def _match_settings(path: str | None, problems: list[str]) -> dict | None:
    """Matcher thresholds per entity type from a YAML/JSON file (MUNIHUB_MATCH_SETTINGS)."""
    if not path:
        return None
    import yaml

    try:
        data = yaml.safe_load(Path(path).expanduser().read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        problems.append(f"MUNIHUB_MATCH_SETTINGS: cannot read {path}: {exc}")
        return None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        problems.append(f"MUNIHUB_MATCH_SETTINGS: {path} must map entity types to settings, "
                        "e.g. person: {match: 0.97, review: 0.7}")
        return None
    for etype, conf in data.items():
        for key in ("match", "review"):
            if key in conf and not (isinstance(conf[key], (int, float)) and 0 < conf[key] <= 1):
                problems.append(f"MUNIHUB_MATCH_SETTINGS: {etype}.{key} must be a probability in (0, 1]")
        if "match" in conf and "review" in conf and conf["review"] > conf["match"]:
            problems.append(f"MUNIHUB_MATCH_SETTINGS: {etype}.review must not exceed {etype}.match")
    return data

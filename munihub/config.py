"""Settings from the environment, validated once at load with every problem reported together.

The hub reads no settings file of its own: the city's deployment sets environment variables
(or Airflow passes them).  Secrets never come from here; they come from the environment
variables a contract names, or from Airflow connections (see `munihub.secrets`).
"""
from __future__ import annotations

import dataclasses
import os
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

    @property
    def reports(self) -> Path:
        return self.report_dir or self.home / "reports"


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Build Settings from `env` (default: os.environ); raise one ConfigError listing every problem."""
    env = dict(os.environ if env is None else env)
    problems: list[str] = []
    home = Path(env.get("MUNIHUB_HOME") or Path.cwd() / ".munihub").expanduser()
    store_url = env.get("MUNIHUB_STORE_URL") or f"sqlite:///{home / 'munihub.db'}"
    contracts_dir = Path(env.get("MUNIHUB_CONTRACTS") or REPO_ROOT / "contracts").expanduser()
    schemas_dir = Path(env.get("MUNIHUB_SCHEMAS") or REPO_ROOT / "schemas").expanduser()
    if not contracts_dir.is_dir():
        problems.append(f"MUNIHUB_CONTRACTS: folder {contracts_dir} does not exist")
    if not schemas_dir.is_dir():
        problems.append(f"MUNIHUB_SCHEMAS: folder {schemas_dir} does not exist")
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
    report_dir = Path(env["MUNIHUB_REPORTS"]).expanduser() if env.get("MUNIHUB_REPORTS") else None
    if problems:
        raise ConfigError("invalid settings", where="environment",
                          hint="; ".join(problems))
    return Settings(home=home, store_url=store_url, contracts_dir=contracts_dir,
                    schemas_dir=schemas_dir, batch_size=batch_size, report_dir=report_dir)

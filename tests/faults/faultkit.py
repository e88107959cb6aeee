"""What several fault suites share: a contracts folder with a REST source and a SQLite source.

`rest_contract` writes an ODCS contract for a person list served over HTTP with the given
transport limits and auth; `sqlite_contract` copies the core test contract (tests/data/core)
next to it, reading the seeded `crashdriver` source.  Values only, no test logic.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import crashdriver

CORE = Path(__file__).parent.parent / "data" / "core" / "citizens.yaml"
FAST = {"retries": 2, "backoff_base": 0.05, "backoff_max": 0.2, "timeout": {"connect": 1, "read": 1, "total": 3}}


def person(i: int) -> dict[str, Any]:
    return {"nid": crashdriver.national_id(f"{500000000 + i:09d}"), "fname": "زهرا", "lname": f"محمدی {i}",
            "updated_at": f"2024-05-01T10:{i % 60:02d}:00"}


def rest_contract(folder: Path, dataset: str, url: str, *, auth: dict | None = None,
                  secrets: dict[str, str] | None = None, **params: Any) -> str:
    """Write contracts/<agency>/<dataset>.yaml for a REST person list; return its id."""
    props = {"connector": "rest", "url": url, "records": "data", **FAST, **params}
    if auth:
        props["auth"] = auth
    if secrets:
        props["secrets"] = secrets
    custom = "\n".join(f"      - {{property: {k}, value: {json.dumps(v, ensure_ascii=False)}}}" for k, v in props.items())
    (folder / "faults").mkdir(parents=True, exist_ok=True)
    (folder / "faults" / f"{dataset}.yaml").write_text(f"""apiVersion: v3.1.0
kind: DataContract
id: faults.{dataset}
name: {dataset}
version: 1.0.0
status: active
servers:
  - server: api
    type: api
    location: "{url}"
    customProperties:
{custom}
schema:
  - name: people
    physicalName: people
    customProperties:
      - {{property: sharedSchema, value: person}}
    properties:
      - {{name: national_id, physicalName: nid, logicalType: string, primaryKey: true, primaryKeyPosition: 1,
          required: true, classification: personal, transformLogic: national_id}}
      - {{name: first_name, physicalName: fname, logicalType: string, transformLogic: person_name}}
      - {{name: last_name, physicalName: lname, logicalType: string, transformLogic: person_name}}
customProperties:
  - {{property: retries, value: 0}}
""", encoding="utf-8")
    return f"faults.{dataset}"


def sqlite_contract(folder: Path, src: Path, seed: int = 5) -> str:
    """The core SQLite citizens contract under `folder`, its source seeded; MUNIHUB_TEST_SRC must point at `src`."""
    (folder / "testreg").mkdir(parents=True, exist_ok=True)
    shutil.copy(CORE, folder / "testreg" / "citizens.yaml")
    crashdriver.make_source(src, seed, phase=1)
    return crashdriver.CONTRACT

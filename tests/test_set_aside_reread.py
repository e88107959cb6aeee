"""Values set aside by a source delivered again: one open entry per unreadable value of a
published row.  A load that publishes a key anew closes the earlier loads' open entries of it
(`superseded`); a row read again unchanged sets its value aside under the new load, closed at
once when the load its published row carries holds it; a steward's dismissal stays, and the
entry matching reads (the published row's load) stays open (`quarantine.close_set_aside_reread`)."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from munihub import pipeline, store
from munihub.ingest import loads
from munihub.resolve.records import SET_ASIDE_ID, set_aside_ids

from test_earlier_copies import FIRST, OTHER, SECOND, _write, city  # noqa: F401
from test_pipeline import national_id


def _typo(nid: str) -> str:
    return nid[:3] + str((int(nid[3]) + 1) % 10) + nid[4:]


THIRD, FOURTH = national_id("091234567"), national_id("095678901")


def _entries(engine) -> list[tuple]:
    t = store.set_aside
    with engine.connect() as conn:
        return sorted(tuple(r) for r in conn.execute(sa.select(t.c.source_key, t.c.load_id, t.c.status).where(
            t.c.source == "permits.cases")))


def test_a_delivery_again_leaves_one_open_entry_per_value(city, tmp_path):  # noqa: F811
    engine = store.engine_for(city)
    day1 = [("1", _typo(FIRST), "علی احمدی"), ("2", _typo(SECOND), "حسن کریمی"),
            ("3", _typo(OTHER), "زهرا رضایی"), ("4", _typo(THIRD), "مریم نوری")]
    _write(tmp_path / "cases", "cases.csv", day1)
    first = pipeline.sync_source("permits.cases", city)
    assert first["values_set_aside"] == {"national_id": 4}
    one = first["load_id"]
    with engine.connect() as conn:
        four = conn.execute(sa.select(store.set_aside.c.id).where(store.set_aside.c.source_key == "4")).scalar()
    from munihub.ingest.quarantine import dismiss_set_aside
    assert dismiss_set_aside(city, [four], "steward", "the owner has no id card") == 1
    # day 2: case 1 and 4 unchanged, case 2 corrected, case 3 renamed with the same bad id
    day2 = [day1[0], ("2", SECOND, "حسن کریمی"), ("3", _typo(OTHER), "زهرا رضایی‌فر"), day1[3]]
    _write(tmp_path / "cases", "cases.csv", day2)
    second = pipeline.sync_source("permits.cases", city)
    two = second["load_id"]
    assert second["values_set_aside"] == {"national_id": 3}  # the ledger counts what the load read
    assert (second["rows_changed"], second["rows_unchanged"]) == (2, 2)
    assert _entries(engine) == sorted([
        ("1", one, "open"), ("1", two, "superseded"),  # unchanged: its published row's entry stays open
        ("2", one, "superseded"),                       # corrected: nothing left to decide
        ("3", one, "superseded"), ("3", two, "open"),  # changed, same bad id: the new load's entry
        ("4", one, "dismissed"), ("4", two, "superseded")])  # the steward's decision stands
    with engine.connect() as conn:
        mistyped = set_aside_ids(conn)  # matching still finds each published row's typo
    assert mistyped[("permits.cases", "1", one)][next(iter(mistyped[("permits.cases", "1", one)]))] \
        == {SET_ASIDE_ID: _typo(FIRST)}
    assert ("permits.cases", "3", two) in mistyped and ("permits.cases", "3", one) not in mistyped
    # day 3: the same file again changes nothing open
    _write(tmp_path / "cases", "cases.csv", day2)
    pipeline.sync_source("permits.cases", city)
    with engine.connect() as conn:
        still = sorted(conn.execute(sa.select(store.set_aside.c.source_key, store.set_aside.c.load_id).where(
            store.set_aside.c.status == "open")).all())
    assert still == [("1", one), ("3", two)]


def test_a_crash_inside_the_publish_closes_nothing(city, tmp_path):  # noqa: F811
    class Crash(Exception):
        pass

    def hook(where):
        if where == "inside-publish":
            raise Crash(where)

    engine = store.engine_for(city)
    _write(tmp_path / "cases", "cases.csv", [("1", _typo(FIRST), "علی احمدی")])
    one = pipeline.sync_source("permits.cases", city)["load_id"]
    _write(tmp_path / "cases", "cases.csv", [("1", _typo(FIRST), "علی احمدی‌پور")])
    load_id = pipeline.extract_and_stage("permits.cases", city)
    pipeline.check_load(load_id, city)
    with pytest.raises(Crash):
        pipeline.publish_load(load_id, city, crash_hook=hook)
    assert [s for k, load, s in _entries(engine) if load == one] == ["open"]
    loads.release_lease(engine, "permits.cases")
    pipeline.sync_source("permits.cases", city)  # read again: now the publish closes it
    assert [s for k, load, s in _entries(engine) if load == one] == ["superseded"]

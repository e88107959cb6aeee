"""The whole per-source flow on a real SQLite source, with the store on SQLite and PostgreSQL."""
from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from munihub import contracts, pipeline, store
from munihub.ingest import loads
from munihub.config import REPO_ROOT, Settings
from munihub.errors import ConcurrentRunError, QualityGateError
from munihub.pipeline.replay import replay
from munihub.persian.ids import national_id_check_digit

DATA = Path(__file__).parent / "data" / "core"


def national_id(first9: str) -> str:
    """A national id with a valid check digit: the package's one implementation."""
    return first9 + str(national_id_check_digit(first9))


ROWS = [  # (id, code_melli, fname, lname, birth, mobile, updated_at)
    (1, national_id("001234567"), "محمدرضا", "احمدي", "1365/02/11", "09151234567", "2024-01-01 10:00:00"),
    (2, national_id("076543210"), "فاطمه‌زهرا", "كريمی", "۱۳۷۰/۰۵/۲۰", "+989157654321", "2024-01-01 10:00:00"),
    (3, national_id("112233445"), "علی", "رضایی", "1990-03-04", "00989151112233", "2024-01-01 10:00:00"),
    (4, national_id("223344556"), "حسین", None, "1360/01/01", None, "2024-01-02 09:00:00"),
    (5, "1234567890", "بد", "کد", "1360/01/01", None, "2024-01-02 09:00:00"),          # wrong check digit
    (6, national_id("334455667"), "زهرا", "تاریخ", "1403/07/31", None, "2024-01-02 09:00:00"),  # no 31st of Mehr
]


def citizens_source(src: Path) -> Path:
    """The SQLite subsystem `citizens.yaml` reads (its table holds ROWS)."""
    with sqlite3.connect(src) as db:
        db.execute("CREATE TABLE citizens (id INTEGER PRIMARY KEY, code_melli TEXT, fname TEXT, lname TEXT, "
                   "birth TEXT, mobile TEXT, updated_at TEXT)")
        db.executemany("INSERT INTO citizens VALUES (?,?,?,?,?,?,?)", ROWS)
    return src


@pytest.fixture
def setup(tmp_path, store_url, monkeypatch):
    src = citizens_source(tmp_path / "src.db")
    contracts = tmp_path / "contracts" / "testreg"
    contracts.mkdir(parents=True)
    shutil.copy(DATA / "citizens.yaml", contracts / "citizens.yaml")
    monkeypatch.setenv("MUNIHUB_TEST_SRC", str(src))
    settings = Settings(home=tmp_path / "home", store_url=store_url, contracts_dir=tmp_path / "contracts",
                        schemas_dir=REPO_ROOT / "schemas", batch_size=2)
    return settings, src


def _count(settings, table, *where) -> int:
    with store.engine_for(settings).connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar()


def _dump(settings) -> list:
    """A canonical dump of the published state: rows, cursor."""
    with store.engine_for(settings).connect() as conn:
        rows = sorted((r.source, r.source_key, r.record_hash) for r in conn.execute(sa.select(store.source_rows)))
        cur = [(c.source, c.cursor) for c in conn.execute(sa.select(store.cursors))]
    return [rows, cur]


def test_sync_publishes_good_rows_and_quarantines_bad_ones_with_reasons(setup):
    settings, _ = setup
    result = pipeline.sync_source("testreg.citizens", settings)
    assert result["rows_in"] == 6
    assert result["rows_quarantined"] == 2
    assert result["rows_new"] == 4
    assert result["rows_in"] == result["rows_new"] + result["rows_changed"] + result["rows_unchanged"] + \
        result["rows_quarantined"]
    with store.engine_for(settings).connect() as conn:
        q = conn.execute(sa.select(store.quarantine.c.raw, store.quarantine.c.reasons, store.quarantine.c.position)
                         ).all()
        rec = conn.execute(sa.select(store.source_rows.c.record).where(
            store.source_rows.c.source_key == ROWS[0][1])).scalar()
    reasons = {r["pointer"]: r for _, rs, _ in q for r in rs}
    assert "/national_id" in reasons and "/birth_date" in reasons
    assert all(r["message_fa"] for r in reasons.values())
    assert {raw["id"] for raw, _, _ in q} == {5, 6}  # the raw payload is kept whole
    # Persian normalization reached the store: Arabic letters, Jalali dates, mobiles
    assert rec["last_name"] == "احمدی" and rec["birth_date"] == "1986-05-01" and rec["mobile"] == "+989151234567"


def test_rerun_of_the_same_interval_publishes_nothing(setup):
    settings, _ = setup
    pipeline.sync_source("testreg.citizens", settings)
    before = _dump(settings)
    again = pipeline.sync_source("testreg.citizens", settings)
    assert again["rows_in"] == 0 and again["rows_new"] == 0
    assert _dump(settings) == before


def test_changed_row_is_read_incrementally_and_updated(setup):
    settings, src = setup
    pipeline.sync_source("testreg.citizens", settings)
    with sqlite3.connect(src) as db:
        db.execute("UPDATE citizens SET lname='احمدی‌نژاد', updated_at='2024-02-01 00:00:00' WHERE id=1")
    result = pipeline.sync_source("testreg.citizens", settings)
    assert (result["rows_in"], result["rows_changed"], result["rows_new"]) == (1, 1, 0)


def test_failed_error_check_holds_the_load_and_leaves_the_store_unchanged(setup):
    settings, src = setup
    pipeline.sync_source("testreg.citizens", settings)
    before = _dump(settings)
    with sqlite3.connect(src) as db:  # a burst of nulls in a column the contract guards at 50 %
        db.executemany("INSERT INTO citizens VALUES (?,?,?,?,?,?,?)",
                       [(10 + i, national_id(f"4{i:02d}123456"), "نام", None, None, None, "2024-03-01 00:00:00")
                        for i in range(5)])
    with pytest.raises(QualityGateError, match="lname|last_name"):
        pipeline.sync_source("testreg.citizens", settings)
    assert _dump(settings) == before
    assert _count(settings, store.loads, store.loads.c.status == "held") == 1


def test_two_runs_of_one_source_publish_once(setup):
    settings, _ = setup
    first = pipeline.extract_and_stage("testreg.citizens", settings)
    with pytest.raises(ConcurrentRunError):  # the lease is held by the first run
        pipeline.extract_and_stage("testreg.citizens", settings)
    # Even if the lease were lost, the cursor compare-and-set lets only one publish.
    loads.release_lease(store.engine_for(settings), "testreg.citizens")
    engine = store.engine_for(settings)
    with engine.begin() as conn:  # a second staged load from the same cursor version
        conn.execute(store.loads.update().where(store.loads.c.load_id == first).values(status="checked"))
    pipeline.publish_load(first, settings)
    assert _count(settings, store.source_rows) == 4
    second = pipeline.extract_and_stage("testreg.citizens", settings)  # reads nothing new
    with engine.begin() as conn:
        conn.execute(store.loads.update().where(store.loads.c.load_id == second)
                     .values(status="checked", cursor_version=0))
    with pytest.raises(ConcurrentRunError):
        pipeline.publish_load(second, settings)
    assert _count(settings, store.source_rows) == 4


class Crash(Exception):
    pass


def _full_dump(settings) -> list:
    """Rows with their hashes, the cursor, and quarantine payloads by position: what a re-run
    after a crash must reproduce exactly."""
    rows, cur = _dump(settings)
    with store.engine_for(settings).connect() as conn:
        q = sorted((r.source, r.position, repr(sorted(r.raw.items())), r.status)
                   for r in conn.execute(sa.select(store.quarantine)))
    return [rows, cur, q]


@pytest.fixture
def uninterrupted(setup, tmp_path):
    """The state one uninterrupted sync of the same source leaves, in a store of its own."""
    settings, _ = setup
    ref = Settings(home=tmp_path / "ref-home", store_url=f"sqlite:///{tmp_path / 'ref.db'}",
                   contracts_dir=settings.contracts_dir, schemas_dir=settings.schemas_dir, batch_size=2)
    pipeline.sync_source("testreg.citizens", ref)
    return _full_dump(ref)


@pytest.mark.parametrize("point", ["during-extract", "after-staging", "after-checks", "inside-publish",
                                   "after-publish"])
def test_crash_then_rerun_equals_an_uninterrupted_run(setup, uninterrupted, point):
    settings, _ = setup

    def hook(where):
        if where == point:
            raise Crash(where)

    with pytest.raises(Crash):
        load_id = pipeline.extract_and_stage("testreg.citizens", settings, crash_hook=hook)
        pipeline.check_load(load_id, settings, crash_hook=hook)
        pipeline.publish_load(load_id, settings, crash_hook=hook)
    # Before the re-run: every point but the last is before the publish commit, so nothing is
    # visible (no row, no cursor); after it, everything is, exactly as an uninterrupted run.
    if point == "after-publish":
        assert _dump(settings) == uninterrupted[:2]
    else:
        assert _dump(settings) == [[], []]
    loads.release_lease(store.engine_for(settings), "testreg.citizens")  # the crashed process is gone
    pipeline.sync_source("testreg.citizens", settings)
    rerun = _full_dump(settings)
    assert len(rerun[0]) == 4 and len(rerun[2]) == 2
    # rows and their hashes, the cursor, the quarantine (not doubled): all as if never interrupted
    assert rerun == uninterrupted


def test_consolidate_builds_entities_with_lineage(setup):
    settings, _ = setup
    pipeline.sync_source("testreg.citizens", settings)
    result = pipeline.consolidate(settings)
    # four published citizens, and the one of the row quarantined for its id's check digit
    assert result["types"]["person"] == {"records": 5, "entities": 5, "review": 0}
    with store.engine_for(settings).connect() as conn:
        lineage = conn.execute(sa.select(store.entities.c.lineage)).scalars().first()
    assert lineage and all("ref" in v for v in lineage.values())


def test_every_sync_is_audited_in_the_hash_chain_failures_included(setup):
    from munihub.store import audit

    settings, src = setup
    pipeline.sync_source("testreg.citizens", settings)
    with sqlite3.connect(src) as db:
        db.executemany("INSERT INTO citizens VALUES (?,?,?,?,?,?,?)",
                       [(20 + i, national_id(f"5{i:02d}123456"), "نام", None, None, None, "2024-04-01 00:00:00")
                        for i in range(6)])
    with pytest.raises(QualityGateError):
        pipeline.sync_source("testreg.citizens", settings)
    engine = store.engine_for(settings)
    with engine.connect() as conn:
        entries = conn.execute(sa.select(store.audit_log.c.action, store.audit_log.c.target, store.audit_log.c.outcome,
                                         store.audit_log.c.detail).order_by(store.audit_log.c.seq)).all()
    assert [(a, t, o) for a, t, o, _ in entries] == [("sync", "testreg.citizens", "published"),
                                                     ("sync", "testreg.citizens", "held")]
    assert entries[0].detail["rows_new"] == 4 and entries[1].detail["failed_checks"]
    assert audit.verify(engine) == []


def test_a_contract_is_parsed_once_per_content_and_afresh_when_edited(setup):
    settings, _ = setup
    path = settings.contracts_dir / "testreg" / "citizens.yaml"
    first = contracts.contract_for("testreg.citizens", settings)
    assert contracts.contract_for("testreg.citizens", settings) is first  # every stage of a load asks
    text = path.read_text("utf-8")
    assert f"version: {first.version}" in text
    path.write_text(text.replace(f"version: {first.version}", "version: 9.9.9"), "utf-8")
    edited = contracts.contract_for("testreg.citizens", settings)
    assert edited.version == "9.9.9"
    result = pipeline.sync_source("testreg.citizens", settings)
    with store.engine_for(settings).connect() as conn:
        version = conn.execute(sa.select(store.loads.c.contract_version)
                               .where(store.loads.c.load_id == result["load_id"])).scalar()
    assert version == "9.9.9"


def _contract_with(settings, *, top: dict | None = None, freshness_element: str | None = None) -> None:
    """Edit the test contract in place: extra top-level customProperties, a freshness element."""
    path = settings.contracts_dir / "testreg" / "citizens.yaml"
    text = path.read_text(encoding="utf-8")
    if freshness_element:
        text = text.replace("    unit: d\n", f"    unit: d\n    element: {freshness_element}\n", 1)
    for key, value in (top or {}).items():
        text += f"  - property: {key}\n    value: {value}\n"
    path.write_text(text, encoding="utf-8")


@pytest.mark.parametrize("check, prop, element", [
    ("quarantine share", "quarantineSeverity", None),       # 2 of 6 rows quarantined: 33 % > 10 %
    ("freshness birth_date", "freshnessSeverity", "birth_date"),   # newest birth date is decades old
])
@pytest.mark.parametrize("severity", [None, "error"])
def test_the_contract_sets_the_severity_of_the_implicit_checks(setup, check, prop, element, severity):
    """quarantineSeverity / freshnessSeverity: unset, the implicit check warns and the load
    publishes; `error`, the same measurement holds the load and nothing is published."""
    settings, _ = setup
    _contract_with(settings, top={prop: severity} if severity else None, freshness_element=element)
    engine = store.engine_for(settings)
    if severity == "error":
        with pytest.raises(QualityGateError, match=check):
            pipeline.sync_source("testreg.citizens", settings)
        assert _count(settings, store.source_rows) == 0 and _count(settings, store.cursors) == 0
    else:
        pipeline.sync_source("testreg.citizens", settings)
        assert _count(settings, store.source_rows) == 4
    with engine.connect() as conn:
        status, checks = conn.execute(sa.select(store.loads.c.status, store.loads.c.checks)).one()
    result = next(r for r in checks if r["name"] == check)
    assert (status, result["severity"], result["status"]) == (
        ("held", "error", "failed") if severity == "error" else ("published", "warning", "warning"))


def test_a_replay_after_a_held_load_leaves_the_source_cursor_where_it_was(setup):
    """A held load does not move the cursor, so its rows are read again; a replay of its
    quarantine must not move it either, or those held rows would be skipped for good."""
    settings, src = setup
    pipeline.sync_source("testreg.citizens", settings)
    before = _dump(settings)[1]
    with sqlite3.connect(src) as db:   # 5 rows without a last name (held at 50 %), one bad id
        db.executemany("INSERT INTO citizens VALUES (?,?,?,?,?,?,?)",
                       [(10 + i, national_id(f"4{i:02d}123456"), "نام", None, None, None, "2024-03-01 00:00:00")
                        for i in range(5)] + [(30, "1111111112", "x", "y", None, None, "2024-05-01 00:00:00")])
    with pytest.raises(QualityGateError):
        pipeline.sync_source("testreg.citizens", settings)
    assert _dump(settings)[1] == before
    # the steward fixes the held load's bad id (newer than the held rows) and replays it alone
    q = store.quarantine
    with store.engine_for(settings).begin() as conn:
        entry = next(r for r in conn.execute(sa.select(q.c.id, q.c.raw).where(q.c.status == "open"))
                     if r.raw["id"] == 30)
        conn.execute(q.update().where(q.c.id == entry.id)
                     .values(raw=dict(entry.raw, code_melli=national_id("512345678"))))
    result = replay(settings, "testreg.citizens", [entry.id], actor="tester")
    assert (result["replayed"], result["published"]) == (1, 1)
    assert _dump(settings)[1] == before   # the source's cursor, not only the replay load's own
    # the fix lands at the source: the held rows are read again and published, none skipped
    with sqlite3.connect(src) as db:
        db.execute("UPDATE citizens SET lname = 'نو' WHERE id BETWEEN 10 AND 14")
    pipeline.sync_source("testreg.citizens", settings)
    keys = {k for _, k, _ in _dump(settings)[0]}
    assert {national_id(f"4{i:02d}123456") for i in range(5)} <= keys


def test_the_pipeline_redacts_a_secret_a_connector_left_in_its_error(setup, monkeypatch):
    """Connectors redact their own errors, but a third party's may not: the pipeline scrubs the
    ledger's error and the audit entry again before storing them (the CLI redacts what it prints)."""
    from munihub.errors import SourceError
    from munihub.ingest import connector as connector_mod
    from munihub.store import audit

    secret = "leaky-Pa55word-7f3a"

    class Leaky(connector_mod.Connector):
        kind = "leaky"

        def read_batches(self, cursor):
            # a MunihubError passes extract's classification untouched, secret and all
            raise SourceError(f"login refused for password={self.secrets['password']}", where=self.source)

    real = connector_mod._connector_class
    monkeypatch.setattr(connector_mod, "_connector_class", lambda kind: Leaky if kind == "leaky" else real(kind))
    monkeypatch.setenv("T_LEAKY_PASSWORD", secret)
    settings, _ = setup
    path = settings.contracts_dir / "testreg" / "citizens.yaml"
    text = path.read_text(encoding="utf-8").replace("        value: sql\n", "        value: leaky\n", 1)
    path.write_text(text.replace("      - property: key\n        value: id\n",
                                 "      - property: key\n        value: id\n"
                                 "      - property: secrets\n        value: {password: T_LEAKY_PASSWORD}\n", 1),
                    encoding="utf-8")
    with pytest.raises(SourceError, match="login refused"):
        pipeline.sync_source("testreg.citizens", settings)
    engine = store.engine_for(settings)
    with engine.connect() as conn:
        status, error = conn.execute(sa.select(store.loads.c.status, store.loads.c.error)).one()
        details = [d for (d,) in conn.execute(sa.select(store.audit_log.c.detail))]
    assert status == "failed" and "login refused for password=***" in error
    assert details and all(secret not in str(d) for d in details) and "***" in details[-1]["error"]
    assert audit.verify(engine) == []


def test_source_preview_shows_converted_dates_and_masks_ids_by_name(setup):
    """Preview is for the agency's own data: a Jalali birth date must read as its ISO conversion
    (the digit-run scan of reports would mask 1986-05-01), while ids and mobiles stay masked."""
    from munihub.pipeline.preview import preview
    settings, _ = setup
    rows = {r["first_name"]: r for r in preview("testreg.citizens", settings, limit=10)}
    assert rows["محمدرضا"]["birth_date"] == "1986-05-01"          # 1365/02/11
    assert rows["فاطمه\u200cزهرا"]["birth_date"] == "1991-08-11"   # ۱۳۷۰/۰۵/۲۰, Persian digits
    assert rows["محمدرضا"]["national_id"] == "*******679" and rows["محمدرضا"]["mobile"].endswith("4567")
    assert "1234567" not in str(rows["محمدرضا"]["mobile"])
    assert _count(settings, store.loads) == 0     # and nothing was written


def test_without_data_docs_the_checks_judge_the_same_and_no_docs_are_built(setup):
    """Issue 18: MUNIHUB_DATA_DOCS=0 spares a sync great-expectations; the verdicts are the same."""
    import dataclasses

    settings, _ = setup
    plain = dataclasses.replace(settings, data_docs=False)
    pipeline.sync_source("testreg.citizens", plain)
    with store.engine_for(plain).connect() as conn:
        (checks,) = conn.execute(sa.select(store.loads.c.checks)).one()
    assert checks and all("data_docs" not in c for c in checks)
    assert {c["metric"]: c["status"] for c in checks}["duplicateValues"] == "passed"
    assert not (plain.reports / "data-docs").exists()
    assert load_settings_docs({"MUNIHUB_DATA_DOCS": "0"}) is False and load_settings_docs({}) is False
    assert load_settings_docs({"MUNIHUB_DATA_DOCS": "1"}) is True  # off unless asked for (issue 18)


def load_settings_docs(env: dict) -> bool:
    from munihub.config import load_settings

    return load_settings({"MUNIHUB_CONTRACTS": str(REPO_ROOT / "contracts"), **env}).data_docs


def test_a_built_in_connector_is_found_without_scanning_every_distribution(monkeypatch):
    """Built-in kinds come from munihub's own entry points (the scan of every installed
    distribution cost 20–35 ms of a small sync); a third party's kind still comes from the scan."""
    from importlib.metadata import EntryPoint

    from munihub.errors import ConfigError
    from munihub.ingest import connector as connector_mod

    def no_scan(**kw):
        raise AssertionError("every distribution's entry points were read")

    monkeypatch.setattr(connector_mod, "entry_points", no_scan)
    connector_mod._connector_class.cache_clear()
    try:
        assert connector_mod.load_connector_class("sql").__name__ == "SqlConnector"
        third = EntryPoint(name="third", value="connectors.files:FileConnector", group=connector_mod.ENTRY_POINT_GROUP)
        monkeypatch.setattr(connector_mod, "entry_points", lambda **kw: [third])
        assert connector_mod.load_connector_class("third").__name__ == "FileConnector"
        with pytest.raises(ConfigError, match="known kinds: third"):
            connector_mod.load_connector_class("nowhere")
    finally:
        connector_mod._connector_class.cache_clear()

"""The request groups kept for the indicators, maintained incrementally: after changes that
split a group, merge two, reopen a problem (moving a later repeat) and add a month, every
stored figure equals the same figure computed from scratch over the store, on both engines;
and with the bookkeeping broken on purpose the same comparison finds the difference."""
from __future__ import annotations

import datetime as dt
import importlib
import time

import pytest
import sqlalchemy as sa

from munihub import store
from munihub.indicators import delta, groups, load_all, refresh
from munihub.indicators.compute import figures
from munihub.indicators.define import as_json
from munihub.indicators.facts import FACTS
from munihub.resolve import run as resolve_run
from munihub.resolve.run import resolve_all
from test_indicators import AS_OF, CATEGORIES, SHIPPED, _row, city, pg_city, request  # noqa: F401 (fixtures)

START = dt.datetime(2024, 9, 1, 8, 0)
PARTS = ("value", "numerator", "denominator", "rows", "citizens", "target")


def _publish(engine, *rows: dict) -> None:
    """Insert or re-publish source rows (stamped now), then resolve as consolidation does."""
    t = store.source_rows
    with engine.begin() as conn:
        for row in rows:
            conn.execute(t.delete().where(t.c.source == row["source"], t.c.source_key == row["source_key"]))
        conn.execute(t.insert(), list(rows))
    resolve_all(engine)


def _req(key: str, citizen: int, category: str, day: float, closed: float | None = None, **extra) -> dict:
    filed = START + dt.timedelta(days=day)
    rec = request(0, citizen, category, filed, filed + dt.timedelta(days=closed) if closed is not None else None,
                  tracking=key, **extra)
    return _row("rc137.requests", key, "service_request", rec, when=dt.datetime.now(dt.timezone.utc))


def _round(n: int) -> list[dict]:
    if n == 1:
        return [
            # F0000 stops citing T0000 and moves to another problem: T0000's group loses it,
            # though T0000 itself did not change
            _req("F0000", 0, CATEGORIES[2], 30),
            # a new follow-up citing T0050
            _req("F0051", 10, CATEGORIES[2], 101, refers_to="T0050"),
            # citizen 30 reports one problem twice, fifty days apart: two groups
            _req("C0001", 30, CATEGORIES[0], 10, 2), _req("C0002", 30, CATEGORIES[0], 60),
            # a request in a month nobody filed in before (Bahman 1403)
            _req("N0001", 3, CATEGORIES[2], 146, 2),
        ]
    return [
        # between citizen 30's two requests: the window chains all three into one group,
        # and the second group's request joins the first without changing itself
        _req("C0003", 30, CATEGORIES[0], 35),
        # T0000 reopened: R0001 (citizen 0, the same problem brought back after T0000 closed)
        # is no longer a repeat, though nothing about R0001 changed
        _req("T0000", 0, CATEGORIES[0], 0),
        # T0031 closed: its group resolves
        _req("T0031", 11, CATEGORIES[1], 62 + 1 / 24, 3),
    ]


def _stored(engine, defs) -> dict:
    t = store.indicator_values
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t).where(t.c.indicator_id.in_([d.id for d in defs]))).mappings().all()
    return {(r["indicator_id"], r["period"], r["cell"]): _parts(r) for r in rows}


def _from_scratch(engine, defs, as_of=AS_OF) -> dict:
    """Every figure computed over the store itself (the facts built from the source rows and
    members, no kept group, no stored figure)."""
    out = {}
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL TIME ZONE 'UTC'")
        for d in defs:
            for r in figures(conn, d, as_of):
                out[(d.id, r["period"], as_json(r["dims"]))] = _parts(r)
    return out


def _parts(r) -> tuple:
    return tuple(round(float(r[k]), 9) if r[k] is not None else None for k in PARTS)


def _kept_groups(engine) -> dict:
    """The kept groups, and the same groups computed from scratch (columns both have)."""
    t = store.indicator_request_groups
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL TIME ZONE 'UTC'")
        scratch = FACTS["request_group"].build(conn.dialect.name, "2025-01-20T00:00:00")
        names = [c for c in t.c.keys() if c in scratch.c]
        kept = {r[0]: tuple(r) for r in conn.execute(sa.select(*(t.c[c] for c in names)))}
        fresh = {r[0]: tuple(r) for r in conn.execute(sa.select(*(scratch.c[c] for c in names)))}
    return {"kept": kept, "fresh": fresh}


def _differences(engine, defs, as_of=AS_OF) -> list:
    stored, scratch = _stored(engine, defs), _from_scratch(engine, defs, as_of)
    return sorted((k, stored.get(k), scratch.get(k)) for k in stored.keys() | scratch.keys()
                  if stored.get(k) != scratch.get(k))


def _run_rounds(engine, modes=("delta",)) -> list[list]:
    """Refresh, then two rounds of changes, each refreshed incrementally (the 137 figures in
    `modes`); the differences between what is stored and what a computation from scratch
    gives, after each round."""
    defs = load_all(SHIPPED)[0]
    refresh(engine, defs, as_of=AS_OF)
    found = []
    for n in (1, 2):
        _publish(engine, *_round(n))
        runs = refresh(engine, defs, as_of=AS_OF)
        assert {r["mode"] for r in runs if r["indicator"].startswith("137.")} == set(modes)
        found.append(_differences(engine, defs))
    return found


def test_an_incremental_refresh_equals_a_computation_from_scratch(city):
    with city.connect() as conn:
        version = groups.state(conn)
    assert version is None  # nothing kept before the first refresh
    rounds = _run_rounds(city)
    assert rounds == [[], []]
    kept = _kept_groups(city)
    assert kept["kept"] == kept["fresh"]
    # what the rounds did shows in the figures: the merged problem is one group of three
    with city.connect() as conn:
        t = store.indicator_request_groups
        sizes = sorted(n for (n,) in conn.execute(sa.select(t.c.requests).where(t.c.citizen.in_(
            sa.select(store.entity_members.c.entity_id).where(
                store.entity_members.c.source_key == "C0001#person")))))
        state = groups.state(conn)
    assert sizes == [3]
    assert state["version"] == 3 and state["logged_since"] == 1


def test_whole_periods_recomputed_equal_a_computation_from_scratch(city, monkeypatch):
    # the periods a change touched, recomputed whole: what a definition the cells cannot be
    # moved for gets (and any indicator whose figures are not those the change leads from)
    monkeypatch.setattr(delta, "applies", lambda defn: False)
    assert _run_rounds(city, modes=("incremental", "snapshot")) == [[], []]


def test_the_comparison_sees_cells_moved_without_what_they_gave_before(city, monkeypatch):
    # adding what the changed citizens give now without taking off what they gave before
    real = delta._aggregate
    monkeypatch.setattr(delta, "_aggregate", lambda conn, memo, defn, defs, side, as_of:
                        {} if side == 0 else real(conn, memo, defn, defs, side, as_of))
    rounds = _run_rounds(city)
    assert any(k[0] == "137.requests" for k, *_ in rounds[0])


def _close_later(engine) -> None:
    """T0004 (closed after 5 days) closed after 12: the same cells, a longer resolution."""
    _publish(engine, _req("T0004", 4, CATEGORIES[0], 8, 12))


def test_a_request_refiled_in_another_month_leaves_its_first_month(city):
    # T0004 (day 8) corrected to day 100: its group leaves a month no group enters
    defs = [d for d in load_all(SHIPPED)[0] if d.source == "request_group"]
    refresh(city, defs, as_of=AS_OF)
    first = _month_of_t0004(city)
    _publish(city, _req("T0004", 4, CATEGORIES[0], 100, 3))
    runs = {r["indicator"]: r for r in refresh(city, defs, as_of=AS_OF)}
    assert _month_of_t0004(city) != first
    assert runs["137.requests"]["mode"] == "delta" and runs["137.requests"]["periods"] == 2
    assert _differences(city, defs) == []


def test_a_resolution_moved_within_its_cell_ranks_the_cell_again(city):
    defs = [d for d in load_all(SHIPPED)[0] if d.source == "request_group"]
    refresh(city, defs, as_of=AS_OF)
    before = _stored(city, defs)
    _close_later(city)
    runs = {r["indicator"]: r for r in refresh(city, defs, as_of=AS_OF)}
    assert runs["137.resolution_p90"]["mode"] == "delta" and runs["137.resolution_p90"]["cells"] == 1
    assert runs["137.requests"]["cells"] == 0  # no count moved: nothing written
    assert _differences(city, defs) == []
    assert _stored(city, defs) != before


def test_the_comparison_sees_a_cell_not_ranked_again(city, monkeypatch):
    real = delta._aggregate
    monkeypatch.setattr(delta, "_aggregate", lambda conn, memo, defn, defs, side, as_of:
                        {} if side is None else real(conn, memo, defn, defs, side, as_of))
    defs = [d for d in load_all(SHIPPED)[0] if d.source == "request_group"]
    refresh(city, defs, as_of=AS_OF)
    _close_later(city)
    refresh(city, defs, as_of=AS_OF)
    found = {k[0] for k, *_ in _differences(city, defs)}
    assert "137.resolution_p90" in found and found <= {"137.resolution_median", "137.resolution_p90"}


def test_figures_not_those_a_change_leads_from_recompute_their_periods(city):
    defs = [d for d in load_all(SHIPPED)[0] if d.source == "request_group"]
    refresh(city, defs, as_of=AS_OF)
    t = store.indicator_values
    with city.begin() as conn:  # figures that cannot have come from the groups before the change
        conn.execute(t.update().where(t.c.indicator_id == "137.requests").values(rows=0))
    _close_later(city)
    runs = {r["indicator"]: r for r in refresh(city, defs, as_of=AS_OF)}
    assert runs["137.requests"]["mode"] == "incremental" and runs["137.requests"]["periods"] == 1
    assert runs["137.followup_rate"]["mode"] == "delta"
    # T0004's month recomputed whole from the groups; the other months keep what was stored
    stale = {k[1] for k, *_ in _differences(city, defs) if k[0] == "137.requests"}
    assert stale and _month_of_t0004(city) not in stale


def _month_of_t0004(engine) -> str:
    t = store.indicator_request_groups
    with engine.connect() as conn:
        return conn.execute(sa.select(t.c.month).where(t.c.group_id.in_(sa.select(
            store.entity_members.c.entity_id).where(store.entity_members.c.source_key == "T0004")))).scalar_one()


def test_figures_another_refresh_wrote_meanwhile_are_not_moved_again(city, monkeypatch):
    refresh_module = importlib.import_module("munihub.indicators.refresh")
    defs = [d for d in load_all(SHIPPED)[0] if d.source == "request_group"]
    refresh(city, defs, as_of=AS_OF)
    _publish(city, *_round(1))
    real, other = refresh_module._lock, []

    def meanwhile(conn, defn):  # another refresh writes 137.requests between this one's plan and its writing
        if defn.id == "137.requests" and not other:
            other.append(defn)
            assert [r["mode"] for r in refresh(city, [defn], as_of=AS_OF)] == ["incremental"]
        return real(conn, defn)

    monkeypatch.setattr(refresh_module, "_lock", meanwhile)
    runs = {r["indicator"]: r for r in refresh(city, defs, as_of=AS_OF)}
    assert _differences(city, defs) == []  # (moved twice, 137.requests would count the change twice)
    assert runs["137.requests"]["mode"] == "incremental" and runs["137.requests"]["periods"] == 0
    assert runs["137.requests_by_category"]["mode"] == "delta"


def _open_past_due_later(engine, defs) -> list:
    """A request opened two days before a refresh, then another change refreshed eight days on
    (the same Jalali month): the request is now past due, though its group did not change;
    the differences of the stored figures from a computation from scratch."""
    refresh(engine, defs, as_of=AS_OF)
    _publish(engine, _req("O0001", 7, CATEGORIES[1], 139))
    refresh(engine, defs, as_of=AS_OF)
    _close_later(engine)
    later = AS_OF + dt.timedelta(days=8)
    runs = {r["indicator"]: r for r in refresh(engine, defs, as_of=later)}
    assert runs["137.open_past_due"]["mode"] == "delta"
    return _differences(engine, defs, later)


def test_a_snapshot_counts_the_groups_past_due_again(city):
    defs = [d for d in load_all(SHIPPED)[0] if d.id == "137.open_past_due"]
    assert _open_past_due_later(city, defs) == []


def test_a_snapshot_no_cell_of_which_moved_is_moved_again_next_time(city):
    # a change that moves no cell of the snapshot (T0004 stays closed) still leaves this
    # month's snapshot complete: the next change moves it again instead of taking it anew
    defs = [d for d in load_all(SHIPPED)[0] if d.id == "137.open_past_due"]
    refresh(city, defs, as_of=AS_OF)
    _close_later(city)
    first = {r["indicator"]: r for r in refresh(city, defs, as_of=AS_OF)}["137.open_past_due"]
    assert first["mode"] == "delta" and first["cells"] == 0
    _publish(city, _req("T0004", 4, CATEGORIES[0], 8, 15))
    again = {r["indicator"]: r for r in refresh(city, defs, as_of=AS_OF)}["137.open_past_due"]
    assert again["mode"] == "delta"
    assert _differences(city, defs) == []


def test_the_comparison_sees_a_snapshot_not_counted_again(city, monkeypatch):
    monkeypatch.setattr(delta, "recounted", lambda defn: False)
    defs = [d for d in load_all(SHIPPED)[0] if d.id == "137.open_past_due"]
    assert [k[0] for k, *_ in _open_past_due_later(city, defs)] == ["137.open_past_due"]


def test_the_closure_reaches_a_group_left_without_a_trace(city, monkeypatch):
    # as below, mentions keeping their threads, but closed over the members as it is (only the
    # requests collected on one side, now or as kept, looked up on the other): nothing is lost
    monkeypatch.setattr(resolve_run, "request_threads", lambda groups, settings, engine=None, trust=None: None)
    assert _run_rounds(city) == [[], []]


def test_the_comparison_sees_a_merge_missed(city, monkeypatch):
    # without closing the touched groups over their members, a request that changed group
    # without changing itself is lost: T0000, once F0000 left their group taking its id along
    # (a tie goes to the smaller member); C0002's merge is caught anyway, its citizen's
    # mentions being reassigned with C0003's
    monkeypatch.setattr(groups, "_reach", lambda conn, touched, now, was, n: 0)
    # Resolution gives callers' person mentions their request thread and matches again those
    # whose thread moved (T0000's, once F0000 left), which reassigns them and so reaches the
    # group anyway; the bookkeeping must not lean on that, so here mentions keep their threads.
    monkeypatch.setattr(resolve_run, "request_threads", lambda groups, settings, engine=None, trust=None: None)
    rounds = _run_rounds(city)
    assert any(k[0] == "137.requests" for k, *_ in rounds[0])


def test_the_comparison_sees_a_repeat_moved_but_not_logged(city, monkeypatch):
    # forgetting the groups recomputed only for their repeat chain (R0001, whose repeat moved
    # with T0000's reopening, though R0001 itself did not change) keeps its month stale
    real = groups._diff

    def touched_only(conn, fresh, touched, kin):
        diff = real(conn, fresh, touched, kin)
        conn.execute(diff.delete().where(diff.c.group_id.not_in(sa.select(touched.c.group_id))))
        return diff

    monkeypatch.setattr(groups, "_diff", touched_only)
    rounds = _run_rounds(city)
    assert any(k[0] == "137.repeat_rate" for k, *_ in rounds[1])


def _merge_citizen_2_into_1(engine) -> None:
    """What resolution does when a person is merged into another: the mentions of citizen 2's
    requests (T0002, T0022, T0042) now name citizen 1's person, the requests themselves unchanged;
    a request published meanwhile moves the store's row mark too."""
    m = store.entity_members
    _publish(engine, _req("N0040", 40, CATEGORIES[0], 100))
    with engine.begin() as conn:
        person_1 = conn.execute(sa.select(m.c.entity_id).where(m.c.source_key == "T0001#person")).scalar_one()
        conn.execute(m.update().where(m.c.source_key.in_(["T0002#person", "T0022#person", "T0042#person"]))
                     .values(entity_id=person_1, assigned_at=dt.datetime.now(dt.timezone.utc)))


def test_a_citizen_merged_into_another_moves_the_groups_of_unchanged_requests(city):
    defs = [d for d in load_all(SHIPPED)[0] if d.source == "request_group"]
    refresh(city, defs, as_of=AS_OF)
    _merge_citizen_2_into_1(city)
    assert {r["mode"] for r in refresh(city, defs, as_of=AS_OF)} == {"delta"}
    assert _differences(city, defs) == []
    kept = _kept_groups(city)
    assert kept["kept"] == kept["fresh"]


def test_the_comparison_sees_a_merged_citizen_missed(city, monkeypatch):
    # reading only the requests published, not the mentions reassigned, keeps citizen 2
    real = groups._changed_requests
    monkeypatch.setattr(groups, "_changed_requests", lambda since, member_since: real(since, None))
    defs = [d for d in load_all(SHIPPED)[0] if d.source == "request_group"]
    refresh(city, defs, as_of=AS_OF)
    _merge_citizen_2_into_1(city)
    refresh(city, defs, as_of=AS_OF)
    kept = _kept_groups(city)
    assert kept["kept"] != kept["fresh"]
    # T0001 and T0002 (one category, one month) now name one citizen: the cell counts one less
    assert any(k[0] == "137.requests_by_category" and stored[4] == scratch[4] + 1
               for k, stored, scratch in _differences(city, defs))


def test_members_moved_without_a_row_published_rebuild_the_groups(city):
    defs = [d for d in load_all(SHIPPED)[0] if d.source == "request_group"]
    refresh(city, defs, as_of=AS_OF)
    with city.begin() as conn:  # what a steward's decision does: regroup, publish nothing
        conn.execute(store.entity_members.update().values(assigned_at=dt.datetime.now(dt.timezone.utc)))
    runs = refresh(city, defs, as_of=AS_OF)
    assert {r["mode"] for r in runs} == {"full", "snapshot"}
    with city.connect() as conn:
        assert groups.state(conn)["logged_since"] == 2
    assert _differences(city, defs) == []


def test_kept_groups_found_empty_are_rebuilt(city):
    # what PostgreSQL leaves of an unlogged table after a crash: the rows gone, the state kept
    defs = [d for d in load_all(SHIPPED)[0] if d.source == "request_group"]
    refresh(city, defs, as_of=AS_OF)
    with city.begin() as conn:
        conn.execute(store.indicator_request_groups.delete())
        conn.execute(store.indicator_group_members.delete())
    _publish(city, *_round(1))
    assert {r["mode"] for r in refresh(city, defs, as_of=AS_OF)} == {"full", "snapshot"}
    assert _differences(city, defs) == []
    if city.dialect.name == "postgresql":
        with city.connect() as conn:
            persistence = dict(conn.execute(sa.text(
                "SELECT relname, relpersistence FROM pg_class WHERE relname IN "
                "('indicator_request_groups', 'indicator_group_members', 'indicator_facts')")).all())
        assert persistence == {"indicator_request_groups": "u", "indicator_group_members": "u",
                               "indicator_facts": "p"}


@pytest.mark.postgres
def test_the_kept_groups_are_vacuumed_when_dead_rows_pile_up(pg_url):
    engine = store.open_store(pg_url)
    with engine.begin() as conn:
        conn.execute(store.indicator_request_groups.insert(), [
            {"group_id": f"S-{i}", "citizen": f"P-{i}", "requests": 1, "followups": 0, "is_repeat": 0,
             "repeats": 0, "closed": 0} for i in range(100)])
    assert groups.vacuum(engine) == []  # nothing dead yet
    with engine.begin() as conn:  # what refreshes leave behind: rows deleted and written again
        conn.execute(store.indicator_request_groups.delete().where(store.indicator_request_groups.c.group_id < "S-5"))
    # a backend reports its counts a while after it commits: wait until they are seen
    engine.dispose()  # (a closing backend reports at once)
    with engine.connect() as conn:
        for _ in range(150):
            dead = conn.execute(sa.text("SELECT n_dead_tup FROM pg_stat_user_tables "
                                        "WHERE relname = 'indicator_request_groups'")).scalar()
            conn.rollback()  # a transaction sees one snapshot of the statistics
            if dead:
                break
            time.sleep(0.1)
    assert groups.vacuum(engine) == ["indicator_request_groups"]
    assert groups.vacuum(engine) == []  # reclaimed
    engine.dispose()


@pytest.mark.postgres
def test_the_temporary_tables_lower_statistics_target_is_undone_after_each_analyze(pg_city):
    # the maintenance samples its temporary tables lightly; the kept groups analyzed later in
    # the same transaction (after a large change) must get the default, full statistics
    from munihub.indicators.refresh import _marks

    engine = pg_city
    defs = [d for d in load_all(SHIPPED)[0] if d.source == "request_group"]
    refresh(engine, defs, as_of=AS_OF)
    _publish(engine, *_round(1))
    with engine.connect() as conn:
        default = conn.exec_driver_sql("SHOW default_statistics_target").scalar()
        conn.rollback()
        marks = _marks(conn)
        with conn.begin():
            assert groups.maintain(conn, marks)["mode"] == "incremental"
            assert conn.exec_driver_sql("SHOW default_statistics_target").scalar() == default

"""A mistyped national id still counts in matching: one set aside at publish for a wrong
check digit, and one mistyped into another valid id (docs/resolution.md, "What is matched")."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from munihub import store
from munihub.persian.ids import national_id_check_digit
from munihub.resolve import model as fs
from munihub.resolve.match import settings_for
from munihub.resolve.records import SET_ASIDE_ID, load_match_records
from munihub.resolve.run import resolve_all

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)


def nid(first9: str) -> str:
    return first9 + str(national_id_check_digit(first9))


def typo(valid: str) -> str:
    """`valid` with one digit changed so that its check digit fails."""
    for d in "0123456789":
        wrong = valid[:4] + d + valid[5:]
        if wrong != valid and wrong[9] != str(national_id_check_digit(wrong[:9])):
            return wrong
    raise AssertionError(valid)


def _city(engine, set_aside_status: str = "open") -> tuple[str, str]:
    """Two registry namesakes «رضا کریمی» with their own ids, and a payment naming «رضا کریمی»
    whose national id, one digit off the second's, the contract set aside."""
    first, second = nid("093155305"), nid("094548120")
    rows = [("registry.citizens", "R1", "person", {"national_id": first, "first_name": "رضا", "last_name": "کریمی",
                                                    "birth_date": "1970-01-02"}),
            ("registry.citizens", "R2", "person", {"national_id": second, "first_name": "رضا", "last_name": "کریمی",
                                                    "birth_date": "1985-03-04"}),
            ("finance.payments", "PAY1", "payment", {"payment_id": "PAY1", "payer_name": "رضا کریمی",
                                                     "amount_rial": 1000}),
            ("finance.payments", "PAY2", "payment", {"payment_id": "PAY2", "amount_rial": 2000})]
    with engine.begin() as conn:
        for source, key, etype, record in rows:
            conn.execute(store.source_rows.insert().values(
                source=source, source_key=key, entity_type=etype, record=record,
                record_hash=store.record_hash(record), first_load_id="L1", load_id="L1", updated_at=T0))
        conn.execute(store.set_aside.insert().values(
            source="finance.payments", load_id="L1", source_key="PAY1", field="national_id",
            source_field="code_melli", value=typo(second), rule="transform:national_id",
            reason={"message": "wrong check digit"}, status=set_aside_status))
        conn.execute(store.set_aside.insert().values(  # a payer named by the mistyped id alone
            source="finance.payments", load_id="L1", source_key="PAY2", field="national_id",
            value=typo(second), rule="transform:national_id", reason={}, status=set_aside_status))
        # a set-aside value of an earlier load is no longer the row's
        conn.execute(store.set_aside.insert().values(
            source="registry.citizens", load_id="L0", source_key="R1", field="national_id",
            value=typo(first), rule="transform:national_id", reason={}, status="open"))
    return first, second


def _entities(engine) -> dict[str, str]:
    m = store.entity_members
    with engine.connect() as conn:
        return {f"{s}|{k}": e for s, k, e in conn.execute(sa.select(m.c.source, m.c.source_key, m.c.entity_id)
                                                          .where(m.c.entity_type == "person"))}


def test_a_set_aside_national_id_joins_the_person_it_is_one_digit_from(tmp_path):
    engine = store.open_store(f"sqlite:///{tmp_path / 's.db'}")
    _, second = _city(engine)
    mention = next(r for r in load_match_records(engine)["person"] if r["ref"] == "finance.payments|PAY1#person")
    assert mention["fields"][SET_ASIDE_ID] == typo(second) and "national_id" not in mention["fields"]
    assert "finance.payments|PAY2#person" in {r["ref"] for r in load_match_records(engine)["person"]}
    raw = {r["ref"]: r for r in load_match_records(engine, raw=True)["person"]}
    assert SET_ASIDE_ID not in str(raw["registry.citizens|R1"]["raw"])  # L0's value is not R1's now
    resolve_all(engine)
    ids = _entities(engine)
    assert ids["finance.payments|PAY1#person"] == ids["registry.citizens|R2"] != ids["registry.citizens|R1"]
    with engine.connect() as conn:  # matching evidence, not a value of the person
        goldens = [g for (g,) in conn.execute(sa.select(store.entities.c.golden))]
    assert goldens and not any(SET_ASIDE_ID in str(g) for g in goldens)


def test_a_dismissed_set_aside_value_is_no_evidence(tmp_path):
    engine = store.open_store(f"sqlite:///{tmp_path / 's.db'}")
    _city(engine, "dismissed")
    resolve_all(engine)
    ids = _entities(engine)
    assert ids["finance.payments|PAY1#person"] not in (ids["registry.citizens|R1"], ids["registry.citizens|R2"])


def test_m_of_the_trusted_id_is_not_learned_from_pairs_that_share_it():
    """Pairs sharing a valid national id always agree on it: learning m from them would give a
    one-digit typo (edit<=1) no weight at all."""
    conf = settings_for("person")
    base = fs.default_model(conf)
    names = list(base["m"])
    same = {n: len(base["m"][n]) - 1 for n in names}  # every comparison exact
    exact = [dict(same) for _ in range(60)]
    randoms = [{n: 0 for n in names} for _ in range(200)]
    trained = fs.train([], exact, randoms, 10_000, conf)
    assert trained["m"]["national_id"] == base["m"]["national_id"]
    assert trained["m"]["first_key"] != base["m"]["first_key"]  # the others are learned
    from munihub.resolve.vectorized import train_counts
    key = lambda v: tuple(v[n] for n in names)  # noqa: E731
    counted = train_counts({}, {key(same): 60}, {key(randoms[0]): 200}, 10_000, conf)
    assert counted["m"]["national_id"] == base["m"]["national_id"]


def test_a_nameless_caller_whose_only_id_is_mistyped_meets_its_owner():
    """No name, no phone, nothing in common but the home and an id one digit off: the id's
    typo variants block it with the owner's valid id (`near_ids`), and the typo decides."""
    from munihub.resolve import vectorized
    from munihub.resolve.match import find_matches

    owner = nid("096265732")
    home = {"detail": "مشهد، بلوار هاشمیه، کوچه 21، پلاک 5", "district": "12"}
    records = [{"ref": "registry.citizens|R1", "source": "registry.citizens", "entity_type": "person",
                "fields": {"national_id": owner, "first_name": "ابوالفضل", "last_name": "صادقی", "address": home}},
               {"ref": "rc137.calls|1#person", "source": "rc137.calls", "entity_type": "person",
                "fields": {SET_ASIDE_ID: typo(owner), "address": {"detail": "بلوار هاشمیه کوچه 21", "district": "12"}}}]
    conf = settings_for("person")
    pairs = find_matches(records)
    assert [(p.left_ref, p.right_ref) for p in pairs if p.probability >= conf["match"]] == \
        [("rc137.calls|1#person", "registry.citizens|R1")]
    got, _ = vectorized.match_index(vectorized.build_index(records, "person"), conf)
    assert got == pairs


def test_typo_variants_are_every_valid_id_one_typo_away():
    """The check-digit arithmetic gives what trying all 90 changes and 9 swaps gives."""
    import random

    from munihub.persian.ids import is_national_id
    from munihub.resolve.ids import typo_variants

    rng = random.Random(3)
    for _ in range(500):
        value = "".join(rng.choice("0123456789") for _ in range(10))
        tried = {value[:i] + d + value[i + 1:] for i in range(10) for d in "0123456789"}
        tried |= {value[:i] + value[i + 1] + value[i] + value[i + 2:] for i in range(9)}
        assert typo_variants(value) == tuple(sorted(v for v in tried - {value} if is_national_id(v)))
    assert typo_variants("۰۹۶۲۶۵۰۳۲۸") == () and typo_variants("12345") == ()


def test_valid_ids_one_typo_apart_beside_the_same_whole_name_are_scored_not_refused():
    """0944556671 and 0944556681 are both valid (remainders 10 and 1 give the check digit 1):
    one man's id mistyped into another valid one beside his whole name and mobile; the same
    two ids on twins حسن and حسین stay two people (tests/test_match.py)."""
    import numpy as np

    from munihub.resolve import vectorized
    from munihub.resolve.columns import feature_table
    from munihub.resolve.conflicts import TableConflicts, conflicting
    from munihub.resolve.match import features, find_matches

    a, b = nid("094455667"), nid("094455668")
    assert a[:8] == b[:8] and a[9] == b[9]  # one digit apart, both valid
    same = {"first_name": "حسین", "last_name": "کریمی", "mobile": "+989157654321"}
    records = [{"ref": "registry.citizens|R1", "source": "registry.citizens", "entity_type": "person",
                "fields": {"national_id": a, **same, "birth_date": "2001-05-05"}},
               {"ref": "rc137.calls|1#person", "source": "rc137.calls", "entity_type": "person",
                "fields": {"national_id": b, **same}},
               {"ref": "registry.citizens|R2", "source": "registry.citizens", "entity_type": "person",
                "fields": {"national_id": b, "first_name": "حسن", "last_name": "کریمی", "mobile": "+989150000009"}}]
    conf = settings_for("person")
    pairs = find_matches(records)
    linked = {(p.left_ref, p.right_ref) for p in pairs if p.probability >= conf["match"]}
    assert ("rc137.calls|1#person", "registry.citizens|R1") in linked
    assert ("registry.citizens|R1", "registry.citizens|R2") not in {(p.left_ref, p.right_ref) for p in pairs}
    got, _ = vectorized.match_index(vectorized.build_index(records, "person"), conf)
    assert sorted(got) == pairs
    feats = {r["ref"]: features(r) for r in records}
    assert not conflicting(feats["registry.citizens|R1"], feats["rc137.calls|1#person"], conf)
    assert conflicting(feats["registry.citizens|R1"], feats["registry.citizens|R2"], conf)
    table = feature_table(records, conf)
    pos = {r: i for i, r in enumerate(table.refs)}
    left = np.array([pos["registry.citizens|R1"], pos["registry.citizens|R1"]])
    right = np.array([pos["rc137.calls|1#person"], pos["registry.citizens|R2"]])
    assert TableConflicts(table, conf).many(left, right).tolist() == [False, True]


def test_a_title_and_surname_with_a_valid_id_one_typo_off_is_scored_not_refused():
    """«آقای کریمی» quotes an id one digit off حسین's that is valid too: no first name to differ
    in, so the ids are a typo, not two people (his mobile then decides); twin حسن with the
    very same ids and surname still conflicts by his own first name, and a side giving no
    name at all spares nothing (`match.near_agree`)."""
    import numpy as np

    from munihub.resolve.columns import feature_table
    from munihub.resolve.conflicts import TableConflicts, conflicting
    from munihub.resolve.ids import near_agree
    from munihub.resolve.match import features

    a, b = nid("094455667"), nid("094455668")
    records = [{"ref": "registry.citizens|R1", "source": "registry.citizens", "entity_type": "person",
                "fields": {"national_id": a, "first_name": "حسین", "last_name": "کریمی", "mobile": "+989157654321"}},
               {"ref": "rc137.calls|1#person", "source": "rc137.calls", "entity_type": "person",
                "fields": {"national_id": b, "last_name": "کریمی", "gender": "male", "mobile": "+989157654321"}},
               {"ref": "registry.citizens|R2", "source": "registry.citizens", "entity_type": "person",
                "fields": {"national_id": b, "first_name": "حسن", "last_name": "کریمی"}},
               {"ref": "rc137.calls|2#person", "source": "rc137.calls", "entity_type": "person",
                "fields": {"national_id": b, "mobile": "+989157654321"}}]
    conf = settings_for("person")
    feats = {r["ref"]: features(r) for r in records}
    r1, call, r2, nameless = (feats[r["ref"]] for r in records)
    assert near_agree(r1, call, ["first_key", "last_key"]) and not near_agree(r1, nameless, ["first_key", "last_key"])
    assert [conflicting(r1, x, conf) for x in (call, r2, nameless)] == [False, True, True]
    table = feature_table(records, conf)
    pos = {r: i for i, r in enumerate(table.refs)}
    left = np.array([pos["registry.citizens|R1"]] * 3)
    right = np.array([pos[r] for r in ("rc137.calls|1#person", "registry.citizens|R2", "rc137.calls|2#person")])
    assert TableConflicts(table, conf).many(left, right).tolist() == [False, True, True]


def test_explain_scores_a_pair_of_valid_ids_one_typo_apart_by_one_name():
    from munihub.resolve.explain import explain_features
    from munihub.resolve.match import default_model

    conf = settings_for("person")
    a, b = nid("094455667"), nid("094455668")
    fa = {"national_id": a, "first_key": "حسین", "last_key": "کریمی", "mobile": "+989157654321"}
    out = explain_features(fa, {**fa, "national_id": b}, conf, default_model(conf))
    assert out["rule"] == "fellegi-sunter" and out["probability"] >= conf["match"]
    twin = explain_features(fa, {**fa, "national_id": b, "first_key": "حسن"}, conf, default_model(conf))
    assert twin["rule"] == "different valid national_id: never a match" and twin["probability"] == 0.0


def test_an_incremental_run_finds_the_owner_of_a_mistyped_id_as_a_full_run_does(tmp_path):
    """The mistyped id's typo keys are in the store's blocking index (`match_keys`): a nameless
    caller arriving later with only that id still meets the owner resolved before."""
    engine = store.open_store(f"sqlite:///{tmp_path / 's.db'}")
    owner = nid("094548120")
    first = {"national_id": owner, "first_name": "رضا", "last_name": "کریمی", "birth_date": "1985-03-04",
             "address": {"detail": "مشهد، بلوار هاشمیه، کوچه 21، پلاک 5", "district": "12"}}
    with engine.begin() as conn:
        conn.execute(store.source_rows.insert().values(
            source="registry.citizens", source_key="R2", entity_type="person", record=first,
            record_hash=store.record_hash(first), first_load_id="L1", load_id="L1", updated_at=T0))
    resolve_all(engine)
    call = {"tracking_code": "7", "address": "بلوار هاشمیه کوچه 21", "district": "12", "citizen_name": "ناشناس",
            "category": "روشنایی معابر", "filed_at": "2024-05-01T10:00:00"}
    with engine.begin() as conn:
        conn.execute(store.source_rows.insert().values(
            source="rc137.calls", source_key="7", entity_type="service_request", record=call,
            record_hash=store.record_hash(call), first_load_id="L2", load_id="L2",
            updated_at=T0 + dt.timedelta(days=1)))
        conn.execute(store.set_aside.insert().values(
            source="rc137.calls", load_id="L2", source_key="7", field="national_id", value=typo(owner),
            rule="transform:national_id", reason={}, status="open"))
    resolve_all(engine)
    ids = _entities(engine)
    assert ids["rc137.calls|7#person"] == ids["registry.citizens|R2"]
    resolve_all(engine, full=True)
    assert _entities(engine) == ids

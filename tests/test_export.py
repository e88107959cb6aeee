"""Export round-trips and store evaluation against a tiny known truth, through the CLI."""
from __future__ import annotations

import csv
import datetime as dt
import json

import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from munihub import store
from munihub.cli.main import main
from munihub.resolve.run import resolve_all
from munihub.testing.synthetic import national_id_check

NID1 = "092345678" + national_id_check("092345678")
NID2 = "093111222" + national_id_check("093111222")
ROWS = [
    ("registry.citizens", "N1", "person", {"national_id": NID1, "first_name": "زهرا", "last_name": "کاظمی",
                                           "mobile": "+989151112233"}),
    ("health.patients", "H1", "person", {"national_id": NID1, "first_name": "زهرا", "last_name": "كاظمي"}),
    ("health.patients", "H2", "person", {"national_id": NID2, "first_name": "مریم", "last_name": "نوری"}),
    ("finance.payments", "PAY1", "payment", {"payment_id": "PAY1", "national_id": NID1,
                                            "payer_name": "زهرا کاظمی", "amount_rial": 500000}),
]


@pytest.fixture
def hub(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    (tmp_path / "contracts").mkdir()
    monkeypatch.setenv("MUNIHUB_STORE_URL", url)
    monkeypatch.setenv("MUNIHUB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MUNIHUB_CONTRACTS", str(tmp_path / "contracts"))
    engine = store.open_store(url)
    now = dt.datetime(2024, 3, 1, tzinfo=dt.timezone.utc)
    with engine.begin() as conn:
        for source, key, etype, rec in ROWS:
            conn.execute(store.source_rows.insert().values(
                source=source, source_key=key, entity_type=etype, record=rec,
                record_hash=store.record_hash(rec), first_load_id="L1", load_id="L1", updated_at=now))
    resolve_all(engine)
    return engine


def test_export_clusters_csv_and_parquet_cover_every_source_row(hub, tmp_path, capsys):
    assert main(["export", "clusters", "--format", "csv", "--out", str(tmp_path / "c.csv")]) == 0
    assert main(["export", "clusters", "--format", "parquet", "--out", str(tmp_path / "c.parquet")]) == 0
    assert "wrote 5 clusters row(s)" in capsys.readouterr().out
    with open(tmp_path / "c.csv", encoding="utf-8") as fh:
        from_csv = [dict(r, mention=r["mention"] == "True") for r in csv.DictReader(fh)]
    from_parquet = pq.read_table(tmp_path / "c.parquet").to_pylist()
    assert from_csv == from_parquet
    own = {(r["source"], r["source_key"], r["entity_type"]) for r in from_csv if not r["mention"]}
    assert own == {(s, k, t) for s, k, t, _ in ROWS}
    person = {(r["source"], r["source_key"]): r["entity_id"] for r in from_csv if r["entity_type"] == "person"}
    # one citizen across registry, clinic and the payment naming her; the other apart
    assert person[("registry.citizens", "N1")] == person[("health.patients", "H1")] \
        == person[("finance.payments", "PAY1")] != person[("health.patients", "H2")]


def test_export_entities_round_trip_golden_records(hub, tmp_path):
    assert main(["export", "entities", "--format", "parquet", "--out", str(tmp_path / "e.parquet")]) == 0
    assert main(["export", "entities", "--format", "csv", "--mask", "--out", str(tmp_path / "e.csv")]) == 0
    rows = pq.read_table(tmp_path / "e.parquet").to_pylist()
    with hub.connect() as conn:
        stored = {e: g for e, g in conn.execute(sa.select(store.entities.c.entity_id, store.entities.c.golden))}
    assert {r["entity_id"]: json.loads(r["golden"]) for r in rows} == stored
    masked = (tmp_path / "e.csv").read_text("utf-8")
    assert NID1 not in masked and NID1[-3:] in masked


def test_export_refuses_unknown_format(hub, tmp_path, capsys):
    from munihub.errors import MunihubError
    from munihub.resolve.export import export
    with pytest.raises(MunihubError, match="cannot export 'entities' as 'xlsx'"):
        export(hub, "entities", "xlsx", tmp_path / "x")


def _truth(path, header, rows):
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return str(path)


def test_evaluate_against_a_tiny_known_truth(hub, tmp_path, capsys):
    from munihub.resolve.evaluate import evaluate_store
    right = _truth(tmp_path / "persons.csv", ["source", "source_key", "true_person_id", "noise"],
                   [("registry.citizens", "N1", "P1", ""), ("health.patients", "H1", "P1", "arabic_letters"),
                    ("health.patients", "H2", "P2", ""), ("finance.payments", "PAY1", "P1", ""),
                    ("registry.citizens", "QUARANTINED", "P3", "")])
    result = evaluate_store(hub, right)
    assert result["scored"] == 4 and result["not_in_store"] == 1
    assert result["pairwise"]["f1"] == 1.0 and result["bcubed"]["f1"] == 1.0
    assert result["reduction"]["entities"] == 2
    wrong = _truth(tmp_path / "t.csv", ["source", "source_key", "true_id"],
                   [("health.patients", "H1", "X"), ("health.patients", "H2", "X"),
                    ("registry.citizens", "N1", "X")])
    result = evaluate_store(hub, wrong)
    assert result["pairwise"]["precision"] == 1.0 and result["pairwise"]["recall"] == pytest.approx(1 / 3)
    assert main(["resolve", "evaluate", "--truth", wrong]) == 0
    out = capsys.readouterr().out
    assert "pairwise" in out and "0.3333" in out and "b-cubed" in out
    assert main(["resolve", "evaluate", "--truth", str(tmp_path / "nope.csv")]) == 1


def test_evaluate_reads_request_truth_without_a_source_column(tmp_path):
    from munihub.resolve.evaluate import evaluate_members
    members = {"rc137.requests|137A": "S-1", "rc137.requests|137B": "S-1", "rc137.requests|137C": "S-2",
               "rc137.requests|137A#person": "P-1"}
    rows = [(None, "137A", "R1"), (None, "137B", "R1"), (None, "137C", "R1b")]
    result = evaluate_members(members, rows, "true_request_id")
    assert result["scored"] == 3 and result["pairwise"]["f1"] == 1.0


def test_evaluate_by_a_label_column(hub, tmp_path, capsys):
    from munihub.resolve.evaluate import evaluate_store
    # the hub keeps H2 apart from P1; here it is labelled P1, so only its labels lose recall
    labelled = _truth(tmp_path / "labelled.csv", ["source", "record_id", "person_id", "phenomena"],
                      [("registry.citizens", "N1", "P1", ""), ("health.patients", "H1", "P1", "arabic_letters;title"),
                       ("health.patients", "H2", "P1", "title"), ("finance.payments", "PAY1", "P1", "")])
    result = evaluate_store(hub, labelled, by="phenomena")
    by = result["by_label"]
    assert set(by) == {"(none)", "arabic_letters", "title"}
    assert by["arabic_letters"]["records"] == 1 and by["title"]["records"] == 2
    # H2 (a different citizen in the hub) is labelled P1 here: recall drops only where it is counted
    assert by["arabic_letters"]["pairwise"]["recall"] == pytest.approx(2 / 3)
    assert by["title"]["pairwise"]["recall"] < 1.0 and by["(none)"]["pairwise"]["precision"] == 1.0
    assert main(["resolve", "evaluate", "--truth", labelled, "--by", "phenomena"]) == 0
    out = capsys.readouterr().out
    assert "arabic_letters" in out and "pairwise_recall" in out
    assert main(["resolve", "evaluate", "--truth", labelled, "--by", "nope"]) == 1
    assert "no column 'nope'" in capsys.readouterr().err

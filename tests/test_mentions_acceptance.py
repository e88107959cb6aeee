"""Issue 15's acceptance as the held-out test tries it, on small copies of the bench data
(`bench/check_mentions.py`: bench_mentions' registry, 137 calls and payments in SQLite, and
bench_exports' five agencies' export files), each source brought in through its contract."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture(scope="module")
def found(tmp_path_factory):
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    import check_mentions
    return check_mentions.run(people=150, households=40, seed=11, work=tmp_path_factory.mktemp("acceptance"))


@pytest.mark.parametrize("bench", ["bench_mentions", "bench_exports"])
def test_no_record_lost_none_quarantined_off_essential_fields_every_citizen_a_mention(found, bench):
    for dataset, r in found[bench].items():
        assert r["lost"] == 0 and r["published"] + r["quarantined"] == r["distinct_ids"], (dataset, r)
        assert r["balanced"], dataset  # rows in = published + quarantined
        assert r["quarantined_off_essential"] == 0, (dataset, r["off_examples"])
        assert r["naming"] > 0 and r["naming_published_without_mention"] == 0, (dataset, r["missing_examples"])
    assert sum(r["set_aside"] for r in found[bench].values()) > 0  # bad values were there, and set aside


def test_bad_input_gets_one_line_naming_source_record_and_field(found):
    line = found["bad_input"]
    assert "rc137.calls record 137-BAD-1: filed_at: " in line and "\n" not in line


def test_the_check_sees_a_citizen_named_by_any_number_or_a_real_name_word():
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    from check_mentions import names_someone
    assert names_someone("آقای احمدی") and names_someone("ناشناس", None, "09151234567")
    assert not names_someone("ناشناس", None, "") and not names_someone("شهروند گرامی") and not names_someone("آقای")

"""`bench/person_file.read_records` (the Parquet fast path of bench_vs_splink) gives what
`match_records` makes of the rows: the same records, fields in the same order."""
from __future__ import annotations

import json
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench"


def test_read_records_is_match_records_of_the_rows(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    from person_file import match_records, read_records, read_rows

    values = [None, "", "x", "John Smith", "1 high st", "1990-01-02"]
    n = 6 ** 3 * 4
    cols = {"unique_id": list(range(n)), "cluster": [k // 3 for k in range(n)]}
    for k, col in enumerate(["first_name", "surname", "dob", "ssn", "postcode", "address", "city"]):
        cols[col] = [values[(i // 6 ** (k % 3) + k) % 6] for i in range(n)]
    pq.write_table(pa.table(cols), tmp_path / "p.parquet")
    pq.write_table(pa.table({c: v for c, v in cols.items() if c not in ("ssn", "city")}), tmp_path / "q.parquet")
    for name in ("p.parquet", "q.parquet"):
        got, want = read_records(tmp_path / name), match_records(read_rows(tmp_path / name))
        assert json.dumps(got) == json.dumps(want)  # key order too
        assert any("address" in r["fields"] and "city" not in r["fields"]["address"] for r in got)
    assert any(set(r["fields"].get("address", {})) == {"city"} for r in read_records(tmp_path / "p.parquet"))

"""A labelled person file for the resolution benches, read as munihub person records.

The file is CSV or Parquet (by suffix) with one row per record:

| column       | meaning                                         | person field      |
|--------------|-------------------------------------------------|-------------------|
| `unique_id`  | the record's id (unique in the file)            | ref `persons|id`  |
| `cluster`    | the true person (ground truth; never matched on)| –                 |
| `first_name` | given name                                      | `first_name`      |
| `surname`    | family name                                     | `last_name`       |
| `dob`        | birth date, `YYYY-MM-DD`                        | `birth_date`      |
| `ssn`        | a social-security-like id                       | `national_id`     |
| `postcode`   | postal code                                     | `postal_code`     |
| `address`    | street address, one line                        | `address.detail`  |
| `city`       | town                                            | `address.city`    |

Only `unique_id` and `cluster` are required; a missing column or an empty value is absent.
`bench/english_persons.py` writes such files.  The person fields are those of the person
schema a contract would map the columns to, so the records are what a sync would publish.
"""
from __future__ import annotations

from pathlib import Path

FIELDS = {"first_name": "first_name", "surname": "last_name", "dob": "birth_date", "ssn": "national_id",
          "postcode": "postal_code"}


def read_rows(path: Path) -> list[dict]:
    """The file's rows as dicts (strings, or None for an empty value)."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq
        rows = pq.read_table(path).to_pylist()
    else:
        import csv
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    if rows and not {"unique_id", "cluster"} <= set(rows[0]):
        raise SystemExit(f"{path}: needs the columns unique_id and cluster (has {sorted(rows[0])})")
    for r in rows:
        for k, v in r.items():
            if v == "":
                r[k] = None
    return rows


def match_records(rows: list[dict], source: str = "persons") -> list[dict]:
    """One person match record per row (the shape `munihub.resolve.match` takes)."""
    out = []
    for r in rows:
        fields = {field: r[col] for col, field in FIELDS.items() if r.get(col)}
        address = {k: r[c] for k, c in (("detail", "address"), ("city", "city")) if r.get(c)}
        if address:
            fields["address"] = address
        out.append({"ref": f"{source}|{r['unique_id']}", "source": source, "entity_type": "person",
                    "fields": fields, "trust": 1})
    return out


def read_records(path: Path, source: str = "persons") -> list[dict]:
    """The file as person match records (what `match_records` makes of its rows), read a
    batch of columns at a time, so the rows are never all held as dicts beside the records
    (a million rows as dicts weigh more than the records) nor made one by one."""
    if path.suffix != ".parquet":
        return match_records(read_rows(path), source)
    import pyarrow.parquet as pq
    assert list(FIELDS.values()) == ["first_name", "last_name", "birth_date", "national_id", "postal_code"]
    out: list[dict] = []
    append = out.append
    for batch in pq.ParquetFile(path).iter_batches(batch_size=100_000):
        cols = batch.to_pydict()
        blank = [None] * batch.num_rows
        # one row's fields set one by one, not by a comprehension over (field, column)
        # tuples: 1.5 s instead of 2.1 s at a million rows (the same records)
        for uid, first, last, born, nid, postal, detail, city in zip(
                cols["unique_id"], *[cols.get(col, blank) for col in FIELDS],
                cols.get("address", blank), cols.get("city", blank)):
            fields = {}
            if first:
                fields["first_name"] = first
            if last:
                fields["last_name"] = last
            if born:
                fields["birth_date"] = born
            if nid:
                fields["national_id"] = nid
            if postal:
                fields["postal_code"] = postal
            if detail:
                fields["address"] = {"detail": detail, "city": city} if city else {"detail": detail}
            elif city:
                fields["address"] = {"city": city}
            append({"ref": f"{source}|{uid}", "source": source, "entity_type": "person",
                    "fields": fields, "trust": 1})
    return out


def settings(path: Path) -> dict:
    """Match settings from a YAML file, as `MUNIHUB_MATCH_SETTINGS` would give them."""
    import yaml
    return yaml.safe_load(path.read_text(encoding="utf-8"))

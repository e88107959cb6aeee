"""Features of a whole entity type at once, one column at a time (for `munihub.resolve.vectorized`).

`match.features` reads one record at a time (a dict per record, a transform per value);
a million records repeat a few thousand names and dates many times over.  Here each
feature's raw values are read as a column, each *distinct* value is transformed once (with
`match._transform`, so the keys are the same to the bit) and the column is kept as integer
codes into one vocabulary shared by every feature (a first name can be compared with a last
name).  `FeatureTable` still answers `table[ref]` with the dict `match.features` gives,
built when asked, so callers that want one record's features (caps, conflicts, the store's
feature rows) read them as before.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from typing import Callable, Iterator, Sequence

import numpy as np

#: records read (and `prepare`d) at a time: a decoded stored record is dropped once its
#: values are encoded, so the store path never holds a million decoded rows (or their
#: address dicts) at once
CHUNK = 100_000


class FeatureTable(Mapping):
    """ref -> features of one type, held as code columns in sorted-ref order.

    `refs` are sorted; `columns[name][i]` is the code of `refs[i]`'s feature `name` in
    `values` (-1: the record lacks it)."""

    def __init__(self, refs: list[str], columns: dict[str, np.ndarray], values: list[str],
                 derived: np.ndarray | None = None) -> None:
        self.refs, self.columns, self.values = refs, columns, values
        self.derived = derived  # full_key made from the parts: match.features adds it last
        self._position: dict[str, int] | None = None

    def position(self, ref: str) -> int:
        if self._position is None:
            self._position = {r: i for i, r in enumerate(self.refs)}
        return self._position[ref]

    def row(self, i: int) -> dict[str, str]:
        values = self.values
        out = {name: values[c] for name, col in self.columns.items() if (c := int(col[i])) >= 0}
        if self.derived is not None and self.derived[i]:
            out["full_key"] = out.pop("full_key")
        return out

    def __getitem__(self, ref: str) -> dict[str, str]:
        return self.row(self.position(ref))

    def __contains__(self, ref: object) -> bool:
        try:
            self.position(ref)  # type: ignore[arg-type]
        except (KeyError, TypeError):
            return False
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(self.refs)

    def __len__(self) -> int:
        return len(self.refs)

    def counts(self, name: str) -> Counter:
        """`Counter(f.get(name) for f in features)`, None counted for records without it."""
        col = self.columns[name]
        codes, k = np.unique(col, return_counts=True)
        return Counter({(self.values[c] if c >= 0 else None): n for c, n in zip(codes.tolist(), k.tolist())})


def _get(fields, path: list[str]):
    for part in path:
        if not isinstance(fields, dict):
            return None
        fields = fields.get(part)
    return fields


def _raw_columns(fields: list, paths: list[tuple[str, ...]]) -> dict[tuple[str, ...], list]:
    """The raw value at each path of each record's fields, in record order."""
    out: dict[tuple[str, ...], list] = {}
    for p in paths:
        if len(p) == 1:
            key = p[0]
            out[p] = [f.get(key) if isinstance(f, dict) else None for f in fields]
        else:
            out[p] = [_get(f, list(p)) for f in fields]
    return out


def _transformed(raw: list, how: str, vocab: dict[str, int], memo: dict,
                 transform_many: Callable[[list, str], list]) -> np.ndarray:
    """Codes of `match._transform(value, how)` per value (-1: nothing left), each distinct
    value transformed once (`memo`: raw value -> code, kept across chunks); values that
    cannot be told apart by hashing (an address dict, or 1 and True) are transformed one by one."""
    n = len(raw)
    try:
        keyed = raw if all(v is None or type(v) is str for v in raw) else \
            [(type(v), v) for v in raw]  # the type too: 1, 1.0 and True are one dict key but three transforms
        new = [d for d in dict.fromkeys(keyed) if d not in memo]
    except TypeError:  # an unhashable value (a dict): no dedup for this column
        keys = transform_many(raw, how)
        return np.fromiter((vocab.setdefault(k, len(vocab)) if k else -1 for k in keys), dtype=np.int64, count=n)
    keys = transform_many(new if keyed is raw else [v for _, v in new], how)
    memo.update((d, vocab.setdefault(k, len(vocab)) if k else -1) for d, k in zip(new, keys))
    return np.fromiter((memo[v] for v in keyed), dtype=np.int64, count=n)


def transform_all(values: list, how: str) -> list:
    """`match._transform(v, how)` of each value (in this process)."""
    from munihub.resolve.match import _transform

    return [_transform(v, how) for v in values]


def feature_table(records: Sequence[dict], conf: dict, prepare: Callable[[dict], dict] | None = None,
                  transform_many: Callable[[list, str], list] = transform_all) -> FeatureTable:
    """The features `match.features` gives every record of one type (`conf`: its
    `match.settings_for`), as a `FeatureTable`.  Refs must be unique.  `transform_many(values,
    how)` transforms a list of distinct values (`vectorized` spreads it over the cores)."""
    order = sorted(range(len(records)), key=lambda i: records[i]["ref"])
    records = [records[i] for i in order]
    spec = {feat: ([paths] if isinstance(paths, str) else list(paths), how)
            for feat, (paths, how) in conf["features"].items()}
    wanted = sorted({tuple(p.split(".")) for paths, _ in spec.values() for p in paths})
    vocab: dict[str, int] = {}
    memo: dict[tuple, dict] = defaultdict(dict)
    chunks: dict[str, list[np.ndarray]] = defaultdict(list)
    for start in range(0, len(records), CHUNK):
        part = records[start:start + CHUNK]
        raw = _raw_columns([(prepare(r) if prepare else r).get("fields") or {} for r in part], wanted)
        for feat, (paths, how) in spec.items():
            col = None
            for p in paths:  # the first path whose value is not empty wins (match.features)
                path = tuple(p.split("."))
                codes = _transformed(raw[path], how, vocab, memo[path, how], transform_many)
                col = codes if col is None else np.where(col >= 0, col, codes)
            chunks[feat].append(col)
        del raw, part
    del memo
    columns = {feat: np.concatenate(chunks[feat]) if chunks[feat] else np.empty(0, dtype=np.int64)
               for feat in spec}
    values = list(vocab)
    derived = None
    if "full_key" in columns:  # a record without a full name has its parts' (match.features)
        first = columns.get("first_key", np.full(len(records), -1, dtype=np.int64))
        last = columns.get("last_key", np.full(len(records), -1, dtype=np.int64))
        need = np.flatnonzero((columns["full_key"] < 0) & ((first >= 0) | (last >= 0)))
        if len(need):
            both, inverse = np.unique(np.stack([first[need], last[need]], axis=1), axis=0, return_inverse=True)
            joined = [(values[a] if a >= 0 else "") + (values[b] if b >= 0 else "") for a, b in both.tolist()]
            codes = np.asarray([vocab.setdefault(k, len(vocab)) for k in joined], dtype=np.int64)
            columns["full_key"][need] = codes[inverse.ravel()]
            values = list(vocab)
            derived = np.zeros(len(records), dtype=bool)
            derived[need] = True
    return FeatureTable([r["ref"] for r in records], columns, values, derived)

"""Features of a whole entity type at once, one column at a time (for `munihub.resolve.vectorized`).

`match.features` reads one record at a time (a dict per record, a transform per value);
a million records repeat a few thousand names and dates many times over.  Here each
feature's raw values are read as a column, each *distinct* value is transformed once (with
`match._transform`, so the keys are the same to the bit) and the column is kept as integer
codes into one vocabulary shared by every feature (a first name can be compared with a last
name).  `FeatureTable` still answers `table[ref]` with the dict `match.features` gives,
built when asked, so callers that want one record's features (caps, conflicts, the store's
feature rows) read them as before.

On several cores the records are read here a chunk at a time into columns, and forked
workers deduplicate and normalize each chunk's columns; the keys come back in the order a
single pass would meet them and are numbered here in one go, so the table is the same to
the code whatever the number of workers.
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
                 derived: list[tuple[str, np.ndarray]] | None = None) -> None:
        self.refs, self.columns, self.values = refs, columns, values
        # features made from others (full_key from the parts, gender from the first name):
        # match.features adds them last, in this order, so a row's keys come in its order
        self.derived = derived or []
        self._position: dict[str, int] | None = None

    def position(self, ref: str) -> int:
        if self._position is None:
            self._position = {r: i for i, r in enumerate(self.refs)}
        return self._position[ref]

    def row(self, i: int) -> dict[str, str]:
        values = self.values
        out = {name: values[c] for name, col in self.columns.items() if (c := int(col[i])) >= 0}
        for name, made in self.derived:
            if made[i]:
                out[name] = out.pop(name)
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
    from itertools import repeat

    out: dict[tuple[str, ...], list] = {}
    plain = set(map(type, fields)) <= {dict}  # the usual case: dict.get mapped in C
    for p in paths:
        if len(p) == 1 and plain:
            out[p] = list(map(dict.get, fields, repeat(p[0])))
        elif len(p) == 1:
            key = p[0]
            out[p] = [f.get(key) if isinstance(f, dict) else None for f in fields]
        elif len(p) == 2:  # `_get` unrolled: an address part, read for every record
            a, b = p
            out[p] = [g.get(b) if isinstance(g := (f.get(a) if isinstance(f, dict) else None), dict) else None
                      for f in fields]
        else:
            out[p] = [_get(f, list(p)) for f in fields]
    return out


def _column(raw: list):
    """A chunk's raw values of one path as a pyarrow string array when they are all strings
    or None (hashed in C, and sent to a worker as two buffers), else the list itself."""
    if set(map(type, raw)) <= {str, type(None)}:
        try:
            import pyarrow as pa

            return pa.array(raw, type=pa.string())
        except (ImportError, ValueError, UnicodeError):  # no pyarrow, or a lone surrogate
            pass
    return raw


def _distinct(column) -> tuple[list, np.ndarray, bool]:
    """(the distinct values of a `_column` in order of first appearance, index of each
    value in them, whether they are keyed with their type): values that cannot be told apart
    by hashing are keyed (type, value), as 1, 1.0 and True are one dict key but three
    transforms.  Raises TypeError for an unhashable value (an address dict)."""
    if not isinstance(column, list):
        return (*_distinct_strings(column), False)
    typed = not set(map(type, column)) <= {str, type(None)}
    keyed = [(type(v), v) for v in column] if typed else column
    index: dict = {}
    local = np.fromiter((index.setdefault(v, len(index)) for v in keyed), dtype=np.int64, count=len(keyed))
    return list(index), local, typed


def _distinct_strings(column) -> tuple[list, np.ndarray]:
    """`_distinct` of a string array, hashed by pyarrow (its dictionary keeps the order of
    first appearance; None goes where it first appears, as a dict would put it)."""
    import pyarrow.compute as pc

    enc = pc.dictionary_encode(column)
    distinct = enc.dictionary.to_pylist()
    idx = enc.indices
    if not idx.null_count:
        return distinct, idx.to_numpy(zero_copy_only=False).astype(np.int64)
    local = idx.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    first_null = int(np.argmax(local < 0))
    at = int(local[:first_null].max()) + 1 if first_null else 0  # values seen before the first None
    local[local >= at] += 1
    local[local < 0] = at
    distinct.insert(at, None)
    return distinct, local


def _chunk_columns(part: Sequence[dict], prepare: Callable[[dict], dict] | None,
                   wanted: list[tuple[str, ...]]) -> dict:
    """One chunk of records as a `_column` per wanted path (the only step that reads them)."""
    raw = _raw_columns([(prepare(r) if prepare else r).get("fields") or {} for r in part], wanted)
    return {path: _column(values) for path, values in raw.items()}


def _chunk_keys(columns: dict, uses: list[tuple[tuple[str, ...], str]],
                transform_many: Callable[[list, str], list], cache: dict) -> dict:
    """Per (path, how) of one chunk's `_chunk_columns`: (its distinct non-empty keys in the
    order their first record comes, index of each record's key in them or -1).  Taking new
    keys into the vocabulary in that order, chunk after chunk, is what one pass over the
    records does, so this needs no shared state: a worker process computes it and `_codes`
    numbers the keys.  `cache` (raw value -> key per (path, how), kept across chunks)
    spares transforming a value twice."""
    out = {}
    for path, how in uses:
        column = columns[path]
        try:
            distinct, local, typed = _distinct(column)
        except TypeError:  # an unhashable value (a dict): each record's value transformed
            distinct, local = transform_many(column, how), np.arange(len(column), dtype=np.int64)
        else:
            known = cache.setdefault((path, how), {})
            new = [d for d in distinct if d not in known]
            known.update(zip(new, transform_many([v for _, v in new] if typed else new, how)))
            distinct = [known[d] for d in distinct]
        keys: dict = {}
        number = np.asarray([keys.setdefault(k, len(keys)) if k else -1 for k in distinct] + [-1],
                            dtype=np.int64)  # the last: local -1 stays -1
        out[path, how] = (_column(list(keys)), number[local].astype(np.int32))
    return out


def _numbered(parts: list) -> tuple[list[np.ndarray], list[str]]:
    """(codes of each part's keys, the vocabulary): the parts (`_chunk_keys`' key lists) in
    the order one pass over the records meets them, each key not met before gets the next
    code, as `dict.setdefault` would number them; hashed by pyarrow in one go."""
    sizes = np.cumsum([0] + [len(k) for k in parts])
    try:
        import pyarrow as pa
        import pyarrow.compute as pc

        arrays = [k if isinstance(k, pa.Array) else pa.array(k, type=pa.string()) for k in parts]
        enc = pc.dictionary_encode(pa.concat_arrays(arrays) if arrays else pa.array([], type=pa.string()))
        codes, values = enc.indices.to_numpy(zero_copy_only=False).astype(np.int64), enc.dictionary.to_pylist()
    except (ImportError, ValueError, UnicodeError):  # no pyarrow, or a lone surrogate
        vocab: dict[str, int] = {}
        codes = np.asarray([vocab.setdefault(k, len(vocab)) for keys in parts for k in _as_list(keys)],
                           dtype=np.int64)
        values = list(vocab)
    return [codes[a:b] for a, b in zip(sizes[:-1].tolist(), sizes[1:].tolist())], values


def _as_list(keys) -> list:
    return keys if isinstance(keys, list) else keys.to_pylist()


def transform_all(values: list, how: str) -> list:
    """`match._transform(v, how)` of each value (in this process)."""
    from munihub.resolve.match import _transform

    return [_transform(v, how) for v in values]


_CACHE: dict = {}  # a worker's keys of the names and texts it met, across its chunks


def _chunk_task(task: tuple[dict, list]) -> dict:
    columns, uses = task
    # ids and dates (`raw`) are cheaper to transform again than to keep: a worker holding
    # every value it met would weigh ~100 MB more at 1M records
    for key in [k for k in _CACHE if k[1] in ("raw", "landline")]:
        del _CACHE[key]
    return _chunk_keys(columns, uses, transform_all, _CACHE)


def _chunk_results(records: list, prepare, wanted: list, uses: list, transform_many, processes: int):
    """`_chunk_keys` of each chunk of `records`, in order: all in this process, or spread
    over `processes` forked workers, which are given the chunks' columns only."""
    bounds = [(a, a + CHUNK) for a in range(0, len(records), CHUNK)]
    if processes < 2 or len(bounds) < 2:
        cache: dict = {}
        for a, b in bounds:
            yield _chunk_keys(_chunk_columns(records[a:b], prepare, wanted), uses, transform_many, cache)
        return
    import multiprocessing

    # every chunk's columns read before the fork: reading touches each record (reference
    # counts), and each page this process touched while a forked child still shares it
    # would be copied (the records counted twice in memory)
    parts = [_chunk_columns(records[a:b], prepare, wanted) for a, b in bounds]
    with multiprocessing.get_context("fork").Pool(min(processes, len(bounds))) as pool:
        yield from pool.imap(_chunk_task, [(part, uses) for part in parts])


def _ref_order(records: Sequence[dict]) -> list[int]:
    """Positions of `records` in the order of their refs (pyarrow sorts UTF-8 bytes, which
    is code point order: Python's)."""
    refs = [r["ref"] for r in records]
    try:
        import pyarrow as pa
        import pyarrow.compute as pc

        return pc.sort_indices(pa.array(refs, type=pa.string())).to_pylist()
    except (ImportError, ValueError, UnicodeError):
        return sorted(range(len(refs)), key=refs.__getitem__)


def feature_table(records: Sequence[dict], conf: dict, prepare: Callable[[dict], dict] | None = None,
                  transform_many: Callable[[list, str], list] = transform_all, processes: int = 1) -> FeatureTable:
    """The features `match.features` gives every record of one type (`conf`: its
    `match.settings_for`), as a `FeatureTable`.  Refs must be unique.  `processes` > 1 shares
    the chunks of records out to that many forked workers (the table is the same to the
    code); else `transform_many(values, how)` transforms a list of distinct values
    (`vectorized` spreads it over the cores)."""
    records = [records[i] for i in _ref_order(records)]
    spec = {feat: ([paths] if isinstance(paths, str) else list(paths), how)
            for feat, (paths, how) in conf["features"].items()}
    wanted = sorted({tuple(p.split(".")) for paths, _ in spec.values() for p in paths})
    uses = list(dict.fromkeys((tuple(p.split(".")), how) for paths, how in spec.values() for p in paths))
    found = list(_chunk_results(records, prepare, wanted, uses, transform_many, processes))
    order = [(k, feat, tuple(p.split(".")), how) for k in range(len(found))
             for feat, (paths, how) in spec.items() for p in paths]
    numbered, values = _numbered([found[k][path, how][0] for k, _, path, how in order])
    chunks: dict[str, list[np.ndarray]] = defaultdict(list)
    for (k, feat, path, how), lookup in zip(order, numbered):
        codes = np.r_[lookup, -1][found[k][path, how][1]]  # -1 (no key) stays -1
        if len(chunks[feat]) > k:  # the first path whose value is not empty wins (match.features)
            chunks[feat][k] = np.where(chunks[feat][k] >= 0, chunks[feat][k], codes)
        else:
            chunks[feat].append(codes)
    del found, numbered
    columns = {feat: np.concatenate(chunks[feat]) if chunks[feat] else np.empty(0, dtype=np.int64)
               for feat in spec}
    derived: list[tuple[str, np.ndarray]] = []  # in match.features' order
    vocab: dict[str, int] | None = None

    def encode(keys: list) -> np.ndarray:
        """Codes of made values (-1 for none), new ones added to one vocabulary for every
        derivation (a million records' values are a few million strings: built once)."""
        nonlocal vocab
        if vocab is None:
            vocab = dict(zip(values, range(len(values))))
        return np.asarray([vocab.setdefault(k, len(vocab)) if k else -1 for k in keys], dtype=np.int64)

    def made(need: np.ndarray) -> np.ndarray:
        mask = np.zeros(len(records), dtype=bool)
        mask[need] = True
        return mask

    if "full_key" in columns:  # a record without a full name has its parts' (match.features)
        first = columns.get("first_key", np.full(len(records), -1, dtype=np.int64))
        last = columns.get("last_key", np.full(len(records), -1, dtype=np.int64))
        need = np.flatnonzero((columns["full_key"] < 0) & ((first >= 0) | (last >= 0)))
        if len(need):
            both, inverse = np.unique(np.stack([first[need], last[need]], axis=1), axis=0, return_inverse=True)
            joined = [(values[a] if a >= 0 else "") + (values[b] if b >= 0 else "") for a, b in both.tolist()]
            columns["full_key"][need] = encode(joined)[inverse.ravel()]
            derived.append(("full_key", made(need)))
    source = conf.get("gender_from")
    if source in columns and "gender" in columns:  # a record's first name's gender (match.features)
        from munihub.resolve.match import gender_of_first

        need = np.flatnonzero((columns["gender"] < 0) & (columns[source] >= 0))
        if len(need):
            names, inverse = np.unique(columns[source][need], return_inverse=True)
            columns["gender"][need] = encode([gender_of_first(values[k]) for k in names.tolist()])[inverse.ravel()]
            derived.append(("gender", made(need[columns["gender"][need] >= 0])))
    if vocab is not None:
        values = list(vocab)
    return FeatureTable([r["ref"] for r in records], columns, values, derived)

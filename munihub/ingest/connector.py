"""The connector interface: the one plugin point of the hub.

A connector kind is a class with one required method, `read_batches(cursor)`, that yields
`Batch`es of raw records newer than `cursor`, each carrying the cursor to store once that
batch is safely published.  `check` and `discover` have defaults.  Kinds are found through
the `munihub.connectors` entry-point group, so the built-in kinds (in the top-level
`connectors/` package) register exactly as a third party's would.
"""
from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator, Mapping, Sequence
from importlib.metadata import PackageNotFoundError, distribution, entry_points
from typing import Any, ClassVar

from munihub.contracts.schemas import json_type
from munihub.errors import ConfigError
from munihub.secrets import redact_logger  # noqa: F401  (for connectors: their loggers redact secrets)

ENTRY_POINT_GROUP = "munihub.connectors"


class Rows(Sequence):
    """A batch's records held a column at a time: `columns` maps each column's name to its
    values, all of one length.  A connector that reads rows as tuples (a database's) may hand
    its records so instead of as a list of dicts: the stages read a column at a time anyway
    (`columnar`), and a dict per row was a fifth of a 200k-row sync's reading.  Read as a
    sequence, it is the list of dicts it stands for (every record has every column, in the
    columns' order); each record is made a dict when asked for, so only the few records
    that go through `stage.check_record` ever are."""

    __slots__ = ("columns", "_n")

    def __init__(self, columns: dict[str, Sequence], n: int) -> None:
        self.columns, self._n = columns, n

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Rows({k: v[index] for k, v in self.columns.items()}, len(range(*index.indices(self._n))))
        if index < 0:
            index += self._n
        if not 0 <= index < self._n:
            raise IndexError("record index out of range")
        return {k: v[index] for k, v in self.columns.items()}

    def __iter__(self) -> Iterator[dict[str, Any]]:
        if not self.columns:
            return ({} for _ in range(self._n))
        names = list(self.columns)
        return (dict(zip(names, values)) for values in zip(*self.columns.values()))

    def __eq__(self, other) -> bool:
        return isinstance(other, (list, Rows)) and list(self) == list(other)

    def __repr__(self) -> str:
        return f"Rows({self._n} records, columns {list(self.columns)})"

    def __reduce__(self):
        return Rows, (self.columns, self._n)


@dataclasses.dataclass
class Batch:
    """Raw records read in one go, plus where they came from.

    `records` is a list of dicts, or a `Rows` (the same records a column at a time).

    `cursor` is the state to resume *after* this batch (None: the kind is not incremental).
    `positions`, when given, has one human-readable position per record ("page 3 #17",
    "permits.csv line 42") so errors and quarantine rows can say where a record came from.
    """

    records: list[dict[str, Any]] | Rows
    cursor: dict[str, Any] | None = None
    where: str = ""
    positions: list[str] | None = None

    def position(self, index: int) -> str:
        if self.positions is not None and index < len(self.positions):
            return self.positions[index]
        return f"{self._numbered}{index + 1}"

    def first_positions(self, n: int) -> list[str]:
        """`[self.position(i) for i in range(n)]`, a column at a time (staging's common batch)."""
        given = list(self.positions[:n]) if self.positions is not None else []
        return given + list(map(self._numbered.__add__, map(str, range(len(given) + 1, n + 1))))

    @property
    def _numbered(self) -> str:
        """What a record's number follows when the connector gave no position: "… batch 3 #"."""
        return f"{self.where} #" if self.where else "#"


class Connector:
    """Base class for connector kinds.  Subclasses set `kind` and implement `read_batches`.

    `params` are the non-secret settings from the contract's server entry; `secrets` are
    the values resolved from the environment or an Airflow connection (never from YAML).
    `source` names the dataset in every error message.
    """

    kind: ClassVar[str] = ""
    #: JSON-schema-like description of accepted params, used by `munihub contracts lint`.
    params_schema: ClassVar[dict[str, Any]] = {"type": "object"}

    def __init__(self, params: Mapping[str, Any], *, source: str = "?",
                 secrets: Mapping[str, str] | None = None,
                 batch_size: int = 1000) -> None:
        self.params = dict(params)
        self.source = source
        self.secrets = dict(secrets or {})
        self.batch_size = int(params.get("batch_size", batch_size))

    def read_batches(self, cursor: dict[str, Any] | None) -> Iterator[Batch]:
        """Yield batches of records newer than `cursor` (None: from the beginning)."""
        raise NotImplementedError(f"connector kind {self.kind!r} does not implement read_batches")

    def check(self) -> None:
        """Cheap connectivity probe; raise a SourceError if the source cannot be read.

        The default reads the first batch and throws it away.
        """
        for _ in self.read_batches(None):
            break

    def discover(self) -> dict[str, Any]:
        """Propose a JSON Schema for the records, inferred from the first batch."""
        props: dict[str, Any] = {}
        for batch in self.read_batches(None):
            for rec in batch.records[:100]:
                for key, value in rec.items():
                    props.setdefault(key, {"type": json_type(value) or "string"})
            break
        return {"type": "object", "properties": props}

    def close(self) -> None:
        """Release connections and files; called once the run is over."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def connector_kinds() -> dict[str, Any]:
    """Every registered connector kind, by name, without importing them."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def load_connector_class(kind: str) -> type[Connector]:
    """The class registered for `kind`; a ConfigError naming the known kinds if there is none.

    Found classes are kept for the process: scanning the installed entry points costs ~5 ms,
    paid each time a load opens its connector.  An unknown kind is looked up again each time.
    """
    return _connector_class(kind)


def _own_kinds() -> dict[str, Any]:
    """The kinds munihub's own distribution registers: read from its one entry-point file,
    where `entry_points()` reads every installed distribution's (~200 here: 20–35 ms of a
    1 % incremental sync that lasts 0.6 s).  Empty when munihub runs uninstalled."""
    try:
        eps = distribution("munihub").entry_points
    except PackageNotFoundError:
        return {}
    return {ep.name: ep for ep in eps if ep.group == ENTRY_POINT_GROUP}


@functools.lru_cache(maxsize=None)
def _connector_class(kind: str) -> type[Connector]:
    # A built-in kind is found without the scan; a third party's kind, or a name munihub
    # does not register, through every distribution's entry points, as before.  A third
    # party cannot take over a built-in name this way (with the scan, which won was the
    # order distributions happen to be found in).
    kinds = _own_kinds()
    if kind not in kinds:
        kinds = connector_kinds()
    if kind not in kinds:
        known = ", ".join(sorted(kinds)) or "none (is munihub installed with pip?)"
        raise ConfigError(f"unknown connector kind {kind!r}", hint=f"known kinds: {known}")
    cls = kinds[kind].load()
    if not (isinstance(cls, type) and issubclass(cls, Connector)):
        raise ConfigError(f"entry point {kind!r} does not name a munihub Connector subclass")
    return cls


def open_connector(kind: str, params: Mapping[str, Any], *, source: str,
                   secrets: Mapping[str, str] | None = None) -> Connector:
    """Instantiate the connector of `kind` for one source."""
    return load_connector_class(kind)(params, source=source, secrets=secrets)

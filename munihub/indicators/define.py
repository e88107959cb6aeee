"""Indicator definitions: YAML files checked at load, every problem at once with file:line.

    id: rc137.requests                  # <family>.<name>: letters, digits, '_', '-'
    title: درخواست‌های ۱۳۷ ...
    family: "137"                        # 137 | inter_agency | plan | systems (a dashboard page)
    source: request_group                # a fact of munihub.indicators.facts
    measure: {kind: count}               # count | distinct_count | sum | mean | share | median | percentile
    filters: [{field: status, op: ne, value: بسته شده}]
    dimensions: [district, category, month]
    target: {value: 0.1, direction: down}   # or {field: target_value, direction: up, directions: {CODE: down}}
    suppress: {k: 5}                     # cells counting fewer citizens are hidden; `false` for none
    top: 10                              # keep the n largest cells per period (rankings)

A measure names its `field` (distinct_count, sum, mean, median, percentile with `p`) or its
condition `where` (share: the rows meeting it over all rows).
"""
from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import re
from pathlib import Path
from typing import Any

from munihub.contracts.load import _line_of, read_yaml
from munihub.errors import ConfigError, ContractError
from munihub.indicators.facts import FACTS

ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_\-]*\.[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
KEYS = {"id", "title", "description", "family", "source", "measure", "filters", "dimensions", "target",
        "suppress", "top", "unit"}
FAMILIES = {"137", "inter_agency", "plan", "systems"}
MEASURES = {"count", "distinct_count", "sum", "mean", "share", "median", "percentile"}
NEEDS_FIELD = {"distinct_count", "sum", "mean", "median", "percentile"}
OPS = {"eq", "ne", "in", "not_in", "null", "not_null", "gt", "ge", "lt", "le"}
TIME_DIMENSIONS = ("month", "week")
DEFAULT_K = 5


class IndicatorError(ContractError):
    """An indicator definition is invalid; `problems` lists every problem with file:line."""


@dataclasses.dataclass(frozen=True)
class Definition:
    """A checked indicator definition as plain data; `raw` keeps the document as written."""

    path: Path
    id: str
    title: str
    family: str
    source: str
    measure: dict
    filters: tuple[dict, ...]
    dimensions: tuple[str, ...]
    target: dict | None
    k: int | None           # suppression threshold; None: nothing personal to protect
    top: int | None
    unit: str
    description: str = ""
    raw: dict = dataclasses.field(repr=False, compare=False, default_factory=dict)

    @property
    def time(self) -> str | None:
        """The period dimension: month, week, period (a Jalali period field) or None (snapshot)."""
        return next((d for d in self.dimensions if d in (*TIME_DIMENSIONS, "period")), None)

    @property
    def cells(self) -> tuple[str, ...]:
        """The dimensions other than the period."""
        return tuple(d for d in self.dimensions if d != self.time)

    @property
    def hash(self) -> str:
        """Changes when the definition's meaning changes: the figures are then recomputed in full."""
        meaning = {k: v for k, v in self.raw.items() if k not in {"title", "description"}}
        return hashlib.sha256(json.dumps(meaning, sort_keys=True, ensure_ascii=False, default=str)
                              .encode("utf-8")).hexdigest()


def _suggest(word: str, known) -> str:
    close = difflib.get_close_matches(str(word), sorted(known), n=1)
    return f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(sorted(known))}"


def _check_condition(cond, columns: dict, at, where: tuple, problems: list[str]) -> None:
    if not isinstance(cond, dict):
        problems.append(f"{at(where)}: a filter is a mapping {{field, op, value}}")
        return
    for key in cond:
        if key not in {"field", "op", "value"}:
            problems.append(f"{at(where + (key,))}: unknown filter key {key!r}{_suggest(key, {'field', 'op', 'value'})}")
    field, op = cond.get("field"), cond.get("op", "eq")
    if field not in columns:
        problems.append(f"{at(where + ('field',))}: field {field!r} is not a column of this source"
                        f"{_suggest(field, columns)}")
    if op not in OPS:
        problems.append(f"{at(where + ('op',))}: op {op!r} is not one of {', '.join(sorted(OPS))}{_suggest(op, OPS)}")
    elif op in {"in", "not_in"} and not isinstance(cond.get("value"), list):
        problems.append(f"{at(where + ('value',))}: op {op} takes a list of values")
    elif op not in {"null", "not_null", "in", "not_in"} and "value" not in cond:
        problems.append(f"{at(where)}: op {op} needs a value")


def load_definition(path: str | Path) -> Definition:
    """Load and check one definition file; raise IndicatorError listing every problem with file:line."""
    path = Path(path)
    try:
        data, lines = read_yaml(path)
    except ContractError as exc:
        raise IndicatorError(exc.what.replace("contract", "indicator definition"), where=exc.where,
                             hint=exc.hint) from None
    problems: list[str] = []

    def at(p) -> str:
        return f"{path}:{_line_of(lines, p)}"

    for key in data:
        if key not in KEYS:
            problems.append(f"{at((key,))}: unknown key {key!r}{_suggest(key, KEYS)}")
    ident = str(data.get("id") or "")
    if not ID.match(ident):
        problems.append(f"{at(('id',))}: id {ident!r} must be '<family>.<name>' in letters, digits, '_' or '-'")
    if not str(data.get("title") or "").strip():
        problems.append(f"{at(('title',))}: give the indicator a title managers read")
    family = str(data.get("family") or "")
    if family not in FAMILIES:
        problems.append(f"{at(('family',))}: family {family!r} is not one of {', '.join(sorted(FAMILIES))}"
                        f"{_suggest(family, FAMILIES)}")
    source = data.get("source")
    fact = FACTS.get(source) if isinstance(source, str) else None
    if fact is None:
        problems.append(f"{at(('source',))}: source {source!r} is not a known fact{_suggest(source, FACTS)}")
    columns = fact.columns if fact else {}

    measure = data.get("measure")
    if isinstance(measure, str):
        measure = {"kind": measure}
    shaped = isinstance(measure, dict)
    if not shaped:  # one problem for it, not a second one about its kind
        what = "is missing" if measure is None else f"is a {type(measure).__name__}"
        problems.append(f"{at(('measure',))}: measure {what}; give a mapping with a kind "
                        f"({', '.join(sorted(MEASURES))}), e.g. `measure: {{kind: count}}`")
        measure = {}
    kind = measure.get("kind")
    if shaped and kind not in MEASURES:
        problems.append(f"{at(('measure', 'kind'))}: measure kind {kind!r} is not one of "
                        f"{', '.join(sorted(MEASURES))}{_suggest(kind, MEASURES)}")
    for key in measure:
        if key not in {"kind", "field", "p", "where"}:
            problems.append(f"{at(('measure', key))}: unknown measure key {key!r}"
                            f"{_suggest(key, {'kind', 'field', 'p', 'where'})}")
    if kind in NEEDS_FIELD:
        f = measure.get("field")
        if fact and f not in columns:
            problems.append(f"{at(('measure', 'field'))}: measure field {f!r} is not a column of {source}"
                            f"{_suggest(f, columns)}")
        elif fact and kind != "distinct_count" and columns[f] != "number":
            problems.append(f"{at(('measure', 'field'))}: {kind} needs a number; {f!r} is {columns[f]}")
    if kind == "percentile":
        p = measure.get("p")
        if not (isinstance(p, (int, float)) and 0 < p < 1):
            problems.append(f"{at(('measure', 'p'))}: percentile needs p between 0 and 1 (0.9 for the 90th)")
    if kind == "share":
        where = measure.get("where")
        if not isinstance(where, list) or not where:
            problems.append(f"{at(('measure',))}: a share needs `where`: the conditions of the rows it counts")
        else:
            for i, cond in enumerate(where):
                _check_condition(cond, columns, at, ("measure", "where", i), problems)
    filters = data.get("filters") or []
    if not isinstance(filters, list):
        problems.append(f"{at(('filters',))}: filters is a list of {{field, op, value}}")
        filters = []
    for i, cond in enumerate(filters):
        if fact:
            _check_condition(cond, columns, at, ("filters", i), problems)

    dims = data.get("dimensions") or []
    if not isinstance(dims, list):
        problems.append(f"{at(('dimensions',))}: dimensions is a list of names")
        dims = []
    offered = set(fact.dimensions) if fact else set()
    for i, d in enumerate(dims):
        if fact and d not in offered:
            problems.append(f"{at(('dimensions', i))}: dimension {d!r} is not offered by {source}"
                            f"{_suggest(d, offered)}")
    if sum(d in (*TIME_DIMENSIONS, "period") for d in dims) > 1:
        problems.append(f"{at(('dimensions',))}: at most one period dimension (month, week or period)")
    if len(set(dims)) != len(dims):
        problems.append(f"{at(('dimensions',))}: a dimension is named twice")

    target = data.get("target")
    if target is not None:
        if not isinstance(target, dict):
            problems.append(f"{at(('target',))}: target is a mapping {{value or field, direction}}")
            target = None
        else:
            for key in target:
                if key not in {"value", "field", "direction", "directions"}:
                    problems.append(f"{at(('target', key))}: unknown target key {key!r}"
                                    f"{_suggest(key, {'value', 'field', 'direction', 'directions'})}")
            if target.get("direction") not in {"up", "down"}:
                problems.append(f"{at(('target', 'direction'))}: direction is up (higher is better) or down")
            if ("value" in target) == ("field" in target):
                problems.append(f"{at(('target',))}: give the target as a value or as a field, one of them")
            elif "value" in target and not isinstance(target["value"], (int, float)):
                problems.append(f"{at(('target', 'value'))}: target value must be a number")
            elif "field" in target and fact and columns.get(target["field"]) != "number":
                problems.append(f"{at(('target', 'field'))}: target field {target['field']!r} is not a number "
                                f"column of {source}")
            directions = target.get("directions") or {}
            if not isinstance(directions, dict) or any(v not in {"up", "down"} for v in directions.values()):
                problems.append(f"{at(('target', 'directions'))}: directions maps a cell's value to up or down")

    suppress = data.get("suppress", {"k": DEFAULT_K})
    k: int | None = None
    if suppress is False or suppress is None:
        k = None
    elif isinstance(suppress, dict) and set(suppress) <= {"k"} and isinstance(suppress.get("k", DEFAULT_K), int) \
            and suppress.get("k", DEFAULT_K) >= 1:
        k = suppress.get("k", DEFAULT_K)
    else:
        problems.append(f"{at(('suppress',))}: suppress is {{k: <whole number ≥ 1>}} or false")
    if fact is not None and fact.citizen is None:
        k = None  # nothing in this fact names a citizen
    top = data.get("top")
    if top is not None and not (isinstance(top, int) and top >= 1):
        problems.append(f"{at(('top',))}: top is a whole number ≥ 1")

    if problems:
        raise IndicatorError(f"{len(problems)} problem(s) in indicator definition", where=str(path),
                             hint="fix them and run `munihub indicators lint` again", problems=problems)
    return Definition(path=path, id=ident, title=str(data["title"]), family=family, source=source,
                      measure=dict(measure), filters=tuple(filters), dimensions=tuple(dims),
                      target=dict(target) if target else None, k=k, top=top, unit=str(data.get("unit") or ""),
                      description=str(data.get("description") or ""), raw=data)


def discover(folder: Path) -> list[Path]:
    """Every definition file under `folder`, in a stable order."""
    folder = Path(folder)
    return sorted([*folder.rglob("*.yaml"), *folder.rglob("*.yml")])


def load_all(folder: Path) -> tuple[list[Definition], list[IndicatorError]]:
    """Load every definition; a broken one is returned as an error and never hides the others."""
    loaded, bad = [], []
    for path in discover(folder):
        try:
            loaded.append(load_definition(path))
        except IndicatorError as exc:
            bad.append(exc)
    first: dict[str, Definition] = {}
    for d in loaded:  # files are read in path order: the first file with an id keeps it
        first.setdefault(d.id, d)
    bad += [IndicatorError(f"indicator id {d.id!r} is already used by {first[d.id].path}", where=str(d.path))
            for d in loaded if first[d.id] is not d]
    return [d for d in loaded if first[d.id] is d], bad


def find(ident: str, folder: Path) -> Definition:
    """The definition with this id (or at this path); a ConfigError naming the known ids."""
    if Path(ident).is_file():
        return load_definition(ident)
    good, bad = load_all(folder)
    for d in good:
        if d.id == ident:
            return d
    for err in bad:
        if ident in str(err):
            raise err
    raise ConfigError(f"no indicator {ident!r}", where=str(folder),
                      hint=f"`munihub indicators list` shows them{_suggest(ident, [d.id for d in good])}")


def as_json(value: Any) -> str:
    """Canonical JSON (a cell's key)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))

"""Records that can never be one entity, however a chain of links runs: the test
`munihub.resolve.clustering.cluster` applies before it joins two parts.

Split from `munihub.resolve.match` (the scorer): a conflict is not a weight but a veto on
clustering, so a partial mention that scores high with two people of one home joins only
the stronger one.
"""
from __future__ import annotations

from typing import Callable

from munihub.persian.names import two_scripts


def conflicting(fa: dict, fb: dict, conf: dict, compounds: frozenset | set = frozenset()) -> bool:
    """Whether two records cannot be one entity whatever else agrees: different valid trusted
    ids, or (with `conflicts` in the settings) a listed comparison present on both sides and
    further apart than a typo: another birth date, gender, surname, or a first name that is
    neither a misspelling nor half of the other (محمدرضا / رضا, رضا / راض are one man's name;
    حسن / زهرا are two people).  Names swapped or split elsewhere are not a conflict, nor are
    the two halves of a compound name in `compounds` (a `halves` feature's values held by the
    cluster the pair would be in, `between`): فاطمه and زهرا are both فاطمه‌زهرا's.  Unless a
    side carries a feature of `whole_names_with` (a birth date: a registry's row names its
    person whole, so its زهرا is a daughter, not half of her mother's فاطمه‌زهرا); and such a
    whole name held inside a longer one on the other side is another person (the registry's
    جواد and «محمدجواد», his son: `_longer_than_whole`)."""
    from munihub.resolve.ids import contradicting_ids

    for f in conf["trusted_ids"]:
        if contradicting_ids(f, fa, fb, conf):
            return True
    return any(conflicts_on(name, fa, fb, conf, compounds) for name in conf.get("conflicts", ()))


def conflicts_on(name: str, fa: dict, fb: dict, conf: dict, compounds: frozenset | set = frozenset()) -> bool:
    """Whether comparison `name` alone parts two records (`conflicting`'s test of one name):
    both give it, and the values are further apart than a typo, a compound's half in
    `compounds` or a swap of names explains."""
    a, b = fa.get(name), fb.get(name)
    if not (a and b and a != b):
        return False
    if _far(a, b, conf["comparisons"][name].get("kind", "exact")):
        if compounds and name in conf.get("halves", ()) and (a + b in compounds or b + a in compounds) \
                and not any(fa.get(w) or fb.get(w) for w in conf.get("whole_names_with", ())):
            return False
    elif not (name in conf.get("halves", ()) and _longer_than_whole(a, b, fa, fb, conf)):
        return False
    # names swapped or split elsewhere excuse a conflict of those names only: the same
    # whole name with birth dates forty years apart is a father and his namesake son
    return not any(_swapped(fa, fb, x, y) for x, y in conf.get("swappable", ()) if name in (x, y))


def clearly_two(fa: dict, fb: dict, conf: dict, compounds: frozenset | set = frozenset()) -> bool:
    """Whether two records describe two people even under one valid trusted id (`parted_by`)."""
    return bool(parted_by(fa, fb, conf, compounds))


def parted_by(fa: dict, fb: dict, conf: dict, compounds: frozenset | set = frozenset()) -> tuple[str, ...]:
    """The comparisons that make two records two people even under one valid trusted id,
    or (): every comparison of one group of `apart_despite_id` in conflict (`conflicts_on`),
    or another first name on a record whose father's name is the other's first name
    (`child_names_parent`).  Another first name beside another birth date (or gender), or
    beside a father named as the other, is a child's record carrying a parent's national
    id, a data-entry error; another first name alone is an official change of name
    (غلامرضا → رضا, کبری → کیمیا), another birth date alone a typo."""
    for group in conf.get("apart_despite_id", ()):
        if all(conflicts_on(name, fa, fb, conf, compounds) for name in group):
            return tuple(group)
    father, first = conf.get("child_names_parent") or (None, None)
    if father and fa.get(father) != fb.get(father) and conflicts_on(first, fa, fb, conf, compounds) and \
            ((fa.get(father) and fa[father] == fb.get(first)) or (fb.get(father) and fb[father] == fa.get(first))):
        # (one father named on both is one man's or two brothers' records: «محمدرضا فرزند رضا»
        # and «رضا», son of رضا, is محمدرضا giving half his name)
        return (first, father)
    return ()


def contested(fa: dict, fb: dict, conf: dict) -> bool:
    """Whether some comparison of `apart_despite_id` parts two records (another first name,
    birth date or gender): under one id, the records the id alone cannot settle."""
    return any(conflicts_on(name, fa, fb, conf) for name in {n for g in conf.get("apart_despite_id", ()) for n in g})


def clearly_two_many(cols: dict, values: list[str], conf: dict, left, right):
    """Per pair (left[k], right[k]) of positions in code columns `cols` (codes into `values`,
    -1 absent): `clearly_two`, each distinct set of the values it reads judged once.  Only
    pairs that differ on every comparison of a group are judged at all."""
    import numpy as np

    out = np.zeros(len(left), dtype=bool)
    groups = [g for g in conf.get("apart_despite_id", ()) if all(name in cols for name in g)]
    maybe = np.zeros(len(left), dtype=bool)
    for group in groups:
        here = np.ones(len(left), dtype=bool)
        for name in group:
            ca, cb = cols[name][left], cols[name][right]
            here &= (ca >= 0) & (cb >= 0) & (ca != cb)
        maybe |= here
    child = [f for f in conf.get("child_names_parent") or () if f in cols]
    if len(child) == 2:  # a father's name on a side, the first names differing
        father, first = cols[child[0]], cols[child[1]]
        maybe |= ((father[left] >= 0) | (father[right] >= 0)) & (first[left] >= 0) & (first[right] >= 0) & \
            (first[left] != first[right])
    at = np.flatnonzero(maybe)
    if not len(at):
        return out
    named = {name for g in groups for name in g} | set(child)
    read = sorted(named | set(conf.get("whole_names_with", ()))
                  | {f for pair in conf.get("swappable", ()) if named & set(pair) for f in pair})
    read = [name for name in read if name in cols]
    rows = np.stack([cols[name][side][at] for side in (left, right) for name in read], axis=1)
    both, inverse = np.unique(rows, axis=0, return_inverse=True)

    def side(codes: list[int]) -> dict:
        return {name: values[c] for name, c in zip(read, codes) if c >= 0}

    k = len(read)
    judged = np.fromiter((clearly_two(side(row[:k]), side(row[k:]), conf) for row in both.tolist()),
                         dtype=bool, count=len(both))
    out[at] = judged[inverse.ravel()]
    return out


def _longer_than_whole(a: str, b: str, fa: dict, fb: dict, conf: dict) -> bool:
    """Whether one side's name holds the other's inside it and the shorter one is a whole name
    (its record states a `whole_names_with` feature: a registry's row): the registry's جواد
    is not «محمدجواد», his son; a caller gives half of his name, never more than it."""
    if not _holds(a, b):
        return False
    # (the same birth date on both is no exception: twins share it, and a twin may be the زهرا
    # beside her sister فاطمه‌زهرا; allowing it cost twin precision, 0.989 -> 0.977, outsider seed 8)
    return any((fa if len(a) < len(b) else fb).get(w) for w in conf.get("whole_names_with", ()))


def _holds(a: str, b: str) -> bool:
    """Whether one of two names is the other with a name of three letters or more before or
    after it (جواد in محمدجواد), not a letter lost to a typo («اطمه») nor a glued «سید»
    («سیدملیحه»: the title on a name the parser did not know)."""
    from munihub.resolve.model import is_half

    short, long = sorted((a, b), key=len)
    return is_half(short, long) and len(long) - len(short) >= 3 and \
        long.removeprefix("سیده").removeprefix("سید") != short


def between(rows, conf: dict, ms, mb, test: Callable[..., bool] = conflicting) -> bool:
    """Whether two parts `ms`, `mb` (refs; their features in `rows`) hold a pair in conflict,
    read with the parts' own compound names as context: فاطمه and زهرا conflict as a pair, but
    not in a part that holds فاطمه‌زهرا, whose halves they are (a caller giving one half of her
    name one day and the other half the next).  Each half still joins the compound only by a
    link of its own (`caps.capped`: a half counts only beside personal evidence)."""
    got = {r: rows[r] for r in (*ms, *mb) if r in rows}  # a table's rows are read once each
    compounds = {v for f in got.values() for h in conf.get("halves", ()) if (v := f.get(h))}
    left, right = [got[r] for r in ms if r in got], [got[r] for r in mb if r in got]
    return any(test(fx, fy, conf, compounds) for fx in left for fy in right)


class FeatureConflicts:
    """`conflicting` over records' features by ref, as `clustering.cluster` asks it: one pair
    (called), or two parts about to be joined (`parts`)."""

    def __init__(self, rows, conf: dict) -> None:
        self.rows, self.conf = rows, conf

    def __call__(self, a: str, b: str) -> bool:
        return a in self.rows and b in self.rows and conflicting(self.rows[a], self.rows[b], self.conf)

    def parts(self, ms, mb) -> bool:
        return between(self.rows, self.conf, ms, mb)

    def people(self, ms, mb) -> bool:
        """Whether two parts hold two records that are two people even under one id (`clearly_two`)."""
        return between(self.rows, self.conf, ms, mb, clearly_two)

    def contested(self, a: str, b: str) -> bool:
        return a in self.rows and b in self.rows and contested(self.rows[a], self.rows[b], self.conf)


def _swapped(fa: dict, fb: dict, x: str, y: str) -> bool:
    """Both parts given on both sides and each close to the other side's opposite part, or
    the same letters split elsewhere."""
    ax, ay, bx, by = (fa.get(x) or ""), (fa.get(y) or ""), (fb.get(x) or ""), (fb.get(y) or "")
    if not (ax and ay and bx and by):
        return False
    return (not _far(ax, by, "name") and not _far(ay, bx, "name")) or ax + ay in (bx + by, by + bx)


def _far(a: str, b: str, kind: str) -> bool:
    import jellyfish

    if two_scripts(a, b):
        # two scripts («Hossein» from a bank's export, «حسین» from the registry): the keys
        # cannot be compared, so they say nothing either way; a national id or a birth date
        # still parts two people
        return False
    if kind == "exact":
        return True
    if kind == "name" and (a in b or b in a):
        return False
    return jellyfish.damerau_levenshtein_distance(a, b) > 2


def conflict_of(feats: dict[str, dict], conf: dict) -> Callable[[str, str], bool] | None:
    """`clustering.cluster`'s conflict test over one type's features (None: the type has no
    trusted id and no `conflicts`).  Over a `columns.FeatureTable` it is a `TableConflicts`,
    which also tests many pairs at once."""
    if not conf["trusted_ids"] and not conf.get("conflicts"):
        return None
    # a FeatureTable by its code columns, not by importing `columns`: that module reads
    # `match`'s feature transforms, and `match` reads this one's `clearly_two`
    if hasattr(feats, "refs") and hasattr(feats, "columns"):
        return TableConflicts(feats, conf)
    return FeatureConflicts(feats, conf)


def one_typo_codes(ca, cb, where, values: list[str]):
    """Per pair k where `where[k]`: whether the values coded ca[k], cb[k] are one typo apart
    (`match.one_typo`), each distinct pair of values judged once; False elsewhere."""
    import numpy as np

    from munihub.resolve.edits import answerable, within_one_edit
    from munihub.resolve.ids import one_typo

    out = np.zeros(len(ca), dtype=bool)
    at = np.flatnonzero(where)
    if not len(at):
        return out
    both, inverse = np.unique(np.stack([ca[at], cb[at]], axis=1), axis=0, return_inverse=True)
    a = [values[x] for x in both[:, 0].tolist()]
    b = [values[x] for x in both[:, 1].tolist()]
    same_len = np.fromiter((len(x) == len(y) for x, y in zip(a, b)), dtype=bool, count=len(a))
    easy = answerable(a) & answerable(b) & same_len
    near = np.zeros(len(a), dtype=bool)
    k = np.flatnonzero(easy)
    near[k] = within_one_edit([a[i] for i in k.tolist()], [b[i] for i in k.tolist()])
    for i in np.flatnonzero(~easy & same_len).tolist():
        near[i] = one_typo(a[i], b[i])
    out[at] = near[inverse.ravel()]
    return out


def typo_spared(f: str, cols: dict, left, right, differ, values: list[str], conf: dict):
    """Per pair where `differ` (two different valid ids `f`): whether `match.contradicting_ids`
    spares it (one typo apart, the `near_ids` features equal where both sides give them)."""
    import numpy as np

    agree = conf.get("near_ids", {}).get(f)
    if agree is None:
        return np.zeros(len(left), dtype=bool)
    where = differ.copy()
    given = np.zeros(len(left), dtype=bool)  # `match.near_agree`: a feature both sides give
    for x in agree:
        if x not in cols:
            continue
        both = (cols[x][left] >= 0) & (cols[x][right] >= 0)
        where &= ~both | (cols[x][left] == cols[x][right])
        given |= both
    where &= given
    return one_typo_codes(cols[f][left], cols[f][right], where, values)


class TableConflicts:
    """`conflicting` over a `columns.FeatureTable`: called with two refs as `conflict_of`'s
    test is, with two parts (`parts`), or with arrays of positions in `table.refs` (`many`),
    where each distinct pair of values is judged once (a million records' parts hold millions
    of member pairs)."""

    def __init__(self, table, conf: dict) -> None:
        self.table, self.conf = table, conf

    def __call__(self, a: str, b: str) -> bool:
        t = self.table
        return a in t and b in t and conflicting(t[a], t[b], self.conf)

    def among(self, positions) -> Callable[[str, str], bool]:
        """The test for the records at `positions` only, their features read once
        (`clustering.cluster` asks about each member many times)."""
        return FeatureConflicts({self.table.refs[i]: self.table.row(i) for i in positions}, self.conf)

    def parts(self, ms, mb) -> bool:
        """Whether two parts hold a pair in conflict, their compound names read (`between`)."""
        return between(self.table, self.conf, ms, mb)

    def people(self, ms, mb) -> bool:
        """Whether two parts hold two records that are two people even under one id (`clearly_two`)."""
        return between(self.table, self.conf, ms, mb, clearly_two)

    def contested(self, a: str, b: str) -> bool:
        t = self.table
        return a in t and b in t and contested(t[a], t[b], self.conf)

    def many(self, left, right):
        """Per pair (left[k], right[k]) of positions: whether they conflict (bool array)."""
        import numpy as np

        from munihub.resolve.ids import valid_id

        cols, values, conf = self.table.columns, self.table.values, self.conf
        out = np.zeros(len(left), dtype=bool)
        absent = np.full(len(left), -1, dtype=np.int64)
        for f in conf["trusted_ids"]:
            if f not in cols:
                continue
            ca, cb = cols[f][left], cols[f][right]
            present = np.unique(np.concatenate([ca, cb]))
            present = present[present >= 0]
            good = np.zeros(len(values) + 1, dtype=bool)
            good[present] = [valid_id(f, values[c]) for c in present.tolist()]
            differ = (ca != cb) & good[ca] & good[cb]  # -1 reads the last entry: never valid
            differ &= ~typo_spared(f, cols, left, right, differ, values, conf)
            out |= differ
        # a conflict of names a swap excuses (`soft`, cleared below) and of anything else
        # (`hard`: the same whole name with birth dates forty years apart is two people)
        soft, hard = np.zeros(len(left), dtype=bool), np.zeros(len(left), dtype=bool)
        swappable = {f for pair in conf.get("swappable", ()) for f in pair}
        for name in conf.get("conflicts", ()):
            if name not in cols:
                continue
            far = soft if name in swappable else hard
            ca, cb = cols[name][left], cols[name][right]
            differ = np.flatnonzero((ca >= 0) & (cb >= 0) & (ca != cb) & ~out & ~hard & ~far)
            if not len(differ):
                continue
            kind = conf["comparisons"][name].get("kind", "exact")
            both, inverse = np.unique(np.stack([ca[differ], cb[differ]], axis=1), axis=0, return_inverse=True)
            apart = np.fromiter((_far(values[a], values[b], kind) for a, b in both.tolist()),
                                dtype=bool, count=len(both))
            far[differ[apart[inverse.ravel()]]] = True
            whole = [cols[w] for w in conf.get("whole_names_with", ()) if w in cols]
            if name in conf.get("halves", ()) and whole:  # a name longer than a whole one (`_longer_than_whole`)
                # per distinct pair of values: 0 neither holds the other, 1 the left one is the
                # shorter, 2 the right one
                held = np.fromiter((0 if far_ or not _holds(values[a], values[b]) else
                                    1 + (len(values[a]) >= len(values[b]))
                                    for (a, b), far_ in zip(both.tolist(), apart.tolist())),
                                   dtype=np.int8, count=len(both))[inverse.ravel()]
                near = differ[held > 0]
                side = np.where(held[held > 0] == 1, left[near], right[near])
                has = np.zeros(len(near), dtype=bool)
                for col in whole:
                    has |= col[side] >= 0
                far[near[has]] = True
        for x, y in conf.get("swappable", ()):  # names swapped or split elsewhere: no conflict
            at = np.flatnonzero(soft)
            if not len(at):
                break
            quads = np.stack([(cols[f][side] if f in cols else absent)[at]
                              for side in (left, right) for f in (x, y)], axis=1)
            both, inverse = np.unique(quads, axis=0, return_inverse=True)
            def side(cx: int, cy: int) -> dict:
                return {k: values[c] for k, c in ((x, cx), (y, cy)) if c >= 0}

            swapped = np.fromiter((_swapped(side(ax, ay), side(bx, by), x, y)
                                   for ax, ay, bx, by in both.tolist()), dtype=bool, count=len(both))
            soft[at[swapped[inverse.ravel()]]] = False
        return out | hard | soft

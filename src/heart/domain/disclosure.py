"""Small-cell suppression with complementary suppression, pure.

Published counts are the values of named variables tied together by sums (a table's
cells add up to its total, the routes add up to all calls, …). A count from 1 to
``threshold - 1`` is hidden (*primary* suppression). Hiding one number is not enough
when the others in its sums are shown: total minus the shown cells gives it back. So
more numbers are hidden (*complementary* suppression) until no hidden number can be
worked out from the shown ones through any combination of the sums.

The check is exact linear algebra: a hidden variable can be recovered exactly when its
unit vector lies in the row space of the sums restricted to the unknowns, i.e. when it
is a pivot whose reduced row involves no free unknown. Ranks are taken modulo a 61-bit
prime; for the tables published here (each cell in at most a row and a column sum,
the matrices are totally unimodular) that rank equals the rank over the rationals.
Complements are chosen among shown, non-zero numbers sharing a sum with the exposed
one, smallest first, so as little as possible is hidden; a zero is never chosen (its
value could be pinned by non-negativity) and zeros are never hidden as primary cells.

Limits (docs/metrics.md): sums across separately published periods are checked only
for the year-to-date figures against the months they add up (see ``link_periods``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

PRIME = (1 << 61) - 1


@dataclass(frozen=True, slots=True)
class Sum:
    """``total`` equals the sum of ``parts`` (all variable names)."""

    total: str
    parts: tuple[str, ...]


@dataclass
class System:
    """Variables (name -> value), which of them are shown, and the sums that tie them."""

    values: dict[str, int] = field(default_factory=dict)
    shown: set[str] = field(default_factory=set)  # would be published if not suppressed
    sums: list[Sum] = field(default_factory=list)

    def add(self, name: str, value: int, *, shown: bool = True) -> str:
        if name in self.values and self.values[name] != value:
            raise ValueError(f"{name}: two values ({self.values[name]} and {value})")
        self.values[name] = int(value)
        if shown:
            self.shown.add(name)
        return name

    def add_sum(self, total: str, parts: Iterable[str]) -> None:
        parts = tuple(parts)
        missing = [p for p in (total, *parts) if p not in self.values]
        if missing:
            raise ValueError(f"sum over unknown variables {missing}")
        if sum(self.values[p] for p in parts) != self.values[total]:
            raise ValueError(
                f"{total}: parts add up to {sum(self.values[p] for p in parts)}, "
                f"not {self.values[total]}"
            )
        self.sums.append(Sum(total, parts))


def primary(system: System, threshold: int) -> set[str]:
    """Shown counts from 1 to threshold - 1."""
    return {n for n in system.shown if 0 < system.values[n] < threshold}


def recoverable(system: System, hidden: set[str]) -> set[str]:
    """Hidden variables that the shown ones determine exactly through the sums."""
    unknown = sorted((set(system.values) - system.shown) | hidden)
    if not unknown:
        return set()
    column = {name: i for i, name in enumerate(unknown)}
    rows: list[dict[int, int]] = []
    for s in system.sums:
        row: dict[int, int] = {}
        for name, coef in ((s.total, 1), *((p, -1) for p in s.parts)):
            if name in column:
                j = column[name]
                row[j] = (row.get(j, 0) + coef) % PRIME
        row = {j: v for j, v in row.items() if v}
        if row:
            rows.append(row)
    pivots = _reduce(rows)
    determined = set()
    for j, row in pivots.items():
        if all(k == j for k in row):
            determined.add(unknown[j])
    return determined & hidden


def _reduce(rows: list[dict[int, int]]) -> dict[int, dict[int, int]]:
    """Reduced row echelon form of sparse rows mod PRIME: pivot column -> its row (pivot
    coefficient 1, zero in every other pivot column)."""
    pivots: dict[int, dict[int, int]] = {}
    for original in rows:
        row = dict(original)
        # a reduced pivot row is zero in the other pivot columns, so clearing the pivot
        # columns present in the new row never brings in another one
        for j in [j for j in row if j in pivots]:
            factor = row.get(j, 0)
            if factor:
                _axpy(row, -factor, pivots[j])
        if not row:
            continue
        j = min(row)
        inv = pow(row[j], PRIME - 2, PRIME)
        row = {k: v * inv % PRIME for k, v in row.items()}
        for prow in pivots.values():
            factor = prow.get(j, 0)
            if factor:
                _axpy(prow, -factor, row)
        pivots[j] = row
    return pivots


def _axpy(target: dict[int, int], factor: int, source: dict[int, int]) -> None:
    """target += factor * source (mod PRIME), dropping zeros."""
    for k, v in source.items():
        value = (target.get(k, 0) + factor * v) % PRIME
        if value:
            target[k] = value
        else:
            target.pop(k, None)


def protect(
    system: System,
    threshold: int,
    *,
    forced: Iterable[str] = (),
    prefer_last: Sequence[str] = (),
) -> set[str]:
    """Names to hide: the primary cells, ``forced`` ones, and complements until none of
    them can be recovered. ``prefer_last`` names (e.g. the grand total) are chosen as
    complements only when nothing else will do."""
    if threshold <= 1:
        return set(forced)
    hidden = primary(system, threshold) | set(forced)
    last = set(prefer_last)
    sums_of: dict[str, list[Sum]] = {}
    for s in system.sums:
        for name in (s.total, *s.parts):
            sums_of.setdefault(name, []).append(s)
    for _ in range(len(system.values) + 1):
        exposed = sorted(recoverable(system, hidden))
        if not exposed:
            return hidden
        pick = _complement(system, hidden, exposed, sums_of, last)
        if pick is None:
            # every shown number is zero or hidden: the zeros go too (last resort)
            zeros = sorted(n for n in system.shown - hidden)
            if not zeros:
                raise AssertionError(f"{exposed[0]} cannot be protected")  # pragma: no cover
            pick = zeros[0]
        hidden.add(pick)
    raise AssertionError("complementary suppression did not settle")  # pragma: no cover


# complements tried per step before settling for the one that exposes the fewest
TRIES = 40


def _complement(
    system: System,
    hidden: set[str],
    exposed: list[str],
    sums_of: dict[str, list[Sum]],
    last: set[str],
) -> str | None:
    """The next number to hide: among shown, non-zero numbers sharing a sum with an
    exposed one (smallest first, ``last`` ones after all others), the first that
    protects the first exposed number; else the one leaving the fewest exposed."""

    def usable(n: str) -> bool:
        return n in system.shown and n not in hidden and system.values[n] > 0

    order = lambda n: (n in last, system.values[n], n)  # noqa: E731
    candidates = sorted(
        {
            n
            for name in exposed
            for s in sums_of.get(name, [])
            for n in (s.total, *s.parts)
            if usable(n)
        },
        key=order,
    )
    if not candidates:
        # pinned through the sums of other numbers (e.g. a column total fixed by the
        # grand total and the other columns): anything shown may be the partner
        candidates = sorted((n for n in system.values if usable(n)), key=order)
    if not candidates:
        return None
    target = exposed[0]
    best, best_count = candidates[0], None
    for n in candidates[:TRIES]:
        still = recoverable(system, hidden | {n})
        if target not in still:
            return n
        if best_count is None or len(still) < best_count:
            best, best_count = n, len(still)
    return best


def link_periods(
    whole: Mapping[str, int],
    whole_hidden: set[str],
    parts_hidden: Sequence[set[str]],
) -> set[str]:
    """Year-to-date figures against the months that add up to them: a figure hidden in
    exactly one month and shown for the year would give that month's value back, so it
    is hidden for the year too. Returns the names to force-hide in the whole."""
    forced = set()
    for name in whole:
        if name in whole_hidden:
            continue
        if sum(1 for h in parts_hidden if name in h) == 1:
            forced.add(name)
    return forced

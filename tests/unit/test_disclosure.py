"""Small-cell suppression: every count from 1 to threshold-1 is hidden, and an attacker
who knows every published number and every sum cannot work a hidden one out.

The attacker here is independent of the implementation (which uses linear algebra): a
brute-force search over non-negative whole numbers that looks, for each hidden cell, for
a second table that agrees with everything published but differs in that cell.
"""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heart.domain.disclosure import System, link_periods, primary, protect, recoverable
from heart.domain.metrics import CallRecord, Period, ReportData, ReportSettings, compute
from heart.domain.public_summary import build_system, summary


def table(cells: list[list[int]]) -> System:
    """A table with its row totals, column totals and grand total, all published."""
    s = System()
    rows, cols = len(cells), len(cells[0])
    for i in range(rows):
        for j in range(cols):
            s.add(f"c{i}{j}", cells[i][j])
        s.add(f"r{i}", sum(cells[i]))
        s.add_sum(f"r{i}", [f"c{i}{j}" for j in range(cols)])
    for j in range(cols):
        s.add(f"k{j}", sum(cells[i][j] for i in range(rows)))
        s.add_sum(f"k{j}", [f"c{i}{j}" for i in range(rows)])
    s.add("t", sum(map(sum, cells)))
    s.add_sum("t", [f"r{i}" for i in range(rows)])
    return s


def another_solution(system: System, hidden: set[str], target: str, bound: int) -> dict | None:
    """A non-negative whole-number table that matches every shown number and every sum
    but gives ``target`` a different value (None: the target is pinned down)."""
    unknown = sorted((set(system.values) - system.shown) | hidden)
    known = {n: v for n, v in system.values.items() if n not in unknown}
    true = system.values

    def propagate(assign: dict) -> dict | None:
        assign = dict(assign)
        changed = True
        while changed:
            changed = False
            for s in system.sums:
                names = (s.total, *s.parts)
                free = [n for n in names if n not in assign and n not in known]
                if len(free) > 1:
                    continue

                def val(n):
                    return assign[n] if n in assign else known[n]

                if not free:
                    if val(s.total) != sum(val(p) for p in s.parts):
                        return None
                    continue
                n = free[0]
                if n == s.total:
                    x = sum(val(p) for p in s.parts)
                else:
                    x = val(s.total) - sum(val(p) for p in s.parts if p != n)
                if x < 0 or x > bound or (n == target and x == true[target]):
                    return None
                assign[n] = x
                changed = True
        return assign

    def search(assign: dict) -> dict | None:
        assign = propagate(assign)
        if assign is None:
            return None
        free = [n for n in unknown if n not in assign]
        if not free:
            return assign
        n = target if target in free else free[0]
        # values near the true one first: the search ends fast when an answer exists
        order = sorted(range(bound + 1), key=lambda x: (abs(x - true[n]), x))
        for x in order:
            if n == target and x == true[target]:
                continue
            found = search({**assign, n: x})
            if found is not None:
                return found
        return None

    return search({})


def assert_protected(system: System, hidden: set[str], threshold: int) -> None:
    assert primary(system, threshold) <= hidden
    bound = max(system.values.values())
    for name in sorted(hidden):
        assert another_solution(system, hidden, name, bound) is not None, (
            f"{name} = {system.values[name]} can be recovered from the published numbers"
        )
    for name in hidden - primary(system, threshold):
        assert system.values[name] > 0, f"a zero ({name}) was hidden as a complement"


def test_a_single_small_cell_takes_a_partner():
    s = System()
    for k, v in dict(a=3, b=20, c=30, t=53).items():
        s.add(k, v)
    s.add_sum("t", ["a", "b", "c"])
    assert recoverable(s, {"a"}) == {"a"}  # 53 - 20 - 30
    hidden = protect(s, 10)
    assert hidden == {"a", "b"}  # the smallest other count
    assert_protected(s, hidden, 10)


def test_two_small_cells_in_a_row_need_nothing_more():
    s = table([[3, 4, 40], [20, 25, 30]])
    hidden = protect(s, 10)
    # row 0: 3 and 4 hide each other; their columns need a partner each, in row 1
    assert {"c00", "c01"} <= hidden
    assert_protected(s, hidden, 10)


def test_a_small_row_total_is_hidden_with_its_cells():
    s = table([[1, 2, 3], [20, 25, 30], [15, 18, 40]])
    hidden = protect(s, 10)
    assert {"c00", "c01", "c02", "r0"} <= hidden
    assert_protected(s, hidden, 10)


def test_zeros_are_shown_and_never_chosen_to_hide_another():
    s = table([[0, 5, 30], [0, 40, 30]])
    hidden = protect(s, 10)
    assert "c00" not in hidden and "c10" not in hidden
    assert_protected(s, hidden, 10)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cells=st.integers(2, 3).flatmap(
        lambda r: st.lists(
            st.lists(
                st.one_of(st.just(0), st.integers(1, 9), st.integers(10, 30)),
                min_size=3,
                max_size=3,
            ),
            min_size=r,
            max_size=r,
        )
    ),
    threshold=st.sampled_from([5, 10]),
)
def test_no_hidden_cell_of_a_random_table_can_be_recovered(cells, threshold):
    s = table(cells)
    hidden = protect(s, threshold)
    assert_protected(s, hidden, threshold)


def test_year_to_date_hides_a_figure_one_month_hides():
    # months hide "x" once: showing the year would give that month back
    assert link_periods({"x": 40, "y": 50}, set(), [{"x"}, set(), set()]) == {"x"}
    assert link_periods({"x": 40}, set(), [{"x"}, {"x"}]) == set()  # two months: safe
    assert link_periods({"x": 4}, {"x"}, [{"x"}]) == set()  # hidden anyway


def _calls(n_by_route: dict[str, int]) -> list[CallRecord]:
    out = []
    at = dt.datetime(2024, 5, 6, 14, 0, tzinfo=dt.UTC)
    for route, n in n_by_route.items():
        for i in range(n):
            out.append(
                CallRecord(
                    call_id=f"{route}{i}",
                    received_at=at + dt.timedelta(minutes=7 * len(out)),
                    call_type="CRISIS" if i % 2 else "WELFARE CHECK",
                    route=route,
                    reason_codes=("nature_eligible", f"route_{route}"),
                    team_sent=route == "crt",
                    reached=route == "crt",
                    on_scene_at=at + dt.timedelta(minutes=7 * len(out) + 20),
                    disposition="resolved_on_scene" if route == "crt" else None,
                    area="8844c0a301fffff",
                )
            )
    return out


def test_the_published_summary_cannot_be_recovered_from_its_totals():
    """The attack on the summary itself: every published sum (routes to all calls,
    call types to all calls, reached and missed causes to eligible, dispositions to team
    responses, hour-of-week cells to all calls) never has exactly one hidden part."""
    period = Period.month(2024, 5, "America/New_York")
    figures = compute(
        ReportData("live", _calls({"crt": 40, "ccd": 3, "standard": 25, "co_response": 1})),
        period,
        ReportSettings(),
    )
    routes = ["crt", "co_response", "ccd", "standard"]
    s = summary(figures, routes=routes, threshold=10)
    assert s["by_route"]["ccd"] is None and s["by_route"]["co_response"] is None
    system = build_system(figures, routes)
    hidden = {n for n in system.values if n in set(s["suppressed_cells"])}
    assert hidden == set(s["suppressed_cells"])
    assert_protected_by_sums(system, hidden)
    # and the brute-force attacker agrees on the sums that involve the routes
    small = System()
    for r in routes:
        small.add(f"by_route.{r}", system.values[f"by_route.{r}"])
    small.add("calls_total", figures.calls_total)
    small.add_sum("calls_total", [f"by_route.{r}" for r in routes])
    small_hidden = {n for n in hidden if n in small.values}
    for name in small_hidden:
        assert another_solution(small, small_hidden, name, figures.calls_total) is not None


def assert_protected_by_sums(system: System, hidden: set[str]) -> None:
    for s in system.sums:
        names = [n for n in (s.total, *s.parts) if n in hidden or n not in system.shown]
        assert len(names) != 1, f"{names[0]} is the only unknown of the sum for {s.total}"
    assert recoverable(system, hidden) == set()

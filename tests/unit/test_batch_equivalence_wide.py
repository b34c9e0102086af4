"""The batch/single equivalence, widened (issue 9): files with bad rows, files that span
several chunks (so the decisions cached across chunks are used), and every kind of time
format a mapping takes (ISO 8601 with an offset, and local-time strftime layouts, one of
them split over a date and a time column).

The property: the rows planted as unreadable are exactly the rejects (by row number),
and every other row gets the decision `decide()` gives the same call, in input order.
The random calls, narratives and programs are those of test_batch_equivalence.py.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heart.batch.io import parse_calls, read_raw
from heart.batch.run import triage_frame
from heart.domain.mapping import load_mapping
from heart.domain.triage import CallInput, decide
from tests.unit.test_batch_equivalence import P2022, P2023, PTYPED, calls

COLUMNS = ["id", "nature", "priority", "lon", "lat", "beat", "narrative", "weapon", "violence"]

# (name, time columns -> text for an aware datetime, [time] of the mapping, columns)
LAYOUTS = {
    "iso": (
        lambda t: {"received_at": t.isoformat()},
        'format = "iso8601"\ntimezone = "America/New_York"',
        'datetime = "received_at"',
    ),
    "durham": (  # Durham's export: local date and a 12-hour time in two columns
        lambda t: {
            "call_date": f"{t.month}/{t.day}/{t.year}",
            "call_time": t.strftime("%I:%M:%S%p").lstrip("0"),
        },
        'format = "%m/%d/%Y %I:%M:%S%p"\ntimezone = "America/New_York"',
        'date = "call_date"\ntime = "call_time"',
    ),
    "pacific": (  # Lane County's layout: local 24-hour time, another zone
        lambda t: {"received_at": t.strftime("%Y-%m-%d %H:%M:%S")},
        'format = "%Y-%m-%d %H:%M:%S"\ntimezone = "America/Los_Angeles"',
        'datetime = "received_at"',
    ),
}
ZONE = {
    "iso": None,
    "durham": ZoneInfo("America/New_York"),
    "pacific": ZoneInfo("America/Los_Angeles"),
}

# unreadable values, by layout: each makes the row a reject (and a live intake 422)
BAD = {
    "iso": [
        {"received_at": "not a time"},
        {"received_at": ""},
        {"received_at": "2023-03-12T02:30:00"},
    ],
    "durham": [{"call_date": "3/12/2023", "call_time": "2:37:35AM"}, {"call_time": "25:61:00PM"}],
    "pacific": [{"received_at": "2024-03-10 02:15:00"}, {"received_at": "yesterday"}],
    "any": [
        {"nature": " "},
        {"lat": "96", "lon": "-78.9"},
        {"lon": "abc", "lat": "36"},
        {"lon": "-78.9", "lat": ""},
    ],
}


def _mapping(tmp: Path, layout: str):
    _, time_table, time_columns = LAYOUTS[layout]
    columns = "\n".join(
        [time_columns]
        + [
            f'{field} = "{col}"'
            for field, col in (
                ("id", "id"),
                ("nature", "nature"),
                ("priority", "priority"),
                ("lon", "lon"),
                ("lat", "lat"),
                ("beat", "beat"),
                ("narrative", "narrative"),
                ("weapon_flag", "weapon"),
                ("violence_flag", "violence"),
            )
        ]
    )
    path = tmp / f"{layout}.toml"
    path.write_text(
        f'[mapping]\nname = "{layout}"\n\n[columns]\n{columns}\n\n[time]\n{time_table}\n'
    )
    return load_mapping(path)


def _readable(call: CallInput, layout: str) -> bool:
    """A local-time layout cannot carry a wall time the zone skips or repeats."""
    zone = ZONE[layout]
    if zone is None:
        return True
    wall = call.received_at.astimezone(zone).replace(tzinfo=None)
    first, second = wall.replace(tzinfo=zone, fold=0), wall.replace(tzinfo=zone, fold=1)
    return first.utcoffset() == second.utcoffset()


def _flag(value: bool | None) -> str:
    return "" if value is None else ("Y" if value else "N")


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    items=st.lists(calls(), min_size=1, max_size=60),
    layout=st.sampled_from(sorted(LAYOUTS)),
    program=st.sampled_from([P2022, P2023, PTYPED]),
    chunk_rows=st.integers(1, 9),
    bad=st.lists(st.tuples(st.integers(0, 80), st.integers(0, 99)), max_size=6),
)
def test_batch_equals_single_call_with_bad_rows_chunks_and_time_layouts(
    tmp_path, items, layout, program, chunk_rows, bad
):
    to_text = LAYOUTS[layout][0]
    items = [c for c in items if _readable(c, layout)] or [
        CallInput(received_at=dt.datetime(2022, 7, 5, 10, tzinfo=ZoneInfo("UTC")), nature="CRISIS")
    ]
    rows: list[dict] = []
    for i, c in enumerate(items):
        row = {
            "id": f"c{i}",
            "nature": c.nature,
            "priority": c.priority or "",
            "lon": "" if c.lon is None else repr(c.lon),
            "lat": "" if c.lat is None else repr(c.lat),
            "beat": c.beat or "",
            "narrative": c.narrative or "",
            "weapon": _flag(c.weapon_flag),
            "violence": _flag(c.violence_flag),
        }
        zone = ZONE[layout]
        row.update(to_text(c.received_at if zone is None else c.received_at.astimezone(zone)))
        rows.append(row)
    # plant unreadable rows at random places
    planted: set[int] = set()
    choices = BAD[layout] + BAD["any"]
    for where, which in bad:
        template = dict(rows[which % len(rows)])
        template.update(choices[which % len(choices)])
        at = where % (len(rows) + 1)
        rows.insert(at, template)
        planted = {p + 1 if p >= at else p for p in planted} | {at}
    good = [r for i, r in enumerate(rows) if i not in planted]

    time_columns = list(to_text(items[0].received_at))
    path = tmp_path / "calls.csv"
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=[*time_columns, *COLUMNS])
        w.writeheader()
        w.writerows(rows)
    mapping = _mapping(tmp_path, layout)
    frame, rejects = parse_calls(read_raw(path, mapping), mapping)
    assert sorted(rejects["row"].to_list()) == sorted(p + 1 for p in planted)
    decisions = triage_frame(program, frame, chunk_rows=chunk_rows).to_dicts()
    assert [d["row"] for d in decisions] == [i + 1 for i in range(len(rows)) if i not in planted]
    by_id = {f"c{i}": c for i, c in enumerate(items)}
    for row, decision in zip(good, decisions, strict=True):
        call = by_id[row["id"]]
        single = decide(program, call)
        assert (decision["route"], decision["reasons"]) == (single.route, ";".join(single.codes))

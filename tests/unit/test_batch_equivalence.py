"""One rule set, two speeds: the column-wise batch gives exactly the single-call answer.

Random calls (times in several zones around DST changes and the 2023 switch, natures
in odd spellings, beats, points on and near area edges, narratives built from weapon,
violence, medical, negation, shorthand, object-and-use, not-phrase, history and
self-reference words, CAD flags, priorities) go through the whole batch path (CSV ->
mapping -> Polars/shapely facts -> run card) and through `decide()`. A third program
extends Durham with call types whose own names say weapon, violence or a medical
emergency and with a priority rule, so those facts are compared too.
"""

from __future__ import annotations

import csv
import datetime as dt
import tempfile
from dataclasses import fields
from pathlib import Path
from zoneinfo import ZoneInfo

import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heart.batch.io import parse_calls, read_raw
from heart.domain.mapping import load_mapping
from heart.domain.program_file import BUILTIN_DIR, load_program
from heart.domain.triage import ELIGIBLE_ONLY_FACTS, CallFacts, CallInput, decide
from heart.domain.triage_batch import decide_frame, fact_columns

P2022 = load_program("durham-heart-2022")
P2023 = load_program("durham-heart-2023")
TYPED_NATURES = [
    "MAJOR DISTURBANCE (VIOLENCE)",
    "SUICIDE THREAT W/ WPN",
    "ONE DOWN/DRUG OD",
    "DISTURBANCE - NO WEAPONS",
]


def _typed_program(tmp: Path):
    """Durham 2022 plus eligible call types whose names say weapon/violence/medical, and
    a priority rule (Durham has neither)."""
    natures = "".join(
        f'[[natures]]\ncode = "{code}"\ncategory = "mental_health_crisis"\nwhy = "test"\n'
        for code in TYPED_NATURES
    )
    base = (BUILTIN_DIR / "durham-heart-2022.toml").read_text()
    at = base.index("# Natures considered and not eligible")
    text = base[:at] + natures + base[at:]
    text = text.replace(
        "[exclusions.negation]",
        '[exclusions.priority]\nexcluded = ["1", "E"]\nwhy = "emergencies."\n\n[exclusions.negation]',
    )
    (tmp / "durham").mkdir(exist_ok=True)
    for f in (BUILTIN_DIR / "durham").iterdir():
        (tmp / "durham" / f.name).write_bytes(f.read_bytes())
    path = tmp / "typed.toml"
    path.write_text(text.replace('name = "durham-heart-2022"', 'name = "typed"'))
    return load_program(path)


PTYPED = _typed_program(Path(tempfile.mkdtemp(prefix="heart-typed-")))
ZONES = [ZoneInfo(z) for z in ("America/New_York", "UTC", "America/Los_Angeles", "Asia/Kolkata")]
NATURES = [
    *P2022.natures,
    *P2022.not_eligible,
    "LARCENY",
    "crisis",
    "  Welfare   Check ",
    "SUICIDE  THREAT",
    "NEW CODE",
    *TYPED_NATURES,
    "major  disturbance (violence)",
]
BEATS = [*sorted(P2022.areas["city"].beats), "999", " 113 ", "113.0", "DSO", "x"]
WORDS = [
    "no",
    "not",
    "denies",
    "without",
    "never",
    "none",
    "knife",
    "gun",
    "armed",
    "weapon",
    "weapons",
    "machete",
    "hit",
    "hitting",
    "punched",
    "attacked",
    "fight",
    "himself",
    "herself",
    "but",
    "however",
    ",",
    ".",
    ";",
    "no",
    "longer",
    "not",
    "sure",
    "threatening",
    "to",
    "kill",
    "hurt",
    "caller",
    "says",
    "he",
    "she",
    "is",
    "has",
    "a",
    "the",
    "with",
    "seen",
    # medical, shorthand, objects and uses, not-phrases, history, post-negations
    "od",
    "OD'd",
    "unresponsive",
    "not",
    "breathing",
    "seizure",
    "siezure",
    "chest",
    "pain",
    "took",
    "handful",
    "of",
    "pills",
    "hx",
    "afraid",
    "w/o",
    "W/",
    "neg",
    "SI/HI",
    "denies",
    "subj",
    "swinging",
    "holding",
    "bat",
    "pipe",
    "bottle",
    "in",
    "his",
    "hand",
    "car",
    "panic",
    "attack",
    "flu",
    "shot",
    "shots",
    "heard",
    "beat",
    "up",
    "put",
    "away",
    "was",
    "and",
    "then",
    "threw",
    "at",
    "woman's",
    "10-94",
    "10-52",
]


def _edge_points():
    pts = []
    for area in P2022.areas.values():
        g = area.geometry
        ring = g.boundary
        for f in (0.0, 0.1, 0.33, 0.5, 0.77):
            p = ring.interpolate(f, normalized=True)
            pts.append((p.x, p.y))
        for v in shapely.get_coordinates(g)[:: max(1, len(shapely.get_coordinates(g)) // 6)]:
            pts.append((float(v[0]), float(v[1])))  # vertices lie exactly on the edge
    return pts


EDGE_POINTS = _edge_points()
points = st.one_of(
    st.none(),
    st.sampled_from(EDGE_POINTS),
    st.tuples(st.floats(-79.05, -78.75), st.floats(35.85, 36.15)),
    st.builds(
        lambda p, dx, dy: (p[0] + dx, p[1] + dy),
        st.sampled_from(EDGE_POINTS),
        st.floats(-2e-5, 2e-5),
        st.floats(-2e-5, 2e-5),
    ),
)
times = st.datetimes(
    min_value=dt.datetime(2021, 1, 1),
    max_value=dt.datetime(2025, 12, 31),
    timezones=st.sampled_from(ZONES),
    allow_imaginary=False,
).map(lambda t: t.replace(microsecond=0))
hot_times = st.builds(
    lambda day, minute, zone: dt.datetime.combine(day, dt.time(0), ZONES[0]).replace(
        hour=minute // 60, minute=minute % 60
    ),
    st.sampled_from(
        [
            dt.date(2022, 6, 27),
            dt.date(2022, 9, 26),
            dt.date(2022, 11, 6),
            dt.date(2023, 3, 12),
            dt.date(2023, 10, 22),
            dt.date(2023, 10, 23),
            dt.date(2022, 7, 4),
            dt.date(2023, 12, 25),
        ]
    ),
    st.sampled_from([0, 90, 479, 480, 481, 1019, 1020, 1199, 1200, 1439]),
    st.just(0),
).filter(
    lambda t: (
        t.replace(tzinfo=None) == t.astimezone(dt.UTC).astimezone(t.tzinfo).replace(tzinfo=None)
    )
)
narratives = st.one_of(st.none(), st.lists(st.sampled_from(WORDS), max_size=12).map(" ".join))
flags = st.sampled_from([None, True, False])
priorities = st.sampled_from([None, "1", " 1 ", "e", "E", "2", "3", "P1"])


@st.composite
def calls(draw) -> CallInput:
    point = draw(points)
    return CallInput(
        id=None,
        received_at=draw(st.one_of(times, hot_times)),
        nature=draw(st.sampled_from(NATURES)),
        beat=draw(st.one_of(st.none(), st.sampled_from(BEATS))),  # half carry only a point
        lon=point[0] if point else None,
        lat=point[1] if point else None,
        narrative=draw(narratives),
        weapon_flag=draw(flags),
        violence_flag=draw(flags),
        priority=draw(priorities),
    )


def _flag(value: bool | None) -> str:
    return "" if value is None else ("Y" if value else "N")


def batch_decide(tmp_path, program, items, rules_as_of):
    path = tmp_path / "calls.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "id",
                "received_at",
                "nature",
                "priority",
                "lon",
                "lat",
                "beat",
                "narrative",
                "weapon",
                "violence",
            ]
        )
        for i, c in enumerate(items):
            w.writerow(
                [
                    f"c{i}",
                    c.received_at.isoformat(),
                    c.nature,
                    c.priority or "",
                    "" if c.lon is None else repr(c.lon),
                    "" if c.lat is None else repr(c.lat),
                    c.beat or "",
                    c.narrative or "",
                    _flag(c.weapon_flag),
                    _flag(c.violence_flag),
                ]
            )
    mapping = load_mapping("heart-standard")
    frame, rejects = parse_calls(read_raw(path, mapping), mapping)
    assert rejects.height == 0, rejects.to_dicts()
    return decide_frame(program, frame, rules_as_of=rules_as_of).to_dicts()


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    items=st.lists(calls(), min_size=1, max_size=25),
    program=st.sampled_from([P2022, P2023, PTYPED]),
    rules_as_of=st.one_of(st.none(), st.dates(dt.date(2021, 1, 1), dt.date(2025, 1, 1))),
)
def test_batch_equals_single_call(tmp_path, items, program, rules_as_of):
    rows = batch_decide(tmp_path, program, items, rules_as_of)
    assert len(rows) == len(items)
    for i, (call, row) in enumerate(zip(items, rows, strict=True)):
        single = decide(program, call, rules_as_of=rules_as_of)
        assert row["row"] == i + 1
        assert (row["route"], row["reasons"]) == (single.route, ";".join(single.codes)), call
        assert row["rules_version"] == single.rules_version


@st.composite
def calls_the_team_could_take(draw) -> CallInput:
    """Eligible call types inside the pilot during hours: only the exclusions decide."""
    return CallInput(
        id=None,
        received_at=dt.datetime(2022, 10, 4, 10, 0, tzinfo=ZONES[0]),
        nature=draw(st.sampled_from([*PTYPED.natures, *TYPED_NATURES, "crisis"])),
        beat="113",
        narrative=draw(narratives),
        weapon_flag=draw(st.sampled_from([None, None, False, True])),
        violence_flag=draw(st.sampled_from([None, None, False, True])),
        priority=draw(priorities),
    )


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(items=st.lists(calls_the_team_could_take(), min_size=1, max_size=25))
def test_batch_equals_single_call_on_the_exclusions(tmp_path, items):
    rows = batch_decide(tmp_path, PTYPED, items, None)
    for call, row in zip(items, rows, strict=True):
        single = decide(PTYPED, call)
        assert (row["route"], row["reasons"]) == (single.route, ";".join(single.codes)), call


def test_the_generators_reach_every_new_fact():
    """The phrase classes the batch must agree on do occur in generated calls."""
    from heart.domain.triage import call_facts

    seen = set()
    for text, nature, priority in [
        ("subj od unresponsive", "CRISIS", None),
        ("swinging bat", "CRISIS", None),
        ("w/o weapons", "CRISIS", None),
        (None, "MAJOR DISTURBANCE (VIOLENCE)", None),
        (None, "ONE DOWN/DRUG OD", None),
        (None, "CRISIS", " 1 "),
    ]:
        facts = call_facts(
            PTYPED,
            CallInput(
                received_at=dt.datetime(2022, 10, 4, 10, tzinfo=ZONES[0]),
                nature=nature,
                beat="113",
                narrative=text,
                priority=priority,
            ),
        )
        seen |= {f"{k}:{getattr(facts, k)}" for k in ("weapon", "violence", "medical")}
        seen.add(f"priority:{facts.priority_excluded}")
        seen.add(f"negated:{bool(facts.negated_phrase)}")
    for expected in (
        "medical:narrative",
        "weapon:narrative",
        "violence:call_type",
        "medical:call_type",
        "priority:1",
        "negated:True",
    ):
        assert expected in seen, (expected, seen)


def test_batch_columns_carry_every_fact():
    """A new CallFacts field needs a batch column; which ones fold is triage's to say."""
    carried = {name for names in fact_columns(P2022).values() for name in names}
    assert carried == {f.name for f in fields(CallFacts)}
    assert set(ELIGIBLE_ONLY_FACTS) <= carried

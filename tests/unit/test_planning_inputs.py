"""Honest counts at the door: rejects over a limit, day/month swaps, headerless files,
binary files, blank call-type rows, valid JSON only, time zones, the rules date."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import polars as pl
import pytest

from heart.batch.io import InputError, read_raw
from heart.cli import main
from heart.domain.mapping import MappingError, load_mapping
from heart.planning import jsonsafe
from heart.planning.store import CallTypeTable, TooManyRejects, import_calls, load_store

MAPPING = """
[mapping]
name = "city-y"
[columns]
id = "id"
datetime = "when"
call_type = "type"
[time]
format = "%m/%d/%Y %H:%M"
timezone = "America/New_York"
"""
TYPES = "call_type,nature\nMH,CRISIS\nTRESPASS,TRESPASS OR UNWANTED\nALARM,\n"


def strict_json(text: str):
    """json.loads that refuses NaN and Infinity, as strict readers do."""

    def refuse(name):
        raise ValueError(f"not JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def calls_csv(rows: list[tuple[str, str, str]]) -> str:
    return "id,when,type\n" + "".join(f"{a},{b},{c}\n" for a, b, c in rows)


def run_import(tmp_path, csv_text, mapping_text=MAPPING, **kw):
    return import_calls(
        input_path=write(tmp_path, "calls.csv", csv_text),
        mapping=load_mapping(write(tmp_path, "m.toml", mapping_text)),
        out_dir=tmp_path / "store",
        call_types=CallTypeTable.load(write(tmp_path, "types.csv", TYPES)),
        **kw,
    )


def a_month(day_first: bool = False, n: int = 60) -> list[tuple[str, str, str]]:
    """Calls over two months from 2024-03-01; the date written m/d/Y (or d/m/Y)."""
    out = []
    for i in range(n):
        d = dt.date(2024, 3, 1) + dt.timedelta(days=i)
        text = f"{d.day:02d}/{d.month:02d}/{d.year}" if day_first else d.strftime("%m/%d/%Y")
        out.append((str(i), f"{text} 10:00", "MH"))
    return out


# --- rejects over the limit ----------------------------------------------------------


def test_reject_share_over_the_limit_fails_and_writes_nothing(tmp_path):
    rows = a_month(n=50) + [("x1", "no time", "MH")]  # 1 of 51 = 2% > 1%
    with pytest.raises(TooManyRejects, match=r"1 of 51 rows \(2\.0%\) cannot be read, above"):
        run_import(tmp_path, calls_csv(rows))
    assert not (tmp_path / "store").exists()
    s = run_import(tmp_path, calls_csv(rows), allow_rejects=True)
    assert (s.rows_read, s.rejected, s.kept) == (51, 1, 50)
    assert s.reject_reasons == {"time": 1}
    # a looser limit lets it through, and the counts are in import.json
    s = run_import(tmp_path, calls_csv(rows), max_reject_share=0.05)
    assert strict_json((tmp_path / "store" / "import.json").read_text())["rejected_share"] == 1 / 51


def test_unmapped_and_blank_call_types_are_kept_and_named(tmp_path):
    rows = a_month(n=30) + [
        ("a", "03/05/2024 10:00", "ALARM"),
        ("b", "03/05/2024 11:00", "BURGLARY"),
    ]
    s = run_import(tmp_path, calls_csv(rows))
    assert s.rejected == 0 and s.kept == 32
    assert s.unmapped_call_types == {"BURGLARY": 1}
    assert s.blank_call_types == {"ALARM": 1}  # listed in the table, with a blank nature
    calls = load_store(tmp_path / "store")
    assert set(calls["type_status"].to_list()) == {"mapped", "not_in_table", "blank_in_table"}
    reasons = pl.read_csv(tmp_path / "store" / "rejects.csv")
    assert reasons.height == 0


def test_reject_reasons_are_never_empty(tmp_path):
    rows = a_month(n=100) + [("z", "", "")]  # no time and no type: one reason, no ";;"
    s = run_import(tmp_path, calls_csv(rows), allow_rejects=True)
    rejects = pl.read_csv(tmp_path / "store" / "rejects.csv")
    for reason in rejects["reason"].to_list():
        assert all(part.strip() for part in reason.split(";"))
    assert s.reject_reasons == {"time": 1}


# --- day/month ------------------------------------------------------------------------


def test_day_month_swap_is_refused_with_the_evidence(tmp_path):
    # the file is d/m/Y, the mapping says m/d/Y: 13/03/2024 has 13 in the month position
    with pytest.raises(InputError) as err:
        run_import(tmp_path, calls_csv(a_month(day_first=True)))
    message = str(err.value)
    assert "wrong way round" in message and "'%d/%m/%Y %H:%M'" in message
    assert "13 cannot be a month" in message
    assert not (tmp_path / "store").exists()


def test_day_month_swap_with_every_value_ambiguous_is_refused_by_the_spread(tmp_path):
    # 1-12 March written d/m/Y but mapped m/d/Y: every value parses either way, but read as
    # written the dates are the 3rd of each month from January to December; swapped, they
    # are twelve days in a row
    rows = []
    for i in range(12 * 4):
        d = dt.date(2024, 3, 1) + dt.timedelta(days=i // 4)
        rows.append((str(i), f"{d.day:02d}/{d.month:02d}/{d.year} {8 + i % 4:02d}:00", "MH"))
    with pytest.raises(InputError, match="keeping to days 1-12 of each month"):
        run_import(tmp_path, calls_csv(rows))


def test_right_format_passes_and_year_first_is_not_questioned(tmp_path):
    s = run_import(tmp_path, calls_csv(a_month()))
    assert s.kept == 60 and s.warnings == []


# --- headerless files, positions ------------------------------------------------------

POSITIONAL = """
[mapping]
name = "city-y-positions"
header = false
[columns]
id = 1
datetime = 2
call_type = 3
[time]
format = "%m/%d/%Y %H:%M"
timezone = "America/New_York"
"""


def test_headerless_file_with_positions(tmp_path):
    text = calls_csv(a_month(n=30)).split("\n", 1)[1]  # drop the header row
    s = run_import(tmp_path, text, POSITIONAL)
    assert (s.rows_read, s.kept, s.rejected) == (30, 30, 0)
    calls = load_store(tmp_path / "store")
    assert calls["id"].to_list()[:2] == ["0", "1"]
    assert calls["nature"].unique().to_list() == ["CRISIS"]


def test_headerless_file_read_with_a_named_mapping_says_so(tmp_path):
    text = calls_csv(a_month(n=5)).split("\n", 1)[1]
    path = write(tmp_path, "calls.csv", text)
    with pytest.raises(InputError, match="first row looks like data.*--no-header"):
        read_raw(path, load_mapping(write(tmp_path, "m.toml", MAPPING)))
    with pytest.raises(InputError, match="must give columns by position"):
        read_raw(path, load_mapping(write(tmp_path, "m.toml", MAPPING)), header=False)
    positional = load_mapping(write(tmp_path, "p.toml", POSITIONAL.replace("id = 1", "id = 9")))
    with pytest.raises(InputError, match="column positions the file lacks.*3 columns"):
        read_raw(path, positional)


def test_mapping_positions_are_checked():
    bad = MAPPING.replace('id = "id"', "id = 0")
    with pytest.raises(MappingError, match="counts from 1"):
        load_mapping_text(bad)
    with pytest.raises(MappingError, match="every column by name or every column by position"):
        load_mapping_text(MAPPING.replace('id = "id"', "id = 1"))
    with pytest.raises(MappingError, match="needs column positions"):
        load_mapping_text(MAPPING.replace('name = "city-y"', 'name = "c"\nheader = false'))


def load_mapping_text(text: str):
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as fh:
        fh.write(text)
    return load_mapping(fh.name)


def test_cli_no_header_flag(tmp_path, capsys):
    text = calls_csv(a_month(n=20)).split("\n", 1)[1]
    calls = write(tmp_path, "calls.csv", text)
    mapping = write(tmp_path, "p.toml", POSITIONAL.replace("header = false\n", ""))
    types = write(tmp_path, "types.csv", TYPES)
    base = ["plan", "import", str(calls), "--mapping", str(mapping), "--call-types", str(types)]
    # with a header assumed, the first data row is eaten as a header: 19 rows
    assert main([*base, "--out", str(tmp_path / "a"), "--quiet"]) == 0
    assert json.loads((tmp_path / "a" / "import.json").read_text())["rows_read"] == 19
    assert main([*base, "--no-header", "--out", str(tmp_path / "b"), "--quiet"]) == 0
    assert json.loads((tmp_path / "b" / "import.json").read_text())["rows_read"] == 20


# --- binary and non-CSV files ---------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "what"),
    [
        (b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 100, "ZIP archive"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + b"x" * 100, "PDF document"),
        (bytes(range(256)) * 4, "binary data"),
        (b"PAR1" + b"\x00\x01" * 50, "Parquet file"),
    ],
)
def test_binary_or_non_csv_file_gets_one_clear_sentence(tmp_path, capsys, content, what):
    path = write(tmp_path, "calls.csv", content)
    mapping = write(tmp_path, "m.toml", MAPPING)
    code = main(["plan", "import", str(path), "--mapping", str(mapping), "--out",
                 str(tmp_path / "s")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert "not a CSV text file" in err and what in err
    assert "Traceback" not in err and "polars" not in err.lower()
    assert err.count("error:") == 1


# --- valid JSON only ------------------------------------------------------------------


def test_jsonsafe_writes_null_for_nan_and_refuses_nothing_valid(tmp_path):
    import numpy as np

    doc = {
        "a": math.nan,
        "b": [float("inf"), np.float64("nan"), np.int64(3)],
        "c": dt.date(2024, 1, 2),
    }
    text = jsonsafe.dumps(doc)
    assert strict_json(text) == {"a": None, "b": [None, None, 3], "c": "2024-01-02"}


def test_every_planning_output_is_strict_json(tmp_path, durham_2023):
    # calls that no team reaches (all at night): percentiles and shares are undefined
    rows = [(str(i), f"03/{i + 1:02d}/2024 23:30", "MH") for i in range(5)]
    run_import(tmp_path, calls_csv(rows))
    store, out = tmp_path / "store", tmp_path / "out"
    assert main(["plan", "eligibility", str(store), "--program", "durham-heart-2023",
                 "--out", str(out)]) == 0  # fmt: skip
    assert main(["plan", "simulate", str(store), "--program", "durham-heart-2023",
                 "--post=-78.9,35.99", "--replications", "2",
                 "--out", str(out / "simulate.json")]) == 0  # fmt: skip
    assert main(["plan", "area", str(store), "--program", "durham-heart-2023", "--max-zones",
                 "2", "--out", str(out)]) == 0  # fmt: skip
    for name in ("eligibility.json", "simulate.json", "area.json"):
        strict_json((out / name).read_text())
    sim = strict_json((out / "simulate.json").read_text())
    assert sim["response_minutes"]["p50"]["mean"] is None  # no call reached: null, not NaN
    strict_json((store / "import.json").read_text())


# --- the rules date and time zones ----------------------------------------------------


def test_eligibility_judges_each_call_by_its_own_date_like_heart_triage(
    tmp_path, durham_2022, durham_2023
):
    """The same file gives the same team count in `heart triage` and `plan eligibility`."""
    from heart.domain.triage import CallInput, decide
    from heart.planning.eligibility import analyse

    # weekday 10:00 calls in the pilot, before and after the 2022 launch (2022-06-27)
    rows = []
    for i, day in enumerate(["06/20/2022", "06/21/2022", "06/28/2022", "06/29/2022"]):
        rows.append((str(i), f"{day} 10:00", "MH"))
    mapping = MAPPING.replace('call_type = "type"', 'call_type = "type"\nbeat = "beat"')
    text = "id,when,type,beat\n" + "".join(f"{a},{b},{c},111\n" for a, b, c in rows)
    run_import(tmp_path, text, mapping)
    calls = load_store(tmp_path / "store")
    own = analyse(durham_2022, calls)
    single = [
        decide(
            durham_2022,
            CallInput(received_at=t, nature="CRISIS", beat="111"),
        ).route
        for t in calls["received_utc"].to_list()
    ]
    assert own.totals["team"] == sum(r == "crt" for r in single) == 2
    replay = analyse(durham_2022, calls, rules_as_of=dt.date(2022, 7, 1))
    assert replay.totals["team"] == 4
    assert own.as_dict()["rules"].startswith("each call judged by the rules in force on its own")


def test_program_in_another_time_zone_needs_program_timezone(tmp_path, capsys):
    pacific = MAPPING.replace("America/New_York", "America/Los_Angeles")
    run_import(tmp_path, calls_csv(a_month(n=10)), pacific)
    store, out = tmp_path / "store", tmp_path / "out"
    args = ["plan", "eligibility", str(store), "--program", "durham-heart-2023"]
    assert main([*args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "runs in America/New_York but the calls" in err and "America/Los_Angeles" in err
    assert main([*args, "--program-timezone", "America/Los_Angeles", "--out", str(out)]) == 0
    doc = strict_json((out / "eligibility.json").read_text())
    assert "read in America/Los_Angeles" in doc["time_zones"][0]


# --- call-type tables -----------------------------------------------------------------


def test_call_type_table_filter_and_blank_rows(tmp_path):
    table = write(
        tmp_path,
        "vera.csv",
        "City,Field 1,Category\nA,Welfare Check,Assist\nB,Welfare Check,Other\nA,Alarm,\n",
    )
    with pytest.raises(MappingError, match="--call-type-filter"):
        CallTypeTable.load(table, from_column="Field 1", to_column="Category")
    t = CallTypeTable.load(table, from_column="Field 1", to_column="Category", where={"City": "a"})
    assert t.to_nature == {"WELFARE CHECK": "ASSIST"}
    assert t.blank == {"ALARM": 4}
    with pytest.raises(MappingError, match="no column 'Town'"):
        CallTypeTable.load(table, from_column="Field 1", to_column="Category", where={"Town": "A"})


# --- simulate: calls apart, the policy override; validate: bad splits -----------------

WITH_POINTS = MAPPING.replace('call_type = "type"', 'call_type = "type"\nlon = "x"\nlat = "y"')


def test_simulate_counts_unlocated_and_outside_calls_apart_unless_told(tmp_path, capsys):
    # weekday mornings of 2024 in Durham: two in the city, one with no point, one in Raleigh
    rows = [
        ("1", "03/05/2024 10:00", "MH", "-78.90", "35.99"),
        ("2", "03/05/2024 11:00", "MH", "-78.91", "36.00"),
        ("3", "03/06/2024 10:00", "MH", "", ""),
        ("4", "03/06/2024 11:00", "MH", "-78.64", "35.78"),
    ]
    text = "id,when,type,x,y\n" + "".join(",".join(r) + "\n" for r in rows)
    run_import(tmp_path, text, WITH_POINTS)
    store, out = tmp_path / "store", tmp_path / "out.json"
    base = ["plan", "simulate", str(store), "--program", "durham-heart-2023", "--teams", "1",
            "--hours", "24/7", "--replications", "1", "--out", str(out)]  # fmt: skip
    assert main(base) == 0
    doc = strict_json(out.read_text())
    assert doc["no_location"]["mean"] == 1 and doc["outside_area"]["mean"] == 1
    assert doc["reached"]["mean"] == 2 and doc["share_reached"]["mean"] == 0.5
    assert doc["calls_without_location"].startswith("counted apart")
    assert doc["no_team_free"]["source"] == "durham-heart-2023 [no_team_free]"
    assert main([*base, "--unlocated-travel", "15", "--serve-outside-area",
                 "--no-team-free", "hold:20"]) == 0  # fmt: skip
    doc = strict_json(out.read_text())
    assert doc["reached"]["mean"] == 4 and doc["unlocated_travel_minutes"] == 15
    assert "assumed 15 min travel time" in doc["calls_without_location"]
    assert doc["no_team_free"]["action"] == "hold" and "what-if" in doc["no_team_free"]["source"]
    with pytest.raises(SystemExit) as bad:  # argparse: one line, status 2
        main([*base, "--no-team-free", "wait"])
    assert bad.value.code == 2
    assert "'wait' is not 'fall_back' or 'hold:MINUTES'" in capsys.readouterr().err


def test_validate_refuses_a_split_that_leaves_a_side_too_small(tmp_path, capsys):
    run_import(tmp_path, calls_csv(a_month(n=60)))
    code = main(["plan", "validate", "--store", str(tmp_path / "store"), "--fit-until",
                 "2024-03-10", "--out", str(tmp_path / "v")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert "has no received_utc / dispatched_utc" in err or "at least 50" in err

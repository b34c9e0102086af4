"""The `heart` entry points called as functions (main(argv)), the way the console
script calls them: exit codes and messages for good and bad arguments."""

from __future__ import annotations

import pytest

from heart.cli import main

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "argv",
    [
        ["serve", "--port", "0"],
        ["serve", "--port", "70000"],
        ["serve", "--workers", "0"],
        ["serve", "--speed", "-1"],
    ],
)
def test_serve_refuses_bad_arguments_before_serving(argv, capsys):
    assert main(argv) == 2
    assert "error:" in capsys.readouterr().err


def test_serve_refuses_several_processes_on_sqlite(capsys, settings):
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("the SQLite refusal")
    assert main(["serve", "--workers", "2"]) == 2
    assert "PostgreSQL" in capsys.readouterr().err


def test_demo_command_stores_triaged_calls(tmp_path, settings, capsys):
    from heart.calls.models import Call

    settings.DATA_DIR = tmp_path
    assert main(["demo", "--calls", "60", "--seed", "2"]) == 0
    assert Call.objects.filter(source="demo").count() == 60
    assert "Stored 60 triaged calls" in capsys.readouterr().err


def test_unknown_command_and_missing_arguments_exit_2(capsys):
    with pytest.raises(SystemExit) as e:
        main(["no-such-command"])
    assert e.value.code == 2
    with pytest.raises(SystemExit) as e:
        main(["triage"])
    assert e.value.code == 2


def test_explain_and_programs_as_functions(capsys):
    assert main(["programs"]) == 0
    assert "durham-heart-2022" in capsys.readouterr().out
    code = main(
        ["explain", "--program", "durham-heart-2023", "--nature", "CRISIS",
         "--time", "2023-11-25T19:30-05:00", "--beat", "311", "--narrative", "no weapons seen"]
    )  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "route:" in out and "nature_eligible" in out
    assert (
        main(["explain", "--program", "nope", "--nature", "X", "--time", "2023-11-25T19:30-05:00"])
        == 2
    )
    assert (
        main(
            [
                "explain",
                "--program",
                "durham-heart-2023",
                "--nature",
                "X",
                "--time",
                "2023-11-25T19:30",
            ]
        )
        == 2
    )

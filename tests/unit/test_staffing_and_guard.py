"""The dispatch guard (which unit may go to which route) and the staffing rules
(required training, renewal, certificate expiry), as plain domain functions."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from heart.domain.dispatch import field_unit_refusal, route_refusal
from heart.domain.program import ProgramError
from heart.domain.program_file import BUILTIN_DIR, load_program
from heart.domain.staffing import (
    TrainingRecord,
    add_months,
    current_until,
    training_gaps,
    training_statuses,
)

D = dt.date


# ------------------------------------------------------------------ the guard


@pytest.mark.parametrize(
    ("unit", "route", "code"),
    [
        ("crt", "crt", None),
        ("co_response", "co_response", None),
        ("crt", "co_response", "route_served_by_other_unit"),
        ("crt", "ccd", "route_served_by_other_unit"),
        ("crt", "standard", "route_not_served"),
        ("co_response", "crt", "route_served_by_other_unit"),
        ("co_response", "standard", "route_not_served"),
        ("crt9", "crt", "unit_not_in_program"),
    ],
)
def test_a_unit_goes_only_to_the_routes_its_kind_serves(durham_2023, unit, route, code):
    refusal = route_refusal(durham_2023, unit_key=unit, route=route)
    assert (refusal.code if refusal else None) == code
    if refusal:
        assert route in refusal.text or unit in refusal.text  # names the route (or unit)


def test_the_refusal_says_who_serves_the_route(durham_2023):
    r = route_refusal(durham_2023, unit_key="crt", route="co_response")
    assert "co-response team (clinician with police)" in r.text
    assert "not the community response team" in r.text
    r = route_refusal(durham_2023, unit_key="crt", route="standard")
    assert "standard response" in r.text


def test_which_routes_get_a_field_unit(durham_2023):
    assert durham_2023.field_unit_for_route("crt") == "crt"
    assert durham_2023.field_unit_for_route("co_response") == "co_response"
    assert durham_2023.field_unit_for_route("ccd") is None
    assert field_unit_refusal(durham_2023, "ccd").code == "route_served_by_phone"
    assert field_unit_refusal(durham_2023, "standard").code == "route_not_served"
    assert field_unit_refusal(durham_2023, "crt") is None
    assert durham_2023.units_for_route("standard") == ()


# ------------------------------------------------------------------ training


def test_add_months_keeps_the_day_or_takes_the_last():
    assert add_months(D(2024, 1, 31), 1) == D(2024, 2, 29)
    assert add_months(D(2024, 3, 5), 12) == D(2025, 3, 5)
    assert add_months(D(2023, 11, 30), 3) == D(2024, 2, 29)
    assert add_months(D(2024, 12, 15), 1) == D(2025, 1, 15)


def test_durham_requires_training_by_discipline(durham_2023):
    need = {d: {t.key for t in durham_2023.trainings_for(d)} for d in durham_2023.disciplines}
    assert need["clinician"] == {"de_escalation", "situational_awareness"}
    assert need["emt"] == {"de_escalation", "situational_awareness", "cpr_bls"}
    assert durham_2023.trainings["cpr_bls"].renew_every_months == 24


def test_the_earlier_of_renewal_and_certificate_expiry_wins(durham_2023):
    cpr = durham_2023.trainings["cpr_bls"]
    assert current_until(cpr, TrainingRecord("cpr_bls", D(2024, 1, 10))) == D(2026, 1, 10)
    early = TrainingRecord("cpr_bls", D(2024, 1, 10), expires_on=D(2025, 6, 30))
    assert current_until(cpr, early) == D(2025, 6, 30)
    late = TrainingRecord("cpr_bls", D(2024, 1, 10), expires_on=D(2030, 1, 1))
    assert current_until(cpr, late) == D(2026, 1, 10)  # policy caps a generous certificate


def _gaps(program, discipline, records, first, last=None):
    return training_gaps(program, discipline, records, first_day=first, last_day=last or first)


def test_gaps_name_what_is_missing_expired_or_running_out(durham_2023):
    done = [
        TrainingRecord("de_escalation", D(2024, 1, 2)),
        TrainingRecord("situational_awareness", D(2023, 1, 2)),  # expired 2024-01-02
    ]
    gaps = {g.training: g for g in _gaps(durham_2023, "emt", done, D(2024, 3, 5))}
    assert set(gaps) == {"situational_awareness", "cpr_bls"}
    assert gaps["situational_awareness"].code == "training_expired"
    assert "expired on 2024-01-02" in gaps["situational_awareness"].text
    assert gaps["cpr_bls"].code == "training_missing"
    assert gaps["cpr_bls"].text == "no record of CPR / basic life support"
    # a night shift over the day de-escalation runs out
    gaps = _gaps(durham_2023, "clinician", done[:1], D(2025, 1, 1), D(2025, 1, 2))
    assert {g.code for g in gaps} == {"training_expires_during", "training_missing"}
    # completed after the shift starts does not count for it
    later = [TrainingRecord("de_escalation", D(2024, 6, 1))]
    assert _gaps(durham_2023, "peer_support", later, D(2024, 3, 5))[0].code == "training_later"


def test_the_best_record_counts(durham_2023):
    records = [
        TrainingRecord("de_escalation", D(2022, 1, 1)),
        TrainingRecord("de_escalation", D(2024, 2, 1)),
        TrainingRecord("situational_awareness", D(2024, 2, 1)),
    ]
    assert _gaps(durham_2023, "clinician", records, D(2024, 3, 5), D(2024, 3, 6)) == []


def test_statuses_for_the_staffing_page(durham_2023):
    records = [
        TrainingRecord("de_escalation", D(2023, 3, 20)),  # until 2024-03-20: expiring
        TrainingRecord("situational_awareness", D(2024, 1, 1)),
    ]
    st = {
        s.training.key: s for s in training_statuses(durham_2023, "emt", records, on=D(2024, 3, 5))
    }
    assert st["de_escalation"].state == "expiring" and st["de_escalation"].until == D(2024, 3, 20)
    assert st["situational_awareness"].state == "current"
    assert st["cpr_bls"].state == "missing" and st["cpr_bls"].text == "no record"
    assert training_statuses(durham_2023, "", records, on=D(2024, 3, 5)) == []


# ------------------------------------------------------------------ the file format

BASE = (BUILTIN_DIR / "durham-heart-2022.toml").read_text()


def _load_with(tmp_path: Path, extra: str):
    path = tmp_path / "p.toml"
    text = BASE.replace('outline = "durham/', f'outline = "{BUILTIN_DIR}/durham/')
    cut = text.index("[training.de_escalation]")
    path.write_text(text[:cut] + extra)
    return load_program(path)


@pytest.mark.parametrize(
    ("extra", "key", "problem"),
    [
        (
            '[training.cpr]\nrenew_every_months = 0\ndisciplines = ["emt"]\n',
            "training.cpr.renew_every_months",
            "between 1 and 120",
        ),
        (
            '[training.cpr]\nrenew_every_months = 12\ndisciplines = ["emts"]\n',
            "training.cpr.disciplines[0]",
            "unknown discipline 'emts'",
        ),
        ("[training.cpr]\nrenew_every_months = 12\n", "training.cpr.disciplines", "missing"),
        (
            "[training.cpr]\nrenew_every_months = 12\ndisciplines = []\n",
            "training.cpr.disciplines",
            "at least one",
        ),
        (
            '[training.cpr]\nrenew = 12\ndisciplines = ["emt"]\n',
            "training.cpr.renew",
            "unknown key",
        ),
        (
            '[training."c p r"]\nrenew_every_months = 12\ndisciplines = ["emt"]\n',
            "training.c p r",
            "letters",
        ),
    ],
)
def test_training_mistakes_name_the_key(tmp_path, extra, key, problem):
    with pytest.raises(ProgramError) as err:
        _load_with(tmp_path, extra)
    assert f": {key}: " in str(err.value) and problem in str(err.value), str(err.value)


def test_a_program_may_require_no_training(tmp_path):
    p = _load_with(tmp_path, "")
    assert p.trainings == {} and p.trainings_for("emt") == ()

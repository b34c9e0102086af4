"""The call type's own name, on other cities' real call types (Vera Institute taxonomy).

A program that maps a city's behavioural-health or complaint call types to eligible
categories must still never send "121D_Mental Disorder Violnt Wp" or "MAJOR DIST
(VIOLENCE)" to a team: the same phrases that read narratives read the type names.
"""

from __future__ import annotations

import csv
import re

from heart.domain.triage import call_type_evidence

SAYS_DANGER = re.compile(
    r"\b(wpn|weapon|wp|armed|violent|violnt|violence|overdose|od|gun|fight|physical)\b", re.I
)
SAYS_NO_DANGER = re.compile(r"not violent|n-viol|nonviolent|non-violent", re.I)
SAFE_NAMES = ["121C_Mental Disordr NonViolent", "MENTAL NOT VIOLENT", "Welfare Check", "CRISIS"]


def _types(shared_dir, category):
    with (shared_dir / "data/call_type_mappings/vera_call_types_5_cities.csv").open() as fh:
        return sorted(
            {r["Field 1"] for r in csv.DictReader(fh) if (r["Category"] or "").strip() == category}
        )


def flagged(program, name):
    e = call_type_evidence(program, name, None)
    return [k for k in ("weapon", "violence", "medical") if getattr(e, k)]


def test_behavioural_health_types_that_name_a_danger_are_never_eligible(shared_dir, durham_2022):
    names = _types(shared_dir, "Behavioral Health")
    assert len(names) >= 40
    danger = [n for n in names if SAYS_DANGER.search(n.replace("_", " ").replace("-", " "))]
    missed = [n for n in danger if not flagged(durham_2022, n) and not SAYS_NO_DANGER.search(n)]
    assert missed == [], missed
    assert len([n for n in names if flagged(durham_2022, n)]) >= 13
    for name in SAFE_NAMES:
        assert flagged(durham_2022, name) == [], name


def test_complaint_types_with_weapons_or_physical_disturbance(shared_dir, durham_2022):
    names = _types(shared_dir, "Complaints/Environmental Conditions")
    by_name = {n: flagged(durham_2022, n) for n in names}
    assert by_name["113D_Disturbance Verbal Sm Wpn"] == ["weapon"]
    assert by_name["113D_Disturbance Physical"] == ["violence"]
    assert by_name["6X - MAJOR DIST (VIOLENCE)"] == ["violence"]
    assert by_name["113D_Disturbance Verbal Small"] == []
    assert by_name["113C_Disturbance Loud Party"] == []
    # a weapon or violence named in the type, never a medical emergency by mistake
    assert not any("medical" in k for k in by_name.values())

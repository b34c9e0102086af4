"""Weapon and violence phrases in narratives, with negation handled."""

from __future__ import annotations

import pytest

from heart.domain.triage import narrative_facts


@pytest.mark.parametrize(
    "text, weapon, violence",
    [
        ("subject has a knife", "knife", None),
        ("no weapons seen", None, None),
        ("No weapons seen.", None, None),
        ("denies having any weapons", None, None),
        ("caller does not have a gun", None, None),
        ("weapon not seen on the subject", None, None),
        ("unarmed, appears confused", None, None),
        ("no gun seen but subject has a machete", "machete", None),
        ("no longer has the knife", "knife", None),  # pseudo-negation: still counts
        ("not sure if he is armed", "armed", None),  # doubt counts as present
        ("possibly armed, caller not sure", "armed", None),
        ("son is hitting his mother", None, "hitting"),
        ("threatening to hurt himself", None, None),  # self-directed, not toward others
        ("man with a knife threatening to cut himself", "knife", None),
        ("RP states brother threatening to kill their dad", None, "threatening to kill"),
        ("not violent, but punched the clerk", None, "punched"),
        ("no fighting, no weapons", None, None),
        ("", None, None),
        (None, None, None),
        ("he has a GUN!!", "gun", None),
        ("the gunman", None, None),  # whole words only
    ],
)
def test_phrases_with_negation(durham_2022, text, weapon, violence):
    found_weapon, found_violence, _ = narrative_facts(durham_2022, text)
    assert (found_weapon, found_violence) == (weapon, violence)


def test_negated_mentions_are_reported(durham_2022):
    _, _, negated = narrative_facts(durham_2022, "no weapons seen")
    assert negated == "weapons"


def test_negation_does_not_reach_past_its_scope(durham_2022):
    # the cue is six words before the phrase: out of the five-token scope
    weapon, _, _ = narrative_facts(durham_2022, "no one knows where he got the knife")
    assert weapon == "knife"

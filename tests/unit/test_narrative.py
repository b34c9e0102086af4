"""Weapon, violence and medical-emergency phrases in narratives and call-type names.

Each feature of the phrase engine with the Durham lists: negation (plain and CAD
shorthand), objects that count only when used or held, not-phrases ("panic attack"),
self-directed violence, history, misspellings, the call type's own name, the priority
rule, and how a medical emergency meets the run card. The labelled corpus
(test_narrative_corpus.py) measures the lists as a whole.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from heart.domain.narrative import find_mentions, tokenize
from heart.domain.program import ProgramError
from heart.domain.program_file import BUILTIN_DIR, load_program
from heart.domain.triage import CallInput, call_type_evidence, decide, text_evidence
from tests.conftest import ny

TUE_10AM = ny(2022, 10, 4, 10, 0)


def found(program, text):
    e = text_evidence(program, text)
    return e.weapon, e.violence, e.medical


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
        # a clause break stops a negation: "and he" starts a new clause
        ("no weapons and he punched his brother", None, "punched"),
        ("denies weapons but has a knife in his pocket", "knife", None),
        # a refusal is no negation
        ("SUBJ WILL NOT DROP THE KNIFE", "knife", None),
        ("he will not put the gun down", "gun", None),
    ],
)
def test_phrases_with_negation(durham_2022, text, weapon, violence):
    assert found(durham_2022, text)[:2] == (weapon, violence)


@pytest.mark.parametrize(
    "text, weapon",
    [
        ("SUBJ SWINGING A BAT AT PASSING CARS", "swinging a bat"),
        ("threatening the clerk with a metal pipe", "with a metal pipe"),
        ("SUBJ HOLDING A PIPE", "holding a pipe"),
        ("SUBJ W/ BAT", "with bat"),
        ("bat in his hand, pacing", "bat in his hand"),
        ("armed with a pair of scissors", "armed with a pair of scissors"),
        ("SUBJ HAS A BROKEN BOTTLE", "broken bottle"),  # a phrase on its own
        # an object alone, or at hand nowhere, is no weapon
        ("son has a baseball bat in his car, crying on the porch", None),
        ("holding a bottle of water, unsteady", None),
        ("panhandler with a sign on a stick", None),
        ("sitting in a chair in the lobby", None),
        # guns used: shots heard
        ("RP HEARD SHOTS NEXT DOOR", "heard shots"),
        ("caller heard gunshots", "gunshots"),
        ("shots fired in the house", "shots fired"),
    ],
)
def test_everyday_objects_count_only_when_used_or_held(durham_2022, text, weapon):
    assert found(durham_2022, text)[0] == weapon


@pytest.mark.parametrize(
    "text",
    [
        "female having a panic attack in the store",
        "CALLER HAVING PANIC ATTACKS ALL DAY",
        "client having an anxiety attack",
        "elderly man confused after his flu shot",
        "intox male broke a shot glass",
        "took a shot of tequila and is dancing",
        "had shots of whiskey, wobbly",
        "male sleeping in a beat up car",
        "woman living in a beat-up van",
        "got kicked out of the shelter",
        "caller says he has hit rock bottom",
        "male trying to shoot up in the restroom",
        "complains of shooting pain in his leg",
        "veteran of the armed forces",
        "male punching the wall in the hallway",
        "son kicking the door of his bedroom",
        "verbal fight between sisters",
        "her fight or flight is kicking in",
        "caller in beat 113 wants male removed",  # a police beat, not a beating
        "crying so hard he is choking on his words",
    ],
)
def test_false_positives_that_cost_reach(durham_2022, text):
    assert found(durham_2022, text) == (None, None, None)


@pytest.mark.parametrize(
    "text",
    [
        "no longer has the knife, mom took it",
        "knife was put away by family",
        "SUBJ W/O WEAPONS",
        "NEG WEAPONS",
        "WEAPONS: NONE",
        "WEAPONS NEG",
        "PT DENIES SI/HI",
        "SI, DENIES HI",
        "no sign of any weapons",
        "SUBJ NON-VIOLENT, PACING",
        "nothing physical, verbal argument",
    ],
)
def test_cad_negations(durham_2022, text):
    assert found(durham_2022, text) == (None, None, None)
    assert text_evidence(durham_2022, text).negated is not None or "NON" in text


@pytest.mark.parametrize(
    "text, violence",
    [
        ("PT +SI/HI, AGITATED", "homicidal"),
        ("DV IN PROGRESS", "domestic violence"),
        ("10-94 AT RESIDENCE", "10 94"),
        ("10-40 IN FRONT OF THE CLUB", "10 40"),
        ("SUBJ ASSUALTED HER MOM", "assaulted"),
        ("SUBJ THREATING TO HURT HIS GIRLFRIEND", "threatening to hurt"),
        ("subject threw a chair at the front desk staff", "threw a chair at"),
        ("PT PULLED A KNIFE ON STAFF", "pulled a knife on"),
        ("wants to kill himself and take his ex with him", "take his ex with him"),
        ("male threatening passersby", "threatening passersby"),
        ("SUBJ BIT HIS MOTHER ON THE ARM", "bit his"),
        ("grabbed a woman's arm", "grabbed a woman"),
    ],
)
def test_violence_verbs_shorthand_and_typos(durham_2022, text, violence):
    assert found(durham_2022, text)[1] == violence


@pytest.mark.parametrize(
    "text, medical",
    [
        ("SUBJ OD IN THE BATHROOM", "overdose"),
        ("FRIEND OD'D ON FENTANYL", "overdosed"),
        ("female took a handful of pills", "took a handful of pills"),
        ("subj took 20 tylenol", "took 20 tylenol"),
        ("FEMALE IN CAR NOT BREATHING", "not breathing"),
        ("SUBJ UNRESP, POSS OD", "unresponsive"),
        ("MALE IS UNCONCIOUS IN THE PARK", "unconscious"),
        ("PT HAVING A SIEZURE", "seizure"),
        ("INTOX FEMALE C/O CHEST PAINS", "chest pains"),
        ("subject is bleeding heavily", "bleeding heavily"),
        ("dad's face is drooping", "face is drooping"),
        ("found her brother hanging in the garage", "found her brother hanging"),
        ("MOTHER WONT WAKE UP", "won't wake up"),
        ("10-52 FOR INTOX MALE", "10 52"),
        ("she might overdose on her pills again", None),  # feared, not now
        ("hx of seizures, alert and talking", None),  # past, not now
        ("denies chest pain", None),
        ("she is breathing and talking, not unconscious", None),
        ("caller afraid she will be hit by a car", None),
    ],
)
def test_medical_emergencies(durham_2022, text, medical):
    assert found(durham_2022, text)[2] == medical


def test_shorthand_is_rewritten_before_matching(durham_2022):
    sh = durham_2022.exclusions.shorthand
    assert tokenize("SUBJ W/O WPNS, RP ADV", sh) == [
        "subject",
        "without",
        "weapons",
        ",",
        "caller",
        "advised",
    ]
    assert tokenize("denies SI/HI", sh) == ["denies", "suicidal", "homicidal"]
    assert tokenize("w/knife and/or bat", sh) == ["with", "knife", "and", "or", "bat"]


def test_mentions_say_why_they_do_not_count(durham_2022):
    ex = durham_2022.exclusions
    kinds = {
        m.why_not
        for text, ps in [
            ("no weapons", ex.weapon),
            ("hitting himself", ex.violence),
            ("hx of seizures", ex.medical),
        ]
        for m in find_mentions(text, ps, ex.negation, shorthand=ex.shorthand)
    }
    assert kinds == {"negated", "self-directed", "historical"}


def test_negation_does_not_reach_past_its_scope(durham_2022):
    # the cue is six words before the phrase: out of the five-token scope
    assert found(durham_2022, "no one knows where he got the knife")[0] == "knife"


# -- decisions -------------------------------------------------------------------------


def call(narrative=None, nature="CRISIS", **kw) -> CallInput:
    return CallInput(received_at=TUE_10AM, nature=nature, beat="113", narrative=narrative, **kw)


def test_a_medical_emergency_goes_to_the_standard_response(durham_2022):
    d = decide(durham_2022, call("SUBJ UNRESP, POSS OD"))
    assert d.route == "standard"
    assert d.codes == ("nature_eligible", "medical_in_narrative", "route_standard")
    assert "medical emergency" in d.reasons[1].text
    assert "EMS" in d.reasons[-1].text


def test_a_medical_emergency_with_a_weapon_is_not_a_co_response_call(durham_2022):
    # a weapon alone in a suicide threat goes to the clinician-police pair; with a
    # medical emergency the call needs EMS first, so no pair and no team
    armed = decide(durham_2022, call("has a knife", nature="SUICIDE THREAT"))
    assert armed.route == "co_response"
    both = decide(durham_2022, call("has a knife, bleeding heavily", nature="SUICIDE THREAT"))
    assert both.route == "standard"
    assert both.codes == (
        "nature_eligible",
        "weapon_in_narrative",
        "medical_in_narrative",
        "route_standard",
    )


def test_negated_cad_shorthand_keeps_the_call_with_the_team(durham_2022):
    d = decide(durham_2022, call("SUBJ W/O WEAPONS, TALKING TO HIMSELF"))
    assert d.route == "crt"
    assert d.codes == ("nature_eligible", "mention_negated", "route_crt")


@pytest.mark.parametrize(
    "type_text, code, route",
    [
        ("MAJOR DISTURBANCE (VIOLENCE)", "violence_in_call_type", "standard"),
        ("6X - MAJOR DIST (VIOLENCE)", "violence_in_call_type", "standard"),
        ("121D_Mental Disorder Violnt Wp", "weapon_in_call_type", "standard"),
        ("127D_Suicide Threat Weapon", "weapon_in_call_type", "co_response"),
        ("ONE DOWN/DRUG OD", "medical_in_call_type", "standard"),
        ("MENTAL VIOLENT NOT ARMED", "violence_in_call_type", "standard"),
        ("121C_Mental Disordr NonViolent", None, "crt"),
        ("Disturbance - no weapons", None, "crt"),
    ],
)
def test_the_call_types_own_name_is_read(durham_2022, type_text, code, route):
    d = decide(durham_2022, call(nature="CRISIS", type_text=type_text))
    assert d.route == route
    if code:
        assert code in d.codes
        assert d.reasons[1].text.startswith("The call type names ")
        assert "code or description" in d.reasons[1].text


def test_the_call_type_code_itself_is_read(tmp_path):
    base = (BUILTIN_DIR / "durham-heart-2022.toml").read_text()
    text = base.replace('code = "DISTURBANCE"\n', 'code = "MAJOR DISTURBANCE (VIOLENCE)"\n')
    path = tmp_path / "p.toml"
    path.write_text(text)
    (tmp_path / "durham").symlink_to(BUILTIN_DIR / "durham")
    program = load_program(path)
    d = decide(program, call(nature="MAJOR DISTURBANCE (VIOLENCE)"))
    assert d.route == "standard"
    assert d.codes == ("nature_eligible", "violence_in_call_type", "route_standard")
    off = load_program(
        _write(tmp_path, text.replace("check_call_type = true", "check_call_type = false"))
    )
    assert decide(off, call(nature="MAJOR DISTURBANCE (VIOLENCE)")).route == "crt"
    assert call_type_evidence(off, "ASSAULT", None).violence is None


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "q.toml"
    path.write_text(text)
    return path


def test_a_priority_rule_keeps_priority_1_from_every_unit(tmp_path):
    (tmp_path / "durham").symlink_to(BUILTIN_DIR / "durham")  # outlines resolve from here
    (tmp_path / "p.toml").write_text(
        f'[program]\nextends = "{BUILTIN_DIR / "durham-heart-2022.toml"}"\nname = "p1"\n'
        '[exclusions.priority]\nexcluded = ["1", "p1"]\n'
        'why = "priority 1 is a life-threatening emergency."\n'
    )
    program = load_program(tmp_path / "p.toml")
    d = decide(program, call(priority=" P1 "))
    assert d.route == "standard"
    assert d.codes == ("nature_eligible", "priority_excluded", "route_standard")
    assert d.reasons[1].text == (
        "Priority P1 calls are not taken by this program: priority 1 is a life-threatening emergency."
    )
    assert decide(program, call(priority="2")).route == "crt"
    # Durham's own file has no priority rule
    durham = load_program("durham-heart-2022")
    assert durham.exclusions.priority is None
    assert decide(durham, call(priority="1")).route == "crt"


@pytest.mark.parametrize(
    "addition, key, problem",
    [
        (
            '[exclusions.medical]\nphrases = ["x"]\nflag_label = "m"\n',
            "exclusions.medical.flag_label",
            "unknown key",
        ),
        (
            '[exclusions.priority]\nexcluded = []\nwhy = "x"\n',
            "exclusions.priority.excluded",
            "at least one",
        ),
        ('[exclusions.priority]\nexcluded = ["1"]\n', "exclusions.priority.why", "missing"),
        ('[exclusions.shorthand]\n"w/o" = 3\n', "exclusions.shorthand.w/o", "must be the words"),
        ('[exclusions.shorthand]\n"//" = "x"\n', "exclusions.shorthand.//", "no letters"),
        ("[exclusions]\ncheck_call_type = 1\n", "exclusions.check_call_type", "must be bool"),
    ],
)
def test_new_keys_are_checked(tmp_path, addition, key, problem):
    (tmp_path / "durham").symlink_to(BUILTIN_DIR / "durham")
    path = tmp_path / "p.toml"
    path.write_text(
        f'[program]\nextends = "{BUILTIN_DIR / "durham-heart-2022.toml"}"\nname = "x"\n{addition}'
    )
    with pytest.raises(ProgramError) as err:
        load_program(path)
    assert f": {key}: " in str(err.value) and problem in str(err.value), str(err.value)


@pytest.mark.parametrize(
    "old, new, key, problem",
    [
        (
            '  "panic attack", "panic attacks",',
            '  "panic attack", "hit",',
            "exclusions.violence.not_phrases[1]",
            "also in phrases",
        ),
        (
            "gap = 4\n\n[exclusions.medical]",
            "gap = 9\n\n[exclusions.medical]",
            "exclusions.violence.uses[4].gap",
            "between 0 and 6",
        ),
        (
            'objects = ["hanging"]\nbefore = ["found"]',
            'objects = ["hanging"]',
            "exclusions.medical.uses[0].before",
            "give the uses",
        ),
        (
            'objects = ["hanging"]',
            "objects = []",
            "exclusions.medical.uses[0].objects",
            "at least one",
        ),
        (
            '"no", "not", "none",',
            '"no", "!!", "none",',
            "exclusions.negation.before[1]",
            "no words",
        ),
        (
            '[[exclusions.weapon.uses]]\nobjects = [\n  "bat"',
            '[[exclusions.weapon.uses]]\nobjets = [\n  "bat"',
            "exclusions.weapon.uses[0].objets",
            "unknown key",
        ),
    ],
)
def test_mistakes_in_the_exclusion_lists_name_the_key(tmp_path, old, new, key, problem):
    base = (BUILTIN_DIR / "durham-heart-2022.toml").read_text()
    assert old in base, old
    path = tmp_path / "p.toml"
    path.write_text(base.replace(old, new, 1))
    (tmp_path / "durham").symlink_to(BUILTIN_DIR / "durham")
    with pytest.raises(ProgramError) as err:
        load_program(path)
    assert f": {key}: " in str(err.value) and problem in str(err.value), str(err.value)


def test_every_exclusion_code_is_known_to_planning(durham_2022):
    """Planning counts a call with any of these codes as not eligible: the list must hold
    every code an exclusion can give (a medical emergency included)."""
    from heart.domain.triage import EXCLUDING_CODES

    given = set()
    for narrative, kw in [
        ("has a knife, punched him, overdosed", {}),
        (None, {"weapon_flag": True, "violence_flag": True}),
        (None, {"type_text": "MAJOR DIST (VIOLENCE) WPN OVERDOSE"}),
    ]:
        given |= set(decide(durham_2022, call(narrative, **kw)).codes)
    given -= {"nature_eligible", "route_standard"}
    assert given <= set(EXCLUDING_CODES)
    assert set(EXCLUDING_CODES) - given == {"priority_excluded"}  # tested with its own rule

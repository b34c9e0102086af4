"""Negation-aware phrase spotting in call narratives (a small NegEx).

A narrative is split into lowercase word tokens and clause breaks. A phrase
(one or more tokens) *counts* unless a negation cue stands before it in the same
clause within ``scope`` tokens ("no weapons seen", "denies having a gun"), or a
post-negation follows it ("weapon not seen"). Pseudo-negations such as
"no longer" or "not sure" do not negate: when in doubt the phrase counts, because
a missed weapon is worse than a call sent to police that could have gone to a team.
A phrase followed by a self-reference ("hit himself") is self-directed, which for
violence toward others means it does not count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[.;:!?,()]")
_BREAK_PUNCT = frozenset(".;:!?,()")


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text.lower().replace("\u2019", "'"))


def _phrase(text: str) -> tuple[str, ...]:
    return tuple(tokenize(text))


@dataclass(frozen=True, slots=True)
class NegationRules:
    before: tuple[tuple[str, ...], ...]
    after: tuple[tuple[str, ...], ...]
    pseudo: tuple[tuple[str, ...], ...]
    clause_breaks: frozenset[str]
    self_references: frozenset[str]
    scope: int = 5

    @classmethod
    def build(
        cls,
        *,
        before: list[str],
        after: list[str],
        pseudo: list[str],
        clause_breaks: list[str],
        self_references: list[str],
        scope: int,
    ) -> NegationRules:
        return cls(
            before=tuple(sorted({_phrase(p) for p in before}, key=len, reverse=True)),
            after=tuple(sorted({_phrase(p) for p in after}, key=len, reverse=True)),
            pseudo=tuple(sorted({_phrase(p) for p in pseudo}, key=len, reverse=True)),
            clause_breaks=frozenset(w.lower() for w in clause_breaks) | _BREAK_PUNCT,
            self_references=frozenset(w.lower() for w in self_references),
            scope=scope,
        )


@dataclass(frozen=True, slots=True)
class PhraseSet:
    """Phrases for one kind of exclusion (weapon, violence)."""

    kind: str
    phrases: tuple[tuple[str, ...], ...]
    self_directed_ok: bool  # True: "hit himself" does not count (violence toward others)

    @classmethod
    def build(cls, kind: str, phrases: list[str], *, self_directed_ok: bool) -> PhraseSet:
        return cls(
            kind=kind,
            phrases=tuple(
                sorted({_phrase(p) for p in phrases if p.strip()}, key=len, reverse=True)
            ),
            self_directed_ok=self_directed_ok,
        )


@dataclass(frozen=True, slots=True)
class Mention:
    kind: str
    phrase: str
    counted: bool
    why_not: str = ""  # "negated", "self-directed"


def find_mentions(text: str | None, phrase_set: PhraseSet, rules: NegationRules) -> list[Mention]:
    if not text:
        return []
    tokens = tokenize(text)
    mentions: list[Mention] = []
    i = 0
    while i < len(tokens):
        matched = _match_at(tokens, i, phrase_set.phrases)
        if matched is None:
            i += 1
            continue
        end = i + len(matched)
        phrase = " ".join(matched)
        if _negated_before(tokens, i, rules) or _negated_after(tokens, end, rules):
            mentions.append(Mention(phrase_set.kind, phrase, False, "negated"))
        elif phrase_set.self_directed_ok and _self_directed(tokens, end, rules):
            mentions.append(Mention(phrase_set.kind, phrase, False, "self-directed"))
        else:
            mentions.append(Mention(phrase_set.kind, phrase, True))
        i = end
    return mentions


def _match_at(
    tokens: list[str], i: int, phrases: tuple[tuple[str, ...], ...]
) -> tuple[str, ...] | None:
    for phrase in phrases:  # longest first
        if tuple(tokens[i : i + len(phrase)]) == phrase:
            return phrase
    return None


def _negated_before(tokens: list[str], start: int, rules: NegationRules) -> bool:
    j = start - 1
    seen = 0
    while j >= 0 and seen < rules.scope:
        if tokens[j] in rules.clause_breaks:
            return False
        for cue in rules.before:
            cue_start = j - len(cue) + 1
            if cue_start >= 0 and tuple(tokens[cue_start : j + 1]) == cue:
                # "no longer has a knife": a pseudo-negation starting at the cue does not negate
                return not any(
                    tuple(tokens[cue_start : cue_start + len(p)]) == p for p in rules.pseudo
                )
        j -= 1
        seen += 1
    return False


def _negated_after(tokens: list[str], end: int, rules: NegationRules) -> bool:
    # post-negations must follow within two tokens: "weapon was not seen", "knife: denied"
    for offset in range(0, 3):
        k = end + offset
        if k >= len(tokens) or tokens[k] in rules.clause_breaks - {":"}:
            return False
        for cue in rules.after:
            if tuple(tokens[k : k + len(cue)]) == cue:
                return True
    return False


def _self_directed(tokens: list[str], end: int, rules: NegationRules) -> bool:
    # "hitting himself", "cut herself with": the next one or two tokens name the caller/subject
    for k in (end, end + 1):
        if k < len(tokens):
            if tokens[k] in rules.clause_breaks:
                return False
            if tokens[k] in rules.self_references:
                return True
    return False

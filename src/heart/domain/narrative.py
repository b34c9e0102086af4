"""Negation-aware phrase spotting in call narratives and call-type names (a small NegEx).

A text is lower-cased, split into word tokens and clause breaks, and CAD shorthand and
common misspellings are rewritten from the program's table (``W/O`` -> ``without``,
``NEG`` -> ``negative``, ``SUBJ`` -> ``subject``, ``siezure`` -> ``seizure``). Then each
exclusion class (weapon, violence, medical) looks for its phrases:

* a *phrase* counts wherever it stands ("gun", "shots fired", "not breathing");
* an *object* counts only when used or held as a weapon: a *use* up to ``gap``
  words before it ("swinging a bat", "threatening him with a hammer") or right after
  it ("bat in his hand"); "has a bat in the car" is no weapon;
* a *not-phrase* is a longer phrase that contains a counting word in another sense
  ("panic attack", "flu shot", "shot glass", "beat up car"); matching is longest first,
  so the not-phrase wins and nothing counts.

A match does not count when a negation cue stands before it in the same clause within
``scope`` tokens ("no weapons seen", "denies SI/HI", "W/O WEAPONS", "no longer has the
knife") or a post-negation follows it ("weapon not seen", "knife was put away").
Pseudo-negations such as "not sure" do not negate: when in doubt the phrase counts,
because a missed weapon is worse than a call sent to police that a team could have
taken. For violence toward others, a phrase followed by a self-reference ("hit
himself") is self-directed and does not count. A class may also say that a mention
after a history cue ("hx of seizures") is not a present emergency.

Matching is a dictionary lookup per token (phrases are indexed by their first token),
so a narrative costs a few microseconds per word whatever the length of the lists.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?/?|[.;:!?,()]")
_BREAK_PUNCT = frozenset(".;:!?,()")
# words that turn a post-negation around ("was NOT put away", "HASN'T been removed")
_NEGATORS = frozenset(
    ["not", "never", "wasn't", "isn't", "hasn't", "hadn't", "didn't", "won't", "can't", "cannot"]
)

Phrase = tuple[str, ...]


def raw_tokens(text: str) -> list[str]:
    """Lower-case word tokens; a word written with a slash keeps it ("w/", "si/"); a
    possessive loses its 's ("a woman's arm" -> "a woman arm")."""
    tokens = _TOKEN.findall(text.lower().replace("\u2019", "'"))
    if "'s" in text or "\u2019s" in text or "'S" in text:
        return [t[:-2] if t.endswith("'s") else t for t in tokens]
    return tokens


def tokenize(text: str, shorthand: Shorthand | None = None) -> list[str]:
    """Tokens with shorthand rewritten; a stray trailing slash is dropped ("and/" -> "and")."""
    tokens = raw_tokens(text)
    if shorthand is not None and shorthand.table:
        tokens = shorthand.rewrite(tokens)
    if "/" in text:
        return [t[:-1] if t.endswith("/") and len(t) > 1 else t for t in tokens]
    return tokens


def phrase_of(text: str) -> Phrase:
    """A configured phrase as tokens (no shorthand: phrases are written in full words)."""
    return tuple(t[:-1] if t.endswith("/") and len(t) > 1 else t for t in raw_tokens(text))


def _by_first_token(phrases: Iterable[Phrase]) -> dict[str, tuple[Phrase, ...]]:
    index: dict[str, list[Phrase]] = {}
    for p in phrases:
        index.setdefault(p[0], []).append(p)
    return {k: tuple(sorted(set(v), key=len, reverse=True)) for k, v in index.items()}


def _by_last_token(phrases: Iterable[Phrase]) -> dict[str, tuple[Phrase, ...]]:
    index: dict[str, list[Phrase]] = {}
    for p in phrases:
        index.setdefault(p[-1], []).append(p)
    return {k: tuple(sorted(set(v), key=len, reverse=True)) for k, v in index.items()}


def _longest_at(tokens: list[str], i: int, index: Mapping[str, tuple[Phrase, ...]]):
    for phrase in index.get(tokens[i], ()):
        if tuple(tokens[i : i + len(phrase)]) == phrase:
            return phrase
    return None


@dataclass(frozen=True, slots=True)
class Shorthand:
    """CAD shorthand and misspellings -> words, matched on whole tokens, longest first."""

    table: Mapping[Phrase, Phrase]
    index: Mapping[str, tuple[Phrase, ...]] = field(default_factory=dict)

    @classmethod
    def build(cls, table: Mapping[str, str]) -> Shorthand:
        parsed = {
            tuple(raw_tokens(k)): tuple(raw_tokens(v)) for k, v in table.items() if raw_tokens(k)
        }
        return cls(parsed, _by_first_token(parsed))

    def rewrite(self, tokens: list[str]) -> list[str]:
        index = self.index
        hits = [i for i, t in enumerate(tokens) if t in index]  # usually none or a few
        if not hits:
            return tokens
        out: list[str] = []
        done = 0  # tokens before this index are in `out`
        for i in hits:
            if i < done:
                continue  # inside a key already rewritten
            key = _longest_at(tokens, i, index)
            if key is None:
                continue
            out.extend(tokens[done:i])
            out.extend(self.table[key])
            done = i + len(key)
        out.extend(tokens[done:])
        return out


@dataclass(frozen=True, slots=True)
class NegationRules:
    before: tuple[Phrase, ...]
    after: tuple[Phrase, ...]
    pseudo: tuple[Phrase, ...]
    clause_breaks: frozenset[str]  # one-word breaks (and punctuation)
    self_references: frozenset[str]
    scope: int = 5
    history: tuple[Phrase, ...] = ()
    break_phrases: Mapping[str, tuple[Phrase, ...]] = field(default_factory=dict)  # "and then"
    before_by_last: Mapping[str, tuple[Phrase, ...]] = field(default_factory=dict)
    after_by_first: Mapping[str, tuple[Phrase, ...]] = field(default_factory=dict)
    history_by_last: Mapping[str, tuple[Phrase, ...]] = field(default_factory=dict)

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
        history: list[str] | None = None,
    ) -> NegationRules:
        def phrases(items: Iterable[str]) -> tuple[Phrase, ...]:
            return tuple(
                sorted({phrase_of(p) for p in items if phrase_of(p)}, key=len, reverse=True)
            )

        before_p, after_p, history_p = phrases(before), phrases(after), phrases(history or [])
        breaks = phrases(clause_breaks)
        return cls(
            before=before_p,
            after=after_p,
            pseudo=phrases(pseudo),
            clause_breaks=frozenset(b[0] for b in breaks if len(b) == 1) | _BREAK_PUNCT,
            break_phrases=_by_first_token(b for b in breaks if len(b) > 1),
            self_references=frozenset(w.lower() for w in self_references),
            scope=scope,
            history=history_p,
            before_by_last=_by_last_token(before_p),
            after_by_first=_by_first_token(after_p),
            history_by_last=_by_last_token(history_p),
        )


# roles of a phrase inside one class's index
_COUNTS, _NOT, _USE, _OBJECT = "counts", "not", "use", "object"


@dataclass(frozen=True, slots=True)
class UseGroup:
    """Objects that count only when used or held: a use up to ``gap`` words before
    ("swinging a bat", "took a handful of pills") or right after ("bat in his hand")."""

    objects: tuple[Phrase, ...]
    before: tuple[Phrase, ...]
    after: tuple[Phrase, ...]
    gap: int
    away: tuple[Phrase, ...]  # right after the object: not at hand ("a bat in his car")
    object_index: Mapping[str, tuple[Phrase, ...]]
    after_index: Mapping[str, tuple[Phrase, ...]]
    away_index: Mapping[str, tuple[Phrase, ...]]

    @classmethod
    def build(
        cls,
        *,
        objects: Iterable[str],
        before: Iterable[str],
        after: Iterable[str],
        gap: int,
        away: Iterable[str] = (),
    ) -> UseGroup:
        objs, befores, afters = _parsed(objects), _parsed(before), _parsed(after)
        aways = _parsed(away)
        return cls(
            objs,
            befores,
            afters,
            gap,
            aways,
            _by_first_token(objs),
            _by_first_token(afters),
            _by_first_token(aways),
        )


def _parsed(items: Iterable[str]) -> tuple[Phrase, ...]:
    return tuple(sorted({phrase_of(p) for p in items if phrase_of(p)}, key=len, reverse=True))


@dataclass(frozen=True, slots=True)
class PhraseSet:
    """The phrases of one exclusion class (weapon, violence toward others, medical)."""

    kind: str
    phrases: tuple[Phrase, ...]
    self_directed_ok: bool  # True: "hit himself" does not count (violence toward others)
    not_phrases: tuple[Phrase, ...] = ()
    uses: tuple[UseGroup, ...] = ()
    history_counts: bool = True  # False: "hx of seizures" is not a present emergency
    # first token -> (phrase, role, use group or -1), longest first
    index: Mapping[str, tuple[tuple[Phrase, str, int], ...]] = field(default_factory=dict)
    not_index: Mapping[str, tuple[Phrase, ...]] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        kind: str,
        phrases: list[str],
        *,
        self_directed_ok: bool,
        not_phrases: Iterable[str] = (),
        uses: Iterable[UseGroup] = (),
        history_counts: bool = True,
    ) -> PhraseSet:
        counts, nots, groups = _parsed(phrases), _parsed(not_phrases), tuple(uses)
        # what can start a match at a token. A phrase listed twice keeps the strongest
        # role: a not-phrase beats a counting phrase, which beats a use or an object.
        entries: dict[tuple[Phrase, str, int], None] = {}
        strong = set(counts) | set(nots)
        for p in nots:
            entries[(p, _NOT, -1)] = None
        for p in counts:
            if p not in nots:
                entries[(p, _COUNTS, -1)] = None
        for g, group in enumerate(groups):
            for p in group.before:
                if p not in strong:
                    entries[(p, _USE, g)] = None
            for p in group.objects:
                if p not in strong:
                    entries[(p, _OBJECT, g)] = None
        index: dict[str, list[tuple[Phrase, str, int]]] = {}
        for entry in entries:
            index.setdefault(entry[0][0], []).append(entry)
        return cls(
            kind=kind,
            phrases=counts,
            self_directed_ok=self_directed_ok,
            not_phrases=nots,
            uses=groups,
            history_counts=history_counts,
            index={
                k: tuple(sorted(v, key=lambda e: len(e[0]), reverse=True)) for k, v in index.items()
            },
            not_index=_by_first_token(nots),
        )

    def __bool__(self) -> bool:
        return bool(self.phrases or self.uses)


@dataclass(frozen=True, slots=True)
class Mention:
    kind: str
    phrase: str
    counted: bool
    why_not: str = ""  # "negated", "self-directed", "historical"
    start: int = 0  # token span in tokenize(text, shorthand)
    end: int = 0


def find_mentions(
    text: str | None,
    phrase_set: PhraseSet,
    rules: NegationRules,
    *,
    shorthand: Shorthand | None = None,
    tokens: list[str] | None = None,
) -> list[Mention]:
    """Every match of one class in a text, each counted or not (and why not)."""
    if tokens is None:
        if not text:
            return []
        tokens = tokenize(text, shorthand)
    mentions: list[Mention] = []
    index = phrase_set.index
    # only the tokens that can start a match are visited (a few per narrative)
    starts = [i for i, t in enumerate(tokens) if t in index]
    done = 0  # a match ends here: starts before it are inside the match
    for i in starts:
        if i < done:
            continue
        span = _match(tokens, i, index[tokens[i]], phrase_set, rules)
        if span is None:
            continue
        end, role = span
        done = end
        if role == _NOT:
            continue  # another sense of the word ("panic attack"): skip it whole
        phrase = " ".join(tokens[i:end])
        if _negated_before(tokens, i, rules) or _negated_after(tokens, end, rules):
            mentions.append(Mention(phrase_set.kind, phrase, False, "negated", i, end))
        elif not phrase_set.history_counts and _historical(tokens, i, rules):
            mentions.append(Mention(phrase_set.kind, phrase, False, "historical", i, end))
        elif phrase_set.self_directed_ok and _self_directed(tokens, end, rules):
            mentions.append(Mention(phrase_set.kind, phrase, False, "self-directed", i, end))
        else:
            mentions.append(Mention(phrase_set.kind, phrase, True, "", i, end))
    return mentions


def _match(
    tokens: list[str],
    i: int,
    candidates: tuple[tuple[Phrase, str, int], ...],
    ps: PhraseSet,
    rules: NegationRules,
) -> tuple[int, str] | None:
    """(end of the match, role) for the longest phrase at ``i`` that makes a match."""
    for phrase, role, g in candidates:
        end = i + len(phrase)
        if tuple(tokens[i:end]) != phrase:
            continue
        if role in (_COUNTS, _NOT):
            return end, role
        group = ps.uses[g]
        if role == _USE:
            found = _object_after(tokens, end, group, ps, rules)
        else:  # an object alone counts only when a use follows ("bat in his hand")
            found = _use_after(tokens, end, group, rules)
        if found is not None:
            return found, _COUNTS
        # no use or object near: a shorter phrase at this token may still match
    return None


def _object_after(
    tokens: list[str], start: int, group: UseGroup, ps: PhraseSet, rules: NegationRules
) -> int | None:
    """End of an object starting within ``gap`` words after ``start``, in the same clause.
    An object inside a not-phrase is another sense ("holding a bottle of water")."""
    k = start
    last = min(start + group.gap + 1, len(tokens))
    while k < last:
        if _is_break(tokens, k, rules):
            return None
        other = _longest_at(tokens, k, ps.not_index) if tokens[k] in ps.not_index else None
        if other is not None:
            k += len(other)
            continue
        obj = _longest_at(tokens, k, group.object_index)
        if obj is not None:
            end = k + len(obj)
            if end < len(tokens) and _longest_at(tokens, end, group.away_index) is not None:
                return None  # "has a bat in the car": not at hand
            return end
        k += 1
    return None


def _use_after(tokens: list[str], start: int, group: UseGroup, rules: NegationRules) -> int | None:
    """End of a use right after an object ("bat in hand", "hammer raised"), one word slack."""
    for k in (start, start + 1):
        if k >= len(tokens) or _is_break(tokens, k, rules):
            return None
        use = _longest_at(tokens, k, group.after_index)
        if use is not None:
            return k + len(use)
    return None


def _is_break(tokens: list[str], k: int, rules: NegationRules) -> bool:
    """A clause break starts at token ``k`` ("but", ",", "and then")."""
    if tokens[k] in rules.clause_breaks:
        return True
    return (
        tokens[k] in rules.break_phrases and _longest_at(tokens, k, rules.break_phrases) is not None
    )


def _cue_ending_at(
    tokens: list[str], j: int, index: Mapping[str, tuple[Phrase, ...]]
) -> int | None:
    """Start of the longest cue in ``index`` that ends at token ``j``."""
    for cue in index.get(tokens[j], ()):
        start = j - len(cue) + 1
        if start >= 0 and tuple(tokens[start : j + 1]) == cue:
            return start
    return None


def _negated_before(tokens: list[str], start: int, rules: NegationRules) -> bool:
    j = start - 1
    seen = 0
    while j >= 0 and seen < rules.scope:
        if _is_break(tokens, j, rules):
            return False
        cue_start = _cue_ending_at(tokens, j, rules.before_by_last)
        if cue_start is not None:
            # "not sure if armed": a pseudo-negation starting at the cue does not negate
            return not any(tuple(tokens[cue_start : cue_start + len(p)]) == p for p in rules.pseudo)
        j -= 1
        seen += 1
    return False


def _historical(tokens: list[str], start: int, rules: NegationRules) -> bool:
    j = start - 1
    seen = 0
    while j >= 0 and seen < rules.scope:
        if _is_break(tokens, j, rules):
            return False
        if _cue_ending_at(tokens, j, rules.history_by_last) is not None:
            return True
        j -= 1
        seen += 1
    return False


def _negated_after(tokens: list[str], end: int, rules: NegationRules) -> bool:
    # post-negations must follow within two tokens: "weapon was not seen", "knife: denied"
    for offset in range(0, 3):
        k = end + offset
        if k >= len(tokens) or (tokens[k] != ":" and _is_break(tokens, k, rules)):
            return False
        if _longest_at(tokens, k, rules.after_by_first) is not None:
            # "the knife was not put away": a post-negation that is itself negated
            return not (k > 0 and tokens[k - 1] in _NEGATORS)
    return False


def _self_directed(tokens: list[str], end: int, rules: NegationRules) -> bool:
    # "hitting himself", "cut herself with": the next one or two tokens name the caller/subject
    for k in (end, end + 1):
        if k < len(tokens):
            if _is_break(tokens, k, rules):
                return False
            if tokens[k] in rules.self_references:
                return True
    return False

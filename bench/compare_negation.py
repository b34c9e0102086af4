"""Does a maintained clinical-NLP negation component beat HEART's own on the corpus?

    python3 -m venv /tmp/venv-nlp && /tmp/venv-nlp/bin/pip install -e '.[dev]' medspacy negspacy
    PYTHONPATH=src:. /tmp/venv-nlp/bin/python bench/compare_negation.py

Not a dependency of the project (docs/programs.md says why). The comparison swaps only
the *negation* decision: every variant gets the same mentions from HEART's matcher over
the same shorthand-expanded tokens (phrases, objects with their uses, not-phrases), and
the same self-directed rule for violence. What differs is who says a mention is negated
(and, for medical emergencies, past or only feared):

* HEART: the program's own cue lists (docs/program-format.md, [exclusions.negation]);
* medspaCy ConText (default rules): is_negated; is_historical / is_hypothetical for medical;
* negspacy NegEx, termset ``en_clinical``; history from HEART's cues;
* negspacy NegEx with HEART's cue lists loaded as its termset (the algorithm, same words);
* no negation at all (every mention counts), for scale.

Each call is an eligible call in the team's area and hours, so it is kept from the team
and the phone clinician exactly when some mention counts. Printed per class: unsafe
calls kept (recall of the exclusion) and safe calls sent to the team, then precision,
recall and F1 of "exclude", and the time per narrative of the negation step.
"""

from __future__ import annotations

import csv
import time
from collections import defaultdict
from pathlib import Path

from heart.domain.narrative import (
    _historical,
    _negated_after,
    _negated_before,
    _self_directed,
    find_mentions,
    tokenize,
)
from heart.domain.program_file import load_program

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "data" / "narratives.csv"
UNSAFE = ("weapon", "violence", "medical")
SAFE = ("plain", "negated", "trap")


def mentions_of(program, text):
    """(tokens, [(kind, start, end, negated, historical, self_directed)]) from HEART's matcher."""
    ex = program.exclusions
    tokens = tokenize(text, ex.shorthand)
    out = []
    for ps in ex.classes:
        for m in find_mentions(None, ps, ex.negation, tokens=tokens):
            negated = _negated_before(tokens, m.start, ex.negation) or _negated_after(
                tokens, m.end, ex.negation
            )
            historical = _historical(tokens, m.start, ex.negation)
            self_directed = ps.self_directed_ok and _self_directed(tokens, m.end, ex.negation)
            out.append((m.kind, m.start, m.end, negated, historical, self_directed))
    return tokens, out


def counts(kind, negated, historical, self_directed):
    if negated:
        return False
    if kind == "medical" and historical:
        return False
    return not (kind == "violence" and self_directed)


def build_components(program):
    import spacy
    from loguru import logger

    logger.remove()  # PyRuSH logs every token at DEBUG
    import medspacy
    from negspacy.negation import Negex  # noqa: F401  (registers the "negex" factory)
    from negspacy.termsets import termset

    kinds = [k.upper() for k in UNSAFE]
    context = medspacy.load(enable=["medspacy_pyrush", "medspacy_context"])

    def negex_pipeline(patterns):
        nlp = spacy.blank("en")
        nlp.add_pipe("sentencizer")
        nlp.add_pipe("negex", config={"neg_termset": patterns, "ent_types": kinds})
        return nlp

    clinical = negex_pipeline(termset("en_clinical").get_patterns())
    neg = program.exclusions.negation
    ours = termset("en_clinical")
    ours.remove_patterns(ours.get_patterns())
    ours.add_patterns(
        {
            "preceding_negations": [" ".join(p) for p in neg.before],
            "following_negations": [" ".join(p) for p in neg.after],
            "pseudo_negations": [" ".join(p) for p in neg.pseudo],
            "termination": sorted(neg.clause_breaks - set(".;:!?,()")),
        }
    )
    own_cues = negex_pipeline(ours.get_patterns())
    return context, clinical, own_cues


def doc_with(nlp, tokens, found):
    from spacy.tokens import Doc, Span

    doc = Doc(nlp.vocab, words=tokens or ["."])
    spans, taken = [], set()
    for kind, start, end, *_ in found:
        if taken.isdisjoint(range(start, end)):  # spaCy entities may not overlap
            spans.append(Span(doc, start, end, label=kind.upper()))
            taken.update(range(start, end))
    return doc, spans


def run_context(nlp, tokens, found):
    doc, spans = doc_with(nlp, tokens, found)
    for name, proc in nlp.pipeline:
        if name == "medspacy_context":
            doc.ents = spans
        doc = proc(doc)
    by_span = {(e.start, e.end): e for e in doc.ents}
    out = []
    for kind, start, end, _neg, _hist, selfdir in found:
        e = by_span.get((start, end))
        negated = bool(e is not None and e._.is_negated)
        historical = bool(e is not None and (e._.is_historical or e._.is_hypothetical))
        out.append(counts(kind, negated, historical, selfdir))
    return out


def run_negex(nlp, tokens, found):
    doc, spans = doc_with(nlp, tokens, found)
    doc = nlp.get_pipe("sentencizer")(doc)
    doc.ents = spans
    doc = nlp.get_pipe("negex")(doc)
    by_span = {(e.start, e.end): e for e in doc.ents}
    out = []
    for kind, start, end, _neg, hist, selfdir in found:
        e = by_span.get((start, end))
        out.append(counts(kind, bool(e is not None and e._.negex), hist, selfdir))
    return out


def main() -> None:
    program = load_program("durham-heart-2022")
    rows = list(csv.DictReader(CORPUS.open(newline="")))
    context, clinical, own_cues = build_components(program)
    variants = {
        "HEART own negation": lambda t, f: [counts(k, n, h, s) for k, _, _, n, h, s in f],
        "medspaCy ConText": lambda t, f: run_context(context, t, f),
        "negspacy en_clinical": lambda t, f: run_negex(clinical, t, f),
        "negspacy + HEART cues": lambda t, f: run_negex(own_cues, t, f),
        "no negation": lambda t, f: [True for _ in f],
    }
    prepared = [(row, *mentions_of(program, row["narrative"])) for row in rows]
    results = {}
    for name, judge in variants.items():
        per_class = defaultdict(lambda: [0, 0])  # n, excluded
        started = time.perf_counter()
        decisions = [any(judge(tokens, found)) for _, tokens, found in prepared]
        seconds = time.perf_counter() - started
        for (row, _, _), excluded in zip(prepared, decisions, strict=True):
            per_class[(row["split"], row["class"])][0] += 1
            per_class[(row["split"], row["class"])][1] += excluded
        results[name] = (per_class, seconds / len(rows))

    for split in ("tune", "holdout", "all"):
        print(f"\n### {split}\n")
        names = list(variants)
        print("| class | " + " | ".join(names) + " |")
        print("|---|" + "---|" * len(names))
        totals = {}
        for cls in (*UNSAFE, *SAFE):
            cells = []
            for name in names:
                per_class = results[name][0]
                keys = [(s, cls) for s in ("tune", "holdout") if split in (s, "all")]
                n = sum(per_class[k][0] for k in keys)
                excluded = sum(per_class[k][1] for k in keys)
                good = excluded if cls in UNSAFE else n - excluded
                t = totals.setdefault(name, [0, 0, 0, 0])  # unsafe n, tp, safe n, fp
                if cls in UNSAFE:
                    t[0] += n
                    t[1] += excluded
                else:
                    t[2] += n
                    t[3] += excluded
                cells.append(f"{good}/{n}")
            label = f"{cls} ({'kept' if cls in UNSAFE else 'to team'})"
            print(f"| {label} | " + " | ".join(cells) + " |")
        for metric in ("precision", "recall", "F1"):
            cells = []
            for name in names:
                un, tp, _sn, fp = totals[name]
                precision = tp / (tp + fp) if tp + fp else 0.0
                recall = tp / un if un else 0.0
                f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0
                cells.append(f"{ {'precision': precision, 'recall': recall, 'F1': f1}[metric]:.3f}")
            print(f"| exclusion {metric} | " + " | ".join(cells) + " |")
        if split == "all":
            print(
                "| ms per narrative (negation step) | "
                + " | ".join(f"{1000 * results[n][1]:.3f}" for n in names)
                + " |"
            )


if __name__ == "__main__":
    main()

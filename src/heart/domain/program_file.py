"""Reading program TOML files: validated, merged with their bases, hashed.

The file format is documented in docs/program-format.md. Loading checks every key and
reports a mistake as ``<file>: <key path>: <what is wrong>``. A file may extend another
(``[program] extends``): tables merge, the child wins. The loaded
:class:`~heart.domain.program.Program` carries ``rules_version``, a hash of every file
read and of :data:`ENGINE_SEMANTICS`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import tomllib
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from heart.domain.geo import Area, beat_ids_in_layer, load_geojson_geometry, normalise_beat
from heart.domain.narrative import (
    NegationRules,
    PhraseSet,
    Shorthand,
    UseGroup,
    phrase_of,
    raw_tokens,
)
from heart.domain.program import (
    CONDITIONS,
    NO_TEAM_FREE_ACTIONS,
    QUEUE_ORDERS,
    ROUTES,
    UNIT_KINDS,
    Category,
    Exclusions,
    NatureRule,
    NoTeamFreePolicy,
    PriorityRule,
    Program,
    ProgramError,
    RunCardStep,
    Training,
    Unit,
    normalise_nature,
    normalise_priority,
)
from heart.domain.schedule import (
    HolidayCalendar,
    Period,
    describe_windows,
    parse_clock,
    parse_days,
    split_window,
)

# Bump when the meaning of a program file changes without the file changing.
# 2: medical class, call-type text, shorthand, objects and uses, not-phrases, priority rule
ENGINE_SEMANTICS = "heart-triage/2"

BUILTIN_DIR = Path(__file__).resolve().parent.parent / "programs"


def builtin_program_names() -> list[str]:
    return sorted(p.stem for p in BUILTIN_DIR.glob("*.toml"))


def resolve_program_path(name_or_path: str | Path) -> Path:
    text = str(name_or_path)
    candidate = Path(text)
    if candidate.suffix == ".toml" or candidate.exists():
        return candidate
    builtin = BUILTIN_DIR / f"{text}.toml"
    if builtin.exists():
        return builtin
    known = ", ".join(builtin_program_names())
    raise ProgramError(f"{text}: no such program file or built-in program (built-in: {known})")


def load_program(name_or_path: str | Path, *, beat_layer: Path | None = None) -> Program:
    """Load and validate a program; ``beat_layer`` swaps outlines for exact beat polygons."""
    path = resolve_program_path(name_or_path)
    data, sources = _read_with_bases(path, seen=())
    loader = _Loader(path, data, sources, beat_layer)
    return loader.build()


def _read_toml(path: Path) -> tuple[dict[str, Any], bytes]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ProgramError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        return tomllib.loads(raw.decode("utf-8")), raw
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ProgramError(f"{path}: not valid TOML: {exc}") from None


def _read_with_bases(path: Path, seen: tuple[Path, ...]) -> tuple[dict[str, Any], list[bytes]]:
    """A file may say `[program] extends = "other.toml"`: tables merge, the child wins."""
    if path.resolve() in seen:
        raise ProgramError(f"{path}: program.extends: circular (via {[str(p) for p in seen]})")
    data, raw = _read_toml(path)
    meta = data.get("program")
    base_ref = meta.get("extends") if isinstance(meta, dict) else None
    if base_ref is None:
        return data, [raw]
    if not isinstance(base_ref, str):
        raise ProgramError(f"{path}: program.extends: must be a file name, found {base_ref!r}")
    base_path = (path.parent / base_ref).resolve()
    if not base_path.exists():
        raise ProgramError(f"{path}: program.extends: no such file {base_path}")
    base, base_raw = _read_with_bases(base_path, (*seen, path.resolve()))
    merged = _merge(base, data)
    merged["program"].pop("extends", None)
    # the child's own sources add to the base's
    merged["program"]["sources"] = list(base.get("program", {}).get("sources", [])) + list(
        meta.get("sources", [])
    )
    return merged, [*base_raw, raw]


def _merge(base: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in child.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


class _Loader:
    def __init__(
        self, path: Path, data: dict[str, Any], sources: list[bytes], beat_layer: Path | None
    ):
        self.path = path
        self.data = data
        self.hash = hashlib.sha256()
        self.hash.update(ENGINE_SEMANTICS.encode())
        for raw in sources:
            self.hash.update(raw)
        self.beat_layer_override = Path(beat_layer) if beat_layer is not None else None

    # -- helpers -------------------------------------------------------------------------
    def fail(self, key: str, problem: str) -> ProgramError:
        return ProgramError(f"{self.path}: {key}: {problem}")

    def table(self, parent: dict[str, Any], key: str, where: str, *, required=True) -> dict:
        value = parent.get(key)
        if value is None:
            if required:
                raise self.fail(f"{where}{key}", "missing (a table is required)")
            return {}
        if not isinstance(value, dict):
            raise self.fail(f"{where}{key}", f"must be a table, found {type(value).__name__}")
        return value

    def value(self, parent: dict, key: str, where: str, kind: type | tuple, *, default=...):
        if key not in parent:
            if default is ...:
                raise self.fail(f"{where}{key}", "missing")
            return default
        value = parent[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            raise self.fail(f"{where}{key}", f"must be {names}, found {value!r}")
        return value

    def strings(self, parent: dict, key: str, where: str, *, default=...) -> list[str]:
        items = self.value(parent, key, where, list, default=default)
        for i, item in enumerate(items):
            if not isinstance(item, str):
                raise self.fail(f"{where}{key}[{i}]", f"must be a string, found {item!r}")
        return items

    def file(self, ref: str, key: str) -> Path:
        target = (self.path.parent / ref).resolve()
        try:
            self.hash.update(target.read_bytes())
        except OSError as exc:
            raise self.fail(key, f"cannot read {target}: {exc.strerror}") from None
        return target

    def check_unknown(self, table: dict, allowed: set[str], where: str) -> None:
        for key in table:
            if key not in allowed:
                raise self.fail(f"{where}{key}", f"unknown key (expected one of {sorted(allowed)})")

    # -- sections -------------------------------------------------------------------------
    def build(self) -> Program:
        d = self.data
        self.check_unknown(
            d,
            {
                "program",
                "holidays",
                "categories",
                "natures",
                "not_eligible",
                "exclusions",
                "beat_layer",
                "areas",
                "units",
                "run_card",
                "fallback",
                "training",
                "no_team_free",
            },
            "",
        )
        meta = self.table(d, "program", "")
        self.check_unknown(meta, {"name", "title", "timezone", "sources", "extends"}, "program.")
        name = self.value(meta, "name", "program.", str)
        title = self.value(meta, "title", "program.", str, default=name)
        timezone = self.value(meta, "timezone", "program.", str)
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise self.fail("program.timezone", f"unknown time zone {timezone!r}") from None

        holidays_table = self.table(d, "holidays", "", required=False)
        categories = self.categories(self.table(d, "categories", ""))
        natures = self.natures(d.get("natures"), categories)
        not_eligible = self.not_eligible(d.get("not_eligible", []), natures)
        exclusions = self.exclusions(self.table(d, "exclusions", ""))
        areas = self.areas(
            self.table(d, "areas", ""), self.table(d, "beat_layer", "", required=False)
        )
        units = self.units(self.table(d, "units", ""), areas)
        # the calendar is only consulted (and so only checked) when a period closes on holidays
        uses_holidays = any(p.closed_on_holidays for u in units.values() for p in u.periods)
        holidays = self.holidays(holidays_table, check_calendar=uses_holidays)
        run_card = self.run_card(d.get("run_card"), units, categories)
        fallback = self.table(d, "fallback", "", required=False)
        fallback_route = self.value(fallback, "route", "fallback.", str, default="standard")
        if fallback_route not in ROUTES:
            raise self.fail("fallback.route", f"must be one of {ROUTES}")
        sources = tuple(self.strings(meta, "sources", "program.", default=[]))
        trainings = self.trainings(self.table(d, "training", "", required=False), units)
        no_team_free = self.no_team_free(
            self.table(d, "no_team_free", "", required=False), run_card, units
        )
        return Program(
            name=name,
            title=title,
            path=self.path,
            timezone=timezone,
            rules_version=f"{name}@{self.hash.hexdigest()[:12]}",
            categories=categories,
            natures=natures,
            not_eligible=not_eligible,
            exclusions=exclusions,
            areas=areas,
            units=units,
            run_card=run_card,
            fallback_route=fallback_route,
            holidays=holidays,
            sources=sources,
            trainings=trainings,
            no_team_free=no_team_free,
        )

    # -- [no_team_free]: one dispatch policy for live intake and the simulator -----------
    def no_team_free(
        self, t: dict, run_card: tuple[RunCardStep, ...], units: dict[str, Unit]
    ) -> NoTeamFreePolicy:
        w = "no_team_free."
        self.check_unknown(
            t,
            {
                "action",
                "hold_minutes",
                "hold_minutes_by_route",
                "hold_minutes_by_priority",
                "queue",
                "priority_order",
            },
            w,
        )
        action = self.value(t, "action", w, str, default="fall_back")
        if action not in NO_TEAM_FREE_ACTIONS:
            raise self.fail(
                f"{w}action", f"must be one of {NO_TEAM_FREE_ACTIONS}, found {action!r}"
            )

        def minutes(value: Any, key: str) -> float:
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise self.fail(key, f"must be a number of minutes >= 0, found {value!r}")
            if value > 24 * 60:
                raise self.fail(key, f"{value} minutes is more than a day")
            return float(value)

        hold = minutes(t.get("hold_minutes", 0), f"{w}hold_minutes")
        field_routes = {s.route for s in run_card if units[s.unit].kind in ("team", "co_response")}
        by_route = {}
        for route, value in self.table(t, "hold_minutes_by_route", w, required=False).items():
            if route not in field_routes:
                raise self.fail(
                    f"{w}hold_minutes_by_route.{route}",
                    f"not a route served by field teams in the run card ({sorted(field_routes)})",
                )
            by_route[route] = minutes(value, f"{w}hold_minutes_by_route.{route}")
        by_priority = {}
        for prio, value in self.table(t, "hold_minutes_by_priority", w, required=False).items():
            key = normalise_priority(prio)
            if key is None:
                raise self.fail(f"{w}hold_minutes_by_priority", "a priority must not be empty")
            by_priority[key] = minutes(value, f"{w}hold_minutes_by_priority.{prio}")
        queue = self.value(t, "queue", w, str, default="arrival")
        if queue not in QUEUE_ORDERS:
            raise self.fail(f"{w}queue", f"must be one of {QUEUE_ORDERS}, found {queue!r}")
        order_raw = self.value(t, "priority_order", w, list, default=[])
        order: list[str] = []
        for i, item in enumerate(order_raw):
            key = normalise_priority(item)
            if key is None or isinstance(item, bool):
                raise self.fail(f"{w}priority_order[{i}]", f"not a priority: {item!r}")
            if key in order:
                raise self.fail(f"{w}priority_order[{i}]", f"priority {key!r} is listed twice")
            order.append(key)
        if queue == "priority" and not order:
            raise self.fail(
                f"{w}priority_order", 'queue = "priority" needs the priorities, most urgent first'
            )
        if action == "fall_back" and (hold or by_route or by_priority):
            raise self.fail(
                f"{w}action",
                'hold minutes are given but action is "fall_back" (set action = "hold")',
            )
        return NoTeamFreePolicy(
            action=action,
            hold_minutes=hold,
            hold_minutes_by_route=by_route,
            hold_minutes_by_priority=by_priority,
            queue=queue,
            priority_order=tuple(order),
        )

    # -- [training.<key>]: what responders must have current to staff a shift ------------
    def trainings(self, t: dict, units: dict[str, Unit]) -> dict[str, Training]:
        known = sorted({d for u in units.values() for d in u.disciplines})
        out = {}
        for key, body in t.items():
            where = f"training.{key}."
            if not (key.replace("_", "").isalnum() and key.isascii() and len(key) <= 40):
                raise self.fail(
                    f"training.{key}", "a key is letters, digits and _ (at most 40 characters)"
                )
            if not isinstance(body, dict):
                raise self.fail(f"training.{key}", "must be a table")
            self.check_unknown(body, {"label", "renew_every_months", "disciplines"}, where)
            months = self.value(body, "renew_every_months", where, int)
            if not 1 <= months <= 120:
                raise self.fail(f"{where}renew_every_months", "must be between 1 and 120")
            disciplines = self.strings(body, "disciplines", where)
            if not disciplines:
                raise self.fail(f"{where}disciplines", "at least one discipline is required")
            for i, d in enumerate(disciplines):
                if d not in known:
                    raise self.fail(
                        f"{where}disciplines[{i}]",
                        f"unknown discipline {d!r} (the units staff {known})",
                    )
            out[key] = Training(
                key=key,
                label=self.value(body, "label", where, str, default=key.replace("_", " ")),
                renew_every_months=months,
                disciplines=tuple(dict.fromkeys(disciplines)),
            )
        return out

    def holidays(self, t: dict, *, check_calendar: bool) -> HolidayCalendar:
        self.check_unknown(t, {"country", "subdivision", "extra_dates"}, "holidays.")
        country = self.value(t, "country", "holidays.", str, default=None)
        subdivision = self.value(t, "subdivision", "holidays.", str, default=None)
        if country and check_calendar:
            import holidays as holidays_lib

            try:
                holidays_lib.country_holidays(country, subdiv=subdivision, years=2024)
            except NotImplementedError:
                raise self.fail(
                    "holidays.country", f"no holiday calendar for {country!r}/{subdivision!r}"
                ) from None
        extra = self.value(t, "extra_dates", "holidays.", list, default=[])
        for i, day in enumerate(extra):
            if not isinstance(day, dt.date) or isinstance(day, dt.datetime):
                raise self.fail(f"holidays.extra_dates[{i}]", "must be a date like 2024-12-24")
        return HolidayCalendar(country, subdivision, frozenset(extra))

    def categories(self, t: dict) -> dict[str, Category]:
        out = {}
        for key, body in t.items():
            where = f"categories.{key}."
            if not isinstance(body, dict):
                raise self.fail(f"categories.{key}", "must be a table with a label")
            self.check_unknown(body, {"label"}, where)
            out[key] = Category(key, self.value(body, "label", where, str))
        if not out:
            raise self.fail("categories", "at least one category is required")
        return out

    def natures(self, items: Any, categories: dict[str, Category]) -> dict[str, NatureRule]:
        if not isinstance(items, list) or not items:
            raise self.fail("natures", "must be a non-empty array of tables ([[natures]])")
        out: dict[str, NatureRule] = {}
        for i, body in enumerate(items):
            where = f"natures[{i}]."
            if not isinstance(body, dict):
                raise self.fail(f"natures[{i}]", "must be a table")
            self.check_unknown(body, {"code", "category", "why"}, where)
            code = normalise_nature(self.value(body, "code", where, str))
            if code is None:
                raise self.fail(f"{where}code", "must not be empty")
            category = self.value(body, "category", where, str)
            if category not in categories:
                raise self.fail(
                    f"{where}category", f"unknown category {category!r} (see [categories])"
                )
            if code in out:
                raise self.fail(f"{where}code", f"nature {code!r} is listed twice")
            out[code] = NatureRule(code, category, self.value(body, "why", where, str))
        return out

    def not_eligible(self, items: Any, natures: dict[str, NatureRule]) -> dict[str, str]:
        if not isinstance(items, list):
            raise self.fail("not_eligible", "must be an array of tables ([[not_eligible]])")
        out = {}
        for i, body in enumerate(items):
            where = f"not_eligible[{i}]."
            if not isinstance(body, dict):
                raise self.fail(f"not_eligible[{i}]", "must be a table")
            self.check_unknown(body, {"code", "why"}, where)
            code = normalise_nature(self.value(body, "code", where, str))
            if code is None:
                raise self.fail(f"{where}code", "must not be empty")
            if code in natures:
                raise self.fail(f"{where}code", f"nature {code!r} is also listed as eligible")
            out[code] = self.value(body, "why", where, str)
        return out

    def exclusions(self, t: dict) -> Exclusions:
        self.check_unknown(
            t,
            {
                "weapon",
                "violence",
                "medical",
                "negation",
                "shorthand",
                "priority",
                "check_call_type",
            },
            "exclusions.",
        )
        negation = self.table(t, "negation", "exclusions.")
        self.check_unknown(
            negation,
            {"before", "after", "pseudo", "clause_breaks", "self_references", "history", "scope"},
            "exclusions.negation.",
        )
        n = "exclusions.negation."
        scope = self.value(negation, "scope", n, int, default=5)
        if not 1 <= scope <= 12:
            raise self.fail(f"{n}scope", "must be between 1 and 12 tokens")
        weapon = self.table(t, "weapon", "exclusions.")
        violence = self.table(t, "violence", "exclusions.")
        medical = self.table(t, "medical", "exclusions.", required=False)
        return Exclusions(
            weapon_flag_label=self.value(
                weapon, "flag_label", "exclusions.weapon.", str, default="weapon"
            ),
            violence_flag_label=self.value(
                violence, "flag_label", "exclusions.violence.", str, default="violence"
            ),
            weapon=self.phrase_set("weapon", weapon, required=True),
            violence=self.phrase_set("violence", violence, required=True),
            medical=self.phrase_set("medical", medical, required=False),
            negation=NegationRules.build(
                before=self.phrase_list(negation, "before", n),
                after=self.phrase_list(negation, "after", n, default=[]),
                pseudo=self.phrase_list(negation, "pseudo", n, default=[]),
                clause_breaks=self.strings(negation, "clause_breaks", n, default=[]),
                self_references=self.strings(negation, "self_references", n, default=[]),
                history=self.phrase_list(negation, "history", n, default=[]),
                scope=scope,
            ),
            shorthand=self.shorthand(self.table(t, "shorthand", "exclusions.", required=False)),
            check_call_type=self.value(t, "check_call_type", "exclusions.", bool, default=True),
            priority=self.priority_rule(self.table(t, "priority", "exclusions.", required=False)),
        )

    def phrase_list(self, parent: dict, key: str, where: str, *, default=...) -> list[str]:
        """Strings that must each hold at least one word (a phrase of punctuation never matches)."""
        items = self.strings(parent, key, where, default=default)
        for i, item in enumerate(items):
            if not any(token[0].isalnum() for token in phrase_of(item)):
                raise self.fail(f"{where}{key}[{i}]", f"{item!r} has no words to match")
        return items

    def phrase_set(self, kind: str, body: dict, *, required: bool) -> PhraseSet:
        where = f"exclusions.{kind}."
        allowed = {"phrases", "not_phrases", "uses", "history_counts"}
        if kind != "medical":
            allowed.add("flag_label")
        self.check_unknown(body, allowed, where)
        if required and "phrases" not in body:
            raise self.fail(f"{where}phrases", "missing")
        phrases = self.phrase_list(body, "phrases", where, default=[])
        not_phrases = self.phrase_list(body, "not_phrases", where, default=[])
        counting = {phrase_of(p) for p in phrases}
        for i, item in enumerate(not_phrases):
            if phrase_of(item) in counting:
                raise self.fail(
                    f"{where}not_phrases[{i}]",
                    f"{item!r} is also in phrases (a not-phrase is a longer phrase with "
                    "another sense, e.g. 'panic attack')",
                )
        groups = self.value(body, "uses", where, list, default=[])
        uses = [self.use_group(g, f"{where}uses[{i}].") for i, g in enumerate(groups)]
        return PhraseSet.build(
            kind,
            phrases,
            self_directed_ok=kind == "violence",
            not_phrases=not_phrases,
            uses=uses,
            history_counts=self.value(
                body, "history_counts", where, bool, default=kind != "medical"
            ),
        )

    def use_group(self, body: Any, where: str) -> UseGroup:
        if not isinstance(body, dict):
            raise self.fail(where.rstrip("."), "must be a table {objects, before, after, gap}")
        self.check_unknown(body, {"objects", "before", "after", "gap", "away"}, where)
        objects = self.phrase_list(body, "objects", where)
        if not objects:
            raise self.fail(f"{where}objects", "list at least one object")
        before = self.phrase_list(body, "before", where, default=[])
        after = self.phrase_list(body, "after", where, default=[])
        if not (before or after):
            raise self.fail(
                f"{where}before",
                "give the uses that make an object count (before and/or after it)",
            )
        gap = self.value(body, "gap", where, int, default=3)
        if not 0 <= gap <= 6:
            raise self.fail(f"{where}gap", "must be between 0 and 6 words")
        away = self.phrase_list(body, "away", where, default=[])
        return UseGroup.build(objects=objects, before=before, after=after, gap=gap, away=away)

    def shorthand(self, t: dict) -> Shorthand:
        for key, value in t.items():
            where = f"exclusions.shorthand.{key}"
            if not isinstance(value, str):
                raise self.fail(where, f"must be the words it stands for, found {value!r}")
            if not raw_tokens(key):
                raise self.fail(where, "the shorthand has no letters or digits to match")
            if not raw_tokens(value):
                raise self.fail(where, f"{value!r} has no words")
        return Shorthand.build(t)

    def priority_rule(self, t: dict) -> PriorityRule | None:
        if not t:
            return None
        where = "exclusions.priority."
        self.check_unknown(t, {"excluded", "why"}, where)
        excluded = self.strings(t, "excluded", where)
        if not excluded:
            raise self.fail(
                f"{where}excluded", "list at least one priority (or leave the table out)"
            )
        values = set()
        for i, item in enumerate(excluded):
            value = normalise_priority(item)
            if value is None:
                raise self.fail(f"{where}excluded[{i}]", "must not be empty")
            values.add(value)
        why = self.value(t, "why", where, str)
        return PriorityRule(frozenset(values), why)

    def areas(self, t: dict, layer: dict) -> dict[str, Area]:
        layer_path: Path | None = None
        id_property = "CAD"
        if layer:
            self.check_unknown(layer, {"path", "id_property", "attribution"}, "beat_layer.")
            id_property = self.value(layer, "id_property", "beat_layer.", str, default="CAD")
            layer_path = self.file(self.value(layer, "path", "beat_layer.", str), "beat_layer.path")
        if self.beat_layer_override is not None:
            layer_path = self.beat_layer_override.resolve()
            try:
                self.hash.update(layer_path.read_bytes())
            except OSError as exc:
                raise ProgramError(
                    f"{layer_path}: cannot read beat layer: {exc.strerror}"
                ) from None
        layer_beats = None
        if layer_path is not None:
            try:
                layer_beats = beat_ids_in_layer(layer_path, id_property)
            except (ValueError, KeyError) as exc:
                raise ProgramError(f"{layer_path}: not a GeoJSON beat layer: {exc}") from None

        out = {}
        for key, body in t.items():
            where = f"areas.{key}."
            if not isinstance(body, dict):
                raise self.fail(f"areas.{key}", "must be a table")
            self.check_unknown(body, {"label", "beats", "outline", "attribution"}, where)
            label = self.value(body, "label", where, str, default=key)
            beats = frozenset(
                b
                for b in (normalise_beat(x) for x in self.strings(body, "beats", where, default=[]))
                if b
            )
            outline = self.value(body, "outline", where, str, default=None)
            geometry = None
            source = ""
            if layer_path is not None and beats:
                missing = sorted(beats - (layer_beats or frozenset()))
                if missing:
                    raise self.fail(
                        f"{where}beats", f"beats {missing} are not in the beat layer {layer_path}"
                    )
                geometry = load_geojson_geometry(layer_path, id_property=id_property, ids=beats)
                source = str(layer_path)
            elif outline:
                outline_path = self.file(outline, f"{where}outline")
                try:
                    geometry = load_geojson_geometry(outline_path)
                except (ValueError, KeyError, TypeError) as exc:
                    raise self.fail(
                        f"{where}outline", f"not a usable GeoJSON polygon: {exc}"
                    ) from None
                source = outline
            if not beats and geometry is None:
                raise self.fail(f"areas.{key}", "needs beats and/or an outline")
            out[key] = Area(key=key, label=label, beats=beats, geometry=geometry, source=source)
        if not out:
            raise self.fail("areas", "at least one area is required")
        return out

    def units(self, t: dict, areas: dict[str, Area]) -> dict[str, Unit]:
        out = {}
        for key, body in t.items():
            where = f"units.{key}."
            if not isinstance(body, dict):
                raise self.fail(f"units.{key}", "must be a table")
            self.check_unknown(body, {"label", "kind", "disciplines", "periods"}, where)
            kind = self.value(body, "kind", where, str)
            if kind not in UNIT_KINDS:
                raise self.fail(f"{where}kind", f"must be one of {UNIT_KINDS}, found {kind!r}")
            periods_raw = self.value(body, "periods", where, list)
            if not periods_raw:
                raise self.fail(f"{where}periods", "at least one period is required")
            periods = [
                self.period(p, f"{where}periods[{i}].", areas) for i, p in enumerate(periods_raw)
            ]
            periods.sort(key=lambda p: p.start)
            for a, b in zip(periods, periods[1:], strict=False):
                if a.end is None or a.end > b.start:
                    raise self.fail(
                        f"{where}periods",
                        f"periods overlap: one from {a.start} runs past the next from {b.start}"
                        " (give the earlier one an `until` date)",
                    )
            out[key] = Unit(
                key=key,
                label=self.value(body, "label", where, str, default=key),
                kind=kind,
                disciplines=tuple(self.strings(body, "disciplines", where, default=[])),
                periods=tuple(periods),
            )
        return out

    def period(self, body: Any, where: str, areas: dict[str, Area]) -> Period:
        if not isinstance(body, dict):
            raise self.fail(where.rstrip("."), "must be a table")
        self.check_unknown(body, {"from", "until", "area", "hours", "closed_on_holidays"}, where)
        start = body.get("from")
        if not isinstance(start, dt.date) or isinstance(start, dt.datetime):
            raise self.fail(f"{where}from", "must be a date like 2022-06-27")
        end = body.get("until")
        if end is not None and (not isinstance(end, dt.date) or isinstance(end, dt.datetime)):
            raise self.fail(f"{where}until", "must be a date like 2023-10-23")
        if end is not None and end <= start:
            raise self.fail(f"{where}until", f"{end} is not after `from` {start}")
        area = self.value(body, "area", where, str)
        if area not in areas:
            raise self.fail(f"{where}area", f"unknown area {area!r} (defined: {sorted(areas)})")
        hours = self.value(body, "hours", where, list)
        if not hours:
            raise self.fail(f"{where}hours", "at least one window is required")
        windows = []
        for i, h in enumerate(hours):
            hw = f"{where}hours[{i}]."
            if not isinstance(h, dict):
                raise self.fail(hw.rstrip("."), "must be a table {days, start, end}")
            self.check_unknown(h, {"days", "start", "end"}, hw)
            try:
                days = parse_days(self.value(h, "days", hw, str))
            except ValueError as exc:
                raise self.fail(f"{hw}days", str(exc)) from None
            try:
                start_min = parse_clock(self.value(h, "start", hw, str))
                end_min = parse_clock(self.value(h, "end", hw, str))
                windows.extend(split_window(days, start_min, end_min))
            except ValueError as exc:
                raise self.fail(f"{hw}start/end", str(exc)) from None
        closed = self.value(body, "closed_on_holidays", where, bool, default=False)
        return Period(
            start,
            end,
            tuple(windows),
            area,
            closed,
            describe_windows(windows) + (", closed on holidays" if closed else ""),
        )

    def run_card(
        self, items: Any, units: dict[str, Unit], categories: dict
    ) -> tuple[RunCardStep, ...]:
        if not isinstance(items, list) or not items:
            raise self.fail("run_card", "must be a non-empty array of tables ([[run_card]])")
        steps = []
        for i, body in enumerate(items):
            where = f"run_card[{i}]."
            if not isinstance(body, dict):
                raise self.fail(f"run_card[{i}]", "must be a table")
            self.check_unknown(body, {"route", "unit", "when", "categories"}, where)
            route = self.value(body, "route", where, str)
            if route not in ROUTES or route == "standard":
                raise self.fail(f"{where}route", f"must be one of {ROUTES[:-1]}, found {route!r}")
            unit = self.value(body, "unit", where, str)
            if unit not in units:
                raise self.fail(f"{where}unit", f"unknown unit {unit!r} (defined: {sorted(units)})")
            when = self.value(body, "when", where, str, default="no_exclusion")
            if when not in CONDITIONS:
                raise self.fail(f"{where}when", f"must be one of {CONDITIONS}, found {when!r}")
            cats = self.value(body, "categories", where, list, default=None)
            if cats is not None:
                for c in cats:
                    if c not in categories:
                        raise self.fail(f"{where}categories", f"unknown category {c!r}")
                cats = frozenset(cats)
            steps.append(RunCardStep(route, unit, when, cats))
        return tuple(steps)

"""Rule files: which windows of a trace must not overlap, and which need a lock.

A rule set is a TOML file (``docs/RULES.md`` documents every key, with an
example of each). It declares:

- ``[[window]]``: stretches of time in a trace, either each span matching a
  matcher, or the stretch from a ``from`` event to a ``to`` event inside one
  ``within`` span (one audit run, one evacuation), with ``keys`` that tie
  windows together (host, node, instance uuid ...);
- ``[[hazard]]``: two windows that must not overlap when their ``join`` keys
  are equal, with optional ``evidence`` that confirms the damage was done;
- ``[[discipline]]``: a window whose critical steps must run under a named
  lock, checked on every run, overlap or not (lockset, as in Eraser).

This module parses and validates; ``hazards`` evaluates.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from tracer.record.errors import ConfigError
from tracer.record.tomlfiles import builtin_names, read_toml


class RuleError(ConfigError):
    """A rule file is malformed; the message names the file and the rule."""


@dataclass(frozen=True)
class Matcher:
    """Which spans (or marks) an event refers to: name glob, category, attribute conditions."""

    name: str
    cat: str | None = None
    where: tuple[tuple[str, Any], ...] = ()
    edge: str = "start"  # which end of a span is the event: start or end
    kind: str = "span"  # span or mark


@dataclass(frozen=True)
class Window:
    """A kind of window: every span matching ``span``, or ``from`` .. ``to`` within a ``within`` span."""

    id: str
    title: str
    span: Matcher | None = None
    starts: tuple[Matcher, ...] = ()
    ends: tuple[Matcher, ...] = ()
    within: str | None = None
    critical: tuple[Matcher, ...] = ()
    keys: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Evidence:
    """A fact that confirms a hazard did damage: an attribute that lacks, holds or equals a key."""

    id: str
    describe: str
    window: str  # the window (of the hazard's two) in which to look
    at: str  # "from", "to", "group", or "find"
    find: Matcher | None  # with at == "find": a span or mark inside the window's group
    attr: str
    test: str  # lacks, contains, equals
    value: str  # a reference "window.key", or a literal


@dataclass(frozen=True)
class Hazard:
    """Two windows that must not overlap when their ``join`` keys are equal."""

    id: str
    title: str
    windows: tuple[str, str]
    join: tuple[str, ...]
    locks: tuple[str, ...] = ()  # only these locks count as protection (empty: any)
    evidence: tuple[Evidence, ...] = ()
    explain: str = ""
    explain_unconfirmed: str = ""
    explain_serialized: str = ""


@dataclass(frozen=True)
class Discipline:
    """A window whose critical steps must all run while their lane holds ``lock``."""

    id: str
    title: str
    window: str
    lock: str
    explain: str = ""


@dataclass
class RuleSet:
    """Windows, hazards and disciplines of one rule file."""

    name: str
    source: str
    description: str = ""
    skew_ms: float = 5.0
    windows: dict[str, Window] = field(default_factory=dict)
    hazards: list[Hazard] = field(default_factory=list)
    disciplines: list[Discipline] = field(default_factory=list)


def builtin_rule_sets() -> list[str]:
    """Names of the rule sets shipped with racelane."""
    return builtin_names(__package__ or "tracer.analysis", "rulesets")


def load_rules(spec: str) -> RuleSet:
    """Load a built-in rule set by name (``nova``) or a TOML file by path.

    Raises:
        RuleError: naming the file and the rule that is wrong, and how.
    """
    source, data = read_toml(spec, __package__ or "tracer.analysis", "rulesets", "rule set", RuleError)
    return parse_rules(data, source)


def parse_rules(data: dict[str, Any], source: str) -> RuleSet:
    """Validate a parsed TOML document and build the rule set."""
    _only(data, {"ruleset", "window", "hazard", "discipline"}, source)
    head = data.get("ruleset", {})
    _only(head, {"name", "description", "skew_ms"}, f"{source}: [ruleset]")
    rules = RuleSet(
        name=str(head.get("name", os.path.basename(source))),
        source=source,
        description=str(head.get("description", "")),
        skew_ms=_number(head.get("skew_ms", 5.0), f"{source}: [ruleset] skew_ms"),
    )
    for n, item in enumerate(_tables(data, "window", source), start=1):
        window = _window(item, f"{source}: window #{n}")
        if window.id in rules.windows:
            raise RuleError(f"{source}: window {window.id!r} is declared twice")
        rules.windows[window.id] = window
    for n, item in enumerate(_tables(data, "hazard", source), start=1):
        rules.hazards.append(_hazard(item, f"{source}: hazard #{n}", rules.windows))
    for n, item in enumerate(_tables(data, "discipline", source), start=1):
        where = f"{source}: discipline #{n}"
        _only(item, {"id", "title", "window", "lock", "explain"}, where)
        window_id = _required_str(item, "window", where)
        if window_id not in rules.windows:
            raise RuleError(f"{where}: unknown window {window_id!r} (declared: {', '.join(rules.windows) or 'none'})")
        rules.disciplines.append(Discipline(
            id=_required_str(item, "id", where), title=str(item.get("title", item["id"])), window=window_id,
            lock=_required_str(item, "lock", where), explain=str(item.get("explain", "")),
        ))
    if not rules.hazards and not rules.disciplines:
        raise RuleError(f"{source}: declares no [[hazard]] and no [[discipline]]: nothing to check")
    return rules


def _window(item: dict[str, Any], where: str) -> Window:
    _only(item, {"id", "title", "span", "from", "to", "within", "critical", "keys"}, where)
    wid = _required_str(item, "id", where)
    where = f"{where} ({wid})"
    span = item.get("span")
    has_events = "from" in item or "to" in item
    if (span is None) == (not has_events):
        raise RuleError(f"{where}: give either 'span' or both 'from' and 'to'")
    if has_events and not ("from" in item and "to" in item):
        raise RuleError(f"{where}: 'from' and 'to' go together")
    keys = item.get("keys", {})
    if not isinstance(keys, dict) or not all(isinstance(v, str) for v in keys.values()):
        raise RuleError(f"{where}: 'keys' must map key names to references like \"$host\" or \"to.instance_uuid\"")
    for name, ref in keys.items():
        _check_ref(ref, f"{where}: key {name!r}", span is not None)
    within = item.get("within")
    if within is not None and not isinstance(within, str):
        raise RuleError(f"{where}: 'within' must be a span name")
    return Window(
        id=wid,
        title=str(item.get("title", wid)),
        span=_matcher(span, f"{where}: span") if span is not None else None,
        starts=tuple(_matchers(item.get("from"), f"{where}: from", "start")) if has_events else (),
        ends=tuple(_matchers(item.get("to"), f"{where}: to", "end")) if has_events else (),
        within=within,
        critical=tuple(_matchers(item.get("critical", []), f"{where}: critical", "start")),
        keys=tuple(keys.items()),
    )


def _hazard(item: dict[str, Any], where: str, windows: dict[str, Window]) -> Hazard:
    _only(item, {"id", "title", "windows", "join", "locks", "evidence", "explain", "explain_unconfirmed",
                 "explain_serialized"}, where)
    hid = _required_str(item, "id", where)
    where = f"{where} ({hid})"
    pair = item.get("windows")
    if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(w, str) for w in pair)):
        raise RuleError(f"{where}: 'windows' must name exactly two windows")
    for wid in pair:
        if wid not in windows:
            raise RuleError(f"{where}: unknown window {wid!r} (declared: {', '.join(windows) or 'none'})")
    join = item.get("join", [])
    if not (isinstance(join, list) and all(isinstance(k, str) for k in join)):
        raise RuleError(f"{where}: 'join' must be a list of key names")
    for key in join:
        for wid in pair:
            if key not in dict(windows[wid].keys):
                raise RuleError(f"{where}: join key {key!r} is not a key of window {wid!r}")
    evidence = []
    for n, ev in enumerate(item.get("evidence", []), start=1):
        evidence.append(_evidence(ev, f"{where}: evidence #{n}", pair, windows))
    locks = item.get("locks", [])
    if not (isinstance(locks, list) and all(isinstance(k, str) for k in locks)):
        raise RuleError(f"{where}: 'locks' must be a list of lock names")
    return Hazard(
        id=hid, title=str(item.get("title", hid)), windows=(pair[0], pair[1]), join=tuple(join), locks=tuple(locks),
        evidence=tuple(evidence), explain=str(item.get("explain", "")),
        explain_unconfirmed=str(item.get("explain_unconfirmed", "")),
        explain_serialized=str(item.get("explain_serialized", "")),
    )


def _evidence(item: Any, where: str, pair: list[str], windows: dict[str, Window]) -> Evidence:
    if not isinstance(item, dict):
        raise RuleError(f"{where}: must be a table")
    _only(item, {"id", "describe", "window", "at", "find", "attr", "lacks", "contains", "equals"}, where)
    window = _required_str(item, "window", where)
    if window not in pair:
        raise RuleError(f"{where}: window {window!r} is not one of this hazard's windows {pair}")
    at = str(item.get("at", "find" if "find" in item else "group"))
    if at not in ("from", "to", "group", "find"):
        raise RuleError(f"{where}: 'at' must be from, to, group or find, got {at!r}")
    find = _matcher(item["find"], f"{where}: find") if at == "find" else None
    if at == "find" and "find" not in item:
        raise RuleError(f"{where}: at = 'find' needs a 'find' matcher")
    tests = [t for t in ("lacks", "contains", "equals") if t in item]
    if len(tests) != 1:
        raise RuleError(f"{where}: give exactly one of lacks, contains, equals")
    value = str(item[tests[0]])
    if "." in value and value.split(".", 1)[0] in pair:
        wid, key = value.split(".", 1)
        if key not in dict(windows[wid].keys):
            raise RuleError(f"{where}: {value!r} names key {key!r}, which window {wid!r} does not declare")
    return Evidence(
        id=str(item.get("id", f"evidence{where.rsplit('#', 1)[-1]}")), describe=str(item.get("describe", "")),
        window=window, at=at, find=find, attr=_required_str(item, "attr", where), test=tests[0], value=value,
    )


def _matchers(value: Any, where: str, edge: str) -> list[Matcher]:
    items = value if isinstance(value, list) else [value]
    if not items:
        return []
    return [_matcher(v, f"{where}[{i}]" if isinstance(value, list) else where, edge) for i, v in enumerate(items)]


def _matcher(value: Any, where: str, edge: str = "start") -> Matcher:
    if isinstance(value, str):
        return Matcher(name=value, edge=edge)
    if not isinstance(value, dict):
        raise RuleError(f"{where}: expected a span name or a table like {{ name = \"db.Migration.save\" }}")
    _only(value, {"name", "cat", "where", "edge", "kind"}, where)
    cond = value.get("where", {})
    if not isinstance(cond, dict):
        raise RuleError(f"{where}: 'where' must map attribute names to values or tests")
    for attr, test in cond.items():
        if isinstance(test, dict):
            unknown = set(test) - {"contains", "in", "absent", "not"}
            if unknown or len(test) != 1:
                raise RuleError(f"{where}: condition on {attr!r} must be a value or one of "
                                "{ contains = x }, { in = [..] }, { absent = true }, { not = x }")
    edge_value = str(value.get("edge", edge))
    if edge_value not in ("start", "end"):
        raise RuleError(f"{where}: 'edge' must be start or end, got {edge_value!r}")
    kind = str(value.get("kind", "span"))
    if kind not in ("span", "mark"):
        raise RuleError(f"{where}: 'kind' must be span or mark, got {kind!r}")
    return Matcher(name=_required_str(value, "name", where), cat=value.get("cat"), where=tuple(cond.items()),
                   edge=edge_value, kind=kind)


def _check_ref(ref: str, where: str, span_window: bool) -> None:
    if ref.startswith("$"):
        if ref not in ("$host", "$process", "$pid", "$lane"):
            raise RuleError(f"{where}: unknown reference {ref!r} (use $host, $process, $pid or $lane)")
        return
    head, _, attr = ref.partition(".")
    allowed = ("span", "group") if span_window else ("from", "to", "group")
    if head not in allowed or not attr:
        raise RuleError(f"{where}: reference {ref!r} must look like {allowed[0]}.ATTRIBUTE ({', '.join(allowed)}) or $host")


def _tables(data: dict[str, Any], key: str, source: str) -> list[dict[str, Any]]:
    items = data.get(key, [])
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise RuleError(f"{source}: '{key}' must be an array of tables ([[{key}]])")
    return items


def _only(table: Any, allowed: set[str], where: str) -> None:
    if not isinstance(table, dict):
        raise RuleError(f"{where}: expected a table")
    unknown = set(table) - allowed
    if unknown:
        raise RuleError(f"{where}: unknown keys {sorted(unknown)} (allowed: {', '.join(sorted(allowed))})")


def _required_str(table: dict[str, Any], key: str, where: str) -> str:
    value = table.get(key)
    if not isinstance(value, str) or not value:
        raise RuleError(f"{where}: needs a string '{key}'")
    return value


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise RuleError(f"{where}: must be a number >= 0, got {value!r}")
    return float(value)

"""Evaluate rules on a trace: overlapping windows, their classes, and broken lock discipline.

For each ``[[hazard]]`` the two windows' instances are grouped by their join
keys and swept in time order with numpy (``searchsorted`` expansion, no
Python loop per pair). Each overlapping pair is then classified:

- **serialized**: both windows ran every critical step under the same lock, in
  the same process: they cannot really interleave (safe);
- **uncertain**: the windows are on different hosts and overlap by less than the
  clock-skew tolerance;
- **unprotected**: anything else, a real hazard; **confirmed** when the rule's
  evidence (the damage) is also in the trace.

Each ``[[discipline]]`` reports a **potential** hazard for every instance of its
window whose critical steps did not all hold the named lock: a race shows its
overlap only on unlucky runs, a broken lock discipline on every run.

Results are columns (``HazardTable``); ``Analysis.hazard(i)`` builds one
hazard's full description, explanation included, when it is asked for.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .model import Trace
from .rules import Discipline, Evidence, Hazard, RuleSet
from .windows import Context, WindowSet, build

CONFIRMED, UNPROTECTED, POTENTIAL, UNCERTAIN, SERIALIZED = range(5)
CLASS_NAMES = ("confirmed", "unprotected", "potential", "uncertain", "serialized")
FAILING = (CONFIRMED, UNPROTECTED, POTENTIAL)  # classes that make `racelane check` exit 1


@dataclass
class HazardTable:
    """Every hazard found, as columns, ordered by start time."""

    rule: np.ndarray  # int32 index into Analysis.rule_ids
    cls: np.ndarray  # int8 class code (CLASS_NAMES)
    start_ns: np.ndarray  # int64 start of the overlap (or of the window, for potential)
    end_ns: np.ndarray
    a: np.ndarray  # int64 instance index into the rule's first window set
    b: np.ndarray  # int64 into the second (-1 for potential)

    def __len__(self) -> int:
        return len(self.rule)


@dataclass
class Analysis:
    """The result of checking a trace against a rule set."""

    trace: Trace
    rules: RuleSet
    skew_ns: int
    windows: dict[str, WindowSet]
    rule_ids: list[str]
    table: HazardTable
    _ctx: Context = field(repr=False)

    def counts(self) -> dict[str, int]:
        """How many hazards of each class."""
        found = np.bincount(self.table.cls.astype(np.int64), minlength=len(CLASS_NAMES))
        return {name: int(found[i]) for i, name in enumerate(CLASS_NAMES)}

    def failing(self) -> int:
        """Confirmed, unprotected and potential hazards (what fails a check)."""
        return int(np.isin(self.table.cls, FAILING).sum())

    def hazard(self, i: int) -> dict[str, Any]:
        """Describe hazard ``i``: rule, class, times, host, spans involved, explanation."""
        return describe(self, i)

    def hazards(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Describe every hazard (the first ``limit`` when given)."""
        n = len(self.table) if limit is None else min(limit, len(self.table))
        return [describe(self, i) for i in range(n)]


def analyze(trace: Trace, rules: RuleSet, skew_ms: float | None = None) -> Analysis:
    """Find every hazard and potential hazard ``rules`` declare in ``trace``."""
    ctx = Context(trace)
    skew_ns = int((rules.skew_ms if skew_ms is None else skew_ms) * 1_000_000)
    needed = {w for h in rules.hazards for w in h.windows} | {d.window for d in rules.disciplines}
    windows = {wid: build(ctx, rules.windows[wid]) for wid in sorted(needed)}
    rule_ids = [h.id for h in rules.hazards] + [d.id for d in rules.disciplines]
    parts: list[tuple[np.ndarray, ...]] = []
    for index, hazard in enumerate(rules.hazards):
        parts.append(_overlaps(ctx, index, hazard, windows, skew_ns))
    for offset, discipline in enumerate(rules.disciplines):
        parts.append(_discipline(ctx, len(rules.hazards) + offset, discipline, windows[discipline.window]))
    table = _table(parts)
    return Analysis(trace, rules, skew_ns, windows, rule_ids, table, ctx)


# --- overlaps --------------------------------------------------------------------------
def _overlaps(ctx: Context, index: int, hazard: Hazard, windows: dict[str, WindowSet], skew_ns: int) -> tuple[np.ndarray, ...]:
    wa, wb = windows[hazard.windows[0]], windows[hazard.windows[1]]
    same = hazard.windows[0] == hazard.windows[1]
    # Join first on keys that need no attributes (host, process ...), sweep, and only then
    # decode the attribute keys of the windows that actually overlap.
    cheap = [k for k in hazard.join if wa.cheap(k) and wb.cheap(k)]
    costly = [k for k in hazard.join if k not in cheap]
    ka, kb = _join_ids(cheap, wa, wb)
    ai_parts, bj_parts = [], []
    for key in np.intersect1d(np.unique(ka), np.unique(kb)):
        a_idx = np.flatnonzero(ka == key)
        b_idx = np.flatnonzero(kb == key)
        ai, bj = _sweep(wa.start_ns, wa.end_ns, a_idx, wb.start_ns, wb.end_ns, b_idx)
        if same:
            keep = ai < bj
            ai, bj = ai[keep], bj[keep]
        ai_parts.append(ai)
        bj_parts.append(bj)
    ai = np.concatenate(ai_parts) if ai_parts else np.zeros(0, np.int64)
    bj = np.concatenate(bj_parts) if bj_parts else np.zeros(0, np.int64)
    if costly and len(ai):
        keep = np.array([all((va := wa.key(k, a)) is not None and va == wb.key(k, b) for k in costly)
                         for a, b in zip(ai.tolist(), bj.tolist(), strict=True)], dtype=bool)
        ai, bj = ai[keep], bj[keep]
    start = np.maximum(wa.start_ns[ai], wb.start_ns[bj])
    end = np.minimum(wa.end_ns[ai], wb.end_ns[bj])
    cls = np.full(len(ai), UNPROTECTED, np.int8)
    allowed = _lock_filter(ctx, hazard.locks)
    common = (wa.lock_mask[ai] & wb.lock_mask[bj] & allowed) != 0
    same_process = wa.file[ai] == wb.file[bj]
    cls[common & same_process] = SERIALIZED
    cross_host = (wa.host[ai] != wb.host[bj]) & (end - start < skew_ns)
    cls[(cls == UNPROTECTED) & cross_host] = UNCERTAIN
    if hazard.evidence:
        for k in np.flatnonzero(cls == UNPROTECTED):
            if all(_evidence_holds(ctx, hazard, ev, windows, int(ai[k]), int(bj[k])) for ev in hazard.evidence):
                cls[k] = CONFIRMED
    return np.full(len(ai), index, np.int32), cls, start, end, ai, bj


def _sweep(a_start: np.ndarray, a_end: np.ndarray, a_idx: np.ndarray, b_start: np.ndarray, b_end: np.ndarray,
           b_idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All (a, b) with a.start < b.end and b.start < a.end, by sorted searches (no pair loop)."""
    if not len(a_idx) or not len(b_idx):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    b_order = b_idx[np.argsort(b_start[b_idx], kind="stable")]
    bs, be = b_start[b_order], b_end[b_order]
    longest = int((be - bs).max())
    lo = np.searchsorted(bs, a_start[a_idx] - longest, side="left")
    hi = np.searchsorted(bs, a_end[a_idx], side="left")
    counts = np.maximum(hi - lo, 0)
    total = int(counts.sum())
    if not total:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    ai = np.repeat(a_idx, counts)
    offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    pos = np.repeat(lo, counts) + offsets
    keep = be[pos] > a_start[ai]
    return ai[keep].astype(np.int64), b_order[pos[keep]].astype(np.int64)


def _join_ids(keys: list[str], wa: WindowSet, wb: WindowSet) -> tuple[np.ndarray, np.ndarray]:
    """Integer ids of each instance's tuple of (cheap) join keys."""
    if not keys:
        return np.zeros(len(wa), np.int64), np.zeros(len(wb), np.int64)
    if all(dict(w.window.keys)[k] == "$host" for w in (wa, wb) for k in keys):
        return wa.host.copy(), wb.host.copy()
    ids: dict[tuple[Any, ...], int] = {}
    out = []
    for wset in (wa, wb):
        columns = [wset.key_column(k) for k in keys]
        arr = np.empty(len(wset), np.int64)
        for i, values in enumerate(zip(*columns, strict=True)):
            arr[i] = ids.setdefault(values, len(ids))
        out.append(arr)
    return out[0], out[1]


def _lock_filter(ctx: Context, locks: tuple[str, ...]) -> np.int64:
    if not locks:
        return np.int64(-1)
    mask = 0
    for name in locks:
        bit = ctx.lock_bits.get(name)
        if bit is not None:
            mask |= 1 << bit
    return np.int64(mask)


# --- lock discipline ----------------------------------------------------------------------
def _discipline(ctx: Context, index: int, discipline: Discipline, wset: WindowSet) -> tuple[np.ndarray, ...]:
    bit = ctx.lock_bits.get(discipline.lock)
    protected = np.zeros(len(wset), bool) if bit is None else (wset.lock_mask & (1 << bit)) != 0
    rows = np.flatnonzero(~protected)
    return (np.full(len(rows), index, np.int32), np.full(len(rows), POTENTIAL, np.int8), wset.start_ns[rows],
            wset.end_ns[rows], rows.astype(np.int64), np.full(len(rows), -1, np.int64))


def _table(parts: list[tuple[np.ndarray, ...]]) -> HazardTable:
    if not parts:
        z = np.zeros(0, np.int64)
        return HazardTable(z.astype(np.int32), z.astype(np.int8), z, z, z, z)
    cols = [np.concatenate([p[c] for p in parts]) for c in range(6)]
    order = np.lexsort((cols[1], cols[2]))
    return HazardTable(*(c[order] for c in cols))


# --- evidence -----------------------------------------------------------------------------
def _evidence_holds(ctx: Context, hazard: Hazard, ev: Evidence, windows: dict[str, WindowSet], ai: int, bj: int) -> bool:
    return _find_evidence(ctx, hazard, ev, windows, ai, bj) is not None


def _side(hazard: Hazard, windows: dict[str, WindowSet], wid: str, ai: int, bj: int) -> tuple[WindowSet, int]:
    if hazard.windows[0] == wid:
        return windows[wid], ai
    return windows[wid], bj


def _resolve(value: str, hazard: Hazard, windows: dict[str, WindowSet], ai: int, bj: int) -> Any:
    head, _, key = value.partition(".")
    if key and head in hazard.windows:
        wset, i = _side(hazard, windows, head, ai, bj)
        return wset.key(key, i)
    return value


def _find_evidence(ctx: Context, hazard: Hazard, ev: Evidence, windows: dict[str, WindowSet], ai: int,
                   bj: int) -> tuple[int, bool] | None:
    """Return the (row, is_mark) that satisfies ``ev``, or None."""
    wset, i = _side(hazard, windows, ev.window, ai, bj)
    expected = _resolve(ev.value, hazard, windows, ai, bj)
    if ev.at in ("from", "to", "group"):
        row, mark = {"from": (wset.from_row[i], wset.from_mark[i]), "to": (wset.to_row[i], wset.to_mark[i]),
                     "group": (wset.group[i], False)}[ev.at]
        candidates = [(int(row), bool(mark))] if row >= 0 else []
    else:
        assert ev.find is not None
        found = ctx.match(ev.find)
        group = int(wset.group[i])
        if group < 0:
            return None
        owners = ctx.owners(ev.find, ctx.trace.names[int(ctx.trace.spans.name[group])])
        sel = np.flatnonzero(owners == group)
        candidates = [(int(found.row[k]), bool(found.mark[k])) for k in sel]
    for row, mark in candidates:
        value = ctx.attrs(row, mark).get(ev.attr)
        if _test(ev.test, value, expected):
            return row, mark
    return None


def _test(test: str, value: Any, expected: Any) -> bool:
    if test == "equals":
        return bool(value == expected)
    if not isinstance(value, (list, tuple)):
        return test == "lacks" and value is None
    if test == "lacks":
        return expected not in value
    return expected in value


# --- descriptions ---------------------------------------------------------------------------
class _Formatter(string.Formatter):
    """Dotted names walk dicts and objects; anything missing reads as '?'."""

    def get_field(self, field_name: str, args: Any, kwargs: Any) -> Any:
        obj: Any = kwargs
        for part in field_name.split("."):
            obj = obj.get(part, "?") if isinstance(obj, dict) else getattr(obj, part, "?")
            if obj is None:
                obj = "?"
        return obj, field_name


def _ms(ns: int, t0: int) -> str:
    return f"+{(ns - t0) / 1e6:.1f} ms"


@dataclass
class _EventView:
    name: str
    start: str
    end: str
    attrs: dict[str, Any]
    id: int
    row: int
    mark: bool


def _event(analysis: Analysis, row: int, mark: bool) -> _EventView | None:
    if row < 0:
        return None
    trace = analysis.trace
    t0 = trace.t0_ns
    if mark:
        ts = int(trace.marks.ts_ns[row])
        return _EventView(trace.names[int(trace.marks.name[row])], _ms(ts, t0), _ms(ts, t0),
                          analysis._ctx.attrs(row, True), 0, row, True)
    spans = trace.spans
    return _EventView(trace.names[int(spans.name[row])], _ms(int(spans.start_ns[row]), t0), _ms(int(spans.end_ns[row]), t0),
                      analysis._ctx.attrs(row, False), int(spans.span_id[row]), row, False)


def _window_view(analysis: Analysis, wset: WindowSet, i: int) -> dict[str, Any]:
    trace = analysis.trace
    t0 = trace.t0_ns
    lane = int(wset.lane[i])
    view: dict[str, Any] = {
        "id": wset.window.id, "title": wset.window.title, "start": _ms(int(wset.start_ns[i]), t0),
        "end": _ms(int(wset.end_ns[i]), t0), "host": trace.hosts[int(wset.host[i])],
        "lane": f"{trace.hosts[int(wset.host[i])]} · {trace.lanes.label[lane]}",
        "from": _event(analysis, int(wset.from_row[i]), bool(wset.from_mark[i])),
        "to": _event(analysis, int(wset.to_row[i]), bool(wset.to_mark[i])),
        "group": _event(analysis, int(wset.group[i]), False),
        "locks": [name for name, bit in analysis._ctx.lock_bits.items() if int(wset.lock_mask[i]) >> bit & 1],
    }
    for key in wset.key_names:
        view[key] = wset.key(key, i)
    return view


def describe(analysis: Analysis, i: int) -> dict[str, Any]:
    """Everything about hazard ``i``, as plain data (what ``--json`` prints)."""
    table = analysis.table
    rule_index = int(table.rule[i])
    cls = int(table.cls[i])
    rules = analysis.rules
    trace = analysis.trace
    t0 = trace.t0_ns
    if rule_index < len(rules.hazards):
        hazard = rules.hazards[rule_index]
        wa, wb = analysis.windows[hazard.windows[0]], analysis.windows[hazard.windows[1]]
        ai, bj = int(table.a[i]), int(table.b[i])
        va, vb = _window_view(analysis, wa, ai), _window_view(analysis, wb, bj)
        context: dict[str, Any] = {hazard.windows[0]: va, hazard.windows[1]: vb, "A": va, "B": vb,
                                   "overlap": f"{(int(table.end_ns[i]) - int(table.start_ns[i])) / 1e6:.1f} ms",
                                   "lock": ", ".join(hazard.locks) or "any lock"}
        evidence = {}
        for ev in hazard.evidence:
            hit = _find_evidence(analysis._ctx, hazard, ev, analysis.windows, ai, bj)
            evidence[ev.id] = _event(analysis, *hit) if hit is not None else None
        context["evidence"] = evidence
        template = {CONFIRMED: hazard.explain, SERIALIZED: hazard.explain_serialized}.get(cls, "") or (
            hazard.explain_unconfirmed if cls in (UNPROTECTED, UNCERTAIN) else "")
        text = _render(template, context) if template else _generic(cls, va, vb, context)
        involved = [v for v in (va["from"], va["to"], vb["from"], vb["to"]) if v is not None]
        title = hazard.title
        hosts = sorted({va["host"], vb["host"]})
    else:
        discipline = rules.disciplines[rule_index - len(rules.hazards)]
        wset = analysis.windows[discipline.window]
        va = _window_view(analysis, wset, int(table.a[i]))
        context = {discipline.window: va, "A": va, "lock": discipline.lock}
        text = _render(discipline.explain, context) if discipline.explain else (
            f"{va['title']} on {va['lane']} from {va['start']} to {va['end']} ran without {discipline.lock}"
            f" (held: {', '.join(va['locks']) or 'no lock'})")
        involved = [v for v in (va["from"], va["to"]) if v is not None]
        title = discipline.title
        hosts = [va["host"]]
    spans: list[dict[str, Any]] = []
    for v in involved:
        if not v.mark and all(s["row"] != v.row for s in spans):
            spans.append({"id": v.id, "name": v.name, "row": v.row, "start": v.start, "end": v.end})
    return {
        "rule": analysis.rule_ids[rule_index], "title": title, "class": CLASS_NAMES[cls],
        "start_ns": int(table.start_ns[i]), "end_ns": int(table.end_ns[i]),
        "start": _ms(int(table.start_ns[i]), t0), "end": _ms(int(table.end_ns[i]), t0),
        "host": hosts[0] if len(hosts) == 1 else ",".join(hosts), "spans": spans, "explanation": text,
    }


def _render(template: str, context: dict[str, Any]) -> str:
    try:
        return _Formatter().vformat(" ".join(template.split()), (), context)
    except (ValueError, IndexError, KeyError) as err:
        return f"(explanation template error: {err}) {template}"


def _generic(cls: int, va: dict[str, Any], vb: dict[str, Any], context: dict[str, Any]) -> str:
    base = (f"{va['title']} on {va['lane']} ({va['start']} to {va['end']}) overlaps {vb['title']} on {vb['lane']} "
            f"({vb['start']} to {vb['end']}) for {context['overlap']}")
    if cls == SERIALIZED:
        common = sorted(set(va["locks"]) & set(vb["locks"]))
        return f"{base}, but both held {', '.join(common)} at every critical step: serialized"
    if cls == UNCERTAIN:
        return f"{base}, across hosts and within the clock-skew tolerance: uncertain"
    held = f"{va['title']} held {', '.join(va['locks']) or 'no lock'}, {vb['title']} held {', '.join(vb['locks']) or 'no lock'}"
    return f"{base}; {held}"

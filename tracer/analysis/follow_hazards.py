"""Hazards of a growing trace: each reported once, when both of its windows are complete enough to decide.

The rules are evaluated by ``hazards.analyze``, unchanged, on the part of the
live trace they can see: the spans and marks whose names some matcher of the
rule set names, and the lock spans (protection). That part is small (a
service writes many more spans than its rules name), so it is analysed
again whenever a commit added or finished one of its rows; commits of other
spans cost nothing here. Parent links skip the spans left out (they point to
the nearest ancestor kept), which is all ``within`` groups and evidence need:
the names they look for are kept.

A window instance is *complete* when the spans that open, close and group it
have finished: the recorder writes a span when it finishes, and a child
finishes before its parent, so everything inside a finished window was
written with it or before, in the same process (a flush is one write: its
spans, the spans still open, its marks). A hazard is *decided* once its
windows are complete and the follower has looked at the files once more
since (a write read half, at a line's end, could still hide a lock hold or
the evidence of damage); it is then reported once, and never again however
the trace grows. The follower looks again soon (``follow.SETTLE_S``) while
a hazard waits. An overlap with a
window still running is *open*: shown as it stands (its end is the trace's
end), and reported once more when decided.

Hazards are identified across commits by their rule and the spans (file and
span id) or marks that define their windows, never by rows, which move as
the trace grows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .follow_trace import CommitStats, LiveTrace
from .hazards import CLASS_NAMES, FAILING, Analysis, HazardTable, analyze
from .model import MarkTable, SpanTable, Trace
from .rules import Matcher, RuleSet
from .windows import WindowSet

OPEN, DECIDED = "open", "decided"


@dataclass(frozen=True)
class WindowRef:
    """One window of a hazard, by what does not move as the trace grows."""

    window: str  # the rule's window id
    title: str
    segment: int  # the process's stable id (``LiveTrace.file_of`` gives its file index now)
    lane_id: int
    start_ns: int
    end_ns: int
    complete: bool  # the spans that open, close and group it have finished
    running: bool  # its closing span has not finished: it ends at the trace's end, for now


@dataclass
class LiveHazard:
    """A hazard of a followed trace: the analysis' description, and how to find its parts again."""

    key: tuple[Any, ...]
    rule: str
    title: str
    cls: int  # class code (``hazards.CLASS_NAMES``)
    state: str  # OPEN or DECIDED
    start_ns: int
    end_ns: int
    windows: list[WindowRef]
    description: dict[str, Any]  # ``Analysis.hazard`` without span rows (``spans`` carry segment and id)
    found_ns: int = field(default_factory=time.time_ns)  # wall clock when it was seen (open) or decided

    @property
    def class_name(self) -> str:
        """Return the class: confirmed, unprotected, potential, uncertain or serialized."""
        return CLASS_NAMES[self.cls]

    @property
    def failing(self) -> bool:
        """Return whether this hazard fails a check (confirmed, unprotected or potential)."""
        return self.cls in FAILING

    def as_dict(self) -> dict[str, Any]:
        """Return what ``racelane check --json`` prints for a hazard, plus ``state`` and ``found_ns``."""
        out = {k: v for k, v in self.description.items() if k != "spans"}
        out["spans"] = [{k: v for k, v in s.items() if k != "segment"} for s in self.description.get("spans", [])]
        out["state"] = self.state
        out["found_ns"] = self.found_ns
        return out


@dataclass
class HazardChanges:
    """What one update found."""

    decided: list[LiveHazard] = field(default_factory=list)  # newly decided, each reported once
    opened: list[LiveHazard] = field(default_factory=list)  # open overlaps seen for the first time
    open: list[LiveHazard] = field(default_factory=list)  # every open overlap now


class LiveHazards:
    """The hazards of a ``LiveTrace`` under a rule set, updated after each commit; see the module docstring."""

    def __init__(self, live: LiveTrace, rules: RuleSet, skew_ms: float | None = None) -> None:
        self.live = live
        self.rules = rules
        self.skew_ms = skew_ms
        live.watch(LiveTrace.name_matcher(rule_names(rules)))
        self.decided: list[LiveHazard] = []  # in the order they were decided
        self.open: list[LiveHazard] = []
        self._decided: set[tuple[Any, ...]] = set()
        self._opened: set[tuple[Any, ...]] = set()
        self._complete: dict[tuple[Any, ...], int] = {}  # key -> the look after which it was complete
        self.analyses = 0
        self.last_analysis_s = 0.0
        self.last_rows = 0  # spans the last analysis looked at

    @property
    def waiting(self) -> bool:
        """Return whether a complete hazard waits for the next look to be decided (thread-safe to read)."""
        return bool(self._complete)

    def update(self, live: LiveTrace, stats: CommitStats, look: int = 0) -> HazardChanges:
        """Analyse again if the commit touched what the rules see, or a hazard waits; return the changes.

        ``look`` counts the follower's looks whose rows were all merged.
        """
        if not stats.relevant and not self._complete:
            if self.open:
                self.open = [replace(h, end_ns=_open_end(h, live.end_ns)) for h in self.open]
            return HazardChanges(open=self.open)
        started = time.perf_counter()
        trace = live.trace()
        sub, rows, _mark_rows = self._rule_trace(trace)
        analysis = analyze(sub, self.rules, self.skew_ms)
        changes = self._collect(analysis, sub, look)
        self.analyses += 1
        self.last_rows = len(rows)
        self.last_analysis_s = time.perf_counter() - started
        return changes

    # --- the part of the trace the rules see ----------------------------------------------------
    def _rule_trace(self, trace: Trace) -> tuple[Trace, np.ndarray, np.ndarray]:
        """Return the trace of the rows the rules name, parents linked to their nearest kept ancestor."""
        rows, mark_rows = self.live.relevant_rows()
        kept = self.live.relevant_mask()
        spans, marks = trace.spans, trace.marks
        up = _kept_ancestor(spans.parent, kept, spans.parent[rows])
        anchor = _kept_ancestor(spans.parent, kept, marks.span[mark_rows])
        sub_spans = SpanTable(
            start_ns=spans.start_ns[rows], end_ns=spans.end_ns[rows], open=spans.open[rows], name=spans.name[rows],
            cat=spans.cat[rows], lane=spans.lane[rows], depth=np.zeros(len(rows), np.int32),
            sub_row=np.zeros(len(rows), np.int32), parent=_position(rows, up), span_id=spans.span_id[rows],
            file=spans.file[rows], error=spans.error[rows], attrs_ref=spans.attrs_ref[rows],
        )
        sub_marks = MarkTable(
            ts_ns=marks.ts_ns[mark_rows], lane=marks.lane[mark_rows], name=marks.name[mark_rows],
            cat=marks.cat[mark_rows], span=_position(rows, anchor), file=marks.file[mark_rows],
            attrs_ref=marks.attrs_ref[mark_rows],
        )
        erred = np.flatnonzero(sub_spans.error)
        errors = {int(k): e for k in erred.tolist() if (e := trace.error(int(rows[k]))) is not None}
        # t0 and end as in the whole trace: times in descriptions read the same
        sub = Trace(spans=sub_spans, marks=sub_marks, lanes=trace.lanes, files=trace.files, names=trace.names,
                    cats=trace.cats, hosts=trace.hosts, store=trace.store, errors=errors,
                    host_offsets_ns=trace.host_offsets_ns, bounds_ns=(trace.t0_ns, trace.end_ns))
        return sub, rows, mark_rows

    # --- hazards --------------------------------------------------------------------------------
    def _collect(self, analysis: Analysis, sub: Trace, look: int) -> HazardChanges:
        rules, table = self.rules, analysis.table
        changes = HazardChanges()
        complete_before, self._complete = self._complete, {}
        now_open: list[LiveHazard] = []
        for i in range(len(table)):
            rule = int(table.rule[i])
            if rule < len(rules.hazards):
                hazard = rules.hazards[rule]
                sides = [(analysis.windows[hazard.windows[0]], int(table.a[i])),
                         (analysis.windows[hazard.windows[1]], int(table.b[i]))]
                title = hazard.title
            else:
                discipline = rules.disciplines[rule - len(rules.hazards)]
                sides = [(analysis.windows[discipline.window], int(table.a[i]))]
                title = discipline.title
            key = (analysis.rule_ids[rule], *(self._instance(sub, wset, k) for wset, k in sides))
            if key in self._decided:
                continue
            refs = [self._window_ref(sub, wset, k) for wset, k in sides]
            complete = all(ref.complete for ref in refs) and all(self.live.settled(ref.segment) for ref in refs)
            since = complete_before.get(key, look) if complete else -1
            state = DECIDED if complete and look > since else OPEN
            if complete and state == OPEN:
                self._complete[key] = since
            found = LiveHazard(
                key=key, rule=analysis.rule_ids[rule], title=title, cls=int(table.cls[i]), state=state,
                start_ns=int(table.start_ns[i]), end_ns=int(table.end_ns[i]), windows=refs,
                description=self._describe(analysis, i, sub),
            )
            if state == DECIDED:
                self._decided.add(key)
                self.decided.append(found)
                changes.decided.append(found)
            else:
                now_open.append(found)
                if not complete and key not in self._opened:  # a complete one only waits for the next look
                    self._opened.add(key)
                    changes.opened.append(found)
        self.open = now_open
        changes.open = now_open
        return changes

    def _describe(self, analysis: Analysis, i: int, sub: Trace) -> dict[str, Any]:
        described = analysis.hazard(i)
        spans = []
        for s in described.get("spans", []):
            row = int(s.pop("row"))
            spans.append({**s, "segment": self.live.segment_uid(int(sub.spans.file[row]))})
        described["spans"] = spans
        return described

    def _instance(self, sub: Trace, wset: WindowSet, k: int) -> tuple[Any, ...]:
        """Identify window instance ``k`` by the spans (segment, id) and marks that define it."""
        parts: list[Any] = []
        for row, mark in ((wset.from_row[k], wset.from_mark[k]), (wset.to_row[k], wset.to_mark[k]), (wset.group[k], False)):
            row = int(row)
            if row < 0:
                parts.append(None)
            elif mark:
                marks = sub.marks
                parts.append(("mark", self.live.segment_uid(int(marks.file[row])), int(marks.ts_ns[row]),
                              int(sub.lanes.lane_id[int(marks.lane[row])]), sub.names[int(marks.name[row])]))
            else:
                parts.append((self.live.segment_uid(int(sub.spans.file[row])), int(sub.spans.span_id[row])))
        return tuple(parts)

    def _window_ref(self, sub: Trace, wset: WindowSet, k: int) -> WindowRef:
        spans = sub.spans
        complete = True
        for row, mark in ((wset.from_row[k], wset.from_mark[k]), (wset.to_row[k], wset.to_mark[k]), (wset.group[k], False)):
            if row >= 0 and not mark and spans.open[int(row)]:
                complete = False
        to_row = int(wset.to_row[k])
        running = to_row >= 0 and not bool(wset.to_mark[k]) and bool(spans.open[to_row])
        lane = int(wset.lane[k])
        return WindowRef(
            window=wset.window.id, title=wset.window.title, segment=self.live.segment_uid(int(sub.lanes.file[lane])),
            lane_id=int(sub.lanes.lane_id[lane]), start_ns=int(wset.start_ns[k]), end_ns=int(wset.end_ns[k]),
            complete=complete, running=running,
        )


@dataclass
class LiveAnalysis(Analysis):
    """The hazards of a followed trace so far, as an ``Analysis`` of one trace (what a viewer lists and draws).

    Decided hazards come first, in the order they were decided (their
    indices never change as more are found), then the open ones. Each
    hazard's windows are ``windows[id]`` rows ``2i`` and ``2i + 1`` (its
    lanes and times in this trace); open hazards belong to a copy of their
    rule titled "(open: a window is still running)". ``hazard(i)`` is the
    description found when the hazard was seen, its spans' rows those of
    this trace. It holds no reference to the live trace: any thread may read it.
    """

    found: list[LiveHazard] = field(default_factory=list)
    described: list[dict[str, Any]] = field(default_factory=list)

    def hazard(self, i: int) -> dict[str, Any]:
        """Describe hazard ``i`` as ``Analysis.hazard`` does (a copy), with rows of this trace (-1: not in it)."""
        described = dict(self.described[i])
        described["spans"] = [dict(s) for s in described["spans"]]
        return described


def live_analysis(hazards: LiveHazards, trace: Trace) -> LiveAnalysis:
    """Return every hazard found so far (decided, then open) as a ``LiveAnalysis`` of ``trace``.

    ``trace`` is the follower's trace as of its last commit (or a snapshot of it).
    """
    rules, live = hazards.rules, hazards.live
    found = [*hazards.decided, *hazards.open]
    n = len(found)
    n_rules = len(rules.hazards)
    opened = RuleSet(
        name=rules.name, source=rules.source, description=rules.description, skew_ms=rules.skew_ms, windows=rules.windows,
        hazards=[*rules.hazards, *(replace(h, title=f"{h.title} (open: a window is still running)") for h in rules.hazards)],
        disciplines=[*rules.disciplines,
                     *(replace(d, title=f"{d.title} (open: its window is still running)") for d in rules.disciplines)],
    )
    rule_ids = [h.id for h in opened.hazards] + [d.id for d in opened.disciplines]
    index = {rule_id: k for k, rule_id in enumerate(analysis_rule_ids(rules))}
    rule = np.zeros(n, np.int32)
    columns = {wid: (np.full(2 * n, -1, np.int64), np.zeros(2 * n, np.int64), np.zeros(2 * n, np.int64)) for wid in rules.windows}
    end_now = trace.end_ns
    for i, h in enumerate(found):
        k = index[h.rule]
        is_open = h.state == OPEN
        rule[i] = (k + n_rules * is_open) if k < n_rules else (k + n_rules + len(rules.disciplines) * is_open)
        for side, ref in enumerate(h.windows):
            lanes, starts, ends = columns[ref.window]
            lanes[2 * i + side] = live.lane_row(ref.segment, ref.lane_id)
            starts[2 * i + side] = ref.start_ns
            ends[2 * i + side] = max(end_now, ref.start_ns) if ref.running else ref.end_ns
    windows = {wid: _window_set(rules.windows[wid], *columns[wid]) for wid in rules.windows}
    table = HazardTable(
        rule=rule, cls=np.array([h.cls for h in found], np.int8),
        start_ns=np.array([h.start_ns for h in found], np.int64),
        end_ns=np.array([_open_end(h, end_now) if h.state == OPEN else h.end_ns for h in found], np.int64),
        a=np.arange(0, 2 * n, 2, dtype=np.int64), b=np.arange(1, 2 * n, 2, dtype=np.int64),
    )
    described = []
    for h in found:
        d = dict(h.description)
        d["spans"] = [{**{k: v for k, v in s.items() if k != "segment"}, "row": live.span_row(s["segment"], s["id"])}
                      for s in h.description.get("spans", [])]
        if h.state == OPEN:
            d["explanation"] = "Open: a window is still running; so far: " + d["explanation"]
        d["state"] = h.state
        described.append(d)
    return LiveAnalysis(trace=trace, rules=opened, skew_ns=int(rules.skew_ms * 1e6) if hazards.skew_ms is None
                        else int(hazards.skew_ms * 1e6), windows=windows, rule_ids=rule_ids, table=table,
                        _ctx=None, found=found, described=described)  # type: ignore[arg-type]


def analysis_rule_ids(rules: RuleSet) -> list[str]:
    """Return the rule ids in ``Analysis.rule_ids`` order: overlap rules, then lock disciplines."""
    return [h.id for h in rules.hazards] + [d.id for d in rules.disciplines]


def _window_set(window: Any, lanes: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> WindowSet:
    n = len(lanes)
    none = np.full(n, -1, np.int64)
    return WindowSet(window=window, start_ns=starts, end_ns=ends, lane=lanes, file=none, host=none, from_row=none,
                     from_mark=np.zeros(n, bool), to_row=none, to_mark=np.zeros(n, bool), group=none,
                     lock_mask=np.zeros(n, np.int64))


def rule_names(rules: RuleSet) -> set[str]:
    """Return every span and mark name (glob) a rule set's windows, groups and evidence look at."""
    names: set[str] = set()

    def add(matchers: tuple[Matcher, ...] | list[Matcher]) -> None:
        names.update(m.name for m in matchers)

    for window in rules.windows.values():
        if window.span is not None:
            add([window.span])
        add(window.starts)
        add(window.ends)
        add(window.critical)
        if window.within:
            names.add(window.within)
    for hazard in rules.hazards:
        add([ev.find for ev in hazard.evidence if ev.find is not None])
    return names


def _kept_ancestor(parent: np.ndarray, kept: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Return, for each row (-1 none), itself if kept, else its nearest kept ancestor (-1 none)."""
    out = np.asarray(rows, np.int64).copy()
    while True:
        skip = np.flatnonzero((out >= 0) & ~kept[np.maximum(out, 0)])
        if not len(skip):
            return out
        out[skip] = parent[out[skip]]


def _position(kept: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Return where each of ``rows`` (-1 none) is in the sorted ``kept`` rows (-1: not kept)."""
    if not len(kept):
        return np.full(len(rows), -1, np.int64)
    at = np.minimum(np.searchsorted(kept, rows), len(kept) - 1)
    return np.where((rows >= 0) & (kept[at] == rows), at, -1).astype(np.int64)


def _open_end(hazard: LiveHazard, end_ns: int) -> int:
    """Return where an open hazard ends now: windows still running end at the trace's end."""
    if not any(w.running for w in hazard.windows):
        return hazard.end_ns
    return min([end_ns, *(w.end_ns for w in hazard.windows if not w.running)])

"""Where each lane and row sits vertically: host > process > lane, without collapsed groups and hidden lanes.

The layout is in pixels (one y unit is one screen pixel): a host header, a
process header, then each lane with a little padding above (where marks
show) and one ``ROW_H`` row per nesting level. No Qt here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tracer.analysis import Trace

from .plain import one_line
from .rows import RowIndex

HOST_H = 22.0
PROCESS_H = 20.0
ROW_H = 18.0
LANE_PAD = 6.0  # above the first row: marks' heads, and room for hazard bands to show
LANE_GAP = 3.0


@dataclass
class Entry:
    """One line of the lane tree: a host, a process or a lane."""

    kind: str  # "host", "process" or "lane"
    key: tuple[int, ...]  # (host,) / (host, file) / (host, file, lane)
    label: str
    level: int  # indentation
    y: float
    height: float
    lane: int = -1
    collapsed: bool = False
    tip: str = ""


def lane_name(trace: Trace, lane: int) -> str:
    """Return the readable name of ``lane``: ``host2 · periodic update_available_resource``."""
    lanes = trace.lanes
    host = trace.hosts[int(lanes.host[lane])]
    return one_line(f"{host} · {lanes.label[lane] or lanes.name[lane] or f'lane {int(lanes.lane_id[lane])}'}")


class LaneLayout:
    """Vertical positions of lanes and rows for one set of collapsed groups."""

    def __init__(self, trace: Trace, index: RowIndex, collapsed: frozenset[tuple[int, ...]] = frozenset(),
                 hidden: frozenset[int] = frozenset()) -> None:
        lanes = trace.lanes
        n_lanes = len(lanes)
        self.collapsed = collapsed
        self.hidden = hidden
        self.entries: list[Entry] = []
        self.lane_y = np.full(n_lanes, -1.0)
        self.lane_h = np.zeros(n_lanes)
        y = 0.0
        for host_name, all_processes in trace.lane_groups():
            # Hidden lanes leave the tree; so do the processes and hosts left without lanes.
            processes = [(name, [la for la in rows if la not in hidden]) for name, rows in all_processes]
            processes = [(name, rows) for name, rows in processes if rows]
            if not processes:
                continue
            first_lane = processes[0][1][0]
            host_key = (int(lanes.host[first_lane]),)
            host_closed = host_key in collapsed
            count = sum(len(rows) for _, rows in processes)
            flat = len(processes) == 1 and not processes[0][0]  # lanes without a process level (a pivot)
            tip = (f"{host_name}: {count} lanes" if flat
                   else f"host {host_name}: {len(processes)} processes, {count} lanes")
            self.entries.append(Entry("host", host_key, one_line(host_name), 0, y, HOST_H, collapsed=host_closed, tip=tip))
            y += HOST_H
            if host_closed:
                continue
            for process_name, lane_rows in processes:
                proc_key = (*host_key, int(lanes.file[lane_rows[0]]))
                closed = proc_key in collapsed and not flat
                if not flat:
                    self.entries.append(Entry("process", proc_key, one_line(process_name), 1, y, PROCESS_H,
                                              collapsed=closed, tip=f"{host_name} · {process_name}: {len(lane_rows)} lanes"))
                    y += PROCESS_H
                if closed:
                    continue
                for lane in lane_rows:
                    height = LANE_PAD + ROW_H * int(index.lane_rows[lane]) + LANE_GAP
                    self.lane_y[lane] = y
                    self.lane_h[lane] = height
                    label = lane_name(trace, lane)
                    if flat:  # the group says which attribute: the lane shows the value alone
                        tip = f"{label}\n{lanes.kind[lane]}"
                        label = one_line(lanes.label[lane])
                    else:
                        tip = (f"{lane_name(trace, lane)}\n{lanes.kind[lane]} {lanes.name[lane]!r} (lane {int(lanes.lane_id[lane])})"
                               f"\n{process_name} on {host_name}")
                    self.entries.append(Entry("lane", (*proc_key, lane), label, 1 if flat else 2, y, height,
                                              lane=lane, tip=tip))
                    y += height
        self.height = y
        shown = self.lane_y[index.row_lane] >= 0 if index.n_rows else np.zeros(0, bool)
        self.row_y = np.where(shown, self.lane_y[index.row_lane] + LANE_PAD + ROW_H * index.row_local, np.nan)
        self._shown_rows = np.flatnonzero(shown)
        self._entry_y = np.array([e.y for e in self.entries])

    def host_top(self, y: float) -> float:
        """Return the y of the host header of the lane at ``y`` (``y`` itself above every header)."""
        tops = [e.y for e in self.entries if e.kind == "host" and e.y <= y]
        return tops[-1] if tops else y

    def rows_between(self, y_lo: float, y_hi: float) -> np.ndarray:
        """Return the ids of shown rows that reach into ``[y_lo, y_hi]``, ascending."""
        ys = self.row_y[self._shown_rows]
        keep = (ys + ROW_H > y_lo) & (ys < y_hi)
        return self._shown_rows[keep]

    def row_at(self, y: float) -> int:
        """Return the row id drawn at ``y``, or -1."""
        ys = self.row_y[self._shown_rows]
        k = int(np.searchsorted(ys, y, side="right")) - 1
        if k < 0 or y >= ys[k] + ROW_H:
            return -1
        return int(self._shown_rows[k])

    def entry_at(self, y: float) -> Entry | None:
        """Return the tree entry (host, process or lane) at ``y``, or None."""
        k = int(np.searchsorted(self._entry_y, y, side="right")) - 1
        if k < 0 or y >= self.entries[k].y + self.entries[k].height:
            return None
        return self.entries[k]

    def entries_between(self, y_lo: float, y_hi: float) -> list[Entry]:
        """Return the tree entries that reach into ``[y_lo, y_hi]``, top to bottom."""
        a = max(0, int(np.searchsorted(self._entry_y, y_lo, side="right")) - 1)
        b = int(np.searchsorted(self._entry_y, y_hi, side="right"))
        return [e for e in self.entries[a:b] if e.y + e.height >= y_lo]

    def lane_names(self) -> list[str]:
        """Return the names of the lanes shown, top to bottom."""
        return [e.label for e in self.entries if e.kind == "lane"]

"""The window's file handling in Qt: background tasks with progress and Cancel, notices, recent files.

- ``TaskRunner`` starts ``gui.loading`` jobs in their threads and calls back
  on the UI thread when they end; while one runs, its ``ProgressBox`` in the
  status bar shows bytes read out of the total (or the phase) with a Cancel
  button. Progress is polled from the task (a timer, 20 times a second), so
  the worker never waits on the UI; the end arrives through a queued signal.
- ``NoticeBar`` is a strip above the content saying what the user should
  know about what was opened: files left out and why, malformed lines
  skipped, offsets of hosts the trace does not have. Plain text only.
- ``RecentMenu`` lists the recently opened sets of files (``gui.settings``).
- ``FileActions`` binds them to the window: File > Open, Add, Open recent,
  Reload; drops; View > Clock offsets; the hazard analysis after each load.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

from .axes import LANE_AXIS_WIDTH
from .loading import Cancelled, Loaded, LoadRequest, Task, check_rules, describe_error, read_traces, shift_hosts
from .offsets import OffsetsDialog
from .plain import format_duration, one_line, tooltip
from .settings import Settings
from .theme import LIGHT, Theme

POLL_MS = 50


def _megabytes(n: int) -> str:
    return f"{n / 1e6:,.0f} MB" if n >= 10e6 else f"{n / 1e6:,.1f} MB"


class ProgressBox(QtWidgets.QWidget):
    """A label, a progress bar and a Cancel button, for the status bar."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QtWidgets.QLabel()
        self.label.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        self.bar = QtWidgets.QProgressBar()
        self.bar.setFixedWidth(220)
        self.bar.setMaximumHeight(16)
        self.bar.setTextVisible(True)
        self.cancel = QtWidgets.QToolButton()
        self.cancel.setText("Cancel")
        self.cancel.setToolTip("Stop loading; what is shown stays")
        box = QtWidgets.QHBoxLayout(self)
        box.setContentsMargins(0, 0, 4, 0)
        box.setSpacing(6)
        box.addWidget(self.label)
        box.addWidget(self.bar)
        box.addWidget(self.cancel)
        self.hide()

    def show_task(self, what: str, task: Task) -> None:
        """Show the state of ``task`` (``what``: the files it reads)."""
        if task.phase == "reading" and task.total_bytes > 0:
            self.bar.setRange(0, 1000)
            self.bar.setValue(round(1000 * min(task.done_bytes, task.total_bytes) / task.total_bytes))
            self.bar.setFormat(f"{_megabytes(task.done_bytes)} of {_megabytes(task.total_bytes)}")
        else:
            self.bar.setRange(0, 0)  # busy: the phase has no measure of progress
            self.bar.setFormat("")
        self.label.setText(f"{task.phase.capitalize()} {what}…" if what else f"{task.phase.capitalize()}…")
        self.show()


class TaskRunner(QtCore.QObject):
    """Run ``gui.loading`` jobs one at a time per kind; see the module docstring.

    Starting a job of a kind that is already running cancels the older one
    (its result is dropped). ``busy`` tells whether any job runs.
    """

    _ended = QtCore.Signal(object)

    def __init__(self, progress: ProgressBox, parent: QtCore.QObject | None = None) -> None:
        super().__init__(parent)
        self.progress = progress
        self.tasks: dict[str, tuple[Task, str, Callable[[Any], None], Callable[[BaseException], None]]] = {}
        self._timer = QtCore.QTimer(self, interval=POLL_MS)
        self._timer.timeout.connect(self._poll)
        self._ended.connect(self._end, QtCore.Qt.ConnectionType.QueuedConnection)

    def start(self, kind: str, task: Task, what: str, on_done: Callable[[Any], None],
              on_error: Callable[[BaseException], None], *, show_progress: bool = True) -> Task:
        """Run ``task``; call ``on_done(result)`` or ``on_error(exception)`` on the UI thread (not when cancelled)."""
        self.cancel(kind)
        self.tasks[kind] = (task, what if show_progress else "", on_done, on_error)
        task.future.add_done_callback(lambda _f, t=task: self._emit_ended(t))
        task.start()
        if show_progress:
            self._timer.start()
            self._poll()
        return task

    def _emit_ended(self, task: Task) -> None:
        try:
            self._ended.emit(task)  # from the worker thread: queued to the UI thread
        except RuntimeError:
            pass  # the window is gone

    def cancel(self, kind: str) -> bool:
        """Cancel the running job of ``kind``; return whether there was one."""
        entry = self.tasks.pop(kind, None)
        if entry is None:
            return False
        entry[0].cancel()
        self._poll()
        return True

    def cancel_all(self) -> None:
        """Cancel every job (the window closes)."""
        for kind in list(self.tasks):
            self.cancel(kind)

    @property
    def busy(self) -> bool:
        """Whether a job runs."""
        return bool(self.tasks)

    def running(self, kind: str) -> Task | None:
        """Return the running task of ``kind``, or None."""
        entry = self.tasks.get(kind)
        return entry[0] if entry else None

    def _poll(self) -> None:
        shown = [(task, what) for task, what, _, _ in self.tasks.values() if what]
        if not shown:
            self._timer.stop()
            self.progress.hide()
            return
        task, what = shown[0]
        self.progress.show_task(what, task)

    def _end(self, task: Task) -> None:
        kind = next((k for k, (t, *_rest) in self.tasks.items() if t is task), None)
        if kind is None:
            return  # cancelled or replaced: its result is not wanted
        _, _, on_done, on_error = self.tasks.pop(kind)
        self._poll()
        err = task.future.exception()
        if isinstance(err, Cancelled):
            return
        if err is not None:
            on_error(err)
        else:
            on_done(task.future.result())


class _NoticeText(QtWidgets.QLabel):
    """One line per notice, cut at the window's edge (the tooltip has them whole).

    Its size hint asks for height only: a long path must not widen the
    window or push the text into the tool bar's overflow menu, and word wrap
    in a tool bar leaves it too tall.
    """

    def sizeHint(self) -> QtCore.QSize:
        lines = max(1, self.text().count("\n") + 1)
        margins = self.contentsMargins()
        return QtCore.QSize(120, lines * self.fontMetrics().lineSpacing() + margins.top() + margins.bottom())

    def minimumSizeHint(self) -> QtCore.QSize:
        return self.sizeHint()


class NoticeBar(QtWidgets.QToolBar):
    """A dismissable strip of plain-text notices above the content (hidden when there are none)."""

    def __init__(self, parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__("Notices", parent)
        self.setObjectName("notices")
        self.setMovable(False)
        self.setFloatable(False)
        self.toggleViewAction().setVisible(False)
        self.text = _NoticeText()
        self.text.setTextFormat(QtCore.Qt.TextFormat.PlainText)
        self.text.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Preferred)
        self.text.setContentsMargins(8, 3, 8, 3)
        self.addWidget(self.text)
        close = self.addAction("✕")
        close.setToolTip("Dismiss")
        close.triggered.connect(self.clear)
        self.lines: list[str] = []
        self.set_theme(LIGHT)
        self.hide()

    def set_theme(self, theme: Theme) -> None:
        """Colour the strip for ``theme``."""
        bg = "rgb({},{},{})".format(*theme.notice)
        fg = "rgb({},{},{})".format(*theme.text)
        self.setStyleSheet(f"QToolBar#notices {{ background: {bg}; border: none; }} QLabel {{ color: {fg}; }}")

    def show_notices(self, lines: list[str]) -> None:
        """Show ``lines`` (untrusted text: each cut to one line), or hide the bar when empty."""
        self.lines = [one_line(line, 400) for line in lines if line]
        if not self.lines:
            self.clear()
            return
        shown = self.lines[:4]
        more = len(self.lines) - len(shown)
        self.text.setText("\n".join(shown) + (f"\n… and {more} more" if more > 0 else ""))
        self.text.setToolTip(tooltip("\n".join(self.lines[:50])))
        self.show()

    def clear(self) -> None:
        """Hide the bar."""
        self.lines = []
        self.text.setText("")
        self.hide()


def load_notes(notes: list[str], report: Any) -> list[str]:
    """Return the notices of a load: the job's notes, then the malformed lines skipped (first one quoted)."""
    lines = list(notes)
    skipped = int(getattr(report, "skipped_lines", 0)) + int(getattr(report, "skipped_rows", 0))
    problems = list(getattr(report, "problems", []))
    if skipped and problems:
        rest = f" (and {skipped - 1} more; hover the counts in the status bar)" if skipped > 1 else ""
        lines.append(f"skipped {skipped} malformed line(s) or row(s): {problems[0]}{rest}")
    return lines


def describe_paths(paths: list[str] | tuple[str, ...], limit: int = 3) -> str:
    """Return a short name for a set of files: ``a.jsonl, b.jsonl + 3 more``."""
    names = [os.path.basename(p.rstrip(os.sep)) or p for p in paths]
    text = ", ".join(names[:limit]) + (f" + {len(names) - limit} more" if len(names) > limit else "")
    return one_line(text, 160)


class RecentMenu(QtWidgets.QMenu):
    """File > Open recent: one entry per set of files opened together, newest first."""

    def __init__(self, settings: Settings, open_paths: Callable[[list[str]], None],
                 parent: QtWidgets.QWidget | None = None) -> None:
        super().__init__("Open &recent", parent)
        self.settings = settings
        self.open_paths = open_paths
        self.aboutToShow.connect(self.rebuild)
        self.rebuild()

    def rebuild(self) -> None:
        """List the recent files as they are stored now."""
        self.clear()
        entries = self.settings.recent()
        for n, entry in enumerate(entries, start=1):
            label = describe_paths(entry).replace("&", "&&")
            action = self.addAction(f"&{n % 10} {label}" if n <= 10 else label)
            missing = [p for p in entry if not os.path.exists(p)]
            action.setToolTip("\n".join(entry) + (f"\n(missing: {len(missing)})" if missing else ""))
            action.setStatusTip(one_line(" ".join(entry), 300))
            action.triggered.connect(lambda _=False, e=entry: self.open_paths(list(e)))
        if not entries:
            empty = self.addAction("No recent files")
            empty.setEnabled(False)
        self.addSeparator()
        clear = self.addAction("Clear recent files")
        clear.setEnabled(bool(entries))
        clear.triggered.connect(self._clear)
        self.setToolTipsVisible(True)

    def _clear(self) -> None:
        self.settings.clear_recent()
        self.rebuild()


def dropped_paths(mime: QtCore.QMimeData) -> list[str]:
    """Return the local files and directories of a drag (empty when it carries none)."""
    if not mime.hasUrls():
        return []
    return [url.toLocalFile() for url in mime.urls() if url.isLocalFile() and url.toLocalFile()]


def elapsed_text(task: Task) -> str:
    """Return how long ``task`` has run, for status messages."""
    return format_duration((time.monotonic() - task.started_s) * 1e9)


class FileActions(QtCore.QObject):
    """File > Open, Add, Open recent, Reload; drops; clock offsets; the background jobs behind them.

    The window shows what this hands it (``show_data``, ``show_message``,
    ``show_hazards``); while a job runs, what is shown stays shown and
    interactive. Cancelling a load keeps it; a load that fails keeps it too
    and says why in the notice bar (or in the window when nothing is shown).
    """

    def __init__(self, window: Any, settings: Settings, rules: Any = "nova") -> None:
        super().__init__(window)
        self.window = window
        self.settings = settings
        self.rules = rules
        self.request: LoadRequest | None = None
        self.progress = ProgressBox()
        window.statusBar().insertPermanentWidget(0, self.progress)
        self.runner = TaskRunner(self.progress, self)
        self.progress.cancel.clicked.connect(self.cancel)
        self.notices = NoticeBar(window)
        window.addToolBar(QtCore.Qt.ToolBarArea.TopToolBarArea, self.notices)
        self.open_action = QtGui.QAction("&Open traces…", window)
        self.open_action.setShortcut(QtGui.QKeySequence.StandardKey.Open)
        self.open_action.setStatusTip("Open trace files (several files merge: one process per file, any hosts)")
        self.open_action.triggered.connect(lambda: self.open_dialog(add=False))
        self.add_action = QtGui.QAction("&Add traces…", window)
        self.add_action.setShortcut(QtGui.QKeySequence("Ctrl+Shift+O"))
        self.add_action.setStatusTip("Merge more trace files into the ones shown")
        self.add_action.triggered.connect(lambda: self.open_dialog(add=True))
        self.reload_action = QtGui.QAction("&Reload", window)
        self.reload_action.setShortcuts([QtGui.QKeySequence("F5"), QtGui.QKeySequence.StandardKey.Refresh])
        self.reload_action.setStatusTip("Read the files again, keeping the clock offsets and the visible range")
        self.reload_action.triggered.connect(self.reload)
        self.reload_action.setEnabled(False)
        self.recent = RecentMenu(settings, lambda paths: self.open_paths(paths), window)

    def install(self, menu: QtWidgets.QMenu) -> None:
        """Add the actions to the File menu ``menu``."""
        menu.addAction(self.open_action)
        menu.addAction(self.add_action)
        menu.addMenu(self.recent)
        menu.addAction(self.reload_action)

    # --- opening ----------------------------------------------------------------------------------
    def open_dialog(self, add: bool = False) -> None:
        """Ask for trace files (several may be picked) and open them, or add them to those shown."""
        paths, _ = QtWidgets.QFileDialog.getOpenFileNames(
            self.window, "Add traces" if add else "Open traces", self.settings.last_directory(),
            "Traces (*.jsonl *.json);;racelane traces (*.jsonl);;Chrome or OTLP JSON (*.json);;All files (*)")
        if paths:
            self.settings.set_last_directory(os.path.dirname(paths[0]))
            self.open_paths(paths, add=add)

    def open_paths(self, paths: list[str], *, add: bool = False, background: bool = True) -> None:
        """Open trace files and directories (merged into one trace); with ``add``, with those shown.

        Offsets set for hosts that are still there are kept when adding.
        Without ``background`` the files are read before this returns.
        """
        paths = [os.fspath(p) for p in paths]
        offsets: dict[str, int] = {}
        if add and self.request is not None:
            paths = list(dict.fromkeys([*self.request.paths, *paths]))
            offsets = dict(self._current_offsets())
        self.load_request(LoadRequest(tuple(paths), offsets, self.request.strict if self.request else False), background,
                          keep_range=False, remember=True)

    def reload(self, background: bool = True) -> None:
        """Read the open files again, with the same offsets; keep the visible range when it is still in the trace."""
        if self.request is None:
            return
        request = self.request.with_offsets(self._current_offsets())
        self.load_request(request, background, keep_range=True, remember=False)

    def _view_width(self) -> int:
        """Return how wide the timeline's lanes are (or will be, when no trace is shown yet), in px."""
        timeline = self.window.timeline
        if timeline is not None:
            return max(1, int(timeline.vb.width()))
        return max(200, self.window.width() - LANE_AXIS_WIDTH - 2)

    def _current_offsets(self) -> dict[str, int]:
        data = self.window.data
        if data is None:
            return dict(self.request.offsets_ns) if self.request else {}
        root = getattr(data, "root", data)
        return {h: ns for h, ns in root.trace.host_offsets_ns.items() if ns}

    def load_request(self, request: LoadRequest, background: bool = True, *, keep_range: bool = False,
                     remember: bool = True) -> None:
        """Load ``request`` (files, offsets) and show it; see ``open_paths``."""
        if not request.view_width_px:
            request = dataclasses.replace(request, view_width_px=self._view_width())
        keep = self._absolute_range() if keep_range else None
        what = describe_paths(request.paths)
        task = Task(lambda t: read_traces(request, t), "load")

        def done(loaded: Loaded) -> None:
            self._show_loaded(loaded, keep, remember, task)

        def failed(err: BaseException) -> None:
            self._failed(request, err)

        if not background:
            try:
                done(task.job(task))
            except Exception as err:  # a load error of any kind is shown, never raised into Qt
                failed(err)
            return
        if self.window.data is None:
            self.window.show_message(f"Loading {what}…")
            self.window.statusBar().clearMessage()  # the progress box says it
        self.runner.start("load", task, what, done, failed)

    def cancel(self) -> bool:
        """Cancel the running load, if any; what is shown stays. Return whether one was running."""
        cancelled = self.runner.cancel("load") | self.runner.cancel("shift")
        if cancelled:
            self.window.statusBar().showMessage("Loading cancelled", 6000)
            if self.window.data is None:
                self.window.show_message("Loading cancelled. Use File > Open, or drop trace files here.")
        return cancelled

    def _show_loaded(self, loaded: Loaded, keep: tuple[int, float, float] | None, remember: bool, task: Task) -> None:
        self.request = loaded.request
        self.reload_action.setEnabled(True)
        data = loaded.data
        self.window.show_data(data)
        if keep is not None:
            self._restore_range(keep)
        self.notices.show_notices(load_notes(loaded.notes, data.report))
        if remember:
            self.settings.add_recent(loaded.request.paths)
        took = f" in {elapsed_text(task)}" if task.started_s else ""
        self.window.statusBar().showMessage(
            f"Loaded {len(data.trace.spans):,} spans from {describe_paths(loaded.request.paths)}{took}", 8000)
        background = bool(task.started_s)
        self.window.first_frame(lambda: self.analyse(data, background), wait=background)

    def _failed(self, request: LoadRequest, err: BaseException) -> None:
        message = f"Could not open {describe_paths(request.paths)}:\n{describe_error(err)}"
        if self.window.data is None:
            self.window.show_message(message, True)
        else:
            self.notices.show_notices([one_line(message.replace(":\n", ": "), 400), "The trace shown before stays open."])
        self.window.statusBar().showMessage(one_line(message, 200), 10000)

    # --- analysis ------------------------------------------------------------------------------------
    def analyse(self, data: Any, background: bool = True) -> None:
        """Run the hazard analysis of ``data`` (shown in the window) and show the hazards when it is done."""
        if data.analysis is not None:
            self.window.show_hazards()
            return
        task = Task(lambda t: check_rules(data, self.rules, t), "analysis")

        def done(result: tuple[Any, str]) -> None:
            if self.window.data is not data:
                return  # another trace replaced it meanwhile
            data.set_analysis(*result)
            self.window.show_hazards()

        def failed(err: BaseException) -> None:
            self.notices.show_notices([f"The rules could not be checked: {describe_error(err)}"])

        if background:
            self.runner.start("analysis", task, "", done, failed, show_progress=False)
            return
        try:
            done(task.job(task))
        except Exception as err:
            failed(err)

    # --- rule sets -------------------------------------------------------------------------------
    def rules_label(self) -> str:
        """Return how the rule set in use is named in the Rules menu (a built-in name or a file path)."""
        return self.rules if isinstance(self.rules, str) else str(getattr(self.rules, "source", "") or self.rules.name)

    def install_rules_menu(self, menu: QtWidgets.QMenu) -> None:
        """Fill the Rules menu each time it opens: the built-in rule sets, the file in use, Open rule file…."""
        menu.aboutToShow.connect(lambda: self._fill_rules_menu(menu))
        self._fill_rules_menu(menu)

    def _fill_rules_menu(self, menu: QtWidgets.QMenu) -> None:
        from tracer.analysis.rules import builtin_rule_sets

        menu.clear()
        group = QtGui.QActionGroup(menu)
        current = self.rules_label()
        names = builtin_rule_sets()
        choices = [(name, f"{name} (built in)") for name in names]
        if current not in names:
            choices.append((current, os.path.basename(current) or current))
        for spec, text in choices:
            action = menu.addAction(text)
            action.setCheckable(True)
            action.setChecked(spec == current)
            action.setToolTip(spec)
            action.triggered.connect(lambda _=False, r=spec: self.set_rules(r))
            group.addAction(action)
        menu.addSeparator()
        menu.addAction("&Open rule file…", self.rules_dialog)

    def rules_dialog(self) -> None:
        """Ask for a rule file (TOML) and check the trace shown against it."""
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self.window, "Open a rule set", self.settings.last_directory(),
                                                        "Rule sets (*.toml);;All files (*)")
        if path:
            self.set_rules(path)

    def set_rules(self, rules: Any, background: bool = True) -> bool:
        """Check the trace shown against ``rules`` (a built-in name or a TOML file) from now on.

        A rule file that cannot be read is reported in the notice bar and the
        rule set in use stays; returns whether ``rules`` was taken.
        """
        from tracer.analysis.rules import load_rules

        try:
            ruleset = load_rules(rules) if isinstance(rules, str) else rules
        except Exception as err:
            self.notices.show_notices([f"The rule set {rules} could not be read: {describe_error(err)}"])
            return False
        self.rules = rules if isinstance(rules, str) else ruleset
        data = self.window.data
        if data is None:
            return True
        root = getattr(data, "root", data)
        root.set_analysis_pending()  # the hazards shown belong to the old rule set
        self.window.show_hazards()
        self.window.statusBar().showMessage(f"Checking the rules again with {ruleset.name}", 8000)
        self.analyse(root, background)
        return True


    def set_offsets(self, offsets_ns: dict[str, int], background: bool = True) -> None:
        """Move each named host's clock to its offset (ns, absolute), re-index and re-check the rules."""
        data = self.window.data
        if data is None:
            return
        data = getattr(data, "root", data)
        wanted = {h: int(ns) for h, ns in offsets_ns.items()}
        if all(data.trace.host_offsets_ns.get(h, 0) == ns for h, ns in wanted.items()):
            return
        keep = self._absolute_range()
        task = Task(lambda t: shift_hosts(data, wanted, t), "shift")

        def done(shifted: Any) -> None:
            if self.request is not None:
                self.request = self.request.with_offsets({h: ns for h, ns in shifted.trace.host_offsets_ns.items() if ns})
            self.window.show_data(shifted)
            self._restore_range(keep)
            moved = ", ".join(f"{h} {ns / 1e6:+g} ms" for h, ns in shifted.trace.host_offsets_ns.items() if ns)
            self.window.statusBar().showMessage(f"Clock offsets: {moved or 'none'}; checking the rules again", 8000)
            self.window.first_frame(lambda: self.analyse(shifted, background), wait=background)

        def failed(err: BaseException) -> None:
            self.notices.show_notices([f"The clock offsets could not be applied: {describe_error(err)}"])

        if not background:
            try:
                done(task.job(task))
            except Exception as err:
                failed(err)
            return
        self.runner.start("shift", task, "with new clock offsets", done, failed)

    def offsets_dialog(self) -> QtWidgets.QDialog | None:
        """Open View > Clock offsets… (non-modal); return it."""
        data = self.window.data
        if data is None:
            return None
        data = getattr(data, "root", data)
        trace = data.trace
        lanes = {h: int((trace.lanes.host == k).sum()) for k, h in enumerate(trace.hosts)}
        skew_ns = getattr(data.analysis, "skew_ns", None)
        dialog = OffsetsDialog(list(trace.hosts), trace.host_offsets_ns, self.set_offsets, lanes,
                               skew_ns / 1e6 if skew_ns else None, self.window)
        dialog.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose, True)
        dialog.show()
        return dialog

    # --- visible range across reloads ------------------------------------------------------------
    def _absolute_range(self) -> tuple[int, float, float] | None:
        """Return the visible range as (trace start ns, x0, x1): exact across traces with another start."""
        timeline, data = self.window.timeline, self.window.data
        if timeline is None or data is None:
            return None
        x0, x1 = timeline.x_range()
        return int(data.trace.t0_ns), x0, x1

    def _restore_range(self, keep: tuple[int, float, float] | None) -> None:
        timeline, data = self.window.timeline, self.window.data
        if keep is None or timeline is None or data is None:
            return
        shift = float(keep[0] - int(data.trace.t0_ns))  # ints: no rounding at 1e18 ns
        lo, hi = keep[1] + shift, keep[2] + shift
        if hi > 0 and lo < float(data.duration_ns):  # some of it is still in the trace
            timeline.set_x_range(lo, hi, record=False)

    # --- drops ------------------------------------------------------------------------------------
    def accepts(self, event: Any) -> bool:
        """Return whether a drag carries files or directories (and accept it)."""
        if dropped_paths(event.mimeData()):
            event.acceptProposedAction()
            return True
        return False

    def drop(self, event: Any) -> bool:
        """Open the files and directories dropped (Ctrl or Shift: add them to those shown)."""
        paths = dropped_paths(event.mimeData())
        if not paths:
            return False
        event.acceptProposedAction()
        mods = event.modifiers()
        add = bool(mods & (QtCore.Qt.KeyboardModifier.ControlModifier | QtCore.Qt.KeyboardModifier.ShiftModifier))
        self.open_paths(paths, add=add and self.window.data is not None)
        return True

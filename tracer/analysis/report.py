"""What a load found: counts per file and overall, and the first problems."""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import TraceError

MAX_PROBLEMS = 20  # problems kept verbatim; the rest are only counted


@dataclass
class FileReport:
    """What one recorded process held and what of it could not be used.

    A file normally holds one process; a file made by concatenating traces
    holds one per ``header`` line, each with its own report (``segment`` counts
    them from 0 within the file, ``first_line`` is the line of its header).
    Facts about the file as a whole (``torn_tail_bytes``) go to its last one.
    """

    path: str
    segment: int = 0
    first_line: int = 1
    host: str = ""
    pid: int = -1
    process: str = ""
    version: int = 0
    lines: int = 0  # complete lines read, the header included
    spans: int = 0  # spans kept, unfinished ones included
    unfinished: int = 0  # spans with an ``open`` row and no ``spans`` row
    marks: int = 0
    lanes: int = 0
    skipped_lines: int = 0  # lines dropped whole: not JSON, too long, malformed record
    skipped_rows: int = 0  # rows dropped from otherwise good lines
    ignored_lines: int = 0  # records of unknown type (a later format version)
    duplicate_spans: int = 0  # rows repeating a span id already seen in this process
    missing_attrs: int = 0  # rows whose attributes could not be read (found when loading or decoding)
    torn_tail_bytes: int = 0  # unterminated last line, skipped as the format says
    clean_end: bool = False  # the file has an ``end`` record
    stats: dict[str, int] = field(default_factory=dict)  # counts from the last ``end`` (or ``stats``) record

    @property
    def source(self) -> str:
        """Return how to name this process's part of the input: the path, plus ``:line`` after the first."""
        return self.path if self.segment == 0 else f"{self.path}:{self.first_line}"

    @property
    def dropped(self) -> int:
        """Return how many records the recorder said it dropped (0 when it did not say)."""
        return self.stats.get("dropped", 0)


@dataclass
class LoadReport:
    """Totals of a load, the per-file reports and the first problems (``path:line: reason``)."""

    files: list[FileReport] = field(default_factory=list)
    spans: int = 0
    marks: int = 0
    lanes: int = 0
    hosts: list[str] = field(default_factory=list)
    unfinished: int = 0
    skipped_lines: int = 0
    skipped_rows: int = 0
    missing_attrs: int = 0  # rows whose attributes could not be read, so far (attributes are decoded lazily)
    attr_problems: int = 0  # lines whose attributes could not be read, so far
    problems: list[str] = field(default_factory=list)  # the first MAX_PROBLEMS, in reading order
    notes: list[str] = field(default_factory=list)  # facts worth knowing that are not errors

    @property
    def dropped(self) -> dict[str, int]:
        """Return the recorder's ``dropped`` count per process, keyed by ``FileReport.source``."""
        return {f.source: f.dropped for f in self.files}

    def summary(self) -> str:
        """Return a few lines fit for a terminal."""
        paths = len({f.path for f in self.files})
        processes = f" ({len(self.files)} processes)" if paths != len(self.files) else ""
        lines = [
            f"{paths} file{'s' if paths != 1 else ''}{processes}, {len(self.hosts)} hosts, {self.lanes} lanes, "
            f"{self.spans} spans ({self.unfinished} unfinished), {self.marks} marks"
        ]
        if self.skipped_lines or self.skipped_rows:
            lines.append(f"skipped {self.skipped_lines} malformed lines and {self.skipped_rows} malformed rows")
        if self.missing_attrs:
            lines.append(f"the attributes of {self.missing_attrs} rows could not be read")
        lines.extend(f"  {p}" for p in self.problems)
        counted = self.skipped_lines + self.skipped_rows + self.attr_problems
        if len(self.problems) < counted:
            lines.append(f"  ... and {counted - len(self.problems)} more")
        dropped = {path: n for path, n in self.dropped.items() if n}
        lines.extend(f"{path}: the recorder dropped {n} records (buffer full)" for path, n in dropped.items())
        lines.extend(self.notes)
        return "\n".join(lines)


class Problems:
    """Collect skipped lines and rows and unreadable attributes; in strict mode, refuse the first one.

    Attributes are decoded after loading, when asked for, so ``attrs`` may be
    called from any thread long after ``load`` returned; the attribute store
    serializes those calls.
    """

    def __init__(self, report: LoadReport, strict: bool) -> None:
        self.report = report
        self.strict = strict

    def line(self, file: FileReport, line: int, reason: str) -> None:
        """Record that line ``line`` of ``file`` was skipped because of ``reason``."""
        file.skipped_lines += 1
        self.report.skipped_lines += 1
        self._keep(file.path, line, reason)

    def row(self, file: FileReport, line: int, reason: str) -> None:
        """Record that a row of line ``line`` was skipped because of ``reason``."""
        file.skipped_rows += 1
        self.report.skipped_rows += 1
        self._keep(file.path, line, reason)

    def attrs(self, file: FileReport, line: int, reason: str, rows: int) -> None:
        """Record that the attributes of ``rows`` rows of line ``line`` cannot be read (the rows are kept)."""
        file.missing_attrs += rows
        self.report.missing_attrs += rows
        self.report.attr_problems += 1
        self._keep(file.path, line, reason)

    def _keep(self, path: str, line: int, reason: str) -> None:
        message = f"{path}:{line}: {reason}"
        if self.strict:
            raise TraceError(f"{message} (strict mode)", path=path, line=line)
        if len(self.report.problems) < MAX_PROBLEMS:
            self.report.problems.append(message)

"""Trace formats other than racelane's own: Chrome Trace Event JSON and OpenTelemetry OTLP/JSON.

    from tracer.analysis.formats import sniff, import_file, export_chrome

    kind = sniff("trace.json")                  # "racelane", "chrome", "otlp" or None
    data, report = import_file("trace.json")    # native racelane JSON Lines bytes
    export_chrome(load(paths).trace, "out.json")

Importers turn a foreign file into racelane native bytes (write them to a
file and ``load`` it, like any recording) and an ``ImportReport`` of what
they skipped; exporters write a loaded ``Trace``. See ``chrome`` and
``otlp`` for how each format maps onto processes, lanes, spans and marks.
"""

from __future__ import annotations

import os
from typing import Literal

import orjson

from ..errors import TraceError
from ._native import Imported, ImportReport
from .chrome import export_chrome, import_chrome
from .native import export_racelane
from .otlp import export_otlp, import_otlp

Format = Literal["racelane", "chrome", "otlp"]
SNIFF_BYTES = 1 << 20  # a header line (with a long argv) fits; keys of foreign formats come early

__all__ = [
    "Format",
    "ImportReport",
    "Imported",
    "export_chrome",
    "export_otlp",
    "export_racelane",
    "import_chrome",
    "import_file",
    "import_otlp",
    "sniff",
]


def sniff(path: str | os.PathLike[str]) -> Format | None:
    """Tell a file's trace format from its first bytes; None when it is none of the three.

    - ``racelane``: the first line is a JSON object with ``"type": "header"``
      and ``"format": "racelane"``;
    - ``chrome``: the file starts with ``[`` (the array form) or is an object
      with ``traceEvents``;
    - ``otlp``: an object (the whole file, or its first line: the file
      exporter's JSON Lines) with ``resourceSpans``.

    Raises:
        TraceError: the file cannot be read (a directory, no permission, ...).
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as stream:
            head = stream.read(SNIFF_BYTES)
    except OSError as err:
        raise TraceError(f"cannot read {path}: {err.strerror or err}", path=path) from None
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    text = head.lstrip()
    if text.startswith(b"["):
        return "chrome"
    if not text.startswith(b"{"):
        return None
    first = text.split(b"\n", 1)[0]
    try:
        record = orjson.loads(first)
    except orjson.JSONDecodeError:
        record = None
    if type(record) is dict:
        if record.get("type") == "header" and record.get("format") == "racelane":
            return "racelane"
        if "traceEvents" in record:
            return "chrome"
        if "resourceSpans" in record:
            return "otlp"
        return None
    # A pretty-printed document: the first of the two keys to appear decides.
    chrome, otlp = text.find(b'"traceEvents"'), text.find(b'"resourceSpans"')
    if chrome >= 0 and (otlp < 0 or chrome < otlp):
        return "chrome"
    return "otlp" if otlp >= 0 else None


def import_file(path: str | os.PathLike[str]) -> Imported:
    """Import a Chrome or OTLP file (sniffed) into native racelane bytes.

    Raises:
        TraceError: the file is unreadable, or neither Chrome nor OTLP JSON
            (a racelane file needs no import: ``load`` it).
    """
    path = os.fspath(path)
    kind = sniff(path)
    if kind == "chrome":
        return import_chrome(path)
    if kind == "otlp":
        return import_otlp(path)
    if kind == "racelane":
        raise TraceError(f"{path} is already a racelane trace; load it directly", path=path)
    raise TraceError(f"{path} is not a racelane, Chrome (Trace Event JSON) or OTLP/JSON trace", path=path)

"""Fixtures of the analysis tests: files written by hand, and one real recording."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from tracefiles import header, record_sample


@pytest.fixture
def write_trace(tmp_path: Path) -> Callable[..., str]:
    """Return ``write(records, name=...)``: dicts become JSON lines, bytes are written as they are.

    The first line is a default header unless ``first`` gives another one
    (``None`` for none); ``end=b""`` leaves the last line unterminated.
    """

    def write(records: list[Any], name: str = "trace.jsonl", *, first: Any = "default", end: bytes = b"\n") -> str:
        lines = [] if first is None else [header() if first == "default" else first]
        lines.extend(records)
        data = b"\n".join(line if isinstance(line, bytes) else orjson.dumps(line) for line in lines)
        path = tmp_path / name
        path.write_bytes(data + end if lines else b"")
        return str(path)

    return write


@pytest.fixture(scope="session")
def sample_bytes() -> bytes:
    """The bytes of one real recording (see ``record_sample``)."""
    return record_sample()


@pytest.fixture
def sample_path(tmp_path: Path, sample_bytes: bytes) -> str:
    """A file holding ``sample_bytes``."""
    path = tmp_path / "sample.jsonl"
    path.write_bytes(sample_bytes)
    return str(path)

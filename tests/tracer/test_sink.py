"""The file sink: whole lines, appended, also when the kernel takes less than asked."""

from __future__ import annotations

import os
import stat

from tracer.record import sink as sink_module
from tracer.record.sink import JsonlSink


def test_write_lines_appends_every_line_in_order(tmp_path):
    path = tmp_path / "t.jsonl"
    out = JsonlSink(str(path))
    lines = [b'{"n":%d}\n' % i for i in range(50)]
    assert out.write_lines(lines[:20]) is None
    assert out.write_lines(lines[20:]) is None
    out.close()
    assert path.read_bytes() == b"".join(lines)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_write_lines_finishes_a_short_writev(tmp_path, monkeypatch):
    """A writev the kernel cuts short (disk nearly full, a signal) goes on with the rest."""
    real_writev = os.writev
    calls = []

    def short_writev(fd, buffers):
        calls.append(len(buffers))
        first = bytes(buffers[0])
        return real_writev(fd, [first[:7]])  # only part of the first line

    monkeypatch.setattr(sink_module.os, "writev", short_writev)
    path = tmp_path / "t.jsonl"
    out = JsonlSink(str(path))
    lines = [b'{"line":"first"}\n', b'{"line":"second"}\n']
    assert out.write_lines(lines) is None
    out.close()
    assert calls == [2]
    assert path.read_bytes() == b"".join(lines)


def test_write_lines_reports_an_unwritable_path_instead_of_raising(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    out = JsonlSink(str(blocker / "t.jsonl"))  # a directory that is a file
    err = out.write_lines([b"{}\n"])
    assert isinstance(err, OSError)


def test_many_lines_fall_back_to_one_joined_write(tmp_path):
    path = tmp_path / "t.jsonl"
    out = JsonlSink(str(path))
    lines = [b"{}\n"] * (sink_module._IOV_MAX + 5)
    assert out.write_lines(lines) is None
    out.close()
    assert path.read_bytes() == b"".join(lines)

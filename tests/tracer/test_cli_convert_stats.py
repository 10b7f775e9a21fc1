"""`racelane convert` and `racelane stats`: formats, merging, exit codes, and exact statistics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from tracer.analysis import load
from tracer.analysis.stats import trace_stats
from tracer.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
BUGGY = ROOT / "sample_traces" / "nova-1896463-buggy.jsonl"
SKEW = ROOT / "sample_traces" / "multi-host-skew"


def racelane(capsys: pytest.CaptureFixture[str], *argv: Any) -> tuple[int, str, str]:
    """Run ``racelane argv`` in this process; return (exit code, stdout, stderr)."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exit:
        code = exit.code if isinstance(exit.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


# --- convert -------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "kind"), [("out.json", "chrome"), ("out.otlp.jsonl", "otlp"), ("out.otlp.json", "otlp"),
                                            ("out.jsonl", "racelane")])
def test_convert_chooses_the_format_from_the_extension(capsys, tmp_path: Path, name: str, kind: str) -> None:
    from tracer.analysis.formats import sniff

    code, out, err = racelane(capsys, "convert", BUGGY, "-o", tmp_path / name)
    assert code == 0, err
    assert f"wrote {tmp_path / name} ({kind}): 51 spans, 5 marks, 3 lanes from 2 process(es) on 2 host(s)" in out
    assert sniff(tmp_path / name) == kind


def test_convert_to_overrides_the_extension(capsys, tmp_path: Path) -> None:
    code, _, err = racelane(capsys, "convert", BUGGY, "-o", tmp_path / "weird.data", "--to", "otlp")
    assert code == 0, err
    assert orjson.loads((tmp_path / "weird.data").read_bytes().splitlines()[0])["resourceSpans"]


def test_convert_refuses_to_overwrite_without_force(capsys, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    out.write_text("keep me")
    code, _, err = racelane(capsys, "convert", BUGGY, "-o", out)
    assert code == 2
    assert err.strip() == f"racelane convert: {out} already exists; pass --force to overwrite it"
    assert out.read_text() == "keep me"
    code, _, err = racelane(capsys, "convert", BUGGY, "-o", out, "--force")
    assert code == 0, err
    assert out.read_bytes().startswith(b"[")


def test_convert_unknown_extension_is_a_usage_error(capsys, tmp_path: Path) -> None:
    code, _, err = racelane(capsys, "convert", BUGGY, "-o", tmp_path / "out.txt")
    assert code == 2
    assert "cannot tell the output format from" in err and "--to" in err
    assert not (tmp_path / "out.txt").exists()


def test_convert_unreadable_inputs(capsys, tmp_path: Path) -> None:
    code, _, err = racelane(capsys, "convert", tmp_path / "missing.jsonl", "-o", tmp_path / "out.json")
    assert code == 2 and err.strip() == f"racelane convert: {tmp_path / 'missing.jsonl'}: no such file"
    notes = tmp_path / "notes.json"
    notes.write_text('{"hello": "world"}\n')
    code, _, err = racelane(capsys, "convert", notes, "-o", tmp_path / "out.json")
    assert code == 2
    assert err.strip() == f"racelane: {notes} is not a racelane, Chrome (Trace Event JSON) or OTLP/JSON trace"
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = racelane(capsys, "convert", empty, "-o", tmp_path / "out.json")
    assert code == 2 and "no .jsonl or .json files" in err
    assert not (tmp_path / "out.json").exists()


def test_convert_merges_several_formats_into_one_racelane_file(capsys, tmp_path: Path) -> None:
    chrome = tmp_path / "buggy.json"
    assert racelane(capsys, "convert", BUGGY, "-o", chrome)[0] == 0
    otlp = tmp_path / "skew.otlp.jsonl"
    assert racelane(capsys, "convert", SKEW, "-o", otlp)[0] == 0
    merged = tmp_path / "merged.jsonl"
    code, _, err = racelane(capsys, "convert", chrome, otlp, BUGGY, "-o", merged)
    assert code == 0, err
    trace = load([merged]).trace
    assert len(trace.spans) == 51 * 3 and len(trace.marks) == 5 * 3
    assert sorted(trace.hosts) == ["host1", "host2"]


def test_convert_malformed_foreign_events_are_reported_on_stderr(capsys, tmp_path: Path) -> None:
    src = tmp_path / "t.json"
    src.write_bytes(b'[{"ph":"X","name":"ok","pid":1,"tid":1,"ts":1,"dur":1},\n{"ph":"X","name":"bad","pid":1,"tid":1,"dur":1}]')
    code, _, err = racelane(capsys, "convert", src, "-o", tmp_path / "out.jsonl")
    assert code == 0
    assert "1 malformed record(s) skipped" in err and f"{src}:event 2: 'ts' must be a number" in err
    code, _, err = racelane(capsys, "convert", src, "-o", tmp_path / "strict.jsonl", "--strict")
    assert code == 2 and "(--strict)" in err


def test_convert_and_stats_help_have_examples(capsys) -> None:
    for command in ("convert", "stats"):
        code, out, _ = racelane(capsys, command, "--help")
        assert code == 0 and "examples:" in out and f"racelane {command} " in out


# --- stats ---------------------------------------------------------------------------------
def tiny_trace(path: Path) -> Path:
    """Two lanes of one process, times in ns (the clock anchor maps monotonic 0 to wall 10**18).

    lane 1: req [0, 1000] > db [100, 400], lock.wait res [500, 700] (acquired), lock.held res [700, 900];
            req [2000, 2600] > db [2100, 2200]
    lane 2: req [500, 1700] > lock.wait res [600, 900] (failed); stuck [1800, -) unfinished; mark at 3000
    """
    records = [
        {"type": "header", "format": "racelane", "version": 1, "host": "h", "pid": 1, "process": "svc",
         "clock": {"monotonic_ns": 0, "wall_ns": 10**18}},
        {"type": "lane", "lane": 1, "kind": "thread", "name": "main"},
        {"type": "lane", "lane": 2, "kind": "greenthread", "name": "g"},
        {"type": "spans", "rows": [
            [1, 0, 1, 0, 1000, "req", "", None],
            [2, 1, 1, 100, 400, "db", "db", None],
            [3, 1, 1, 500, 700, "lock.wait res", "lock", None],
            [4, 1, 1, 700, 900, "lock.held res", "lock", None],
            [5, 0, 1, 2000, 2600, "req", "", None],
            [6, 5, 1, 2100, 2200, "db", "db", None],
            [7, 0, 2, 500, 1700, "req", "", None],
            [8, 7, 2, 600, 900, "lock.wait res", "lock", ["TimeoutError", "gave up"]],
        ], "attrs": [None, None, {"lock": "res", "acquired": True}, {"lock": "res"}, None, None, None,
                     {"lock": "res", "acquired": False}]},
        {"type": "open", "rows": [[9, 0, 2, 1800, "stuck", ""]], "attrs": [None]},
        {"type": "marks", "rows": [[2, 3000, "late", "", 0]], "attrs": [None]},
    ]
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return path


def test_stats_numbers_are_exact(tmp_path: Path) -> None:
    stats = trace_stats(load([tiny_trace(tmp_path / "tiny.jsonl")]).trace)
    by_name = {r["name"]: r for r in stats["spans"]}
    assert by_name["req"] == {"name": "req", "count": 3, "unfinished": 0, "total_ns": 2800, "mean_ns": 2800 / 3,
                              "p50_ns": 1000.0, "p99_ns": 1196.0, "max_ns": 1200}
    assert by_name["db"] == {"name": "db", "count": 2, "unfinished": 0, "total_ns": 400, "mean_ns": 200.0,
                             "p50_ns": 200.0, "p99_ns": 298.0, "max_ns": 300}
    assert by_name["lock.wait res"]["p99_ns"] == 299.0 and by_name["lock.wait res"]["total_ns"] == 500
    assert by_name["stuck"] == {"name": "stuck", "count": 0, "unfinished": 1, "total_ns": 0, "mean_ns": None,
                                "p50_ns": None, "p99_ns": None, "max_ns": None}
    assert [r["name"] for r in stats["spans"]] == ["req", "lock.wait res", "db", "lock.held res", "stuck"]
    lanes = {r["lane"]: r for r in stats["lanes"]}
    assert (lanes[1]["busy_ns"], lanes[1]["active_ns"], lanes[1]["busy_fraction"]) == (1600, 2600, 1600 / 2600)
    assert (lanes[2]["busy_ns"], lanes[2]["active_ns"], lanes[2]["busy_fraction"]) == (2400, 2500, 0.96)
    assert lanes[2]["process"] == "svc [1]" and lanes[2]["spans"] == 3
    assert stats["locks"] == [{"lock": "res", "waits": 2, "wait_ns": 500, "max_wait_ns": 300, "failed": 1,
                               "holds": 1, "held_ns": 200, "max_held_ns": 200}]


def test_stats_cli_json_and_text(capsys, tmp_path: Path) -> None:
    path = tiny_trace(tmp_path / "tiny.jsonl")
    code, out, err = racelane(capsys, "stats", "--json", path)
    assert code == 0, err
    doc = orjson.loads(out)
    assert doc["span_count"] == 9 and doc["locks"][0]["failed"] == 1
    code, out, _ = racelane(capsys, "stats", path)
    assert code == 0
    assert "req" in out and "61.5%" in out and "96.0%" in out
    assert out.splitlines()[-1].split() == ["res", "2", "0.001", "0.000", "1", "1", "0.000", "0.000"]


def test_stats_reads_foreign_formats(capsys, tmp_path: Path) -> None:
    chrome = tmp_path / "b.json"
    assert racelane(capsys, "convert", BUGGY, "-o", chrome)[0] == 0
    code, out, err = racelane(capsys, "stats", "--json", chrome)
    assert code == 0, err
    native = trace_stats(load([BUGGY]).trace)
    assert orjson.loads(out)["locks"] == native["locks"]
    code, _, err = racelane(capsys, "stats", tmp_path / "nope.json")
    assert code == 2 and "no such file" in err

"""Reliability of the recorder under concurrency, signals, fork, bad paths and bad data.

Most scenarios run small programs in subprocesses (written to ``tmp_path``),
so that forking, signals and eventlet monkey-patching never touch the pytest
process.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import time
import traceback
from importlib import resources
from pathlib import Path

import jsonschema
import orjson
import pytest

import tracer
from tracer.record.format import iter_rows

KNOWN_TYPES = {"header", "lane", "spans", "open", "marks", "stats", "end"}
FLUSH_S = 0.1


# --- helpers ------------------------------------------------------------------
def child_env() -> dict[str, str]:
    """The environment for child programs: no racelane autostart, no eventlet nagging."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RACELANE_")}
    env["PYTHONWARNINGS"] = "ignore"
    return env


def write_script(tmp_path: Path, name: str, code: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(code))
    return path


def run_script(script: Path, *args: object, timeout: float = 30, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(script), *map(str, args)],
        capture_output=True, text=True, timeout=timeout, env=child_env(), **kw,
    )


def complete_lines(data: bytes) -> list[bytes]:
    """The simple reader: every ``\\n``-terminated line; an unterminated last line is skipped."""
    lines = data.split(b"\n")
    return lines[:-1]  # the piece after the last "\n" is b"" or a torn line


def read_strict(path: Path) -> list[dict]:
    """Read a finished trace: it must end with a newline and every line must parse."""
    data = path.read_bytes()
    assert data.endswith(b"\n"), f"{path} ends with a torn line"
    records = []
    for n, line in enumerate(complete_lines(data), 1):
        try:
            rec = orjson.loads(line)
        except orjson.JSONDecodeError as err:  # pragma: no cover - only on failure
            raise AssertionError(f"{path}:{n} does not parse ({err}): {line[:200]!r}") from None
        assert isinstance(rec, dict) and rec.get("type") in KNOWN_TYPES, f"{path}:{n} is no record: {line[:200]!r}"
        records.append(rec)
    return records


def spans_of(records: list[dict]) -> list[dict]:
    return [row for r in records if r["type"] == "spans" for row in iter_rows(r)]


def open_of(records: list[dict]) -> list[dict]:
    return [row for r in records if r["type"] == "open" for row in iter_rows(r)]


def marks_of(records: list[dict]) -> list[dict]:
    return [row for r in records if r["type"] == "marks" for row in iter_rows(r)]


def lanes_of(records: list[dict]) -> dict[int, dict]:
    return {r["lane"]: r for r in records if r["type"] == "lane"}


def name_counts(records: list[dict]) -> collections.Counter:
    return collections.Counter(s["name"] for s in spans_of(records))


_VALIDATOR = None


def validator() -> jsonschema.Draft202012Validator:
    global _VALIDATOR
    if _VALIDATOR is None:
        schema = json.loads(resources.files("tracer.record").joinpath("schema.json").read_text())
        _VALIDATOR = jsonschema.Draft202012Validator(schema)
    return _VALIDATOR


def check_well_formed(path: Path, pid: int) -> list[dict]:
    """Every line parses and validates, one header first, unique span ids, every lane announced."""
    records = read_strict(path)
    assert records[0]["type"] == "header" and records[0]["pid"] == pid, path
    assert sum(r["type"] == "header" for r in records) == 1, f"{path}: a second header (interleaved writers?)"
    v = validator()
    for rec in records:
        if len(rec.get("rows", ())) > 32:  # full validation of thousands of rows is slow: sample each batch
            rec = {**rec, "rows": rec["rows"][:16] + rec["rows"][-16:], "attrs": rec["attrs"][:16] + rec["attrs"][-16:]}
        v.validate(rec)
    spans = spans_of(records)
    ids = [s["id"] for s in spans]
    assert len(ids) == len(set(ids)), f"{path}: duplicate span ids"
    lanes = lanes_of(records)
    used = {s["lane"] for s in spans} | {o["lane"] for o in open_of(records)} | {m["lane"] for m in marks_of(records)}
    assert used <= set(lanes), f"{path}: lanes without a lane line: {sorted(used - set(lanes))}"
    return records


def check_nesting(records: list[dict], kind: str) -> dict[str, int]:
    """Spans named outer/inner with attrs who/i: inner is the child of outer, one lane per ``who``.

    Returns the lane of each ``who``.
    """
    lanes = lanes_of(records)
    outer = {(s["attrs"]["who"], s["attrs"]["i"]): s for s in spans_of(records) if s["name"] == "outer"}
    inner = {(s["attrs"]["who"], s["attrs"]["i"]): s for s in spans_of(records) if s["name"] == "inner"}
    assert outer.keys() == inner.keys()
    lane_of_who: dict[str, int] = {}
    for key, o in outer.items():
        i = inner[key]
        assert i["parent"] == o["id"], f"inner {key} is not the child of its outer span"
        assert i["lane"] == o["lane"]
        assert o["start_ns"] <= i["start_ns"] <= i["end_ns"] <= o["end_ns"]
        assert o["parent"] == (lanes[o["lane"]]["spawned_by"] or 0), f"outer {key}: parent is not the spawner's span"
        assert lane_of_who.setdefault(key[0], o["lane"]) == o["lane"], f"{key[0]} recorded in two lanes"
    assert len(set(lane_of_who.values())) == len(lane_of_who), "two lanes of execution share a lane id"
    assert all(lanes[lane]["kind"] == kind for lane in lane_of_who.values())
    return lane_of_who


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


# --- 1. many writers at once ----------------------------------------------------
THREADS_AND_PROCESSES = """
    import json, multiprocessing as mp, os, sys, threading, time
    import tracer

    N_THREADS, N_PROCS, THREAD_SPANS, PROC_SPANS = 8, 4, 300, 400

    def nested(who, n):
        for i in range(n):
            with tracer.span("outer", cat="t", who=who, i=i):
                with tracer.span("inner", cat="t", who=who, i=i):
                    pass
            if i % 50 == 0:
                time.sleep(0.001)

    def thread_main(k, go):
        go.wait(10)
        nested(f"thread{k}", THREAD_SPANS)

    def proc_main(k, go):
        go.wait(10)
        nested(f"proc{k}", PROC_SPANS)
        # Let the child's periodic flusher write everything: flushing at the
        # exit of a multiprocessing child is tested separately (it is broken).
        time.sleep(0.6)

    if __name__ == "__main__":
        ctx = mp.get_context("fork")
        go = ctx.Event()
        rec = tracer.start(sys.argv[1], flush_interval_s=0.1)
        with tracer.span("main", cat="t"):
            threads = [threading.Thread(target=thread_main, args=(k, go)) for k in range(N_THREADS)]
            for t in threads:
                t.start()
            # forked while 8 threads and the flusher are alive
            procs = [ctx.Process(target=proc_main, args=(k, go)) for k in range(N_PROCS)]
            for p in procs:
                p.start()
            go.set()
            for t in threads:
                t.join()
            for p in procs:
                p.join()
        stats = rec.stop()
        print(json.dumps({"pid": os.getpid(), "children": [p.pid for p in procs],
                          "exitcodes": [p.exitcode for p in procs], "spans": stats.spans,
                          "dropped": stats.dropped, "lost": stats.lost_on_write}))
"""

GREENTHREADS = """
    import eventlet
    eventlet.monkey_patch()
    import json, os, sys
    import tracer

    N_GREEN, GREEN_SPANS = 200, 5

    def green(k):
        for i in range(GREEN_SPANS):
            with tracer.span("outer", cat="g", who=f"green{k}", i=i):
                eventlet.sleep(0)
                with tracer.span("inner", cat="g", who=f"green{k}", i=i):
                    eventlet.sleep(0)
                eventlet.sleep(0)

    rec = tracer.start(sys.argv[1], flush_interval_s=0.1)
    with tracer.span("main", cat="g"):
        pool = [eventlet.spawn(green, k) for k in range(N_GREEN)]
        for g in pool:
            g.wait()
    stats = rec.stop()
    print(json.dumps({"pid": os.getpid(), "spans": stats.spans, "dropped": stats.dropped}))
"""


def test_threads_processes_and_greenthreads_recording_at_once(tmp_path):
    """8 threads, 4 forked processes (with and without {pid}) and 200 greenthreads record at once, losslessly."""
    threads_script = write_script(tmp_path, "threads.py", THREADS_AND_PROCESSES)
    green_script = write_script(tmp_path, "green.py", GREENTHREADS)
    no_pid_dir, pid_dir, green_dir = tmp_path / "nopid", tmp_path / "pid", tmp_path / "green"
    for d in (no_pid_dir, pid_dir, green_dir):
        d.mkdir()
    commands = {
        "nopid": [sys.executable, str(threads_script), str(no_pid_dir / "trace.jsonl")],
        "pid": [sys.executable, str(threads_script), str(pid_dir / "trace-{pid}.jsonl")],
        "green": [sys.executable, str(green_script), str(green_dir / "trace-{pid}.jsonl")],
    }
    procs = {k: subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env())
             for k, cmd in commands.items()}
    results = {}
    try:
        for k, p in procs.items():
            out, err = p.communicate(timeout=40)
            assert p.returncode == 0, f"{k}: {err}"
            results[k] = json.loads(out.strip().splitlines()[-1])
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()

    thread_spans, proc_spans = 8 * 300 * 2 + 1, 400 * 2
    for key, directory in (("nopid", no_pid_dir), ("pid", pid_dir)):
        res = results[key]
        assert res["exitcodes"] == [0] * 4 and res["dropped"] == 0 and res["lost"] == 0
        parent_file = directory / ("trace.jsonl" if key == "nopid" else f"trace-{res['pid']}.jsonl")
        child_files = {pid: directory / f"trace-{pid}.jsonl" for pid in res["children"]}
        assert {p.name for p in directory.iterdir()} == {parent_file.name} | {f.name for f in child_files.values()}

        parent = check_well_formed(parent_file, res["pid"])
        assert parent[-1]["type"] == "end"
        assert res["spans"] == thread_spans
        assert name_counts(parent) == {"outer": 8 * 300, "inner": 8 * 300, "main": 1}
        lanes = check_nesting(parent, "thread")
        assert set(lanes) == {f"thread{k}" for k in range(8)}
        (main,) = [s for s in spans_of(parent) if s["name"] == "main"]
        assert all(lanes_of(parent)[lane]["spawned_by"] == main["id"] for lane in lanes.values())

        for pid, path in child_files.items():
            child = check_well_formed(path, pid)
            assert name_counts(child) == {"outer": proc_spans // 2, "inner": proc_spans // 2}, path
            (who,) = check_nesting(child, "thread")
            assert who.startswith("proc")

    res = results["green"]
    green = check_well_formed(green_dir / f"trace-{res['pid']}.jsonl", res["pid"])
    assert green[0]["concurrency"] == "eventlet"
    assert green[-1]["type"] == "end" and res["dropped"] == 0
    assert name_counts(green) == {"outer": 1000, "inner": 1000, "main": 1}
    lanes = check_nesting(green, "greenthread")
    assert len(lanes) == 200  # one distinct greenthread lane per greenthread
    assert sum(lane["kind"] == "greenthread" for lane in lanes_of(green).values()) >= 200
    (main,) = [s for s in spans_of(green) if s["name"] == "main"]
    assert all(lanes_of(green)[lane]["spawned_by"] == main["id"] for lane in lanes.values())


# --- 2. eventlet: the main greenthread blocks in C --------------------------------
BLOCKED = """
    import eventlet
    eventlet.monkey_patch()
    import sys
    import tracer

    rec = tracer.start(sys.argv[1], flush_interval_s=0.1)
    for i in range(50):
        with tracer.span("before-block", i=i):
            eventlet.sleep(0)
    with tracer.span("blocking"):
        print("blocked", flush=True)
        eventlet.patcher.original("time").sleep(2.0)  # blocks the hub and every greenthread
    rec.stop()
"""


def test_flush_happens_while_the_eventlet_hub_is_blocked_in_c(tmp_path):
    """With the main greenthread blocked in unpatched time.sleep, spans still reach the file within a flush interval."""
    script = write_script(tmp_path, "blocked.py", BLOCKED)
    path = tmp_path / "blocked.jsonl"
    proc = subprocess.Popen([sys.executable, str(script), str(path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=child_env())
    try:
        assert proc.stdout.readline().strip() == "blocked"
        time.sleep(0.4)
        data = path.read_bytes()
        assert proc.poll() is None, "the child stopped blocking before the file was checked"
    finally:
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    records = [orjson.loads(line) for line in complete_lines(data)]
    assert records[0]["type"] == "header"
    assert name_counts(records) == {"before-block": 50}
    assert [o["name"] for o in open_of(records)] == ["blocking"]


# --- 3. SIGKILL -------------------------------------------------------------------
KILLED = """
    import sys, time
    import tracer

    rec = tracer.start(sys.argv[1], flush_interval_s=0.1)
    done = open(sys.argv[2], "w", buffering=1)
    with tracer.span("long-running", cat="test"):
        i = 0
        while True:
            with tracer.span("work", i=i):
                time.sleep(0.0005)
            # written after the span ended: this time is >= the span's end_ns
            done.write(f"{i} {time.monotonic_ns()}\\n")
            i += 1
"""


def test_sigkill_leaves_parseable_file_with_open_span_and_all_older_spans(tmp_path):
    """After SIGKILL every complete line parses, the running span is unfinished, and spans older than 2 flushes are on disk."""
    script = write_script(tmp_path, "killed.py", KILLED)
    path, done_log = tmp_path / "killed.jsonl", tmp_path / "done.txt"
    proc = subprocess.Popen([sys.executable, str(script), str(path), str(done_log)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=child_env())
    try:
        wait_for(lambda: path.exists() and b'"spans"' in path.read_bytes(), 10, "the first spans line")
        time.sleep(0.5)
        kill_ns = time.monotonic_ns()  # CLOCK_MONOTONIC is shared by all processes of the host
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL

    data = path.read_bytes()
    lines = complete_lines(data)
    records = [orjson.loads(line) for line in lines]  # every complete line parses
    torn = data[data.rfind(b"\n") + 1 :]  # b"" or a torn last line: the only thing allowed not to parse
    assert records[0]["type"] == "header"
    assert all(r["type"] != "end" for r in records)

    spans = spans_of(records)
    (long_open,) = [o for o in open_of(records) if o["name"] == "long-running"]
    assert long_open["id"] not in {s["id"] for s in spans}, "the killed span must read as unfinished"
    assert all(s["parent"] == long_open["id"] for s in spans if s["name"] == "work")

    cutoff = kill_ns - int(2 * FLUSH_S * 1e9)
    finished_before = {int(i) for i, t in (ln.split() for ln in done_log.read_text().splitlines() if ln.count(" ") == 1)
                       if int(t) < cutoff}
    on_disk = {s["attrs"]["i"] for s in spans if s["name"] == "work"}
    assert len(finished_before) > 50
    missing = finished_before - on_disk
    assert not missing, f"{len(missing)} spans that ended >{2 * FLUSH_S}s before SIGKILL are not on disk"

    # A copy torn in the middle of its last line loses that line and nothing else.
    start = data.rfind(b"\n", 0, len(data) - len(torn) - 1) + 1
    last_line = data[start : len(data) - len(torn) - 1]
    copy = tmp_path / "torn.jsonl"
    shutil.copyfile(path, copy)
    with open(copy, "r+b") as f:
        f.truncate(start + len(last_line) // 2)
    torn_data = copy.read_bytes()
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(torn_data[start:])
    assert complete_lines(torn_data) == lines[:-1]
    assert [orjson.loads(line) for line in complete_lines(torn_data)] == records[:-1]


# --- 4. SIGTERM and normal exit -----------------------------------------------------
RECORD_THEN_WAIT = """
    import os, signal, sys, threading, time
    import tracer

    mode = sys.argv[2]
    if mode == "handler":
        def on_term(signum, frame):
            print("program handler ran", flush=True)
            sys.exit(7)
        signal.signal(signal.SIGTERM, on_term)

    tracer.start(sys.argv[1], flush_interval_s=3600)  # only the final flush writes
    def work(k):
        for i in range(100):
            with tracer.span("work", k=k, i=i):
                pass
        tracer.mark("done", k=k)
    threads = [threading.Thread(target=work, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with tracer.span("main-work"):
        pass
    if mode == "exit":
        sys.exit(0)  # no tracer.stop(): atexit must flush
    print("ready", flush=True)
    time.sleep(30)
    print("not killed", flush=True)
"""


@pytest.mark.parametrize("mode", ["exit", "sigterm", "handler"])
def test_sigterm_and_normal_exit_lose_nothing(tmp_path, mode):
    """Normal exit and SIGTERM write every span and an end line; SIGTERM keeps the program's exit status and handler."""
    script = write_script(tmp_path, "term.py", RECORD_THEN_WAIT)
    path = tmp_path / "term.jsonl"
    proc = subprocess.Popen([sys.executable, str(script), str(path), mode], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=child_env())
    try:
        if mode != "exit":
            assert proc.stdout.readline().strip() == "ready"
            proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    expected_rc = {"exit": 0, "sigterm": -signal.SIGTERM, "handler": 7}[mode]
    assert proc.returncode == expected_rc, err
    if mode == "handler":
        assert "program handler ran" in out
    assert "not killed" not in out

    records = check_well_formed(path, proc.pid)
    assert records[-1]["type"] == "end"
    assert name_counts(records) == {"work": 300, "main-work": 1}
    assert len(marks_of(records)) == 3
    stats = records[-1]["stats"]
    assert stats["spans"] == 301 and stats["marks"] == 3 and stats["dropped"] == 0 and stats["lost_on_write"] == 0


# --- 5. unwritable path ---------------------------------------------------------------
@pytest.mark.parametrize("how", ["parent-is-a-file", "read-only-dir"])
def test_unwritable_path_warns_once_and_counts_losses(tmp_path, caplog, how):
    """An unwritable trace path never breaks the program: one warning, write_errors > 0, every record counted lost."""
    if how == "parent-is-a-file":
        blocker = tmp_path / "not-a-dir"
        blocker.write_text("a regular file")
        path = blocker / "trace.jsonl"  # ENOTDIR, even for root
    else:
        if os.geteuid() == 0:
            pytest.skip("permission bits do not stop root")
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        path = ro / "trace.jsonl"
    caplog.set_level(logging.WARNING, logger="racelane")
    rec = tracer.start(str(path), flush_interval_s=0.02, handle_sigterm=False)
    try:
        for i in range(40):
            with tracer.span("work", i=i):
                pass
            if i % 10 == 0:
                tracer.mark("tick", i=i)
                time.sleep(0.05)  # several periodic flushes fail
    finally:
        stats = rec.stop()
    assert not path.exists()
    warnings = [r for r in caplog.records if r.name == "racelane"]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert warnings[0].levelno == logging.WARNING and str(path) in warnings[0].getMessage()
    assert stats.write_errors > 1
    assert stats.lost_on_write == 40 + 4 == stats.spans + stats.marks
    assert stats.bytes_written == 0


# --- 6. redaction, truncation, unserializable values --------------------------------
class Widget:
    """An attribute value orjson cannot serialize."""


def test_secrets_never_reach_the_file_and_bad_values_are_bounded(tmp_path, caplog):
    """Secrets are masked, long strings truncated, unserializable values written as <TypeName>, counted and logged once."""
    path = tmp_path / "redact.jsonl"
    caplog.set_level(logging.WARNING, logger="racelane")
    rec = tracer.start(str(path), flush_interval_s=3600, handle_sigterm=False)
    try:
        with tracer.span("db.connect", password="hunter2", headers={"X-Auth-Token": "tok123"},
                         connection="mysql+pymysql://nova:s3cr3t@db/nova") as s:
            s.set("db_password", "hunter2")
            tracer.mark("connected", token="tok123", url="http://admin:s3cr3t@keystone/v3")
            rec.flush()  # also as an open row
        with tracer.span("big", blob="x" * 5000):
            pass
        for i in range(100):
            with tracer.span("odd", obj=Widget(), i=i):
                pass
            if i % 25 == 0:
                rec.flush()  # several flushes, still one report
    finally:
        stats = rec.stop()
    raw = path.read_bytes()
    for secret in (b"hunter2", b"tok123", b"s3cr3t"):
        assert secret not in raw
    records = read_strict(path)
    spans = {s["name"]: s for s in spans_of(records)}
    attrs = spans["db.connect"]["attrs"]
    assert attrs["password"] == "***" and attrs["db_password"] == "***"
    assert attrs["headers"] == {"X-Auth-Token": "***"}
    assert attrs["connection"] == "mysql+pymysql://***:***@db/nova"
    (opened,) = open_of(records)
    assert opened["attrs"]["password"] == "***"
    blob = spans["big"]["attrs"]["blob"]
    assert blob == "x" * 4096 + "…<truncated 904 chars>"
    odd = [s for s in spans_of(records) if s["name"] == "odd"]
    assert len(odd) == 100 and all(s["attrs"]["obj"] == "<Widget>" for s in odd)
    assert stats.unserializable == 100
    reports = [r.getMessage() for r in caplog.records if r.name == "racelane"]
    assert len(reports) == 1 and "Widget" in reports[0], reports


def test_unserializable_count_is_exact_when_a_batch_needs_the_slow_path(tmp_path):
    """stats.unserializable counts each replaced value once, even when another row in the batch forces row-by-row serialization."""
    path = tmp_path / "slow-path.jsonl"
    rec = tracer.start(str(path), flush_interval_s=3600, handle_sigterm=False)
    try:
        for i in range(10):
            with tracer.span("odd", obj=Widget(), i=i):
                pass
        with tracer.span("huge", n=2**70):  # orjson refuses ints over 64 bits: the batch falls back
            pass
        for i in range(10):
            with tracer.span("odd", obj=Widget(), i=i):
                pass
    finally:
        stats = rec.stop()
    records = read_strict(path)
    assert sum(s["attrs"].get("obj") == "<Widget>" for s in spans_of(records)) == 20
    assert stats.unserializable == 20 + 1


# --- 7. file mode and append --------------------------------------------------------------
def test_new_file_is_private_and_existing_content_is_kept(tmp_path):
    """A new trace file has mode 0600; a pre-existing file is appended to, never truncated."""
    new = tmp_path / "new.jsonl"
    old_umask = os.umask(0)  # even a permissive umask must not widen the mode
    try:
        with tracer.start(str(new), handle_sigterm=False):
            with tracer.span("a"):
                pass
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(new.stat().st_mode) == 0o600

    existing = tmp_path / "existing.jsonl"
    previous = b'{"type":"note","text":"from an earlier run"}\n'
    existing.write_bytes(previous)
    with tracer.start(str(existing), handle_sigterm=False):
        with tracer.span("b"):
            pass
    data = existing.read_bytes()
    assert data.startswith(previous)
    records = [orjson.loads(line) for line in complete_lines(data[len(previous):])]
    assert records[0]["type"] == "header" and records[-1]["type"] == "end"
    assert name_counts(records) == {"b": 1}


# --- 8. exceptions ----------------------------------------------------------------------
class QuotaExceeded(Exception):
    """A program's own exception type."""


def _fail(err: BaseException) -> None:
    raise err


@pytest.mark.parametrize("err", [ValueError("bad value"), QuotaExceeded("quota of 10 exceeded")])
def test_exception_inside_span_propagates_unchanged_and_is_recorded(tmp_path, err):
    """An exception leaves a span as the same object with the same traceback; the error column is [type, message]."""
    path = tmp_path / "exc.jsonl"
    with tracer.start(str(path), handle_sigterm=False):
        with pytest.raises(type(err)) as info, tracer.span("failing"):
            _fail(err)
    assert info.value is err
    assert err.__context__ is None and err.__cause__ is None
    frames = [(f.name, f.filename) for f in traceback.extract_tb(err.__traceback__)]
    assert frames[-1][0] == "_fail" and frames[0][0].startswith("test_exception_inside_span")
    assert not any("tracer" + os.sep + "record" in filename for _, filename in frames)
    (span,) = spans_of(read_strict(path))
    assert span["error"] == [type(err).__name__, str(err)]


# --- 9. bounded memory ------------------------------------------------------------------------
def test_buffer_is_bounded_and_every_span_is_written_or_counted_dropped(tmp_path):
    """With max_buffered=1000 and an idle flusher, a 5000-span burst never raises; written + dropped == recorded."""
    path = tmp_path / "burst.jsonl"
    rec = tracer.start(str(path), flush_interval_s=3600, max_buffered=1000, handle_sigterm=False)
    try:
        for i in range(5000):
            with tracer.span("burst", i=i):
                pass
    finally:
        stats = rec.stop()
    written = name_counts(read_strict(path))["burst"]
    assert stats.spans == written
    assert stats.dropped > 0 or written == 5000
    assert written + stats.dropped == 5000


def test_marks_wake_the_flusher_before_the_buffer_is_full(tmp_path):
    """Marks, like spans, wake the flusher at max_buffered//4, so paced marks are never dropped."""
    path = tmp_path / "marks.jsonl"
    rec = tracer.start(str(path), flush_interval_s=3600, max_buffered=1000, handle_sigterm=False)
    try:
        for i in range(5000):
            tracer.mark("tick", i=i)
            if i % 100 == 99:
                time.sleep(0.005)  # time enough for a woken flusher to drain the buffer
    finally:
        stats = rec.stop()
    assert len(marks_of(read_strict(path))) + stats.dropped == 5000
    assert stats.dropped == 0


# --- 10. os.fork -------------------------------------------------------------------------------
FORK = """
    import json, os, sys
    import tracer

    rec = tracer.start(sys.argv[1], flush_interval_s=3600)  # nothing flushed before fork
    for i in range(5):
        with tracer.span("parent-before", i=i):
            pass
    tracer.mark("parent-mark")
    with tracer.span("parent-open"):
        pid = os.fork()
        if pid == 0:
            for i in range(3):
                with tracer.span("child", i=i):
                    pass
            tracer.mark("child-mark")
            sys.exit(0)  # atexit stops the child's recording
        _, status = os.waitpid(pid, 0)
    with tracer.span("parent-after"):
        pass
    rec.stop()
    print(json.dumps({"parent": os.getpid(), "child": pid, "child_status": status}))
"""


def test_forked_child_records_into_its_own_file_without_parent_spans(tmp_path):
    """After os.fork the child's spans go to <root>-<childpid>.jsonl only, and the parent's unflushed spans are not copied there."""
    script = write_script(tmp_path, "fork.py", FORK)
    path = tmp_path / "fork.jsonl"
    result = run_script(script, path, timeout=20)
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout.strip().splitlines()[-1])
    assert info["child_status"] == 0
    assert {p.name for p in tmp_path.glob("*.jsonl")} == {"fork.jsonl", f"fork-{info['child']}.jsonl"}

    parent = check_well_formed(path, info["parent"])
    assert parent[-1]["type"] == "end" and sum(r["type"] == "end" for r in parent) == 1
    assert name_counts(parent) == {"parent-before": 5, "parent-open": 1, "parent-after": 1}
    assert [m["name"] for m in marks_of(parent)] == ["parent-mark"]

    child = check_well_formed(tmp_path / f"fork-{info['child']}.jsonl", info["child"])
    assert child[-1]["type"] == "end"
    assert name_counts(child) == {"child": 3}
    assert open_of(child) == []  # the parent's open span is not the child's
    assert [m["name"] for m in marks_of(child)] == ["child-mark"]
    assert child[-1]["stats"]["spans"] == 3


# --- fork: what a program does in the child ------------------------------------------------------
MP_CHILD_EXITS = """
    import json, multiprocessing as mp, os, sys
    import tracer

    def work():
        for i in range(200):
            with tracer.span("child", i=i):
                pass
        # returns at once: multiprocessing ends the child with os._exit

    if __name__ == "__main__":
        ctx = mp.get_context("fork")
        rec = tracer.start(sys.argv[1], flush_interval_s=0.1)
        p = ctx.Process(target=work)
        p.start()
        p.join()
        rec.stop()
        print(json.dumps({"child": p.pid, "exitcode": p.exitcode}))
"""


def test_multiprocessing_child_flushes_when_it_exits(tmp_path):
    """A multiprocessing (fork) child that inherited the recording writes its last spans and an end line when it exits."""
    script = write_script(tmp_path, "mpchild.py", MP_CHILD_EXITS)
    result = run_script(script, tmp_path / "mp.jsonl", timeout=20)
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout.strip().splitlines()[-1])
    assert info["exitcode"] == 0
    child = check_well_formed(tmp_path / f"mp-{info['child']}.jsonl", info["child"])
    assert name_counts(child) == {"child": 200}
    assert child[-1]["type"] == "end"


FORK_CHILD_USES_API = """
    import json, os, sys
    import tracer

    how = sys.argv[2]
    rec = tracer.start(sys.argv[1], flush_interval_s=3600)
    with tracer.span("parent-before"):
        pass
    rec.flush()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        for i in range(3):
            with tracer.span("child", i=i):
                pass
        report = {}
        if how == "stop":
            stats = tracer.stop()
            report = {"spans": stats.spans if stats else None, "recording": tracer.is_recording()}
        else:
            rec.flush()
        os.write(w, json.dumps(report).encode())
        os._exit(0)  # like a worker that leaves without atexit
    os.close(w)
    report = json.loads(os.read(r, 65536) or b"{}")
    os.waitpid(pid, 0)
    rec.stop()
    print(json.dumps({"parent": os.getpid(), "child": pid, "report": report}))
"""


def test_tracer_stop_in_forked_child_stops_the_childs_recording(tmp_path):
    """tracer.stop() in a forked child stops the child's recording, returns its stats and writes its end line."""
    script = write_script(tmp_path, "forkapi.py", FORK_CHILD_USES_API)
    result = run_script(script, tmp_path / "api.jsonl", "stop", timeout=20)
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout.strip().splitlines()[-1])
    assert info["report"] == {"spans": 3, "recording": False}
    child = check_well_formed(tmp_path / f"api-{info['child']}.jsonl", info["child"])
    assert name_counts(child) == {"child": 3} and child[-1]["type"] == "end"


def test_recording_flush_in_forked_child_never_writes_into_parent_file(tmp_path):
    """rec.flush() called in a forked child writes the child's spans to the child's file, never the parent's."""
    script = write_script(tmp_path, "forkflush.py", FORK_CHILD_USES_API)
    result = run_script(script, tmp_path / "flush.jsonl", "flush", timeout=20)
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout.strip().splitlines()[-1])
    parent = check_well_formed(tmp_path / "flush.jsonl", info["parent"])
    assert name_counts(parent) == {"parent-before": 1}
    child = check_well_formed(tmp_path / f"flush-{info['child']}.jsonl", info["child"])
    assert name_counts(child) == {"child": 3}


# --- SIGTERM while stopping -----------------------------------------------------------------------
SIGTERM_DURING_STOP = """
    import os, signal, sys
    import tracer

    class FileSink:
        # A file sink that delivers SIGTERM to its own process at one chosen write,
        # exactly as if the service manager's SIGTERM arrived during the final flush.
        description = "file"

        def __init__(self, path):
            self.f = open(path, "ab")
            self.armed = False

        def write(self, data):
            if self.armed:
                self.armed = False
                os.kill(os.getpid(), signal.SIGTERM)
            self.f.write(data)
            self.f.flush()
            return None

        def close(self):
            self.f.close()

    sink = FileSink(sys.argv[1])
    rec = tracer.start(sink=sink, flush_interval_s=3600)
    for i in range(100):
        with tracer.span("work", i=i):
            pass
    sink.armed = True
    rec.stop()
    print("stopped", flush=True)
"""


def test_sigterm_during_stop_does_not_hang(tmp_path):
    """A SIGTERM that arrives while stop() is flushing still ends the process, with every span written."""
    script = write_script(tmp_path, "termstop.py", SIGTERM_DURING_STOP)
    path = tmp_path / "termstop.jsonl"
    try:
        result = run_script(script, path, timeout=4)
    except subprocess.TimeoutExpired:
        pytest.fail("the process hung after SIGTERM arrived during stop()")
    assert result.returncode in (0, -signal.SIGTERM), result.stderr
    records = read_strict(path)
    assert name_counts(records) == {"work": 100}
    assert records[-1]["type"] == "end"

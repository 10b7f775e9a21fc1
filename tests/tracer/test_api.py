"""The recording API as a program uses it: spans, marks, decorators, locks, lanes."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from importlib import resources

import jsonschema
import orjson
import pytest

import tracer
from tracer.record.format import iter_rows
from tracer.testing import capture


def by_name(spans):
    return {s["name"]: s for s in spans}


def test_span_records_name_category_attributes_and_times():
    """A span carries its name, category, attributes and ordered times."""
    with capture() as cap:
        with tracer.span("db.query", cat="db", host="host2") as s:
            s.set("result_uuids", ["a", "b"])
    (span,) = cap.spans
    assert span["name"] == "db.query"
    assert span["cat"] == "db"
    assert span["attrs"] == {"host": "host2", "result_uuids": ["a", "b"]}
    assert 0 < span["start_ns"] <= span["end_ns"]


def test_nested_spans_get_parent_ids_within_a_lane():
    """An inner span's parent is the enclosing span of the same lane."""
    with capture() as cap:
        with tracer.span("outer"), tracer.span("inner"):
            tracer.mark("tick", cat="x", n=1)
    spans = by_name(cap.spans)
    assert spans["inner"]["parent"] == spans["outer"]["id"]
    assert spans["outer"]["parent"] == 0
    assert spans["inner"]["lane"] == spans["outer"]["lane"]
    (mark,) = cap.marks
    assert mark["span"] == spans["inner"]["id"]
    assert mark["attrs"] == {"n": 1}


def test_exception_propagates_unchanged_and_is_recorded():
    """An exception leaves the span unchanged and the span records its type and message."""
    err = KeyError("gone")
    with capture() as cap:
        with pytest.raises(KeyError) as info, tracer.span("boom"):
            raise err
    assert info.value is err
    assert cap.spans[0]["error"] == ["KeyError", "'gone'"]


def test_traced_bare_and_with_arguments_on_plain_and_async_functions():
    """@traced works bare and with arguments, on def and async def, and returns values."""

    @tracer.traced
    def plain(x):
        return x + 1

    @tracer.traced(name="custom", cat="audit", fixed=1)
    async def coro(x):
        await asyncio.sleep(0)
        return x * 2

    with capture() as cap:
        assert plain(1) == 2
        assert asyncio.run(coro(3)) == 6
    spans = by_name(cap.spans)
    assert any(name.endswith("plain") for name in spans)
    assert spans["custom"]["cat"] == "audit"
    assert spans["custom"]["attrs"] == {"fixed": 1}
    assert plain.__name__ == "plain"


def test_recording_off_returns_shared_noop_and_records_nothing():
    """Without a recording, span() is a shared no-op and traced functions run untouched."""
    first = tracer.span("a", x=1)
    assert first is tracer.span("b")
    with first as s:
        s.set("k", "v")
    assert tracer.current() is None
    assert not tracer.is_recording()


def test_threads_get_their_own_lanes_and_inherit_the_spawning_span():
    """A thread started inside a span records in its own lane, parented to that span."""
    def work():
        with tracer.span("child"):
            pass

    with capture() as cap:
        with tracer.span("spawner"):
            t = threading.Thread(target=work, name="worker-1")
            t.start()
            t.join()
    spans = by_name(cap.spans)
    assert spans["child"]["lane"] != spans["spawner"]["lane"]
    assert spans["child"]["parent"] == spans["spawner"]["id"]
    lane = cap.lanes[spans["child"]["lane"]]
    assert lane["kind"] == "thread" and lane["name"] == "worker-1"
    assert lane["spawned_by"] == spans["spawner"]["id"]


def test_explicit_handle_links_work_across_lanes():
    """tracer.current() passed to another lane and adopted there becomes the parent."""
    box = {}

    def work(handle):
        tracer.adopt(handle)
        with tracer.span("adopted"):
            pass

    with capture() as cap:
        with tracer.span("origin"):
            box["h"] = tracer.current()
        t = threading.Thread(target=work, args=(box["h"],))
        t.start()
        t.join()
    spans = by_name(cap.spans)
    assert spans["adopted"]["parent"] == spans["origin"]["id"]


def test_asyncio_tasks_are_lanes_and_inherit_the_creating_span():
    """Each asyncio task is a lane; a task created inside a span is parented to it."""

    async def child(n):
        with tracer.span(f"child-{n}"):
            await asyncio.sleep(0)

    async def main():
        with tracer.span("parent"):
            await asyncio.gather(*(asyncio.create_task(child(n)) for n in range(3)))

    with capture() as cap:
        asyncio.run(main())
    spans = by_name(cap.spans)
    lanes = {spans[f"child-{n}"]["lane"] for n in range(3)}
    assert len(lanes) == 3 and spans["parent"]["lane"] not in lanes
    assert all(spans[f"child-{n}"]["parent"] == spans["parent"]["id"] for n in range(3))
    assert all(cap.lanes[lane]["kind"] == "task" for lane in lanes)


def test_traced_lock_records_wait_and_hold_with_nested_work():
    """A traced lock records a wait span and a hold span that encloses work under it."""
    lock = tracer.traced_lock(threading.Lock(), "compute_resources")
    with capture() as cap:
        with lock, tracer.span("work"):
            pass
        assert lock.acquire()
        lock.release()
    spans = cap.spans
    waits = [s for s in spans if s["name"] == "lock.wait compute_resources"]
    holds = [s for s in spans if s["name"] == "lock.held compute_resources"]
    assert len(waits) == 2 and len(holds) == 2
    assert all(s["cat"] == "lock" and s["attrs"]["lock"] == "compute_resources" for s in waits + holds)
    assert all(w["attrs"]["acquired"] is True for w in waits)
    work = by_name(spans)["work"]
    assert work["parent"] in {h["id"] for h in holds}


def test_failed_acquire_still_records_the_wait():
    """A timed-out acquire records a wait span with acquired=false and no hold."""
    inner = threading.Lock()
    inner.acquire()
    lock = tracer.traced_lock(inner, "busy")
    with capture() as cap:
        assert lock.acquire(timeout=0.01) is False
    (wait,) = cap.spans
    assert wait["name"] == "lock.wait busy" and wait["attrs"]["acquired"] is False


def test_acquire_that_raises_records_the_wait_with_the_error():
    """An acquire that raises propagates the error and still writes the wait span."""

    class Broken:
        def acquire(self, *a, **k):
            raise RuntimeError("lock service down")

        def release(self):
            pass

    lock = tracer.traced_lock(Broken(), "remote")
    with capture() as cap, pytest.raises(RuntimeError):
        lock.acquire()
    (wait,) = cap.spans
    assert wait["error"] == ["RuntimeError", "lock service down"]


def test_unfinished_span_is_written_as_open_at_stop():
    """A span still open when recording stops is written as an open row."""
    with capture() as cap:
        s = tracer.span("never-ends")
        s.__enter__()
    assert [o["name"] for o in cap.open_spans] == ["never-ends"]
    assert cap.spans == []


def test_every_recorded_line_matches_the_schema(tmp_path):
    """Each line of a recorded file validates against the shipped JSON Schema."""
    schema = json.loads(resources.files("tracer.record").joinpath("schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    path = tmp_path / "t.jsonl"
    with tracer.start(str(path), handle_sigterm=False):
        with tracer.span("a", cat="db", n=1), tracer.traced_lock(threading.Lock(), "L"):
            tracer.mark("m", x="y")
        try:
            with tracer.span("err"):
                raise ValueError("v")
        except ValueError:
            pass
        tracer.span("open").__enter__()
    lines = path.read_bytes().splitlines()
    assert orjson.loads(lines[0])["type"] == "header"
    for line in lines:
        validator.validate(orjson.loads(line))
    assert orjson.loads(lines[-1])["type"] == "end"


def test_header_anchors_the_clock_and_names_the_process(tmp_path):
    """The header carries host, pid, process and a monotonic/wall clock anchor."""
    path = tmp_path / "h.jsonl"
    with tracer.start(str(path), host="host2", process="nova-compute", handle_sigterm=False):
        pass
    header = orjson.loads(path.read_bytes().splitlines()[0])
    assert header["format"] == "racelane" and header["version"] == 1
    assert header["host"] == "host2" and header["process"] == "nova-compute"
    assert header["clock"]["wall_ns"] > 1_600_000_000 * 10**9
    assert header["clock"]["monotonic_ns"] > 0


def test_path_placeholders_expand(tmp_path):
    """{host} and {pid} in the output path expand."""
    with tracer.start(str(tmp_path / "x-{host}-{pid}.jsonl"), host="h9", handle_sigterm=False) as rec:
        pass
    assert rec.path.endswith(f"x-h9-{__import__('os').getpid()}.jsonl")


def test_starting_twice_is_refused():
    """A second start while recording raises instead of mixing two files."""
    with capture(), pytest.raises(RuntimeError, match="already recording"):
        tracer.start("/tmp/never.jsonl")


def test_bad_options_are_reported_clearly():
    """A malformed option raises ConfigError with what was wrong."""
    from tracer.record.errors import ConfigError

    with pytest.raises(ConfigError, match="flush interval"):
        tracer.start("/tmp/x.jsonl", flush_interval_s=0)
    with pytest.raises(ConfigError, match="placeholder"):
        tracer.start("/tmp/{nope}.jsonl")


def test_import_tracer_loads_no_heavy_modules():
    """`import tracer` loads neither numpy, watchdog, PySide6 nor orjson."""
    code = "import sys, tracer; print(sorted(m for m in ('numpy','watchdog','PySide6','pyqtgraph','orjson') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_many_spans_with_repeated_attribute_keys_stay_valid(tmp_path):
    """Thousands of spans sharing attribute keys (the redaction fast path) all land, valid."""
    schema = json.loads(resources.files("tracer.record").joinpath("schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    path = tmp_path / "many.jsonl"
    rec = tracer.start(str(path), handle_sigterm=False)
    for i in range(20_000):  # several flushes: the soft limit wakes the flusher every 8192 rows
        with tracer.span("query", cat="db", i=i, host="host2", ok=True, ratio=0.5, none=None):
            pass
    assert rec.stop().dropped == 0
    records = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    for record in records:
        validator.validate(record)
    rows = [row for r in records if r["type"] == "spans" for row in iter_rows(r)]
    assert [row["attrs"]["i"] for row in rows] == list(range(20_000))


def test_attributes_from_keywords_in_any_order_with_name_and_cat_among_them():
    """name= and cat= are never attributes, wherever they stand among the keywords."""
    with capture() as cap:
        for i in range(3):  # the same call site several times
            with tracer.span(cat="c1", name="kw-first", a=i, b="x") as s:
                assert s.attrs == {"a": i, "b": "x"}
        with tracer.span("mid", a=1, cat="c2", b=2):
            pass
        with tracer.span("plain"):
            pass
        with tracer.span("later", a=1) as s:
            s.set("b", 2)
            s.update(c=3)
            assert s.attrs == {"a": 1, "b": 2, "c": 3}
        with tracer.span("empty-then-set") as s:
            assert s.attrs == {}
            s.set("z", [1, 2])
        with tracer.span("replaced", a=1) as s:
            s.attrs = {"only": True}
    rows = cap.spans
    assert [(r["name"], r["cat"], r["attrs"]) for r in rows] == [
        ("kw-first", "c1", {"a": 0, "b": "x"}),
        ("kw-first", "c1", {"a": 1, "b": "x"}),
        ("kw-first", "c1", {"a": 2, "b": "x"}),
        ("mid", "c2", {"a": 1, "b": 2}),
        ("plain", "", None),
        ("later", "", {"a": 1, "b": 2, "c": 3}),
        ("empty-then-set", "", {"z": [1, 2]}),
        ("replaced", "", {"only": True}),
    ]


def test_names_and_keys_utf8_cannot_hold_are_written_escaped_and_never_raise(caplog):
    """A lone surrogate (from os.fsdecode of a bad path, say) in a name, key or value."""
    with capture() as cap:
        with tracer.span("before"):
            pass
        with tracer.span("bad\udc80name", cat="c\udc81", path="/srv/\udc82"):
            tracer.mark("mark\udc83")
        with tracer.span("keys", **{"k\udc84": 1}):
            pass
        with tracer.span("after"):
            pass
    names = [row["name"] for row in cap.spans]
    assert names == ["before", "bad\\udc80name", "keys", "after"]
    bad = cap.spans[1]
    assert bad["cat"] == "c\\udc81"
    assert bad["attrs"]["path"].startswith("<not serializable")
    assert cap.spans[2]["attrs"] == {"k\\udc84": 1}
    assert [m["name"] for m in cap.marks] == ["mark\\udc83"]


def test_eventlet_imported_after_start_still_links_greenthreads(tmp_path):
    """Greenthreads spawned by an eventlet imported after start() get their own lanes and parents."""
    code = f"""
import tracer, orjson
rec = tracer.start({str(tmp_path / 'e.jsonl')!r}, handle_sigterm=False)
import eventlet
eventlet.monkey_patch()
def child():
    with tracer.span("child"):
        eventlet.sleep(0)
with tracer.span("parent"):
    for g in [eventlet.spawn(child) for _ in range(3)]:
        g.wait()
rec.stop()
"""
    subprocess.run([sys.executable, "-W", "ignore", "-c", code], check=True, timeout=60)
    records = [orjson.loads(line) for line in (tmp_path / "e.jsonl").read_bytes().splitlines()]
    rows = [row for r in records if r["type"] == "spans" for row in iter_rows(r)]
    parent = next(r for r in rows if r["name"] == "parent")
    children = [r for r in rows if r["name"] == "child"]
    assert len({c["lane"] for c in children}) == 3 and parent["lane"] not in {c["lane"] for c in children}
    assert all(c["parent"] == parent["id"] for c in children)
    kinds = {r["lane"]: r["kind"] for r in records if r["type"] == "lane"}
    assert all(kinds[c["lane"]] == "greenthread" for c in children)

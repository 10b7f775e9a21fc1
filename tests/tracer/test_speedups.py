"""The C accelerator (tracer/record/_speedups.c) against the pure-Python hot path.

core.py's ``Span`` and ``span`` are the reference; the accelerator must write
the same records for the same program. Each implementation runs the same
workload in its own process (RACELANE_PURE=1 selects the Python one) and the
normalized files are compared.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tracer
import tracer.testing
from tracer.record import core
from tracer.record.recorder import _redact_slow
from tracer.record.redact import Redactor

ROOT = Path(__file__).resolve().parents[2]


def _compiler_available() -> bool:
    cc = (sysconfig.get_config_var("CC") or "cc").split()[0]
    return shutil.which(cc) is not None and os.path.exists(sysconfig.get_paths()["include"] + "/Python.h")


def test_accelerator_is_built_and_used_where_a_compiler_exists():
    if os.environ.get("RACELANE_PURE") == "1":
        pytest.skip("RACELANE_PURE=1 asks for the pure-Python hot path")
    if not _compiler_available():
        pytest.skip("no C compiler or Python headers: the pure-Python hot path is expected")
    assert core.accelerated(), "tracer.record._speedups was not built (make setup builds it)"
    assert core.Span is core._speedups.Span
    assert core.span is core._speedups.span


WORKLOAD = """
import asyncio, sys, threading
import greenlet
import tracer
from tracer.record import core

print("accelerated" if core.accelerated() else "pure")
rec = tracer.start(sys.argv[1], id_start=1000, flush_interval_s=3600)
with tracer.span("outer", cat="audit", host="h2") as outer:
    outer.set("late", [1, 2])
    outer.update(a=1, b="x")
    with tracer.span("inner", "db"):
        pass
    handle = outer.handle
    assert handle is not None and handle.span_id == outer.id
try:
    with tracer.span("fails", cat="db"):
        raise ValueError("no such instance")
except ValueError:
    pass
with tracer.span(name="kw-name", cat="kw"):
    pass
with tracer.span("odd-kw", **{"".join(["c", "at"]): "joined", "pass" + "word": "s3cr3t"}):
    pass
with tracer.span("secret", token="abc", url="mysql+pymysql://nova:s3cr3t@db/nova", big="x" * 5000):
    pass
class Custom:
    pass
with tracer.span('quo"te\\\\n\\x01', cat="t\\tab", text='a "b" \\\\ c\\n\\x1f é ☃ 😀', huge=2 ** 64, neg=-2 ** 63,
                 u64=2 ** 64 - 1, tags={"x", "y"} and ["x"], obj=Custom(), sur="\\udc80", nan=float("nan"),
                 nested={"a": [1, 2.5, None, True, {"b": (3, "c")}]}, f=1e16, tiny=5e-324):
    pass
with tracer.span("bad-key", **{}) as bad:
    bad.attrs[3] = "int key"
with tracer.span("a-set", members={1, 2}):
    pass
a = tracer.span("a"); b = tracer.span("b")
a.__enter__(); b.__enter__()
a.__exit__(None, None, None)  # out of order: a leaves from under b
b.__exit__(None, None, None)
made = core.Span("made", "lock", {"lock": "compute_resources"})
with made:
    pass
def work(k):
    for i in range(20):
        with tracer.span("thread-work", k=k, i=i):
            pass
threads = [threading.Thread(target=work, args=(k,)) for k in range(3)]
for t in threads: t.start()
for t in threads: t.join()
def glet_work(k):
    with tracer.span("glet-work", k=k):
        greenlet.getcurrent().parent.switch()
glets = [greenlet.greenlet(glet_work) for k in range(2)]
for k, g in enumerate(glets): g.switch(k)
for g in glets: g.switch()
async def task(k):
    with tracer.span("task-work", k=k):
        await asyncio.sleep(0)
        with tracer.span("task-inner", k=k):
            await asyncio.sleep(0)
async def main():
    await asyncio.gather(*(task(k) for k in range(3)))
asyncio.run(main())
left_open = tracer.span("left-open")
left_open.__enter__()
stale = tracer.span("stale")
stale.__enter__()
rec.stop()
stale.__exit__(None, None, None)  # after stop: ignored
with tracer.span("after-stop"):
    pass
try:
    tracer.span()
except TypeError as err:
    print("TypeError", err)
try:
    tracer.span("x", name="y")
except TypeError:
    print("TypeError duplicate")
"""


def _run(tmp_path: Path, pure: bool) -> tuple[str, list[dict[str, Any]]]:
    script = tmp_path / "workload.py"
    script.write_text(textwrap.dedent(WORKLOAD))
    out = tmp_path / ("pure.jsonl" if pure else "fast.jsonl")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RACELANE_")}
    if pure:
        env["RACELANE_PURE"] = "1"
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run([sys.executable, str(script), str(out)], capture_output=True, text=True, env=env,
                          timeout=60, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, [orjson.loads(line) for line in out.read_bytes().splitlines()]


def _normalized(records: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Spans as (name, cat, parent name, lane kind, error, attrs, kind), times and ids left out."""
    lanes = {r["lane"]: r["kind"] for r in records if r["type"] == "lane"}
    spans: list[tuple[int, int, str, str, Any, Any, int, str]] = []
    for record in records:
        if record["type"] in ("spans", "open"):
            for row, attrs in zip(record["rows"], record["attrs"]):
                error = row[7] if record["type"] == "spans" else None
                spans.append((row[0], row[1], row[5] if record["type"] == "spans" else row[4],
                              row[6] if record["type"] == "spans" else row[5], error, attrs, row[2], record["type"]))
    names = {s[0]: s[2] for s in spans}
    return sorted(
        (name, cat, names.get(parent, "-"), lanes.get(lane, "?"), orjson.dumps(error), orjson.dumps(attrs,
         option=orjson.OPT_SORT_KEYS), kind)
        for _id, parent, name, cat, error, attrs, lane, kind in spans
    )


@pytest.mark.skipif(not core.accelerated(), reason="the C accelerator is not built here")
def test_accelerator_writes_what_the_python_hot_path_writes(tmp_path):
    fast_out, fast = _run(tmp_path, pure=False)
    pure_out, pure = _run(tmp_path, pure=True)
    assert fast_out.splitlines()[0] == "accelerated"
    assert pure_out.splitlines()[0] == "pure"
    assert fast_out.splitlines()[1:] == pure_out.splitlines()[1:]
    assert "TypeError duplicate" in fast_out
    assert _normalized(fast) == _normalized(pure)
    names = [row[0] for row in _normalized(fast)]
    assert "after-stop" not in names
    assert [row[-1] for row in _normalized(fast) if row[0] in ("stale", "left-open")] == ["open", "open"]
    assert names.count("thread-work") == 60 and names.count("task-inner") == 3
    assert {"quo\"te\\n\x01", "bad-key", "a-set"} <= set(names)
    # Span ids start where asked, in both.
    first_ids = sorted(row[0] for r in fast if r["type"] == "spans" for row in r["rows"])
    assert first_ids[0] == 1000
    text = b"".join(orjson.dumps(r) for r in fast)
    assert b"s3cr3t" not in text and b"abc" not in text


def test_python_hot_path_still_passes_the_api_tests():
    """The reference implementation keeps its own run of the API tests."""
    env = dict(os.environ, RACELANE_PURE="1")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                           str(ROOT / "tests" / "tracer" / "test_api.py")], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]


values = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                   st.text(max_size=12), st.text(alphabet="ab@", max_size=6), st.lists(st.integers(), max_size=2))
attr_dicts = st.one_of(st.none(), st.dictionaries(st.sampled_from(["host", "uuid", "token", "n", "api_key"]), values,
                                                  max_size=4))


@pytest.mark.skipif(not core.accelerated(), reason="the C accelerator is not built here")
@settings(max_examples=200, deadline=None)
@given(st.lists(attr_dicts, max_size=12))
def test_redaction_prefilter_matches_python(attrs_list):
    slow_redactor = Redactor(max_value_chars=8)
    fast_redactor = Redactor(max_value_chars=8)
    slow = [dict(a) if a is not None else None for a in attrs_list]
    fast = [dict(a) if a is not None else None for a in attrs_list]
    _redact_slow(slow_redactor, slow)
    for i in core._speedups.unsafe_rows(fast, fast_redactor.safe_keys, fast_redactor.max_value_chars):
        fast[i] = fast_redactor.attrs(fast[i])
    assert fast == slow


@pytest.mark.skipif(not core.accelerated(), reason="the C accelerator is not built here")
def test_span_enter_and_exit_bind_to_the_span_itself():
    """``with`` finds __enter__/__exit__ bound to the span itself: no method objects per span."""
    with tracer.testing.capture() as cap:
        s = tracer.span("direct", cat="t")
        assert s.__enter__ is s and s.__exit__ is s
        assert s.__enter__() is s
        assert s.__exit__(None, None, None) is False
        t = tracer.span("via-type")
        assert core.Span.__enter__(t) is t
        assert core.Span.__exit__(t, None, None, None) is False
        with pytest.raises(TypeError):
            s(1)
        with pytest.raises(TypeError):
            core.Span.__enter__(object())
        with pytest.raises(ZeroDivisionError):
            with tracer.span("raises"):
                1 / 0  # noqa: B018
    rows = {row["name"]: row for row in cap.spans}
    assert set(rows) == {"direct", "via-type", "raises"}
    assert rows["raises"]["error"][0] == "ZeroDivisionError"


@pytest.mark.skipif(not core.accelerated(), reason="the C accelerator is not built here")
def test_flusher_is_woken_once_per_batch_past_the_soft_limit(tmp_path):
    rec = tracer.start(str(tmp_path / "t.jsonl"), flush_interval_s=3600, max_buffered=40)
    woken = []
    core._wake = lambda: woken.append(1)
    core._publish()
    try:
        for i in range(35):  # the soft limit is 10 rows, the hard one 40
            with tracer.span("s", i=i):
                pass
        assert len(woken) == 1
        rec.recorder.flush()  # the flusher takes the batch: the next one wakes it again
        for i in range(15):
            with tracer.span("s", i=i):
                pass
        assert len(woken) == 2
    finally:
        stats = tracer.stop()
    assert stats.spans == 50 and stats.dropped == 0


json_leaves = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2 ** 63), max_value=2 ** 64 - 1),
    st.floats(allow_nan=True, allow_infinity=True), st.text(alphabet=st.characters(blacklist_characters="@:",
                                                                                   blacklist_categories=("Cs",)),
                                                            max_size=20))
json_values = st.recursive(
    json_leaves,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.tuples(inner, inner),
                            st.dictionaries(st.text(alphabet="abxyz\"\\\nü", max_size=4), inner, max_size=3)),
    max_leaves=8)


@pytest.mark.skipif(not core.accelerated(), reason="the C accelerator is not built here")
@settings(max_examples=150, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(["a", "n", "host", "x_y", "ü"]), json_values, max_size=3),
                min_size=1, max_size=6),
       st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=8))
def test_c_writer_matches_orjson(attrs_list, name):
    """What SpanBatch.dump writes parses to what orjson writes for the same values."""
    with tracer.testing.capture() as cap:
        for attrs in attrs_list:
            with tracer.span(name, cat="c\"at", **attrs):
                pass
    got = [(row["name"], row["cat"], row["attrs"]) for row in cap.spans]
    want = [orjson.loads(orjson.dumps([name, 'c"at', attrs or None])) for attrs in attrs_list]
    assert [list(g) for g in got] == want

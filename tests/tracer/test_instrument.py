"""instrument/uninstrument by dotted path, on the targets in standins/racelane_targets.py."""

from __future__ import annotations

import asyncio
import inspect
import threading
import time

import pytest

import tracer
from tracer.record.errors import ConfigError, RacelaneError, TargetNotFound
from tracer.record.instrument import instrument, instrumented, uninstrument
from tracer.testing import capture

T = "racelane_targets"


@pytest.fixture
def targets(standins):
    """The racelane_targets module, freshly imported from the standins folder."""
    import racelane_targets

    return racelane_targets


def _only(cap, name):
    found = [s for s in cap.spans if s["name"] == name]
    assert len(found) == 1, [s["name"] for s in cap.spans]
    return found[0]


# --- kinds of targets --------------------------------------------------------------


def test_plain_function(targets):
    """A module-level function is wrapped, recorded with its attributes and restored by undo."""
    original = targets.add
    item = instrument(f"{T}.add", cat="calc", attrs={"x": "x", "y": "y"}, result={"sum": "result"})
    assert targets.add is not original
    assert targets.add.__wrapped__ is original
    assert instrumented() == [f"{T}.add"]
    with capture() as cap:
        assert targets.add(1) == 3
        assert targets.add(1, y=5) == 6
    assert [(s["name"], s["cat"], s["attrs"]) for s in cap.spans] == [
        ("add", "calc", {"x": 1, "y": 2, "sum": 3}),
        ("add", "calc", {"x": 1, "y": 5, "sum": 6}),
    ]
    item.undo()
    assert targets.__dict__["add"] is original
    assert instrumented() == []


def test_not_recording_passes_through(targets):
    """Without a recording the wrapper only calls the original."""
    instrument(f"{T}.add", attrs={"x": "x"})
    assert targets.add(2, 3) == 5
    with capture() as cap:
        pass
    assert cap.spans == []


def test_public_instrument_api(targets):
    """tracer.instrument and tracer.uninstrument wrap and restore a target."""
    original = targets.Base.__dict__["greet"]
    tracer.instrument(f"{T}.Base.greet", cat="api", attrs={"name": "name"})
    with capture() as cap:
        targets.Base().greet("zoe")
    assert _only(cap, "Base.greet")["attrs"] == {"name": "zoe"}
    assert tracer.uninstrument(f"{T}.Base.greet") == 1
    assert targets.Base.__dict__["greet"] is original


def test_method(targets):
    """A method records paths on self and on positional or keyword arguments."""
    instrument(f"{T}.Base.greet", attrs={"host": "self.host", "name": "name"}, result={"said": "result"})
    with capture() as cap:
        assert targets.Base("h2").greet("bob") == "h2 greets bob"
        assert targets.Base("h3").greet(name="amy") == "h3 greets amy"
    assert [s["attrs"] for s in cap.spans] == [
        {"host": "h2", "name": "bob", "said": "h2 greets bob"},
        {"host": "h3", "name": "amy", "said": "h3 greets amy"},
    ]
    assert {s["name"] for s in cap.spans} == {"Base.greet"}


def test_classmethod(targets):
    """A classmethod stays a classmethod bound to the class it is called on, and comes back identical."""
    original = targets.Base.__dict__["build"]
    item = instrument(f"{T}.Base.build", attrs={"host": "host"}, result={"made": "result.host"})
    assert isinstance(targets.Base.__dict__["build"], classmethod)
    with capture() as cap:
        made = targets.Base.build("h4")
        sub = targets.Sub.build("h5")
    assert type(made) is targets.Base
    assert type(sub) is targets.Sub
    assert [s["attrs"] for s in cap.spans] == [{"host": "h4", "made": "h4"}, {"host": "h5", "made": "h5"}]
    item.undo()
    assert targets.Base.__dict__["build"] is original


def test_staticmethod(targets):
    """A staticmethod works from the class and from an instance, and comes back identical."""
    original = targets.Base.__dict__["double"]
    item = instrument(f"{T}.Base.double", attrs={"value": "value"}, result={"doubled": "result"})
    assert isinstance(targets.Base.__dict__["double"], staticmethod)
    with capture() as cap:
        assert targets.Base.double(4) == 8
        assert targets.Base().double(5) == 10
    assert [s["attrs"] for s in cap.spans] == [{"value": 4, "doubled": 8}, {"value": 5, "doubled": 10}]
    item.undo()
    assert targets.Base.__dict__["double"] is original


def test_async_method(targets):
    """An async def method stays a coroutine function; its span covers the await and reads the result."""
    original = targets.Base.__dict__["fetch"]
    item = instrument(
        f"{T}.Base.fetch", cat="io", attrs={"ident": "ident"}, result={"xs": "result[].x", "n": "result#"}
    )
    assert inspect.iscoroutinefunction(targets.Base.fetch)
    with capture() as cap:
        values = asyncio.run(targets.Base().fetch(5))
    assert [v.x for v in values] == [5, 6]
    span = _only(cap, "Base.fetch")
    assert span["cat"] == "io"
    assert span["attrs"] == {"ident": 5, "xs": [5, 6], "n": 2}
    assert span["end_ns"] >= span["start_ns"]
    item.undo()
    assert targets.Base.__dict__["fetch"] is original


def test_already_decorated_method(targets):
    """A functools.wraps-decorated method keeps its decorator and its parameters are read by name."""
    original = targets.Base.__dict__["decorated"]
    assert original.__wrapped__.__name__ == "decorated"
    item = instrument(f"{T}.Base.decorated", attrs={"item": "item"}, result={"tripled": "result"})
    with capture() as cap:
        assert targets.Base().decorated(2) == 6
        assert targets.Base().decorated(item=3) == 9
    assert targets.CALLS == ["decorated", "decorated"]
    assert [s["attrs"] for s in cap.spans] == [{"item": 2, "tripled": 6}, {"item": 3, "tripled": 9}]
    item.undo()
    assert targets.Base.__dict__["decorated"] is original


def test_inherited_method(targets):
    """An inherited method is patched on the subclass only; undo removes the override and leaves the base alone."""
    base_greet = targets.Base.__dict__["greet"]
    base_build = targets.Base.__dict__["build"]
    assert "greet" not in targets.Sub.__dict__
    greet = instrument(f"{T}.Sub.greet", attrs={"name": "name"})
    build = instrument(f"{T}.Sub.build", attrs={"host": "host"})
    assert "greet" in targets.Sub.__dict__
    assert isinstance(targets.Sub.__dict__["build"], classmethod)
    assert targets.Base.__dict__["greet"] is base_greet
    assert targets.Base.__dict__["build"] is base_build
    with capture() as cap:
        targets.Base().greet("not recorded")
        targets.Sub().greet("recorded")
        assert type(targets.Sub.build("h6")) is targets.Sub
        targets.Base.build("not recorded")
    assert [(s["name"], s["attrs"]) for s in cap.spans] == [
        ("Sub.greet", {"name": "recorded"}),
        ("Sub.build", {"host": "h6"}),
    ]
    greet.undo()
    build.undo()
    assert "greet" not in targets.Sub.__dict__
    assert "build" not in targets.Sub.__dict__
    assert targets.Base.__dict__["greet"] is base_greet
    assert targets.Base.__dict__["build"] is base_build


@pytest.mark.parametrize(
    ("target", "kind"),
    [
        ("add", "span"),
        ("named_lock", "lock"),
        ("records", "mark"),
        ("Base.greet", "span"),
        ("Base.build", "span"),
        ("Base.double", "span"),
        ("Base.fetch", "span"),
        ("Base.decorated", "span"),
        ("Sub.greet", "span"),
        ("Sub.double", "span"),
    ],
)
def test_uninstrument_restores_exactly(targets, target, kind):
    """uninstrument(target) puts back the very object that was in the owner's __dict__ (or nothing)."""
    *owner_path, attr = target.split(".")
    owner = targets
    for part in owner_path:
        owner = getattr(owner, part)
    missing = object()
    before = vars(owner).get(attr, missing)
    instrument(f"{T}.{target}", kind=kind)
    assert vars(owner).get(attr, missing) is not before
    assert uninstrument(f"{T}.{target}") == 1
    assert vars(owner).get(attr, missing) is before
    assert uninstrument(f"{T}.{target}") == 0


# --- targets that do not exist ---------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "names"),
    [
        ("racelane_no_such_pkg.mod.func", "no module named 'racelane_no_such_pkg'"),
        (f"{T}.Nope.method", f"'{T}' has no attribute 'Nope'"),
        (f"{T}.Base.nope", f"'{T}.Base' has no attribute 'nope'"),
        (f"{T}.nope", f"'{T}' has no attribute 'nope'"),
        (f"{T}.Base.greet.inner", f"'{T}.Base.greet' has no attribute 'inner'"),
        ("add", "expected a dotted path"),
        (f"{T}.CALLS", "list is not callable"),
    ],
)
def test_missing_target(targets, target, names):
    """A path naming nothing raises TargetNotFound whose message names the missing part."""
    with pytest.raises(TargetNotFound) as err:
        instrument(target)
    assert isinstance(err.value, RacelaneError)
    assert err.value.target == target
    assert names in str(err.value)
    assert instrumented() == []


def test_bad_path_root_is_a_config_error(targets):
    """A path whose root is neither a parameter nor 'result' raises ConfigError and patches nothing."""
    original = targets.add
    with pytest.raises(ConfigError) as err:
        instrument(f"{T}.add", attrs={"v": "nosuch.attr"})
    assert "'nosuch'" in str(err.value)
    assert "x, y" in str(err.value)
    assert targets.__dict__["add"] is original
    assert instrumented() == []


def test_bad_kind_is_a_config_error(targets):
    """An unknown kind raises ConfigError."""
    with pytest.raises(ConfigError, match="'trace'"):
        instrument(f"{T}.add", kind="trace")


# --- marks and locks -------------------------------------------------------------------


def test_mark_kind(targets):
    """kind='mark' records one mark per call with entry and result attributes, in the enclosing span."""
    instrument(
        f"{T}.Base.finish",
        kind="mark",
        cat="state",
        attrs={"before": "self.status", "wanted": "status"},
        result={"after": "self.status", "returned": "result"},
    )
    with capture() as cap, tracer.span("outer", cat="test"):
        assert targets.Base().finish("done") == "done"
    (outer,) = cap.spans
    assert outer["name"] == "outer"
    (mark,) = cap.marks
    assert mark["name"] == "Base.finish"
    assert mark["cat"] == "state"
    assert mark["attrs"] == {"before": "new", "wanted": "done", "after": "done", "returned": "done"}
    assert mark["span"] == outer["id"]


def test_lock_kind(targets):
    """kind='lock' on a context-manager factory records lock.wait and lock.held spans; work nests under the hold."""
    instrument(f"{T}.named_lock", kind="lock", lock_arg="name")
    instrument(f"{T}.add")
    with capture() as cap:
        assert targets.guarded("L1") == 3
    assert not targets._locks["L1"].locked()
    wait = _only(cap, "lock.wait L1")
    held = _only(cap, "lock.held L1")
    add = _only(cap, "add")
    assert wait["cat"] == held["cat"] == "lock"
    assert wait["attrs"]["lock"] == held["attrs"]["lock"] == "L1"
    assert wait["attrs"]["acquired"] is True
    assert wait["end_ns"] <= held["start_ns"]
    assert add["parent"] == held["id"]
    assert held["start_ns"] <= add["start_ns"] <= add["end_ns"] <= held["end_ns"]


def test_lock_kind_records_contention(targets):
    """A thread waiting for a lock held elsewhere records a wait as long as the other hold."""
    instrument(f"{T}.named_lock", kind="lock", lock_arg="name")
    entered = threading.Event()
    with capture() as cap:
        with targets.named_lock("L2"):
            waiter = threading.Thread(target=lambda: (entered.set(), targets.guarded("L2")))
            waiter.start()
            entered.wait(5)
            time.sleep(0.05)
        waiter.join(5)
    waits = sorted((s for s in cap.spans if s["name"] == "lock.wait L2"), key=lambda s: s["end_ns"] - s["start_ns"])
    helds = sorted((s for s in cap.spans if s["name"] == "lock.held L2"), key=lambda s: s["start_ns"])
    assert len(waits) == len(helds) == 2
    assert waits[-1]["end_ns"] - waits[-1]["start_ns"] >= 40_000_000
    assert waits[-1]["lane"] != waits[0]["lane"]
    assert helds[1]["start_ns"] >= helds[0]["end_ns"]


def test_lock_kind_without_recording(targets):
    """Outside a recording the lock factory's own context manager is returned."""
    instrument(f"{T}.named_lock", kind="lock")
    cm = targets.named_lock("L3")
    assert type(cm).__name__ == "_GeneratorContextManager"
    with cm as lock:
        assert lock.locked()


# --- attribute paths -----------------------------------------------------------------


def test_result_map_and_count(targets):
    """'result[].x' maps over the returned list and 'result#' counts it."""
    instrument(f"{T}.records", attrs={"n": "n"}, result={"xs": "result[].x", "count": "result#"})
    with capture() as cap:
        assert len(targets.records(3)) == 3
    assert _only(cap, "records")["attrs"] == {"n": 3, "xs": [0, 1, 2], "count": 3}


def test_nested_path_and_whole_objects(targets):
    """'node.y.z' walks attributes; a path ending on an object records only its type name."""
    instrument(f"{T}.depth", attrs={"z": "node.y.z", "y": "node.y", "missing": "node.y.nope"}, result={"r": "result"})
    with capture() as cap:
        assert targets.depth(targets.Branch(targets.Leaf("deep"))) == "deep"
    assert _only(cap, "depth")["attrs"] == {"z": "deep", "y": "<Leaf>", "missing": None, "r": "deep"}


def test_method_call_and_mapping_paths(targets):
    """'thing.counter.names()' calls the method; 'thing.d.a' reads a mapping key."""
    instrument(f"{T}.touch", attrs={"names": "thing.counter.names()", "a": "thing.d.a", "hosts": "thing.host"})
    base = targets.Base("h7")
    with capture() as cap:
        assert targets.touch(base) == "touched"
    assert _only(cap, "touch")["attrs"] == {"names": ["a", "b"], "a": 1, "hosts": "h7"}
    assert base.counter.calls == 1


def test_dict_keys_path(targets):
    """'self.d.keys()' records the keys of a dict attribute."""
    instrument(f"{T}.Base.greet", attrs={"names": "self.d.keys()"})
    with capture() as cap:
        targets.Base().greet("x")
    assert _only(cap, "Base.greet")["attrs"] == {"names": ["a", "b"]}


def test_raising_getter_is_skipped(targets):
    """A path whose getter raises is left out; the call and the other attributes are unaffected."""
    instrument(f"{T}.touch", attrs={"bad": "thing.value", "kind": "thing.kind"}, result={"r": "result"})
    with capture() as cap:
        assert targets.touch(targets.Exploding()) == "touched"
    span = _only(cap, "touch")
    assert span["attrs"] == {"kind": "bomb", "r": "touched"}
    assert span["error"] is None


def test_mapping_over_an_iterator_argument_leaves_it_alone(targets):
    """An 'items[]' path on an iterator argument does not change what the function receives."""
    instrument(f"{T}.total", attrs={"seen": "items[]"})
    with capture():
        assert targets.total(iter([1, 2, 3])) == 6


def test_mapping_over_an_iterator_result_leaves_it_alone(targets):
    """A 'result[]' path on a returned iterator does not consume what the caller receives."""
    instrument(f"{T}.countdown", result={"xs": "result[]"})
    with capture():
        assert list(targets.countdown(3)) == [2, 1, 0]


# --- errors, idempotence, nesting ----------------------------------------------------------


def test_exception_propagates_unchanged(targets):
    """The original exception object propagates; the span records its type and message."""
    instrument(f"{T}.fail", attrs={"error": "error"})
    error = KeyError("gone")
    with capture() as cap, pytest.raises(KeyError) as info:
        targets.fail(error)
    assert info.value is error
    assert info.traceback[-1].name == "fail"
    span = _only(cap, "fail")
    assert span["error"] == ["KeyError", "'gone'"]
    assert span["attrs"] == {"error": "<KeyError>"}


def test_async_exception_propagates(targets):
    """An exception raised in an instrumented coroutine propagates and is recorded."""
    instrument(f"{T}.Base.fetch", attrs={"ident": "ident"})
    with capture() as cap, pytest.raises(TypeError):
        asyncio.run(targets.Base().fetch("a"))
    assert _only(cap, "Base.fetch")["error"][0] == "TypeError"


def test_instrumenting_twice_is_idempotent(targets):
    """A second instrument of the same target returns the first and wraps nothing more."""
    original = targets.add
    first = instrument(f"{T}.add", cat="one")
    wrapper = targets.add
    second = instrument(f"{T}.add", cat="two")
    assert second is first
    assert targets.add is wrapper
    assert instrumented() == [f"{T}.add"]
    with capture() as cap:
        targets.add(1)
    assert [(s["name"], s["cat"]) for s in cap.spans] == [("add", "one")]
    assert uninstrument(f"{T}.add") == 1
    assert targets.__dict__["add"] is original


def test_spans_nest_under_outer_span(targets):
    """Instrumented calls nest under an enclosing tracer.span and under each other."""
    instrument(f"{T}.guarded")
    instrument(f"{T}.add")
    instrument(f"{T}.Base.greet")
    with capture() as cap:
        with tracer.span("outer", cat="test"):
            targets.guarded("L4")
            targets.Base().greet("x")
        targets.add(0)
    outer = _only(cap, "outer")
    guarded = _only(cap, "guarded")
    greet = _only(cap, "Base.greet")
    adds = sorted((s for s in cap.spans if s["name"] == "add"), key=lambda s: s["start_ns"])
    assert guarded["parent"] == outer["id"]
    assert greet["parent"] == outer["id"]
    assert adds[0]["parent"] == guarded["id"]
    assert adds[1]["parent"] == 0
    assert outer["start_ns"] <= guarded["start_ns"] <= guarded["end_ns"] <= outer["end_ns"]


def test_uninstrument_all(targets):
    """uninstrument() with no target restores everything and reports how many."""
    originals = {name: vars(targets.Base)[name] for name in ("greet", "build", "double")}
    for name in originals:
        instrument(f"{T}.Base.{name}")
    assert uninstrument() == 3
    assert instrumented() == []
    for name, original in originals.items():
        assert vars(targets.Base)[name] is original

"""The attribute store of a followed trace: read from other threads while the follower goes on appending to it."""

from __future__ import annotations

import sys
import threading

import numpy as np
import orjson

from tracer.analysis.attrs import AttrStore
from tracer.analysis.search import Query, matching_refs


def batch_json(batch: int, rows: int) -> bytes:
    return orjson.dumps([{"batch": batch, "row": row, "text": f"b{batch}r{row}"} for row in range(rows)])


def test_readers_see_what_the_writer_sealed_and_never_seal_themselves():
    """A reader between the writer's ``add`` and its ``seal`` sees the earlier batches only, and changes nothing."""
    store = AttrStore(mapped=False)
    store.add(memoryview(batch_json(0, 2)), 2, line=1, origin=0)
    store.seal()
    store.add(memoryview(batch_json(1, 3)), 3, line=2, origin=0)  # not sealed yet: the writer is in the middle of a read
    blobs = list(store.blobs)
    assert [column.tolist() for column in store.batch_table()][3:] == [[0], [2]]  # first refs, rows: batch 0 only
    assert store.get(2) == {} and store.many(np.array([1, 2]))[1] == {}
    assert matching_refs(store, Query("b1r0")).tolist() == []
    assert store.blobs == blobs  # the reader sealed nothing
    store.add(memoryview(batch_json(2, 1)), 1, line=3, origin=0)
    store.seal()
    assert store.get(2) == {"batch": 1, "row": 0, "text": "b1r0"} and store.get(5) == {"batch": 2, "row": 0, "text": "b2r0"}
    assert matching_refs(store, Query("b1r2")).tolist() == [4]


def test_a_writer_appending_while_readers_search_and_decode():
    """The follower's thread adds and seals batches; the viewer's reads them meanwhile: no error, every row right."""
    store = AttrStore(mapped=False)
    batches, rows = 3000, 3
    errors: list[BaseException] = []
    done = threading.Event()

    def write() -> None:
        try:
            for batch in range(batches):
                raw = batch_json(batch, rows)
                store.add(memoryview(raw[:1] + raw[1:]), rows, line=batch + 1, origin=0)  # a view, as the parser's
                if batch % 3 == 2:
                    store.seal()
            store.seal()
        except BaseException as err:  # pragma: no cover - the failure this test looks for
            errors.append(err)
        finally:
            done.set()

    def read() -> None:
        try:
            while not done.is_set():
                blob, start, stop, first, count = store.batch_table()
                for b in range(len(first)):
                    items = orjson.loads(store.blobs[int(blob[b])][int(start[b]) : int(stop[b])])
                    assert len(items) == count[b] and items[0]["batch"] == b
                refs = np.arange(int(first[-1] + count[-1])) if len(first) else np.zeros(0, np.int64)
                assert [item["row"] for item in store.many(refs)] == [ref % rows for ref in refs.tolist()]
                matching_refs(store, Query("r1"))
        except BaseException as err:
            errors.append(err)

    def scan() -> None:  # what a search or the pivot menu does, as often as it can
        try:
            while not done.is_set():
                store.batch_table()
                store.many(np.array([0, store.refs // 2]))
        except BaseException as err:
            errors.append(err)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: every interleaving gets its chance
    try:
        readers = [threading.Thread(target=read), threading.Thread(target=scan)]
        writer = threading.Thread(target=write)
        for thread in (*readers, writer):
            thread.start()
        for thread in (writer, *readers):
            thread.join(60)
    finally:
        sys.setswitchinterval(interval)
    assert errors == []
    assert [store.get(ref)["text"] for ref in range(batches * rows)] == [f"b{r // rows}r{r % rows}" for r in range(batches * rows)]

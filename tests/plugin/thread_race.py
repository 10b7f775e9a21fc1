"""Two threads that race on shared state, unless they take its lock (copied into pytester sessions too).

A barrier holds the read and the write span open at once, so the overlap
happens on every run, not only on unlucky ones.
"""

from __future__ import annotations

import threading

import tracer


def race(locked: bool = False, key: str = "x") -> None:
    """Write and read the state ``key`` from two threads; with ``locked``, both under the ``state`` lock."""
    lock = tracer.traced_lock(threading.Lock(), "state")
    barrier = threading.Barrier(2, timeout=10)

    def step(name: str) -> None:
        if locked:
            with lock, tracer.span(name, key=key):
                pass
        else:
            with tracer.span(name, key=key):
                barrier.wait()

    threads = [threading.Thread(target=step, args=(name,), name=name) for name in ("state.write", "state.read")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

"""A cooperative, deterministic scheduler: one greenlet per actor, a logical clock.

Each actor runs in its own greenlet, so the recorder sees it as its own lane,
exactly as it sees eventlet greenthreads in a real nova-compute. An actor
gives control back only where eventlet could switch: at a ``checkpoint`` (a
database or conductor call) and when it blocks on a ``FifoLock``. Between
two checkpoints nothing else runs. At each point where more than one actor
could run, the scheduler takes the next choice of its schedule (a list of
actor names), or, past the schedule's end, the first runnable actor by name;
``explore`` enumerates every schedule depth-first by replaying prefixes
(greenlets cannot be copied).

Time is logical: a checkpoint says how long its call takes, ``work`` how long
a stretch of computation takes, and the clock moves to when the chosen actor
is ready. Recording with ``clock=scheduler.clock`` gives traces that read like
real ones and are identical from run to run.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from greenlet import getcurrent, greenlet

READY = "ready"
BLOCKED = "blocked"
DONE = "done"


class ScheduleError(Exception):
    """A named schedule asked for an actor that cannot run at that point."""


class Deadlock(Exception):
    """Every remaining actor is blocked."""


@dataclass
class Actor:
    """One cooperative thread of the scenario (a greenthread in Nova)."""

    name: str
    lane_name: str
    run: Callable[[], Any]
    state: str = READY
    ready_at_ns: int = 0
    label: str = "start"
    glet: Any = None
    error: BaseException | None = None
    joiners: list[Actor] = field(default_factory=list)


@dataclass
class Choice:
    """What the scheduler chose at one point where several actors could run."""

    chosen: str
    options: tuple[str, ...]


class Scheduler:
    """Run actors one step at a time, in the order a schedule dictates."""

    def __init__(self, schedule: Sequence[str] = (), start_ns: int = 0) -> None:
        self.schedule = list(schedule)
        self.now_ns = start_ns
        self.actors: list[Actor] = []
        self.choices: list[Choice] = []
        self.current: Actor | None = None
        self._main: Any = None

    # --- used by the scenario's code --------------------------------------
    def clock(self) -> int:
        """Return the logical time in ns (pass as the recorder's clock)."""
        return self.now_ns

    def spawn(self, name: str, lane_name: str, run: Callable[[], Any], delay_ns: int = 0) -> Actor:
        """Add an actor that becomes runnable ``delay_ns`` from now."""
        actor = Actor(name, lane_name, run, ready_at_ns=self.now_ns + delay_ns)
        self.actors.append(actor)
        return actor

    def checkpoint(self, label: str, duration_ns: int) -> None:
        """Give control back: a call that takes ``duration_ns`` and may let others run."""
        actor = self._running()
        actor.ready_at_ns = self.now_ns + duration_ns
        actor.label = label
        self._main.switch()

    def work(self, duration_ns: int) -> None:
        """Let time pass inside an actor without switching (computation)."""
        self.now_ns += duration_ns

    def block(self) -> None:
        """Park the running actor until ``wake`` makes it ready again."""
        actor = self._running()
        actor.state = BLOCKED
        self._main.switch()

    def join(self, other: Actor) -> None:
        """Park the running actor until ``other`` has finished."""
        if other.state != DONE:
            other.joiners.append(self._running())
            self.block()

    def wake(self, actor: Actor) -> None:
        """Make a blocked actor ready now."""
        actor.state = READY
        actor.ready_at_ns = self.now_ns

    def make_lock(self) -> FifoLock:
        """Return a fair lock for this scheduler's actors."""
        return FifoLock(self)

    def _running(self) -> Actor:
        actor = self.current
        if actor is None or getcurrent() is not actor.glet:
            raise RuntimeError("checkpoint() called outside a scenario actor")
        return actor

    # --- driving -----------------------------------------------------------
    def run(self) -> list[Choice]:
        """Run every actor to completion; return the choices made."""
        self._main = getcurrent()
        for actor in self.actors:
            if actor.glet is None:
                actor.glet = greenlet(self._body(actor), parent=self._main)
                actor.glet._racelane_name = actor.lane_name
        while True:
            ready = sorted((a for a in self.actors if a.state == READY), key=lambda a: a.name)
            if not ready:
                blocked = [a.name for a in self.actors if a.state == BLOCKED]
                if blocked:
                    raise Deadlock(f"every actor left is blocked: {', '.join(blocked)}")
                if len(self.schedule) > len(self.choices) and all(a.state == DONE for a in self.actors):
                    raise ScheduleError(f"the schedule has {len(self.schedule)} choices, but the run offered only "
                                        f"{len(self.choices)} points where more than one actor could run")
                return self.choices
            actor = ready[0] if len(ready) == 1 else self._choose(ready)
            self.now_ns = max(self.now_ns, actor.ready_at_ns)
            self.current = actor
            actor.glet.switch()
            self.current = None
            if actor.error is not None:
                raise actor.error

    def _body(self, actor: Actor) -> Callable[[], None]:
        def body() -> None:
            try:
                actor.run()
            except BaseException as err:  # surfaced by run() in the scheduler's greenlet
                actor.error = err
            finally:
                actor.state = DONE
                for joiner in actor.joiners:
                    self.wake(joiner)
                actor.joiners.clear()

        return body

    def _choose(self, ready: list[Actor]) -> Actor:
        options = tuple(a.name for a in ready)
        step = len(self.choices)
        if step < len(self.schedule):
            wanted = self.schedule[step]
            match = [a for a in ready if a.name == wanted]
            if not match:
                raise ScheduleError(f"schedule step {step + 1}: {wanted!r} cannot run now (runnable: {', '.join(options)})")
            actor = match[0]
        else:
            actor = ready[0]
        self.choices.append(Choice(actor.name, options))
        return actor


class FifoLock:
    """A fair lock for scenario actors: waiters get it in arrival order.

    Acquiring a free lock does not switch, as with eventlet's semaphores;
    a busy one parks the actor until the owner's release hands it over.
    """

    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler
        self.owner: Actor | None = None
        self.waiters: deque[Actor] = deque()

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        actor = self.scheduler.current
        if actor is None:
            raise RuntimeError("FifoLock used outside a scenario actor")
        if self.owner is None:
            self.owner = actor
            return True
        if not blocking:
            return False
        self.waiters.append(actor)
        self.scheduler.block()
        return True

    def release(self) -> None:
        if self.waiters:
            self.owner = self.waiters.popleft()
            self.scheduler.wake(self.owner)
        else:
            self.owner = None

    def __enter__(self) -> FifoLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


@dataclass
class Exploration:
    """Every schedule of a scenario and what happened in each."""

    schedules: list[list[str]] = field(default_factory=list)
    outcomes: list[Any] = field(default_factory=list)


def explore(run_once: Callable[[Sequence[str]], tuple[list[Choice], Any]], limit: int = 100_000) -> Iterator[tuple[list[str], Any]]:
    """Yield (schedule, outcome) for every distinct schedule, depth-first.

    ``run_once(prefix)`` runs the scenario from scratch following ``prefix``
    and returns the choices it made and its outcome.
    """
    prefix: list[str] = []
    for _ in range(limit):
        choices, outcome = run_once(prefix)
        yield [c.chosen for c in choices], outcome
        # Backtrack: the deepest choice that still has an untried option.
        for depth in range(len(choices) - 1, -1, -1):
            options = choices[depth].options
            at = options.index(choices[depth].chosen)
            if at + 1 < len(options):
                prefix = [c.chosen for c in choices[:depth]] + [options[at + 1]]
                break
        else:
            return
    raise RuntimeError(f"more than {limit} schedules: the scenario does not terminate")

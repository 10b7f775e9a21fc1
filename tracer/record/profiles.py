"""Profiles: TOML files that say which functions to instrument and how.

A profile lists ``[[span]]``, ``[[mark]]`` and ``[[lock]]`` entries, each with
a dotted ``target``, a ``name``, a ``cat`` and allow-listed ``attrs`` (read
when the call starts) and ``result`` (read when it returns). See
``profiles/nova.toml`` for a complete example. A target that does not exist
in the installed version of the instrumented program is skipped with one
warning naming it, so one profile serves many releases.
"""

from __future__ import annotations

from typing import Any

from .errors import ConfigError, ProfileError, TargetNotFound
from .instrument import Instrumentation, instrument
from .tomlfiles import builtin_names, read_toml

_KINDS = ("span", "mark", "lock")
_KEYS = {"target", "module", "name", "cat", "attrs", "result", "lock_arg", "note"}


def builtin_profiles() -> list[str]:
    """Return the names of the profiles shipped with racelane."""
    return builtin_names(__package__ or "tracer.record", "profiles")


def load_profile(profile: str) -> tuple[str, list[dict[str, Any]]]:
    """Read a profile by built-in name or file path; return (source, entries).

    Raises:
        ProfileError: the file is missing, not TOML, or an entry is malformed;
            the message names the file and the entry.
    """
    source, data = read_toml(profile, __package__ or "tracer.record", "profiles", "profile", ProfileError)
    entries = []
    for kind in _KINDS:
        items = data.get(kind, [])
        if not isinstance(items, list):
            raise ProfileError(f"{source}: '{kind}' must be an array of tables ([[{kind}]])")
        for n, item in enumerate(items, start=1):
            where = f"{source}: {kind} #{n}"
            if not isinstance(item, dict) or not isinstance(item.get("target"), str):
                raise ProfileError(f"{where}: needs a string 'target'")
            unknown = set(item) - _KEYS
            if unknown:
                raise ProfileError(f"{where} ({item['target']}): unknown keys {sorted(unknown)}")
            for key in ("attrs", "result"):
                table = item.get(key, {})
                if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
                    raise ProfileError(f"{where} ({item['target']}): '{key}' must map attribute names to path strings")
            entries.append({"kind": kind, **item})
    unknown_top = set(data) - set(_KINDS) - {"profile"}
    if unknown_top:
        raise ProfileError(f"{source}: unknown sections {sorted(unknown_top)}")
    return source, entries


def module_of(target: str) -> str:
    """Guess the module part of a dotted target: up to the first CapWords segment.

    ``nova.compute.resource_tracker.ResourceTracker.rebuild_claim`` lives in
    ``nova.compute.resource_tracker``; ``oslo_concurrency.lockutils.lock`` in
    ``oslo_concurrency.lockutils``. A profile entry can say ``module`` itself.
    """
    parts = target.split(".")
    for i, part in enumerate(parts[1:], start=1):
        if part[:1].isupper():
            return ".".join(parts[:i])
    return ".".join(parts[:-1])


class AppliedProfile:
    """A profile in effect: what is instrumented now and what waits for its module."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.instrumented: list[Instrumentation] = []
        self.missing: list[TargetNotFound] = []
        self._hooks: list[Any] = []

    def undo(self) -> None:
        """Restore every instrumented target and cancel the pending ones."""
        from .hooks import cancel

        for hook in self._hooks:
            cancel(hook)
        self._hooks.clear()
        for item in reversed(self.instrumented):
            item.undo()
        self.instrumented.clear()

    def __iter__(self) -> Any:
        return iter(self.instrumented)

    def __len__(self) -> int:
        return len(self.instrumented)


def apply_profile(profile: str, eager: bool = False) -> AppliedProfile:
    """Apply ``profile``; warn once for each target its module does not have.

    Targets whose module is already imported are instrumented at once; the
    others when their module is imported (never earlier, so that a program's
    own start-up, eventlet monkey-patching included, runs first). With
    ``eager`` every module is imported now.
    """
    from .hooks import when_imported

    source, entries = load_profile(profile)
    applied = AppliedProfile(source)
    by_module: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        by_module.setdefault(entry.get("module") or module_of(entry["target"]), []).append(entry)

    def apply_entries(group: list[dict[str, Any]]) -> None:
        for entry in group:
            try:
                applied.instrumented.append(
                    instrument(
                        entry["target"],
                        cat=entry.get("cat", ""),
                        name=entry.get("name"),
                        attrs=entry.get("attrs"),
                        result=entry.get("result"),
                        kind=entry["kind"],
                        lock_arg=entry.get("lock_arg"),
                    )
                )
            except TargetNotFound as err:
                applied.missing.append(err)
                import logging

                logging.getLogger("racelane").warning("racelane: profile %s: skipped %s: %s", source, err.target, err.reason)
            except ConfigError as err:
                raise ProfileError(f"{source}: {err}") from None

    try:
        for module_name, group in by_module.items():
            if eager:
                try:
                    __import__(module_name)
                except Exception:
                    pass

            def hook(module: Any, group: list[dict[str, Any]] = group) -> None:
                apply_entries(group)

            applied._hooks.append(hook)
            when_imported(module_name, hook)
    except BaseException:
        applied.undo()  # all or nothing: a bad profile leaves nothing patched or pending
        raise
    return applied


def check_profile(profile: str) -> list[TargetNotFound]:
    """Resolve every target without instrumenting; return those that do not exist."""
    from .instrument import resolve

    _, entries = load_profile(profile)
    problems = []
    for entry in entries:
        try:
            resolve(entry["target"])
        except TargetNotFound as err:
            problems.append(err)
    return problems

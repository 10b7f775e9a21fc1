"""Run a callback right after a module is imported (post-import hooks).

Profiles must not import the program's modules early: importing
``nova.compute.resource_tracker`` before nova-compute has monkey-patched
eventlet would break the program. So a profile target whose module is not
imported yet is instrumented the moment its module finishes executing.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any

Hook = Callable[[ModuleType], None]

_hooks: dict[str, list[Hook]] = {}
_lock = threading.RLock()
_busy = threading.local()


class _HookLoader(importlib.abc.Loader):
    """Delegate to the real loader, then run the hooks for the module."""

    def __init__(self, loader: Any, fullname: str) -> None:
        self.loader = loader
        self.fullname = fullname

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        create = getattr(self.loader, "create_module", None)
        return create(spec) if create is not None else None

    def exec_module(self, module: ModuleType) -> None:
        self.loader.exec_module(module)
        _run(self.fullname, module)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.loader, attr)


class _HookFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Any, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in _hooks:
            return None
        busy = getattr(_busy, "names", None)
        if busy is None:
            busy = _busy.names = set()
        if fullname in busy:
            return None
        busy.add(fullname)
        try:
            spec = importlib.util.find_spec(fullname)
        except (ImportError, ValueError):
            spec = None
        finally:
            busy.discard(fullname)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return None
        spec.loader = _HookLoader(spec.loader, fullname)
        return spec


_finder = _HookFinder()


def when_imported(module_name: str, hook: Hook) -> None:
    """Call ``hook(module)`` now if ``module_name`` is imported, else right after its import."""
    module = sys.modules.get(module_name)
    if module is not None:
        hook(module)
        return
    with _lock:
        _hooks.setdefault(module_name, []).append(hook)
        if _finder not in sys.meta_path:
            sys.meta_path.insert(0, _finder)


def cancel(hook: Hook) -> None:
    """Forget ``hook`` wherever it waits."""
    with _lock:
        for name in list(_hooks):
            _hooks[name] = [h for h in _hooks[name] if h is not hook]
            if not _hooks[name]:
                del _hooks[name]
        if not _hooks and _finder in sys.meta_path:
            sys.meta_path.remove(_finder)


def pending() -> list[str]:
    """Return the module names that hooks are waiting for."""
    with _lock:
        return sorted(_hooks)


def _run(fullname: str, module: ModuleType) -> None:
    with _lock:
        hooks = _hooks.pop(fullname, [])
        if not _hooks and _finder in sys.meta_path:
            sys.meta_path.remove(_finder)
    for hook in hooks:
        try:
            hook(module)
        except Exception as err:  # a profile problem must never break the import
            import logging

            logging.getLogger("racelane").warning("racelane: post-import hook for %s failed: %r", fullname, err)

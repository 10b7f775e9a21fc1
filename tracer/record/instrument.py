"""Wrap functions and methods by dotted path, without editing their source.

``instrument("nova.objects.migration.Migration.save", cat="db", attrs={...})``
replaces the attribute on its class or module with a wrapper that records a
span; ``Instrumentation.undo`` (or ``uninstrument``) puts back exactly the
object that was there, descriptor and all. Functions, methods, classmethods,
staticmethods, ``async def`` functions and already-decorated methods work.

Attributes are an allow-list of *paths* evaluated on the call's arguments
(``"instance.uuid"``, ``"self.host"``) or its return value
(``"result[].uuid"``, ``"result#"`` for a count). A path never records a whole
object: anything that is not a plain value is written as ``<TypeName>``.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import itertools
import threading
from collections.abc import Callable, KeysView, Mapping, ValuesView
from typing import Any

from . import core
from .errors import ConfigError, TargetNotFound

_registry: dict[str, Instrumentation] = {}
_registry_lock = threading.Lock()
_SCALARS = (str, int, float, bool, type(None))
_MAX_LIST = 256


class Instrumentation:
    """One wrapped target; ``undo()`` restores the original exactly."""

    def __init__(self, target: str, owner: Any, attr: str, original: Any, had_own: bool) -> None:
        self.target = target
        self.owner = owner
        self.attr = attr
        self.original = original
        self.had_own = had_own

    def undo(self) -> None:
        """Put the original object back (or remove the override of an inherited one)."""
        with _registry_lock:
            if _registry.get(self.target) is not self:
                return
            del _registry[self.target]
        if self.had_own:
            setattr(self.owner, self.attr, self.original)
        else:
            try:
                delattr(self.owner, self.attr)
            except AttributeError:
                pass

    def __repr__(self) -> str:
        return f"<Instrumentation {self.target}>"


def resolve(target: str) -> tuple[Any, str, Any, bool]:
    """Find ``target``: return (owner, attribute name, raw attribute, owner had it itself).

    Raises:
        TargetNotFound: naming the part of the path that does not exist.
    """
    parts = target.split(".")
    if len(parts) < 2 or not all(p.isidentifier() for p in parts):
        raise TargetNotFound(target, "expected a dotted path like 'package.module.Class.method'")
    module = None
    consumed = 0
    for i in range(len(parts) - 1, 0, -1):
        name = ".".join(parts[:i])
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as err:
            if err.name is not None and not name.startswith(err.name) and not err.name.startswith(name):
                raise TargetNotFound(target, f"importing {name!r} failed: {err}") from None
            continue
        except Exception as err:
            raise TargetNotFound(target, f"importing {name!r} failed: {err!r}") from None
        consumed = i
        break
    if module is None:
        raise TargetNotFound(target, f"no module named {parts[0]!r}")
    owner: Any = module
    for depth, part in enumerate(parts[consumed:-1], start=consumed):
        try:
            owner = getattr(owner, part)
        except AttributeError:
            where = ".".join(parts[:depth])
            raise TargetNotFound(target, f"{where!r} has no attribute {part!r}") from None
    attr = parts[-1]
    own = getattr(owner, "__dict__", {})
    if attr in own:
        return owner, attr, own[attr], True
    if isinstance(owner, type):
        for klass in owner.__mro__[1:]:
            if attr in klass.__dict__:
                return owner, attr, klass.__dict__[attr], False
    where = ".".join(parts[:-1])
    raise TargetNotFound(target, f"{where!r} has no attribute {attr!r}")


def instrument(
    target: str,
    *,
    cat: str = "",
    name: str | None = None,
    attrs: Mapping[str, str] | None = None,
    result: Mapping[str, str] | None = None,
    kind: str = "span",
    lock_arg: str | None = None,
) -> Instrumentation:
    """Wrap ``target`` so each call is recorded.

    Args:
        target: dotted path, ``package.module.Class.method`` or ``package.module.function``.
        cat: category of the spans.
        name: span name; default ``Class.method`` (or the function's name).
        attrs: attribute name -> path on the arguments, read when the call starts
            (``"self.host"``, ``"instance.uuid"``, ``"migration.status"``).
        result: attribute name -> path on the return value or the arguments,
            read when the call returns (``"result[].uuid"``, ``"result#"``,
            ``"self.status"`` for a value after the call).
        kind: ``span`` (a span per call), ``mark`` (an instant event at the end
            of each call) or ``lock`` (the target returns a lock context
            manager; its wait and hold become lock spans named by ``lock_arg``).
        lock_arg: with ``kind="lock"``, the argument holding the lock's name.

    Raises:
        TargetNotFound: the path names nothing. ConfigError: a bad spec.
    """
    if kind not in ("span", "mark", "lock"):
        raise ConfigError(f"instrument kind must be span, mark or lock, got {kind!r}")
    with _registry_lock:
        existing = _registry.get(target)
    if existing is not None:
        return existing
    owner, attr, raw, had_own = resolve(target)
    func, rewrap = _unwrap_descriptor(raw)
    if not callable(func):
        raise TargetNotFound(target, f"{type(func).__name__} is not callable")
    span_name = name or _default_name(owner, attr, func)
    wrapper = _make_wrapper(target, func, span_name, cat, dict(attrs or {}), dict(result or {}), kind, lock_arg)
    replacement = rewrap(wrapper)
    setattr(owner, attr, replacement)
    item = Instrumentation(target, owner, attr, raw, had_own)
    with _registry_lock:
        _registry[target] = item
    return item


def uninstrument(target: str | None = None) -> int:
    """Undo ``target``'s instrumentation, or all of it; return how many were undone."""
    with _registry_lock:
        items = [_registry[target]] if target in _registry else [] if target else list(_registry.values())
    for item in reversed(items):
        item.undo()
    return len(items)


def instrumented() -> list[str]:
    """Return the targets instrumented now."""
    with _registry_lock:
        return sorted(_registry)


def _unwrap_descriptor(raw: Any) -> tuple[Any, Callable[[Any], Any]]:
    if isinstance(raw, staticmethod):
        return raw.__func__, staticmethod
    if isinstance(raw, classmethod):
        return raw.__func__, classmethod
    return raw, lambda wrapper: wrapper


def _default_name(owner: Any, attr: str, func: Any) -> str:
    if isinstance(owner, type):
        return f"{owner.__name__}.{attr}"
    return getattr(func, "__qualname__", attr)


class _ArgReader:
    """Read a named argument from a call's ``args``/``kwargs`` in O(1)."""

    __slots__ = ("default", "index", "name")

    def __init__(self, name: str, params: list[inspect.Parameter]) -> None:
        self.name = name
        self.index = -1
        self.default: Any = None
        for i, param in enumerate(params):
            if param.name == name:
                if param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
                    self.index = i
                if param.default is not param.empty:
                    self.default = param.default
                break

    def __call__(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if 0 <= self.index < len(args):
            return args[self.index]
        return kwargs.get(self.name, self.default)


class _Path:
    """An allow-listed path like ``instance.uuid``, ``result[].status`` or ``result#``."""

    def __init__(self, spec: str, params: list[inspect.Parameter], target: str) -> None:
        text = spec.strip()
        self.count = text.endswith("#")
        if self.count:
            text = text[:-1]
        segments = text.split(".")
        if not segments or not segments[0]:
            raise ConfigError(f"{target}: empty attribute path {spec!r}")
        root = segments[0]
        self.map_root = root.endswith("[]")
        root = root[:-2] if self.map_root else root
        self.is_result = root == "result"
        names = [p.name for p in params]
        if not self.is_result and root not in names and not any(p.kind is p.VAR_KEYWORD for p in params):
            raise ConfigError(f"{target}: attribute path {spec!r} names {root!r}, which is not a parameter ({', '.join(names)})")
        self.arg = None if self.is_result else _ArgReader(root, params)
        self.steps = segments[1:]

    def read(self, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> Any:
        value = result if self.arg is None else self.arg(args, kwargs)
        if self.map_root:
            items = _items(value)
            values = [_plain(_walk(item, self.steps)) for item in items]
            return len(values) if self.count else values
        value = _walk(value, self.steps)
        if self.count:
            try:
                return len(value)
            except TypeError:
                return None
        return _plain(value)


def _walk(value: Any, steps: list[str]) -> Any:
    for n, step in enumerate(steps):
        if value is None:
            return None
        mapped = step.endswith("[]")
        call = step.endswith("()")
        key = step[:-2] if mapped or call else step
        if call:
            method = getattr(value, key, None)  # a method: neither a mapping key nor a lazy field
            value = method() if callable(method) else None
        else:
            value = _get(value, key)
        if mapped:
            return [_walk(item, steps[n + 1 :]) for item in _items(value)]
    return value


def _items(value: Any) -> list[Any]:
    """Return up to _MAX_LIST items of a container; never consume an iterator the program will read."""
    if value is None:
        return []
    try:
        if iter(value) is value:  # an iterator or generator: reading it would change the program
            return []
    except TypeError:
        return []
    return list(itertools.islice(value, _MAX_LIST))


def _get(value: Any, key: str) -> Any:
    if isinstance(value, Mapping):
        return value.get(key)
    # oslo versioned objects lazy-load unset fields through the database:
    # never trigger that from a trace.
    is_set = getattr(value, "obj_attr_is_set", None)
    fields = getattr(type(value), "fields", None)
    if is_set is not None and isinstance(fields, (Mapping, tuple, list, set, frozenset)) and key in fields:
        try:
            if not is_set(key):
                return None
        except Exception:
            return None
    return getattr(value, key, None)


def _plain(value: Any) -> Any:
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, (list, tuple, set, frozenset, KeysView, ValuesView)):
        return [_plain(v) for v in list(value)[:_MAX_LIST]]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in list(value.items())[:_MAX_LIST]}
    return f"<{type(value).__name__}>"


def _make_wrapper(
    target: str,
    func: Callable[..., Any],
    span_name: str,
    cat: str,
    attrs: dict[str, str],
    result: dict[str, str],
    kind: str,
    lock_arg: str | None,
) -> Callable[..., Any]:
    try:
        params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        params = []
    entry = [(key, _Path(spec, params, target)) for key, spec in attrs.items()]
    exit_ = [(key, _Path(spec, params, target)) for key, spec in result.items()]

    if kind == "lock":
        from .locks import lock_factory_wrapper

        reader = _ArgReader(lock_arg or "name", params)
        fixed = {"holder": target}
        return functools.wraps(func)(lock_factory_wrapper(func, lambda a, k: str(reader(a, k)), fixed))

    def read(paths: list[tuple[str, _Path]], args: tuple[Any, ...], kwargs: dict[str, Any], value: Any, into: dict[str, Any]) -> None:
        for key, path in paths:
            try:
                into[key] = path.read(args, kwargs, value)
            except Exception:
                pass

    if kind == "mark":

        @functools.wraps(func)
        def mark_wrapper(*args: Any, **kwargs: Any) -> Any:
            if core._active is None:
                return func(*args, **kwargs)
            values: dict[str, Any] = {}
            read(entry, args, kwargs, None, values)
            value = func(*args, **kwargs)
            read(exit_, args, kwargs, value, values)
            core.mark(span_name, cat, **values)
            return value

        return mark_wrapper

    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            if core._active is None:
                return await func(*args, **kwargs)
            values: dict[str, Any] = {}
            read(entry, args, kwargs, None, values)
            with core.Span(span_name, cat, values):
                value = await func(*args, **kwargs)
                read(exit_, args, kwargs, value, values)
                return value

        return async_wrapper

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if core._active is None:
            return func(*args, **kwargs)
        values: dict[str, Any] = {}
        read(entry, args, kwargs, None, values)
        with core.Span(span_name, cat, values):
            value = func(*args, **kwargs)
            read(exit_, args, kwargs, value, values)
            return value

    return wrapper

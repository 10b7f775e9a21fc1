"""Stand-in for nova.objects.base: versioned objects with oslo's field semantics.

Fields are properties: reading an unset one calls ``obj_load_attr`` (a lazy
load from the database in Nova), which here is counted in ``LAZY_LOADS`` and
raises. ``obj_attr_is_set`` raises AttributeError for names that are not
fields, as oslo.versionedobjects does. ``DB`` is the in-memory database.
"""

from __future__ import annotations

import functools

LAZY_LOADS: list[tuple[str, str]] = []
DB: dict[str, dict] = {"instances": {}, "migrations": {}, "pci_requests": {}}


def remotable(fn):
    """Mark a method as remotable (runs locally here)."""

    @functools.wraps(fn)
    def wrapper(self, *args, **kwargs):
        return fn(self, *args, **kwargs)

    wrapper.remotable = True
    return wrapper


def _field(name):
    attr = f"_obj_{name}"

    def getter(self):
        if not hasattr(self, attr):
            self.obj_load_attr(name)
        return getattr(self, attr)

    def setter(self, value):
        setattr(self, attr, value)
        self._changed_fields.add(name)

    return property(getter, setter, doc=f"field {name}")


class NovaObject:
    """Base of the stand-in objects; subclasses list their ``fields``."""

    fields: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name in cls.fields:
            if not isinstance(getattr(cls, name, None), property):
                setattr(cls, name, _field(name))

    def __init__(self, **values):
        self._changed_fields = set()
        for name, value in values.items():
            setattr(self, name, value)

    @property
    def obj_fields(self):
        """Every field name."""
        return list(self.fields)

    def obj_attr_is_set(self, attrname):
        """Tell whether field ``attrname`` has a value; AttributeError for a non-field."""
        if attrname not in self.obj_fields:
            raise AttributeError(f"{type(self).__name__} object has no attribute '{attrname}'")
        return hasattr(self, f"_obj_{attrname}")

    def obj_load_attr(self, attrname):
        """Count the lazy load and fail, as an orphaned object does in Nova."""
        LAZY_LOADS.append((type(self).__name__, attrname))
        raise NotImplementedError(f"Cannot load '{attrname}' in the base class")

    def obj_what_changed(self):
        """Return the names of the fields set since the last reset."""
        return set(self._changed_fields)

    def obj_reset_changes(self, fields=None):
        """Forget the changes of ``fields`` (all by default)."""
        if fields:
            self._changed_fields -= set(fields)
        else:
            self._changed_fields.clear()


class ObjectListBase:
    """A list of objects in the ``objects`` field."""

    fields = ("objects",)

    def __iter__(self):
        return iter(self.objects)

    def __len__(self):
        return len(self.objects)

    def __getitem__(self, index):
        return self.objects[index]


def is_set_to(obj, name, value):
    """Tell whether field ``name`` of ``obj`` is set and equal to ``value`` (never lazy-loads)."""
    return obj.obj_attr_is_set(name) and getattr(obj, name) == value

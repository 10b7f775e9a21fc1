"""Domain exceptions raised by the recording API (never into traced code)."""

from __future__ import annotations


class RacelaneError(Exception):
    """Base class of every error racelane raises on purpose."""


class ConfigError(RacelaneError):
    """An option, environment variable or profile is malformed."""


class TargetNotFound(RacelaneError):
    """A dotted path given to ``instrument`` names nothing that exists."""

    def __init__(self, target: str, reason: str) -> None:
        super().__init__(f"cannot instrument {target!r}: {reason}")
        self.target = target
        self.reason = reason


class ProfileError(ConfigError):
    """A profile file is malformed; the message names the file and the entry."""

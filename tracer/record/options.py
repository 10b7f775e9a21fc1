"""Recording options, resolved once when recording starts.

Environment variables (read by ``Options.from_env`` and by the automatic
start in ``tracer.record.autostart``):

``RACELANE_OUT``            output path pattern; setting it turns recording on
``RACELANE_PROFILE``        profile name (``nova``) or TOML file to apply
``RACELANE_FLUSH_MS``       flush interval in milliseconds (default 100)
``RACELANE_HOST``           host name written in the header (default: hostname)
``RACELANE_PROCESS``        process name written in the header
``RACELANE_REDACT``         extra comma-separated secret key fragments
``RACELANE_FILE_MODE``      octal file mode of new trace files (default 0600)
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .errors import ConfigError
from .redact import DEFAULT_SECRET_KEYS

DEFAULT_PATTERN = "racelane-{host}-{pid}.jsonl"


@dataclass(frozen=True)
class Options:
    """Everything that shapes one recording; immutable once recording starts."""

    path: str = DEFAULT_PATTERN
    flush_interval_s: float = 0.1
    max_buffered: int = 262_144
    host: str = ""
    process: str = ""
    profile: str | None = None
    secret_keys: tuple[str, ...] = DEFAULT_SECRET_KEYS
    max_value_chars: int = 4096
    file_mode: int = 0o600
    fsync: bool = False
    handle_sigterm: bool = True
    clock: Callable[[], int] | None = None
    id_start: int | None = None  # first span id; fixed only for reproducible traces
    extra_header: dict[str, Any] = field(default_factory=dict)

    def resolved(self) -> Options:
        """Fill in host and process names and check every value."""
        if not (0.001 <= self.flush_interval_s <= 3600):
            raise ConfigError(f"flush interval must be between 1 ms and 1 h, got {self.flush_interval_s} s")
        if self.max_buffered < 1:
            raise ConfigError(f"max_buffered must be at least 1, got {self.max_buffered}")
        if self.max_value_chars < 16:
            raise ConfigError(f"max_value_chars must be at least 16, got {self.max_value_chars}")
        return replace(self, host=self.host or _hostname(), process=self.process or _process_name())

    def output_path(self, pid: int | None = None) -> str:
        """Expand ``{host}``, ``{pid}`` and ``{process}`` in the path pattern."""
        pid = os.getpid() if pid is None else pid
        try:
            return self.path.format(host=self.host or _hostname(), pid=pid, process=self.process or _process_name())
        except (KeyError, IndexError, ValueError) as err:
            raise ConfigError(
                f"output path {self.path!r} has a bad placeholder ({err}); use {{host}}, {{pid}} or {{process}}"
            ) from None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Options:
        """Build options from ``RACELANE_*`` variables, then ``overrides``."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        if env.get("RACELANE_OUT"):
            values["path"] = env["RACELANE_OUT"]
        if env.get("RACELANE_PROFILE"):
            values["profile"] = env["RACELANE_PROFILE"]
        if env.get("RACELANE_FLUSH_MS"):
            values["flush_interval_s"] = _number(env, "RACELANE_FLUSH_MS") / 1000.0
        if env.get("RACELANE_HOST"):
            values["host"] = env["RACELANE_HOST"]
        if env.get("RACELANE_PROCESS"):
            values["process"] = env["RACELANE_PROCESS"]
        if env.get("RACELANE_REDACT"):
            extra = tuple(k.strip() for k in env["RACELANE_REDACT"].split(",") if k.strip())
            values["secret_keys"] = DEFAULT_SECRET_KEYS + extra
        if env.get("RACELANE_FILE_MODE"):
            try:
                values["file_mode"] = int(env["RACELANE_FILE_MODE"], 8)
            except ValueError:
                raise ConfigError(f"RACELANE_FILE_MODE must be octal like 0600, got {env['RACELANE_FILE_MODE']!r}") from None
        values.update(overrides)
        return cls(**values)


def _number(env: Any, name: str) -> float:
    try:
        return float(env[name])
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {env[name]!r}") from None


def _hostname() -> str:
    try:
        return socket.gethostname() or "localhost"
    except OSError:
        return "localhost"


def _process_name() -> str:
    argv0 = sys.argv[0] if sys.argv and sys.argv[0] else "python"
    name = os.path.basename(argv0)
    if name in ("-c", "-m", ""):
        name = "python"
    if name == "__main__.py":
        name = os.path.basename(os.path.dirname(argv0)) or "python"
    return name[:-3] if name.endswith(".py") else name

"""Mask secrets and bound sizes in attribute dicts before they are serialized.

Redaction works on the attribute values, never on serialized JSON: regex
masking of a serialized line corrupts the values that follow the secret.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

DEFAULT_SECRET_KEYS: tuple[str, ...] = (
    "password",
    "passwd",
    "token",
    "secret",
    "auth",
    "key",
    "credential",
    "passphrase",
)
MASK = "***"
_URL_CREDENTIALS = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*://)([^/@\s:]*)(?::[^/@\s]*)?@")
_MAX_DEPTH = 6
_MAX_ITEMS = 256


class Redactor:
    """Return attribute dicts with secrets masked and values bounded.

    A key is secret when it contains any of ``secret_keys`` (case-insensitive):
    ``X-Auth-Token`` and ``db_password`` both are. Strings longer than
    ``max_value_chars`` are cut and end with a marker saying how much was cut.
    Verdicts per key are cached, so a flush costs one dict lookup per key.

    Thread-safety: the key cache is only ever added to; races are harmless.
    """

    def __init__(
        self, secret_keys: Iterable[str] = DEFAULT_SECRET_KEYS, max_value_chars: int = 4096
    ) -> None:
        self.secret_keys = tuple(k.lower() for k in secret_keys)
        self.max_value_chars = max_value_chars
        self._secret_verdict: dict[str, bool] = {}
        # Keys known not to be secret: the flusher's fast path checks membership only.
        self.safe_keys: set[str] = set()

    def is_secret(self, key: str) -> bool:
        """Tell whether values under ``key`` must be masked."""
        verdict = self._secret_verdict.get(key)
        if verdict is None:
            low = key.lower() if isinstance(key, str) else str(key).lower()
            verdict = any(s in low for s in self.secret_keys)
            if len(self._secret_verdict) < 65536:
                self._secret_verdict[key] = verdict
                if not verdict and isinstance(key, str):
                    self.safe_keys.add(key)
        return verdict

    def attrs(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Return ``attrs`` itself when nothing needs changing, else a cleaned copy."""
        is_secret = self.is_secret
        for key, value in attrs.items():
            if is_secret(key):
                return self._clean_dict(attrs, 0)
            kind = type(value)
            if kind is str:
                if len(value) > self.max_value_chars or "@" in value:
                    return self._clean_dict(attrs, 0)
            elif kind is not int and kind is not float and kind is not bool and value is not None:
                return self._clean_dict(attrs, 0)
        return attrs

    def value(self, value: Any, depth: int = 0) -> Any:
        """Return ``value`` bounded in size, with URL credentials masked."""
        kind = type(value)
        if kind is str:
            return self._clean_str(value)
        if kind is int or kind is float or kind is bool or value is None:
            return value
        if depth >= _MAX_DEPTH:
            return "<nested too deep>"
        if isinstance(value, dict):
            return self._clean_dict(value, depth + 1)
        if isinstance(value, (list, tuple, set, frozenset)):
            items = list(value)
            cleaned = [self.value(v, depth + 1) for v in items[:_MAX_ITEMS]]
            if len(items) > _MAX_ITEMS:
                cleaned.append(f"<truncated: {len(items) - _MAX_ITEMS} more items>")
            return cleaned
        if isinstance(value, str):  # str subclasses
            return self._clean_str(str(value))
        return value  # left to the serializer's fallback, which counts it

    def _clean_dict(self, attrs: dict[Any, Any], depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for n, (key, value) in enumerate(attrs.items()):
            if n >= _MAX_ITEMS:
                out["<truncated>"] = f"{len(attrs) - _MAX_ITEMS} more keys"
                break
            skey = key if isinstance(key, str) else str(key)
            out[skey] = MASK if self.is_secret(skey) else self.value(value, depth)
        return out

    def _clean_str(self, text: str) -> str:
        if "@" in text and "://" in text:
            text = _URL_CREDENTIALS.sub(r"\1***:***@", text)
        if len(text) > self.max_value_chars:
            cut = len(text) - self.max_value_chars
            text = f"{text[: self.max_value_chars]}…<truncated {cut} chars>"
        return text


def mask_url(text: str) -> str:
    """Mask ``user:password@`` in every URL inside ``text``."""
    return _URL_CREDENTIALS.sub(r"\1***:***@", text)

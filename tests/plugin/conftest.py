"""The inner pytest sessions these tests run must print as on a developer's machine."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _not_in_ci(monkeypatch):
    """Under CI=true pytest repeats whole failure messages in the short summary; the tests count lines."""
    for name in ("CI", "BUILD_NUMBER"):
        monkeypatch.delenv(name, raising=False)

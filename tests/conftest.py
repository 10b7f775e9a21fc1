"""Shared test set-up: Qt runs offscreen; recordings never leak between tests."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# tests/plugin runs pytest sessions inside tests; pytest only reads pytest_plugins
# from the top-level conftest, so the pytester fixture is enabled here.
pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def _no_recording_leaks():
    """Fail a test that leaves a recording running, and stop it for the next test."""
    yield
    import tracer
    from tracer.record import core

    leaked = core._active is not None
    if leaked:
        tracer.stop()
        core._active = None
        core._publish()
    tracer.uninstrument()
    assert not leaked, "test left a recording running"

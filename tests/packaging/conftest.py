"""Packaging fixtures: the built sdist and wheel, fresh virtualenvs with them, the one-folder bundle.

Each artefact is built once per test session (they take tens of seconds) and
shared by the tests that use it; the tests that need one are marked ``slow``.
Every racelane the tests start runs outside the source tree, with a private
HOME and XDG folders and no display, so nothing reads or writes the user's
files and headless export has to pick Qt's offscreen platform by itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from packaging_helpers import ROOT, Bundle, Dists, Venv, run

BUNDLE_BUILD_TIMEOUT = 900


def _source_copy(target: Path) -> Path:
    """Copy what git would commit (tracked and new files, not ignored ones) to ``target``; return it."""
    listed = subprocess.run(["git", "ls-files", "-z", "-co", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


@pytest.fixture(scope="session")
def dists(tmp_path_factory) -> Dists:
    """The sdist and, built from it, the wheel: `python -m build` on a clean copy of the source tree."""
    if shutil.which("git") is None:
        pytest.fail("building the sdist needs git, to copy the tree without ignored build output")
    source = _source_copy(tmp_path_factory.mktemp("source"))
    out = tmp_path_factory.mktemp("dist")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHONPATH", "VIRTUAL_ENV"))}
    built = run([sys.executable, "-m", "build", "--outdir", out, source], env=env, cwd=source, timeout=600)
    assert built.returncode == 0, f"python -m build failed:\n{built.stdout[-4000:]}\n{built.stderr[-4000:]}"
    (sdist,) = out.glob("racelane-*.tar.gz")
    (wheel,) = out.glob("racelane-*.whl")
    return Dists(sdist, wheel, built.stdout + built.stderr)


def _venv(root: Path, requirement: str) -> Venv:
    """A fresh virtualenv (no system site-packages) with ``requirement`` installed by pip."""
    made = run([sys.executable, "-m", "venv", "--without-pip", root], env=dict(os.environ), cwd=root.parent)
    assert made.returncode == 0, made.stderr
    python = root / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHONPATH", "VIRTUAL_ENV"))}
    installed = run([sys.executable, "-m", "pip", "--python", python, "install", "--quiet",
                     "--disable-pip-version-check", requirement], env=env, cwd=root.parent, timeout=900)
    assert installed.returncode == 0, f"pip install {requirement} failed:\n{installed.stdout}\n{installed.stderr}"
    return Venv(root, python, root / "bin" / "racelane")


@pytest.fixture(scope="session")
def recorder_venv(dists, tmp_path_factory) -> Venv:
    """A fresh virtualenv with `pip install racelane` (the wheel): the recorder alone."""
    return _venv(tmp_path_factory.mktemp("venv-recorder") / "venv", str(dists.wheel))


@pytest.fixture(scope="session")
def gui_venv(dists, tmp_path_factory) -> Venv:
    """A fresh virtualenv with `pip install 'racelane[gui]'` (the wheel and the viewer's dependencies)."""
    return _venv(tmp_path_factory.mktemp("venv-gui") / "venv", f"racelane[gui] @ {dists.wheel.as_uri()}")


@pytest.fixture(scope="session")
def bare_python(tmp_path_factory) -> Path:
    """A Python without racelane (a fresh virtualenv with nothing installed)."""
    root = tmp_path_factory.mktemp("venv-bare") / "venv"
    made = run([sys.executable, "-m", "venv", "--without-pip", root], env=dict(os.environ), cwd=root.parent)
    assert made.returncode == 0, made.stderr
    return root / "bin" / "python"


class _BundleBuild:
    """One run of packaging/build_bundle.py into a temporary folder, started as soon as it is known to be needed."""

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="racelane-bundle-test-"))
        self.log = open(self.base / "build.log", "w+")  # noqa: SIM115 (read back when the build ends)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHONPATH", "VIRTUAL_ENV"))}
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "packaging" / "build_bundle.py"), "--dist", str(self.base / "dist"),
             "--work", str(self.base / "work"), "--quiet"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, text=True)

    def result(self) -> Bundle:
        try:
            code = self.process.wait(timeout=BUNDLE_BUILD_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise
        self.log.seek(0)
        output = self.log.read()
        assert code == 0, f"build_bundle.py failed (exit {code}):\n{output[-8000:]}"
        shutil.rmtree(self.base / "work", ignore_errors=True)
        root = self.base / "dist" / "racelane"
        return Bundle(root, root / "racelane", output)

    def discard(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.log.close()
        shutil.rmtree(self.base, ignore_errors=True)


_builds: list[_BundleBuild] = []


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start building the bundle at once when a selected test needs it, so the build overlaps the tests before it.

    Not in pytest-xdist workers (each would build its own): there the fixture builds on first use.
    """
    config = session.config
    if config.option.collectonly or hasattr(config, "workerinput") or shutil.which("objcopy") is None:
        return
    if any("bundle" in getattr(item, "fixturenames", ()) for item in session.items):
        _builds.append(_BundleBuild())


def pytest_sessionfinish(session: pytest.Session) -> None:
    while _builds:
        _builds.pop().discard()


@pytest.fixture(scope="session")
def bundle() -> Bundle:
    """The one-folder bundle, built by packaging/build_bundle.py as `make package` does (without the archive)."""
    if shutil.which("objcopy") is None:
        pytest.fail("PyInstaller needs objcopy: install binutils (scripts/system-deps.sh does)")
    if not _builds:
        _builds.append(_BundleBuild())
    return _builds[0].result()


@pytest.fixture
def home(tmp_path) -> Path:
    """A private, empty HOME."""
    path = tmp_path / "home"
    path.mkdir()
    return path

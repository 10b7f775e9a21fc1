"""What the packaging tests share: paths, a private environment, running commands, reading PNGs."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_traces"
BUGGY = SAMPLES / "nova-1896463-buggy.jsonl"
FIXED = SAMPLES / "nova-1896463-fixed.jsonl"
LINUX = ROOT / "packaging" / "linux"
APP_ID = "io.racelane.Racelane"
MIME_TYPE = "application/x-racelane-trace"


def private_env(home: Path, **extra: str) -> dict[str, str]:
    """Return an environment with HOME and the XDG folders under ``home``, no display, no racelane settings."""
    drop = ("RACELANE_", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "QT_", "DISPLAY", "WAYLAND_DISPLAY", "XDG_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    for name, sub in (("HOME", ""), ("XDG_DATA_HOME", ".local/share"), ("XDG_CONFIG_HOME", ".config"),
                      ("XDG_CACHE_HOME", ".cache"), ("XDG_STATE_HOME", ".local/state")):
        env[name] = str(home / sub) if sub else str(home)
    env["TMPDIR"] = str(home)
    env.update(extra)
    return env


def run(command: list[str], *, env: dict[str, str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``command`` and return the completed process (text output captured)."""
    return subprocess.run([str(c) for c in command], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


@dataclass(frozen=True)
class Dists:
    sdist: Path
    wheel: Path
    log: str


@dataclass(frozen=True)
class Venv:
    root: Path
    python: Path
    racelane: Path


@dataclass(frozen=True)
class Bundle:
    root: Path
    racelane: Path
    report: str


def png_facts(path: Path) -> dict[str, int]:
    """Return a PNG's width, height and how many pixels are the confirmed-hazard red or a span colour.

    Read with Qt (in this process), so a file that is not a PNG fails here.
    """
    from PySide6 import QtGui

    image = QtGui.QImage(str(path))
    assert not image.isNull(), f"{path} is not a readable image"
    image = image.convertToFormat(QtGui.QImage.Format.Format_RGB32)
    import numpy as np

    pixels = np.frombuffer(image.constBits(), dtype=np.uint8).reshape(image.height(), image.bytesPerLine() // 4, 4)
    b, g, r = (pixels[..., i].astype(int) for i in range(3))
    red = (r > 180) & (g < 90) & (b < 90)
    green = (g > 130) & (r < 120) & (b < 110)  # evacuation spans
    blue = (b > 140) & (r < 100) & (g > 100) & (g < 140)  # audit spans
    return {"width": image.width(), "height": image.height(), "red": int(red.sum()), "green": int(green.sum()),
            "blue": int(blue.sum()), "colours": len(np.unique(pixels.reshape(-1, 4)[:, :3], axis=0))}

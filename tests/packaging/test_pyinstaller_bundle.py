"""The one-folder bundle (`make package`): it runs every subcommand without Python or a display, and stays lean.

Built once per session by packaging/build_bundle.py; each test runs the
bundle's `racelane` with a private HOME, no display and no QT_QPA_PLATFORM,
from a folder outside the source tree.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import orjson
import pytest
from packaging_helpers import APP_ID, BUGGY, FIXED, SAMPLES, png_facts, private_env, run

pytestmark = pytest.mark.slow



def subcommands() -> list[str]:
    """Every subcommand `racelane` has (tail, export ... as they are added)."""
    import argparse

    from tracer.cli.main import build_parser

    (sub,) = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return sorted(sub.choices)


def test_build_reports_the_size_and_leaves_out_what_racelane_never_uses(bundle):
    report = bundle.report
    total = re.search(r"^\s*([\d.]+) MiB\s+total$", report, re.M)
    assert total, report
    measured = sum(p.lstat().st_size for p in bundle.root.rglob("*") if p.is_file() or p.is_symlink())
    assert abs(float(total.group(1)) - measured / 2**20) < 0.1
    assert measured < 200 * 2**20, report  # PyInstaller's default build of the same program: 220 MiB
    for part in ("Qt libraries", "numpy", "Python (libpython, extension modules)"):
        assert part in report

    internal = bundle.root / "_internal"
    names = {str(p.relative_to(internal)) for p in internal.rglob("*")}
    plugins = internal / "PySide6" / "Qt" / "plugins"
    for needed in ("platforms/libqoffscreen.so", "platforms/libqxcb.so", "platforms/libqwayland.so",
                   "imageformats/libqsvg.so", "platforminputcontexts/libcomposeplatforminputcontextplugin.so"):
        assert (plugins / needed).exists(), f"the bundle lacks the Qt plugin {needed}"
    unwanted = [n for n in names if re.search(
        r"WebEngine|Qt6Quick|Qt6Qml|Qt6Network|Qt6Test|/translations/|libqgtk3|libgtk|libatk|/tls/|/sqldrivers/|"
        r"libqeglfs|libqvnc|libqlinuxfb|/generic/|pyqtgraph/opengl|pyqtgraph/examples|(^|/)tests?/|_pytest|hypothesis", n)]
    assert not unwanted, unwanted
    assert any(n.startswith("tracer/record/_speedups.") for n in names), "the C accelerator is missing"
    assert any(n.startswith("tracer/analysis/_scanrows.") for n in names), "the C row reader is missing"
    for data in ("tracer/analysis/rulesets/nova.toml", "tracer/record/profiles/nova.toml", "tracer/record/schema.json"):
        assert data in names


def test_version_and_every_subcommand_start(bundle, home):
    env = private_env(home)
    version = run([bundle.racelane, "--version"], env=env, cwd=home)
    assert (version.returncode, version.stdout.strip()) == (0, "racelane 0.1.0")
    commands = subcommands()
    assert {"record", "check", "view", "export"} <= set(commands)
    for command in commands:
        helped = run([bundle.racelane, command, "--help"], env=env, cwd=home)
        assert helped.returncode == 0 and "example" in helped.stdout, (command, helped.stderr)


def test_check_stats_convert_and_scenario(bundle, home):
    env = private_env(home)
    buggy = run([bundle.racelane, "check", "--json", BUGGY], env=env, cwd=home)
    assert buggy.returncode == 1, buggy.stderr
    assert [h["class"] for h in orjson.loads(buggy.stdout)["hazards"]][:1] == ["confirmed"]
    assert run([bundle.racelane, "check", FIXED], env=env, cwd=home).returncode == 0
    # Chrome JSON in, through the importer.
    assert run([bundle.racelane, "check", SAMPLES / "nova-1896463-buggy.chrome.json"], env=env, cwd=home).returncode == 1

    stats = run([bundle.racelane, "stats", BUGGY], env=env, cwd=home)
    assert stats.returncode == 0 and "51 spans" in stats.stdout, stats.stdout + stats.stderr
    converted = run([bundle.racelane, "convert", BUGGY, "-o", home / "out.otlp.jsonl"], env=env, cwd=home)
    assert converted.returncode == 0, converted.stderr
    assert (home / "out.otlp.jsonl").stat().st_size > 1000

    explored = run([bundle.racelane, "scenario", "nova-evacuation", "--variant", "buggy", "--explore"], env=env, cwd=home)
    assert explored.returncode == 0 and "1324 distinct schedules, 60 lose" in explored.stdout, explored.stdout + explored.stderr


def test_tail_follows_a_directory_with_the_bundled_watchdog(bundle, home):
    if "tail" not in subcommands():
        pytest.skip("racelane tail is not part of this racelane")
    traces = home / "traces"
    traces.mkdir()
    shutil.copy(BUGGY, traces / "nova-compute-host2-4242.jsonl")
    tailed = run([bundle.racelane, "tail", "--json", "--idle-exit", "1", traces], env=private_env(home), cwd=home)
    assert tailed.returncode == 1, tailed.stderr
    classes = [orjson.loads(line)["class"] for line in tailed.stdout.splitlines() if line.startswith("{")]
    assert "confirmed" in classes, tailed.stdout


def test_headless_export_writes_the_hazard_png_with_the_offscreen_plugin(bundle, home):
    env = private_env(home)  # no DISPLAY, no QT_QPA_PLATFORM: racelane must choose offscreen, and find it
    out = home / "race.png"
    exported = run([bundle.racelane, "export", BUGGY, "-o", out, "--hazard", "1", "--caption"], env=env, cwd=home)
    assert exported.returncode == 0, exported.stdout + exported.stderr
    assert exported.stdout.startswith(f"wrote {out}: 1920x")
    facts = png_facts(out)
    assert facts["width"] == 1920 and facts["height"] > 300
    assert facts["red"] > 100 and facts["green"] > 1000 and facts["blue"] > 1000, facts
    assert facts["colours"] > 200, "text is drawn antialiased: fonts were found"

    pdf = home / "whole.pdf"
    assert run([bundle.racelane, "export", FIXED, "-o", pdf], env=env, cwd=home).returncode == 0
    assert pdf.read_bytes().startswith(b"%PDF-")
    screenshot = home / "window.png"
    viewed = run([bundle.racelane, "view", "--screenshot", screenshot, "--hazard", "1", BUGGY], env=env, cwd=home)
    assert viewed.returncode == 0, viewed.stderr
    assert png_facts(screenshot)["red"] > 0


def test_viewer_starts_on_x11_with_the_bundled_xcb_plugin(bundle, home):
    if shutil.which("xvfb-run") is None:
        pytest.skip("xvfb-run missing (Debian: xvfb; scripts/system-deps.sh)")
    shot = home / "x11.png"
    # QT_QPA_PLATFORM=xcb: Qt stops with an error rather than fall back when the plugin or its libraries are missing.
    shown = run(["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", bundle.racelane, "view", "--screenshot", shot,
                 "--hazard", "1", BUGGY], env=private_env(home, QT_QPA_PLATFORM="xcb"), cwd=home, timeout=300)
    assert shown.returncode == 0, shown.stderr[-3000:]
    assert png_facts(shot)["red"] > 0


def test_demo_runs_headless(bundle, home):
    demo = run([bundle.racelane, "demo"], env=private_env(home), cwd=home, timeout=600)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    (png,) = home.glob("racelane-demo-*/*.png")
    assert png_facts(png)["red"] > 0


def test_record_hands_the_program_to_a_python_with_racelane(bundle, recorder_venv, home):
    script = home / "job.py"
    script.write_text("import sys, tracer\nwith tracer.span('job', cat='work'):\n    pass\nsys.exit(int(sys.argv[1]))\n")
    env = private_env(home, RACELANE_PYTHON=str(recorder_venv.python))
    recorded = run([bundle.racelane, "record", "-o", "job-{pid}.jsonl", script, "3"], env=env, cwd=home)
    assert recorded.returncode == 3, recorded.stderr  # the program's own exit status
    (trace,) = home.glob("job-*.jsonl")
    assert orjson.loads(trace.read_bytes().splitlines()[0])["format"] == "racelane"
    assert "recorded 1 spans" in recorded.stderr


def test_record_without_a_python_with_racelane_says_what_to_install(bundle, bare_python, home):
    script = home / "job.py"
    script.write_text("print('never runs')\n")
    env = private_env(home, RACELANE_PYTHON=str(bare_python))
    recorded = run([bundle.racelane, "record", script], env=env, cwd=home)
    assert recorded.returncode == 2
    assert "self-contained bundle" in recorded.stderr and "pip install racelane" in recorded.stderr
    assert str(bare_python) in recorded.stderr and "never runs" not in recorded.stdout


def test_bundled_desktop_integration_installs_and_opens_traces_with_the_bundle(bundle, home):
    env = private_env(home)
    installer = bundle.root / "desktop" / "install-desktop.sh"
    installed = run(["bash", installer], env=env, cwd=home)  # no --racelane: the bundle's own program
    assert installed.returncode == 0, installed.stderr
    entry = (home / ".local/share/applications" / f"{APP_ID}.desktop").read_text()
    launcher = home / ".local/share/racelane/racelane-view"
    assert f"Exec={launcher} %F" in entry
    assert str(bundle.racelane) in launcher.read_text()
    shot = home / "opened.png"
    opened = subprocess.run([launcher, "--screenshot", shot, str(BUGGY)], env=env, cwd=home, capture_output=True, text=True)
    assert opened.returncode == 0, opened.stderr
    assert png_facts(shot)["green"] > 0
    assert run(["bash", installer, "--uninstall"], env=env, cwd=home).returncode == 0
    assert not (home / ".local").exists()

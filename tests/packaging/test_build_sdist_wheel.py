"""The sdist and wheel (`python -m build`): complete, accepted by twine, and working once installed.

The recorder-only install (`pip install racelane`) records without Qt or
numpy and says what to install for the rest; `racelane[gui]` checks and
exports images. Everything runs from a fresh virtualenv, outside the source tree.
"""

from __future__ import annotations

import os
import sys
import tarfile
import zipfile

import orjson
import pytest
from packaging_helpers import BUGGY, FIXED, ROOT, png_facts, private_env, run

STANDINS = ROOT / "tests" / "tracer" / "standins"  # stand-ins of the Nova modules the nova profile instruments
NAME = 5  # the name column of a `spans` row (docs/FORMAT.md)

pytestmark = pytest.mark.slow


def test_sdist_and_wheel_pass_twine_check(dists):
    checked = run([sys.executable, "-m", "twine", "check", "--strict", dists.sdist, dists.wheel],
                  env=private_env(dists.sdist.parent), cwd=dists.sdist.parent)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count("PASSED") == 2


def test_sdist_holds_the_c_source_data_files_and_desktop_integration(dists):
    with tarfile.open(dists.sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for needed in ("setup.py", "pyproject.toml", "README.md", "tracer/record/_speedups.c",
                   "tracer/analysis/_scanrows.c",
                   "tracer/record/profiles/nova.toml", "tracer/record/schema.json", "tracer/analysis/rulesets/nova.toml",
                   "tracer/record/_boot/sitecustomize.py", "docs/FORMAT.md", "sample_traces/nova-1896463-buggy.jsonl",
                   "packaging/racelane.spec", "packaging/linux/io.racelane.Racelane.desktop",
                   "packaging/linux/io.racelane.Racelane.metainfo.xml", "packaging/linux/io.racelane.Racelane.mime.xml",
                   "packaging/linux/icons/hicolor/scalable/apps/io.racelane.Racelane.svg"):
        assert needed in names, f"the sdist lacks {needed}"
    assert not [n for n in names if n.endswith((".so", ".pyc"))], "the sdist carries build output"


def test_wheel_is_platform_specific_with_the_compiled_accelerator_and_data(dists):
    # The C accelerator makes the wheel CPython- and platform-specific.
    tag = dists.wheel.name.removesuffix(".whl").split("-", 2)[2]
    assert tag != "py3-none-any" and tag.startswith(f"cp{sys.version_info.major}{sys.version_info.minor}-"), tag
    with zipfile.ZipFile(dists.wheel) as wheel:
        names = set(wheel.namelist())
        entry_points = wheel.read("racelane-0.1.0.dist-info/entry_points.txt").decode()
        metadata = wheel.read("racelane-0.1.0.dist-info/METADATA").decode()
    assert any(n.startswith("tracer/record/_speedups.") and n.endswith(".so") for n in names)
    assert any(n.startswith("tracer/analysis/_scanrows.") and n.endswith(".so") for n in names)
    for needed in ("tracer/analysis/rulesets/nova.toml", "tracer/record/profiles/nova.toml", "tracer/record/schema.json",
                   "tracer/record/_boot/sitecustomize.py", "gui/app.py", "tracer/py.typed"):
        assert needed in names, f"the wheel lacks {needed}"
    assert not [n for n in names if n.startswith(("tests/", "bench/", "packaging/"))]
    assert "racelane = tracer.cli.main:main" in entry_points
    assert "License-Expression: Apache-2.0" in metadata
    requires = [line.split(": ", 1)[1] for line in metadata.splitlines() if line.startswith("Requires-Dist: ")]
    always = [r for r in requires if "extra ==" not in r]
    assert [r.split(">")[0].split("=")[0] for r in always] == ["orjson"], always  # the recorder needs orjson only
    for package in ("numpy", "PySide6-Essentials", "pyqtgraph", "watchdog"):
        assert any(r.startswith(package) and 'extra == "gui"' in r for r in requires), package


def test_recorder_only_install_records_without_qt_or_numpy(recorder_venv, tmp_path):
    listed = run([recorder_venv.python, "-m", "pip", "list", "--format=freeze"], env=private_env(tmp_path), cwd=tmp_path)
    installed = {line.split("==")[0].lower() for line in listed.stdout.split()} if listed.returncode == 0 else None
    probe = run([recorder_venv.python, "-c", "import importlib.util as u; print([m for m in ('PySide6', 'numpy', "
                 "'pyqtgraph', 'watchdog') if u.find_spec(m)])"], env=private_env(tmp_path), cwd=tmp_path)
    assert probe.stdout.strip() == "[]", probe.stdout + probe.stderr
    assert installed is None or installed <= {"racelane", "orjson"}, installed

    env = private_env(tmp_path)
    version = run([recorder_venv.racelane, "--version"], env=env, cwd=tmp_path)
    assert (version.returncode, version.stdout.strip()) == (0, "racelane 0.1.0")
    accelerated = run([recorder_venv.python, "-c", "import tracer.record._speedups"], env=env, cwd=tmp_path)
    assert accelerated.returncode == 0, accelerated.stderr

    script = tmp_path / "job.py"
    script.write_text("import threading, tracer\n"
                      "with tracer.span('job.run', cat='work', size=3):\n"
                      "    t = threading.Thread(target=lambda: None); t.start(); t.join()\n")
    recorded = run([recorder_venv.racelane, "record", "-o", "job-{pid}.jsonl", "--profile", "nova", script], env=env, cwd=tmp_path)
    assert recorded.returncode == 0, recorded.stderr
    (trace,) = tmp_path.glob("job-*.jsonl")
    lines = [orjson.loads(line) for line in trace.read_bytes().splitlines()]
    assert lines[0]["type"] == "header" and lines[0]["profile"] == "nova"
    assert any(line["type"] == "spans" for line in lines)

    # Analysis needs numpy: a clear sentence with the fix, no traceback.
    checked = run([recorder_venv.racelane, "check", trace], env=env, cwd=tmp_path)
    assert checked.returncode == 2
    assert "pip install 'racelane[gui]'" in checked.stderr and "Traceback" not in checked.stderr


def test_recorder_only_install_records_a_nova_stand_in_from_the_environment(recorder_venv, tmp_path):
    """The README's systemd drop-in, minus systemd: the boot folder on PYTHONPATH, RACELANE_OUT and RACELANE_PROFILE.

    The program is an unmodified "nova-compute" (tests/tracer/standins) running one resource audit.
    """
    env = private_env(tmp_path)
    boot = run([recorder_venv.python, "-c", "import tracer.record.boot as b; print(b.boot_dir())"], env=env, cwd=tmp_path)
    assert boot.returncode == 0, boot.stderr
    assert boot.stdout.strip().startswith(str(recorder_venv.root))  # the installed package, not the source tree
    service = tmp_path / "nova_compute.py"
    service.write_text(
        "from nova.compute import resource_tracker\n"
        "class Driver:\n"
        "    pci_devices = ()\n"
        "    def get_available_resource(self, nodename):\n"
        "        return {'hypervisor_hostname': nodename, 'vcpus': 8}\n"
        "resource_tracker.ResourceTracker('compute-1', Driver()).update_available_resource(object(), 'node-1')\n")
    env.update(PYTHONPATH=os.pathsep.join([boot.stdout.strip(), str(STANDINS)]), RACELANE_PROFILE="nova",
               RACELANE_OUT=str(tmp_path / "nova-compute-{host}-{pid}.jsonl"), RACELANE_HOST="compute-1")
    ran = run([recorder_venv.python, service], env=env, cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    (trace,) = tmp_path.glob("nova-compute-compute-1-*.jsonl")
    assert oct(trace.stat().st_mode & 0o777) == "0o600"
    lines = [orjson.loads(line) for line in trace.read_bytes().splitlines()]
    assert (lines[0]["format"], lines[0]["host"], lines[0]["profile"]) == ("racelane", "compute-1", "nova")
    names = {row[NAME] for line in lines if line["type"] == "spans" for row in line["rows"]}
    assert {"rt._update_available_resource", "db.InstanceList.get_by_host_and_node"} <= names, names
    assert lines[-1]["type"] == "end"


def test_gui_install_checks_and_exports_a_png(gui_venv, tmp_path):
    env = private_env(tmp_path)
    version = run([gui_venv.racelane, "--version"], env=env, cwd=tmp_path)
    assert (version.returncode, version.stdout.strip()) == (0, "racelane 0.1.0")

    buggy = run([gui_venv.racelane, "check", BUGGY], env=env, cwd=tmp_path)
    assert buggy.returncode == 1, buggy.stdout + buggy.stderr
    assert "CONFIRMED" in buggy.stdout
    fixed = run([gui_venv.racelane, "check", FIXED], env=env, cwd=tmp_path)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr

    out = tmp_path / "race.png"
    exported = run([gui_venv.racelane, "export", BUGGY, "-o", out, "--hazard", "1", "--width", "1600"], env=env, cwd=tmp_path)
    assert exported.returncode == 0, exported.stdout + exported.stderr
    facts = png_facts(out)
    assert facts["width"] == 1600 and facts["height"] > 300
    assert facts["red"] > 100 and facts["green"] > 1000 and facts["blue"] > 1000, facts  # the hazard and both lanes

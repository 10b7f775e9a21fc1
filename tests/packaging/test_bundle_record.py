"""`racelane record` as the bundle runs it (tracer/cli/bundle.py), without building the bundle.

A subprocess sets ``sys.frozen`` as PyInstaller does and runs racelane's
main: the command must hand the program over to a Python with racelane
installed, or say what to install.
"""

from __future__ import annotations

import sys

import orjson
from packaging_helpers import ROOT, private_env, run

from tracer.cli import bundle
from tracer.cli.main import build_parser

FROZEN_MAIN = "import sys; sys.frozen = True\nfrom tracer.cli.main import main\nsys.exit(main(sys.argv[1:]))"


def frozen_racelane(*args: object) -> list[str]:
    return [sys.executable, "-c", FROZEN_MAIN, *map(str, args)]


def test_record_in_the_bundle_runs_the_program_under_the_python_with_racelane(tmp_path):
    script = tmp_path / "job.py"
    script.write_text("import sys, threading, tracer\n"
                      "with tracer.span('job', cat='work'):\n"
                      "    t = threading.Thread(target=print, args=('child thread',)); t.start(); t.join()\n"
                      "print('args', sys.argv[1:])\nsys.exit(4)\n")
    env = private_env(tmp_path, RACELANE_PYTHON=sys.executable, PYTHONPATH=str(ROOT), LD_LIBRARY_PATH="/bundle/_internal",
                      LD_LIBRARY_PATH_ORIG="/usr/lib/mine", _PYI_ARCHIVE_FILE="/bundle/racelane")
    done = run(frozen_racelane("record", "-o", "job-{pid}.jsonl", "--flush-ms", "20", script, "--its", "-o", "x"),
               env=env, cwd=tmp_path)
    assert done.returncode == 4, done.stderr
    assert "args ['--its', '-o', 'x']" in done.stdout
    (trace,) = tmp_path.glob("job-*.jsonl")
    header = orjson.loads(trace.read_bytes().splitlines()[0])
    assert header["format"] == "racelane"


def test_record_in_the_bundle_without_racelane_anywhere_says_what_to_install(tmp_path):
    script = tmp_path / "job.py"
    script.write_text("print('ran')\n")
    env = private_env(tmp_path, PYTHONPATH=str(ROOT), PATH=str(tmp_path / "empty-bin"))
    done = run(frozen_racelane("record", script), env=env, cwd=tmp_path)
    assert done.returncode == 2 and "ran" not in done.stdout
    assert "self-contained bundle" in done.stderr and "python3 -m pip install racelane" in done.stderr
    assert "python3 (not found); python (not found)" in done.stderr


def test_usage_errors_come_first_even_in_the_bundle(tmp_path):
    env = private_env(tmp_path, PYTHONPATH=str(ROOT))
    missing = run(frozen_racelane("record", tmp_path / "nowhere.py"), env=env, cwd=tmp_path)
    assert missing.returncode == 2 and "no such script" in missing.stderr


def test_the_arguments_handed_over_parse_back_to_the_same_command():
    parser = build_parser()
    for argv in (["record", "-o", "t-{pid}.jsonl", "--profile", "nova", "--flush-ms", "12.5", "s.py", "-o", "a"],
                 ["record", "--no-children", "-m", "pkg.mod", "--", "--flag"],
                 ["record", "--", "s.py", "--", "x"],
                 ["record", "s.py"]):
        first = parser.parse_args(argv)
        again = parser.parse_args(["record", *bundle.record_arguments(first)])
        for name in ("output", "profile", "flush_ms", "no_children", "module"):
            assert getattr(again, name) == getattr(first, name), (argv, name)
        strip = lambda p: p[1:] if p[:1] == ["--"] else p  # noqa: E731
        assert strip(again.program) == strip(first.program), argv


def test_the_handed_over_environment_drops_what_the_bundle_loader_added():
    env = bundle.host_environ({"LD_LIBRARY_PATH": "/b/_internal:/usr/lib/mine", "LD_LIBRARY_PATH_ORIG": "/usr/lib/mine",
                               "_PYI_ARCHIVE_FILE": "/b/racelane", "_PYI_PARENT_PROCESS_LEVEL": "-1", "HOME": "/h"})
    assert env == {"LD_LIBRARY_PATH": "/usr/lib/mine", "HOME": "/h"}
    assert bundle.host_environ({"LD_LIBRARY_PATH": "/b/_internal"}) == {}

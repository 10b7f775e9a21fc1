"""`racelane record` runs real programs with recording on, without touching their code."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import orjson

from tracer.record.format import iter_rows

RACELANE = [sys.executable, "-m", "tracer.cli.main"]


def read(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def span_names(records: list[dict]) -> list[str]:
    return [row["name"] for r in records if r["type"] == "spans" for row in iter_rows(r)]


def run(args, cwd, **kw):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RACELANE_")}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[2]), env.get("PYTHONPATH", "")])
    return subprocess.run([*RACELANE, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, **kw)


def write_program(tmp_path: Path) -> None:
    (tmp_path / "shop.py").write_text(textwrap.dedent("""
        import threading

        def checkout(order_id, password=None):
            return {"id": order_id, "items": [1, 2, 3]}

        def main():
            threads = [threading.Thread(target=checkout, args=(n,), kwargs={"password": "pw"}) for n in range(3)]
            for t in threads: t.start()
            for t in threads: t.join()
            return checkout(99)
    """))
    (tmp_path / "shopmain.py").write_text("import shop, sys\nshop.main()\nsys.exit(3)\n")
    (tmp_path / "shop.toml").write_text(textwrap.dedent("""
        [[span]]
        target = "shop.checkout"
        name = "shop.checkout"
        cat = "orders"
        attrs = { order = "order_id" }
        result = { items = "result.items#" }
    """))


def test_record_module_with_profile_instruments_without_code_changes(tmp_path):
    """`racelane record --profile FILE -m module` records the profile's targets and keeps the exit code."""
    write_program(tmp_path)
    proc = run(["record", "--profile", "shop.toml", "-o", "out.jsonl", "-m", "shopmain"], cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr
    records = read(tmp_path / "out.jsonl")
    rows = [row["attrs"] for r in records if r["type"] == "spans" for row in iter_rows(r)]
    assert len(rows) == 4
    assert {attrs["order"] for attrs in rows} == {0, 1, 2, 99}
    assert all(attrs["items"] == 3 and "password" not in attrs for attrs in rows)
    assert "recorded 4 spans" in proc.stderr


def test_record_script_path_and_child_processes_write_their_own_files(tmp_path):
    """A recorded script's child Python processes record too, each into its own file."""
    (tmp_path / "child.py").write_text("import tracer\nwith tracer.span('in-child'):\n    pass\n")
    (tmp_path / "parent.py").write_text(textwrap.dedent("""
        import subprocess, sys, tracer
        with tracer.span('in-parent'):
            subprocess.run([sys.executable, 'child.py'], check=True)
    """))
    proc = run(["record", "-o", "rec-{pid}.jsonl", "parent.py"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    files = sorted(tmp_path.glob("rec-*.jsonl"))
    assert len(files) == 2
    names = sorted(n for f in files for n in span_names(read(f)))
    assert names == ["in-child", "in-parent"]
    pids = {read(f)[0]["pid"] for f in files}
    assert len(pids) == 2


def test_record_without_program_is_a_usage_error(tmp_path):
    """`racelane record` with nothing to run exits 2 with a clear message."""
    proc = run(["record"], cwd=tmp_path)
    assert proc.returncode == 2
    assert "give a script path or -m MODULE" in proc.stderr
    proc = run(["record", "missing.py"], cwd=tmp_path)
    assert proc.returncode == 2 and "no such script: missing.py" in proc.stderr


def test_unknown_profile_is_a_usage_error_naming_the_choices(tmp_path):
    """An unknown profile name exits 2 and lists the built-in profiles."""
    write_program(tmp_path)
    proc = run(["record", "--profile", "nope", "-m", "shopmain"], cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "unknown profile 'nope'" in proc.stderr and "nova" in proc.stderr


def test_environment_variables_turn_recording_on_in_any_python_process(tmp_path):
    """RACELANE_OUT plus the boot folder on PYTHONPATH records an unmodified program."""
    from tracer.record.boot import boot_dir

    (tmp_path / "plain.py").write_text("import tracer\nwith tracer.span('plain'):\n    pass\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RACELANE_")}
    env["RACELANE_OUT"] = str(tmp_path / "env-{pid}.jsonl")
    env["PYTHONPATH"] = os.pathsep.join([boot_dir(), str(Path(__file__).resolve().parents[2])])
    subprocess.run([sys.executable, "plain.py"], cwd=tmp_path, env=env, check=True, timeout=60)
    (path,) = tmp_path.glob("env-*.jsonl")
    assert span_names(read(path)) == ["plain"]
    assert read(path)[-1]["type"] == "end"


def test_version_and_help_examples():
    """`racelane --version` prints the version; each subcommand's help has an example."""
    out = subprocess.run([*RACELANE, "--version"], capture_output=True, text=True, check=True).stdout
    assert out.startswith("racelane ")
    for sub in ("record", "demo"):
        text = subprocess.run([*RACELANE, sub, "--help"], capture_output=True, text=True, check=True).stdout
        assert "example" in text


def test_module_options_after_dash_m_reach_the_module(tmp_path):
    """`racelane record -m mod --its-option x` runs mod with its options, as `python -m` does."""
    (tmp_path / "echoargs.py").write_text("import sys\nprint('ARGV', sys.argv[1:])\n")
    proc = run(["record", "-o", "out.jsonl", "-m", "echoargs", "--bind", "127.0.0.1", "-o", "theirs"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "ARGV ['--bind', '127.0.0.1', '-o', 'theirs']" in proc.stdout
    assert (tmp_path / "out.jsonl").exists() and not (tmp_path / "theirs").exists()


def test_dash_m_after_double_dash_runs_the_module(tmp_path):
    """`racelane record -o out -- -m mod ARGS` (the documented form) runs the module, as `-m mod` before `--` does."""
    (tmp_path / "echoargs.py").write_text("import sys\nprint('ARGV', sys.argv[1:])\n")
    for words in (["--", "-m", "echoargs", "-o", "theirs"], ["--", "-mechoargs", "-o", "theirs"]):
        proc = run(["record", "-o", "out.jsonl", *words], cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert "ARGV ['-o', 'theirs']" in proc.stdout
        assert (tmp_path / "out.jsonl").exists() and not (tmp_path / "theirs").exists()
        (tmp_path / "out.jsonl").unlink()
    proc = run(["record", "-o", "out.jsonl", "--", "-m"], cwd=tmp_path)
    assert proc.returncode == 2 and "-m needs a module name" in proc.stderr


def test_split_program_only_touches_what_follows_dash_m():
    from tracer.cli.record import split_program

    assert split_program(["-o", "x", "-m", "mod", "--a"]) == ["-o", "x", "-m", "mod", "--", "--a"]
    assert split_program(["-mmod", "--a"]) == ["-mmod", "--", "--a"]
    assert split_program(["-m", "mod", "--", "--a"]) == ["-m", "mod", "--", "--a"]
    assert split_program(["script.py", "-m", "x"]) == ["script.py", "-m", "x"]  # the script's own -m
    assert split_program(["--profile", "-m", "script.py"]) == ["--profile", "-m", "script.py"]  # a value, not -m
    assert split_program(["--", "script.py", "--a"]) == ["--", "script.py", "--a"]

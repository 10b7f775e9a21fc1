"""``racelane tail``: hazards printed as they are decided, exit codes, errors that name the file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from tracer.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
BUGGY = ROOT / "sample_traces" / "nova-1896463-buggy.jsonl"
FIXED = ROOT / "sample_traces" / "nova-1896463-fixed.jsonl"


def racelane(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tracer.cli.main", *args], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def test_json_prints_each_hazard_once_as_one_object_per_line(tmp_path, capsys):
    """--json: one object per decided hazard, the fields of ``check --json`` plus state; exit 1 when one fails."""
    code = main(["tail", "--json", "--idle-exit", "0.3", "--status-s", "0", str(BUGGY)])
    out = capsys.readouterr().out.splitlines()
    hazards = [orjson.loads(line) for line in out]
    assert code == 1
    assert [(h["class"], h["state"]) for h in hazards] == [("confirmed", "decided"), ("potential", "decided")]
    assert {"rule", "title", "start", "end", "host", "explanation", "spans", "found_ns"} <= set(hazards[0])


def test_no_failing_hazard_exits_0(capsys):
    """The fixed trace has only a serialized overlap: printed, and the exit code is 0."""
    code = main(["tail", "--idle-exit", "0.3", "--status-s", "0", str(FIXED)])
    out = capsys.readouterr().out
    assert code == 0
    assert "serialized" in out


def test_fail_fast_exits_1_at_the_first_failing_hazard_while_the_file_grows(tmp_path):
    """--fail-fast waits while the trace is harmless, and exits 1 as soon as the confirmed hazard is written."""
    path = tmp_path / "trace.jsonl"
    data = BUGGY.read_bytes()
    lines = data.splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:7]))  # host1, and host2's header: no hazard yet
    proc = racelane("tail", "--fail-fast", "--json", "--poll", "0.05", "--status-s", "0", str(path))
    try:
        time.sleep(0.5)
        assert proc.poll() is None, proc.communicate()
        with open(path, "ab") as out:
            out.write(b"".join(lines[7:]))
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 1, stderr
    first = orjson.loads(stdout.splitlines()[0])
    assert first["class"] in ("confirmed", "potential") and first["state"] == "decided"


@pytest.mark.parametrize(("sample", "expected"), [(FIXED, 0), (BUGGY, 1)])
def test_ctrl_c_exits_with_the_verdict(sample, expected):
    """Interrupted, tail exits 0 when no failing hazard was found and 1 when one was (as check)."""
    proc = racelane("tail", "--status-s", "0", str(sample))
    try:
        time.sleep(1.5)
        proc.send_signal(signal.SIGINT)
        _stdout, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == expected, stderr
    assert "Traceback" not in stderr


def test_status_line_goes_to_stderr(capsys):
    """The periodic status names files, spans and hazards by class, on stderr only."""
    main(["tail", "--idle-exit", "0.3", "--status-s", "0.1", "--json", str(BUGGY)])
    captured = capsys.readouterr()
    status = [line for line in captured.err.splitlines() if line.startswith("racelane tail:")]
    assert status and "1 confirmed" in status[-1] and "spans" in status[-1]
    assert all(line.startswith("{") for line in captured.out.splitlines())


def test_missing_path_exits_2_naming_it(tmp_path, capsys):
    """A path that does not exist is a usage error naming it."""
    code = main(["tail", str(tmp_path / "nope.jsonl")])
    assert code == 2
    assert "nope.jsonl: No such file or directory" in capsys.readouterr().err


def test_file_that_is_not_a_trace_exits_2_naming_it(tmp_path, capsys):
    """A named file whose first line is not a racelane header stops tail with exit 2."""
    path = tmp_path / "app.log"
    path.write_text('{"level": "info"}\n')
    code = main(["tail", "--status-s", "0", str(path)])
    assert code == 2
    assert f"{path} is not a racelane trace" in capsys.readouterr().err


def test_bad_rules_exit_2(tmp_path, capsys):
    """An unreadable rule file is refused before following anything."""
    code = main(["tail", "--rules", str(tmp_path / "missing.toml"), str(BUGGY)])
    assert code == 2
    assert "missing.toml" in capsys.readouterr().err


def test_follows_a_directory_where_files_appear(tmp_path, capsys):
    """A directory: a process that starts later writes its own file, which joins; its hazard is found."""
    (tmp_path / "a.jsonl").write_bytes(FIXED.read_bytes())

    def later() -> None:
        time.sleep(0.3)
        (tmp_path / "b.jsonl").write_bytes(BUGGY.read_bytes())

    import threading

    writer = threading.Thread(target=later)
    writer.start()
    code = main(["tail", "--json", "--idle-exit", "2.0", "--status-s", "0", "--poll", "0.05", str(tmp_path)])
    writer.join()
    out, err = capsys.readouterr()
    classes = sorted(orjson.loads(line)["class"] for line in out.splitlines())
    assert code == 1, (out, err)
    main(["check", "--json", str(tmp_path / "a.jsonl"), str(tmp_path / "b.jsonl")])
    expected = orjson.loads(capsys.readouterr().out)["hazards"]
    assert classes == sorted(h["class"] for h in expected)
    assert "confirmed" in classes


def test_help_has_an_example():
    """``racelane tail --help`` explains itself with examples."""
    proc = subprocess.run([sys.executable, "-m", "tracer.cli.main", "tail", "--help"], cwd=ROOT, capture_output=True,
                          text=True, env={**os.environ}, timeout=60)
    assert proc.returncode == 0
    assert "racelane tail --fail-fast" in proc.stdout


def test_demo_live_without_a_display_prints_hazards_as_they_happen(tmp_path):
    """``racelane demo --live --no-view``: the real-time scenario runs, its hazards are printed, it ends with it."""
    out = tmp_path / "live.jsonl"
    proc = subprocess.run([sys.executable, "-m", "tracer.cli.main", "demo", "--live", "--no-view", "--duration", "2.5",
                           "-o", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "POTENTIAL" in proc.stdout  # every buggy evacuation finishes outside the lock
    assert "evacuations" in proc.stdout and f"racelane check {out}" in proc.stdout
    main_code = main(["check", "--json", str(out)])
    assert main_code == 1
    again = subprocess.run([sys.executable, "-m", "tracer.cli.main", "demo", "--live", "--no-view", "-o", str(out)],
                           cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert again.returncode == 2 and "exists" in again.stderr  # never appends to a trace the user has

"""`make install-desktop` / `uninstall-desktop` (packaging/linux/install-desktop.sh), always in a private HOME.

The install puts the entry, icons, MIME type and launcher under
$XDG_DATA_HOME (default ~/.local/share); the uninstall leaves the folder
exactly as it found it, and nothing the user had is overwritten.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging_helpers import APP_ID, BUGGY, LINUX, MIME_TYPE, ROOT, png_facts, private_env, run

INSTALLER = LINUX / "install-desktop.sh"
RACELANE = Path(sys.executable).with_name("racelane")


def snapshot(root: Path) -> dict[str, str]:
    """Every path under ``root``: folders as 'dir', files by content digest, links by target."""
    out = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        if path.is_symlink():
            out[key] = "link:" + str(path.readlink())
        elif path.is_dir():
            out[key] = "dir"
        else:
            out[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def install(home: Path, *args: str, racelane: Path = RACELANE, **env: str) -> subprocess.CompletedProcess[str]:
    return run(["bash", INSTALLER, "--racelane", racelane, *args], env=private_env(home, **env), cwd=home)


def uninstall(home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return run(["bash", INSTALLER, "--uninstall"], env=private_env(home, **env), cwd=home)


def parse_exec(value: str) -> list[str]:
    """Split a .desktop Exec value into arguments as the Desktop Entry spec says (string escapes, then quoting)."""
    unescaped, i = [], 0
    while i < len(value):
        if value[i] == "\\" and i + 1 < len(value):
            unescaped.append({"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}.get(value[i + 1], "\\" + value[i + 1]))
            i += 2
        else:
            unescaped.append(value[i])
            i += 1
    text, args, current, quoted, i = "".join(unescaped), [], [], False, 0
    while i < len(text):
        c = text[i]
        if quoted and c == "\\" and i + 1 < len(text) and text[i + 1] in '"`$\\':
            current.append(text[i + 1])
            i += 2
            continue
        if c == '"':
            quoted = not quoted
        elif c == " " and not quoted:
            if current:
                args.append("".join(current))
            current = []
        else:
            current.append(c)
        i += 1
    args.append("".join(current))
    return [a.replace("%%", "%") if a != "%F" else a for a in args]


def entry_keys(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


@pytest.fixture(autouse=True)
def _racelane_in_this_venv():
    if not RACELANE.exists():
        pytest.skip(f"{RACELANE} missing: the tests run from racelane's virtualenv (make setup)")


def test_install_puts_entry_icons_mime_type_and_launcher_under_the_users_data_folder(home, tmp_path):
    before = snapshot(home)
    done = install(home)
    assert done.returncode == 0, done.stderr
    data = home / ".local/share"
    entry = data / "applications" / f"{APP_ID}.desktop"
    launcher = data / "racelane" / "racelane-view"
    keys = entry_keys(entry)
    assert parse_exec(keys["Exec"]) == [str(launcher), "%F"]
    assert keys["Icon"] == APP_ID and MIME_TYPE in keys["MimeType"]
    for size in (16, 32, 48, 128, 256, 512):
        assert (data / f"icons/hicolor/{size}x{size}/apps/{APP_ID}.png").is_file()
    assert (data / f"icons/hicolor/scalable/apps/{APP_ID}.svg").is_file()
    assert (data / f"mime/packages/{APP_ID}.xml").read_bytes() == (LINUX / f"{APP_ID}.mime.xml").read_bytes()
    if shutil.which("update-mime-database"):
        assert MIME_TYPE in (data / "mime" / "types").read_text().split()
    if shutil.which("desktop-file-validate"):
        valid = run(["desktop-file-validate", entry], env=private_env(home), cwd=home)
        assert valid.returncode == 0 and not valid.stdout.strip(), valid.stdout

    # The launcher opens traces with the racelane it was installed for.
    shot = tmp_path / "opened.png"
    opened = run([launcher, "--screenshot", shot, "--hazard", "1", BUGGY], env=private_env(home), cwd=home, timeout=120)
    assert opened.returncode == 0, opened.stderr
    assert png_facts(shot)["red"] > 0

    gone = uninstall(home)
    assert gone.returncode == 0, gone.stderr
    assert snapshot(home) == before


def test_uninstall_leaves_the_users_other_files_and_mime_types_byte_for_byte(home):
    data = home / ".local/share"
    (data / "applications").mkdir(parents=True)
    (data / "applications" / "editor.desktop").write_text("[Desktop Entry]\nType=Application\nName=Editor\nExec=ed\n")
    (data / "icons/hicolor/48x48/apps").mkdir(parents=True)
    (data / "icons/hicolor/48x48/apps/editor.png").write_bytes(b"\x89PNG not really")
    packages = data / "mime" / "packages"
    packages.mkdir(parents=True)
    (packages / "notes.xml").write_text(
        '<?xml version="1.0"?>\n<mime-info xmlns="http://www.freedesktop.org/standards/shared-mime-info">\n'
        '  <mime-type type="text/x-notes"><comment>notes</comment><glob pattern="*.notes"/></mime-type>\n</mime-info>\n')
    if shutil.which("update-mime-database"):
        subprocess.run(["update-mime-database", str(data / "mime")], check=True, capture_output=True)
    before = snapshot(home)

    assert install(home).returncode == 0
    if shutil.which("update-mime-database"):
        types = (data / "mime" / "types").read_text().split()
        assert MIME_TYPE in types and "text/x-notes" in types
    assert uninstall(home).returncode == 0
    assert snapshot(home) == before


def test_reinstall_replaces_its_own_files_and_a_foreign_file_stops_the_install(home):
    assert install(home).returncode == 0
    again = install(home)  # an update: its own files are replaced, not refused
    assert again.returncode == 0, again.stderr
    assert uninstall(home).returncode == 0

    foreign = home / ".local/share/applications" / f"{APP_ID}.desktop"
    foreign.parent.mkdir(parents=True)
    foreign.write_text("[Desktop Entry]\nName=someone else's\n")
    before = snapshot(home)
    refused = install(home)
    assert refused.returncode == 1
    assert str(foreign) in refused.stderr and "move them away" in refused.stderr
    assert snapshot(home) == before  # nothing written, the other file untouched


def test_a_file_changed_after_install_is_neither_removed_nor_overwritten(home):
    assert install(home).returncode == 0
    entry = home / ".local/share/applications" / f"{APP_ID}.desktop"
    entry.write_text(entry.read_text() + "NoDisplay=true\n")  # the user's own edit
    refused = install(home)
    assert refused.returncode == 1 and "changed since" in refused.stderr
    gone = uninstall(home)
    assert gone.returncode == 0
    assert "changed since it was installed; left in place" in gone.stderr
    assert entry.read_text().endswith("NoDisplay=true\n")
    assert not (home / ".local/share/racelane").exists()
    assert not (home / ".local/share/icons").exists()


def test_a_home_with_spaces_quotes_and_dollars_still_gives_a_valid_working_entry(tmp_path):
    home = tmp_path / "Jo's $HOME (work) 100%"
    home.mkdir()
    done = install(home)
    assert done.returncode == 0, done.stderr
    entry = home / ".local/share/applications" / f"{APP_ID}.desktop"
    launcher = home / ".local/share/racelane/racelane-view"
    assert parse_exec(entry_keys(entry)["Exec"]) == [str(launcher), "%F"]
    if shutil.which("desktop-file-validate"):
        valid = run(["desktop-file-validate", entry], env=private_env(home), cwd=tmp_path)
        assert valid.returncode == 0 and not valid.stdout.strip(), valid.stdout
    helped = run([launcher, "--help"], env=private_env(home), cwd=tmp_path)
    assert helped.returncode == 0 and "racelane view" in helped.stdout, helped.stderr
    assert uninstall(home).returncode == 0
    assert list(home.iterdir()) == []


def test_xdg_data_home_is_honoured_and_a_moved_racelane_is_explained(tmp_path, home):
    data = tmp_path / "data"
    fake = tmp_path / "bin" / "racelane"
    fake.parent.mkdir()
    shutil.copy(RACELANE, fake)  # a console script: runs racelane from this virtualenv
    assert install(home, racelane=fake, XDG_DATA_HOME=str(data)).returncode == 0
    assert (data / "applications" / f"{APP_ID}.desktop").is_file() and not (home / ".local").exists()
    fake.unlink()
    moved = run([data / "racelane" / "racelane-view"], env=private_env(home, XDG_DATA_HOME=str(data)), cwd=home)
    assert moved.returncode == 127 and "no longer at" in moved.stderr
    assert uninstall(home, XDG_DATA_HOME=str(data)).returncode == 0
    assert not data.exists()


def test_bad_arguments_are_refused_clearly(home, tmp_path):
    missing = install(home, racelane=tmp_path / "nowhere")
    assert missing.returncode == 1 and "is not an executable program" in missing.stderr
    not_racelane = install(home, racelane=Path("/bin/false"))
    assert not_racelane.returncode == 1 and "--version failed" in not_racelane.stderr
    unknown = run(["bash", INSTALLER, "--bogus"], env=private_env(home), cwd=home)
    assert unknown.returncode == 1 and "unknown argument --bogus" in unknown.stderr
    nothing = uninstall(home)
    assert nothing.returncode == 0 and "nothing to remove" in nothing.stdout
    assert list(home.iterdir()) == []


def test_make_targets_call_the_installer():
    dry = subprocess.run(["make", "-n", "-C", str(ROOT), "install-desktop", "uninstall-desktop", "package",
                          "RACELANE=/opt/racelane/racelane"], capture_output=True, text=True)
    assert dry.returncode == 0, dry.stderr
    assert "install-desktop.sh --racelane '/opt/racelane/racelane'" in dry.stdout
    assert "install-desktop.sh --uninstall" in dry.stdout
    assert "packaging/build_bundle.py --archive" in dry.stdout

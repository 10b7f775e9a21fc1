"""packaging/linux: the .desktop entry, AppStream metainfo, MIME type and icons are valid and agree.

desktop-file-validate and appstreamcli come from Debian's desktop-file-utils
and appstream (scripts/system-deps.sh installs them); without them those two
checks are skipped, the rest still run.
"""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from packaging_helpers import APP_ID, BUGGY, FIXED, LINUX, MIME_TYPE, ROOT, SAMPLES, private_env, run

import tracer

DESKTOP = LINUX / f"{APP_ID}.desktop"
METAINFO = LINUX / f"{APP_ID}.metainfo.xml"
MIME = LINUX / f"{APP_ID}.mime.xml"
SMI = "{http://www.freedesktop.org/standards/shared-mime-info}"
sys.path.insert(0, str(LINUX))
import make_assets  # noqa: E402  (packaging/linux/make_assets.py)


def desktop_entry() -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    parser.optionxform = str  # keys are case-sensitive
    parser.read(DESKTOP, encoding="utf-8")
    return dict(parser["Desktop Entry"])


def test_desktop_file_validates():
    if shutil.which("desktop-file-validate") is None:
        pytest.skip("desktop-file-validate missing (Debian: desktop-file-utils; scripts/system-deps.sh)")
    checked = subprocess.run(["desktop-file-validate", str(DESKTOP)], capture_output=True, text=True)
    assert checked.returncode == 0 and not checked.stdout.strip(), checked.stdout + checked.stderr


def test_desktop_entry_opens_trace_files_with_the_viewer():
    entry = desktop_entry()
    assert entry["Type"] == "Application" and entry["Name"] == "racelane" and entry["Comment"]
    assert entry["Exec"] == "racelane view %F"  # several files at once, merged on one time axis
    assert entry["Icon"] == APP_ID
    assert entry["Categories"].split(";")[:2] == ["Development", "Debugger"]
    assert MIME_TYPE in entry["MimeType"].split(";")
    assert entry["Terminal"] == "false"
    assert entry["StartupWMClass"] == "racelane"  # the WM_CLASS Qt gives the window on X11


def test_metainfo_validates():
    if shutil.which("appstreamcli") is None:
        pytest.skip("appstreamcli missing (Debian: appstream; scripts/system-deps.sh)")
    checked = subprocess.run(["appstreamcli", "validate", "--no-net", "--explain", str(METAINFO)],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    problems = [line for line in checked.stdout.splitlines() if re.match(r"^[EW]: ", line)]
    assert not problems, checked.stdout


def test_metainfo_agrees_with_the_entry_the_package_and_its_screenshots():
    root = ET.parse(METAINFO).getroot()
    assert root.get("type") == "desktop-application"
    assert root.findtext("id") == APP_ID
    assert root.findtext("launchable[@type='desktop-id']") == DESKTOP.name
    assert root.findtext("metadata_license") == "CC0-1.0"
    assert root.findtext("project_license") == "Apache-2.0"
    assert 'license = "Apache-2.0"' in (ROOT / "pyproject.toml").read_text()
    assert root.find("content_rating").get("type") == "oars-1.1"
    assert root.findtext("provides/binary") == "racelane"
    assert root.findtext("provides/mediatype") == MIME_TYPE
    assert root.findtext("summary") and len(root.findall("description/p")) >= 2
    releases = root.findall("releases/release")
    assert releases[0].get("version") == tracer.__version__, "add a <release> for the new version"

    shots = root.findall("screenshots/screenshot")
    assert [s.get("type") for s in shots].count("default") == 1
    for shot in shots:
        assert shot.findtext("caption")
        image = shot.find("image")
        name = image.text.rsplit("/", 1)[1]
        path = LINUX / "screenshots" / name
        assert path.is_file(), f"{name}: make it with packaging/linux/make_assets.py screenshots"
        from PySide6 import QtGui

        picture = QtGui.QImage(str(path))
        assert (picture.width(), picture.height()) == (int(image.get("width")), int(image.get("height"))), name
    assert {s[0] for s in make_assets.SCREENSHOTS} == {s.find("image").text.rsplit("/", 1)[1] for s in shots}


def test_the_viewer_announces_the_same_desktop_id(tmp_path):
    shown = run([sys.executable, "-c", "from gui.app import application; print(application().desktopFileName())"],
                env=private_env(tmp_path, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT)), cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == APP_ID


def test_mime_magic_is_what_the_recorder_writes(tmp_path):
    root = ET.parse(MIME).getroot()
    (kind,) = root.findall(f"{SMI}mime-type")
    assert kind.get("type") == MIME_TYPE
    (match,) = kind.findall(f"{SMI}magic/{SMI}match")
    assert (match.get("type"), match.get("offset")) == ("string", "0")
    magic = match.get("value").encode()

    path = tmp_path / "recorded.jsonl"
    with tracer.start(str(path)), tracer.span("anything"):
        pass
    assert path.read_bytes().startswith(magic)
    for sample in (BUGGY, FIXED, *sorted((SAMPLES / "multi-host-skew").glob("*.jsonl"))):
        assert sample.read_bytes().startswith(magic), sample
    assert not (SAMPLES / "nova-1896463-buggy.otlp.jsonl").read_bytes().startswith(magic)


def test_mime_database_recognises_traces_by_content(tmp_path):
    if shutil.which("update-mime-database") is None:
        pytest.skip("update-mime-database missing (Debian: shared-mime-info)")
    data = tmp_path / "data"
    (data / "mime" / "packages").mkdir(parents=True)
    shutil.copy(MIME, data / "mime" / "packages" / f"{APP_ID}.xml")
    subprocess.run(["update-mime-database", str(data / "mime")], check=True, capture_output=True)
    renamed = tmp_path / "evacuation-audit.jsonl"  # not the default name: the header decides
    shutil.copy(BUGGY, renamed)
    other = tmp_path / "racelane-notes.txt"
    other.write_text('{"type":"note"}\n')
    files = [renamed, BUGGY, other, SAMPLES / "nova-1896463-buggy.otlp.jsonl"]
    script = ("import sys\nfrom PySide6.QtCore import QMimeDatabase\ndb = QMimeDatabase()\n"
              "print(' '.join(db.mimeTypeForFile(p).name() for p in sys.argv[1:]))")
    for data_home, expected in ((data, [MIME_TYPE, MIME_TYPE, "text/plain", "!"]), (tmp_path / "none", ["!", "!", "text/plain", "!"])):
        found = run([sys.executable, "-c", script, *files], env=private_env(tmp_path, XDG_DATA_HOME=str(data_home)), cwd=tmp_path)
        assert found.returncode == 0, found.stderr
        names = found.stdout.split()
        for name, want in zip(names, expected):
            assert (name == want) if want != "!" else (name != MIME_TYPE), (names, expected)


def test_png_icons_are_the_svg_rendered_at_each_size(tmp_path, qapp):
    from PySide6 import QtGui, QtSvg

    assert QtSvg.QSvgRenderer(str(make_assets.SVG_ICON)).isValid()
    for size in make_assets.ICON_SIZES:
        committed = make_assets.png_icon_path(size)
        fresh = tmp_path / f"{size}.png"
        make_assets.render_icon(size, str(fresh))
        a, b = QtGui.QImage(committed), QtGui.QImage(str(fresh))
        assert (a.width(), a.height()) == (size, size), committed
        assert a.convertToFormat(QtGui.QImage.Format.Format_ARGB32) == b.convertToFormat(QtGui.QImage.Format.Format_ARGB32), (
            f"{committed} is out of date: run packaging/linux/make_assets.py icons")

"""Build the racelane one-folder bundle with PyInstaller, check it starts, report its size.

    .venv/bin/python packaging/build_bundle.py                # dist/racelane/ (what `make package` runs)
    .venv/bin/python packaging/build_bundle.py --archive      # and dist/racelane-0.1.0-linux-x86_64.tar.gz
    .venv/bin/python packaging/build_bundle.py --dist /tmp/d --work /tmp/w

The folder holds the `racelane` program (every subcommand, the viewer
included) and `_internal/`, the Python and Qt it runs on, so it runs on a
Linux machine without Python. `desktop/` beside the program holds the desktop
integration; `racelane/desktop/install-desktop.sh` installs it for the user,
opening traces with this bundle. What the bundle leaves out, and why, is in
packaging/racelane.spec.

Exit status 0 when the bundle was built and `racelane --version` ran from it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time

MIB = 1 << 20
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SPEC = os.path.join(HERE, "racelane.spec")
LINUX = os.path.join(HERE, "linux")
# Copied into the bundle's desktop/ folder (paths relative to packaging/linux).
DESKTOP_FILES = (
    "install-desktop.sh",
    "io.racelane.Racelane.desktop",
    "io.racelane.Racelane.metainfo.xml",
    "io.racelane.Racelane.mime.xml",
    "icons",
)


def build(dist: str, work: str, *, quiet: bool = False) -> str:
    """Run PyInstaller on the spec; return the bundle folder. Raises SystemExit when PyInstaller fails."""
    command = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
               "--distpath", dist, "--workpath", work, SPEC]
    result = subprocess.run(command, cwd=ROOT, capture_output=quiet, text=True)
    if result.returncode != 0:
        if quiet:
            sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"build_bundle: PyInstaller failed (exit {result.returncode})")
    return os.path.join(dist, "racelane")


def add_desktop_files(bundle: str) -> None:
    """Copy the desktop integration into ``bundle``/desktop."""
    target = os.path.join(bundle, "desktop")
    if os.path.isdir(target):
        shutil.rmtree(target)
    os.makedirs(target)
    for name in DESKTOP_FILES:
        source = os.path.join(LINUX, name)
        if os.path.isdir(source):
            shutil.copytree(source, os.path.join(target, name))
        else:
            shutil.copy2(source, os.path.join(target, name))


def check_starts(bundle: str) -> str:
    """Run the bundle's ``racelane --version``; return what it printed. Raises SystemExit when it fails."""
    program = os.path.join(bundle, "racelane")
    result = subprocess.run([program, "--version"], capture_output=True, text=True, timeout=120)
    if result.returncode != 0 or not result.stdout.startswith("racelane "):
        raise SystemExit(f"build_bundle: {program} --version failed (exit {result.returncode}):\n{result.stderr}")
    return result.stdout.strip()


def strip_debug_info(bundle: str) -> int:
    """Remove debugging information from the bundle's shared libraries that carry it; return the bytes saved.

    Python built from source (pyenv, for one) keeps its debug information:
    libpython alone carries 16 MB of it. Only files with a ``.debug_info``
    section are touched, and only that information goes (``strip
    --strip-debug``): wheels' libraries patched by auditwheel stay as they are.
    Without binutils (``strip``, ``readelf``) nothing changes.
    """
    if shutil.which("strip") is None or shutil.which("readelf") is None:
        print("build_bundle: strip or readelf not found (Debian: binutils); debug information stays")
        return 0
    saved = 0
    for folder, _dirs, names in os.walk(bundle):
        for name in names:
            path = os.path.join(folder, name)
            if os.path.islink(path) or not (".so" in name or name == "racelane"):
                continue
            sections = subprocess.run(["readelf", "-S", "-W", path], capture_output=True, text=True)
            if sections.returncode != 0 or ".debug_info" not in sections.stdout:
                continue
            before = os.path.getsize(path)
            subprocess.run(["strip", "--strip-debug", path], check=True)
            saved += before - os.path.getsize(path)
    return saved


def tree_size(path: str) -> tuple[int, int]:
    """Return (bytes, files) under ``path``, counting symbolic links as links."""
    total = files = 0
    for folder, _dirs, names in os.walk(path):
        for name in names:
            total += os.lstat(os.path.join(folder, name)).st_size
            files += 1
    return total, files


def size_report(bundle: str) -> list[tuple[str, int]]:
    """Return (part, bytes) for the bundle's main parts, largest first, then the total."""
    internal = os.path.join(bundle, "_internal")

    def size(*path: str) -> int:
        full = os.path.join(*path)
        if not os.path.lexists(full):
            return 0
        return tree_size(full)[0] if os.path.isdir(full) else os.lstat(full).st_size

    qt_lib, qt_plugins = size(internal, "PySide6", "Qt", "lib"), size(internal, "PySide6", "Qt", "plugins")
    python = size(internal, "python3.11") + sum(size(internal, n) for n in os.listdir(internal) if n.startswith("libpython"))
    parts = {
        "Qt libraries": qt_lib,
        "Qt plugins": qt_plugins,
        "PySide6 and shiboken6 bindings": size(internal, "PySide6") - qt_lib - qt_plugins + size(internal, "shiboken6"),
        "numpy": size(internal, "numpy"),
        "numpy's OpenBLAS": size(internal, "numpy.libs"),
        "Python (libpython, extension modules)": python,
        "racelane and the Python modules (the program)": size(bundle, "racelane"),
        "desktop integration": size(bundle, "desktop"),
    }
    total = tree_size(bundle)[0]
    parts["other libraries and data"] = total - sum(parts.values())
    return [*sorted(parts.items(), key=lambda item: -item[1]), ("total", total)]


def archive(bundle: str, dist: str, version: str) -> str:
    """Pack ``bundle`` as racelane-VERSION-linux-ARCH.tar.gz in ``dist``; return its path."""
    name = f"racelane-{version}-linux-{os.uname().machine}.tar.gz"
    out = os.path.join(dist, name)
    subprocess.run(["tar", "-czf", out + ".part", "-C", os.path.dirname(bundle), os.path.basename(bundle)], check=True)
    os.replace(out + ".part", out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dist", default=os.path.join(ROOT, "dist"), help="where the bundle goes (default: dist/)")
    parser.add_argument("--work", default=os.path.join(ROOT, "build", "pyinstaller"),
                        help="PyInstaller's work folder (default: build/pyinstaller/)")
    parser.add_argument("--archive", action="store_true", help="also pack the bundle as a .tar.gz")
    parser.add_argument("--quiet", action="store_true", help="print PyInstaller's output only when it fails")
    args = parser.parse_args(argv)
    dist, work = os.path.abspath(args.dist), os.path.abspath(args.work)

    started = time.monotonic()
    bundle = build(dist, work, quiet=args.quiet)
    saved = strip_debug_info(bundle)
    add_desktop_files(bundle)
    version = check_starts(bundle)
    seconds = time.monotonic() - started
    files = tree_size(bundle)[1]
    print(f"build_bundle: {bundle}: {version}, built in {seconds:.0f} s, {files} files"
          f"{f', {saved / MIB:.1f} MiB of debug information stripped' if saved else ''}")
    for part, size in size_report(bundle):
        print(f"  {size / MIB:7.1f} MiB  {part}")
    if args.archive:
        out = archive(bundle, dist, version.split()[-1])
        print(f"build_bundle: {out}: {os.path.getsize(out) / MIB:.1f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

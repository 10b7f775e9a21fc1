#!/usr/bin/env bash
# Install the Debian libraries Qt's offscreen and xcb platform plugins load,
# plus Xvfb and poppler-utils for the GUI checks, and the packaging tools:
# binutils (PyInstaller's objcopy; strip), desktop-file-utils and appstream
# (validating packaging/linux), shared-mime-info (the trace MIME type).
# Does nothing when they are all present; needs root (or says what to install)
# when they are not.
set -euo pipefail
packages=(
  libegl1 libgl1 libglib2.0-0 libfontconfig1 libdbus-1-3 libxkbcommon0
  libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1
  libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xfixes0
  libxcb-xkb1 libx11-xcb1 fonts-dejavu-core xvfb xauth poppler-utils
  binutils desktop-file-utils appstream shared-mime-info
)
command -v dpkg-query >/dev/null 2>&1 || { echo "system-deps: not a Debian system; install Qt's xcb libraries yourself" >&2; exit 0; }
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "system-deps: missing Debian packages: ${missing[*]}" >&2
  echo "system-deps: run: sudo apt-get install -y ${missing[*]}" >&2
  exit 0
fi
echo "system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

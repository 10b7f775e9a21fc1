#!/usr/bin/env bash
# Install racelane's desktop integration for the current user, or remove it.
#
#   install-desktop.sh [--racelane PATH]   install (or update) it
#   install-desktop.sh --uninstall         remove exactly what the install added
#
# Installs, under ${XDG_DATA_HOME:-~/.local/share}:
#   applications/io.racelane.Racelane.desktop   the menu entry, opening traces with `racelane view`
#   icons/hicolor/*/apps/io.racelane.Racelane.* the icon, SVG and PNG sizes
#   mime/packages/io.racelane.Racelane.xml      the racelane trace type (then update-mime-database)
#   racelane/racelane-view                      the launcher the entry runs: `<racelane> view "$@"`
#   racelane/desktop-install.manifest           what was installed, for --uninstall
#
# PATH is the racelane program the launcher runs: by default the bundle's
# `racelane` when this script sits in a bundle (racelane/desktop/), else the
# `racelane` on PATH. `make install-desktop` passes the one in .venv.
#
# Nothing that was already there is overwritten: a file of the same name that
# this script did not install (or that changed since) stops the install, and an
# install that fails half-way takes back what it wrote. --uninstall removes the
# files the manifest lists (a file changed since is left, with a warning), the
# MIME database files the install generated when no other type is left to
# describe (else it regenerates the database), then the folders the install
# created, if they are empty.
set -Eeuo pipefail

APP_ID=io.racelane.Racelane
MIME_TYPE=application/x-racelane-trace
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
data=${XDG_DATA_HOME:-${HOME:?HOME is not set}/.local/share}
state=$data/racelane
manifest=$state/desktop-install.manifest

say() { printf 'racelane desktop: %s\n' "$*"; }
die() { printf 'racelane desktop: error: %s\n' "$*" >&2; exit 1; }

usage() {
  sed -n '2,/^set -Eeuo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
}

digest() { sha256sum "$1" | cut -d' ' -f1; }

# --- uninstall -------------------------------------------------------------
uninstall() {
  local quiet=${1:-}
  if [ ! -f "$manifest" ]; then
    [ -n "$quiet" ] || say "nothing to remove: no $manifest"
    return 0
  fi
  local kind a b kept=0 removed=0 mime_db=""
  local -a dirs=() generated=()
  while IFS=$'\t' read -r kind a b; do
    case $kind in
      file)
        if [ ! -e "$b" ]; then
          continue
        elif [ "$(digest "$b")" = "$a" ]; then
          rm -f -- "$b"; removed=$((removed + 1))
        else
          printf 'racelane desktop: warning: %s changed since it was installed; left in place\n' "$b" >&2
          kept=$((kept + 1))
        fi ;;
      dir) dirs+=("$a") ;;
      mimedb) mime_db=$a ;;
      generated) generated+=("$a") ;;
      '#'*|racelane|'') ;;
      *) printf 'racelane desktop: warning: %s: unknown line %q ignored\n' "$manifest" "$kind" >&2 ;;
    esac
  done < "$manifest"
  rm -f -- "$manifest"
  if [ -n "$mime_db" ] && [ -d "$mime_db" ]; then
    local g
    if [ -z "$(ls -A "$mime_db/packages" 2>/dev/null)" ]; then
      # No type is declared any more: what update-mime-database generated at
      # install time describes nothing, and goes.
      for g in ${generated[@]+"${generated[@]}"}; do rm -rf -- "$g"; done
    fi
    if [ -n "$(ls -A "$mime_db" 2>/dev/null | grep -vx packages)" ] && command -v update-mime-database >/dev/null 2>&1; then
      update-mime-database "$mime_db" >/dev/null 2>&1 || say "update-mime-database $mime_db failed"
      # It leaves the folder of a media type it no longer has (application/) behind, empty.
      for g in ${generated[@]+"${generated[@]}"}; do [ ! -d "$g" ] || rmdir -- "$g" 2>/dev/null || true; done
    fi
  fi
  local i
  for (( i=${#dirs[@]}-1; i>=0; i-- )); do  # deepest first
    rmdir -- "${dirs[$i]}" 2>/dev/null || true
  done
  if [ -z "$quiet" ]; then
    if [ "$kept" -gt 0 ]; then say "removed $removed file(s); kept $kept changed file(s)"; else say "removed $removed file(s)"; fi
  fi
}

# --- install ---------------------------------------------------------------
# The .desktop Exec value for one argument: quoted when it holds reserved
# characters (Desktop Entry spec, "The Exec key"), then escaped as a string value.
exec_arg() {
  local arg=$1 reserved="[[:space:]\"'\\\\><~|&;\$*?#()\`]"
  if [[ $arg =~ $reserved ]]; then
    arg=${arg//\\/\\\\}; arg=${arg//\"/\\\"}; arg=${arg//\`/\\\`}; arg=${arg//\$/\\\$}
    arg="\"$arg\""
  fi
  arg=${arg//\\/\\\\}   # string-value escaping of every backslash
  printf '%s' "${arg//%/%%}"
}

installed_by_us() {  # is $1 a file the manifest lists, unchanged since?
  local recorded
  [ -f "$manifest" ] || return 1
  recorded=$(P=$1 awk -F'\t' '$1 == "file" && $3 == ENVIRON["P"] { print $2 }' "$manifest")
  [ -n "$recorded" ] && [ -f "$1" ] && [ "$(digest "$1")" = "$recorded" ]
}

sh_quote() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

install() {
  local racelane=$1
  [ -n "$racelane" ] || die "no racelane program found; pass --racelane PATH"
  [ -x "$racelane" ] || die "$racelane is not an executable program"
  racelane=$(cd "$(dirname "$racelane")" && pwd)/$(basename "$racelane")
  "$racelane" --version >/dev/null 2>&1 || die "$racelane --version failed: is it racelane?"

  local -a sources=() targets=()
  sources+=("$here/$APP_ID.desktop"); targets+=("$data/applications/$APP_ID.desktop")
  sources+=("$here/$APP_ID.mime.xml"); targets+=("$data/mime/packages/$APP_ID.xml")
  local icon
  while IFS= read -r icon; do
    sources+=("$here/icons/$icon"); targets+=("$data/icons/$icon")
  done < <(cd "$here/icons" && find hicolor -type f -name "$APP_ID.*" | sort)
  targets+=("$state/racelane-view")
  local n
  for n in "${!sources[@]}"; do
    [ -f "${sources[$n]}" ] || die "missing ${sources[$n]} (run this script from racelane's packaging/linux or bundle)"
  done

  # Refuse to touch anything a previous install did not put there; then replace that install.
  local conflicts=() t
  for t in "${targets[@]}"; do
    if { [ -e "$t" ] || [ -L "$t" ]; } && ! installed_by_us "$t"; then conflicts+=("$t"); fi
  done
  [ ${#conflicts[@]} -eq 0 ] || die "these files exist and are not racelane's as installed (another program's, or changed since); move them away first: ${conflicts[*]}"
  uninstall quiet

  local -a created=() written=()
  rollback() {  # an install that fails half-way takes back what it wrote
    local i
    for (( i=${#written[@]}-1; i>=0; i-- )); do rm -f -- "${written[$i]}"; done
    for (( i=${#created[@]}-1; i>=0; i-- )); do rmdir -- "${created[$i]}" 2>/dev/null || true; done
  }
  trap 'rollback; die "install failed; nothing was left behind"' ERR
  make_dir() {  # mkdir -p, remembering each folder it creates
    local d=$1 missing=()
    while [ ! -d "$d" ]; do missing=("$d" "${missing[@]}"); d=$(dirname "$d"); done
    for d in "${missing[@]}"; do mkdir -- "$d"; created+=("$d"); done
  }
  local -a mime_before=()
  [ -d "$data/mime" ] && mapfile -t mime_before < <(ls -A "$data/mime")
  make_dir "$state"
  written+=("$manifest.tmp")
  {
    printf '# racelane desktop integration, installed %s; install-desktop.sh --uninstall removes it\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    printf 'racelane\t%s\n' "$racelane"
  } > "$manifest.tmp"

  local launcher=$state/racelane-view
  written+=("$launcher")
  cat > "$launcher" <<EOF
#!/bin/sh
# Opens traces in the racelane viewer; installed by racelane's install-desktop.sh.
racelane=$(sh_quote "$racelane")
if [ ! -x "\$racelane" ]; then
  msg="racelane is no longer at \$racelane; install its desktop entry again (make install-desktop)"
  echo "\$msg" >&2
  command -v notify-send >/dev/null 2>&1 && notify-send racelane "\$msg"
  exit 127
fi
exec "\$racelane" view "\$@"
EOF
  chmod 0755 "$launcher"

  for n in "${!sources[@]}"; do
    make_dir "$(dirname "${targets[$n]}")"
    written+=("${targets[$n]}")
    if [[ ${sources[$n]} == *.desktop ]]; then
      sed "s|^Exec=.*|Exec=$(exec_arg "$launcher" | sed 's/[&|\\]/\\&/g') %F|" "${sources[$n]}" > "${targets[$n]}"
    else
      cp -- "${sources[$n]}" "${targets[$n]}"
    fi
    chmod 0644 "${targets[$n]}"
  done

  for d in "${created[@]}"; do printf 'dir\t%s\n' "$d"; done >> "$manifest.tmp"
  for t in "${targets[@]}"; do printf 'file\t%s\t%s\n' "$(digest "$t")" "$t"; done >> "$manifest.tmp"
  printf 'mimedb\t%s\n' "$data/mime" >> "$manifest.tmp"
  if command -v update-mime-database >/dev/null 2>&1; then
    update-mime-database "$data/mime" >/dev/null 2>&1 || say "update-mime-database $data/mime failed; trace files may not be recognised"
  else
    say "update-mime-database not found (Debian: shared-mime-info); trace files will not be recognised by type"
  fi
  local entry
  while IFS= read -r entry; do  # the database files this install made appear
    [[ " ${mime_before[*]+${mime_before[*]}} " == *" $entry "* ]] || printf 'generated\t%s\n' "$data/mime/$entry"
  done < <(ls -A "$data/mime" | grep -vx packages) >> "$manifest.tmp"
  mv -- "$manifest.tmp" "$manifest"
  trap - ERR
  touch "$data/icons/hicolor" 2>/dev/null || true  # icon themes rescan when their folder changes
  say "installed $APP_ID for $MIME_TYPE files: ${#targets[@]} files under $data, opening with $racelane"
}

# --- arguments -------------------------------------------------------------
action=install
racelane=""
while [ $# -gt 0 ]; do
  case $1 in
    --uninstall) action=uninstall ;;
    --racelane) [ $# -ge 2 ] || die "--racelane needs a path"; racelane=$2; shift ;;
    --racelane=*) racelane=${1#--racelane=} ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
  shift
done

if [ "$action" = uninstall ]; then
  uninstall
else
  if [ -z "$racelane" ]; then
    if [ -x "$here/../racelane" ]; then
      racelane=$here/../racelane
    else
      racelane=$(command -v racelane || true)
    fi
  fi
  install "$racelane"
fi

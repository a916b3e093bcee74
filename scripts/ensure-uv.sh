#!/usr/bin/env bash
# Prints the path of a uv executable, installing uv first when there is none.
# uv goes into its own virtual environment (never into the system Python: Debian's is
# "externally managed"), so this works on a fresh Debian with python3 and nothing else.
set -euo pipefail

if command -v uv >/dev/null 2>&1; then
  command -v uv
  exit 0
fi
home=${XDG_DATA_HOME:-$HOME/.local/share}/progmetal-uv
if [ ! -x "$home/bin/uv" ]; then
  echo "Installing uv into $home" >&2
  if ! python3 -m venv "$home" >/dev/null 2>&1; then
    rm -rf "$home"
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "python3 cannot create virtual environments: installing python3-venv" >&2
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq >&2
      apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
      python3 -m venv "$home" >&2
    else
      echo "python3 cannot create virtual environments: install python3-venv (Debian) or uv itself." >&2
      exit 1
    fi
  fi
  "$home/bin/python" -m pip install --quiet --disable-pip-version-check uv >&2
fi
echo "$home/bin/uv"

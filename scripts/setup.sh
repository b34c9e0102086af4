#!/usr/bin/env bash
# Creates .venv (Python 3.11+) and installs the project with its test tools.
# Sourced by scripts/run.sh and scripts/test.sh; safe to run again.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

pick_python() {
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      echo "$candidate"
      return
    fi
  done
  echo "error: Python 3.11 or newer is required (apt-get install python3 python3-venv)" >&2
  exit 1
}

if [ ! -x .venv/bin/python ]; then
  "$(pick_python)" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
# dev: the test tools; distributed: Dask for `heart plan simulate --engine dask` (tested)
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[dev,distributed]"

# browser assets (Leaflet) from the npm registry, served as static files
bash scripts/frontend.sh

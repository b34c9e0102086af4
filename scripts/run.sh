#!/usr/bin/env bash
# Set up and run the main job on the embedded default database (SQLite, no server).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
unset DATABASE_URL
exec .venv/bin/heart demo "$@"

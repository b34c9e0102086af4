#!/usr/bin/env bash
# Set up and run the main job on the embedded default database (SQLite, no other server):
# the live service with the Durham program, seeded teams, one account per role (printed)
# and a replay of synthetic calls and moving teams on an accelerated clock.
# Extra arguments go to `heart serve` (e.g. --port 8080).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
unset DATABASE_URL
exec .venv/bin/heart serve --demo "$@"

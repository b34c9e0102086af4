#!/usr/bin/env bash
# Set up and run every test: lint, the whole suite on SQLite, then every database
# test again on PostgreSQL (127.0.0.1:5432, trust auth, database `test`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
bash scripts/services.sh
bash scripts/browser.sh

.venv/bin/ruff check src tests bench tools
.venv/bin/ruff format --check src tests bench tools

echo "== tests on SQLite (PostgreSQL-only tests run in the next pass)"
env -u DATABASE_URL .venv/bin/pytest -q -m "not postgres_only" "$@"

echo "== database tests on PostgreSQL"
PG_URL="${HEART_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/test}"
DATABASE_URL="$PG_URL" .venv/bin/pytest -q -m db "$@"

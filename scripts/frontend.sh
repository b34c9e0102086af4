#!/usr/bin/env bash
# Installs the browser assets (Leaflet) and axe-core (the accessibility checks of the
# browser tests) from the npm registry into node_modules/.
# Django serves node_modules/leaflet/dist as /static/leaflet/ (STATICFILES_DIRS).
# Safe to run again; needs node + npm (apt-get install nodejs npm).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! command -v npm >/dev/null 2>&1; then
  echo "error: npm not found (apt-get install -y nodejs npm)" >&2
  exit 1
fi
if [ ! -f node_modules/leaflet/dist/leaflet.js ] || [ ! -f node_modules/axe-core/axe.min.js ] ||
  [ package.json -nt node_modules/leaflet/dist/leaflet.js ]; then
  npm install --no-audit --no-fund --loglevel=error
fi
test -f node_modules/leaflet/dist/leaflet.js || { echo "error: leaflet did not install" >&2; exit 1; }
test -f node_modules/axe-core/axe.min.js || { echo "error: axe-core did not install" >&2; exit 1; }

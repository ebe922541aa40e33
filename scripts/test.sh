#!/usr/bin/env bash
# The README's test command: installs what the tests need on a fresh machine, then runs every
# test of the workspace. `.ci/run` calls this script after its own checks.
#
#   scripts/test.sh            # install (if missing) and run all tests
#   scripts/test.sh -- ARGS    # extra arguments for `cargo test` (e.g. a test name filter)
#
# Installs: pyarrow and duckdb (independent readers of the lake), Debian's chromium (the
# report's browser check). Nothing is installed when it is already present.
# Also adbc-driver-flightsql and pandas: the Flight SQL tests' clients.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== test dependencies"
if ! python3 -c 'import pyarrow, duckdb, adbc_driver_flightsql, pandas' >/dev/null 2>&1; then
    python3 -m pip install --quiet --disable-pip-version-check pyarrow duckdb adbc-driver-flightsql pandas
fi
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
        || echo "chromium could not be installed; the browser check will say so"
fi

[ "${1:-}" = "--" ] && shift
echo "== cargo test --workspace"
cargo test --workspace "$@"

#!/usr/bin/env bash
# The README's test command: installs what the tests need on a fresh machine, then runs every
# test of the workspace. `.ci/run` calls this script after its own checks.
#
#   scripts/test.sh            # install (if missing) and run all tests
#   scripts/test.sh -- ARGS    # extra arguments for `cargo test` (e.g. a test name filter)
#
# Installs: pyarrow and duckdb (independent readers of the lake), the OpenTelemetry Python SDK
# and its OTLP/HTTP exporter (the real client of /v1/logs), adbc-driver-flightsql and pandas
# (the Flight SQL tests' clients), Debian's chromium (the report's browser check). Nothing is
# installed when it is already present.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== test dependencies"
PY_MODULES='pyarrow, duckdb, opentelemetry.sdk, opentelemetry.exporter.otlp.proto.http, adbc_driver_flightsql, pandas'
PY_PACKAGES='pyarrow duckdb opentelemetry-sdk opentelemetry-exporter-otlp-proto-http adbc-driver-flightsql pandas'
if ! python3 -c "import $PY_MODULES" >/dev/null 2>&1; then
    # shellcheck disable=SC2086
    python3 -m pip install --quiet --disable-pip-version-check $PY_PACKAGES
fi
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
        || echo "chromium could not be installed; the browser check will say so"
fi

[ "${1:-}" = "--" ] && shift
echo "== cargo test --workspace"
cargo test --workspace "$@"

#!/usr/bin/env bash
# The no-noise strategy (exact releases for golden tests, the `test-util` feature of
# fingertip-dp / fingertip-query) must never reach a shipped binary. This checks that
#
#   (a) the `fingertip` binary, as shipped (`cargo build --release -p fingertip`: normal
#       dependency edges only, every target platform), enables no `test-util` feature; and
#   (b) fingertip-dp with `--features test-util` does not compile in release mode (its
#       `compile_error!`), while without the feature it does, so the failure is that guard's.
#
# Usage: .ci/check-no-noise.sh   (from anywhere in the workspace; extra cargo flags such as
# --locked or --offline can be passed in CARGO_FLAGS). Exits non-zero on the first failure.
set -euo pipefail

cd "$(dirname "$0")/.."
CARGO=${CARGO:-cargo}
read -r -a FLAGS <<< "${CARGO_FLAGS:-}"
GUARD='cannot be built in release mode'

fail() { echo "FAIL: $*" >&2; exit 1; }

echo "== (a) cargo tree -p fingertip -e normal,features --target all: no \`test-util\` feature"
tree=$("$CARGO" tree "${FLAGS[@]}" -p fingertip -e normal,features --target all --prefix none)
# Sanity: the tree really is the binary's, with fingertip-dp in it.
grep -q '^fingertip-dp feature "default"' <<< "$tree" || fail "fingertip-dp is not in the dependency tree of fingertip; is this the right workspace?"
if grep -n 'feature "test-util"' <<< "$tree"; then
    echo "--- who enables it:" >&2
    "$CARGO" tree "${FLAGS[@]}" -p fingertip -e normal,features --target all -i fingertip-dp >&2 || true
    fail "the shipped fingertip binary enables a test-util feature (lines above)"
fi
echo "ok: fingertip's normal dependencies enable no test-util feature"
# Self-test of the pattern: the test crate does enable it, and the check must see that.
"$CARGO" tree "${FLAGS[@]}" -p fingertip-tests -e normal,dev,features --target all --prefix none | grep -q '^fingertip-dp feature "test-util"' \
    || fail "self-test: the pattern does not find fingertip-tests' test-util feature; the check above proves nothing"
echo "ok: (self-test) the same pattern finds the feature where it is enabled (fingertip-tests)"

echo "== (b) cargo check --release -p fingertip-dp --features test-util: must fail with the guard"
"$CARGO" check "${FLAGS[@]}" --release -p fingertip-dp --quiet \
    || fail "fingertip-dp does not compile in release mode even without test-util; (b) cannot be checked"
echo "ok: without the feature, fingertip-dp compiles in release mode"
set +e
out=$("$CARGO" check "${FLAGS[@]}" --release -p fingertip-dp --features test-util --quiet 2>&1)
status=$?
set -e
if [ "$status" -eq 0 ]; then
    fail "fingertip-dp compiled in release mode with --features test-util: the compile_error! guard is gone"
fi
grep -q "$GUARD" <<< "$out" || { echo "$out" >&2; fail "the release build with test-util failed, but not with the guard's message ('$GUARD')"; }
echo "ok: with --features test-util, the release build fails: $(grep -m1 -o "error: .*$GUARD" <<< "$out")"

echo "no-noise strategy: unreachable from the shipped binary"

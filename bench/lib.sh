# Shared helpers of the benchmark scripts (sourced, not run). See docs/benchmarks.md.
#
# Environment: FT (the fingertip binary), BIN (directory of loadgen, fsync_probe, stages,
# dp_overhead), WORK (scratch directory, data dirs go there), OUT (results directory).

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BIN:-$ROOT/target/release}
FT=${FT:-$BIN/fingertip}
WORK=${WORK:-/var/tmp/fingertip-bench}
OUT=${OUT:-$ROOT/bench/results/$(date -u +%Y-%m-%d)}
SERVER_CORE=${SERVER_CORE:-0}
CLIENT_CORE=${CLIENT_CORE:-1}
mkdir -p "$WORK" "$OUT"
export RUST_LOG=${RUST_LOG:-warn}

log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }

need() {
    for f in "$FT" "$BIN/loadgen" "$BIN/fsync_probe"; do
        [[ -x $f ]] || { echo "missing $f: cargo build --release -p fingertip -p fingertip-bench" >&2; exit 1; }
    done
}

# gate NAME: loadavg + 3 s fsync probe on the data file system, appended to $OUT/gates.jsonl.
gate() {
    local line
    line=$("$BIN/fsync_probe" --dir "$WORK")
    echo "{\"run\":\"$1\",\"at\":\"$(date -u +%FT%TZ)\",\"gate\":$line}" >> "$OUT/gates.jsonl"
    log "gate $1: $line"
}

# make_tokens DATA: one app token per simulated app, written to DATA/bench-tokens.json.
make_tokens() {
    local data=$1 sep="" app tok
    {
        printf '{'
        for app in attendance household-survey poverty-registry study work-groups grid-patrol; do
            tok=$("$FT" token create --data "$data" --role app --app-id "$app" | tail -1)
            printf '%s"%s":"%s"' "$sep" "$app" "$tok"
            sep=,
        done
        printf '}\n'
    } > "$data/bench-tokens.json"
}

# start_server DATA CPUSET: starts `fingertip serve` (taskset CPUSET unless "all"); sets
# SERVER_PID and SERVER_URL. Extra configuration comes from FINGERTIP__* variables.
start_server() {
    local data=$1 cpus=$2 pin=()
    [[ $cpus == all ]] || pin=(taskset -c "$cpus")
    "${pin[@]}" "$FT" serve --data "$data" --listen 127.0.0.1:0 > "$data/serve.out" 2> "$data/serve.err" &
    SERVER_PID=$!
    for _ in $(seq 1 600); do
        if grep -q '^listening on' "$data/serve.out" 2>/dev/null; then
            SERVER_URL="http://$(awk '/^listening on/ {print $3; exit}' "$data/serve.out")"
            return 0
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$data/serve.err" >&2; return 1; }
        sleep 0.1
    done
    echo "server did not start" >&2
    return 1
}

# stop_server: SIGTERM (drain, seal, compact), wait; sets STOP_S to the seconds it took.
# (Not in a $(...) subshell: only this shell can wait for its child.)
stop_server() {
    local t0=$EPOCHREALTIME
    kill -TERM "$SERVER_PID"
    wait "$SERVER_PID" || true
    STOP_S=$(echo "$EPOCHREALTIME - $t0" | bc)
}

# start_peer CPUSET PORT: the FastAPI peer; sets PEER_PID and PEER_URL.
start_peer() {
    local cpus=$1 port=$2 pin=()
    [[ $cpus == all ]] || pin=(taskset -c "$cpus")
    "${pin[@]}" python3 "$ROOT/bench/peer_fastapi.py" --port "$port" > "$WORK/peer.log" 2>&1 &
    PEER_PID=$!
    PEER_URL="http://127.0.0.1:$port"
    for _ in $(seq 1 100); do
        curl -sf "$PEER_URL/healthz" > /dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "peer did not start" >&2
    return 1
}

stop_peer() {
    kill -TERM "$PEER_PID" 2>/dev/null || true
    wait "$PEER_PID" 2>/dev/null || true
}

# loadgen CPUSET ARGS...: the load generator, pinned unless CPUSET is "all".
loadgen() {
    local cpus=$1 pin=()
    shift
    [[ $cpus == all ]] || pin=(taskset -c "$cpus")
    "${pin[@]}" "$BIN/loadgen" "$@"
}

# jget FILE EXPR: a value out of a JSON file (python3, no jq needed).
jget() {
    python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {'d': d}))" "$1" "$2"
}

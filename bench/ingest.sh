#!/usr/bin/env bash
# The ingest benchmarks of docs/benchmarks.md, each beside the FastAPI peer in the same run:
#
#   bench/ingest.sh durable    # ingest_durable: 100-event batches, 64 connections
#   bench/ingest.sh small      # ingest_small_batches: 1 and 10 events per request
#   bench/ingest.sh overload   # ingest_overload: 2x the sustained rate, open loop, 1024 connections
#   bench/ingest.sh whole      # whole machine: nothing pinned (labelled as such)
#   bench/ingest.sh otlp       # ingest_otlp: the same events as OTLP protobuf to /v1/logs
#                              # beside JSON to /v1/events, same core, back to back
#
# DURATION (60 s measured) WARMUP (5 s) REPEATS (5) CONNECTIONS (64); RATE for overload
# (default: 2x the median of the durable results in $OUT). Server on core 0, load generator
# on core 1. Results: $OUT/<scenario>-<engine>-<run>.json; summary: bench/summarize.py $OUT.
source "$(dirname "$0")/lib.sh"
need
DURATION=${DURATION:-60}
WARMUP=${WARMUP:-5}
REPEATS=${REPEATS:-5}
CONNECTIONS=${CONNECTIONS:-64}
PEER_PORT=${PEER_PORT:-4190}

# one_run SCENARIO RUN BATCH SERVER_CPUS CLIENT_CPUS [loadgen args...]
one_run() {
    local name=$1 r=$2 batch=$3 scpu=$4 ccpu=$5
    shift 5
    local data=$WORK/$name-$r
    gate "$name-$r"
    rm -rf "$data" && mkdir -p "$data"
    make_tokens "$data"
    start_server "$data" "$scpu"
    log "$name run $r: fingertip at $SERVER_URL (pid $SERVER_PID)"
    loadgen "$ccpu" --target "$SERVER_URL" --tokens "$data/bench-tokens.json" --connections "$CONNECTIONS" \
        --batch "$batch" --duration "$DURATION" --warmup "$WARMUP" --server-pid "$SERVER_PID" --metrics \
        --run-tag "$r" --label "fingertip $name b$batch run $r" --out "$OUT/$name-b$batch-fingertip-$r.json" "$@" > /dev/null
    local stop_s acked json_b
    stop_server
    stop_s=$STOP_S
    acked=$(jget "$OUT/$name-b$batch-fingertip-$r.json" "d['events_acked_total']")
    json_b=$(jget "$OUT/$name-b$batch-fingertip-$r.json" "round(d['mean_body_bytes'] / d['batch'], 1)")
    local rewrite=(--no-rewrite)
    [[ $r == "$REPEATS" && $name == durable ]] && rewrite=()
    python3 "$ROOT/bench/storage.py" --data "$data" --acked "$acked" --json-bytes-per-event "$json_b" "${rewrite[@]}" \
        > "$OUT/$name-b$batch-storage-$r.json"
    log "$name run $r: stopped in ${stop_s}s; $(cat "$OUT/$name-b$batch-storage-$r.json")"
    [[ $r == "$REPEATS" ]] || rm -rf "$data"
    gate "$name-$r-peer"
    start_peer "$scpu" "$PEER_PORT"
    loadgen "$ccpu" --target "$PEER_URL" --connections "$CONNECTIONS" --batch "$batch" --duration "$DURATION" \
        --warmup "$WARMUP" --server-pid "$PEER_PID" --run-tag "$r" --label "fastapi $name b$batch run $r" \
        --out "$OUT/$name-b$batch-fastapi-$r.json" "$@" > /dev/null
    stop_peer
}

durable() {
    for r in $(seq 1 "$REPEATS"); do one_run durable "$r" 100 "$SERVER_CORE" "$CLIENT_CORE"; done
}

small() {
    for b in 1 10; do
        for r in $(seq 1 "$REPEATS"); do one_run small "$r" "$b" "$SERVER_CORE" "$CLIENT_CORE"; done
    done
}

whole() {
    for r in $(seq 1 "$REPEATS"); do one_run whole "$r" 100 all all; done
}

# otlp: per repeat, a fresh server for JSON to /v1/events, then one for OTLP protobuf to
# /v1/logs: the same simulated events, 100 per request, on the same cores.
otlp() {
    for r in $(seq 1 "$REPEATS"); do
        for kind in events otlp; do
            local data=$WORK/otlp-$kind-$r flag=()
            [[ $kind == otlp ]] && flag=(--otlp)
            gate "otlp-$kind-$r"
            rm -rf "$data" && mkdir -p "$data"
            make_tokens "$data"
            start_server "$data" "$SERVER_CORE"
            loadgen "$CLIENT_CORE" --target "$SERVER_URL" --tokens "$data/bench-tokens.json" --connections "$CONNECTIONS" \
                --batch 100 --duration "$DURATION" --warmup "$WARMUP" --server-pid "$SERVER_PID" --metrics \
                --run-tag "$r" --label "fingertip $kind b100 run $r" --out "$OUT/otlp-b100-$kind-$r.json" "${flag[@]}" > /dev/null
            stop_server
            log "otlp run $r, $kind: $(jget "$OUT/otlp-b100-$kind-$r.json" "d['acked_events_per_s']") acked events/s"
            rm -rf "$data"
        done
    done
}

overload() {
    local rate=${RATE:-}
    if [[ -z $rate ]]; then
        rate=$(python3 - "$OUT" <<'EOF'
import glob, json, statistics, sys
runs = [json.load(open(f))["acked_events_per_s"] for f in glob.glob(sys.argv[1] + "/durable-b100-fingertip-*.json")]
print(int(2 * statistics.median(runs)) if runs else "")
EOF
)
    fi
    [[ -n $rate ]] || { echo "run 'durable' first or set RATE" >&2; exit 1; }
    local saved=$CONNECTIONS
    CONNECTIONS=${OVERLOAD_CONNECTIONS:-1024}
    for r in $(seq 1 "${OVERLOAD_REPEATS:-1}"); do
        local data=$WORK/overload-$r
        gate "overload-$r"
        rm -rf "$data" && mkdir -p "$data"
        make_tokens "$data"
        start_server "$data" "$SERVER_CORE"
        log "overload run $r: offering $rate events/s over $CONNECTIONS connections"
        loadgen "$CLIENT_CORE" --target "$SERVER_URL" --tokens "$data/bench-tokens.json" --connections "$CONNECTIONS" \
            --batch 100 --duration "$DURATION" --warmup "$WARMUP" --rate "$rate" --server-pid "$SERVER_PID" --metrics \
            --run-tag "$r" --label "fingertip overload run $r" --out "$OUT/overload-b100-fingertip-$r.json" > /dev/null
        # Recovery: seconds after the load stops until compaction has caught up.
        local t0=$EPOCHREALTIME pending=1
        while [[ $pending != 0 ]]; do
            sleep 0.2
            pending=$(curl -s "$SERVER_URL/metrics" | awk '/^fingertip_compaction_pending_segments / {print $2}')
            [[ $(echo "$EPOCHREALTIME - $t0 > 120" | bc) == 1 ]] && break
        done
        local recovered
        recovered=$(echo "$EPOCHREALTIME - $t0" | bc)
        local stop_s acked
        stop_server
        stop_s=$STOP_S
        acked=$(jget "$OUT/overload-b100-fingertip-$r.json" "d['events_acked_total']")
        python3 "$ROOT/bench/storage.py" --data "$data" --acked "$acked" --no-rewrite > "$OUT/overload-b100-storage-$r.json"
        echo "{\"compaction_caught_up_s\": $recovered, \"graceful_stop_s\": $stop_s}" > "$OUT/overload-b100-recovery-$r.json"
        log "overload run $r: caught up in ${recovered}s, stopped in ${stop_s}s; $(cat "$OUT/overload-b100-storage-$r.json")"
        rm -rf "$data"
    done
    CONNECTIONS=$saved
}

for what in "${@:-durable}"; do
    case $what in
        durable | small | overload | whole | otlp) "$what" ;;
        all) durable; small; overload; whole ;;
        *) echo "unknown scenario $what" >&2; exit 2 ;;
    esac
done

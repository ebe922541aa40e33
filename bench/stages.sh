#!/usr/bin/env bash
# The per-event stages under callgrind (docs/benchmarks.md): instruction counts per event of
# parse, validate, anonymize, wal_encode, wal_decode, arrow_build and parquet_encode over
# EVENTS (100 000) simulated events; only the stage is counted (--toggle-collect). Exact and
# repeatable on a busy machine. Also the native time per event (median of 5 runs, not under
# valgrind; noisy on a busy machine); criterion: cargo bench -p fingertip-bench --bench stages.
#
# bench/stages.sh   → $OUT/stages-callgrind.json
source "$(dirname "$0")/lib.sh"
EVENTS=${EVENTS:-100000}
rows=()
for stage in parse validate anonymize wal_encode wal_decode arrow_build parquet_encode; do
    cg=$WORK/callgrind.$stage.out
    valgrind --tool=callgrind --callgrind-out-file="$cg" --toggle-collect="*measured_$stage*" \
        "$BIN/stages" --stage "$stage" --events "$EVENTS" > "$WORK/stages-$stage.json" 2> "$WORK/stages-$stage.err"
    ir=$(awk '/^summary:/ {print $2}' "$cg")
    n=$(jget "$WORK/stages-$stage.json" "d['events']")
    log "$stage: $ir instructions for $n events = $((ir / n)) per event"
    ns=$(for _ in 1 2 3 4 5; do "$BIN/stages" --stage "$stage" --events "$EVENTS" | python3 -c "import json,sys; print(json.load(sys.stdin)['ns_per_event'])"; done | sort -n | sed -n 3p)
    log "$stage: $ns ns per event natively (median of 5)"
    rows+=("{\"stage\":\"$stage\",\"events\":$n,\"instructions\":$ir,\"per_event\":$((ir / n)),\"native_ns_per_event\":$ns}")
done
(IFS=,; echo "[${rows[*]}]") > "$OUT/stages-callgrind.json"
cat "$OUT/stages-callgrind.json"

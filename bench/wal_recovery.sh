#!/usr/bin/env bash
# wal_recovery (docs/benchmarks.md): build a WAL of WAL_MB (1024) MB by ingesting with the
# compactor asleep, kill -9 the server, then time restarts until the WAL is replayed (the
# address is printed after replay), cold (page cache dropped) and hot, REPEATS (5) each;
# finally one restart with compaction on, timed until every segment is in Parquet, and the
# lake checked against the acknowledged count.
#
# bench/wal_recovery.sh   → $OUT/wal_recovery.json  (WAL_ONLY=1: stop after building the WAL)
source "$(dirname "$0")/lib.sh"
need
WAL_MB=${WAL_MB:-1024}
REPEATS=${REPEATS:-5}
data=$WORK/wal-recovery

asleep() {
    FINGERTIP__STORE__COMPACTION_INTERVAL_MS=86400000 FINGERTIP__STORE__SEGMENT_MAX_AGE_MS=86400000 "$@"
}

# REUSE_WAL=1 keeps a WAL built by an earlier run of this script (its count is in acked.txt).
if [[ -z ${REUSE_WAL:-} ]]; then
rm -rf "$data" && mkdir -p "$data"
make_tokens "$data"
gate wal-build
asleep start_server "$data" "$SERVER_CORE"
acked=0 tag=1
while (( $(du -sm "$data/wal" | cut -f1) < WAL_MB )); do
    loadgen "$CLIENT_CORE" --target "$SERVER_URL" --tokens "$data/bench-tokens.json" --connections 64 --batch 100 \
        --duration 10 --warmup 0 --run-tag "$tag" --out "$WORK/wal-build-$tag.json" > /dev/null
    acked=$(( acked + $(jget "$WORK/wal-build-$tag.json" "d['events_acked_total']") ))
    tag=$((tag + 1))
done
kill -9 "$SERVER_PID"
wait "$SERVER_PID" 2> /dev/null || true
echo "$acked" > "$data/acked.txt"
cp -a "$data/wal" "$WORK/wal-recovery-pristine"
fi
acked=$(cat "$data/acked.txt")
if [[ -n ${REUSE_WAL:-} ]]; then
    rm -rf "$data/wal" "$data/events" "$data/dedup"
    cp -a "$WORK/wal-recovery-pristine" "$data/wal"
fi
[[ -n ${WAL_ONLY:-} ]] && exit 0
wal_bytes=$(du -sb "$data/wal" | cut -f1)
segments=$(ls "$data/wal"/*.wal | wc -l)
log "WAL: $wal_bytes bytes in $segments segments, $acked events acknowledged"

# replay_once MODE: prints seconds from exec to "listening on" (replay done), then kill -9.
replay_once() {
    [[ $1 == cold ]] && { sync; echo 3 > /proc/sys/vm/drop_caches; }
    local t0=$EPOCHREALTIME
    asleep start_server "$data" "$SERVER_CORE"
    local t1=$EPOCHREALTIME
    kill -9 "$SERVER_PID"
    wait "$SERVER_PID" 2> /dev/null || true
    echo "$t1 - $t0" | bc
}

results=()
for r in $(seq 1 "$REPEATS"); do
    for mode in cold hot; do
        gate "wal-replay-$mode-$r"
        s=$(replay_once "$mode")
        log "replay $mode $r: ${s}s"
        results+=("{\"mode\":\"$mode\",\"run\":$r,\"seconds\":$s}")
    done
done

# Replay + compaction to Parquet, timed until no segment is pending and the WAL dir is empty.
gate wal-compact
sync; echo 3 > /proc/sys/vm/drop_caches
t0=$EPOCHREALTIME
start_server "$data" "$SERVER_CORE"
t_listen=$(echo "$EPOCHREALTIME - $t0" | bc)
while ls "$data/wal"/*.wal > /dev/null 2>&1 && (( $(ls "$data/wal"/*.wal | wc -l) > 1 )); do sleep 0.1; done
t_compacted=$(echo "$EPOCHREALTIME - $t0" | bc)
stop_server
python3 "$ROOT/bench/storage.py" --data "$data" --acked "$acked" --no-rewrite > "$WORK/wal-lake.json"
wal_per_event=$(echo "scale=2; $wal_bytes / $acked" | bc)
python3 - "$wal_bytes" "$segments" "$acked" "$t_listen" "$t_compacted" "$wal_per_event" "$WORK/wal-lake.json" "${results[@]}" > "$OUT/wal_recovery.json" <<'EOF'
import json, statistics, sys
wal, segs, acked, listen, compacted, per_event, lake = sys.argv[1:8]
runs = [json.loads(x) for x in sys.argv[8:]]
wal, mb = int(wal), int(wal) / 1e6
out = {"wal_bytes": wal, "segments": int(segs), "events": int(acked), "wal_bytes_per_event": float(per_event), "runs": runs}
for mode in ("cold", "hot"):
    s = [r["seconds"] for r in runs if r["mode"] == mode]
    if s:
        out[mode] = {"median_s": statistics.median(s), "min_s": min(s), "max_s": max(s),
                     "median_mb_per_s": round(mb / statistics.median(s), 1),
                     "min_mb_per_s": round(mb / max(s), 1), "max_mb_per_s": round(mb / min(s), 1)}
out["with_compaction"] = {"replayed_s": float(listen), "compacted_s": float(compacted),
                          "compaction_mb_per_s": round(mb / float(compacted), 1)}
out["lake"] = json.load(open(lake))
print(json.dumps(out, indent=1))
EOF
log "wrote $OUT/wal_recovery.json"
cat "$OUT/wal_recovery.json"

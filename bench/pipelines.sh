#!/usr/bin/env bash
# pipelines_vs_duckdb, dp_overhead and pipeline memory (docs/benchmarks.md).
#
#   bench/pipelines.sh lake10m     # 10M realistic events, 4 weeks (simulator's lake writer)
#   bench/pipelines.sh lake100m    # 100M adversarial events, 4 weeks
#   bench/pipelines.sh run10m      # REPEATS x (cold, hot): fingertip pipeline run, dp_overhead, DuckDB
#   bench/pipelines.sh run100m     # REPEATS_100M (1) x cold; peak RSS (must stay under 4 GiB) from /usr/bin/time
#
# THREADS (2) for both engines; ENGINES to run a subset (default: fingertip dp_overhead duckdb
# at 10M, fingertip duckdb at 100M). A result file that exists is not overwritten: the run is
# skipped. The 4 weeks are 2026-W44..W47 (the simulation ends on Sunday
# 2026-11-22, 23:59 in Asia/Shanghai). Results: $OUT/pipelines-*.json.
source "$(dirname "$0")/lib.sh"
THREADS=${THREADS:-2}
REPEATS=${REPEATS:-5}
FROM=2026-W44
TO=2026-W47
END=2026-11-22T15:59:00Z
# Workers for 10M / 100M events over 4 weeks: the realistic population makes 60.5 events per
# worker-week, the adversarial one 123.2 (`fingertip simulate --out` of 1 000 workers, 1 week).
WORKERS_10M=${WORKERS_10M:-41300}
WORKERS_100M=${WORKERS_100M:-203000}
export FINGERTIP__PIPELINES__THREADS=$THREADS
export FINGERTIP__BUDGET__EPSILON_TOTAL=1000000000

lake() {
    local dir=$1 workers=$2 dist=$3
    rm -rf "$dir" && mkdir -p "$dir/dimensions"
    make_tokens "$dir"
    log "simulating $workers $dist workers x 4 weeks into $dir"
    /usr/bin/time -f '%e s, %M KiB max RSS' "$FT" simulate --lake "$dir" --workers "$workers" --weeks 4 --seed 42 \
        --distribution "$dist" --end "$END" --org-units "$dir/dimensions/org_units.csv"
    du -sh "$dir/events"
}

# timed NAME CMD...: runs CMD under /usr/bin/time, prints {"wall_s", "max_rss_mib", "stdout"}.
timed() {
    local name=$1
    shift
    local tf=$WORK/time-$name.txt so=$WORK/stdout-$name.txt
    /usr/bin/time -f '%e %M' -o "$tf" "$@" > "$so" 2> "$WORK/stderr-$name.txt" || { cat "$WORK/stderr-$name.txt" >&2; return 1; }
    python3 - "$tf" "$so" <<'EOF'
import json, sys
wall, rss = open(sys.argv[1]).read().split()[-2:]
out = open(sys.argv[2]).read().strip()
try:
    out = json.loads(out)
except ValueError:
    out = out.splitlines()[-1] if out else ""
print(json.dumps({"wall_s": float(wall), "max_rss_mib": round(int(rss) / 1024, 1), "output": out}))
EOF
}

cold() { sync; echo 3 > /proc/sys/vm/drop_caches; }

# compare DIR TAG RUN MODE: the three engines on one lake, cold or hot.
compare() {
    local dir=$1 tag=$2 r=$3 mode=$4
    local engines="fingertip dp_overhead duckdb"
    [[ $tag == 100m ]] && engines="fingertip duckdb"
    for engine in ${ENGINES:-$engines}; do
        local f=$OUT/pipelines-$tag-$engine-$mode-$r.json
        [[ -e $f ]] && { log "$f exists: skipped"; continue; }
        gate "pipelines-$tag-$engine-$mode-$r"
        [[ $mode == cold ]] && cold
        case $engine in
            fingertip) timed "$tag-$engine" "$FT" pipeline run --data "$dir" --out "$WORK/report-$tag" --from "$FROM" --to "$TO" > "$f" ;;
            dp_overhead) timed "$tag-$engine" "$BIN/dp_overhead" --data "$dir" --from "$FROM" --to "$TO" --threads "$THREADS" > "$f" ;;
            duckdb) timed "$tag-$engine" python3 "$ROOT/bench/duckdb_pipelines.py" --data "$dir" --from "$FROM" --to "$TO" --threads "$THREADS" > "$f" ;;
        esac
        log "$tag $engine $mode $r: $(head -c 300 "$f")"
    done
}

run10m() {
    for r in $(seq 1 "$REPEATS"); do
        compare "$WORK/lake-10m" 10m "$r" cold
        compare "$WORK/lake-10m" 10m "$r" hot
    done
}

run100m() {
    for r in $(seq 1 "${REPEATS_100M:-1}"); do
        compare "$WORK/lake-100m" 100m "$r" cold
    done
}

for what in "$@"; do
    case $what in
        lake10m) lake "$WORK/lake-10m" "$WORKERS_10M" realistic ;;
        lake100m) lake "$WORK/lake-100m" "$WORKERS_100M" adversarial ;;
        run10m | run100m) "$what" ;;
        *) echo "unknown step $what" >&2; exit 2 ;;
    esac
done

#!/usr/bin/env bash
# A quick memory check of ingest (docs/benchmarks.md, "Memory"), with no load generator beyond
# the fingertip binary itself:
#
#   bench/rss_quick.sh NAME CONCURRENCY WORKERS [VAR=value ...]
#
# Run in a directory holding `data/` (with app tokens) and `tokens.json` ({app_id: token}, as
# bench/lib.sh's make_tokens writes). Copies data/ to data-NAME, starts `fingertip serve` on it
# (extra VAR=value go to its environment), posts a simulated population of WORKERS staff over
# one week with `fingertip simulate --target` at CONCURRENCY requests in flight (1000-event
# batches), samples the server's VmRSS every 0.2 s (until it has exited, so the sample includes
# the final compaction), and prints the elapsed time, the sampled maximum, VmHWM at the end of
# the load, and the HTTP status counts. FT selects the binary.
set -euo pipefail
name=$1 conc=$2 workers=$3; shift 3
FT=${FT:-fingertip}
rm -rf data-$name && cp -r data data-$name
env "$@" $FT serve --data data-$name --listen 127.0.0.1:0 > serve-$name.out 2> serve-$name.log &
pid=$!
for _ in $(seq 100); do grep -q listening serve-$name.out && break; sleep 0.1; done
addr=$(sed -n 's/listening on //p' serve-$name.out)
( max=0; while kill -0 $pid 2>/dev/null; do r=$(awk '/VmRSS/{print $2}' /proc/$pid/status 2>/dev/null || echo 0); [[ ${r:-0} -gt $max ]] && max=$r; echo $max > rss-$name.max; sleep 0.2; done ) &
start=$(date +%s.%N)
$FT simulate --workers $workers --weeks 1 --target http://$addr --tokens tokens.json --concurrency $conc --batch-size 1000 --max-retries 50 > sim-$name.out 2>&1 || true
end=$(date +%s.%N)
hwm=$(awk '/VmHWM/{print $2}' /proc/$pid/status)
m=$(curl -s http://$addr/metrics)
kill -TERM $pid; wait $pid || true
echo "$name: conc=$conc elapsed=$(echo "$end - $start" | bc) s; sampled max VmRSS $(( $(cat rss-$name.max) / 1024 )) MiB; VmHWM $(( hwm / 1024 )) MiB"
echo "$m" | grep -E '^fingertip_http_requests_total|^fingertip_events_accepted_total' | tr '\n' ' '; echo
tail -2 sim-$name.out

"""Summarizes a results directory of the benchmark scripts as Markdown tables: median (min–max)
over the runs of each scenario and engine, and the quiet-machine gate of every run.

python3 bench/summarize.py bench/results/2026-11-28
"""

import collections
import glob
import json
import os
import re
import statistics
import sys


def mmm(xs, fmt="{:,.0f}"):
    xs = [x for x in xs if x is not None]
    if not xs:
        return "–"
    if len(xs) == 1:
        return fmt.format(xs[0])
    return f"{fmt.format(statistics.median(xs))} ({fmt.format(min(xs))}–{fmt.format(max(xs))})"


def load(path):
    with open(path) as f:
        return json.load(f)


def ingest(out):
    groups = collections.defaultdict(list)
    for f in sorted(glob.glob(os.path.join(out, "*-b*-*-*.json"))):
        m = re.match(r"(\w+)-b(\d+)-(fingertip|fastapi)-(\d+)\.json", os.path.basename(f))
        if m:
            groups[(m.group(1), int(m.group(2)), m.group(3))].append(load(f))
    if not groups:
        return
    print("| scenario | batch | engine | runs | acked events/s | requests/s | p50 ms | p99 ms | events/fsync | CPU-s per 1M events | RSS end MiB | statuses |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for (name, batch, engine), runs in sorted(groups.items()):
        m = [r.get("metrics", {}) for r in runs]
        statuses = collections.Counter()
        for r in runs:
            statuses.update({k: v for k, v in r["statuses"].items()})
        print(f"| {name} | {batch} | {engine} | {len(runs)} | {mmm([r['acked_events_per_s'] for r in runs])} "
              f"| {mmm([r['acked_requests_per_s'] for r in runs])} "
              f"| {mmm([r['latency_ms']['p50'] for r in runs], '{:.2f}')} | {mmm([r['latency_ms']['p99'] for r in runs], '{:.2f}')} "
              f"| {mmm([x.get('events_per_fsync') for x in m], '{:.0f}')} "
              f"| {mmm([r.get('server_cpu_s_per_1M_events') for r in runs], '{:.2f}')} "
              f"| {mmm([r.get('server_rss_mib_end') for r in runs], '{:.0f}')} | {dict(statuses)} |")
    print()


def storage(out):
    files = sorted(glob.glob(os.path.join(out, "*-storage-*.json")))
    if files:
        print("| run | files | rows | distinct ids | acked | nothing lost | Parquet B/event | DuckDB zstd B/event | DuckDB sorted B/event | ours/DuckDB | JSON B/event | Parquet/JSON |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for f in files:
            s = load(f)
            print(f"| {os.path.basename(f)[:-5]} | {s['files']} | {s['rows']:,} | {s['distinct_app_event_ids']:,} | {s.get('acked', 0):,} "
                  f"| {s.get('nothing_acked_lost')} | {s['parquet_bytes_per_event']} | {s.get('duckdb_zstd_bytes_per_event', '–')} "
                  f"| {s.get('duckdb_zstd_sorted_bytes_per_event', '–')} | {s.get('ours_vs_duckdb_zstd', '–')} "
                  f"| {s.get('json_bytes_per_event', '–')} | {s.get('parquet_vs_json', '–')} |")
        print()


def pipelines(out):
    groups = collections.defaultdict(list)
    for f in glob.glob(os.path.join(out, "pipelines-*.json")):
        m = re.match(r"pipelines-(\w+)-(fingertip|dp_overhead|duckdb)-(cold|hot)-(\d+)\.json", os.path.basename(f))
        if m:
            groups[(m.group(1), m.group(3), m.group(2))].append(load(f))
    if not groups:
        return
    print("| lake | cache | engine | runs | wall s | peak RSS MiB |")
    print("|---|---|---|---|---|---|")
    for key, runs in sorted(groups.items()):
        print(f"| {key[0]} | {key[1]} | {key[2]} | {len(runs)} | {mmm([r['wall_s'] for r in runs], '{:.2f}')} "
              f"| {mmm([r['max_rss_mib'] for r in runs], '{:.0f}')} |")
    print()
    for (lake, cache, engine), runs in sorted(groups.items()):
        if engine == "fingertip":
            continue
        parts = collections.defaultdict(list)
        for r in runs:
            o = r.get("output")
            if isinstance(o, dict):
                for k, v in o.get("parts_s", {}).items():
                    parts[k].append(v)
        if parts:
            print(f"{lake} {cache} {engine} per pipeline (s): " + ", ".join(f"{k} {mmm(v, '{:.2f}')}" for k, v in parts.items()))
    print()


def gates(out):
    path = os.path.join(out, "gates.jsonl")
    if not os.path.exists(path):
        return
    rows = [json.loads(line) for line in open(path) if line.strip()]
    ok = sum(1 for r in rows if r["gate"]["comparable"])
    loads = [r["gate"]["loadavg_1m"] for r in rows]
    p50 = [r["gate"]["fsync_p50_ms"] for r in rows]
    print(f"Gate: {ok} of {len(rows)} runs comparable; loadavg {mmm(loads, '{:.2f}')}, fsync p50 ms {mmm(p50, '{:.3f}')}")
    print()


def main():
    out = sys.argv[1]
    gates(out)
    ingest(out)
    storage(out)
    pipelines(out)
    for name in ("wal_recovery.json", "stages-callgrind.json"):
        p = os.path.join(out, name)
        if os.path.exists(p):
            print(f"{name}: {json.dumps(load(p))[:2000]}")


if __name__ == "__main__":
    main()

"""The storage benchmark and the "nothing acknowledged lost" check (docs/benchmarks.md).

For the Parquet lake under DATA/events: files, rows, distinct (app_id, event_id), bytes per
event; the same rows rewritten by DuckDB as one zstd Parquet file (its default row groups)
and by DuckDB with the rows sorted like ours; optionally the WAL and raw JSON sizes per event
given on the command line. With --acked N, checks that the lake holds at least N distinct
events (every acknowledged event reached Parquet exactly once). Prints one JSON object.

python3 bench/storage.py --data DIR [--acked N] [--json-bytes-per-event B] [--wal-bytes-per-event B]
"""

import argparse
import glob
import json
import os
import tempfile

import duckdb


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--acked", type=int)
    p.add_argument("--json-bytes-per-event", type=float)
    p.add_argument("--wal-bytes-per-event", type=float)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--no-rewrite", action="store_true")
    a = p.parse_args()
    files = glob.glob(os.path.join(a.data, "events", "*", "*", "*.parquet"))
    size = sum(os.path.getsize(f) for f in files)
    con = duckdb.connect()
    con.execute(f"SET threads = {a.threads}")
    src = f"read_parquet('{a.data}/events/*/*/*.parquet', hive_partitioning = false)"
    rows, distinct = con.execute(f"SELECT COUNT(*), COUNT(DISTINCT (app_id, event_id)) FROM {src}").fetchone()
    groups = con.execute(
        f"SELECT COUNT(*), AVG(num_rows) FROM (SELECT DISTINCT file_name, row_group_id, row_group_num_rows AS num_rows "
        f"FROM parquet_metadata('{a.data}/events/*/*/*.parquet'))").fetchone()
    out = {
        "files": len(files),
        "rows": rows,
        "distinct_app_event_ids": distinct,
        "row_groups": groups[0],
        "mean_rows_per_file": round(rows / max(len(files), 1)),
        "parquet_bytes": size,
        "parquet_bytes_per_event": round(size / max(rows, 1), 2),
    }
    if not a.no_rewrite and rows:
        with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp:
            for name, order in [("duckdb_zstd", ""), ("duckdb_zstd_sorted", " ORDER BY org_unit, person, started_at")]:
                target = os.path.join(tmp, f"{name}.parquet")
                con.execute(f"COPY (SELECT * FROM {src}{order}) TO '{target}' (FORMAT parquet, COMPRESSION zstd)")
                b = os.path.getsize(target)
                out[f"{name}_bytes_per_event"] = round(b / rows, 2)
            out["ours_vs_duckdb_zstd"] = round(out["parquet_bytes_per_event"] / out["duckdb_zstd_bytes_per_event"], 3)
    if a.json_bytes_per_event:
        out["json_bytes_per_event"] = a.json_bytes_per_event
        out["parquet_vs_json"] = round(out["parquet_bytes_per_event"] / a.json_bytes_per_event, 4)
    if a.wal_bytes_per_event:
        out["wal_bytes_per_event"] = a.wal_bytes_per_event
    if a.acked is not None:
        out["acked"] = a.acked
        out["nothing_acked_lost"] = distinct >= a.acked and distinct == rows
    print(json.dumps(out))


if __name__ == "__main__":
    main()

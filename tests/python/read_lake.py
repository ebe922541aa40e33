#!/usr/bin/env python3
"""Reads a Fingertip Parquet lake with independent readers (pyarrow, and DuckDB when it is
installed) and prints one JSON object describing it, for tests/tests/ingest/parquet.rs.

    python3 tests/python/read_lake.py <data-dir>

Every file under <data>/events/date=*/app_id=*/ is read on its own (the hive directory names
are checked against the columns, not merged into them: `app_id` is also a column). Exit code 2
with a message on stderr when pyarrow is missing.
"""

import datetime
import glob
import json
import os
import sys

try:
    import pyarrow as pa
    import pyarrow.parquet as pq
except ImportError:
    sys.stderr.write("pyarrow is not installed: run `pip install pyarrow duckdb`\n")
    sys.exit(2)


def lake_files(data):
    pattern = os.path.join(data, "events", "date=*", "app_id=*", "*.parquet")
    return sorted(f for f in glob.glob(pattern) if not os.path.basename(f).startswith("."))


def partition_of(path):
    app_dir = os.path.basename(os.path.dirname(path))
    date_dir = os.path.basename(os.path.dirname(os.path.dirname(path)))
    return date_dir.split("=", 1)[1], app_dir.split("=", 1)[1]


def read_pyarrow(files):
    tables, partitions_ok = [], True
    for f in files:
        table = pq.read_table(f)
        date, app = partition_of(f)
        apps = set(table.column("app_id").to_pylist())
        days = {t.strftime("%Y-%m-%d") for t in table.column("started_at").to_pylist()}
        partitions_ok &= apps == {app} and days == {date}
        tables.append(table)
    return tables, partitions_ok


def describe(tables, partitions_ok):
    table = pa.concat_tables(tables)
    schema = table.schema
    started = table.column("started_at")
    millis = started.cast(pa.int64()).to_pylist()
    rows = []
    selected = table.select(["event_id", "app_id", "started_at", "person", "key_epoch"]).to_pylist()
    for r, ms in zip(selected, millis):
        rows.append({
            "event_id": r["event_id"],
            "app_id": r["app_id"],
            "started_at": r["started_at"].astimezone(datetime.timezone.utc).isoformat(),
            "started_at_ms": ms,
            "person_len": len(r["person"]),
            "key_epoch": r["key_epoch"],
        })
    return {
        "schema": [{"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in schema],
        "rows": table.num_rows,
        "started_at_unit": started.type.unit,
        "started_at_tz": started.type.tz,
        "started_at_whole_minutes": all(ms % 60000 == 0 for ms in millis),
        "event_ids_unique": len(set(table.column("event_id").to_pylist())) == table.num_rows,
        "partitions_match_columns": partitions_ok,
        "events": rows,
    }


def read_duckdb(files):
    try:
        import duckdb
    except ImportError:
        return None
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    listing = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"
    source = f"read_parquet({listing}, hive_partitioning = false)"
    types = {row[0]: row[1] for row in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
    rows, distinct, off_minute = con.execute(
        f"SELECT COUNT(*), COUNT(DISTINCT event_id), "
        f"COUNT(*) FILTER (WHERE epoch_ms(started_at) % 60000 <> 0) FROM {source}"
    ).fetchone()
    return {"version": duckdb.__version__, "types": types, "rows": rows, "distinct_event_ids": distinct, "rows_off_the_minute": off_minute}


def main():
    if len(sys.argv) != 2:
        sys.stderr.write(__doc__)
        sys.exit(64)
    files = lake_files(sys.argv[1])
    tables, partitions_ok = read_pyarrow(files)
    out = {"pyarrow_version": pa.__version__, "files": len(files)}
    if tables:
        out.update(describe(tables, partitions_ok))
        out["duckdb"] = read_duckdb(files)
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Reads the outputs of `fingertip pipeline run` with independent readers and prints one JSON
object describing them, for tests/tests/pipelines/outputs.rs.

    python3 tests/python/read_indices.py <out-dir>

pyarrow reads <out>/indices.parquet (schema, rows, rows and value sums per index); DuckDB reads
the same Parquet file and <out>/indices.csv and counts the rows on which the two disagree.
Exit code 2 with a message on stderr when pyarrow or DuckDB is missing.
"""

import json
import math
import os
import sys

try:
    import pyarrow as pa
    import pyarrow.parquet as pq
    import duckdb
except ImportError as e:
    sys.stderr.write(f"{e}: run `pip install pyarrow duckdb`\n")
    sys.exit(2)

COLUMNS = {
    "index": "VARCHAR",
    "week": "VARCHAR",
    "app_id": "VARCHAR",
    "org_unit": "VARCHAR",
    "value": "DOUBLE",
    "ci_low": "DOUBLE",
    "ci_high": "DOUBLE",
    "epsilon": "DOUBLE",
    "suppressed": "BOOLEAN",
    "clause": "VARCHAR",
}


def read_pyarrow(path):
    table = pq.read_table(path)
    per_index, sums = {}, {}
    for row in table.select(["index", "value"]).to_pylist():
        per_index[row["index"]] = per_index.get(row["index"], 0) + 1
        if row["value"] is not None and math.isfinite(row["value"]):
            sums[row["index"]] = sums.get(row["index"], 0.0) + row["value"]
    suppressed = table.column("suppressed").to_pylist()
    values = table.column("value").to_pylist()
    return {
        "version": pa.__version__,
        "schema": [{"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in table.schema],
        "rows": table.num_rows,
        "per_index": per_index,
        "value_sums": sums,
        "suppressed": sum(1 for s in suppressed if s),
        "suppressed_with_value": sum(1 for s, v in zip(suppressed, values) if s and v is not None),
    }


def read_duckdb(parquet, csv):
    con = duckdb.connect()
    quote = lambda p: "'" + p.replace("'", "''") + "'"
    columns = "{" + ", ".join(f"'{k}': '{v}'" for k, v in COLUMNS.items()) + "}"
    con.execute(f"CREATE VIEW p AS SELECT * FROM read_parquet({quote(parquet)})")
    con.execute(f"CREATE VIEW c AS SELECT * FROM read_csv({quote(csv)}, header = true, quote = '\"', escape = '\"', columns = {columns})")
    types = {row[0]: row[1] for row in con.execute("DESCRIBE SELECT * FROM p").fetchall()}
    csv_header = [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM read_csv({quote(csv)}, header = true, all_varchar = true)").fetchall()]
    (rows,) = con.execute("SELECT COUNT(*) FROM p").fetchone()
    (csv_rows,) = con.execute("SELECT COUNT(*) FROM c").fetchone()
    (matched,) = con.execute(
        "SELECT COUNT(*) FROM p JOIN c USING (index, week, app_id, org_unit) "
        "WHERE p.value IS NOT DISTINCT FROM c.value AND p.ci_low IS NOT DISTINCT FROM c.ci_low "
        "AND p.ci_high IS NOT DISTINCT FROM c.ci_high AND p.epsilon = c.epsilon "
        "AND p.suppressed = c.suppressed AND p.clause = c.clause"
    ).fetchone()
    (keys,) = con.execute("SELECT COUNT(*) FROM (SELECT DISTINCT index, week, app_id, org_unit FROM p)").fetchone()
    per_index = dict(con.execute("SELECT index, COUNT(*) FROM p GROUP BY index").fetchall())
    return {
        "version": duckdb.__version__,
        "types": types,
        "rows": rows,
        "csv_header": csv_header,
        "csv_rows": csv_rows,
        "matching_rows": matched,
        "distinct_cells": keys,
        "per_index": per_index,
    }


def main():
    if len(sys.argv) != 2:
        sys.stderr.write(__doc__)
        sys.exit(64)
    out = sys.argv[1]
    parquet, csv = os.path.join(out, "indices.parquet"), os.path.join(out, "indices.csv")
    json.dump({"pyarrow": read_pyarrow(parquet), "duckdb": read_duckdb(parquet, csv)}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()

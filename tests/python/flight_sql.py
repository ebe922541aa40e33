#!/usr/bin/env python3
"""Drives a running `fingertip serve --flight-listen` with the real Flight SQL clients a
researcher would use (ADBC's `adbc-driver-flightsql`, and `pyarrow.flight` for the raw
protocol) and prints one JSON object of what it saw, for tests/tests/dp/flight.rs.

    python3 tests/python/flight_sql.py grpc://HOST:PORT RESEARCHER_TOKEN OTHER_RESEARCHER_TOKEN APP_TOKEN

Every step records its outcome (values, or the error's class, gRPC code and message); the
Rust test decides what is right. Exit code 2 when a client library is missing.
"""

import json
import sys

try:
    import adbc_driver_flightsql.dbapi as flight_sql
    import pandas  # noqa: F401  (fetch_df needs it)
    import pyarrow.flight as flight
except ImportError as e:
    sys.stderr.write(f"{e}: run `pip install adbc-driver-flightsql pandas pyarrow`\n")
    sys.exit(2)

HEADER = "adbc.flight.sql.rpc.call_header."
QUERY = (
    "SELECT org_unit, COUNT(DISTINCT person) AS workers, SUM(duration_s) AS secs "
    "FROM events GROUP BY org_unit ORDER BY org_unit"
)
# The same parameters as `fingertip query --epsilon 1 --max-groups 1 --max-rows 10
# --bound secs=0:600` (the test runs that too and compares the ledger).
QUERY_HEADERS = {
    HEADER + "x-fingertip-epsilon": "1",
    HEADER + "x-fingertip-max-groups": "1",
    HEADER + "x-fingertip-max-rows": "10",
    HEADER + "x-fingertip-bounds": "secs=0:600",
}
GRPC_CODES = [
    "Unauthenticated", "PermissionDenied", "InvalidArgument", "FailedPrecondition",
    "NotFound", "Unavailable", "Unimplemented", "ResourceExhausted", "Internal",
]
# An ungrouped statement always releases one row, whatever ε.
TOTAL = "SELECT COUNT(DISTINCT person) AS workers FROM events"


def snake(code):
    return "".join("_" + c if c.isupper() else c for c in code).lstrip("_").upper()


def connect(uri, token=None):
    db_kwargs = {}
    if token is not None:
        db_kwargs["adbc.flight.sql.authorization_header"] = f"Bearer {token}"
    return flight_sql.connect(uri, db_kwargs=db_kwargs)


def error(e):
    text = str(e)
    # gRPC's own spelling (NOT_FOUND: …) first, then the Go driver's (… (NotFound; …)).
    code = next((c for c in GRPC_CODES if snake(c) + ":" in text), None)
    code = code or next((c for c in GRPC_CODES if c in text), None)
    return {"error": type(e).__name__, "grpc": code, "message": text}


def attempt(step):
    try:
        return {"ok": step()}
    except Exception as e:  # the outcome is data for the Rust test
        return error(e)


def run_query(uri, token, sql, headers):
    with connect(uri, token) as conn, conn.cursor() as cur:
        cur.adbc_statement.set_options(**headers)
        cur.execute(sql)
        table = cur.fetch_arrow_table()
        cur.execute(sql)
        frame = cur.fetch_df()
    return describe(table, frame)


def describe(table, frame):
    schema = table.schema
    fields = {
        f.name: {k.decode(): v.decode() for k, v in (f.metadata or {}).items()}
        for f in schema
    }
    rows = table.to_pylist()
    intervals_hold = all(
        r[f"{c}_ci_low"] <= r[c] <= r[f"{c}_ci_high"]
        for r in rows
        for c in ("workers", "secs")
    )
    return {
        "columns": schema.names,
        "types": [str(f.type) for f in schema],
        "schema_metadata": {k.decode(): v.decode() for k, v in (schema.metadata or {}).items()},
        "fields": fields,
        "rows": rows,
        "intervals_hold": intervals_hold,
        "pandas_columns": list(frame.columns),
        "pandas_rows": len(frame),
    }


def catalog(uri, token):
    with connect(uri, token) as conn:
        objects = conn.adbc_get_objects(depth="all").read_all().to_pylist()
        tables = {}
        for c in objects:
            for s in c["catalog_db_schemas"] or []:
                for t in s["db_schema_tables"] or []:
                    columns = [col["column_name"] for col in t["table_columns"] or []]
                    tables[t["table_name"]] = {
                        "catalog": c["catalog_name"],
                        "schema": s["db_schema_name"],
                        "type": t["table_type"],
                        "columns": columns,
                    }
        events = conn.adbc_get_table_schema("events")
        info = conn.adbc_get_info()
    return {
        "tables": tables,
        "events_schema": events.names,
        "vendor": info.get("vendor_name"),
    }


# ---- the raw protocol, to check tickets -------------------------------------------------

def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(number, payload):
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def statement_command(sql):
    """google.protobuf.Any{CommandStatementQuery{query}}, encoded by hand."""
    url = b"type.googleapis.com/arrow.flight.protocol.sql.CommandStatementQuery"
    return field(1, url) + field(2, field(1, sql.encode()))


def options(token, **headers):
    pairs = [(b"authorization", f"Bearer {token}".encode())]
    pairs += [(k.encode(), v.encode()) for k, v in headers.items()]
    return flight.FlightCallOptions(headers=pairs)


def tickets(uri, token, other_token):
    """One statement with no ε header (the default ε), fetched by the wrong token, by the
    right one, then again."""
    client = flight.FlightClient(uri)
    descriptor = flight.FlightDescriptor.for_command(statement_command(TOTAL))
    info = client.get_flight_info(descriptor, options(token))
    ticket = info.endpoints[0].ticket
    read = lambda t: client.do_get(ticket, options(t)).read_all().num_rows  # noqa: E731
    return {
        "schema_epsilon": info.schema.metadata.get(b"fingertip.epsilon_spent", b"").decode(),
        "total_records": info.total_records,
        "other_token": attempt(lambda: read(other_token)),
        "owner": attempt(lambda: read(token)),
        "owner_again": attempt(lambda: read(token)),
    }


def ingest(uri, token):
    import pyarrow as pa

    with connect(uri, token) as conn, conn.cursor() as cur:
        return cur.adbc_ingest("events", pa.table({"org_unit": ["u1"]}), mode="append")


def main():
    uri, token, other, app = sys.argv[1:5]
    person = "SELECT person, COUNT(*) AS n FROM events GROUP BY person"
    eps = lambda e: {HEADER + "x-fingertip-epsilon": e}  # noqa: E731
    report = {
        "query": attempt(lambda: run_query(uri, token, QUERY, QUERY_HEADERS)),
        "refused": attempt(lambda: run_query(uri, token, person, eps("0.5"))),
        "over_budget": attempt(lambda: run_query(uri, token, QUERY, eps("5"))),
        "no_token": attempt(lambda: run_query(uri, None, QUERY, eps("0.5"))),
        "bad_token": attempt(lambda: run_query(uri, "ft_00000000_nope", QUERY, eps("0.5"))),
        "app_token": attempt(lambda: run_query(uri, app, QUERY, eps("0.5"))),
        "catalog": attempt(lambda: catalog(uri, token)),
        "tickets": attempt(lambda: tickets(uri, token, other)),
        "ingest": attempt(lambda: ingest(uri, token)),
        "delete": attempt(lambda: run_query(uri, token, "DELETE FROM events", eps("0.5"))),
    }
    print(json.dumps(report, default=str))


if __name__ == "__main__":
    main()

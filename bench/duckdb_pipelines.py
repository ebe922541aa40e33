"""The DuckDB peer of pipelines_vs_duckdb (docs/benchmarks.md): every burden pipeline as the
plain (non-DP, unclipped, exact) SQL an analyst would write, over the same Parquet lake, with
the same thread count. Prints one JSON object: seconds per pipeline, total, peak RSS.

Weeks and working hours are computed in the reporting time zone with DuckDB's ICU, as
`ft_week` / `ft_after_hours` do; every index is computed at the four levels (app × unit,
unit, app, all) with GROUPING SETS.

python3 bench/duckdb_pipelines.py --data DIR --from 2026-W44 --to 2026-W47 --threads 2
"""

import argparse
import datetime as dt
import json
import resource
import time
import zoneinfo

import duckdb

LEVELS = "GROUPING SETS ((week, app_id, org_unit), (week, org_unit), (week, app_id), (week))"

QUERIES = {
    "active_workers": f"""
        SELECT week, app_id, org_unit, COUNT(DISTINCT person) AS workers
        FROM weekly_events GROUP BY {LEVELS}""",
    "checkin_minutes_per_worker": f"""
        SELECT week, app_id, org_unit,
               SUM(CASE WHEN event_type = 'check_in' THEN duration_s ELSE 0 END) / 60.0 AS minutes
        FROM weekly_events GROUP BY {LEVELS}""",
    "compliance_minutes_per_worker": f"""
        SELECT week, app_id, org_unit,
               SUM(CASE WHEN trigger = 'mandatory' THEN duration_s ELSE 0 END) / 60.0 AS minutes
        FROM weekly_events GROUP BY {LEVELS}""",
    "forced_use_share": f"""
        SELECT week, app_id, org_unit,
               SUM(CASE WHEN event_type IN ('session', 'login') AND trigger IN ('mandatory', 'reminder') THEN 1 ELSE 0 END) AS forced,
               SUM(CASE WHEN event_type IN ('session', 'login') THEN 1 ELSE 0 END) AS sessions
        FROM weekly_events GROUP BY {LEVELS}""",
    "proof_uploads_per_worker": f"""
        SELECT week, app_id, org_unit, SUM(CASE WHEN event_type = 'proof_upload' THEN 1 ELSE 0 END) AS uploads
        FROM weekly_events GROUP BY {LEVELS}""",
    "duplicate_entry_rate": f"""
        WITH entries AS (
            SELECT person, week, app_id, org_unit, unnest(data_elements) AS element FROM weekly_events
        ),
        spread AS (
            SELECT person, week, element, COUNT(DISTINCT app_id) AS apps FROM entries GROUP BY person, week, element
        )
        SELECT e.week, e.app_id, e.org_unit,
               SUM(CASE WHEN s.apps > 1 THEN 1 ELSE 0 END) AS duplicated, COUNT(*) AS entries
        FROM entries e JOIN spread s ON e.person = s.person AND e.week = s.week AND e.element = s.element
        GROUP BY GROUPING SETS ((e.week, e.app_id, e.org_unit), (e.week, e.org_unit), (e.week, e.app_id), (e.week))""",
    "apps_per_worker": """
        WITH apps AS (SELECT person, week, COUNT(DISTINCT app_id) AS n FROM weekly_events GROUP BY person, week),
             units AS (SELECT DISTINCT person, week, org_unit FROM weekly_events)
        SELECT u.week, u.org_unit, AVG(a.n) AS apps_per_worker
        FROM units u JOIN apps a ON u.person = a.person AND u.week = a.week
        GROUP BY GROUPING SETS ((u.week, u.org_unit), (u.week))""",
    "after_hours_demand_share": f"""
        SELECT week, app_id, org_unit,
               SUM(CASE WHEN event_type = 'group_demand' AND after_hours THEN 1 ELSE 0 END) AS after_hours,
               SUM(CASE WHEN event_type = 'group_demand' THEN 1 ELSE 0 END) AS demands
        FROM weekly_events GROUP BY {LEVELS}""",
    "rankings_published": f"""
        SELECT week, app_id, org_unit, SUM(CASE WHEN event_type = 'ranking_published' THEN 1 ELSE 0 END) AS rankings
        FROM weekly_events GROUP BY {LEVELS}""",
}


def week_start_utc(label: str, tz: str) -> dt.datetime:
    year, week = label.split("-W")
    monday = dt.date.fromisocalendar(int(year), int(week), 1)
    local = dt.datetime(monday.year, monday.month, monday.day, tzinfo=zoneinfo.ZoneInfo(tz))
    return local.astimezone(dt.timezone.utc)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--from", dest="from_week", required=True)
    p.add_argument("--to", dest="to_week", required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--tz", default="Asia/Shanghai")
    p.add_argument("--only", default="", help="comma-separated pipelines (default: all)")
    a = p.parse_args()
    lo = week_start_utc(a.from_week, a.tz)
    hi = week_start_utc(a.to_week, a.tz) + dt.timedelta(days=7)
    started = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"SET threads = {a.threads}")
    con.execute("SET preserve_insertion_order = false")
    con.execute(f"SET TimeZone = '{a.tz}'")
    con.execute(f"""
        CREATE VIEW events AS
        SELECT * FROM read_parquet('{a.data}/events/*/*/*.parquet', hive_partitioning = false)
        WHERE started_at >= TIMESTAMPTZ '{lo.isoformat()}' AND started_at < TIMESTAMPTZ '{hi.isoformat()}'""")
    con.execute(f"""
        CREATE VIEW weekly_events AS
        SELECT person, app_id, org_unit, event_type, trigger, duration_s, data_elements, started_at,
               strftime(l, '%G-W%V') AS week,
               (isodow(l) > 5 OR hour(l) < 8 OR hour(l) >= 18) AS after_hours
        FROM (SELECT *, started_at AT TIME ZONE '{a.tz}' AS l FROM events)""")
    only = [x for x in a.only.split(",") if x]
    parts, cells = {}, 0
    for name, sql in QUERIES.items():
        if only and name not in only:
            continue
        t = time.perf_counter()
        rows = con.execute(sql).fetchall()
        parts[name] = round(time.perf_counter() - t, 3)
        cells += len(rows)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({
        "engine": f"duckdb {duckdb.__version__}",
        "threads": a.threads,
        "seconds": round(time.perf_counter() - started, 3),
        "cells": cells,
        "parts_s": parts,
        "peak_rss_mib": round(peak_mib, 1),
    }))


if __name__ == "__main__":
    main()

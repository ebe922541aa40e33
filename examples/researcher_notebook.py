#!/usr/bin/env python3
"""A researcher's notebook, as a script: ask Fingertip a question over Arrow Flight SQL with
ADBC, get a pandas DataFrame, and draw the answer with the error bars Fingertip released.

    pip install adbc-driver-flightsql pandas
    fingertip serve --flight-listen 127.0.0.1:4181 &
    export FINGERTIP_TOKEN=$(fingertip token create --role researcher | tail -1)
    python3 examples/researcher_notebook.py --uri grpc://127.0.0.1:4181 --out workers.svg

Every answer is differentially private and charged to the privacy budget: this one costs
ε = 0.5 (the `x-fingertip-epsilon` call header). Each noisy column `c` comes with `c_ci_low`
and `c_ci_high`, its 95% interval; the column's noise scale and mechanism, and what the
answer cost, are in the Arrow schema's metadata. The tests run this script
(tests/tests/dp/flight.rs), so it stays true.
"""

import argparse
import html
import os

import adbc_driver_flightsql.dbapi as flight_sql

SQL = """
SELECT org_unit, COUNT(DISTINCT person) AS workers
FROM events
GROUP BY org_unit
ORDER BY org_unit
"""


def ask(uri, token, epsilon):
    """One DP query: returns the Arrow table (with its metadata) and a pandas DataFrame."""
    header = "adbc.flight.sql.rpc.call_header."
    with flight_sql.connect(
        uri, db_kwargs={"adbc.flight.sql.authorization_header": f"Bearer {token}"}
    ) as conn, conn.cursor() as cur:
        cur.adbc_statement.set_options(
            **{
                header + "x-fingertip-epsilon": str(epsilon),
                # Staff work in one org unit: a person counts in at most one group.
                header + "x-fingertip-max-groups": "1",
            }
        )
        cur.execute(SQL)
        table = cur.fetch_arrow_table()
    return table, table.to_pandas()


def describe(table):
    """What the release says about itself, from the schema metadata."""
    meta = {k.decode(): v.decode() for k, v in table.schema.metadata.items()}
    workers = {k.decode(): v.decode() for k, v in table.schema.field("workers").metadata.items()}
    print(f"ε spent: {meta['fingertip.epsilon_spent']}, δ spent: {meta['fingertip.delta_spent']}")
    print(
        f"workers: {workers['fingertip.kind']} by {workers['fingertip.mechanism']}, "
        f"noise scale {workers['fingertip.noise_scale']}, "
        f"95% half-width {workers.get('fingertip.ci95_half_width', 'per row')}"
    )
    print(f"groups withheld (fewer than {meta['fingertip.min_persons']} persons): "
          f"{meta['fingertip.groups_suppressed']}")


def bar_chart(df, path, title):
    """A bar per org unit with its released 95% interval as an error bar, as plain SVG."""
    width, height, pad, bar = 120 + 90 * len(df), 320, 50, 50
    top = max(df["workers_ci_high"].max(), 1.0)
    y = lambda v: height - pad - (height - 2 * pad) * max(v, 0.0) / top  # noqa: E731
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="12">',
        f'<text x="{pad}" y="20" font-size="14">{html.escape(title)}</text>',
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - 20}" y2="{height - pad}" stroke="#333"/>',
    ]
    for i, row in enumerate(df.itertuples()):
        x = pad + 20 + 90 * i
        mid = x + bar / 2
        parts += [
            f'<rect class="bar" x="{x}" y="{y(row.workers):.1f}" width="{bar}" '
            f'height="{height - pad - y(row.workers):.1f}" fill="#4c78a8"/>',
            f'<path class="error-bar" d="M{mid},{y(row.workers_ci_low):.1f} V{y(row.workers_ci_high):.1f} '
            f'M{mid - 8},{y(row.workers_ci_low):.1f} h16 M{mid - 8},{y(row.workers_ci_high):.1f} h16" '
            f'stroke="#000" stroke-width="1.5"/>',
            f'<text x="{mid}" y="{height - pad + 16}" text-anchor="middle">{html.escape(str(row.org_unit))}</text>',
            f'<text x="{mid}" y="{y(row.workers_ci_high) - 6:.1f}" text-anchor="middle">{row.workers:.0f}</text>',
        ]
    parts.append("</svg>\n")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(parts))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--uri", default=os.environ.get("FINGERTIP_FLIGHT_URI", "grpc://127.0.0.1:4181"))
    p.add_argument("--token", default=os.environ.get("FINGERTIP_TOKEN"))
    p.add_argument("--epsilon", type=float, default=0.5)
    p.add_argument("--out", default="workers.svg")
    args = p.parse_args()
    if not args.token:
        p.error("a researcher token is needed: --token or FINGERTIP_TOKEN")
    table, df = ask(args.uri, args.token, args.epsilon)
    print(df[["org_unit", "workers", "workers_ci_low", "workers_ci_high"]].to_string(index=False))
    describe(table)
    bar_chart(df, args.out, f"Workers per org unit (ε = {args.epsilon}, 95% intervals)")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

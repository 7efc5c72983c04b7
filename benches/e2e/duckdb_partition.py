#!/usr/bin/env python3
"""Peer implementations of phase 1 (extraction) for the end-to-end benchmark.

Splits an orders CSV and a trades CSV into one folder per (date, security_code)
with a dataframe engine, the way a researcher would do it today:

  duckdb (default): COPY (FROM read_csv('orders.csv'))
                    TO 'OUT/orders' (FORMAT csv, PARTITION_BY (date, security_code))
                    and the same for trades.
  polars:           pl.read_csv(...).partition_by(['date', 'security_code'],
                    as_dict=True), then write_csv of every group.

Both use the engines' defaults (type inference on, all cores). Neither
validates rows by SPEC §2, keeps rows byte for byte, or guarantees input order
(Polars does keep it); they are the baseline for speed, not equivalent tools.

Not a project dependency: run it with a Python that has duckdb (and polars),
e.g. a throwaway venv outside the repository:

    python3 -m venv /work/venv-duckdb
    /work/venv-duckdb/bin/pip install duckdb polars
    /work/venv-duckdb/bin/python benches/e2e/duckdb_partition.py \
        --orders orders.csv --trades trades.csv --output OUT [--engine polars]
"""

import argparse
import os
import sys
import time


def sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def run_duckdb(orders: str, trades: str, out: str) -> int:
    import duckdb

    con = duckdb.connect()  # in-memory database, default threads and memory limit
    for name, path in (("orders", orders), ("trades", trades)):
        con.execute(
            f"COPY (FROM read_csv({sql_str(path)})) "
            f"TO {sql_str(os.path.join(out, name))} "
            "(FORMAT csv, PARTITION_BY (date, security_code))"
        )
    con.close()
    return 0


def run_polars(orders: str, trades: str, out: str) -> int:
    import polars as pl

    for name, path in (("orders", orders), ("trades", trades)):
        df = pl.read_csv(path)
        groups = df.partition_by(["date", "security_code"], as_dict=True)
        del df
        base = os.path.join(out, name)
        for (date, code), part in groups.items():
            d = os.path.join(base, f"date={date}", f"security_code={code}")
            os.makedirs(d, exist_ok=True)
            part.write_csv(os.path.join(d, "data.csv"))
        del groups
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orders", required=True)
    ap.add_argument("--trades", required=True)
    ap.add_argument("--output", required=True, help="output folder (created)")
    ap.add_argument("--engine", choices=("duckdb", "polars"), default="duckdb")
    a = ap.parse_args()
    os.makedirs(a.output, exist_ok=True)
    t0 = time.perf_counter()
    rc = (run_duckdb if a.engine == "duckdb" else run_polars)(a.orders, a.trades, a.output)
    print(f"{a.engine}: partitioned in {time.perf_counter() - t0:.2f}s -> {a.output}",
          file=sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(main())

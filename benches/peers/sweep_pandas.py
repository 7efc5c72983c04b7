#!/usr/bin/env python3
"""Peer benchmark: the analyses of SPEC §4 in vectorized pandas + SciPy, as a
skilled pandas user would write them (read_csv, groupby, merge, searchsorted;
no per-row Python loops), over the partitions an extraction wrote, with a
process pool.

    python sweep_pandas.py OUTPUT_DIR [--workers 2] [--sweep-min-levels 2]

Writes stats_pandas/ next to each partition's stats/ (so the Rust outputs are
left alone) and prints rows, seconds and rows/s. See README.md.
"""
import argparse
import glob
import multiprocessing as mp
import os
import sys
import time

import numpy as np
import pandas as pd
from scipy import stats

METRICS = ["order_qty", "filled_qty", "fill_ratio", "notional", "fills", "levels",
           "price_impact_bps", "slippage_bps", "shortfall_bps", "duration_ms"]
SIDE = {"B": 1.0, "1": 1.0, "S": -1.0, "2": -1.0}


def read(path, id_columns):
    df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    for column in id_columns:
        if column in df:
            df[column] = pd.to_numeric(df[column].replace("", "0")).astype("uint64")
    df["time_ns"] = pd.to_timedelta(df["time"]).to_numpy().astype("int64")
    df["price_f"] = pd.to_numeric(df["price"].replace("", np.nan))
    df["quantity_f"] = pd.to_numeric(df["quantity"])
    return df


def describe(values):
    a = values[~np.isnan(values)]
    if len(a) == 0:
        return [0] + [np.nan] * 9
    std = np.std(a, ddof=1) if len(a) > 1 else np.nan
    if len(a) > 1 and np.all(a == a[0]):
        std = 0.0
    return [len(a), a.mean(), std, a.min(), *np.percentile(a, [25, 50, 75, 90, 99]), a.max()]


def tests(x, y):
    x, y = x[~np.isnan(x)], y[~np.isnan(y)]
    row = [len(x), len(y), x.mean() if len(x) else np.nan, y.mean() if len(y) else np.nan]
    if len(x) < 2 or len(y) < 2:
        return row + [np.nan] * 8
    w = stats.ttest_ind(x, y, equal_var=False)
    both_constant = np.all(x == x[0]) and np.all(y == y[0])
    welch = [np.nan] * 3 if both_constant else [w.statistic, w.df, w.pvalue]
    pooled = np.concatenate([x, y])
    if np.all(pooled == pooled[0]):
        mw = [len(x) * len(y) / 2, 1.0]
    else:
        r = stats.mannwhitneyu(x, y, alternative="two-sided", use_continuity=True, method="asymptotic")
        mw = [r.statistic, r.pvalue]
    # The p-value comes from kstwobign below (SPEC §4), so skip the exact
    # p-value SciPy would otherwise compute: a fair baseline pays only for D.
    d = stats.ks_2samp(x, y, method="asymp").statistic
    n, m = len(x), len(y)
    ks = [d, stats.kstwobign.sf(d * np.sqrt(n * m / (n + m)))]
    pooled_sd = np.sqrt(((n - 1) * np.var(x, ddof=1) + (m - 1) * np.var(y, ddof=1)) / (n + m - 2))
    cohen = (x.mean() - y.mean()) / pooled_sd if pooled_sd > 0 else np.nan
    return row + welch + mw + ks + [cohen]


def analyse(partition, sweep_min_levels):
    orders = read(os.path.join(partition, "orders.csv"), ["order_id"])
    trades = read(os.path.join(partition, "trades.csv"), ["trade_id", "buy_order_id", "sell_order_id"])
    duplicate_orders = int(orders["order_id"].duplicated().sum())
    orders = orders.drop_duplicates("order_id", keep="first").reset_index(drop=True)
    orders["sigma"] = orders["side"].map(SIDE)
    if "order_type" not in orders:
        orders["order_type"] = "L"
    orders["order_type"] = np.where(orders["order_type"] == "M", "M", "L")

    trades = trades.sort_values(["time_ns", "trade_id"], kind="stable").reset_index(drop=True)
    ids = orders["order_id"].to_numpy()
    buy, sell = trades["buy_order_id"].to_numpy(), trades["sell_order_id"].to_numpy()
    buy_known, sell_known = np.isin(buy, ids), np.isin(sell, ids)
    unlinked = int((~(buy_known & sell_known)).sum())
    matched = orders["order_id"].isin(np.concatenate([buy[buy_known], sell[sell_known]]))

    if "aggressor_side" in trades:
        aggressor = trades["aggressor_side"].map(SIDE).to_numpy()
        taker = np.where(aggressor == 1.0, buy, np.where(aggressor == -1.0, sell, 0))
    else:
        taker = np.where((buy != 0) & (sell != 0), np.maximum(buy, sell), 0)
    trades["taker"] = taker.astype("uint64")
    fills = trades[(trades["taker"] != 0) & trades["taker"].isin(ids)].copy()
    fills["notional"] = fills["price_f"] * fills["quantity_f"]
    per_taker = fills.groupby("taker", sort=False).agg(
        fills=("price_f", "size"), levels=("price_f", "nunique"), filled_qty=("quantity_f", "sum"),
        notional=("notional", "sum"), first_price=("price_f", "first"), last_price=("price_f", "last"),
        last_time=("time_ns", "last"))
    takers = orders.merge(per_taker, left_on="order_id", right_index=True, how="inner")

    trade_times = trades["time_ns"].to_numpy()
    trade_prices = trades["price_f"].to_numpy()

    def reference(times):
        k = np.searchsorted(trade_times, times, side="left") - 1
        return np.where(k >= 0, trade_prices[np.clip(k, 0, None)] if len(trade_prices) else np.nan, np.nan)

    takers["order_qty"] = takers["quantity_f"]
    takers["fill_ratio"] = takers["filled_qty"] / takers["order_qty"]
    takers["vwap"] = takers["notional"] / takers["filled_qty"]
    takers["arrival_price"] = reference(takers["time_ns"].to_numpy())
    s = takers["sigma"]
    takers["price_impact_bps"] = s * (takers["last_price"] - takers["first_price"]) / takers["first_price"] * 1e4
    takers["slippage_bps"] = s * (takers["vwap"] - takers["first_price"]) / takers["first_price"] * 1e4
    takers["shortfall_bps"] = s * (takers["vwap"] - takers["arrival_price"]) / takers["arrival_price"] * 1e4
    takers["duration_ms"] = (takers["last_time"] - takers["time_ns"]) / 1e6
    takers["is_sweep"] = (takers["levels"] >= sweep_min_levels).astype(int)
    takers = takers.sort_values(["time_ns", "order_id"], kind="stable")

    out = os.path.join(partition, "stats_pandas")
    os.makedirs(out, exist_ok=True)
    takers[["order_id", "time", "side", "order_type", "order_qty", "price_f", "is_sweep", "fills", "levels",
            "filled_qty", "fill_ratio", "notional", "vwap", "first_price", "last_price", "arrival_price",
            "price_impact_bps", "slippage_bps", "shortfall_bps", "duration_ms"]].rename(
        columns={"price_f": "order_price"}).to_csv(os.path.join(out, "sweep_order_comparison_detailed.csv"), index=False)

    sweep = takers["is_sweep"] == 1
    groups = {"sweep": takers[sweep], "non_sweep": takers[~sweep], "all": takers}
    summary = [[g, m, *describe(df[m].to_numpy(dtype=float))] for g, df in groups.items() for m in METRICS]
    pd.DataFrame(summary, columns=["group", "metric", "count", "mean", "std", "min", "p25", "median", "p75", "p90",
                                   "p99", "max"]).to_csv(os.path.join(out, "sweep_order_comparison_summary.csv"), index=False)
    rows = [[m, *tests(groups["sweep"][m].to_numpy(dtype=float), groups["non_sweep"][m].to_numpy(dtype=float))]
            for m in METRICS if m != "levels"]
    pd.DataFrame(rows, columns=["metric", "n_sweep", "n_non_sweep", "mean_sweep", "mean_non_sweep", "welch_t",
                                "welch_df", "welch_p", "mannwhitney_u", "mannwhitney_p", "ks_d", "ks_p", "cohens_d"]
                 ).to_csv(os.path.join(out, "sweep_order_statistical_tests.csv"), index=False)

    lonely = orders[~matched].copy()
    lonely["ref"] = reference(lonely["time_ns"].to_numpy())
    limit = lonely["order_type"] == "L"
    lonely["distance"] = np.where(limit, (lonely["ref"] - lonely["price_f"]) / lonely["ref"] * 1e4 * lonely["sigma"], np.nan)
    unmatched = []
    for side, mask_all, mask_lonely in (("B", orders["sigma"] > 0, lonely["sigma"] > 0),
                                        ("S", orders["sigma"] < 0, lonely["sigma"] < 0),
                                        ("ALL", orders["sigma"].notna(), lonely["sigma"].notna())):
        part = lonely[mask_lonely]
        d = part["distance"].dropna().to_numpy()
        q = part["quantity_f"].to_numpy()
        n_orders = int(mask_all.sum())
        unmatched.append([side, n_orders, len(part), len(part) / n_orders if n_orders else np.nan,
                          *(list(np.r_[q.mean(), np.percentile(q, [50, 90])]) if len(q) else [np.nan] * 3),
                          int((part["order_type"] == "L").sum()), len(d),
                          *(list(np.r_[d.mean(), np.percentile(d, [50, 90])]) if len(d) else [np.nan] * 3),
                          int((d <= 0).sum()), int(((d > 0) & (d <= 10)).sum()), int(((d > 10) & (d <= 50)).sum()),
                          int(((d > 50) & (d <= 100)).sum()), int((d > 100).sum())])
    pd.DataFrame(unmatched, columns=["side", "orders", "unmatched", "unmatched_share", "qty_mean", "qty_median",
                                     "qty_p90", "limit_orders", "with_reference", "distance_bps_mean",
                                     "distance_bps_median", "distance_bps_p90", "marketable", "within_10bps",
                                     "within_50bps", "within_100bps", "beyond_100bps"]
                 ).to_csv(os.path.join(out, "unmatched_orders_analysis.csv"), index=False)
    figures = dict(order_count=len(orders), trade_count=len(trades), matched_orders=int(matched.sum()),
                   unmatched_orders=int((~matched).sum()), taker_orders=len(takers), sweep_orders=int(sweep.sum()),
                   unlinked_trades=unlinked, duplicate_orders=duplicate_orders)
    return partition, figures, len(orders) + duplicate_orders + len(trades)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("output", help="the pipeline's output folder (holding partitions/)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sweep-min-levels", type=int, default=2)
    parser.add_argument("--figures", action="store_true", help="print each partition's figures")
    args = parser.parse_args()
    partitions = sorted(os.path.dirname(p) for p in glob.glob(os.path.join(args.output, "partitions", "*", "*", "orders.csv")))
    if not partitions:
        sys.exit(f"no partitions under {args.output}/partitions")
    start = time.perf_counter()
    with mp.Pool(args.workers) as pool:
        results = pool.starmap(analyse, [(p, args.sweep_min_levels) for p in partitions])
    seconds = time.perf_counter() - start
    rows = sum(r[2] for r in results)
    if args.figures:
        for partition, figures, _ in results:
            print(os.path.relpath(partition, os.path.join(args.output, "partitions")), figures)
    print(f"pandas+SciPy: {len(partitions)} partitions, {rows} rows in {seconds:.2f} s "
          f"= {rows / seconds:,.0f} rows/s with {args.workers} processes")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Golden files for the sweep-order analyses (SPEC §4), computed independently
of the Rust code: written from the spec with pandas (CSV reading), NumPy
(descriptive statistics) and SciPy (tests).

    python3 -m venv /tmp/venv-golden && /tmp/venv-golden/bin/pip install pandas scipy numpy
    /tmp/venv-golden/bin/python tests/golden/make_golden.py            # rewrite every case
    /tmp/venv-golden/bin/python tests/golden/make_golden.py fixture [FIXTURE_DIR]  # the real SSE fixture

For every case in CASES it writes tests/golden/cases/NAME/input/{orders,trades}.csv
(exact bytes, so quoting, CRLF, BOM survive), input/sweep_min_levels when not 2,
and expected/{the four stats files, figures.txt}. CI has no Python: the outputs
are committed, and tests/analysis_golden.rs compares against them.

Floats are written as the Rust `ryu` crate writes them (shortest round trip;
Python's repr spells exponents `1e+20`/`1e-07` and switches to exponent form at
other magnitudes, so the digits are re-laid out), `-0` as `0.0`, and undefined
values as empty fields.
"""
import bisect
import io
import math
import os
import sys

import numpy as np
import pandas as pd
from scipy import stats

HERE = os.path.dirname(os.path.abspath(__file__))
KEY_DATE, KEY_CODE = "2024-01-02", "TEST"

# ---------------------------------------------------------------- formatting


def fmt(x):
    """A float as ryu writes it; '' when undefined."""
    if x is None:
        return ""
    x = float(x)
    if not math.isfinite(x):
        return ""
    if x == 0.0:
        return "0.0"
    text = repr(x)
    sign = "-" if text.startswith("-") else ""
    text = text.lstrip("-")
    mantissa, _, exponent = text.partition("e")
    exponent = int(exponent) if exponent else 0
    whole, _, fraction = mantissa.partition(".")
    digits = (whole + fraction).lstrip("0")
    k = exponent - len(fraction)  # value = int(digits) * 10**k
    stripped = digits.rstrip("0")
    k += len(digits) - len(stripped)
    digits = stripped
    length = len(digits)
    kk = length + k  # 10**(kk-1) <= value < 10**kk
    if 0 <= k and kk <= 16:
        return sign + digits + "0" * k + ".0"
    if 0 < kk <= 16:
        return sign + digits[:kk] + "." + digits[kk:]
    if -5 < kk <= 0:
        return sign + "0." + "0" * (-kk) + digits
    if length == 1:
        return sign + digits + "e" + str(kk - 1)
    return sign + digits[0] + "." + digits[1:] + "e" + str(kk - 1)


def count(n):
    return str(int(n))


# ---------------------------------------------------------------- reading


def read_csv(path):
    with open(path, "rb") as f:
        raw = f.read()
    text = raw.decode("utf-8-sig")
    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, skip_blank_lines=True)


def time_ns(text):
    hh, mm, rest = text.split(":")
    ss, _, frac = rest.partition(".")
    return ((int(hh) * 60 + int(mm)) * 60 + int(ss)) * 10**9 + (int(frac.ljust(9, "0")) if frac else 0)


def side_of(text):
    return {"B": "B", "1": "B", "S": "S", "2": "S"}[text]


def opt_id(text):
    return int(text) if text != "" else 0


# ---------------------------------------------------------------- the analyses


def describe(values):
    """count, mean, std, min, p25, median, p75, p90, p99, max per SPEC §4."""
    a = np.asarray(values, dtype=float)
    n = len(a)
    if n == 0:
        return [0] + [None] * 9
    std = None
    if n >= 2:
        std = 0.0 if np.all(a == a[0]) else float(np.std(a, ddof=1))
    q = [float(np.percentile(a, p)) for p in (25, 50, 75, 90, 99)]
    return [n, float(np.mean(a)), std, float(a.min()), *q, float(a.max())]


def is_constant(a):
    return len(a) > 0 and all(v == a[0] for v in a)


def tests_row(x, y):
    """The test fields of one metric, per SPEC §4."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    fields = [len(x), len(y), float(np.mean(x)) if len(x) else None, float(np.mean(y)) if len(y) else None]
    if len(x) < 2 or len(y) < 2:
        return fields + [None] * 8
    # Welch: undefined when both groups are constant (standard error 0).
    if is_constant(x) and is_constant(y):
        welch = [None, None, None]
    else:
        r = stats.ttest_ind(x, y, equal_var=False)
        welch = [float(r.statistic), float(r.df), float(r.pvalue)]
        if not all(math.isfinite(v) for v in welch[:2]):
            welch = [None, None, None]
    pooled = np.concatenate([x, y])
    if np.all(pooled == pooled[0]):
        mw = [len(x) * len(y) / 2, 1.0]
    else:
        r = stats.mannwhitneyu(x, y, alternative="two-sided", use_continuity=True, method="asymptotic")
        mw = [float(r.statistic), float(r.pvalue)]
    d = float(stats.ks_2samp(x, y).statistic)
    n, m = len(x), len(y)
    ks = [d, float(stats.kstwobign.sf(d * np.sqrt(n * m / (n + m))))]
    vx = 0.0 if is_constant(x) else float(np.var(x, ddof=1))
    vy = 0.0 if is_constant(y) else float(np.var(y, ddof=1))
    pooled_sd = math.sqrt(((n - 1) * vx + (m - 1) * vy) / (n + m - 2))
    cohen = None if pooled_sd == 0 else (float(np.mean(x)) - float(np.mean(y))) / pooled_sd
    return fields + welch + mw + ks + [cohen]


METRICS = ["order_qty", "filled_qty", "fill_ratio", "notional", "fills", "levels",
           "price_impact_bps", "slippage_bps", "shortfall_bps", "duration_ms"]


def analyse(orders_path, trades_path, sweep_min_levels=2):
    O = read_csv(orders_path)
    T = read_csv(trades_path)
    has_type = "order_type" in O.columns
    has_aggressor = "aggressor_side" in T.columns

    # Orders: the first row of each id is the only one that exists.
    orders = {}
    canonical = []
    duplicates = 0
    for r in O.itertuples(index=False):
        oid = int(r.order_id)
        if oid in orders:
            duplicates += 1
            continue
        o = dict(id=oid, t=time_ns(r.time), time_text=r.time, side=side_of(r.side), side_text=r.side,
                 price=float(r.price) if r.price != "" else None, qty=float(r.quantity),
                 type="M" if has_type and r.order_type == "M" else "L")
        orders[oid] = o
        canonical.append(o)

    trades = []
    for i, r in enumerate(T.itertuples(index=False)):
        trades.append(dict(i=i, id=int(r.trade_id), t=time_ns(r.time), price=float(r.price), qty=float(r.quantity),
                           buy=opt_id(r.buy_order_id), sell=opt_id(r.sell_order_id),
                           aggressor=(side_of(r.aggressor_side) if r.aggressor_side != "" else None) if has_aggressor else None))
    by_time = sorted(trades, key=lambda tr: (tr["t"], tr["id"], tr["i"]))
    times = [tr["t"] for tr in by_time]

    def reference_price(t):
        """Price of the last trade by (time, trade_id) strictly before t."""
        k = bisect.bisect_left(times, t)
        return by_time[k - 1]["price"] if k > 0 else None

    matched = set()
    unlinked = 0
    fills = {}
    for tr in by_time:
        for oid in (tr["buy"], tr["sell"]):
            if oid in orders:
                matched.add(oid)
        if not (tr["buy"] in orders and tr["sell"] in orders):
            unlinked += 1
        if has_aggressor:
            taker = None if tr["aggressor"] is None else (tr["buy"] if tr["aggressor"] == "B" else tr["sell"])
        else:
            taker = max(tr["buy"], tr["sell"]) if tr["buy"] != 0 and tr["sell"] != 0 else None
        if taker and taker in orders:
            fills.setdefault(taker, []).append(tr)  # already in (time, trade_id, file) order

    takers = []
    for oid, fs in fills.items():
        o = orders[oid]
        sigma = 1.0 if o["side"] == "B" else -1.0
        prices = np.array([f["price"] for f in fs])
        qtys = np.array([f["qty"] for f in fs])
        filled = float(np.sum(qtys))
        notional = float(np.sum(prices * qtys))
        vwap = notional / filled
        first, last = fs[0]["price"], fs[-1]["price"]
        arrival = reference_price(o["t"])
        levels = len(set(prices.tolist()))
        takers.append(dict(
            o=o, fills=len(fs), levels=levels, is_sweep=levels >= sweep_min_levels,
            order_qty=o["qty"], filled_qty=filled, fill_ratio=filled / o["qty"], notional=notional, vwap=vwap,
            first_price=first, last_price=last, arrival_price=arrival,
            price_impact_bps=sigma * (last - first) / first * 1e4,
            slippage_bps=sigma * (vwap - first) / first * 1e4,
            shortfall_bps=None if arrival is None else sigma * (vwap - arrival) / arrival * 1e4,
            duration_ms=(fs[-1]["t"] - o["t"]) / 1e6))
    takers.sort(key=lambda tk: (tk["o"]["t"], tk["o"]["id"]))

    detailed = ["order_id,time,side,order_type,order_qty,order_price,is_sweep,fills,levels,filled_qty,fill_ratio,"
                "notional,vwap,first_price,last_price,arrival_price,price_impact_bps,slippage_bps,shortfall_bps,duration_ms"]
    for tk in takers:
        o = tk["o"]
        detailed.append(",".join([
            count(o["id"]), o["time_text"], o["side_text"], o["type"], fmt(o["qty"]), fmt(o["price"]),
            "1" if tk["is_sweep"] else "0", count(tk["fills"]), count(tk["levels"]),
            *[fmt(tk[k]) for k in ("filled_qty", "fill_ratio", "notional", "vwap", "first_price", "last_price",
                                   "arrival_price", "price_impact_bps", "slippage_bps", "shortfall_bps", "duration_ms")]]))

    def values(group, metric):
        out = []
        for tk in takers:
            if group == "sweep" and not tk["is_sweep"] or group == "non_sweep" and tk["is_sweep"]:
                continue
            if tk[metric] is not None:
                out.append(float(tk[metric]))
        return out

    summary = ["group,metric,count,mean,std,min,p25,median,p75,p90,p99,max"]
    for group in ("sweep", "non_sweep", "all"):
        for metric in METRICS:
            d = describe(values(group, metric))
            summary.append(",".join([group, metric, count(d[0])] + [fmt(v) for v in d[1:]]))

    tests = ["metric,n_sweep,n_non_sweep,mean_sweep,mean_non_sweep,welch_t,welch_df,welch_p,"
             "mannwhitney_u,mannwhitney_p,ks_d,ks_p,cohens_d"]
    for metric in METRICS:
        if metric == "levels":
            continue
        row = tests_row(values("sweep", metric), values("non_sweep", metric))
        tests.append(",".join([metric, count(row[0]), count(row[1])] + [fmt(v) for v in row[2:]]))

    unmatched = ["side,orders,unmatched,unmatched_share,qty_mean,qty_median,qty_p90,limit_orders,with_reference,"
                 "distance_bps_mean,distance_bps_median,distance_bps_p90,marketable,within_10bps,within_50bps,"
                 "within_100bps,beyond_100bps"]
    for side in ("B", "S", "ALL"):
        mine = [o for o in canonical if side == "ALL" or o["side"] == side]
        lonely = [o for o in mine if o["id"] not in matched]
        limits = [o for o in lonely if o["type"] == "L"]
        distances = []
        for o in limits:
            ref = reference_price(o["t"])
            if ref is None or o["price"] is None:
                continue
            distances.append((ref - o["price"]) / ref * 1e4 if o["side"] == "B" else (o["price"] - ref) / ref * 1e4)
        q = np.array([o["qty"] for o in lonely])
        dist = np.array(distances)

        def mmp(a):
            if len(a) == 0:
                return ["", "", ""]
            return [fmt(np.mean(a)), fmt(np.percentile(a, 50)), fmt(np.percentile(a, 90))]

        unmatched.append(",".join([
            side, count(len(mine)), count(len(lonely)), fmt(len(lonely) / len(mine)) if mine else "",
            *mmp(q), count(len(limits)), count(len(distances)), *mmp(dist),
            count(sum(1 for d in distances if d <= 0)),
            count(sum(1 for d in distances if 0 < d <= 10)),
            count(sum(1 for d in distances if 10 < d <= 50)),
            count(sum(1 for d in distances if 50 < d <= 100)),
            count(sum(1 for d in distances if d > 100))]))

    figures = dict(
        order_count=len(canonical), trade_count=len(trades), matched_orders=len(matched),
        unmatched_orders=len(canonical) - len(matched), taker_orders=len(takers),
        sweep_orders=sum(1 for tk in takers if tk["is_sweep"]), unlinked_trades=unlinked,
        duplicate_orders=duplicates)
    files = {
        "sweep_order_comparison_detailed.csv": detailed,
        "sweep_order_comparison_summary.csv": summary,
        "sweep_order_statistical_tests.csv": tests,
        "unmatched_orders_analysis.csv": unmatched,
    }
    return figures, files, takers


# ---------------------------------------------------------------- the cases

O_HEAD = "date,security_code,order_id,time,side,price,quantity,order_type\n"
T_HEAD = "date,security_code,trade_id,time,price,quantity,buy_order_id,sell_order_id\n"
TA_HEAD = "date,security_code,trade_id,time,price,quantity,buy_order_id,sell_order_id,aggressor_side\n"
P = f"{KEY_DATE},{KEY_CODE}"


def rows(lines):
    return "".join(f"{P},{line}\n" for line in lines)


# No aggressor column: the taker is the larger id when both are known.
LARGER_ID_ORDERS = O_HEAD + rows([
    "1,09:30:00.000,S,10.00,100,L",
    "2,09:30:01.000,S,10.01,100,L",
    "3,09:30:02.000,S,10.02,100,L",
    "4,09:30:03.000,S,10.03,100,L",
    "5,09:30:04.000,B,9.99,100,L",
    "6,09:30:05.000,B,9.98,100,L",
    "7,09:30:06.000,B,9.97,100,L",
    "8,09:30:10.000,S,10.00,10,L",
    "9,09:30:20.000,B,10.00,10,L",
    "10,09:31:00.000,B,10.02,300,L",    # sweep: 3 levels, partial fill
    "11,09:32:00.000,S,,250,M",         # market sweep, 2 levels, no price
    "12,09:33:00.000,B,10.03,40,L",     # one fill
    "13,09:34:00.000,S,9.97,30,L",      # two fills, one level
    "20,09:35:00.000,B,10.025,10,L",    # unmatched, ~5 bps from 10.03
    "21,09:35:01.000,B,10.00,20,L",     # ~30 bps
    "22,09:35:02.000,B,9.96,30,L",      # ~70 bps
    "23,09:35:03.000,B,9.50,40,L",      # >100 bps
    "24,09:35:04.000,S,9.96,50,L",      # marketable
    "25,09:35:05.000,S,9.97,60,L",      # distance 0: marketable
    "26,09:35:06.000,S,10.07,70,L",     # >100 bps
    "27,09:35:07.000,S,,80,M",          # unmatched market order without price
    "28,09:35:08.000,B,9.99,90,M",      # unmatched market order with a price
    "29,09:35:09.000,S,10.00,100,L",
])
LARGER_ID_TRADES = T_HEAD + rows([
    "1,09:30:20.000,10.00,10,9,8",
    "2,09:31:00.001,10.00,100,10,1",
    "3,09:31:00.002,10.01,100,10,2",
    "4,09:31:00.250,10.02,50,10,3",
    "5,09:32:00.010,9.99,100,5,11",
    "6,09:32:00.020,9.98,100,6,11",
    "7,09:33:00.500,10.02,40,12,3",
    "8,09:34:00.000,9.97,15,7,13",
    "9,09:34:01.000,9.97,15,7,13",
    "10,09:34:30.000,10.03,5,0,4",      # unknown buyer: no taker, unlinked, 4 matched
    "11,09:34:31.000,10.03,5,99,4",     # taker 99 not in O: no fill, no fallback to 4
    "12,09:34:32.000,10.03,5,4,",       # empty sell id: unknown
])

# aggressor_side column: the order on that side; empty = no taker.
AGGRESSOR_ORDERS = O_HEAD + rows([
    "100,09:15:00.000,B,10.10,200,L",
    "101,09:15:01.000,S,10.00,200,L",
    "102,09:20:00.000,S,10.05,100,L",
    "103,09:20:01.000,S,10.06,100,L",
    "104,09:20:02.000,S,10.08,100,L",
    "50,09:30:00.000,B,10.08,250,L",    # smaller id, but the aggressor: a sweep
    "105,09:20:03.000,B,9.95,100,L",
    "106,09:20:04.000,B,9.94,100,L",
    "60,09:31:00.000,S,9.90,150,L",     # aggressor via code 2, sweep
    "107,09:32:00.000,B,10.08,60,L",    # aggressor via code 1, one level
    "108,09:33:00.000,S,9.94,20,L",     # one level
    "109,09:34:00.000,B,10.2,10,L",     # named as aggressor with unknown side id
    "110,09:40:00.000,B,9.99,10,L",     # unmatched, reference from the last trade
])
AGGRESSOR_TRADES = TA_HEAD + rows([
    "1,09:25:00.000,10.05,200,100,101,",      # call auction: no taker, but a reference price
    "2,09:30:00.100,10.05,100,50,102,B",
    "3,09:30:00.200,10.06,100,50,103,B",
    "4,09:30:00.300,10.08,50,50,104,B",
    "5,09:31:00.010,9.95,100,105,60,2",
    "6,09:31:00.020,9.94,50,106,60,2",
    "7,09:32:00.000,10.08,50,107,104,1",
    "8,09:33:00.000,9.94,20,106,108,S",
    "9,09:34:00.000,10.1,5,0,104,B",           # aggressor B but buy id unknown: no taker
    "10,09:34:00.500,10.1,5,109,999,S",        # aggressor S names 999, not in O: no fallback
    "11,09:35:00.000,10.2,1,109,104,",         # empty aggressor: no taker
])

# Duplicate order ids, ties in (time, trade_id), unsorted trades.
DUPLICATES_ORDERS = O_HEAD + rows([
    "1,10:00:00.000,S,20.00,100,L",
    "2,10:00:00.000,S,20.01,100,L",
    "3,10:00:00.000,S,20.02,100,L",
    "1,10:00:05.000,B,25.00,999,L",     # repeats id 1: ignored for every purpose
    "30,10:01:00.000,B,20.02,300,L",
    "7,10:01:00.000,B,20.05,10,L",      # same time as 30, smaller id: listed first
    "40,10:02:00.000,S,19.00,50,L",
    "40,10:02:00.000,S,19.00,50,L",     # exact repeat
    "41,10:02:30.000,B,19.50,10,L",     # unmatched; reference tie at 10:02:30 not earlier
    "8,10:03:00.000,B,20.00,5,L",
])
DUPLICATES_TRADES = T_HEAD + rows([
    "5,10:01:00.300,20.02,100,30,3",
    "4,10:01:00.200,20.01,100,30,2",
    "4,10:01:00.200,20.015,20,30,2",    # same (time, trade_id): file order decides
    "3,10:01:00.100,20.00,100,30,1",
    "6,10:01:00.000,20.00,10,7,1",      # at the order's own time: duration 0
    "9,10:02:30.000,19.99,10,41,40",    # taker 41 (larger); at 41's time
    "2,10:02:30.000,19.98,5,8,40",      # 40 is larger: taker 40 (sell); trade_id 2 sorts first
    "1,10:02:00.000,20.00,1,1,1",       # self trade, both ids 1: taker 1
])

# Input quirks: BOM, CRLF, quotes, extra and reordered columns, codes 1/2,
# fractional quantities, no order_type column, nanosecond times, blank lines,
# no final newline.
QUIRKS_ORDERS = ("\ufeffvenue,order_id,side,quantity,price,time,security_code,date,note\r\n"
                 f'X,1,"2",0.5,"30000.5",08:00:00,{KEY_CODE},{KEY_DATE},a\r\n'
                 f"X,2,2,0.25,30001,08:00:01.5,{KEY_CODE},{KEY_DATE},\r\n"
                 f"X,3,2,1.125,30002.25,08:00:02.123456789,\"{KEY_CODE}\",{KEY_DATE},b\r\n"
                 "\r\n"
                 f'Y,4,"1",2,30002.25,08:01:00,{KEY_CODE},"{KEY_DATE}",\r\n'
                 f"Y,5,1,0.75,29999,08:02:00.000000001,{KEY_CODE},{KEY_DATE},c\r\n"
                 f"Y,6,2,0.1,30000.5,08:03:00,{KEY_CODE},{KEY_DATE},d\r\n"
                 f"Y,7,1,0.3,30000.5,08:04:00,{KEY_CODE},{KEY_DATE},e")
QUIRKS_TRADES = ("aggressor_side,trade_id,security_code,date,time,price,quantity,sell_order_id,buy_order_id,extra\r\n"
                 f'"1",1,{KEY_CODE},{KEY_DATE},08:01:00.000000100,30000.5,0.5,1,4,z\r\n'
                 f"1,2,{KEY_CODE},{KEY_DATE},08:01:00.000000200,30001,0.25,2,4,z\r\n"
                 f"B,3,{KEY_CODE},{KEY_DATE},08:01:00.1,30002.25,1,3,4,\r\n"
                 "\r\n"
                 f"S,4,{KEY_CODE},{KEY_DATE},\"08:03:00.000001\",29999,0.1,6,5,\r\n"
                 f"2,5,{KEY_CODE},{KEY_DATE},08:04:00.5,30000.5,0.125,6,7,\r\n")

# Both groups constant in some metrics: empty Welch/Cohen, all-tied MW, KS 0.
CONSTANT_ORDERS = O_HEAD + rows([
    "1,11:00:00,S,50.0,100,L", "2,11:00:00,S,50.5,100,L",
    "3,11:00:00,S,50.0,100,L", "4,11:00:00,S,50.5,100,L",
    "5,11:00:00,S,50.0,100,L", "6,11:00:00,S,50.0,100,L",
    "10,11:01:00,B,50.5,100,L", "11,11:02:00,B,50.5,100,L",
    "12,11:03:00,B,50.0,100,L", "13,11:04:00,B,50.0,100,L",
])
CONSTANT_TRADES = T_HEAD + rows([
    "1,11:01:00.5,50.0,50,10,1", "2,11:01:01,50.5,50,10,2",
    "3,11:02:00.5,50.0,50,11,3", "4,11:02:01,50.5,50,11,4",
    "5,11:03:00.5,50.0,100,12,5",
    "6,11:04:00.5,50.0,100,13,6",
])

# One sweep, one non-sweep: statistics of size 1, tests empty.
SMALL_ORDERS = O_HEAD + rows([
    "1,12:00:00,S,7.00,10,L", "2,12:00:00,S,7.01,10,L", "3,12:00:00,S,7.02,10,L",
    "10,12:01:00,B,7.01,20,L", "11,12:02:00,B,7.02,5,L",
])
SMALL_TRADES = T_HEAD + rows([
    "1,12:01:00.001,7.00,10,10,1", "2,12:01:00.002,7.01,10,10,2",
    "3,12:02:00.001,7.02,5,11,3",
])

# Orders and trades but no taker at all (call auction only).
NO_TAKER_ORDERS = O_HEAD + rows(["1,09:20:00,B,5.00,10,L", "2,09:21:00,S,5.00,10,L", "3,09:40:00,S,5.10,10,L"])
NO_TAKER_TRADES = TA_HEAD + rows(["1,09:25:00,5.00,10,1,2,"])

EMPTY_ORDERS = O_HEAD
EMPTY_TRADES = T_HEAD


def random_case(seed=20240102):
    """A larger partition from a toy book: enough takers for meaningful tests
    and for NumPy's pairwise sums to differ from left-to-right ones."""
    rng = np.random.default_rng(seed)
    orders, trades = [], []
    makers = []
    t = 9 * 3600 * 10**9 + 30 * 60 * 10**9
    next_id, next_trade = 1, 1
    grid = np.round(np.arange(99.0, 101.0, 0.01), 2)

    def clock(ns):
        s, frac = divmod(ns, 10**9)
        return f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}.{frac:09d}"

    for _ in range(150):  # resting orders
        side = "B" if rng.random() < 0.5 else "S"
        price = float(rng.choice(grid[:100] if side == "B" else grid[100:]))
        qty = int(rng.integers(1, 20)) * 100
        orders.append(f"{next_id},{clock(t)},{side},{price:.2f},{qty},L")
        makers.append((next_id, side, price))
        next_id += 1
        t += int(rng.integers(1, 50)) * 10**6
    for _ in range(220):  # takers
        side = "B" if rng.random() < 0.5 else "S"
        n_fills = int(rng.choice([1, 1, 1, 2, 2, 3, 4, 6]))
        qty = int(rng.integers(1, 30)) * 100
        taker = next_id
        next_id += 1
        published = rng.random() > 0.05  # some takers never appear in O
        if published:
            price_text = "" if rng.random() < 0.1 else f"{float(rng.choice(grid)):.2f}"
            kind = "M" if price_text == "" else "L"
            orders.append(f"{taker},{clock(t)},{side},{price_text},{qty},{kind}")
        ft = t + int(rng.integers(0, 3)) * 10**6
        base = float(rng.choice(grid[50:150]))
        for k in range(n_fills):
            maker = makers[int(rng.integers(0, len(makers)))][0]
            price = round(base + (0.01 if side == "B" else -0.01) * int(rng.integers(0, 3)) * (k > 0), 2)
            fill_qty = int(rng.integers(1, 10)) * 50
            buy, sell = (taker, maker) if side == "B" else (maker, taker)
            trades.append(f"{next_trade},{clock(ft)},{price:.2f},{fill_qty},{buy},{sell}")
            next_trade += 1
            ft += int(rng.integers(0, 2)) * 10**5
        t += int(rng.integers(1, 400)) * 10**6
    return O_HEAD + rows(orders), T_HEAD + rows(trades)


def cases():
    random_orders, random_trades = random_case()
    return {
        "larger_id_rule": (LARGER_ID_ORDERS, LARGER_ID_TRADES, 2),
        "larger_id_rule_k3": (LARGER_ID_ORDERS, LARGER_ID_TRADES, 3),
        "aggressor_column": (AGGRESSOR_ORDERS, AGGRESSOR_TRADES, 2),
        "duplicates_and_ties": (DUPLICATES_ORDERS, DUPLICATES_TRADES, 2),
        "input_quirks": (QUIRKS_ORDERS, QUIRKS_TRADES, 2),
        "constant_groups": (CONSTANT_ORDERS, CONSTANT_TRADES, 2),
        "groups_of_one": (SMALL_ORDERS, SMALL_TRADES, 2),
        "no_takers": (NO_TAKER_ORDERS, NO_TAKER_TRADES, 2),
        "empty": (EMPTY_ORDERS, EMPTY_TRADES, 2),
        "random_book": (random_orders, random_trades, 2),
    }


def write_case(name, orders_text, trades_text, k):
    base = os.path.join(HERE, "cases", name)
    os.makedirs(os.path.join(base, "input"), exist_ok=True)
    os.makedirs(os.path.join(base, "expected"), exist_ok=True)
    for file, text in (("orders.csv", orders_text), ("trades.csv", trades_text)):
        with open(os.path.join(base, "input", file), "wb") as f:
            f.write(text.encode("utf-8"))
    levels_file = os.path.join(base, "input", "sweep_min_levels")
    if k != 2:
        with open(levels_file, "w") as f:
            f.write(f"{k}\n")
    elif os.path.exists(levels_file):
        os.remove(levels_file)
    figures, files, _ = analyse(os.path.join(base, "input", "orders.csv"), os.path.join(base, "input", "trades.csv"), k)
    for file, lines in files.items():
        with open(os.path.join(base, "expected", file), "w", newline="\n") as f:
            f.write("\n".join(lines) + "\n")
    with open(os.path.join(base, "expected", "figures.txt"), "w") as f:
        for key, value in figures.items():
            f.write(f"{key}={value}\n")
    print(name, figures)


def fixture():
    """Expected outputs for the real SSE fixture (orders.csv with
    trades_with_aggressor.csv as trades.csv), written to fixture_sse_600519/expected/.
    The fixture lives outside the repository: pass its folder as the second argument."""
    root = sys.argv[2] if len(sys.argv) > 2 else os.path.join(HERE, "..", "..", "..", "shared", "fixtures", "sse-600519-2023-02-01")
    figures, files, _ = analyse(os.path.join(root, "orders.csv"), os.path.join(root, "trades_with_aggressor.csv"))
    out = os.path.join(HERE, "fixture_sse_600519", "expected")
    os.makedirs(out, exist_ok=True)
    for file, lines in files.items():
        with open(os.path.join(out, file), "w", newline="\n") as f:
            f.write("\n".join(lines) + "\n")
    with open(os.path.join(out, "figures.txt"), "w") as f:
        for key, value in figures.items():
            f.write(f"{key}={value}\n")
    print(figures)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "fixture":
        fixture()
    else:
        for name, (o, t, k) in cases().items():
            write_case(name, o, t, k)

#!/usr/bin/env bash
# End-to-end pipeline benchmark: the full run (extraction, then processing)
# timed phase by phase, durable and --no-fsync, against the vectorized
# pandas + SciPy peer of benches/peers/ over the same partitions.
#
#   bash benches/e2e/pipeline_bench.sh [DATA_DIR]
#
# DATA_DIR holds orders.csv and trades.csv; when they are missing they are
# generated there with $GEN_ARGS. Environment (all optional):
#   BIN      sweep-pipeline binary       [REPO/target/release/sweep-pipeline]
#   PY       Python with pandas + scipy  [/work/venv-duckdb/bin/python]
#   ROUNDS   rounds of each of our runs  [3]
#   PANDAS   1 = run the pandas peer once at the end [1 if PY imports pandas]
#   WORKERS  threads for ours and processes for pandas [2]
#   SCRATCH  output folder, same file system as DATA_DIR [DATA_DIR/../pipeline-bench-scratch]
#   RESULTS  raw logs and the report     [a new /tmp/pipeline-bench.XXXXXX]
#   GEN_ARGS generator arguments         [--dates 2 --securities 40 --size 600M --seed 7]
#   STEADY_MEMORY 1 = stop this VM returning free memory to its host while
#            measuring (root; see steady_memory.sh) [0]
#
# Each of our runs is a fresh `sweep-pipeline` into an empty SCRATCH/out under
# /usr/bin/time -v, with the input warmed into the page cache first; the
# phase times are the run's own summary lines ("extraction: ... in X s",
# "processing: ... in Y s"). Throughput is input bytes / phase time for both
# phases, so the two read on one scale. The report gives medians.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=retire_output.sh
. "$HERE/retire_output.sh"
# shellcheck source=steady_memory.sh
. "$HERE/steady_memory.sh"
BIN=${BIN:-$REPO/target/release/sweep-pipeline}
PY=${PY:-/work/venv-duckdb/bin/python}
ROUNDS=${ROUNDS:-3}
WORKERS=${WORKERS:-2}
GEN_ARGS=${GEN_ARGS:---dates 2 --securities 40 --size 600M --seed 7}

case "${1:-}" in -h|--help) sed -n '2,25p' "$0"; exit 0 ;; esac
die() { echo "pipeline_bench: $*" >&2; exit 1; }
[ -x "$BIN" ] || die "no binary at $BIN (run: cargo build --release in $REPO)"
[ -x /usr/bin/time ] || die "/usr/bin/time (GNU time) is required"

DATA=$(mkdir -p "${1:-/work/bench/proc600}" && cd "${1:-/work/bench/proc600}" && pwd)
ORDERS=$DATA/orders.csv TRADES=$DATA/trades.csv
if [ ! -f "$ORDERS" ] || [ ! -f "$TRADES" ]; then
  echo "generating $GEN_ARGS into $DATA" >&2
  # shellcheck disable=SC2086
  "$BIN" generate --output "$DATA" $GEN_ARGS --quiet
fi
SCRATCH=${SCRATCH:-$(dirname "$DATA")/pipeline-bench-scratch}
RESULTS=${RESULTS:-$(mktemp -d /tmp/pipeline-bench.XXXXXX)}
mkdir -p "$SCRATCH" "$RESULTS"
TSV=$RESULTS/results.tsv
printf 'round\tmode\textract_s\tprocess_s\twall_s\tmaxrss_kb\tload1\n' >"$TSV"
BYTES=$(( $(stat -L -c %s "$ORDERS") + $(stat -L -c %s "$TRADES") ))
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(git -C "$REPO" rev-parse HEAD)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), nproc $(nproc)"
  echo "input: $BYTES bytes in $DATA"
  echo "steady memory: ${STEADY_MEMORY:-0} (free page reporting order $(cat "$REPORTING_ORDER" 2>/dev/null || echo none) at the start)"
} | tee "$RESULTS/machine.txt" >&2

tfield() { grep "$1" "$2" | sed 's/.*: //'; }
wait_for_quiet_inodes
trap steady_memory_off EXIT
steady_memory_on
for round in $(seq 1 "$ROUNDS"); do
  for mode in durable no-fsync; do
    flag=(); [ "$mode" = no-fsync ] && flag=(--no-fsync)
    # A fresh folder: with --force into the previous output the run would
    # delete it (10,000+ files) inside the timed extraction phase; and the
    # previous output is retired, not deleted (see retire_output.sh).
    retire_output "$SCRATCH/out" "$SCRATCH/retired"
    cat "$ORDERS" "$TRADES" >/dev/null
    sync
    log=$RESULTS/r$round.$mode.log tf=$RESULTS/r$round.$mode.time
    load=$(cut -d' ' -f1 /proc/loadavg)
    /usr/bin/time -v -o "$tf" "$BIN" --orders "$ORDERS" --trades "$TRADES" \
      --output "$SCRATCH/out" --workers "$WORKERS" --quiet "${flag[@]}" >"$log" 2>&1 ||
      die "run failed, see $log"
    ext=$(sed -n 's/^extraction: .* in \([0-9.]*\)s.*/\1/p' "$log")
    proc=$(sed -n 's/^processing: .* in \([0-9.]*\)s.*/\1/p' "$log")
    wall=$(tfield 'Elapsed (wall clock)' "$tf" | awk -F: '{print ($1*60)+$2}')
    rss=$(tfield 'Maximum resident set size' "$tf")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$mode" "$ext" "$proc" "$wall" "$rss" "$load" >>"$TSV"
    echo "round $round $mode: extraction ${ext}s, processing ${proc}s, wall ${wall}s, maxrss $((rss / 1024)) MiB, load $load" >&2
  done
done

PANDAS=${PANDAS:-$([ -x "$PY" ] && "$PY" -c 'import pandas, scipy' 2>/dev/null && echo 1 || echo 0)}
if [ "$PANDAS" = 1 ]; then
  echo "pandas peer over $SCRATCH/out with $WORKERS processes" >&2
  /usr/bin/time -v -o "$RESULTS/pandas.time" "$PY" "$REPO/benches/peers/sweep_pandas.py" \
    "$SCRATCH/out" --workers "$WORKERS" >"$RESULTS/pandas.log" 2>&1 || die "pandas failed, see $RESULTS/pandas.log"
  cat "$RESULTS/pandas.log" >&2
fi

python3 - "$TSV" "$BYTES" "$RESULTS" <<'EOF' | tee "$RESULTS/report.md"
import os, re, statistics as st, sys
tsv, nbytes, results = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rows = [l.rstrip("\n").split("\t") for l in open(tsv)][1:]
print(f"input {nbytes:,} bytes; medians of {len({r[0] for r in rows})} rounds\n")
print("| run | extraction s | MB/s | processing s | MB/s | processing / extraction speed (median of rounds) | wall s | peak RSS MiB |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for mode in ("durable", "no-fsync"):
    sel = [r for r in rows if r[1] == mode]
    e = st.median(float(r[2]) for r in sel); p = st.median(float(r[3]) for r in sel)
    w = st.median(float(r[4]) for r in sel); m = max(int(r[5]) for r in sel) / 1024
    ratio = st.median(float(r[2]) / float(r[3]) for r in sel)
    print(f"| ours, {mode} | {e:.2f} | {nbytes/e/1e6:.0f} | {p:.2f} | {nbytes/p/1e6:.0f} | {ratio:.2f}x | {w:.2f} | {m:.0f} |")
pandas_log = os.path.join(results, "pandas.log")
if os.path.exists(pandas_log):
    text = open(pandas_log).read()
    found = re.search(r"in ([0-9.]+) s", text)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(os.path.join(results, "pandas.time")).read())
    if found:
        s = float(found.group(1))
        print(f"| pandas + SciPy peer (processing only) | | | {s:.2f} | {nbytes/s/1e6:.0f} | | | {int(rss.group(1))/1024:.0f} (largest process) |")
print("\nper round:")
for r in rows:
    print(f"- round {r[0]} {r[1]}: extraction {r[2]} s, processing {r[3]} s, load {r[6]}")
EOF
purge_retired "$SCRATCH/retired"
echo "raw logs: $RESULTS (the last output is left in $SCRATCH/out)" >&2

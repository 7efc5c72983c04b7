#!/usr/bin/env bash
# End-to-end extraction benchmark: sweep-pipeline `extract` against cp, cp+sync,
# DuckDB and (optionally) Polars on the same input, in the same run.
#
#   bash benches/e2e/extract_bench.sh [DATA_DIR]        comparison (default mode)
#   bash benches/e2e/extract_bench.sh --rss SIZE...     peak RSS vs input size, e.g. --rss 1G 10G
#   bash benches/e2e/extract_bench.sh --profile [DATA_DIR]   perf profile of ours (--no-fsync)
#
# DATA_DIR holds orders.csv and trades.csv; when they are missing they are
# generated there with $GEN_ARGS. See benches/e2e/README.md for what each
# number means. Environment (all optional):
#   BIN      sweep-pipeline binary       [REPO/target/release/sweep-pipeline]
#   COMMIT   commit BIN was built from, for the record [HEAD when BIN is the default]
#   PY       Python with duckdb/polars   [/work/venv-duckdb/bin/python]
#   ROUNDS   rounds of the comparison    [3]
#   POLARS   1 = include Polars          [1 if PY imports polars]
#   SCRATCH  output folder, must be on the same file system as DATA_DIR
#            [DATA_DIR/../extract-bench-scratch]; outputs retired between runs
#            (retire_output.sh), all removed at the end; a run starts by
#            waiting until ext4 no longer counts the last removal's inodes
#            as recent (QUIET_SECONDS, see retire_output.sh)
#   RESULTS  where raw logs and the report go [a new /tmp/extract-bench.XXXXXX]
#   GEN_ARGS generator arguments         [--dates 5 --securities 200 --size 3G --seed 1]
#   STEADY_MEMORY 1 = stop this VM returning free memory to its host while
#            measuring (root; see steady_memory.sh) [0]
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
GEN_ARGS=${GEN_ARGS:---dates 5 --securities 200 --size 3G --seed 1}
PEER=$HERE/duckdb_partition.py

MODE=compare
case "${1:-}" in
  --rss) MODE=rss; shift ;;
  --profile) MODE=profile; shift ;;
  -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
esac

die() { echo "extract_bench: $*" >&2; exit 1; }
[ -x "$BIN" ] || die "no binary at $BIN (run: cargo build --release in $REPO)"
[ -x /usr/bin/time ] || die "/usr/bin/time (GNU time) is required"
command -v python3 >/dev/null || die "python3 is required for the report"

RESULTS=${RESULTS:-$(mktemp -d /tmp/extract-bench.XXXXXX)}
mkdir -p "$RESULTS"
TSV=$RESULTS/results.tsv
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

# --- machine and build ------------------------------------------------------
machine_info() { # $1 = a path on the disk under test
  {
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "host: $(uname -srm)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), nproc $(nproc)"
    echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
    echo "disk: $(df -T "$1" | awk 'NR==2 {print $1, $2, $3/1048576 " GiB total", $5/1048576 " GiB free"}')"
    echo "vm.dirty_ratio/background: $(cat /proc/sys/vm/dirty_ratio)/$(cat /proc/sys/vm/dirty_background_ratio)"
    if [ -n "${COMMIT:-}" ]; then echo "commit: $COMMIT (given by COMMIT)"
    elif [ "$BIN" = "$REPO/target/release/sweep-pipeline" ]; then
      echo "commit: $(git -C "$REPO" rev-parse HEAD)$(git -C "$REPO" diff --quiet HEAD -- src Cargo.toml Cargo.lock || echo ' + uncommitted changes in src/ (the binary may not be this commit)')"
    else echo "commit: unknown (BIN given without COMMIT)"; fi
    echo "binary: $BIN ($(date -u -r "$BIN" +%Y-%m-%dT%H:%M:%SZ))"
    echo "cp: $(cp --version | head -1)"
    echo "steady memory: ${STEADY_MEMORY:-0} (free page reporting order $(cat "$REPORTING_ORDER" 2>/dev/null || echo none) at the start)"
    if [ -x "$PY" ]; then
      echo "duckdb: $("$PY" -c 'import duckdb; print(duckdb.__version__)' 2>/dev/null || echo missing)"
      echo "polars: $("$PY" -c 'import polars; print(polars.__version__)' 2>/dev/null || echo missing)"
    fi
  } | tee "$RESULTS/machine.txt" >&2
}

# Run one measurement under /usr/bin/time -v into a fresh, empty $SCRATCH/out,
# after a sync so that no earlier run's dirty pages are charged to it.
# Appends: round tool wall_s maxrss_kb exit load1 load5 load15
measure() {
  local round=$1 tool=$2; shift 2
  retire_output "$SCRATCH/out" "$SCRATCH/retired"; mkdir -p "$SCRATCH/out"; sync
  warm
  local resident; resident=$(resident_pct)
  local load; load=$(cut -d' ' -f1-3 /proc/loadavg)
  local tf=$RESULTS/r$round.$tool.time of=$RESULTS/r$round.$tool.log
  local rc=0
  /usr/bin/time -v -o "$tf" "$@" >"$of" 2>&1 || rc=$?
  local wall rss user sys cpu majflt
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$tf")
  rss=$(tfield 'Maximum resident set size' "$tf")
  user=$(tfield 'User time' "$tf"); sys=$(tfield 'System time' "$tf")
  cpu=$(tfield 'Percent of CPU' "$tf"); majflt=$(tfield 'Major' "$tf")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$tool" "$wall" "$rss" "$rc" \
    "${load// /$'\t'}" "$user" "$sys" "${cpu%\%}" "$majflt" "$resident" >>"$TSV"
  log "round $round  $(printf '%-14s' "$tool") wall ${wall}s  cpu ${user}u+${sys}s (${cpu})  maxrss $((rss/1024)) MiB  majflt $majflt  input cached ${resident}%  load $load  exit $rc"
  [ "$rc" = 0 ] || { tail -5 "$of" >&2; die "$tool failed (exit $rc), see $of"; }
}

tfield() { awk -F': ' -v k="$1" 'index($1, k) {print $2; exit}' "$2"; }

# The input is read once before every run so that every tool starts from a
# warm page cache (some machines reclaim idle page cache proactively, e.g.
# DAMON; fincore shows how much of the input is resident when the run starts).
warm() { cat "$ORDERS" "$TRADES" >/dev/null; }
resident_pct() {
  command -v fincore >/dev/null || { echo NA; return; }
  fincore -b -n -o RES,SIZE "$ORDERS" "$TRADES" | awk '{r+=$1; s+=$2} END {printf "%.0f", s ? 100*r/s : 0}'
}

setup_data() {
  DATA=$(mkdir -p "$1" && cd "$1" && pwd)
  ORDERS=$DATA/orders.csv TRADES=$DATA/trades.csv
  if [ ! -s "$ORDERS" ] || [ ! -s "$TRADES" ]; then
    log "generating $GEN_ARGS into $DATA"
    # shellcheck disable=SC2086
    "$BIN" generate --output "$DATA" $GEN_ARGS --quiet
  fi
  SCRATCH=${SCRATCH:-$(dirname "$DATA")/extract-bench-scratch}
  mkdir -p "$SCRATCH"
  [ "$(stat -c %d "$DATA")" = "$(stat -c %d "$SCRATCH")" ] ||
    log "WARNING: $SCRATCH is not on the same file system as $DATA"
  INPUT_BYTES=$(( $(stat -L -c %s "$ORDERS") + $(stat -L -c %s "$TRADES") ))
  echo "input: orders $(stat -L -c %s "$ORDERS") B + trades $(stat -L -c %s "$TRADES") B = $INPUT_BYTES B" |
    tee "$RESULTS/input.txt" >&2
  # The extractor maps its input: its time depends on how much of it the
  # page cache holds in 2 MiB folios (folios.py), so that goes on record.
  warm
  python3 "$HERE/folios.py" "$ORDERS" "$TRADES" | sed 's/^/page cache: /' | tee -a "$RESULTS/input.txt" >&2
}

cleanup() {
  steady_memory_off
  [ -n "${SCRATCH:-}" ] || return 0
  [ -e "$SCRATCH/out" ] && mkdir -p "$SCRATCH/retired" && mv "$SCRATCH/out" "$SCRATCH/retired/last"
  purge_retired "$SCRATCH/retired"
  rm -rf "$SCRATCH"/rss-* 2>/dev/null
  rmdir "$SCRATCH" 2>/dev/null || true
}
trap cleanup EXIT

# Once, outside the timings: ours wrote every input row exactly once, and the
# peers made as many partitions.
check_ours() {
  local dir=$SCRATCH/out/x parts lo lt io it
  parts=$(find "$dir/partitions" -name orders.csv | wc -l)
  lo=$(find "$dir/partitions" -name orders.csv -print0 | xargs -0 cat | wc -l)
  lt=$(find "$dir/partitions" -name trades.csv -print0 | xargs -0 cat | wc -l)
  io=$(wc -l <"$ORDERS"); it=$(wc -l <"$TRADES")
  # every partition file repeats the header line once
  echo "check ours: $parts partitions; orders lines $lo = input $io - 1 + $parts: $([ $lo = $((io - 1 + parts)) ] && echo ok || echo MISMATCH);" \
       "trades lines $lt = input $it - 1 + $parts: $([ $lt = $((it - 1 + parts)) ] && echo ok || echo MISMATCH)" |
    tee -a "$RESULTS/checks.txt" >&2
  grep -h '^extraction:' "$RESULTS"/r1.ours_nofsync.log | tee -a "$RESULTS/checks.txt" >&2
}
check_peer() {
  local tool=$1
  echo "check $tool: $(find "$SCRATCH/out/x/orders" -mindepth 2 -maxdepth 2 -type d | wc -l) orders partitions," \
       "$(find "$SCRATCH/out/x/trades" -mindepth 2 -maxdepth 2 -type d | wc -l) trades partitions" |
    tee -a "$RESULTS/checks.txt" >&2
}

# --- mode: comparison -------------------------------------------------------
compare() {
  setup_data "${1:-/work/bench/data3g}"
  machine_info "$DATA"
  local have_duck=0 have_polars=0
  [ -x "$PY" ] && "$PY" -c 'import duckdb' 2>/dev/null && have_duck=1
  [ -x "$PY" ] && "$PY" -c 'import polars' 2>/dev/null && have_polars=1
  [ "${POLARS:-1}" = 1 ] || have_polars=0
  [ $have_duck = 1 ] || log "WARNING: no duckdb in $PY: DuckDB skipped (see README)"
  : >"$TSV"
  wait_for_quiet_inodes
  steady_memory_on
  for r in $(seq 1 "$ROUNDS"); do
    log "round $r"
    echo "round $r load at start: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$RESULTS/loads.txt"
    measure "$r" cp        cp "$ORDERS" "$TRADES" "$SCRATCH/out/"
    measure "$r" cp_sync   sh -c 'cp "$1" "$2" "$3" && sync' sh "$ORDERS" "$TRADES" "$SCRATCH/out/"
    measure "$r" ours_nofsync "$BIN" extract --orders "$ORDERS" --trades "$TRADES" --output "$SCRATCH/out/x" --no-fsync --quiet
    [ "$r" = 1 ] && check_ours
    measure "$r" ours      "$BIN" extract --orders "$ORDERS" --trades "$TRADES" --output "$SCRATCH/out/x" --quiet
    if [ $have_duck = 1 ]; then
      measure "$r" duckdb  "$PY" "$PEER" --engine duckdb --orders "$ORDERS" --trades "$TRADES" --output "$SCRATCH/out/x"
      [ "$r" = 1 ] && check_peer duckdb
    fi
    if [ $have_polars = 1 ]; then
      measure "$r" polars  "$PY" "$PEER" --engine polars --orders "$ORDERS" --trades "$TRADES" --output "$SCRATCH/out/x"
      [ "$r" = 1 ] && check_peer polars
    fi
    retire_output "$SCRATCH/out" "$SCRATCH/retired"
  done
  python3 - "$TSV" "$INPUT_BYTES" <<'EOF' | tee "$RESULTS/report.md"
import sys, statistics as st
from collections import defaultdict
tsv, nbytes = sys.argv[1], int(sys.argv[2])
rows = [l.rstrip("\n").split("\t") for l in open(tsv) if l.strip()]
wall = defaultdict(dict); rss = defaultdict(list); load = {}
cpu = defaultdict(list); res = defaultdict(list)
for r, tool, w, kb, rc, l1, l5, l15, us, sy, pct, mf, resident in rows:
    wall[tool][r] = float(w); rss[tool].append(int(kb) / 1024)
    cpu[tool].append(float(us) + float(sy)); res[tool].append(resident)
    load.setdefault(r, (l1, l5, l15))
rounds = sorted(wall["cp"], key=int)
names = {"cp": "cp (page cache only)", "cp_sync": "cp + sync", "ours_nofsync": "ours --no-fsync",
         "ours": "ours (durable, syncfs)", "duckdb": "DuckDB COPY PARTITION_BY", "polars": "Polars partition_by + write_csv"}
order = [t for t in names if t in wall]
def ratio(a, b):  # throughput of a relative to b, per round, median
    v = [wall[b][r] / wall[a][r] for r in rounds if r in wall[a] and r in wall[b]]
    return st.median(v) if v else None, v
fmt = lambda x: "-" if x is None else f"{x:.2f}"
print(f"Input: {nbytes} bytes ({nbytes/1e9:.2f} GB); {len(rounds)} rounds; MB = 10^6 bytes; medians over rounds.\n")
print("| tool | median wall s | MB/s | peak RSS MiB (median / max) | throughput vs cp | vs cp+sync | median CPU s (user+sys) |")
print("|---|---:|---:|---:|---:|---:|---:|")
for t in order:
    m = st.median(wall[t].values())
    print(f"| {names[t]} | {m:.2f} | {nbytes/m/1e6:.0f} | {st.median(rss[t]):.0f} / {max(rss[t]):.0f} "
          f"| {fmt(ratio(t,'cp')[0])}× | {fmt(ratio(t,'cp_sync')[0])}× | {st.median(cpu[t]):.1f} |")
print("\nPer round (wall s; load averages 1/5/15 min at the start of the round's first run):\n")
print("| round | load | " + " | ".join(order) + " |")
print("|---|---|" + "---:|" * len(order))
for r in rounds:
    print(f"| {r} | {' '.join(load[r])} | " + " | ".join(f"{wall[t].get(r, float('nan')):.2f}" for t in order) + " |")
print("\nInput resident in the page cache when each run started (%, by round): "
      + "; ".join(f"{t} {'/'.join(res[t])}" for t in order))
print("\nTargets (ratios of throughput taken within each round, then the median):\n")
def target(label, a, b, goal=None):
    m, v = ratio(a, b)
    if m is None: print(f"- {label}: not measured"); return
    verdict = "" if goal is None else f"; target ≥ {goal}×) — {'MET' if m >= goal else 'MISSED'}"
    print(f"- {label}: {m:.2f}× (rounds: {', '.join(f'{x:.2f}' for x in v)}" + (verdict or ")"))
target("ours --no-fsync vs cp", "ours_nofsync", "cp", 0.5)
if "duckdb" in wall: target("ours --no-fsync vs DuckDB", "ours_nofsync", "duckdb", 10)
if "polars" in wall: target("ours --no-fsync vs Polars (no target)", "ours_nofsync", "polars")
target("ours durable vs cp + sync", "ours", "cp_sync", 0.8)
EOF
  log "raw logs and report: $RESULTS"
}

# --- mode: peak RSS vs input size --------------------------------------------
rss_scaling() {
  [ $# -gt 0 ] || set -- 1G 10G
  local base=${DATA_BASE:-/work/bench}
  SCRATCH=${SCRATCH:-$base/extract-bench-scratch}
  mkdir -p "$SCRATCH"
  machine_info "$SCRATCH"
  : >"$TSV"
  wait_for_quiet_inodes
  steady_memory_on
  for size in "$@"; do
    local d=$SCRATCH/rss-$size
    rm -rf "$d"
    log "generating $size (--dates 5 --securities 200) into $d"
    "$BIN" generate --output "$d" --dates 5 --securities 200 --size "$size" --seed 1 --quiet
    ORDERS=$d/orders.csv TRADES=$d/trades.csv
    local bytes=$(( $(stat -L -c %s "$ORDERS") + $(stat -L -c %s "$TRADES") ))
    measure "$size" ours_nofsync "$BIN" extract --orders "$ORDERS" --trades "$TRADES" --output "$SCRATCH/out/x" --no-fsync --quiet
    sed -i "\$s/\$/\t$bytes/" "$TSV"
    retire_output "$SCRATCH/out" "$SCRATCH/retired"; rm -rf "$d"
  done
  python3 - "$TSV" <<'EOF' | tee "$RESULTS/report-rss.md"
import sys
print("| input | bytes | wall s | MB/s | peak RSS MiB | load at start |")
print("|---|---:|---:|---:|---:|---|")
for l in open(sys.argv[1]):
    size, tool, w, kb, rc, l1, l5, l15, us, sy, pct, mf, resident, b = l.rstrip("\n").split("\t")
    print(f"| {size} | {int(b)} | {float(w):.2f} | {int(b)/float(w)/1e6:.0f} | {int(kb)/1024:.0f} | {l1} {l5} {l15} |")
EOF
  log "raw logs and report: $RESULTS"
}

# --- mode: profile ----------------------------------------------------------
profile() {
  command -v perf >/dev/null || die "perf is not installed"
  setup_data "${1:-/work/bench/data3g}"
  machine_info "$DATA"
  wait_for_quiet_inodes
  steady_memory_on
  warm
  retire_output "$SCRATCH/out" "$SCRATCH/retired"; mkdir -p "$SCRATCH/out"; sync
  perf record -g -o "$RESULTS/perf.data" -- \
    "$BIN" extract --orders "$ORDERS" --trades "$TRADES" --output "$SCRATCH/out/x" --no-fsync --quiet
  # The release binary has no frame pointers, so -g call chains are mostly
  # noise; the flat self-time view (-g none) is what to read.
  perf report -i "$RESULTS/perf.data" --no-children --stdio >"$RESULTS/perf-report-callgraph.txt" 2>/dev/null
  perf report -i "$RESULTS/perf.data" --no-children --stdio -g none >"$RESULTS/perf-report.txt" 2>/dev/null
  grep -v '^#' "$RESULTS/perf-report.txt" | grep -v '^$' | head -60 || true
  echo "--- by shared object (program / kernel / libc):"
  perf report -i "$RESULTS/perf.data" --no-children --stdio -g none --sort dso 2>/dev/null >"$RESULTS/perf-dso.txt"
  grep -v '^#' "$RESULTS/perf-dso.txt" | grep -v '^$' | head -8 || true
  log "perf data and full report: $RESULTS"
}

case $MODE in
  compare) compare "$@" ;;
  rss) rss_scaling "$@" ;;
  profile) profile "$@" ;;
esac

#!/usr/bin/env bash
# A/B of extraction binaries: each round runs every binary once, in turn,
# on the same input, so that slow drifts of the machine hit them alike.
#
#   bash benches/e2e/ab_extract.sh ROUNDS durable|no-fsync BIN...
#
# Environment: DATA [/work/bench/data3g] (orders.csv and trades.csv),
# SCRATCH [DATA/../ab-extract-scratch], STEADY_MEMORY [0] (1: keep the
# guest's free memory backed by the host while measuring; root, see
# steady_memory.sh). Prints one line per run:
# binary, wall, user and system seconds, peak RSS. Outputs are retired by
# truncation and deleted at the end (see retire_output.sh); the run
# starts by waiting for quiet inodes. Take medians of several rounds.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=retire_output.sh
. "$HERE/retire_output.sh"
# shellcheck source=steady_memory.sh
. "$HERE/steady_memory.sh"
[ $# -ge 3 ] || { sed -n '2,13p' "$0"; exit 1; }
ROUNDS=$1 MODE=$2; shift 2
case $MODE in durable) flag=() ;; no-fsync) flag=(--no-fsync) ;; *) echo "mode: durable or no-fsync" >&2; exit 1 ;; esac
DATA=${DATA:-/work/bench/data3g}
SCRATCH=${SCRATCH:-$(dirname "$DATA")/ab-extract-scratch}
mkdir -p "$SCRATCH"
trap 'steady_memory_off; retire_output "$SCRATCH/out" "$SCRATCH/retired"; purge_retired "$SCRATCH/retired"' EXIT
wait_for_quiet_inodes
steady_memory_on
for _ in $(seq 1 "$ROUNDS"); do
  for bin in "$@"; do
    retire_output "$SCRATCH/out" "$SCRATCH/retired"
    cat "$DATA/orders.csv" "$DATA/trades.csv" >/dev/null
    sync
    /usr/bin/time -f "$bin %e wall %U user %S sys %M KB" "$bin" extract \
      --orders "$DATA/orders.csv" --trades "$DATA/trades.csv" \
      --output "$SCRATCH/out" --quiet "${flag[@]}" 2>&1 | tail -1
  done
done

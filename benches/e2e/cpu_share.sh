#!/usr/bin/env bash
# Runs a command and says how busy the whole machine was meanwhile, next
# to the command's own CPU time: is a run CPU-bound, and does anything
# else (write-back, reclaim) take the cores?
#
#   bash benches/e2e/cpu_share.sh COMMAND [ARG...]
#
# Prints the machine's busy, idle and steal core-seconds over the run
# (from /proc/stat) and the command's wall, user and system seconds
# (GNU time). The command's own output is discarded.
set -euo pipefail
[ $# -ge 1 ] || { sed -n '2,10p' "$0"; exit 1; }
times=$(mktemp)
trap 'rm -f "$times"' EXIT
read -r _ user0 nice0 sys0 idle0 iowait0 irq0 softirq0 steal0 _ </proc/stat
/usr/bin/time -f "%e wall %U user %S sys" -o "$times" "$@" >/dev/null 2>&1
read -r _ user1 nice1 sys1 idle1 iowait1 irq1 softirq1 steal1 _ </proc/stat
tick=$(getconf CLK_TCK)
busy=$(( (user1 + nice1 + sys1 + irq1 + softirq1) - (user0 + nice0 + sys0 + irq0 + softirq0) ))
idle=$(( (idle1 + iowait1) - (idle0 + iowait0) ))
steal=$(( steal1 - steal0 ))
python3 -c "import sys; b, i, s, t = map(int, sys.argv[1:5]); print(f'machine: busy {b / t:.2f} s, idle {i / t:.2f} s, steal {s / t:.2f} s (core-seconds); command: {sys.argv[5]}')" \
  "$busy" "$idle" "$steal" "$tick" "$(cat "$times")"

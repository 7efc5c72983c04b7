#!/usr/bin/env bash
# Sourced by the e2e harnesses: with STEADY_MEMORY=1 (root only), keep the
# guest's free memory backed by the host for the whole measurement.
#
# Why: this VM's balloon device reports free memory to its host (virtio
# free page reporting, blocks of 2 MiB and up), and the host takes it back.
# The next time the guest uses such a page, the host has to fault it in
# again, on the clock of whichever run touches it first. Every tool here
# writes its output into new page-cache pages, so its time swings with what
# the machine freed before: `cp` of the 3 GB set took 3.5-6.9 s in a row,
# and 0.74-0.78 s once reporting was off and the free memory had been
# touched once. A researcher's bare-metal machine has no such cost.
#
# `steady_memory_on` raises /sys/module/page_reporting/parameters/
# page_reporting_order above the largest page order (so no free block is
# reported any more), then writes one byte in every page of the free memory
# but 2 GiB, which has the host back nearly all of it. (With 512 MiB left,
# the kernel reclaimed page cache while the memory was touched: over an
# hour of runs the input's share in 2 MiB folios fell from 100 % to 25 %,
# with 2.8 million pages read back in, and extraction times with it.)
# `steady_memory_off`, run at exit, puts the order back. Without STEADY_MEMORY=1 both do nothing and
# the harness measures the machine as it is.

REPORTING_ORDER=/sys/module/page_reporting/parameters/page_reporting_order

steady_memory_on() {
  [ "${STEADY_MEMORY:-0}" = 1 ] || return 0
  [ -w "$REPORTING_ORDER" ] || {
    echo "steady_memory: $REPORTING_ORDER is not writable (not root, or no free page reporting): measuring as is" >&2
    return 0
  }
  SAVED_REPORTING_ORDER=$(cat "$REPORTING_ORDER")
  echo 11 >"$REPORTING_ORDER"
  echo "[$(date +%H:%M:%S)] steady memory: free page reporting off (order $SAVED_REPORTING_ORDER -> 11); touching the free memory once" >&2
  python3 - <<'PY'
free_kb = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemFree:"))
size = max(0, free_kb - 2048 * 1024) * 1024
block = bytearray(size)
page = 4096
for start in range(0, size, 1 << 26):
    end = min(size, start + (1 << 26))
    block[start:end:page] = b"\x01" * len(range(start, end, page))
PY
}

steady_memory_off() {
  [ -n "${SAVED_REPORTING_ORDER:-}" ] || return 0
  echo "$SAVED_REPORTING_ORDER" >"$REPORTING_ORDER"
  SAVED_REPORTING_ORDER=
}

#!/usr/bin/env bash
# Sourced by the e2e harnesses: retire a run's output without deleting it.
#
# Deleting thousands of files just before the next timed run makes that run
# pay for it: on this machine's ext4, allocating new inodes skips those freed
# in the last 30 s to 5 min (`recently_deleted`, 11 % of an extraction's
# profile when the harness did `rm -rf` before each run). A user's run into a
# fresh folder does not pay that, so the harnesses do not either: a finished
# output is synced, dropped from the page cache (so that old outputs do not
# crowd the input out of memory) and moved aside by a rename, which frees no
# inode. Retired outputs take disk space (a round of the extraction
# comparison retires about 18 GB for a 3 GB input), so `settle_retired`
# deletes them between rounds and then waits until ext4 no longer counts
# the freed inodes as recent (30 s once the inode tables are synced);
# `purge_retired` deletes what is left at the end.

# retire_output DIR TRASH: move DIR (if present) into TRASH.
retire_output() {
  local dir=$1 trash=$2
  [ -e "$dir" ] || return 0
  sync
  python3 - "$dir" <<'PY'
import os, sys
for root, _, files in os.walk(sys.argv[1]):
    for name in files:
        try:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
        except OSError:
            continue
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
PY
  mkdir -p "$trash"
  mv "$dir" "$trash/$(date +%s%N)"
}

# purge_retired TRASH: delete every retired output.
purge_retired() { rm -rf "$1"; }

# settle_retired TRASH: delete every retired output, sync, and wait
# SETTLE_SECONDS [35] so that the next run allocates inodes as on a quiet
# file system.
settle_retired() {
  [ -e "$1" ] || return 0
  rm -rf "$1"
  sync
  sleep "${SETTLE_SECONDS:-35}"
}

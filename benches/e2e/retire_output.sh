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
# inode; `purge_retired` deletes everything at the end, outside the timings.

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

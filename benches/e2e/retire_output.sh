#!/usr/bin/env bash
# Sourced by the e2e harnesses: retire a run's output without freeing an
# inode, and wait for the file system to be quiet before measuring.
#
# Why: this machine's ext4 has no journal, and without one ext4 avoids
# reusing an inode freed in the last 30 s, or 5.5 min when the inode's table
# block is dirty (fs/ext4/ialloc.c, `recently_deleted`). Every inode the next
# run allocates dirties such a block, so in practice the window is 5.5 min.
# When all free inodes of a block group are that recent, every new file or
# folder scans the whole group, one buffer lookup per free inode: creating
# 8,000 files and folders took 2.1-5.2 s within minutes of deleting as many
# (and got worse with every delete cycle; waiting 65 s did not help), and
# 0.17 s after 380 s of quiet. A partition run allocates about 3 inodes per
# partition to extract and 7 to process, so each measured run would be
# charged for the previous run's `rm -rf`. A researcher's run is not (with a
# journal, the default, ext4 skips the check), so the harnesses keep it out:
#
# - `retire_output` truncates every file of a finished output to zero bytes
#   (which frees its blocks and page-cache pages but not its inode) and moves
#   the folder aside by a rename;
# - `purge_retired` deletes the retired folders once the measuring is over
#   and stamps the time in $QUIET_STAMP;
# - `wait_for_quiet_inodes` (at a harness's start) waits until
#   QUIET_SECONDS [340] have passed since the last stamp.
#
# Deleting anything else (an old output, a test's scratch) within 5.5 min
# of a measured run has the same effect; the stamp only knows the harnesses'.

QUIET_STAMP=${QUIET_STAMP:-${TMPDIR:-/tmp}/sweep-bench-last-delete}

# retire_output DIR TRASH: empty every file under DIR (if present), then
# move DIR into TRASH.
retire_output() {
  local dir=$1 trash=$2
  [ -e "$dir" ] || return 0
  python3 - "$dir" <<'PY'
import os, sys
for root, _, files in os.walk(sys.argv[1]):
    for name in files:
        try:
            os.truncate(os.path.join(root, name), 0)
        except OSError:
            pass
PY
  mkdir -p "$trash"
  mv "$dir" "$trash/$(date +%s%N)"
  sync
}

# purge_retired TRASH: delete every retired output and note when.
purge_retired() {
  [ -e "$1" ] || return 0
  rm -rf "$1"
  sync
  date +%s >"$QUIET_STAMP"
}

# wait_for_quiet_inodes: sleep until QUIET_SECONDS have passed since the
# last purge_retired of any harness.
wait_for_quiet_inodes() {
  [ -f "$QUIET_STAMP" ] || return 0
  local quiet=${QUIET_SECONDS:-340} since
  since=$(( $(date +%s) - $(cat "$QUIET_STAMP") ))
  if [ "$since" -lt "$quiet" ]; then
    echo "[$(date +%H:%M:%S)] waiting $((quiet - since)) s: ext4 still counts inodes freed $since s ago as recent (retire_output.sh)" >&2
    sleep $((quiet - since))
  fi
}

#!/usr/bin/env python3
"""Runs a command and reports the peaks of its resident memory, split.

    python3 benches/e2e/rss_split.py COMMAND [ARG...]

Samples /proc/PID/status every 20 ms: VmRSS (what /usr/bin/time reports
as peak RSS), RssAnon (the process's own memory) and RssFile (mapped file
pages: for the extractor, the windows of the input mapped at the time).
Each is the peak of its own samples, so the three need not add up.
"""
import subprocess
import sys
import time

FIELDS = ("VmRSS", "RssAnon", "RssFile")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
    peaks = dict.fromkeys(FIELDS, 0)
    while child.poll() is None:
        try:
            with open(f"/proc/{child.pid}/status") as status:
                for line in status:
                    name, _, value = line.partition(":")
                    if name in peaks:
                        peaks[name] = max(peaks[name], int(value.split()[0]))
        except (FileNotFoundError, ProcessLookupError):
            pass
        time.sleep(0.02)
    print(", ".join(f"{name} {kb / 1024:.0f} MiB" for name, kb in peaks.items()),
          f"(exit {child.returncode})")
    sys.exit(child.returncode)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""How much of each file the page cache holds in 2 MiB folios.

    python3 benches/e2e/folios.py FILE...

Maps each file read-only, touches one byte every 2 MiB, and reads the
mapping's FilePmdMapped from /proc/self/smaps: the share of the file the
kernel mapped 2 MiB at a time, which it does only for 2 MiB folios. The
extractor maps its input the same way, so this is the input's page-cache
state that its time depends on (BENCHMARKS.md: about 10 % of the
extraction's wall time between 2 MiB and 512 KiB folios). Pages not yet
cached are read in by the touch, in whatever folios the kernel's
readahead chooses: warm the files first.
"""
import mmap
import os
import sys

STEP = 2 << 20


def pmd_mapped_share(path):
    size = os.path.getsize(path)
    if size == 0:
        return 0.0
    with open(path, "rb") as f:
        view = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
        try:
            for at in range(0, size, STEP):
                view[at]
            real = os.path.realpath(path)
            mapped_kb, inside = 0, False
            with open("/proc/self/smaps") as smaps:
                for line in smaps:
                    fields = line.split()
                    if "-" in fields[0] and len(fields) >= 5:
                        inside = len(fields) >= 6 and fields[5] == real
                    elif inside and fields[0] == "FilePmdMapped:":
                        mapped_kb += int(fields[1])
            return min(1.0, mapped_kb * 1024 / size)
        finally:
            view.close()


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for path in sys.argv[1:]:
        share = pmd_mapped_share(path)
        print(f"{path}: {100 * share:.1f} % in 2 MiB folios")

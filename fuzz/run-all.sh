#!/usr/bin/env bash
# Runs every fuzz target one after another (never in parallel: the machine's
# cores are shared) for SECONDS_PER_TARGET seconds each, one libFuzzer worker,
# with the committed seeds and the format dictionary. Stable toolchain:
# `--sanitizer none` (the default AddressSanitizer needs nightly `-Z` flags).
# Logs go to fuzz/logs/<target>.log; crashes to fuzz/artifacts/<target>/.
set -u
cd "$(dirname "$0")"
seconds="${SECONDS_PER_TARGET:-600}"
mkdir -p logs
for target in ${TARGETS:-row_parser header_mapping splitter router}; do
    mkdir -p "corpus/$target"
    cargo fuzz run --sanitizer none "$target" "corpus/$target" "seeds/$target" -- \
        -dict=dict/format.dict -max_len=8192 -workers=1 \
        -max_total_time="$seconds" -print_final_stats=1 \
        >"logs/$target.log" 2>&1
    echo "$target exit $?" >>logs/summary.txt
done

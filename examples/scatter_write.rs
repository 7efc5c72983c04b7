//! The floor under extraction's writing, without any parsing: every line of
//! a file is sent to one of N partition files (chosen by a hash of the
//! line, so that consecutive lines go to different files, as rows of
//! different securities do), either copied into per-partition buffers
//! written out at a given size, or written straight from the input with
//! `writev`, one segment per line. A copied buffer is written whole
//! (`copy`) or, as the extractor's writers do, up to the file's last
//! aligned boundary ([`aligned_write_len`]), the rest kept for the next
//! write (`aligned`). `mmap` copies each line once, straight into a
//! shared writable mapping of its file: a window of FLUSH_KIB at the
//! file's end, pre-faulted for writing (`MADV_POPULATE_WRITE`), the file
//! grown by `ftruncate` a window at a time and cut to its length at the
//! end (the one-copy alternative to a buffer plus `write`).
//!
//! ```text
//! cargo run --release --example scatter_write -- MODE INPUT OUT_DIR PARTITIONS FLUSH_KIB
//!   MODE      copy | aligned | writev | mmap
//!   OUT_DIR   an empty folder on the file system under test
//! ```
//!
//! It prints the time of the scatter alone (the input is read into memory
//! first); `/usr/bin/time` around it gives the CPU time. BENCHMARKS.md
//! quotes it for 1 GB into 1,000 files with 48 KiB flushes, and `copy`
//! against `aligned` for the page-cache cost of unaligned appends.

use std::fs::{File, OpenOptions};
use std::io::{self, IoSlice, Write};
use std::time::Instant;

use sweep_pipeline::extract::aligned_write_len;

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [mode, input, out_dir, partitions, flush_kib] = args.as_slice() else {
        eprintln!(
            "usage: scatter_write copy|aligned|writev|mmap INPUT OUT_DIR PARTITIONS FLUSH_KIB"
        );
        std::process::exit(2);
    };
    let number = |text: &str| {
        text.parse::<usize>()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{text}: {e}")))
    };
    let partitions = number(partitions)?.max(1);
    let flush_at = number(flush_kib)? << 10;
    let input = std::fs::read(input)?;
    let mut files = (0..partitions)
        .map(|p| {
            OpenOptions::new()
                .read(true) // a shared writable mapping needs both
                .write(true)
                .create_new(true)
                .open(format!("{out_dir}/{p}.csv"))
        })
        .collect::<io::Result<Vec<File>>>()?;
    let mut lines = Vec::new();
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', &input) {
        lines.push((
            partition_of(&input[start..=end], partitions),
            start..end + 1,
        ));
        start = end + 1;
    }

    let started = Instant::now();
    match mode.as_str() {
        "copy" | "aligned" => {
            let mut buffers: Vec<Vec<u8>> = (0..partitions)
                .map(|_| Vec::with_capacity(flush_at + 4096))
                .collect();
            let mut file_lens = vec![0usize; partitions];
            for (partition, line) in &lines {
                let buffer = &mut buffers[*partition];
                buffer.extend_from_slice(&input[line.clone()]);
                if buffer.len() >= flush_at {
                    let file_len = &mut file_lens[*partition];
                    let write_len = if mode == "aligned" {
                        aligned_write_len(*file_len as u64, buffer.len(), flush_at)
                    } else {
                        buffer.len()
                    };
                    files[*partition].write_all(&buffer[..write_len])?;
                    *file_len += write_len;
                    buffer.drain(..write_len);
                }
            }
            for (file, buffer) in files.iter_mut().zip(&buffers) {
                file.write_all(buffer)?;
            }
        }
        "writev" => {
            let mut pending: Vec<(Vec<std::ops::Range<usize>>, usize)> =
                (0..partitions).map(|_| (Vec::new(), 0)).collect();
            for (partition, line) in &lines {
                let (ranges, bytes) = &mut pending[*partition];
                *bytes += line.len();
                ranges.push(line.clone());
                if *bytes >= flush_at {
                    write_ranges(&mut files[*partition], &input, ranges)?;
                    *bytes = 0;
                }
            }
            for (file, (ranges, _)) in files.iter_mut().zip(&mut pending) {
                write_ranges(file, &input, ranges)?;
            }
        }
        "mmap" => {
            // Whole pages: a window must reach past the page it starts on.
            let window = flush_at.max(1).next_multiple_of(PAGE);
            let mut windows: Vec<MappedWindow> =
                (0..partitions).map(|_| MappedWindow::default()).collect();
            for (partition, line) in &lines {
                windows[*partition].append(&files[*partition], &input[line.clone()], window)?;
            }
            for (file, window) in files.iter().zip(&mut windows) {
                window.finish(file)?;
            }
        }
        other => {
            eprintln!("unknown mode {other:?}: copy, aligned, writev or mmap");
            std::process::exit(2);
        }
    }
    println!(
        "{mode}: {} lines into {partitions} files in {:.3} s",
        lines.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// FNV-1a of the line, reduced to a partition.
fn partition_of(line: &[u8], partitions: usize) -> usize {
    let hash = line.iter().fold(0xcbf2_9ce4_8422_2325_u64, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    (hash % partitions as u64) as usize
}

/// Writes `ranges` of `input` to `file` with `writev`, then empties them.
fn write_ranges(
    file: &mut File,
    input: &[u8],
    ranges: &mut Vec<std::ops::Range<usize>>,
) -> io::Result<()> {
    let mut slices: Vec<IoSlice<'_>> = ranges
        .iter()
        .map(|range| IoSlice::new(&input[range.clone()]))
        .collect();
    let mut rest = &mut slices[..];
    while !rest.is_empty() {
        let written = file.write_vectored(rest)?;
        if written == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        IoSlice::advance_slices(&mut rest, written);
    }
    ranges.clear();
    Ok(())
}

/// The page size the `mmap` mode assumes (x86-64, aarch64 by default).
const PAGE: usize = 4096;

/// The `mmap` mode's window of one file: where the file's bytes end, and
/// the mapping they are being copied into.
#[derive(Default)]
struct MappedWindow {
    /// Bytes of the file written so far.
    len: usize,
    /// The mapping of `[start, start + map.len())`, when one is open.
    map: Option<(usize, memmap2::MmapMut)>,
}

impl MappedWindow {
    /// Copies `line` to the file's end, mapping windows of `window`
    /// bytes (whole pages) as it goes.
    fn append(&mut self, file: &File, line: &[u8], window: usize) -> io::Result<()> {
        let mut rest = line;
        while !rest.is_empty() {
            let (start, map) = match &mut self.map {
                Some((start, map)) if self.len < *start + map.len() => (*start, map),
                _ => {
                    // A mapping's offset must be a whole number of
                    // pages: the window starts at the page that holds
                    // the file's end (where the last window ended).
                    let start = self.len - self.len % PAGE;
                    file.set_len((start + window) as u64)?;
                    // SAFETY: the file is this program's own, created new,
                    // and nothing else maps or truncates it meanwhile.
                    let map = unsafe {
                        memmap2::MmapOptions::new()
                            .offset(start as u64)
                            .len(window)
                            .map_mut(file)?
                    };
                    // A hint (a kernel without it faults the pages in on
                    // first write instead), so its result is not checked.
                    // SAFETY: advice on the mapping just made, whole; it
                    // only faults its pages in.
                    unsafe {
                        libc::madvise(map.as_ptr() as *mut _, window, libc::MADV_POPULATE_WRITE);
                    }
                    let (start, map) = self.map.insert((start, map));
                    (*start, map)
                }
            };
            let at = self.len - start;
            let take = rest.len().min(map.len() - at);
            map[at..at + take].copy_from_slice(&rest[..take]);
            self.len += take;
            rest = &rest[take..];
        }
        Ok(())
    }

    fn finish(&mut self, file: &File) -> io::Result<()> {
        self.map = None;
        file.set_len(self.len as u64)
    }
}

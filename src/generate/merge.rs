//! Interleaving the securities' rows into one time-ordered file.
//!
//! Owns the k-way merge of per-security [`RowBuffer`]s by merge key (time,
//! then security index) and the buffered output file the merged rows go to.
//! The rows arrive already formatted, so merging is only key comparisons and
//! byte copies; the file is written in large blocks.
//!
//! Two things keep the merge cheap, since it runs on one thread while the
//! simulations run on all the others:
//! - runs: once a security is at the top, all its rows that sort before the
//!   next security's head are copied at once (the trades of one sweep, quiet
//!   stretches of other securities);
//! - short copies: a row is copied as fixed 32-byte chunks rather than a
//!   `memcpy` of its exact length, which for 50-byte rows is mostly call
//!   overhead. Reading and writing a little past the row is safe because
//!   row buffers keep slack after their rows and the output block keeps
//!   slack at its end.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::rows::{RowBuffer, SLACK_AFTER_ROWS};
use super::simulate::MAX_SECURITIES;
use crate::error::{Error, Result};

/// Bytes of each write to the file but the last, so that every write
/// starts on a multiple of it: 2 MiB, the huge-page size. The kernel then
/// keeps the file in the page cache in 2 MiB folios, which the extractor
/// maps 2 MiB at a time (see `extract::source::map_range`), as it would
/// map input it read from disk itself; and system calls are rare. (Blocks
/// of 512 KiB, not aligned, left folios the extractor had to map 64 KiB
/// at a time: 2.01 s against 1.81 s to extract the 3 GB set.)
const WRITE_BLOCK: usize = 2 << 20;
/// Size of the chunks short rows are copied in.
const CHUNK: usize = 32;
/// Rows up to this long are copied in chunks; longer runs with one `memcpy`.
const SHORT_COPY: usize = 4 * CHUNK;
const _: () = assert!(
    CHUNK <= SLACK_AFTER_ROWS,
    "a chunk may overrun a row buffer"
);

/// A CSV file being written: a header, then merged rows, in large writes.
#[derive(Debug)]
pub struct CsvSink {
    path: PathBuf,
    file: File,
    /// The block being filled: `block[..filled]` is data, the rest slack
    /// (at least `SHORT_COPY` bytes while filling).
    block: Vec<u8>,
    filled: usize,
    /// Bytes handed to the file so far.
    written: u64,
    rows: u64,
}

impl CsvSink {
    /// Creates (or truncates) `path` and queues `header`.
    pub fn create(path: &Path, header: &[u8]) -> Result<CsvSink> {
        let file = File::create(path).map_err(|error| Error::io(path, "create", error))?;
        let mut sink = CsvSink {
            path: path.to_path_buf(),
            file,
            block: vec![0; WRITE_BLOCK + SHORT_COPY],
            filled: 0,
            written: 0,
            rows: 0,
        };
        sink.append(header)?;
        Ok(sink)
    }

    /// Bytes of the file so far, buffered ones included.
    pub fn bytes(&self) -> u64 {
        self.written + self.filled as u64
    }

    /// Data rows so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Appends the rows of every buffer in merge-key order. `buffers[i]`
    /// holds only rows of security `i`, in key order. `scratch` is kept by
    /// the caller so it is allocated once.
    pub fn append_merged(
        &mut self,
        buffers: &[&RowBuffer],
        scratch: &mut MergeScratch,
    ) -> Result<()> {
        debug_assert!(buffers.len() <= MAX_SECURITIES as usize);
        let security_mask = u64::from(MAX_SECURITIES - 1);
        let heap = &mut scratch.heap;
        heap.clear();
        heap.extend(buffers.iter().filter_map(|buffer| buffer.keys.first()));
        // A sorted array is a valid binary min-heap.
        heap.sort_unstable();
        scratch.next_row.clear();
        scratch.next_row.resize(buffers.len(), 0);

        // The heap holds the key of the next row of each security that has
        // rows left; keys embed the security index, so the smallest key says
        // which buffer to copy from, and keys of different securities are
        // never equal.
        while let Some(&top) = heap.first() {
            let security = (top & security_mask) as usize;
            let buffer = buffers[security];
            let runner_up = match (heap.get(1), heap.get(2)) {
                (Some(&left), Some(&right)) => left.min(right),
                (Some(&left), None) => left,
                _ => u64::MAX,
            };
            let first = scratch.next_row[security];
            let mut end_row = first + 1;
            while end_row < buffer.rows() && buffer.keys[end_row] < runner_up {
                end_row += 1;
            }
            let start = if first == 0 {
                0
            } else {
                buffer.ends[first - 1] as usize
            };
            self.append_from(
                buffer.bytes_with_slack(),
                start,
                buffer.ends[end_row - 1] as usize,
            )?;
            scratch.next_row[security] = end_row;
            if end_row < buffer.rows() {
                heap[0] = buffer.keys[end_row];
                // Touch the security's next row now: with many securities
                // the hardware cannot guess which buffer comes next, and a
                // load issued here completes while other securities' rows
                // are copied, instead of stalling the copy of this one.
                let next = buffer.ends[end_row - 1] as usize;
                let source = buffer.bytes_with_slack();
                std::hint::black_box((source[next], source[next + SLACK_AFTER_ROWS - 1]));
            } else {
                heap.swap_remove(0);
            }
            sift_down(heap);
        }
        self.rows += buffers
            .iter()
            .map(|buffer| buffer.rows() as u64)
            .sum::<u64>();
        Ok(())
    }

    /// Appends `source[start..end]`; `source` extends at least `CHUNK` bytes
    /// past `end`.
    fn append_from(&mut self, source: &[u8], start: usize, end: usize) -> Result<()> {
        let length = end - start;
        if length <= SHORT_COPY {
            // `filled < WRITE_BLOCK` here, so the slack holds `SHORT_COPY`
            // bytes, and the slack after the rows makes every source chunk readable.
            let mut offset = 0;
            while offset < length {
                let from = start + offset;
                let to = self.filled + offset;
                self.block[to..to + CHUNK].copy_from_slice(&source[from..from + CHUNK]);
                offset += CHUNK;
            }
            self.filled += length;
            if self.filled >= WRITE_BLOCK {
                self.write_block()?;
            }
            Ok(())
        } else {
            self.append(&source[start..end])
        }
    }

    /// Appends `bytes` of any length.
    fn append(&mut self, mut bytes: &[u8]) -> Result<()> {
        while !bytes.is_empty() {
            let room = WRITE_BLOCK - self.filled;
            let taken = room.min(bytes.len());
            self.block[self.filled..self.filled + taken].copy_from_slice(&bytes[..taken]);
            self.filled += taken;
            bytes = &bytes[taken..];
            if self.filled >= WRITE_BLOCK {
                self.write_block()?;
            }
        }
        Ok(())
    }

    /// Writes a full block, exactly [`WRITE_BLOCK`] bytes, and moves what
    /// the last copy put past it (less than `SHORT_COPY` bytes) to the
    /// front.
    fn write_block(&mut self) -> Result<()> {
        self.write(WRITE_BLOCK)?;
        self.block
            .copy_within(WRITE_BLOCK..WRITE_BLOCK + self.filled, 0);
        Ok(())
    }

    /// Writes the first `len` bytes of the block (at most `filled`).
    fn write(&mut self, len: usize) -> Result<()> {
        self.file
            .write_all(&self.block[..len])
            .map_err(|error| Error::io(&self.path, "write", error))?;
        self.written += len as u64;
        self.filled -= len;
        Ok(())
    }

    /// Writes what is buffered and closes the file. Returns its size.
    pub fn finish(mut self) -> Result<u64> {
        self.write(self.filled)?;
        self.file
            .flush()
            .map_err(|error| Error::io(&self.path, "write", error))?;
        Ok(self.written)
    }
}

/// Restores the min-heap order after the root changed.
fn sift_down(heap: &mut [u64]) {
    let mut parent = 0;
    loop {
        let left = 2 * parent + 1;
        if left >= heap.len() {
            return;
        }
        let right = left + 1;
        let child = if right < heap.len() && heap[right] < heap[left] {
            right
        } else {
            left
        };
        if heap[child] >= heap[parent] {
            return;
        }
        heap.swap(parent, child);
        parent = child;
    }
}

/// Scratch space of [`CsvSink::append_merged`].
#[derive(Debug, Default)]
pub struct MergeScratch {
    heap: Vec<u64>,
    next_row: Vec<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::simulate::merge_key;

    fn buffer(rows: &[(u64, u32, &str)]) -> RowBuffer {
        let mut buffer = RowBuffer::default();
        for &(time, security, text) in rows {
            buffer.push_text(text.as_bytes(), merge_key(time, security));
        }
        buffer
    }

    #[test]
    fn merges_by_time_then_security_and_keeps_runs_in_order() {
        let long = "x".repeat(300);
        let first = buffer(&[(1, 0, "a1"), (5, 0, "a5"), (5, 0, "a5b"), (9, 0, &long)]);
        let second = buffer(&[(1, 2, "b1"), (2, 2, "b2"), (3, 2, "b3"), (9, 2, "b9")]);
        let empty = buffer(&[]);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        let mut sink = CsvSink::create(&path, b"h\n").unwrap();
        let mut scratch = MergeScratch::default();
        sink.append_merged(&[&first, &empty, &second], &mut scratch)
            .unwrap();
        assert_eq!(sink.rows(), 8);
        sink.finish().unwrap();
        let written = std::fs::read_to_string(&path).unwrap();
        assert_eq!(written, format!("h\na1\nb1\nb2\nb3\na5\na5b\n{long}\nb9\n"));
    }

    #[test]
    fn blocks_are_written_whole_whatever_the_row_sizes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        let mut sink = CsvSink::create(&path, b"").unwrap();
        let mut scratch = MergeScratch::default();
        let mut expected = String::new();
        let mut rows = Vec::new();
        for index in 0..200_000u64 {
            let text = format!("row{index}{}", "y".repeat((index % 97) as usize));
            expected.push_str(&text);
            expected.push('\n');
            rows.push((index, 0, text));
        }
        let rows: Vec<(u64, u32, &str)> =
            rows.iter().map(|(t, s, x)| (*t, *s, x.as_str())).collect();
        sink.append_merged(&[&buffer(&rows)], &mut scratch).unwrap();
        assert_eq!(sink.bytes(), expected.len() as u64);
        sink.finish().unwrap();
        assert!(std::fs::read_to_string(&path).unwrap() == expected);
    }
}

//! Interleaving the securities' rows into one time-ordered file.
//!
//! Owns the k-way merge of per-security [`RowBuffer`]s by merge key (time,
//! then security index) and the buffered output file the merged rows go to.
//! The rows arrive already formatted, so merging is only key comparisons and
//! byte copies; the file is written in large blocks.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::collections::binary_heap::PeekMut;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::rows::RowBuffer;
use super::simulate::MAX_SECURITIES;
use crate::error::{Error, Result};

/// Bytes gathered before each write to the file.
const WRITE_BLOCK: usize = 4 << 20;

/// A CSV file being written: a header, then merged rows, in large writes.
#[derive(Debug)]
pub struct CsvSink {
    path: PathBuf,
    file: File,
    pending: Vec<u8>,
    /// Bytes handed to the file so far.
    written: u64,
    rows: u64,
}

impl CsvSink {
    /// Creates (or truncates) `path` and queues `header`.
    pub fn create(path: &Path, header: &[u8]) -> Result<CsvSink> {
        let file = File::create(path).map_err(|error| Error::io(path, "create", error))?;
        let mut pending = Vec::with_capacity(WRITE_BLOCK + (64 << 10));
        pending.extend_from_slice(header);
        Ok(CsvSink {
            path: path.to_path_buf(),
            file,
            pending,
            written: 0,
            rows: 0,
        })
    }

    /// Bytes of the file so far, buffered ones included.
    pub fn bytes(&self) -> u64 {
        self.written + self.pending.len() as u64
    }

    /// Data rows so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Appends the rows of every buffer in merge-key order. `buffers[i]`
    /// holds only rows of security `i`, already in key order. `heap` is
    /// scratch space kept by the caller so it is allocated once.
    pub fn append_merged<'a>(
        &mut self,
        buffers: impl Fn(usize) -> &'a RowBuffer,
        securities: usize,
        heap: &mut MergeScratch,
    ) -> Result<()> {
        debug_assert!(securities <= MAX_SECURITIES as usize);
        let security_mask = u64::from(MAX_SECURITIES - 1);
        heap.heads.clear();
        heap.next_row.clear();
        heap.next_row.resize(securities, 0);
        for security in 0..securities {
            if let Some(&key) = buffers(security).keys.first() {
                heap.heads.push(Reverse(key));
            }
        }
        // The heap holds the key of the next row of each security that has
        // rows left; keys embed the security index, so the smallest key says
        // which buffer to copy from.
        while let Some(mut head) = heap.heads.peek_mut() {
            let security = (head.0 & security_mask) as usize;
            let buffer = buffers(security);
            let row = heap.next_row[security];
            let start = if row == 0 {
                0
            } else {
                buffer.ends[row - 1] as usize
            };
            self.pending
                .extend_from_slice(&buffer.bytes[start..buffer.ends[row] as usize]);
            heap.next_row[security] = row + 1;
            if row + 1 < buffer.rows() {
                *head = Reverse(buffer.keys[row + 1]);
            } else {
                PeekMut::pop(head);
            }
            if self.pending.len() >= WRITE_BLOCK {
                self.write_pending()?;
            }
        }
        self.rows += (0..securities)
            .map(|security| buffers(security).rows() as u64)
            .sum::<u64>();
        Ok(())
    }

    fn write_pending(&mut self) -> Result<()> {
        self.file
            .write_all(&self.pending)
            .map_err(|error| Error::io(&self.path, "write", error))?;
        self.written += self.pending.len() as u64;
        self.pending.clear();
        Ok(())
    }

    /// Writes what is buffered and closes the file. Returns its size.
    pub fn finish(mut self) -> Result<u64> {
        self.write_pending()?;
        self.file
            .flush()
            .map_err(|error| Error::io(&self.path, "write", error))?;
        Ok(self.written)
    }
}

/// Scratch space of [`CsvSink::append_merged`].
#[derive(Debug, Default)]
pub struct MergeScratch {
    heads: BinaryHeap<Reverse<u64>>,
    next_row: Vec<usize>,
}

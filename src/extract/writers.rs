//! The writer side of extraction: routed chunks, applied in sequence order,
//! into buffered per-partition files.
//!
//! Four things keep this bounded whatever the input:
//!
//! - **Order**: chunks arrive in any order from the workers and wait in a
//!   small reorder buffer until their turn ([`SequenceReorder`]); routed
//!   chunks come from a bounded pool, so that buffer is bounded too.
//! - **Memory**: rows wait in a per-partition buffer, flushed when it reaches
//!   its share of the budget (the budget over the partitions seen so far,
//!   at most [`PARTITION_FLUSH_BYTES`]) or when all buffers together pass
//!   the budget; a buffer is allocated at that size when it starts filling
//!   (growing it by doubling copied every byte once more) and gives its
//!   memory back when written out whole (one that keeps a tail, below, is
//!   reused).
//! - **Page-cache cost**: a buffer that fills writes only up to a
//!   boundary of the file aligned to a power of two and keeps the rest for
//!   the next write ([`aligned_write_len`]), so the file is written in
//!   aligned runs that the kernel can put in large page-cache folios.
//! - **Open files**: at most `max_open` partition files are open; the least
//!   recently used is closed to make room, and a partition reopened later is
//!   opened in append mode, never truncated. Files are created fresh in a
//!   staging folder, so appending never meets a stale file.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::format::RejectReason;
use crate::partition::PartitionKey;

use super::route::{PartitionRows, RoutedChunk};

/// A partition's buffer is written out once it holds this much (or less:
/// its share of the budget).
pub const PARTITION_FLUSH_BYTES: usize = 128 << 10;

/// A durable run starts write-back of a partition file each time this many
/// bytes have been written to it (see
/// [`PartitionWriters::with_early_writeback`]). What is below it in every
/// file is what the final sync still waits for (about 0.2 s at the end of
/// a 3 GB run into 1,000 partitions with 256 KiB and no earlier start);
/// a smaller step cuts that wait but sends the disk smaller writes, each
/// with the kernel's cost of submitting and completing it, on the cores
/// the extraction needs. Measured on the 3 GB set with the file system
/// and memory quiet (`benches/e2e/retire_output.sh`, `steady_memory.sh`),
/// 8 alternating durable rounds: 256 KiB 3.10 s median against 3.29 s for
/// 16 KiB (faster in 7 of 8, system CPU 2.1 against 2.8 s), 3.26 s for
/// 64 KiB, 3.18 s for 1 MiB, 3.73 s without early write-back. (16 KiB had
/// looked best in runs that also paid for recently freed inodes.)
pub const WRITEBACK_START_BYTES: usize = 256 << 10;

/// Default bound on the bytes waiting in all partition buffers together.
pub const DEFAULT_BUFFER_BUDGET: usize = 48 << 20;

/// Holds routed chunks until every earlier one has been applied.
pub struct SequenceReorder<T> {
    next: u64,
    waiting: BTreeMap<u64, T>,
}

impl<T> Default for SequenceReorder<T> {
    fn default() -> Self {
        SequenceReorder {
            next: 0,
            waiting: BTreeMap::new(),
        }
    }
}

impl<T> SequenceReorder<T> {
    /// Accepts item `seq` and returns, in order, every item now ready.
    pub fn accept(&mut self, seq: u64, item: T) -> impl Iterator<Item = T> + '_ {
        self.waiting.insert(seq, item);
        std::iter::from_fn(move || {
            let item = self.waiting.remove(&self.next)?;
            self.next += 1;
            Some(item)
        })
    }

    /// True when nothing is waiting for an earlier item.
    pub fn is_drained(&self) -> bool {
        self.waiting.is_empty()
    }
}

struct PartitionState {
    dir: PathBuf,
    pending: Vec<u8>,
    rows: u64,
    created: bool,
    /// Bytes of the file so far, counting its header from the start (it
    /// goes out with the first rows).
    file_len: u64,
    /// Bytes written since write-back of the file was last started.
    not_yet_written_back: usize,
}

/// Open partition files, least recently used closed first.
struct OpenFiles {
    max_open: usize,
    tick: u64,
    files: HashMap<usize, (File, u64)>,
}

impl OpenFiles {
    fn get(&mut self, partition: usize, path: &Path, create: bool) -> Result<&mut File> {
        self.tick += 1;
        let tick = self.tick;
        if !self.files.contains_key(&partition) {
            if self.files.len() >= self.max_open {
                let oldest = self
                    .files
                    .iter()
                    .min_by_key(|(_, (_, used))| *used)
                    .map(|(&id, _)| id);
                if let Some(oldest) = oldest {
                    self.files.remove(&oldest);
                }
            }
            let file = if create {
                OpenOptions::new().write(true).create_new(true).open(path)
            } else {
                OpenOptions::new().append(true).open(path)
            }
            .map_err(|e| Error::io(path, if create { "create" } else { "open" }, e))?;
            self.files.insert(partition, (file, tick));
        }
        let entry = self.files.get_mut(&partition).expect("inserted just above");
        entry.1 = tick;
        Ok(&mut entry.0)
    }
}

/// Buffered writers for one file kind (`orders.csv` or `trades.csv`) of
/// every partition.
pub struct PartitionWriters {
    root: PathBuf,
    file_name: &'static str,
    header: Vec<u8>,
    index: HashMap<PartitionKey, usize>,
    states: Vec<PartitionState>,
    keys: Vec<PartitionKey>,
    open: OpenFiles,
    pending_total: usize,
    budget: usize,
    early_writeback: bool,
}

impl PartitionWriters {
    /// Writers under `root` (the staging `partitions` folder) for files named
    /// `file_name`, each starting with `header`.
    pub fn new(
        root: PathBuf,
        file_name: &'static str,
        header: Vec<u8>,
        max_open: usize,
        budget: usize,
    ) -> PartitionWriters {
        PartitionWriters {
            root,
            file_name,
            header,
            index: HashMap::new(),
            states: Vec::new(),
            keys: Vec::new(),
            open: OpenFiles {
                max_open: max_open.max(1),
                tick: 0,
                files: HashMap::new(),
            },
            pending_total: 0,
            budget,
            early_writeback: false,
        }
    }

    /// Starts write-back of a file's dirty pages each time another
    /// [`WRITEBACK_START_BYTES`] have been written to it, without waiting
    /// for it. For a durable run: the disk then writes while the CPU is
    /// still parsing, and the final sync waits only for the tail, instead
    /// of writing the whole output after extraction is otherwise done.
    pub fn with_early_writeback(mut self, early: bool) -> PartitionWriters {
        self.early_writeback = early;
        self
    }

    /// Appends one chunk's rows of one partition.
    pub fn append(&mut self, rows: &PartitionRows<'_>) -> Result<()> {
        let id = match self.index.get(&rows.key) {
            Some(&id) => id,
            None => {
                let id = self.states.len();
                let dir = rows.key.dir(&self.root_parent());
                self.states.push(PartitionState {
                    dir,
                    pending: Vec::new(),
                    rows: 0,
                    created: false,
                    file_len: self.header.len() as u64,
                    not_yet_written_back: 0,
                });
                self.keys.push(rows.key);
                self.index.insert(rows.key, id);
                id
            }
        };
        let flush_at = (self.budget / self.states.len()).clamp(16 << 10, PARTITION_FLUSH_BYTES);
        let state = &mut self.states[id];
        state.rows += rows.rows;
        if state.pending.is_empty() && rows.bytes.len() >= flush_at {
            let run = rows.bytes;
            // Large enough to write as it is: skip the copy, but for the
            // part past the last aligned boundary, which waits in the
            // buffer like any other rows.
            let write_len = aligned_write_len(state.file_len, run.len(), flush_at);
            self.write_out(id, &run[..write_len])?;
            let tail = &run[write_len..];
            if !tail.is_empty() {
                let state = &mut self.states[id];
                state.pending.reserve_exact(flush_at);
                state.pending.extend_from_slice(tail);
                self.pending_total += tail.len();
            }
            return Ok(());
        }
        // Rows that would overflow the buffer go after a flush, not into a
        // reallocation that copies everything once more.
        let incoming = rows.bytes.len();
        if !state.pending.is_empty() && state.pending.len() + incoming > state.pending.capacity() {
            self.flush_partition_aligned(id, flush_at)?;
        }
        let state = &mut self.states[id];
        if state.pending.capacity() == 0 {
            state.pending.reserve_exact(flush_at.max(incoming));
        }
        state.pending.extend_from_slice(rows.bytes);
        self.pending_total += incoming;
        if state.pending.len() >= flush_at {
            self.flush_partition_aligned(id, flush_at)?;
        }
        if self.pending_total > self.budget {
            self.flush_all()?;
        }
        Ok(())
    }

    /// `root` is `<staging>/partitions`; keys build paths from the folder
    /// above it.
    fn root_parent(&self) -> PathBuf {
        self.root
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }

    /// Writes a full buffer up to the file's last aligned boundary
    /// ([`aligned_write_len`]) and moves the rest to the buffer's front.
    fn flush_partition_aligned(&mut self, id: usize, flush_at: usize) -> Result<()> {
        let state = &mut self.states[id];
        let write_len = aligned_write_len(state.file_len, state.pending.len(), flush_at);
        if write_len == state.pending.len() {
            return self.flush_partition(id);
        }
        let pending = std::mem::take(&mut state.pending);
        let written = self.write_out(id, &pending[..write_len]);
        let state = &mut self.states[id];
        state.pending = pending;
        state.pending.drain(..write_len);
        self.pending_total -= write_len;
        written
    }

    /// Writes the whole buffer and gives its memory back.
    fn flush_partition(&mut self, id: usize) -> Result<()> {
        let pending = std::mem::take(&mut self.states[id].pending);
        self.pending_total -= pending.len();
        self.write_out(id, &pending)
    }

    fn write_out(&mut self, id: usize, bytes: &[u8]) -> Result<()> {
        let state = &mut self.states[id];
        let path = state.dir.join(self.file_name);
        let create = !state.created;
        if create {
            std::fs::create_dir_all(&state.dir)
                .map_err(|e| Error::io(&state.dir, "create folder", e))?;
        }
        let file = self.open.get(id, &path, create)?;
        if create {
            file.write_all(&self.header)
                .map_err(|e| Error::io(&path, "write", e))?;
        }
        file.write_all(bytes)
            .map_err(|e| Error::io(&path, "write", e))?;
        let state = &mut self.states[id];
        state.file_len += bytes.len() as u64;
        state.created = true;
        state.not_yet_written_back += bytes.len();
        if self.early_writeback && state.not_yet_written_back >= WRITEBACK_START_BYTES {
            state.not_yet_written_back = 0;
            start_writeback(file);
        }
        Ok(())
    }

    /// Writes every buffer out.
    pub fn flush_all(&mut self) -> Result<()> {
        for id in 0..self.states.len() {
            if !self.states[id].pending.is_empty() {
                self.flush_partition(id)?;
            }
        }
        Ok(())
    }

    /// Flushes, closes every file and returns each partition with its row
    /// count.
    pub fn finish(mut self) -> Result<Vec<(PartitionKey, u64)>> {
        self.flush_all()?;
        self.open.files.clear();
        Ok(self
            .keys
            .iter()
            .zip(&self.states)
            .map(|(key, state)| (*key, state.rows))
            .collect())
    }
}

/// How many of `pending` bytes, appended to a file of `file_len` bytes, to
/// write now so that the write ends on a boundary of the file aligned to
/// the largest power of two at most half of `flush_at`; all of them when
/// no such boundary falls within.
///
/// The kernel puts a write into page-cache folios (groups of pages it
/// allocates, locks and accounts as one) as large as both the write and the
/// file offset's alignment allow. Appends of whatever size the buffer had
/// reached start at offsets aligned to nothing, and got single pages;
/// aligned runs get folios of 16 KiB and more. On ext4 that cut the kernel's
/// time per byte written by a quarter (3 GB into 1,000 files in 48 KiB
/// writes: 1.27 CPU-s of system time unaligned, 0.96 aligned to 16 KiB;
/// 0.80 for 64 KiB writes aligned to 64 KiB). Keeping the tail costs a
/// copy of less than half a buffer, within the cache.
pub fn aligned_write_len(file_len: u64, pending: usize, flush_at: usize) -> usize {
    let align = 1u64 << (flush_at / 2).max(1).ilog2();
    let end = file_len + pending as u64;
    let aligned_end = end - end % align;
    if aligned_end <= file_len {
        pending
    } else {
        (aligned_end - file_len) as usize
    }
}

/// Asks the kernel to start writing `file`'s dirty pages to disk and
/// returns without waiting. Only a hint: durability still comes from the
/// sync at the end of extraction, so a failure here changes nothing and is
/// not reported (the final sync reports write-back errors).
#[cfg(target_os = "linux")]
fn start_writeback(file: &File) {
    use std::os::fd::AsRawFd;
    // SAFETY: sync_file_range only reads the descriptor, which `file` keeps
    // open for the duration of the call; offset 0 and length 0 mean the
    // whole file.
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
    }
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_file: &File) {}

/// `rejected/{orders,trades}_rejected.csv`: `line_number,reason,raw_line`.
pub struct RejectedWriter {
    path: PathBuf,
    out: BufWriter<File>,
    count: u64,
}

impl RejectedWriter {
    /// Creates the file with its header line.
    pub fn create(path: PathBuf) -> Result<RejectedWriter> {
        let file = File::create(&path).map_err(|e| Error::io(&path, "create", e))?;
        let mut out = BufWriter::with_capacity(256 << 10, file);
        out.write_all(b"line_number,reason,raw_line\n")
            .map_err(|e| Error::io(&path, "write", e))?;
        Ok(RejectedWriter {
            path,
            out,
            count: 0,
        })
    }

    /// Appends one rejected line.
    pub fn write(&mut self, line_number: u64, reason: RejectReason, raw: &[u8]) -> Result<()> {
        let reason = reason.to_string();
        let mut record = Vec::with_capacity(raw.len() + reason.len() + 32);
        record.extend_from_slice(line_number.to_string().as_bytes());
        record.push(b',');
        write_csv_field(&mut record, reason.as_bytes());
        record.push(b',');
        write_csv_field(&mut record, raw);
        record.push(b'\n');
        self.out
            .write_all(&record)
            .map_err(|e| Error::io(&self.path, "write", e))?;
        self.count += 1;
        Ok(())
    }

    /// Flushes the file.
    pub fn finish(mut self) -> Result<u64> {
        self.out
            .flush()
            .map_err(|e| Error::io(&self.path, "write", e))?;
        Ok(self.count)
    }
}

/// RFC 4180 quoting: a field with a comma, quote or line break is wrapped
/// in quotes with its quotes doubled.
fn write_csv_field(out: &mut Vec<u8>, field: &[u8]) {
    if !field
        .iter()
        .any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r'))
    {
        out.extend_from_slice(field);
        return;
    }
    out.push(b'"');
    for &b in field {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// Writes a routed chunk's rejected lines (the chunk is already in sequence
/// order; its first line is file line `line_base`), or, with `strict_path`,
/// turns the first of them into the error that stops the run.
pub fn apply_rejected(
    routed: &RoutedChunk,
    line_base: u64,
    rejected: &mut RejectedWriter,
    strict_path: Option<&Path>,
) -> Result<()> {
    for line in &routed.rejected {
        let line_number = line_base + line.line_in_chunk;
        if let Some(path) = strict_path {
            return Err(Error::bad_row(path, line_number, line.reason));
        }
        rejected.write(line_number, line.reason, &line.raw)?;
    }
    Ok(())
}

/// Appends the rows of part `part` of a routed chunk (already in sequence
/// order; see [`RoutedChunk::part`]) to the writers. Returns the number of
/// rows appended.
pub fn apply_part(
    routed: &RoutedChunk,
    part: usize,
    writers: &mut PartitionWriters,
) -> Result<u64> {
    let mut rows = 0;
    for group in routed.part(part) {
        rows += group.rows;
        writers.append(&group)?;
    }
    Ok(rows)
}

/// The writer shard that owns a partition. Any fixed function of the key
/// gives the same files: all of a partition's rows go through one shard,
/// which applies chunks in sequence order. A hash spreads the partitions
/// evenly.
pub fn shard_of(key: &PartitionKey, shards: usize) -> usize {
    use std::hash::{BuildHasher, BuildHasherDefault};
    let hash = BuildHasherDefault::<rustc_hash::FxHasher>::default().hash_one(key);
    // The high bits of an Fx hash are the well-mixed ones.
    ((hash >> 32) as usize) % shards.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reorder_releases_in_sequence() {
        let mut reorder = SequenceReorder::default();
        assert_eq!(
            reorder.accept(2, 'c').collect::<Vec<_>>(),
            Vec::<char>::new()
        );
        assert_eq!(reorder.accept(0, 'a').collect::<Vec<_>>(), vec!['a']);
        assert_eq!(reorder.accept(1, 'b').collect::<Vec<_>>(), vec!['b', 'c']);
        assert!(reorder.is_drained());
    }

    #[test]
    fn full_buffers_are_written_up_to_an_aligned_boundary() {
        // A 48 KiB buffer aligns to 16 KiB: a file holding a 100-byte
        // header and 49,200 more bytes ends past 49,152 = 3 × 16 KiB, so
        // 49,052 bytes go now and 148 wait.
        assert_eq!(aligned_write_len(100, 49_200, 48 << 10), 49_052);
        // Already aligned: a whole number of 16 KiB blocks goes.
        assert_eq!(aligned_write_len(16_384, 40_000, 48 << 10), 32_768);
        // No boundary within: everything goes.
        assert_eq!(aligned_write_len(16_384, 100, 48 << 10), 100);
        assert_eq!(aligned_write_len(16_385, 16_382, 48 << 10), 16_382);
        // A power-of-two buffer aligns to its half: 128 KiB to 64 KiB.
        assert_eq!(aligned_write_len(10, 140_000, 128 << 10), 131_062);
        // Degenerate sizes write everything.
        assert_eq!(aligned_write_len(7, 5, 1), 5);
        assert_eq!(aligned_write_len(7, 5, 0), 5);
    }

    #[test]
    fn aligned_flushes_keep_every_byte_in_order() {
        // Three partitions with 32 KiB buffers (aligned to 16 KiB), fed
        // runs of every size from one row to several buffers, some as one
        // slice large enough to skip the buffer: each file must hold its
        // header and its rows, in order, whatever was kept back when.
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join(crate::partition::PARTITIONS_DIR);
        let mut writers =
            PartitionWriters::new(root, "orders.csv", b"header\n".to_vec(), 2, 3 * (32 << 10));
        let date = crate::format::values::parse_date(b"20230201").expect("date");
        let keys: Vec<_> = [&b"600000"[..], b"600001", b"600002"]
            .iter()
            .map(|code| PartitionKey::new(date, code).expect("key"))
            .collect();
        let mut expected = vec![b"header\n".to_vec(); keys.len()];
        let mut random = crate::test_support::xorshift(0x2545_f491_4f6c_dd1d);
        for round in 0..400u64 {
            let state = random();
            let partition = (state % 3) as usize;
            let rows = 1 + state % if round % 50 == 0 { 2_000 } else { 40 };
            let mut chunk = Vec::new();
            for row in 0..rows {
                chunk.extend_from_slice(format!("{round},{row},{state}\n").as_bytes());
            }
            expected[partition].extend_from_slice(&chunk);
            let run = PartitionRows {
                key: keys[partition],
                bytes: &chunk,
                rows,
            };
            writers.append(&run).expect("append");
        }
        let counts = writers.finish().expect("finish");
        assert_eq!(counts.len(), keys.len());
        for (key, expected) in keys.iter().zip(&expected) {
            let written = std::fs::read(key.dir(dir.path()).join("orders.csv")).expect("read");
            assert!(written == *expected, "partition {key:?} differs");
        }
    }

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        let mut out = Vec::new();
        write_csv_field(&mut out, b"plain");
        out.push(b'|');
        write_csv_field(&mut out, b"a,\"b\"");
        assert_eq!(out, b"plain|\"a,\"\"b\"\"\"");
    }
}

//! The writer side of extraction: routed chunks, applied in sequence order,
//! into buffered per-partition files.
//!
//! Four things keep this bounded whatever the input:
//!
//! - **Order**: chunks arrive in any order from the workers and wait in a
//!   small reorder buffer until their turn ([`SequenceReorder`]); routed
//!   chunks come from a bounded pool, so that buffer is bounded too.
//! - **Memory**: rows are not copied here; each partition holds the ranges
//!   of the routed chunks its rows are in, and writes them once they reach
//!   [`PARTITION_FLUSH_BYTES`]. A routed chunk goes back to its pool once no
//!   partition holds rows of it, and at most a set number of them are held
//!   ([`PartitionWriters`]), so the memory is that of a bounded number of
//!   routed chunks.
//! - **Page-cache cost**: a partition writes only up to a boundary of the
//!   file aligned to a power of two and holds the rest for the next write
//!   ([`aligned_write_len`]), so the file is written in aligned runs that
//!   the kernel can put in large page-cache folios.
//! - **Open files**: at most `max_open` partition files are open; the least
//!   recently used is closed to make room, and a partition reopened later is
//!   opened in append mode, never truncated. Files are created fresh in a
//!   staging folder, so appending never meets a stale file.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, IoSlice, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::format::RejectReason;
use crate::partition::PartitionKey;

use super::route::RoutedChunk;

/// A partition's rows are written once it holds this much, up to a
/// boundary aligned to half of it (64 KiB: the kernel's cost per byte
/// written fell by a third from 16 KiB-aligned writes to 64 KiB-aligned
/// ones in a throwaway test of 3 GB into 1,000 files). Less is written
/// when the routed chunks held run out (`PartitionWriters`).
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

/// Default bound on the bytes of the routed chunks the writer shards hold
/// rows of, split between them (see `held_sources_for`): 18 chunks of
/// the 3 GB set's 2.6 MB per shard. With fewer, partitions written before
/// they reach the flush size make the writes smaller. 3 GB set, 6
/// alternating rounds, median wall time (peak RSS): 64 MiB 1.58 s
/// (192 MiB), 96 MiB 1.57 s (223 MiB), 128 MiB 1.51 s (256 MiB); the
/// copy into partition buffers this replaced, 1.62–1.69 s (186–197 MiB).
/// 128 MiB would leave too little room under the 300 MiB we allow.
pub const DEFAULT_BUFFER_BUDGET: usize = 96 << 20;

/// How many routed chunks of about `chunk_bytes` a writer shard may hold
/// rows of within `budget` bytes: at least one, at most 64.
pub fn held_sources_for(budget: usize, chunk_bytes: usize) -> usize {
    (budget / chunk_bytes.max(1)).clamp(1, 64)
}

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

/// One chunk's rows of one partition, left where the router put them (in
/// a routed chunk, `source`) until they are written.
pub struct HeldRows<S> {
    /// The partition.
    pub key: PartitionKey,
    /// How many rows `range` holds.
    pub rows: u64,
    /// What the rows are in, shared with the other writer shards.
    pub source: Arc<S>,
    /// The source's sequence number: a writer receives sources in
    /// increasing order.
    pub seq: u64,
    /// Where the rows are in `source`, each ending in a line terminator.
    pub range: Range<usize>,
}

/// Rows held for a partition: a range of a source.
struct Segment<S> {
    source: Arc<S>,
    seq: u64,
    range: Range<usize>,
}

struct PartitionState<S> {
    dir: PathBuf,
    /// Rows not yet written, in order.
    held: Vec<Segment<S>>,
    /// Bytes in `held`.
    held_len: usize,
    rows: u64,
    created: bool,
    /// Bytes of the file so far, counting its header from the start (it
    /// goes out with the first rows).
    file_len: u64,
    /// Bytes written since write-back of the file was last started.
    not_yet_written_back: usize,
}

/// A source that partitions may still hold rows of.
struct HeldSource {
    seq: u64,
    /// Segments of it held, by all partitions.
    segments: usize,
    /// The partitions that took rows from it (some may have written them
    /// since).
    partitions: Vec<usize>,
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

/// Writers for one file kind (`orders.csv` or `trades.csv`) of every
/// partition, holding rows in the routed chunks they came in (`S`) until
/// a partition has enough to write.
///
/// A partition's rows are written once they reach the flush size,
/// [`PARTITION_FLUSH_BYTES`], up to an aligned boundary
/// ([`aligned_write_len`]), by one `writev` over the ranges of the routed
/// chunks they are in. Nothing is copied on the way: the kernel copies
/// the rows into the page cache straight from the routed chunks. (Copying
/// each chunk's rows into a buffer per partition first cost about 5 % of
/// extraction's CPU time, and the buffers, 48 MiB, were written cold.)
///
/// What is held is bounded by routed chunks, not bytes: a routed chunk
/// stays out of the pool as long as any partition holds rows of it, so at
/// most `max_held_sources` are held. When one more would be, every
/// partition holding rows of the oldest writes them (up to an aligned
/// boundary past them when the rows held allow), and the oldest returns
/// to the pool.
pub struct PartitionWriters<S> {
    root: PathBuf,
    file_name: &'static str,
    header: Vec<u8>,
    index: HashMap<PartitionKey, usize>,
    states: Vec<PartitionState<S>>,
    keys: Vec<PartitionKey>,
    open: OpenFiles,
    early_writeback: bool,
    /// Sources held, oldest first (some perhaps no longer).
    sources: VecDeque<HeldSource>,
    /// Entries of `sources` with segments held.
    held_sources: usize,
    max_held_sources: usize,
}

impl<S: AsRef<[u8]>> PartitionWriters<S> {
    /// Writers under `root` (the staging `partitions` folder) for files named
    /// `file_name`, each starting with `header`, holding rows of at most
    /// `max_held_sources` sources (at least one).
    pub fn new(
        root: PathBuf,
        file_name: &'static str,
        header: Vec<u8>,
        max_open: usize,
        max_held_sources: usize,
    ) -> PartitionWriters<S> {
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
            early_writeback: false,
            sources: VecDeque::new(),
            held_sources: 0,
            max_held_sources: max_held_sources.max(1),
        }
    }

    /// Starts write-back of a file's dirty pages each time another
    /// [`WRITEBACK_START_BYTES`] have been written to it, without waiting
    /// for it. For a durable run: the disk then writes while the CPU is
    /// still parsing, and the final sync waits only for the tail, instead
    /// of writing the whole output after extraction is otherwise done.
    pub fn with_early_writeback(mut self, early: bool) -> PartitionWriters<S> {
        self.early_writeback = early;
        self
    }

    /// Takes one chunk's rows of one partition; writes what is due.
    pub fn append(&mut self, rows: HeldRows<S>) -> Result<()> {
        let id = match self.index.get(&rows.key) {
            Some(&id) => id,
            None => {
                let id = self.states.len();
                let dir = rows.key.dir(&self.root_parent());
                self.states.push(PartitionState {
                    dir,
                    held: Vec::new(),
                    held_len: 0,
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
        self.states[id].rows += rows.rows;
        if rows.range.is_empty() {
            return Ok(());
        }
        match self.sources.back_mut() {
            Some(last) if last.seq == rows.seq => {
                // Its earlier partitions may have written all they held
                // of it already.
                if last.segments == 0 {
                    self.held_sources += 1;
                }
                last.segments += 1;
                last.partitions.push(id);
            }
            last => {
                debug_assert!(last.is_none_or(|last| last.seq < rows.seq));
                self.sources.push_back(HeldSource {
                    seq: rows.seq,
                    segments: 1,
                    partitions: vec![id],
                });
                self.held_sources += 1;
            }
        }
        let state = &mut self.states[id];
        state.held_len += rows.range.len();
        state.held.push(Segment {
            source: rows.source,
            seq: rows.seq,
            range: rows.range,
        });
        if state.held_len >= PARTITION_FLUSH_BYTES {
            let len = aligned_write_len(state.file_len, state.held_len, PARTITION_FLUSH_BYTES);
            self.write_held(id, len)?;
        }
        while self.held_sources > self.max_held_sources {
            self.release_oldest()?;
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

    /// Writes every row held from the oldest source held, so that it can
    /// go back to the pool. A partition writes on to the next aligned
    /// boundary when it holds rows that far, and all it holds otherwise.
    fn release_oldest(&mut self) -> Result<()> {
        self.drop_released_sources();
        let Some(oldest) = self.sources.front_mut() else {
            return Ok(());
        };
        let seq = oldest.seq;
        let partitions = std::mem::take(&mut oldest.partitions);
        let align = write_alignment(PARTITION_FLUSH_BYTES);
        for id in partitions {
            let state = &self.states[id];
            let from_oldest: usize = (state.held.iter())
                .take_while(|segment| segment.seq <= seq)
                .map(|segment| segment.range.len())
                .sum();
            if from_oldest == 0 {
                continue;
            }
            let boundary = (state.file_len + from_oldest as u64).next_multiple_of(align);
            let len = if boundary <= state.file_len + state.held_len as u64 {
                (boundary - state.file_len) as usize
            } else {
                state.held_len
            };
            self.write_held(id, len)?;
        }
        debug_assert!(
            self.sources
                .front()
                .is_none_or(|front| front.seq != seq || front.segments == 0)
        );
        self.drop_released_sources();
        Ok(())
    }

    /// Forgets the oldest sources while no segment of them is held.
    fn drop_released_sources(&mut self) {
        while self
            .sources
            .front()
            .is_some_and(|front| front.segments == 0)
        {
            self.sources.pop_front();
        }
    }

    /// Writes the first `len` bytes partition `id` holds and lets go of
    /// the segments they fill.
    fn write_held(&mut self, id: usize, len: usize) -> Result<()> {
        let held = std::mem::take(&mut self.states[id].held);
        let mut slices = Vec::with_capacity(held.len());
        let mut left = len;
        for segment in &held {
            if left == 0 {
                break;
            }
            let bytes = &(*segment.source).as_ref()[segment.range.clone()];
            let take = left.min(bytes.len());
            slices.push(IoSlice::new(&bytes[..take]));
            left -= take;
        }
        // On an error the run stops, and the rows held go with it.
        self.write_out(id, &mut slices, len)?;
        drop(slices);
        let mut held = held;
        let mut left = len;
        let mut whole = 0;
        for segment in held.iter_mut() {
            if left == 0 {
                break;
            }
            if segment.range.len() <= left {
                left -= segment.range.len();
                whole += 1;
            } else {
                segment.range.start += left;
                left = 0;
            }
        }
        for segment in held.drain(..whole) {
            self.release_segment(segment.seq);
        }
        let state = &mut self.states[id];
        state.held = held;
        state.held_len -= len;
        Ok(())
    }

    /// Notes that a segment of source `seq` is no longer held.
    fn release_segment(&mut self, seq: u64) {
        let Ok(at) = self.sources.binary_search_by_key(&seq, |source| source.seq) else {
            debug_assert!(false, "a held segment's source is listed");
            return;
        };
        let source = &mut self.sources[at];
        source.segments -= 1;
        if source.segments == 0 {
            source.partitions = Vec::new();
            self.held_sources -= 1;
        }
    }

    /// Appends `slices` (`len` bytes) to partition `id`'s file, created
    /// with its header by the first write.
    fn write_out(&mut self, id: usize, slices: &mut [IoSlice<'_>], len: usize) -> Result<()> {
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
        write_all_vectored(file, slices).map_err(|e| Error::io(&path, "write", e))?;
        let state = &mut self.states[id];
        state.file_len += len as u64;
        state.created = true;
        state.not_yet_written_back += len;
        if self.early_writeback && state.not_yet_written_back >= WRITEBACK_START_BYTES {
            state.not_yet_written_back = 0;
            start_writeback(file);
        }
        Ok(())
    }

    /// Writes every partition's rows out.
    pub fn flush_all(&mut self) -> Result<()> {
        for id in 0..self.states.len() {
            let held = self.states[id].held_len;
            if held > 0 {
                self.write_held(id, held)?;
            }
        }
        self.drop_released_sources();
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

/// `write_all` for a list of slices: `writev` until all is written.
fn write_all_vectored(file: &mut File, mut slices: &mut [IoSlice<'_>]) -> std::io::Result<()> {
    while !slices.is_empty() {
        match file.write_vectored(slices) {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(written) => IoSlice::advance_slices(&mut slices, written),
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
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
/// 0.80 for 64 KiB writes aligned to 64 KiB). The rows past the boundary
/// are held for the next write.
pub fn aligned_write_len(file_len: u64, pending: usize, flush_at: usize) -> usize {
    let align = write_alignment(flush_at);
    let end = file_len + pending as u64;
    let aligned_end = end - end % align;
    if aligned_end <= file_len {
        pending
    } else {
        (aligned_end - file_len) as usize
    }
}

/// The boundaries writes end on ([`aligned_write_len`]): the largest power
/// of two at most half of `flush_at` (1 for less than 4).
fn write_alignment(flush_at: usize) -> u64 {
    1u64 << (flush_at / 2).max(1).ilog2()
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

/// Hands the rows of part `part` of a routed chunk (already in sequence
/// order; see [`RoutedChunk::part_ranges`]) to the writers, which hold them in
/// `source`, the chunk as shared by the writer shards (its bytes are the
/// routed chunk's). Returns the number of rows.
pub fn apply_part<S: AsRef<[u8]>>(
    routed: &RoutedChunk,
    source: &Arc<S>,
    part: usize,
    writers: &mut PartitionWriters<S>,
) -> Result<u64> {
    debug_assert!(std::ptr::eq((**source).as_ref(), routed.bytes()));
    let mut rows = 0;
    for (key, count, range) in routed.part_ranges(part) {
        rows += count;
        writers.append(HeldRows {
            key,
            rows: count,
            source: Arc::clone(source),
            seq: routed.seq,
            range,
        })?;
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
    fn held_rows_are_written_whole_and_in_order_within_the_held_bound() {
        // Five partitions, two open files, rows held in at most three
        // sources. Each source (a routed chunk) has rows of several
        // partitions, in runs of every size from one row to more than the
        // flush size: each file must end with its header and its rows, in
        // order, whatever was held back when, and no more than three
        // sources may ever be held.
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join(crate::partition::PARTITIONS_DIR);
        let max_held = 3;
        let mut writers: PartitionWriters<Vec<u8>> =
            PartitionWriters::new(root, "orders.csv", b"header\n".to_vec(), 2, max_held);
        let date = crate::format::values::parse_date(b"20230201").expect("date");
        let keys: Vec<_> = (0..5)
            .map(|code| PartitionKey::new(date, format!("60000{code}").as_bytes()).expect("key"))
            .collect();
        let mut expected = vec![b"header\n".to_vec(); keys.len()];
        let mut random = crate::test_support::xorshift(0x2545_f491_4f6c_dd1d);
        let mut sources = Vec::new();
        for seq in 0..300u64 {
            let mut bytes = Vec::new();
            let mut groups = Vec::new();
            for (partition, expected) in expected.iter_mut().enumerate() {
                let state = random();
                if state.is_multiple_of(3) {
                    continue;
                }
                let rows = 1 + state % if seq % 40 == 0 { 8_000 } else { 300 };
                let start = bytes.len();
                for row in 0..rows {
                    bytes.extend_from_slice(format!("{seq},{row},{state}\n").as_bytes());
                }
                expected.extend_from_slice(&bytes[start..]);
                groups.push((partition, rows, start..bytes.len()));
            }
            let source = Arc::new(bytes);
            for (partition, rows, range) in groups {
                writers
                    .append(HeldRows {
                        key: keys[partition],
                        rows,
                        source: Arc::clone(&source),
                        seq,
                        range,
                    })
                    .expect("append");
            }
            sources.push(source);
            let held = sources
                .iter()
                .filter(|source| Arc::strong_count(source) > 1)
                .count();
            assert!(held <= max_held, "{held} sources held after source {seq}");
        }
        let counts = writers.finish().expect("finish");
        assert_eq!(counts.len(), keys.len());
        assert!(sources.iter().all(|source| Arc::strong_count(source) == 1));
        for (key, expected) in keys.iter().zip(&expected) {
            let written = std::fs::read(key.dir(dir.path()).join("orders.csv")).expect("read");
            assert!(written == *expected, "partition {key:?} differs");
        }
    }

    #[test]
    fn releasing_the_oldest_source_writes_to_an_aligned_boundary() {
        // One source may be held. A partition holds 50,000 bytes of source
        // 0, then 50,000 of source 1: source 0 must be released, so the
        // partition writes past its rows, to the file's first 64 KiB
        // boundary (header included), and holds the rest.
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join(crate::partition::PARTITIONS_DIR);
        let mut writers: PartitionWriters<Vec<u8>> =
            PartitionWriters::new(root, "orders.csv", b"header\n".to_vec(), 2, 1);
        let date = crate::format::values::parse_date(b"20230201").expect("date");
        let key = PartitionKey::new(date, b"600000").expect("key");
        let path = key.dir(dir.path()).join("orders.csv");
        let row = b"0123456789\n";
        let rows = 50_000 / row.len();
        let mut expected = b"header\n".to_vec();
        let mut sources = Vec::new();
        for seq in 0..2u64 {
            let source = Arc::new(row.repeat(rows));
            expected.extend_from_slice(&source);
            writers
                .append(HeldRows {
                    key,
                    rows: rows as u64,
                    source: Arc::clone(&source),
                    seq,
                    range: 0..source.len(),
                })
                .expect("append");
            sources.push(source);
        }
        let written = std::fs::metadata(&path).expect("written").len();
        assert_eq!(written, 64 << 10, "the release writes to the boundary");
        assert_eq!(Arc::strong_count(&sources[0]), 1, "source 0 is released");
        assert_eq!(Arc::strong_count(&sources[1]), 2, "source 1 is held");
        writers.finish().expect("finish");
        assert!(std::fs::read(&path).expect("read") == expected);
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

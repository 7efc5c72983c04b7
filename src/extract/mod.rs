//! Phase 1, extraction: both input files streamed once into
//! `partitions/{date}/{security_code}/{orders,trades}.csv`, bad rows into
//! `rejected/`.
//!
//! The pipeline for one file is three stages joined by bounded channels:
//!
//! ```text
//! source (this thread)      workers (pinned)               writer shards (one thread each)
//! mmap window → chunks ──▶ validate, copy rows out   ──▶ reorder by seq → partition files
//!                          grouped by partition
//! ```
//!
//! Writing is split into shards by partition (`writers::shard_of`): every
//! shard sees every routed chunk, in sequence order, and writes only the
//! partitions it owns, which the worker put together as the chunk's part
//! for that shard. The kernel's write path costs about as much CPU as
//! validating the rows, so a single writer thread was the pipeline's
//! bottleneck; with one shard per worker both cores stay busy. Since each
//! partition has one writer that applies chunks in order, the files do not
//! depend on the number of shards. A chunk's window of the input is
//! released as soon as the chunk is routed, since the rows are copied out.
//!
//! Everything is written into a staging folder (`.extract.partial/`) that
//! becomes `partitions/` and `rejected/` only after both files are done and,
//! unless `--no-fsync`, synced to disk. An interrupted extraction therefore
//! leaves only the staging folder, which the next run deletes; it never
//! leaves a `partitions/` folder that looks finished. (The registry records
//! the phase as finished only after the rename, so even a crash between the
//! renames is redone.)
//!
//! This module does not decide whether the output folder may be used; the
//! caller (the run, with its registry) does.

mod route;
mod source;
mod writers;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::bounded;

use crate::error::{Error, Result};
use crate::format::{FileKind, Layout};
use crate::partition::{PARTITIONS_DIR, PartitionKey, REJECTED_DIR};
use crate::progress::Progress;

pub use route::{PartitionRows, RejectedLine, RoutedChunk, RowRouter};
pub use source::{Chunk, DEFAULT_WINDOW_BYTES, OpenedInput, ReadStrategy};
pub use writers::{
    DEFAULT_BUFFER_BUDGET, PARTITION_FLUSH_BYTES, SequenceReorder, aligned_write_len,
};

/// Name of the staging folder inside the output folder.
pub const STAGING_DIR: &str = ".extract.partial";

/// At most this many writer threads per input file: past a few, the kernel's
/// write path, not the writers' copying, is what limits.
const MAX_WRITER_SHARDS: usize = 4;

/// How to extract. Build it with [`ExtractConfig::new`] and adjust fields.
#[derive(Clone, Debug)]
pub struct ExtractConfig {
    /// The orders input.
    pub orders: PathBuf,
    /// The trades input.
    pub trades: PathBuf,
    /// The output folder (created if missing).
    pub output: PathBuf,
    /// Parsing threads.
    pub workers: usize,
    /// Rows per unit of work (turned into bytes from the average row length
    /// of the first rows of each file).
    pub chunk_rows: usize,
    /// Stop at the first rejected row.
    pub strict: bool,
    /// Make the partition files durable before finishing.
    pub fsync: bool,
    /// Map or read the input.
    pub read_strategy: ReadStrategy,
    /// Pin workers to cores when the machine allows it.
    pub pin_threads: bool,
    /// Cap on open partition files; default derived from `RLIMIT_NOFILE`.
    pub max_open_files: Option<usize>,
    /// Bytes mapped (or read) at a time.
    pub window_bytes: usize,
    /// Bytes of routed chunks the writers may hold rows of, waiting to be
    /// written (split between the writer shards).
    pub buffer_budget: usize,
    /// Bytes processed, for a progress display.
    pub progress: Option<Arc<Progress>>,
}

impl ExtractConfig {
    /// A configuration with the library defaults for everything but the
    /// paths.
    pub fn new(orders: PathBuf, trades: PathBuf, output: PathBuf) -> ExtractConfig {
        let defaults = crate::system::Defaults::detect();
        ExtractConfig {
            orders,
            trades,
            output,
            workers: defaults.workers,
            chunk_rows: defaults.chunk_rows,
            strict: false,
            fsync: true,
            read_strategy: ReadStrategy::Auto,
            pin_threads: true,
            max_open_files: None,
            window_bytes: DEFAULT_WINDOW_BYTES,
            buffer_budget: DEFAULT_BUFFER_BUDGET,
            progress: None,
        }
    }
}

/// What extraction did with one input file.
#[derive(Clone, Debug, Default)]
pub struct FileSummary {
    /// The input.
    pub path: PathBuf,
    /// Bytes of input.
    pub bytes: u64,
    /// Lines after the header, blank and rejected included.
    pub lines: u64,
    /// Rows written to partitions.
    pub rows: u64,
    /// Rows written to the rejected file.
    pub rejected: u64,
    /// Partitions that received rows of this file.
    pub partitions: usize,
    /// True when the input was memory-mapped.
    pub mapped: bool,
    /// Time spent on this file.
    pub elapsed: Duration,
}

/// What extraction did.
#[derive(Clone, Debug, Default)]
pub struct ExtractSummary {
    /// The orders file.
    pub orders: FileSummary,
    /// The trades file.
    pub trades: FileSummary,
    /// Every partition, sorted by date then code.
    pub partitions: Vec<PartitionKey>,
    /// Wall time of the whole phase, sync included.
    pub elapsed: Duration,
    /// True when the output was synced to disk.
    pub synced: bool,
}

impl ExtractSummary {
    /// Input bytes per second over the whole phase.
    pub fn bytes_per_second(&self) -> f64 {
        (self.orders.bytes + self.trades.bytes) as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Both headers, checked before anything is written.
struct OpenedPair {
    orders: (OpenedInput, Layout),
    trades: (OpenedInput, Layout),
}

fn open_with_layout(
    path: &Path,
    kind: FileKind,
    strategy: ReadStrategy,
) -> Result<(OpenedInput, Layout)> {
    let input = OpenedInput::open(path, strategy)?;
    let layout = Layout::from_header(kind, &input.header_line, path)?;
    Ok((input, layout))
}

/// Checks that both inputs open and have headers with every required column,
/// without writing anything: what a run does before it creates its output.
/// A pipe or FIFO is only checked to exist: reading its header here would
/// consume it (extraction still checks the header before writing any
/// partition).
pub fn check_inputs(config: &ExtractConfig) -> Result<()> {
    for (path, kind) in [
        (&config.orders, FileKind::Orders),
        (&config.trades, FileKind::Trades),
    ] {
        let metadata = fs::metadata(path).map_err(|e| Error::io(path, "open", e))?;
        if metadata.is_file() {
            open_with_layout(path, kind, config.read_strategy)?;
        }
    }
    Ok(())
}

/// Runs extraction. Removes a stale staging folder and any previous
/// `partitions/` and `rejected/` of the output folder.
pub fn extract(config: &ExtractConfig) -> Result<ExtractSummary> {
    let started = Instant::now();
    // Headers first: a header error must leave nothing behind.
    let pair = OpenedPair {
        orders: open_with_layout(&config.orders, FileKind::Orders, config.read_strategy)?,
        trades: open_with_layout(&config.trades, FileKind::Trades, config.read_strategy)?,
    };
    if let Some(progress) = &config.progress {
        let known = pair.orders.0.size.unwrap_or(0) + pair.trades.0.size.unwrap_or(0);
        progress.set_total(known);
    }

    let output = &config.output;
    fs::create_dir_all(output).map_err(|e| Error::io(output, "create folder", e))?;
    let staging = output.join(STAGING_DIR);
    remove_if_present(&staging)?;
    let staging_partitions = staging.join(PARTITIONS_DIR);
    let staging_rejected = staging.join(REJECTED_DIR);
    for dir in [&staging_partitions, &staging_rejected] {
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, "create folder", e))?;
    }

    let result = extract_into_staging(config, pair, &staging);
    let (orders, trades, partitions) = match result {
        Ok(done) => done,
        Err(error) => {
            // Best effort: the staging folder is never taken for finished,
            // but there is no reason to leave it taking space.
            let _ = fs::remove_dir_all(&staging);
            return Err(error);
        }
    };

    if config.fsync {
        sync_filesystem(&staging)?;
    }
    for name in [PARTITIONS_DIR, REJECTED_DIR] {
        let target = output.join(name);
        remove_if_present(&target)?;
        let from = staging.join(name);
        fs::rename(&from, &target).map_err(|e| Error::io(&from, "rename", e))?;
    }
    fs::remove_dir(&staging).map_err(|e| Error::io(&staging, "remove folder", e))?;
    if config.fsync {
        sync_dir(output)?;
    }
    Ok(ExtractSummary {
        orders,
        trades,
        partitions,
        elapsed: started.elapsed(),
        synced: config.fsync,
    })
}

fn extract_into_staging(
    config: &ExtractConfig,
    pair: OpenedPair,
    staging: &Path,
) -> Result<(FileSummary, FileSummary, Vec<PartitionKey>)> {
    let partitions_root = staging.join(PARTITIONS_DIR);
    let rejected_root = staging.join(REJECTED_DIR);
    let (orders_input, orders_layout) = pair.orders;
    let (trades_input, trades_layout) = pair.trades;
    let orders_header = orders_input.header_line.clone();
    let trades_header = trades_input.header_line.clone();

    // The routed chunks of the first file serve the second: their memory
    // is already the process's, where new ones would fault in every page.
    let mut spare_routed = Vec::new();
    let (orders, orders_keys) = extract_file(
        config,
        orders_input,
        &orders_layout,
        &partitions_root,
        &rejected_root,
        &mut spare_routed,
    )?;
    let (trades, trades_keys) = extract_file(
        config,
        trades_input,
        &trades_layout,
        &partitions_root,
        &rejected_root,
        &mut spare_routed,
    )?;

    // A partition with rows in only one file still gets both files.
    let orders_set: BTreeSet<PartitionKey> = orders_keys.into_iter().collect();
    let trades_set: BTreeSet<PartitionKey> = trades_keys.into_iter().collect();
    for key in trades_set.difference(&orders_set) {
        write_header_only(
            &key.dir(staging)
                .join(FileKind::Orders.partition_file_name()),
            &orders_header,
        )?;
    }
    for key in orders_set.difference(&trades_set) {
        write_header_only(
            &key.dir(staging)
                .join(FileKind::Trades.partition_file_name()),
            &trades_header,
        )?;
    }
    let partitions = orders_set.union(&trades_set).copied().collect();
    Ok((orders, trades, partitions))
}

fn write_header_only(path: &Path, header: &[u8]) -> Result<()> {
    fs::write(path, header).map_err(|e| Error::io(path, "write", e))
}

/// Streams one input file into the staging partitions. The routed
/// chunks' memory comes from `spare_routed` as far as it goes, and goes
/// back there.
fn extract_file(
    config: &ExtractConfig,
    input: OpenedInput,
    layout: &Layout,
    partitions_root: &Path,
    rejected_root: &Path,
    spare_routed: &mut Vec<RoutedChunk>,
) -> Result<(FileSummary, Vec<PartitionKey>)> {
    let started = Instant::now();
    let kind = layout.kind();
    let path = input.path.clone();
    let mapped = input.is_mapped();
    if let Some(progress) = &config.progress {
        progress.advance(input.header_bytes_in_file);
    }
    let file_name = kind.partition_file_name();
    let workers = config.workers.max(1);
    let max_open = config
        .max_open_files
        .unwrap_or_else(default_max_open_files)
        .max(1);
    // One writer shard per worker, but never fewer than one open file each.
    let shards = workers.min(MAX_WRITER_SHARDS).min(max_open);
    let mut rejected = Some(writers::RejectedWriter::create(
        rejected_root.join(format!("{}_rejected.csv", kind.name())),
    )?);
    let chunk_target = config
        .chunk_rows
        .max(1)
        .saturating_mul(input.average_line_len);
    let cores = if config.pin_threads {
        core_affinity::get_core_ids().unwrap_or_default()
    } else {
        Vec::new()
    };

    let (chunk_tx, chunk_rx) = bounded::<Chunk>(workers * 2);
    let (shard_txs, shard_rxs): (Vec<_>, Vec<_>) = (0..shards)
        .map(|_| bounded::<Arc<Pooled>>(workers * 2))
        .unzip();
    // Routed chunks hold copies of their rows, so their number is bounded:
    // a worker takes one from this pool before it takes a chunk to route,
    // and the last writer shard to finish with it puts it back. (Taking
    // the routed chunk first means that whoever holds a chunk of the
    // input can route it, so the writers, waiting for chunks in sequence
    // order, always get the next one.)
    // Besides the chunks in flight, each shard may hold rows of
    // `held_sources` routed chunks it has applied: the pool has room for
    // both, so that a worker can always route the next chunk.
    let held_sources = writers::held_sources_for(config.buffer_budget / shards, chunk_target);
    let pool_size = ROUTED_CHUNKS_PER_WORKER * workers + shards * held_sources;
    let (pool_tx, pool_rx) = bounded::<RoutedChunk>(pool_size);
    for _ in 0..pool_size {
        // Cannot fail: the pool has room for every one.
        let _ = pool_tx.try_send(spare_routed.pop().unwrap_or_default());
    }
    spare_routed.clear();
    let strict_path = config.strict.then_some(path.as_path());
    let progress = config.progress.clone();

    let header_bytes = input.header_bytes_in_file;
    let outcome = std::thread::scope(|scope| -> Result<WriterTotals> {
        for worker in 0..workers {
            let chunk_rx = chunk_rx.clone();
            let shard_txs = shard_txs.clone();
            let (pool_tx, pool_rx) = (pool_tx.clone(), pool_rx.clone());
            let core = (!cores.is_empty()).then(|| cores[worker % cores.len()]);
            scope.spawn(move || {
                if let Some(core) = core {
                    // Pinning is an optimisation; a refusal changes nothing.
                    let _ = core_affinity::set_for_current(core);
                }
                let mut router = RowRouter::new(layout).with_parts(shards, writers::shard_of);
                // The pool cannot run dry for good: the shards put back
                // every routed chunk they drop, even on an error.
                while let Ok(written) = pool_rx.recv() {
                    router.recycle(written);
                    let Ok(chunk) = chunk_rx.recv() else {
                        return;
                    };
                    // The rows are copied out, so the chunk's window can
                    // be released as soon as it is routed.
                    let routed = Arc::new(Pooled {
                        routed: router.route(&chunk),
                        pool: pool_tx.clone(),
                    });
                    drop(chunk);
                    for shard_tx in &shard_txs {
                        if shard_tx.send(Arc::clone(&routed)).is_err() {
                            return;
                        }
                    }
                }
            });
        }
        drop(chunk_rx);
        drop(shard_txs);

        // Every shard sees every chunk, in sequence order, and writes its
        // part, the partitions it owns; shard 0 also writes the rejected
        // lines and counts lines and bytes.
        let shard_threads: Vec<_> = shard_rxs
            .into_iter()
            .enumerate()
            .map(|(shard, routed_rx)| {
                let mut rejected = if shard == 0 { rejected.take() } else { None };
                let mut writers = writers::PartitionWriters::new(
                    partitions_root.to_path_buf(),
                    file_name,
                    input.header_line.clone(),
                    (max_open / shards).max(1),
                    held_sources,
                )
                .with_early_writeback(config.fsync);
                let progress = progress.clone();
                scope.spawn(move || -> Result<WriterTotals> {
                    let mut totals = WriterTotals::default();
                    let mut reorder = SequenceReorder::default();
                    let mut line_base = 2; // the header is line 1
                    for item in routed_rx {
                        for item in reorder.accept(item.routed.seq, item) {
                            let routed = &item.routed;
                            if let Some(rejected) = &mut rejected {
                                writers::apply_rejected(routed, line_base, rejected, strict_path)?;
                                line_base += routed.lines;
                                totals.lines += routed.lines;
                                totals.bytes += routed.input_bytes;
                                if let Some(progress) = &progress {
                                    progress.advance(routed.input_bytes);
                                }
                            }
                            totals.rows += writers::apply_part(routed, &item, shard, &mut writers)?;
                        }
                    }
                    debug_assert!(reorder.is_drained());
                    if let Some(rejected) = rejected {
                        totals.rejected = rejected.finish()?;
                    }
                    totals.partitions = writers.finish()?;
                    Ok(totals)
                })
            })
            .collect();

        // The source runs on this thread; it stops early when a writer
        // has failed, because the channels close behind it.
        let source_result = input.for_each_chunk(chunk_target, config.window_bytes, |chunk| {
            chunk_tx.send(chunk).is_ok()
        });
        drop(chunk_tx);
        let mut totals = WriterTotals::default();
        let mut first_error = None;
        for shard in shard_threads {
            match shard
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            {
                Ok(shard_totals) => totals.add(shard_totals),
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        // A writer error explains why the source stopped; report it first.
        if let Some(error) = first_error {
            return Err(error);
        }
        source_result?;
        Ok(totals)
    });
    spare_routed.extend(pool_rx.try_iter());
    let totals = outcome?;
    let keys = totals.partitions.iter().map(|(key, _)| *key).collect();
    Ok((
        FileSummary {
            path,
            bytes: header_bytes + totals.bytes,
            lines: totals.lines,
            rows: totals.rows,
            rejected: totals.rejected,
            partitions: totals.partitions.len(),
            mapped,
            elapsed: started.elapsed(),
        },
        keys,
    ))
}

/// Routed chunks in the pool per worker, besides those the writer shards
/// hold rows of: enough for one being routed and a few waiting for the
/// writer shards. Each holds a copy of a chunk's rows, about 3 MB.
const ROUTED_CHUNKS_PER_WORKER: usize = 4;

/// A routed chunk shared by the writer shards; the last one to drop it
/// puts it back in the pool.
struct Pooled {
    routed: RoutedChunk,
    pool: crossbeam_channel::Sender<RoutedChunk>,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        self.routed.bytes()
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        // The pool has room for every routed chunk; once the workers are
        // gone it is closed, and the memory is simply freed.
        let _ = self.pool.try_send(std::mem::take(&mut self.routed));
    }
}

#[derive(Default)]
struct WriterTotals {
    lines: u64,
    rows: u64,
    bytes: u64,
    rejected: u64,
    partitions: Vec<(PartitionKey, u64)>,
}

impl WriterTotals {
    /// Adds one writer shard's totals.
    fn add(&mut self, shard: WriterTotals) {
        self.lines += shard.lines;
        self.rows += shard.rows;
        self.bytes += shard.bytes;
        self.rejected += shard.rejected;
        self.partitions.extend(shard.partitions);
    }
}

/// Open-file cap: half of what `RLIMIT_NOFILE` leaves after a margin for
/// the inputs, the registry and the standard streams.
fn default_max_open_files() -> usize {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass and nothing else.
    let soft = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
        limit.rlim_cur
    } else {
        256
    };
    let soft = usize::try_from(soft).unwrap_or(usize::MAX);
    (soft.saturating_sub(32) / 2).clamp(4, 1024)
}

fn remove_if_present(path: &Path) -> Result<()> {
    match fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(path, "remove", e)),
    }
}

/// Flushes every dirty page of the file system holding `path`: one
/// `syncfs` instead of an `fsync` per partition file, which for tens of
/// thousands of partitions is the difference between seconds and minutes.
/// Since Linux 5.8 `syncfs` reports write-back errors, so a failure here is
/// a real failure and stops the run.
pub(crate) fn sync_filesystem(path: &Path) -> Result<()> {
    let dir = fs::File::open(path).map_err(|e| Error::io(path, "open", e))?;
    // SAFETY: syncfs takes a valid open descriptor, which `dir` holds for
    // the duration of the call.
    let status = unsafe { libc::syncfs(std::os::fd::AsRawFd::as_raw_fd(&dir)) };
    if status != 0 {
        return Err(Error::sync(path, std::io::Error::last_os_error()));
    }
    Ok(())
}

/// Makes a folder's entries (renames, new files) durable.
pub(crate) fn sync_dir(path: &Path) -> Result<()> {
    let dir = fs::File::open(path).map_err(|e| Error::io(path, "open", e))?;
    dir.sync_all().map_err(|e| Error::sync(path, e))
}

//! A whole run: the registry guard, extraction, then processing, with the
//! registry recording every step so a run killed at any instant resumes.
//!
//! The order of durable facts is what makes `kill -9` safe:
//!
//! 1. The registry is created (or reopened for `--resume`) before any
//!    output exists; a new run into a folder holding one is refused.
//! 2. Extraction writes into a staging folder that becomes `partitions/`
//!    only when complete (and synced); only then is "extraction finished"
//!    appended to the log. A resume that finds it missing extracts again
//!    from scratch.
//! 3. Each partition's stats files are written under temporary names and
//!    renamed by the analysis; the run then makes them durable and only
//!    then appends the partition's `completed` record, so a completed
//!    record never points at missing files. Durability is a group commit:
//!    one `syncfs` for a batch of completed partitions
//!    ([`STATS_SYNC_GROUP`], or [`STATS_SYNC_DELAY`] after the oldest),
//!    where syncing each file and folder took eight `fsync`s (eight journal
//!    commits) per partition. A `running` record left by a crash becomes
//!    pending on resume, and the analysis overwrites whatever the
//!    interrupted attempt left.
//! 4. The JSON snapshot is a compaction of the log, rewritten atomically.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::analysis::{self, AnalysisOptions};
use crate::engine::{PoolEvent, Task, run_pool};
use crate::error::{Error, Result};
use crate::extract::{ExtractConfig, ExtractSummary, extract};
use crate::format::FileKind;
use crate::partition::{PARTITIONS_DIR, PartitionFigures, PartitionKey};
use crate::progress::Progress;
use crate::registry::{ExtractionCounts, PartitionStatus, Registry, RegistryOptions, RunInputs};

/// Default retries of a failed partition (SPEC §6).
pub const DEFAULT_MAX_RETRIES: u32 = 3;

/// How often the JSON snapshot is refreshed while processing.
const COMPACT_INTERVAL: Duration = Duration::from_secs(10);

/// Completed partitions made durable by one file-system sync.
pub const STATS_SYNC_GROUP: usize = 64;

/// A completed partition waits at most about this long for its group's
/// sync (checked as events arrive).
pub const STATS_SYNC_DELAY: Duration = Duration::from_secs(1);

/// Options of the processing phase.
#[derive(Clone, Debug)]
pub struct ProcessConfig {
    /// The output folder holding `partitions/` and the registry.
    pub output: PathBuf,
    /// Worker threads.
    pub workers: usize,
    /// Retries after a partition's first failure.
    pub max_retries: u32,
    /// Minimum distinct fill prices of a sweep.
    pub sweep_min_levels: u32,
    /// Make stats files and the registry durable.
    pub fsync: bool,
    /// Partitions done, for a progress display.
    pub progress: Option<Arc<Progress>>,
}

/// Options of a full run.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// Extraction options (inputs, output, workers, chunk size, strictness,
    /// fsync).
    pub extract: ExtractConfig,
    /// Continue the run recorded in the output folder.
    pub resume: bool,
    /// Start over in an output folder that holds a run.
    pub force: bool,
    /// Retries after a partition's first failure.
    pub max_retries: u32,
    /// Minimum distinct fill prices of a sweep.
    pub sweep_min_levels: u32,
    /// Partitions done, for a progress display.
    pub processing_progress: Option<Arc<Progress>>,
}

/// Per-partition processing time percentiles, from an HDR histogram.
#[derive(Clone, Copy, Debug, Default)]
pub struct DurationPercentiles {
    /// Median.
    pub p50: Duration,
    /// 90th percentile.
    pub p90: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Slowest.
    pub max: Duration,
}

/// What processing did.
#[derive(Clone, Debug, Default)]
pub struct ProcessSummary {
    /// Partitions completed in this run.
    pub completed: usize,
    /// Partitions that failed every attempt in this run.
    pub failed: usize,
    /// Partitions already completed before this run (resume).
    pub already_completed: usize,
    /// Bytes of partition files processed.
    pub input_bytes: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// Per-partition attempt durations.
    pub durations: DurationPercentiles,
    /// Registry counts at the end.
    pub completed_total: usize,
    /// Registry counts at the end.
    pub failed_total: usize,
    /// Failed partitions and their last error.
    pub failures: Vec<(String, String)>,
}

/// What a run did.
#[derive(Clone, Debug, Default)]
pub struct RunSummary {
    /// Extraction, when it ran (a resume after it finished skips it).
    pub extraction: Option<ExtractSummary>,
    /// Processing.
    pub processing: ProcessSummary,
}

impl RunSummary {
    /// True when every partition of the run completed.
    pub fn all_completed(&self) -> bool {
        self.processing.failed_total == 0
    }
}

fn registry_options(fsync: bool) -> RegistryOptions {
    RegistryOptions {
        fsync,
        ..RegistryOptions::default()
    }
}

/// Opens the registry the way the flags ask: a new run, `--force` or
/// `--resume`.
pub fn open_registry(
    output: &Path,
    inputs: RunInputs,
    resume: bool,
    force: bool,
    fsync: bool,
) -> Result<Registry> {
    std::fs::create_dir_all(output).map_err(|e| Error::io(output, "create folder", e))?;
    let options = registry_options(fsync);
    if resume {
        if Registry::exists(output)? {
            return Registry::open_for_resume(output, Some(&inputs), options);
        }
        // Nothing to resume: a fresh run is what the user wants.
        return Registry::create(output, inputs, options);
    }
    if force {
        return Registry::create_forced(output, inputs, options);
    }
    Registry::create(output, inputs, options)
}

/// Extraction under a registry: skipped when the registry says it finished,
/// recorded when it does.
pub fn extract_recorded(
    registry: &mut Registry,
    config: &ExtractConfig,
) -> Result<Option<ExtractSummary>> {
    if registry.extraction_finished() {
        return Ok(None);
    }
    let summary = extract(config)?;
    let partitions: Vec<(String, String)> = summary
        .partitions
        .iter()
        .map(|key| (key.date().iso_string(), key.security_code().to_owned()))
        .collect();
    registry.record_extraction_finished(
        &partitions,
        ExtractionCounts {
            orders_rows: summary.orders.rows,
            trades_rows: summary.trades.rows,
            orders_rejected: summary.orders.rejected,
            trades_rejected: summary.trades.rejected,
        },
    )?;
    registry.sync()?;
    registry.compact()?;
    Ok(Some(summary))
}

/// Opens the registry as the flags ask and runs extraction under it (unless
/// a resumed run already finished it).
///
/// An input error (a header without a required column, a `--strict`
/// rejection) writes nothing: headers are checked before the registry is
/// created, and a registry this call created is removed again when
/// extraction then stops on bad input, so the corrected command simply
/// runs.
pub fn open_and_extract(
    extract: &ExtractConfig,
    sweep_min_levels: u32,
    resume: bool,
    force: bool,
) -> Result<(Registry, Option<ExtractSummary>)> {
    crate::extract::check_inputs(extract)?;
    let inputs = RunInputs::of(&extract.orders, &extract.trades, sweep_min_levels)?;
    let output = &extract.output;
    let output_existed = output.exists();
    let registry_is_new = force || !Registry::exists(output).unwrap_or(true);
    let mut registry = open_registry(output, inputs, resume, force, extract.fsync)?;
    match extract_recorded(&mut registry, extract) {
        Ok(summary) => Ok((registry, summary)),
        Err(error) => {
            if registry_is_new && error.is_usage_or_input() {
                // Release the registry's lock before removing its files.
                drop(registry);
                for path in [
                    crate::registry::log_path(output),
                    crate::registry::json_path(output),
                ] {
                    let _ = std::fs::remove_file(path);
                }
                if !output_existed {
                    // Only empties: never removes anything a user put there.
                    let _ = std::fs::remove_dir(output);
                }
            }
            Err(error)
        }
    }
}

/// Runs the whole pipeline.
pub fn run(config: &RunConfig) -> Result<RunSummary> {
    let output = &config.extract.output;
    let (mut registry, extraction) = open_and_extract(
        &config.extract,
        config.sweep_min_levels,
        config.resume,
        config.force,
    )?;
    let processing = process_recorded(
        &mut registry,
        &ProcessConfig {
            output: output.clone(),
            workers: config.extract.workers,
            max_retries: config.max_retries,
            sweep_min_levels: config.sweep_min_levels,
            fsync: config.extract.fsync,
            progress: config.processing_progress.clone(),
        },
    )?;
    Ok(RunSummary {
        extraction,
        processing,
    })
}

/// Processing alone over an extracted folder (`process`).
pub fn process(config: &ProcessConfig) -> Result<ProcessSummary> {
    let mut registry = Registry::open_existing(&config.output, registry_options(config.fsync))?;
    if !registry.extraction_finished() {
        return Err(Error::usage(format!(
            "{}: extraction has not finished in this folder; run the pipeline (or `extract`) first",
            config.output.display()
        )));
    }
    process_recorded(&mut registry, config)
}

/// Processes every pending or failed partition of `registry`.
pub fn process_recorded(registry: &mut Registry, config: &ProcessConfig) -> Result<ProcessSummary> {
    let started = Instant::now();
    let already_completed = registry.status_counts().get(PartitionStatus::Completed);
    // A resumed run retries failed partitions with a fresh budget; the
    // registry's `attempts` keeps counting across runs.
    let mut keys = registry.pending_keys();
    keys.extend(
        registry
            .list(Some(PartitionStatus::Failed))
            .iter()
            .map(|record| record.partition_key.clone()),
    );
    let mut tasks = Vec::with_capacity(keys.len());
    let mut input_bytes = 0;
    for key in keys {
        let partition = PartitionKey::parse(&key).ok_or_else(|| {
            Error::from(crate::error::ErrorKind::RegistryCorrupt {
                path: crate::registry::log_path(&config.output),
                reason: format!("`{key}` is not a valid partition key"),
            })
        })?;
        let weight = partition_bytes(&partition.dir(&config.output));
        input_bytes += weight;
        tasks.push(Task {
            key: (key, partition),
            weight,
            previous_attempts: 0,
        });
    }
    if let Some(progress) = &config.progress {
        progress.set_total(tasks.len() as u64);
    }
    let options = AnalysisOptions {
        sweep_min_levels: config.sweep_min_levels,
        // The run syncs completed partitions in groups (see the module
        // documentation), not file by file.
        fsync: false,
    };
    let mut histogram = Histogram::<u64>::new(3).map_err(|e| Error::usage(e.to_string()))?;
    let mut last_compaction = Instant::now();
    let mut unsynced = CompletedGroup::new(&config.output, config.fsync);
    let output = config.output.clone();
    let pool = run_pool(
        tasks,
        config.workers,
        config.max_retries.saturating_add(1),
        |(key, partition): &(String, PartitionKey)| {
            analysis::analyse_partition(&partition.dir(&output), key, &options)
        },
        |event| {
            match event {
                PoolEvent::Started { key, .. } => registry.mark_running(&key.0)?,
                PoolEvent::Completed {
                    key,
                    output,
                    duration,
                } => {
                    let _ = histogram.record(duration.as_micros().max(1) as u64);
                    unsynced.push(key.0, output, duration.as_secs_f64());
                    if unsynced.is_due() {
                        unsynced.commit(registry)?;
                    }
                    if let Some(progress) = &config.progress {
                        progress.advance(1);
                    }
                }
                PoolEvent::Failed {
                    key,
                    error,
                    duration,
                    will_retry,
                } => {
                    let _ = histogram.record(duration.as_micros().max(1) as u64);
                    registry.mark_failed(&key.0, &error, duration.as_secs_f64())?;
                    if !will_retry && let Some(progress) = &config.progress {
                        progress.advance(1);
                    }
                }
            }
            if last_compaction.elapsed() >= COMPACT_INTERVAL {
                registry.compact()?;
                last_compaction = Instant::now();
            }
            Ok(())
        },
    );
    // Completions still waiting for their sync are recorded only when the
    // pool ended cleanly: after a failed sync nothing more is recorded.
    let pool = pool.and_then(|summary| unsynced.commit(registry).map(|()| summary));
    // Whatever happened, leave the log synced and the snapshot current; a
    // pool error (a failed fsync) wins over a later one.
    let finish = registry.sync().and_then(|()| registry.compact());
    let pool = pool?;
    finish?;
    let counts = registry.status_counts();
    let at = |quantile: f64| Duration::from_micros(histogram.value_at_quantile(quantile));
    Ok(ProcessSummary {
        completed: pool.completed,
        failed: pool.failed,
        already_completed,
        input_bytes,
        elapsed: started.elapsed(),
        durations: DurationPercentiles {
            p50: at(0.5),
            p90: at(0.9),
            p99: at(0.99),
            max: Duration::from_micros(histogram.max()),
        },
        completed_total: counts.get(PartitionStatus::Completed),
        failed_total: counts.get(PartitionStatus::Failed),
        failures: registry
            .list_failed()
            .iter()
            .map(|record| {
                (
                    record.partition_key.clone(),
                    record.error_message.clone().unwrap_or_default(),
                )
            })
            .collect(),
    })
}

/// Partitions whose stats files are written but not yet known to be on
/// disk, waiting for one sync before their `completed` records.
struct CompletedGroup<'a> {
    output: &'a Path,
    fsync: bool,
    waiting: Vec<(String, PartitionFigures, f64)>,
    oldest: Option<Instant>,
}

impl<'a> CompletedGroup<'a> {
    fn new(output: &'a Path, fsync: bool) -> CompletedGroup<'a> {
        CompletedGroup {
            output,
            fsync,
            waiting: Vec::new(),
            oldest: None,
        }
    }

    fn push(&mut self, key: String, figures: PartitionFigures, seconds: f64) {
        self.oldest.get_or_insert_with(Instant::now);
        self.waiting.push((key, figures, seconds));
    }

    /// True when the group should be committed now. Without fsync there is
    /// nothing to wait for.
    fn is_due(&self) -> bool {
        !self.fsync
            || self.waiting.len() >= STATS_SYNC_GROUP
            || self
                .oldest
                .is_some_and(|oldest| oldest.elapsed() >= STATS_SYNC_DELAY)
    }

    /// Syncs the file system (unless `--no-fsync`), then records every
    /// waiting partition as completed. A failed sync is returned and
    /// nothing is recorded.
    fn commit(&mut self, registry: &mut Registry) -> Result<()> {
        if self.waiting.is_empty() {
            return Ok(());
        }
        if self.fsync {
            crate::extract::sync_filesystem(&self.output.join(PARTITIONS_DIR))?;
        }
        self.oldest = None;
        for (key, figures, seconds) in self.waiting.drain(..) {
            registry.mark_completed(&key, figures, seconds)?;
        }
        Ok(())
    }
}

/// Bytes of a partition's two files (0 for a missing one: the analysis
/// reports that properly).
fn partition_bytes(dir: &Path) -> u64 {
    [FileKind::Orders, FileKind::Trades]
        .iter()
        .filter_map(|kind| std::fs::metadata(dir.join(kind.partition_file_name())).ok())
        .map(|metadata| metadata.len())
        .sum()
}

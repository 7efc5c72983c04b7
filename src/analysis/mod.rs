//! Phase 2: the per-partition sweep-order analyses of SPEC §4.
//!
//! [`analyse_partition`] is what the engine calls for one partition folder:
//! load the two partition files into columns (`load`), link orders and
//! trades and find each trade's taker (`linking`), compute each taker's
//! metrics (`takers`), and write the four stats files (`detailed`,
//! `summary`, `tests_file`, `unmatched`) through temporary names
//! (`output`). [`analyse`] is the same without I/O, over columns built in
//! memory, for tests and benchmarks.
//!
//! The statistics themselves live in [`crate::stats`]; the registry and the
//! pool that run this over many partitions are not this module's business.

mod detailed;
mod linking;
mod load;
mod output;
mod samples;
mod summary;
mod takers;
mod tests_file;
mod unmatched;

use std::path::Path;

use crate::error::{Error, Result};
use crate::stats::{Description, FloatTexts};

pub use load::{
    OrderColumns, PartitionData, PartitionFiles, TradeColumns, parse_orders, parse_trades,
};
pub use takers::{Group, Metric, TakerMetrics};

/// File names of the outputs, inside `stats/matched` and `stats/unmatched`.
pub const DETAILED_FILE: &str = "sweep_order_comparison_detailed.csv";
/// See [`DETAILED_FILE`].
pub const SUMMARY_FILE: &str = "sweep_order_comparison_summary.csv";
/// See [`DETAILED_FILE`].
pub const TESTS_FILE: &str = "sweep_order_statistical_tests.csv";
/// See [`DETAILED_FILE`].
pub const UNMATCHED_FILE: &str = "unmatched_orders_analysis.csv";

/// How to analyse a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnalysisOptions {
    /// A taker order is a sweep when it filled at this many distinct prices
    /// or more (`--sweep-min-levels`, at least 2).
    pub sweep_min_levels: u32,
    /// Sync the stats files and their folders before returning
    /// (`--no-fsync` turns this off).
    pub fsync: bool,
}

impl Default for AnalysisOptions {
    fn default() -> AnalysisOptions {
        AnalysisOptions {
            sweep_min_levels: 2,
            fsync: true,
        }
    }
}

pub use crate::partition::PartitionFigures;

/// The four output files of a partition, as text, and its figures.
#[derive(Debug, Clone, Default)]
pub struct PartitionReport {
    /// The registry's figures.
    pub figures: PartitionFigures,
    /// `sweep_order_comparison_detailed.csv`.
    pub detailed_csv: Vec<u8>,
    /// `sweep_order_comparison_summary.csv`.
    pub summary_csv: Vec<u8>,
    /// `sweep_order_statistical_tests.csv`.
    pub tests_csv: Vec<u8>,
    /// `unmatched_orders_analysis.csv`.
    pub unmatched_csv: Vec<u8>,
}

/// Runs every analysis of SPEC §4 over a partition held in memory.
pub fn analyse(data: &PartitionData, sweep_min_levels: u32) -> PartitionReport {
    let mut report = PartitionReport::default();
    analyse_into(
        data,
        sweep_min_levels,
        &mut AnalysisBuffers::default(),
        &mut report,
    );
    report
}

/// The working memory of [`analyse_into`] (see [`WorkerBuffers`]).
#[derive(Default)]
struct AnalysisBuffers {
    links: linking::Linking,
    link_scratch: linking::LinkScratch,
    taker_rows: Vec<u32>,
    takers: Vec<TakerMetrics>,
    samples: samples::MetricSamples,
    unmatched: unmatched::UnmatchedBuffers,
    float_texts: FloatTexts,
}

/// [`analyse`] into `report`, whose buffers are cleared first and keep
/// their allocations, with `buffers` as working memory.
fn analyse_into(
    data: &PartitionData,
    sweep_min_levels: u32,
    buffers: &mut AnalysisBuffers,
    report: &mut PartitionReport,
) {
    let spare = std::mem::take(&mut buffers.links);
    buffers.links =
        linking::link_reusing(&data.orders, &data.trades, spare, &mut buffers.link_scratch);
    let linking = &buffers.links;
    let takers = &mut buffers.takers;
    takers::taker_metrics(
        data,
        linking,
        sweep_min_levels,
        &mut buffers.taker_rows,
        takers,
    );
    let matched_orders = linking
        .canonical_rows
        .iter()
        .filter(|&&row| linking.matched[row as usize])
        .count() as u64;
    let order_count = linking.canonical_rows.len() as u64;
    let figures = PartitionFigures {
        order_count,
        trade_count: data.trades.len() as u64,
        matched_orders,
        unmatched_orders: order_count - matched_orders,
        taker_orders: takers.len() as u64,
        sweep_orders: takers.iter().filter(|t| t.is_sweep).count() as u64,
        unlinked_trades: linking.unlinked_trades,
        duplicate_orders: linking.duplicate_orders,
    };
    report.figures = figures;
    for buffer in [
        &mut report.detailed_csv,
        &mut report.summary_csv,
        &mut report.tests_csv,
        &mut report.unmatched_csv,
    ] {
        buffer.clear();
    }
    // A detailed row is ~200 bytes; reserving avoids regrowing the buffer.
    report.detailed_csv.reserve(256 + takers.len() * 200);
    detailed::write_detailed(
        &data.orders,
        takers,
        &mut buffers.float_texts,
        &mut report.detailed_csv,
    );

    // Each metric is gathered and sorted once, for both the summary and the
    // tests.
    let mut table: summary::SummaryTable = Default::default();
    let samples = &mut buffers.samples;
    samples.group(takers);
    report
        .tests_csv
        .extend_from_slice(tests_file::TESTS_HEADER.as_bytes());
    report.tests_csv.push(b'\n');
    for (m, metric) in Metric::ALL.into_iter().enumerate() {
        samples.collect(takers, metric);
        table[0][m] = Description::of_moments(&samples.sweep_moments, &samples.sweep_sorted);
        table[1][m] =
            Description::of_moments(&samples.non_sweep_moments, &samples.non_sweep_sorted);
        table[2][m] = Description::of_moments(&samples.all_moments, &samples.all_sorted());
        if metric != Metric::Levels {
            tests_file::write_test_row(metric, samples, &mut report.tests_csv);
        }
    }
    summary::write_summary(&table, &mut report.summary_csv);
    unmatched::write_unmatched(
        data,
        linking,
        &mut buffers.unmatched,
        &mut report.unmatched_csv,
    );
}

/// `kept` := the `rows` for which `keep` holds, in order.
///
/// Without a branch per row: which orders are takers, or unmatched, or
/// which takers are sweeps, follows no pattern a branch predictor could
/// follow (with a branch each, the analyse bench took 2–6 % longer).
/// Every row is written to the next slot instead, and only a kept one
/// moves the slot on.
fn keep_rows(
    rows: impl ExactSizeIterator<Item = u32>,
    kept: &mut Vec<u32>,
    keep: impl Fn(u32) -> bool,
) {
    kept.clear();
    // One slot past the last kept row, for the rows written after it.
    kept.resize(rows.len() + 1, 0);
    let mut next = 0;
    for row in rows {
        kept[next] = row;
        next += usize::from(keep(row));
    }
    kept.truncate(next);
}

/// What a worker keeps from one partition to the next: the column,
/// working and output buffers, emptied, their allocations kept. Partitions are handed
/// out largest first, so after a worker's first partition the buffers are
/// mostly large enough, and later partitions neither fault in fresh memory
/// nor return it (page faults were a large part of the system time).
#[derive(Default)]
struct WorkerBuffers {
    columns: PartitionData,
    analysis: AnalysisBuffers,
    report: PartitionReport,
}

thread_local! {
    /// The buffers of the worker thread running on (the pool's threads live
    /// for the whole run; a thread-local keeps the pool generic).
    static WORKER_BUFFERS: std::cell::RefCell<WorkerBuffers> = Default::default();
}

/// Analyses one partition folder.
///
/// `partition_dir` is `OUTPUT/partitions/{YYYY-MM-DD}/{security_code}` and
/// `key` its `YYYY-MM-DD/security_code`. Reads `orders.csv` and `trades.csv`
/// there and writes `stats/matched/{sweep_order_comparison_detailed,
/// sweep_order_comparison_summary,sweep_order_statistical_tests}.csv` and
/// `stats/unmatched/unmatched_orders_analysis.csv`, each to a temporary name
/// then renamed. Fails, writing nothing, when a file is missing or a row does
/// not parse (the error names file, line and reason) or belongs to another
/// partition.
pub fn analyse_partition(
    partition_dir: &Path,
    key: &str,
    options: &AnalysisOptions,
) -> Result<PartitionFigures> {
    if options.sweep_min_levels < 2 {
        return Err(Error::usage(format!(
            "--sweep-min-levels must be at least 2 (got {})",
            options.sweep_min_levels
        )));
    }
    WORKER_BUFFERS.with_borrow_mut(|buffers| {
        let columns = std::mem::take(&mut buffers.columns);
        let data = PartitionFiles::open(partition_dir)?.parse_into(key, columns)?;
        check_row_counts(&data, key)?;
        analyse_into(
            &data,
            options.sweep_min_levels,
            &mut buffers.analysis,
            &mut buffers.report,
        );
        buffers.columns = PartitionData {
            orders: data.orders.recycle(),
            trades: data.trades.recycle(),
        };
        write_report(partition_dir, options, &buffers.report)
    })
}

/// Writes the four stats files of a partition.
fn write_report(
    partition_dir: &Path,
    options: &AnalysisOptions,
    report: &PartitionReport,
) -> Result<PartitionFigures> {
    let paths = output::StatsPaths::new(partition_dir);
    paths.create(options.fsync)?;
    let fsync = options.fsync;
    output::write_atomically(
        &paths.matched_dir,
        DETAILED_FILE,
        &report.detailed_csv,
        fsync,
    )?;
    output::write_atomically(&paths.matched_dir, SUMMARY_FILE, &report.summary_csv, fsync)?;
    output::write_atomically(&paths.matched_dir, TESTS_FILE, &report.tests_csv, fsync)?;
    output::write_atomically(
        &paths.unmatched_dir,
        UNMATCHED_FILE,
        &report.unmatched_csv,
        fsync,
    )?;
    if fsync {
        output::sync_dir(&paths.matched_dir)?;
        output::sync_dir(&paths.unmatched_dir)?;
    }
    Ok(report.figures)
}

/// The analyses index rows with `u32` (half the memory of `usize` in the
/// linking tables), one value reserved for "no row": a partition file with
/// more rows fails the partition with this error instead of reaching
/// [`linking::link`]'s precondition.
fn check_row_counts(data: &PartitionData, key: &str) -> Result<()> {
    let limit = linking::NO_ROW as usize;
    for (file, rows) in [("orders", data.orders.len()), ("trades", data.trades.len())] {
        if rows >= limit {
            return Err(crate::error::ErrorKind::Partition {
                key: key.to_string(),
                reason: format!(
                    "{file}.csv has {rows} rows; at most {} are supported per file",
                    limit - 1
                ),
            }
            .into());
        }
    }
    Ok(())
}

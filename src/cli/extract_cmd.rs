//! `sweep-pipeline extract`: phase 1 alone, and the extraction step of a
//! full run.

use std::path::PathBuf;
use std::sync::Arc;

use sweep_pipeline::extract::{ExtractConfig, ExtractSummary, ReadStrategy};
use sweep_pipeline::progress::Progress;
use sweep_pipeline::run::open_and_extract;
use sweep_pipeline::{Error, Result};

use super::args::RunArgs;
use super::progress_display::{ProgressDisplay, Unit, human_bytes};

/// The three paths a run needs, or a usage error naming the missing flags.
pub fn required_paths(args: &RunArgs) -> Result<(PathBuf, PathBuf, PathBuf)> {
    let missing: Vec<&str> = [
        ("--orders", args.orders.is_none()),
        ("--trades", args.trades.is_none()),
        ("--output", args.output.is_none()),
    ]
    .iter()
    .filter(|(_, missing)| *missing)
    .map(|(flag, _)| *flag)
    .collect();
    match (&args.orders, &args.trades, &args.output) {
        (Some(orders), Some(trades), Some(output)) => {
            Ok((orders.clone(), trades.clone(), output.clone()))
        }
        _ => Err(Error::usage(format!(
            "missing {} (see --help)",
            missing.join(", ")
        ))),
    }
}

/// The extraction configuration the flags describe.
pub fn config_from(args: &RunArgs) -> Result<ExtractConfig> {
    let (orders, trades, output) = required_paths(args)?;
    let mut config = ExtractConfig::new(orders, trades, output);
    if let Some(workers) = args.workers {
        config.workers = workers as usize;
    }
    if let Some(rows) = args.chunk_size {
        config.chunk_rows = usize::try_from(rows).unwrap_or(usize::MAX);
    }
    config.strict = args.strict;
    config.fsync = !args.no_fsync;
    config.pin_threads = !args.no_pin;
    if args.no_mmap {
        config.read_strategy = ReadStrategy::Read;
    }
    Ok(config)
}

/// Runs `work` (an extraction) with a progress display on `config`'s
/// counter; warns first when syncing is off.
pub fn with_display<T>(
    mut config: ExtractConfig,
    quiet: bool,
    work: impl FnOnce(&ExtractConfig) -> Result<T>,
) -> Result<T> {
    if !config.fsync {
        eprintln!(
            "note: --no-fsync: output is not synced to disk; a crash or power loss may lose it"
        );
    }
    let progress = Arc::new(Progress::default());
    config.progress = Some(Arc::clone(&progress));
    let display = ProgressDisplay::start("extract", Unit::Bytes, progress, quiet);
    let result = work(&config);
    display.finish();
    result
}

/// `extract`: phase 1 alone, recorded in the folder's registry so that
/// `process` (or a resumed run) can follow.
pub fn run(args: &RunArgs) -> Result<()> {
    let config = config_from(args)?;
    let (_registry, summary) = with_display(config, args.quiet, |config| {
        open_and_extract(config, args.sweep_min_levels, args.resume, args.force)
    })?;
    match summary {
        Some(summary) => print_extraction_summary(&summary),
        None => eprintln!("extraction: already finished in this folder; nothing to do"),
    }
    Ok(())
}

/// The end-of-phase summary of extraction.
pub fn print_extraction_summary(summary: &ExtractSummary) {
    let bytes = summary.orders.bytes + summary.trades.bytes;
    eprintln!(
        "extraction: {} partitions; orders {} rows ({} rejected), trades {} rows ({} rejected); {} in {:.2}s, {}/s{}",
        summary.partitions.len(),
        summary.orders.rows,
        summary.orders.rejected,
        summary.trades.rows,
        summary.trades.rejected,
        human_bytes(bytes),
        summary.elapsed.as_secs_f64(),
        human_bytes(summary.bytes_per_second() as u64),
        if summary.synced { "" } else { " (not synced)" },
    );
    if summary.orders.rejected + summary.trades.rejected > 0 {
        eprintln!(
            "rejected rows are in rejected/orders_rejected.csv and rejected/trades_rejected.csv"
        );
    }
}

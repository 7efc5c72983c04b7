//! The main invocation (`sweep-pipeline --orders … --trades … --output …`),
//! `process`, and the end-of-run summary.

use std::sync::Arc;

use sweep_pipeline::Result;
use sweep_pipeline::extract::ExtractSummary;
use sweep_pipeline::progress::Progress;
use sweep_pipeline::run::{
    ProcessConfig, ProcessSummary, RunConfig, open_and_extract, process_recorded,
};
use sweep_pipeline::system::Defaults;

use super::args::{ProcessArgs, RunArgs};
use super::extract_cmd::{self, print_extraction_summary};
use super::progress_display::{ProgressDisplay, Unit, human_bytes};
use super::{EXIT_FAILED, EXIT_OK};

/// The full pipeline: extraction (unless a resumed run already finished
/// it), then processing. Returns the exit code.
pub fn run(args: &RunArgs) -> Result<i32> {
    let config = RunConfig {
        extract: extract_cmd::config_from(args)?,
        resume: args.resume,
        force: args.force,
        max_retries: args.max_retries,
        sweep_min_levels: args.sweep_min_levels,
        processing_progress: None,
    };
    let (mut registry, extraction) =
        extract_cmd::with_display(config.extract.clone(), args.quiet, |extract| {
            open_and_extract(
                extract,
                config.sweep_min_levels,
                config.resume,
                config.force,
            )
        })?;
    match &extraction {
        Some(summary) => print_extraction_summary(summary),
        None => eprintln!("extraction: already finished in an earlier run; resuming processing"),
    }
    let processing = process_with_display(
        &mut registry,
        ProcessConfig {
            output: config.extract.output.clone(),
            workers: config.extract.workers,
            max_retries: config.max_retries,
            sweep_min_levels: config.sweep_min_levels,
            fsync: config.extract.fsync,
            progress: None,
        },
        args.quiet,
    )?;
    print_processing_summary(&processing, extraction.as_ref());
    Ok(exit_code(&processing))
}

/// `process`: phase 2 alone over an extracted folder.
pub fn process(args: &ProcessArgs) -> Result<i32> {
    let config = ProcessConfig {
        output: args.output.clone(),
        workers: args
            .workers
            .map_or_else(|| Defaults::detect().workers, |w| w as usize),
        max_retries: args.max_retries,
        sweep_min_levels: args.sweep_min_levels,
        fsync: !args.no_fsync,
        progress: None,
    };
    let progress = Arc::new(Progress::default());
    let config = ProcessConfig {
        progress: Some(Arc::clone(&progress)),
        ..config
    };
    let display = ProgressDisplay::start("process", Unit::Partitions, progress, args.quiet);
    let result = sweep_pipeline::run::process(&config);
    display.finish();
    let summary = result?;
    print_processing_summary(&summary, None);
    Ok(exit_code(&summary))
}

fn process_with_display(
    registry: &mut sweep_pipeline::registry::Registry,
    mut config: ProcessConfig,
    quiet: bool,
) -> Result<ProcessSummary> {
    let progress = Arc::new(Progress::default());
    config.progress = Some(Arc::clone(&progress));
    let display = ProgressDisplay::start("process", Unit::Partitions, progress, quiet);
    let result = process_recorded(registry, &config);
    display.finish();
    result
}

fn exit_code(summary: &ProcessSummary) -> i32 {
    if summary.failed_total == 0 {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}

fn print_processing_summary(summary: &ProcessSummary, extraction: Option<&ExtractSummary>) {
    let seconds = summary.elapsed.as_secs_f64();
    eprintln!(
        "processing: {} partitions completed, {} failed{} in {seconds:.2}s; {} of partition files, {}/s",
        summary.completed,
        summary.failed,
        if summary.already_completed > 0 {
            format!(" ({} already completed before)", summary.already_completed)
        } else {
            String::new()
        },
        human_bytes(summary.input_bytes),
        human_bytes((summary.input_bytes as f64 / seconds.max(1e-9)) as u64),
    );
    if summary.completed + summary.failed > 0 {
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
        eprintln!(
            "per-partition time: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            ms(summary.durations.p50),
            ms(summary.durations.p90),
            ms(summary.durations.p99),
            ms(summary.durations.max)
        );
    }
    if let Some(extraction) = extraction {
        let total = extraction.elapsed + summary.elapsed;
        eprintln!(
            "total: {:.2}s (extraction {:.2}s, processing {:.2}s)",
            total.as_secs_f64(),
            extraction.elapsed.as_secs_f64(),
            seconds
        );
    }
    eprintln!(
        "registry: {} completed, {} failed",
        summary.completed_total, summary.failed_total
    );
    for (key, error) in summary.failures.iter().take(10) {
        eprintln!("  failed {key}: {error}");
    }
    if summary.failures.len() > 10 {
        eprintln!(
            "  ... and {} more (see `sweep-pipeline registry list --status failed`)",
            summary.failures.len() - 10
        );
    }
}

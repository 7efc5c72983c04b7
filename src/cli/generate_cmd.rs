//! `sweep-pipeline generate`: synthetic orders and trades from a limit order
//! book simulation (SPEC §7).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use clap::Args;

use sweep_pipeline::Result;
use sweep_pipeline::generate::{GenerateConfig, GenerateSummary, generate_with_progress};
use sweep_pipeline::progress::Progress;

use super::progress_display::{ProgressDisplay, Unit, human_bytes};

/// Flags of `generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Folder for orders.csv and trades.csv.
    #[arg(long, value_name = "DIR")]
    pub output: PathBuf,
    /// Trading days (consecutive weekdays from 2024-01-02).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub dates: u32,
    /// Securities per day.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub securities: u32,
    /// Approximate total size of both files, in bytes (suffixes k, M, G allowed).
    #[arg(long, value_name = "BYTES", value_parser = parse_size, conflicts_with = "orders_per_partition")]
    pub size: Option<u64>,
    /// Mean orders per (date, security) [default: 2000].
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u64).range(1..))]
    pub orders_per_partition: Option<u64>,
    /// Seed: the same seed and sizes give the same bytes.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Add an aggressor_side column to the trades.
    #[arg(long)]
    pub with_aggressor: bool,
    /// Threads [default: one per logical core]; the output does not depend on it.
    #[arg(long, env = "SWEEP_WORKERS", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub workers: Option<u32>,
    /// Never draw a progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// `1000`, `64k`, `500M`, `2G` (powers of 1000, as disk sizes are quoted).
fn parse_size(text: &str) -> std::result::Result<u64, String> {
    let (digits, multiplier) = match text.char_indices().last() {
        Some((at, 'k' | 'K')) => (&text[..at], 1_000),
        Some((at, 'm' | 'M')) => (&text[..at], 1_000_000),
        Some((at, 'g' | 'G')) => (&text[..at], 1_000_000_000),
        _ => (text, 1),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|value| value.checked_mul(multiplier))
        .filter(|&value| value > 0)
        .ok_or_else(|| format!("`{text}` is not a size (e.g. 5000000, 500M, 2G)"))
}

impl GenerateArgs {
    /// The library configuration these flags describe.
    pub fn config(&self) -> GenerateConfig {
        let mut config = GenerateConfig {
            output: self.output.clone(),
            dates: self.dates,
            securities: self.securities,
            size: self.size,
            orders_per_partition: self.orders_per_partition,
            seed: self.seed,
            with_aggressor: self.with_aggressor,
            ..GenerateConfig::default()
        };
        if let Some(workers) = self.workers {
            config.threads = workers as usize;
        }
        config
    }
}

/// Runs the generator with a progress display and prints what it wrote.
pub fn run(config: &GenerateConfig, quiet: bool) -> Result<GenerateSummary> {
    let progress = Arc::new(Progress::default());
    progress.set_total(config.size.unwrap_or(0));
    let display = ProgressDisplay::start("generate", Unit::Bytes, Arc::clone(&progress), quiet);
    let started = Instant::now();
    let result = generate_with_progress(config, &|written| {
        progress.advance(written.saturating_sub(progress.done()));
    });
    display.finish();
    let summary = result?;
    let bytes = summary.orders_bytes + summary.trades_bytes;
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "generated {} orders and {} trades in {} partitions: {} in {seconds:.2}s ({}/s) -> {}",
        summary.orders,
        summary.trades,
        summary.partitions,
        human_bytes(bytes),
        human_bytes((bytes as f64 / seconds.max(1e-9)) as u64),
        config.output.display()
    );
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_take_decimal_suffixes() {
        assert_eq!(parse_size("5000"), Ok(5000));
        assert_eq!(parse_size("64k"), Ok(64_000));
        assert_eq!(parse_size("2G"), Ok(2_000_000_000));
        assert!(parse_size("0").is_err());
        assert!(parse_size("-5M").is_err());
        assert!(parse_size("G").is_err());
    }
}

//! The command line's grammar (SPEC §6), as clap derive structs.
//!
//! The original Python pipeline's invocation keeps working with the binary
//! in its place, so the top level takes the run flags directly; phases and
//! tools are subcommands. Environment variables (`SWEEP_WORKERS`,
//! `SWEEP_CHUNK_SIZE`) are read here, and the flag wins over the variable.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Partition huge exchange order/trade dumps by (date, security) and
/// analyse the sweep orders of each partition.
#[derive(Debug, Parser)]
#[command(
    name = "sweep-pipeline",
    version,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// Phase or tool to run; without one, the full pipeline runs.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// The run's inputs and options.
    #[command(flatten)]
    pub run: RunArgs,

    /// Print cores, memory, free disk and the defaults that would be used.
    #[arg(long)]
    pub show_system_info: bool,

    /// With --show-system-info: print JSON.
    #[arg(long, requires = "show_system_info")]
    pub json: bool,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Phase 1 alone: split the inputs into partitions.
    Extract(RunArgs),
    /// Synthetic data: orders and trades from a limit order book simulation.
    Generate(super::generate_cmd::GenerateArgs),
    /// Look at or repair the registry of an output folder.
    Registry(super::registry_cmd::RegistryArgs),
    /// Phase 2 alone: analyse every partition of an extracted folder.
    Process(ProcessArgs),
    /// Generate a small data set and run the whole pipeline on it.
    Demo {
        /// Where to put the demo (replaced if it holds an earlier demo).
        #[arg(long, value_name = "DIR", default_value = "sweep-demo")]
        output: PathBuf,
        /// Never draw a progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Print machine facts and defaults (same as --show-system-info).
    SystemInfo {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Folder whose disk to report.
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

/// Inputs and options of a run (the top-level invocation and `extract`).
#[derive(Debug, Args, Clone)]
pub struct RunArgs {
    /// Orders CSV (SPEC §2).
    #[arg(long, value_name = "ORDERS.csv")]
    pub orders: Option<PathBuf>,

    /// Trades CSV (SPEC §2).
    #[arg(long, value_name = "TRADES.csv")]
    pub trades: Option<PathBuf>,

    /// Output folder.
    #[arg(long, value_name = "DIR")]
    pub output: Option<PathBuf>,

    /// Worker threads [default: one per logical core].
    #[arg(long, env = "SWEEP_WORKERS", value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub workers: Option<u32>,

    /// Rows per unit of work [default: 50000].
    #[arg(long, env = "SWEEP_CHUNK_SIZE", value_name = "ROWS", value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub chunk_size: Option<u64>,

    /// Continue an interrupted run in the output folder.
    #[arg(long, conflicts_with = "force")]
    pub resume: bool,

    /// Start over in an output folder that already holds a run.
    #[arg(long)]
    pub force: bool,

    /// Stop at the first rejected row, naming file, line and reason.
    #[arg(long)]
    pub strict: bool,

    /// Skip durability syncs (scratch runs only: a power loss may lose output).
    #[arg(long)]
    pub no_fsync: bool,

    /// Read the inputs with read() instead of memory-mapping them.
    #[arg(long, hide = true)]
    pub no_mmap: bool,

    /// Automatic retries of a failed partition.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub max_retries: u32,

    /// A sweep fills at this many distinct prices or more (K >= 2).
    #[arg(long, value_name = "K", default_value_t = 2, value_parser = clap::value_parser!(u32).range(2..))]
    pub sweep_min_levels: u32,

    /// Do not pin worker threads to cores.
    #[arg(long, hide = true)]
    pub no_pin: bool,

    /// Never draw a progress bar, even on a terminal.
    #[arg(long)]
    pub quiet: bool,
}

/// Flags of `process`.
#[derive(Debug, Args, Clone)]
pub struct ProcessArgs {
    /// The output folder of an extraction.
    #[arg(long, value_name = "DIR")]
    pub output: PathBuf,

    /// Worker threads [default: one per logical core].
    #[arg(long, env = "SWEEP_WORKERS", value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub workers: Option<u32>,

    /// Automatic retries of a failed partition.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub max_retries: u32,

    /// A sweep fills at this many distinct prices or more (K >= 2).
    #[arg(long, value_name = "K", default_value_t = 2, value_parser = clap::value_parser!(u32).range(2..))]
    pub sweep_min_levels: u32,

    /// Skip durability syncs (scratch runs only).
    #[arg(long)]
    pub no_fsync: bool,

    /// Never draw a progress bar, even on a terminal.
    #[arg(long)]
    pub quiet: bool,
}

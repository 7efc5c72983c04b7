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
#[derive(Debug, Args, Clone, Default)]
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

    /// Do not pin worker threads to cores.
    #[arg(long, hide = true)]
    pub no_pin: bool,

    /// Never draw a progress bar, even on a terminal.
    #[arg(long)]
    pub quiet: bool,
}

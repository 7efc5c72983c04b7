//! `sweep-pipeline registry list | reset-failed`: look at and repair the
//! registry of an output folder.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use sweep_pipeline::registry::{PartitionStatus, Registry, RegistryOptions};
use sweep_pipeline::{Error, Result};

/// Flags of `registry`.
#[derive(Debug, Args)]
pub struct RegistryArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: RegistryAction,
}

/// `registry` actions.
#[derive(Debug, Subcommand)]
pub enum RegistryAction {
    /// List partitions with status, attempts and last error.
    List {
        /// The run's output folder.
        #[arg(long, value_name = "DIR")]
        output: PathBuf,
        /// Only partitions with this status (pending, running, completed, failed).
        #[arg(long, value_parser = parse_status)]
        status: Option<PartitionStatus>,
    },
    /// Put failed partitions back to pending (a fresh retry budget).
    ResetFailed {
        /// The run's output folder.
        #[arg(long, value_name = "DIR")]
        output: PathBuf,
        /// Skip durability syncs.
        #[arg(long)]
        no_fsync: bool,
    },
}

fn parse_status(text: &str) -> std::result::Result<PartitionStatus, String> {
    text.parse()
}

/// Runs the action.
pub fn run(args: RegistryArgs) -> Result<()> {
    match args.action {
        RegistryAction::List { output, status } => list(&output, status),
        RegistryAction::ResetFailed { output, no_fsync } => {
            let mut registry = Registry::open_existing(
                &output,
                RegistryOptions {
                    fsync: !no_fsync,
                    ..RegistryOptions::default()
                },
            )?;
            let reset = registry.reset_failed()?;
            registry.sync()?;
            registry.compact()?;
            eprintln!(
                "{reset} failed partition(s) reset to pending; run again with --resume (or `process`) to retry them"
            );
            Ok(())
        }
    }
}

fn list(output: &std::path::Path, status: Option<PartitionStatus>) -> Result<()> {
    let registry = Registry::open_read_only(output)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut write = |line: String| -> Result<()> {
        match writeln!(out, "{line}") {
            // A closed pipe (`| head`) is the reader's choice, not an error.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            other => other.map_err(|e| Error::io("<stdout>", "write", e)),
        }
    };
    write(format!(
        "{:<44} {:<9} {:>8} {:>10} {:>10} {:>8} {:>10}  error",
        "partition", "status", "attempts", "orders", "trades", "sweeps", "seconds"
    ))?;
    let records = registry.list(status);
    for record in &records {
        write(format!(
            "{:<44} {:<9} {:>8} {:>10} {:>10} {:>8} {:>10}  {}",
            record.partition_key,
            record.status.as_str(),
            record.attempts,
            record.order_count,
            record.trade_count,
            record.sweep_orders.map_or(String::new(), |n| n.to_string()),
            record
                .duration_sec
                .map_or(String::new(), |s| format!("{s:.3}")),
            record.error_message.as_deref().unwrap_or(""),
        ))?;
    }
    let counts = registry.status_counts();
    eprintln!(
        "{} partition(s) listed; registry: {} completed, {} failed, {} pending, {} running",
        records.len(),
        counts.get(PartitionStatus::Completed),
        counts.get(PartitionStatus::Failed),
        counts.get(PartitionStatus::Pending),
        counts.get(PartitionStatus::Running),
    );
    Ok(())
}

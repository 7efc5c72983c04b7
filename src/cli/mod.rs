//! The command line (SPEC §6): argument parsing, dispatch to the library,
//! human messages and exit codes. One file per subcommand.
//!
//! Exit codes: 0 when every partition completed, 1 when some partition
//! failed (or the run stopped on a machine error), 2 for a usage or input
//! error.

mod args;
mod extract_cmd;
mod progress_display;
mod system_info_cmd;

use clap::Parser;

use sweep_pipeline::{Error, Result};

use args::{Cli, Command};

/// Every partition completed.
pub const EXIT_OK: i32 = 0;
/// Some partitions failed, or the run stopped on a machine error.
pub const EXIT_FAILED: i32 = 1;
/// A usage or input error.
pub const EXIT_USAGE: i32 = 2;

/// Entry point of the binary; returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    match dispatch(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error}");
            if error.is_usage_or_input() {
                EXIT_USAGE
            } else {
                EXIT_FAILED
            }
        }
    }
}

fn dispatch(cli: Cli) -> Result<i32> {
    if cli.show_system_info {
        system_info_cmd::run(cli.json, cli.run.output.as_deref())?;
        return Ok(EXIT_OK);
    }
    match cli.command {
        Some(Command::Extract(args)) => {
            let config = extract_cmd::config_from(&args)?;
            extract_cmd::run_extraction(config, args.quiet)?;
            Ok(EXIT_OK)
        }
        Some(Command::SystemInfo { json, output }) => {
            system_info_cmd::run(json, output.as_deref())?;
            Ok(EXIT_OK)
        }
        None => {
            if cli.run.orders.is_none() && cli.run.trades.is_none() && cli.run.output.is_none() {
                return Err(Error::usage(
                    "nothing to do: give --orders, --trades and --output, or a subcommand (see --help)",
                ));
            }
            let config = extract_cmd::config_from(&cli.run)?;
            eprintln!("note: processing is not built yet; this run extracts partitions only");
            extract_cmd::run_extraction(config, cli.run.quiet)?;
            Ok(EXIT_OK)
        }
    }
}

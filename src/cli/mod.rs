//! The command line (SPEC §6): argument parsing, dispatch to the library,
//! human messages and exit codes. One file per subcommand.
//!
//! Exit codes: 0 when every partition completed, 1 when some partition
//! failed (or the run stopped on a machine error), 2 for a usage or input
//! error.

mod args;
mod demo_cmd;
mod extract_cmd;
mod generate_cmd;
mod progress_display;
mod registry_cmd;
mod run_cmd;
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
    install_panic_hook();
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
            extract_cmd::run(&args)?;
            Ok(EXIT_OK)
        }
        Some(Command::Process(args)) => run_cmd::process(&args),
        Some(Command::Demo { output, quiet }) => demo_cmd::run(&output, quiet),
        Some(Command::Generate(args)) => {
            generate_cmd::run(&args.config(), args.quiet)?;
            Ok(EXIT_OK)
        }
        Some(Command::Registry(args)) => {
            registry_cmd::run(args)?;
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
            run_cmd::run(&cli.run)
        }
    }
}

/// A panic inside a partition's analysis is caught at the partition boundary
/// and recorded as that partition's error; the default hook would also dump
/// a backtrace per attempt onto the progress display. One line, with the
/// place, is enough to report it (set RUST_BACKTRACE=1 for the full trace).
fn install_panic_hook() {
    if std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v != "0") {
        return;
    }
    std::panic::set_hook(Box::new(|info| {
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_owned());
        eprintln!("internal error{place}: {message} (this is a bug; please report it)");
    }));
}

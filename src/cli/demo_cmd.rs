//! `sweep-pipeline demo`: a small generated data set through the whole
//! pipeline, so a new user sees every output in a few seconds.

use std::path::Path;

use sweep_pipeline::generate::GenerateConfig;
use sweep_pipeline::{Error, Result};

use super::args::RunArgs;
use super::{generate_cmd, run_cmd};

/// Marker that says a folder holds a demo, so `demo` may replace it without
/// ever deleting a folder it did not make.
const DEMO_MARKER: &str = ".sweep-pipeline-demo";

/// Generates the demo data into `output/input`, runs the pipeline into
/// `output/run`, and says where everything is. Returns the exit code.
pub fn run(output: &Path, quiet: bool) -> Result<i32> {
    if output.exists() {
        if !output.join(DEMO_MARKER).exists() {
            return Err(Error::usage(format!(
                "{} exists and is not a demo folder; choose another with --output",
                output.display()
            )));
        }
        std::fs::remove_dir_all(output).map_err(|e| Error::io(output, "remove", e))?;
    }
    std::fs::create_dir_all(output).map_err(|e| Error::io(output, "create folder", e))?;
    std::fs::write(output.join(DEMO_MARKER), "made by `sweep-pipeline demo`\n")
        .map_err(|e| Error::io(output, "write", e))?;

    let input = output.join("input");
    let generate = GenerateConfig {
        output: input.clone(),
        dates: 2,
        securities: 8,
        orders_per_partition: Some(3_000),
        seed: 2024,
        with_aggressor: true,
        ..GenerateConfig::default()
    };
    generate_cmd::run(&generate, quiet)?;

    let run_dir = output.join("run");
    let args = RunArgs {
        orders: Some(input.join("orders.csv")),
        trades: Some(input.join("trades.csv")),
        output: Some(run_dir.clone()),
        workers: None,
        chunk_size: None,
        resume: false,
        force: false,
        strict: false,
        no_fsync: false,
        no_mmap: false,
        max_retries: 3,
        sweep_min_levels: 2,
        no_pin: false,
        quiet,
    };
    let code = run_cmd::run(&args)?;

    let example = first_partition(&run_dir.join("partitions"));
    println!("demo data:   {}", input.display());
    println!("partitions:  {}", run_dir.join("partitions").display());
    if let Some(partition) = example {
        println!("statistics:  {}", partition.join("stats").display());
        println!(
            "  e.g. {}",
            partition
                .join("stats/matched/sweep_order_comparison_summary.csv")
                .display()
        );
    }
    println!(
        "registry:    {}",
        run_dir.join("partition_registry.json").display()
    );
    println!("rejected:    {}", run_dir.join("rejected").display());
    Ok(code)
}

/// The first partition folder, in name order.
fn first_partition(partitions: &Path) -> Option<std::path::PathBuf> {
    let first_child = |dir: &Path| {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .ok()?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.is_dir())
            .collect();
        entries.sort();
        entries.into_iter().next()
    };
    first_child(&first_child(partitions)?)
}

//! `--show-system-info` / `sweep-pipeline system-info`: the machine and the
//! defaults chosen for it.

use std::path::Path;

use sweep_pipeline::Result;
use sweep_pipeline::system::SystemInfo;

use super::progress_display::human_bytes;

/// Prints the system information, as text or JSON.
pub fn run(json: bool, output: Option<&Path>) -> Result<()> {
    let info = SystemInfo::detect(output.or(Some(Path::new("."))));
    if json {
        let text = serde_json::to_string_pretty(&info)
            .map_err(|e| sweep_pipeline::Error::usage(format!("cannot encode JSON: {e}")))?;
        println!("{text}");
        return Ok(());
    }
    println!("logical cores:      {}", info.logical_cores);
    match info.physical_cores {
        Some(cores) => println!("physical cores:     {cores}"),
        None => println!("physical cores:     unknown"),
    }
    println!(
        "total memory:       {}",
        human_bytes(info.total_memory_bytes)
    );
    println!(
        "available memory:   {}",
        human_bytes(info.available_memory_bytes)
    );
    match info.output_disk_free_bytes {
        Some(free) => println!("free disk (output): {}", human_bytes(free)),
        None => println!("free disk (output): unknown"),
    }
    println!(
        "core pinning:       {}",
        if info.core_pinning {
            "available"
        } else {
            "not available"
        }
    );
    println!(
        "workers:            {} ({})",
        info.defaults.workers, info.defaults.workers_reason
    );
    println!(
        "chunk size:         {} rows ({})",
        info.defaults.chunk_rows, info.defaults.chunk_rows_reason
    );
    Ok(())
}

//! Facts about the machine (cores, memory, disk) and the defaults derived
//! from them: the number of workers and the chunk size.
//!
//! Detection runs once per process; `--show-system-info` prints the same
//! figures and the reason for each default, so a user can see why the tool
//! chose what it chose.

use std::path::Path;

use serde::Serialize;

/// Rows per unit of work when nothing else is said: large enough that
/// per-chunk overhead (a channel hop, a hash map clear) is noise, small
/// enough that several chunks per worker fit in one 32 MiB window.
pub const DEFAULT_CHUNK_ROWS: usize = 50_000;

/// The defaults the command line uses, and why.
#[derive(Clone, Debug, Serialize)]
pub struct Defaults {
    /// Worker threads.
    pub workers: usize,
    /// Why that many.
    pub workers_reason: String,
    /// Rows per unit of work.
    pub chunk_rows: usize,
    /// Why that many.
    pub chunk_rows_reason: String,
}

impl Defaults {
    /// Derives the defaults from this machine.
    pub fn detect() -> Defaults {
        let logical = std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(1);
        let available_memory = memory().map_or(0, |(_, available)| available);
        // Each worker holds a few chunks of about 5 MB in flight; on a
        // machine with less than 256 MiB per core, fewer workers and
        // smaller chunks keep extraction within memory.
        let per_core_memory = available_memory / logical.max(1) as u64;
        let (chunk_rows, chunk_rows_reason) = if available_memory == 0
            || per_core_memory >= 256 << 20
        {
            (
                DEFAULT_CHUNK_ROWS,
                format!(
                    "{DEFAULT_CHUNK_ROWS} rows (about 4 MB) keeps every core busy with little memory"
                ),
            )
        } else {
            (
                DEFAULT_CHUNK_ROWS / 5,
                "less than 256 MiB of available memory per core: smaller chunks".to_owned(),
            )
        };
        Defaults {
            workers: logical,
            workers_reason: format!("one worker per logical core ({logical})"),
            chunk_rows,
            chunk_rows_reason,
        }
    }
}

/// What `--show-system-info` reports.
#[derive(Clone, Debug, Serialize)]
pub struct SystemInfo {
    /// Logical cores (hardware threads) available to this process.
    pub logical_cores: usize,
    /// Physical cores, when the OS says.
    pub physical_cores: Option<usize>,
    /// Total memory, bytes.
    pub total_memory_bytes: u64,
    /// Available memory, bytes.
    pub available_memory_bytes: u64,
    /// Free space on the disk holding the output folder, bytes, when known.
    pub output_disk_free_bytes: Option<u64>,
    /// True when threads can be pinned to cores here.
    pub core_pinning: bool,
    /// The defaults and their reasons.
    pub defaults: Defaults,
}

impl SystemInfo {
    /// Reads the machine; `output` is the folder whose disk to report.
    pub fn detect(output: Option<&Path>) -> SystemInfo {
        let (total_memory_bytes, available_memory_bytes) = memory().unwrap_or((0, 0));
        let output_disk_free_bytes = output.and_then(|path| {
            let path = nearest_existing(path)?;
            let disks = sysinfo::Disks::new_with_refreshed_list().ok()?;
            disks
                .iter()
                .filter(|disk| path.starts_with(disk.mount_point()))
                .max_by_key(|disk| disk.mount_point().as_os_str().len())
                .map(|disk| disk.available_space())
        });
        SystemInfo {
            logical_cores: std::thread::available_parallelism()
                .map(usize::from)
                .unwrap_or(1),
            physical_cores: sysinfo::System::physical_core_count().ok(),
            total_memory_bytes,
            available_memory_bytes,
            output_disk_free_bytes,
            core_pinning: core_affinity::get_core_ids().is_some_and(|ids| !ids.is_empty()),
            defaults: Defaults::detect(),
        }
    }
}

/// Total and available memory in bytes, when the OS tells.
fn memory() -> Option<(u64, u64)> {
    let mut system = sysinfo::System::new().ok()?;
    system.refresh_memory();
    Some((system.total_memory(), system.available_memory()))
}

/// The path itself or its closest existing ancestor, made absolute.
fn nearest_existing(path: &Path) -> Option<std::path::PathBuf> {
    let absolute = std::path::absolute(path).ok()?;
    absolute
        .ancestors()
        .find(|ancestor| ancestor.exists())
        .and_then(|ancestor| ancestor.canonicalize().ok())
}

//! Writing the stats files so that a partition's outputs are complete or
//! absent: each file is written under a temporary name in its final folder
//! and renamed over the final name (atomic on POSIX file systems). With
//! `fsync`, each file is synced before its rename and the folders after, so a
//! partition the registry marks completed has its files on disk.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Where the four stats files of a partition go.
pub struct StatsPaths {
    /// `stats/matched`.
    pub matched_dir: PathBuf,
    /// `stats/unmatched`.
    pub unmatched_dir: PathBuf,
}

impl StatsPaths {
    /// The stats folders under `partition_dir`.
    pub fn new(partition_dir: &Path) -> StatsPaths {
        let stats = partition_dir.join("stats");
        StatsPaths {
            matched_dir: stats.join("matched"),
            unmatched_dir: stats.join("unmatched"),
        }
    }

    /// Creates the folders (and syncs their parents when `fsync`, so the new
    /// entries survive a crash).
    pub fn create(&self, fsync: bool) -> Result<()> {
        for dir in [&self.matched_dir, &self.unmatched_dir] {
            fs::create_dir_all(dir).map_err(|e| Error::io(dir, "create folder", e))?;
        }
        if fsync && let Some(stats) = self.matched_dir.parent() {
            sync_dir(stats)?;
            if let Some(partition) = stats.parent() {
                sync_dir(partition)?;
            }
        }
        Ok(())
    }
}

/// Writes `contents` to `dir/name` through `dir/.name.tmp` and a rename.
pub fn write_atomically(dir: &Path, name: &str, contents: &[u8], fsync: bool) -> Result<()> {
    let final_path = dir.join(name);
    let temporary = dir.join(format!(".{name}.tmp"));
    let mut file = File::create(&temporary).map_err(|e| Error::io(&temporary, "create", e))?;
    file.write_all(contents)
        .map_err(|e| Error::io(&temporary, "write", e))?;
    if fsync {
        file.sync_all().map_err(|e| Error::sync(&temporary, e))?;
    }
    drop(file);
    fs::rename(&temporary, &final_path).map_err(|e| Error::io(&final_path, "rename", e))
}

/// Syncs a folder, making the names created or renamed in it durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    let handle = File::open(dir).map_err(|e| Error::io(dir, "open folder", e))?;
    handle.sync_all().map_err(|e| Error::sync(dir, e))
}

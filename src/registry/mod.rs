//! The crash-safe partition registry (SPEC §5): every partition, its status
//! and figures, the run's inputs and its extraction counts.
//!
//! | file | owns |
//! |---|---|
//! | `mod.rs` | [`Registry`]: opening, the public operations, durability |
//! | `log.rs` | `partition_registry.log`: framing, checksums, torn-tail recovery |
//! | `record.rs` | the events the log records and their versioned encoding |
//! | `state.rs` | the in-memory registry and the rules for changing it |
//! | `snapshot.rs` | `partition_registry.json`: the compaction, written atomically |
//! | `inputs.rs` | input fingerprints, and refusing `--resume` on changed inputs |
//!
//! It does not run analyses, write stats files or decide retry policy; the
//! engine does, calling [`Registry::mark_running`] and friends.
//!
//! # How a change is made
//!
//! Every change is an event, checked against the current state, appended to
//! the log, and then applied in memory (`state.rs`). Opening replays the log
//! through the same check-and-apply code, so the replayed state is the live
//! state by construction; sequence numbers make replay idempotent (a record
//! at or below the last applied sequence number is skipped). The log is the
//! source of truth. `partition_registry.json` is a compaction of it, rewritten
//! by [`Registry::compact`]; it is read only when there is no log (a folder
//! made by the Python pipeline, or a lost log), and then imported as the
//! first record of a new log.
//!
//! # Durability
//!
//! - **Stats before `completed`.** The engine makes a partition's stats files
//!   durable (written to a temporary name, fsynced, renamed) *before* calling
//!   [`Registry::mark_completed`]. So even a `completed` record that was never
//!   synced, or that survives a crash the files did not, never points at
//!   missing files. A completed record lost in a crash only means the
//!   partition is analysed again on resume, which rewrites the same files.
//! - **Group commit.** Appends are not synced one by one. The log is synced
//!   every [`RegistryOptions::sync_every`] records, at the end of extraction,
//!   after administrative changes (resets, imports), before every compaction,
//!   and whenever the caller asks ([`Registry::sync`], e.g. at the end of a
//!   phase). A torn or unsynced tail is dropped on recovery; those partitions
//!   are simply pending or running again.
//! - **`--no-fsync`** ([`RegistryOptions::fsync`] false) skips every fsync:
//!   records and the JSON still reach the page cache in order and the JSON is
//!   still renamed into place whole, so a killed process recovers; a power
//!   loss may lose more.
//! - **A failed fsync stops the run.** It returns [`Error::sync`] and is
//!   never retried; the log refuses further appends. Dropping a [`Registry`]
//!   does not sync (a sync error there could not be reported): call
//!   [`Registry::sync`] or [`Registry::compact`] before.
//!
//! # One writer
//!
//! A registry opened for writing holds an exclusive `flock` on the log, so a
//! second run on the same folder fails at once. Opening for writing also turns
//! `running` partitions back into `pending`: holding the lock proves their run
//! is dead. [`Registry::open_read_only`] (for `registry list`) takes no lock,
//! changes nothing, and may be used while a run is going.

mod inputs;
pub(crate) mod log;
mod record;
mod snapshot;
mod state;

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::error::{Error, ErrorKind, Result};

pub use inputs::{InputFingerprint, RunInputs};
pub use record::ExtractionCounts;
pub use snapshot::JSON_FILE_NAME;
pub use state::{
    ExtractionRecord, PartitionFigures, PartitionRecord, PartitionStatus, StatusCounts,
    partition_key,
};

use log::{RegistryLog, corrupt};
use record::RegistryEvent;
use snapshot::{JSON_TEMP_FILE_NAME, RegistrySnapshot, read_snapshot, write_snapshot};
use state::{RegistryState, duration_to_micros};

/// File name of the registry log.
pub const LOG_FILE_NAME: &str = "partition_registry.log";

/// How the registry writes. Built from flags (`--no-fsync`) by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistryOptions {
    /// Make the log and the JSON durable with fsync. Off for scratch runs.
    pub fsync: bool,
    /// Sync the log after this many unsynced records (group commit); at
    /// least 1.
    pub sync_every: usize,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            fsync: true,
            sync_every: 64,
        }
    }
}

/// The registry of one output folder: the state in memory and, unless opened
/// read-only, the log it is appended to. See the module doc.
#[derive(Debug)]
pub struct Registry {
    dir: PathBuf,
    state: RegistryState,
    /// `None` when opened read-only.
    log: Option<RegistryLog>,
    options: RegistryOptions,
}

/// Path of the log in `output_dir`.
pub fn log_path(output_dir: &Path) -> PathBuf {
    output_dir.join(LOG_FILE_NAME)
}

/// Path of the JSON in `output_dir`.
pub fn json_path(output_dir: &Path) -> PathBuf {
    output_dir.join(JSON_FILE_NAME)
}

/// Now, RFC 3339 UTC to the second, as the Python registry wrote it.
fn now() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

/// Makes a folder's entries (a created or renamed file) durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    let handle = std::fs::File::open(dir).map_err(|e| Error::io(dir, "open", e))?;
    handle.sync_all().map_err(|e| Error::sync(dir, e))
}

fn no_registry(dir: &Path) -> Error {
    Error::usage(format!(
        "{} holds no partition registry ({LOG_FILE_NAME} or {JSON_FILE_NAME}); \
         run the pipeline there first",
        dir.display()
    ))
}

fn file_has_bytes(path: &Path) -> Result<bool> {
    match std::fs::metadata(path) {
        Ok(metadata) => Ok(metadata.len() > 0),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io(path, "stat", e)),
    }
}

fn remove_if_present(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(path, "remove", e)),
    }
}

/// Rebuilds the state from log records (see the module doc).
fn replay(path: &Path, records: &[log::LogRecord]) -> Result<(RegistryState, u64)> {
    let mut state = RegistryState::default();
    let mut last_applied = 0u64;
    for record in records {
        if record.seq <= last_applied {
            continue;
        }
        let at = |reason: String| {
            corrupt(
                path,
                format!(
                    "record {} at byte offset {}: {reason}",
                    record.number, record.offset
                ),
            )
        };
        let event = RegistryEvent::decode(record.record_type, &record.payload).map_err(at)?;
        state.check(&event).map_err(|reason| {
            at(format!(
                "the {} event{} does not apply: {reason}",
                event.name(),
                event
                    .key()
                    .map(|key| format!(" for partition {key}"))
                    .unwrap_or_default()
            ))
        })?;
        state.apply(event);
        last_applied = record.seq;
    }
    Ok((state, last_applied))
}

impl Registry {
    /// Whether `output_dir` already holds a registry (a non-empty log or a
    /// JSON).
    pub fn exists(output_dir: &Path) -> Result<bool> {
        Ok(file_has_bytes(&log_path(output_dir))? || json_path(output_dir).exists())
    }

    /// Starts the registry of a new run in `output_dir` (created if need be).
    /// Refused with [`ErrorKind::OutputInUse`] when the folder already holds
    /// a registry: the caller asks for `--resume` or `--force`.
    pub fn create(
        output_dir: &Path,
        inputs: RunInputs,
        options: RegistryOptions,
    ) -> Result<Registry> {
        std::fs::create_dir_all(output_dir).map_err(|e| Error::io(output_dir, "create", e))?;
        if Registry::exists(output_dir)? {
            return Err(ErrorKind::OutputInUse {
                path: output_dir.to_path_buf(),
            }
            .into());
        }
        Registry::start(output_dir, inputs, options, false)
    }

    /// Like [`Registry::create`], but an existing registry (log and JSON) is
    /// discarded first (`--force`). Other files of the folder are the
    /// caller's business: call this *before* deleting old partition folders,
    /// so that no crash leaves the old registry claiming completed partitions
    /// whose files are gone.
    pub fn create_forced(
        output_dir: &Path,
        inputs: RunInputs,
        options: RegistryOptions,
    ) -> Result<Registry> {
        std::fs::create_dir_all(output_dir).map_err(|e| Error::io(output_dir, "create", e))?;
        Registry::start(output_dir, inputs, options, true)
    }

    fn start(
        dir: &Path,
        inputs: RunInputs,
        options: RegistryOptions,
        replace: bool,
    ) -> Result<Registry> {
        // Lock first, so a run still using the folder is never pulled from
        // under. Then the JSON goes (durably) before the log is emptied: an
        // empty log next to the old JSON would bring the old run back by
        // import after a crash.
        let mut log = RegistryLog::create(&log_path(dir), options.fsync, replace)?;
        remove_if_present(&json_path(dir))?;
        remove_if_present(&dir.join(JSON_TEMP_FILE_NAME))?;
        if options.fsync {
            sync_dir(dir)?;
        }
        log.clear()?;
        let mut registry = Registry {
            dir: dir.to_path_buf(),
            state: RegistryState::default(),
            log: Some(log),
            options,
        };
        registry.commit(RegistryEvent::Created {
            at: now(),
            inputs: Some(inputs),
        })?;
        registry.sync()?;
        if options.fsync {
            // The log's directory entry, and the removals above.
            sync_dir(dir)?;
        }
        registry.compact()?;
        Ok(registry)
    }

    /// Opens the registry of an interrupted run to continue it (`--resume`).
    /// With `current_inputs`, refuses with [`ErrorKind::InputsChanged`] when
    /// they differ from the recorded ones (nothing is written then). Running
    /// partitions become pending again.
    pub fn open_for_resume(
        output_dir: &Path,
        current_inputs: Option<&RunInputs>,
        options: RegistryOptions,
    ) -> Result<Registry> {
        Registry::open_writable(output_dir, current_inputs, options)
    }

    /// Opens an existing registry for writing without looking at inputs
    /// (`process`, `registry reset-failed`). Running partitions become pending
    /// again.
    pub fn open_existing(output_dir: &Path, options: RegistryOptions) -> Result<Registry> {
        Registry::open_writable(output_dir, None, options)
    }

    /// Opens an existing registry to look at it (`registry list`): no lock,
    /// no recovery writes, every change refused. Safe while a run is going; a
    /// record being appended at that instant is not seen.
    pub fn open_read_only(output_dir: &Path) -> Result<Registry> {
        let log_file = log_path(output_dir);
        let mut state = None;
        if file_has_bytes(&log_file)? {
            let recovered = log::read_log(&log_file)?;
            if !recovered.records.is_empty() {
                state = Some(replay(&log_file, &recovered.records)?.0);
            }
        }
        let state = match state {
            Some(state) => state,
            None => {
                let json = json_path(output_dir);
                if !json.exists() {
                    return Err(no_registry(output_dir));
                }
                read_snapshot(&json)?.into_state()
            }
        };
        Ok(Registry {
            dir: output_dir.to_path_buf(),
            state,
            log: None,
            options: RegistryOptions::default(),
        })
    }

    fn open_writable(
        dir: &Path,
        current_inputs: Option<&RunInputs>,
        options: RegistryOptions,
    ) -> Result<Registry> {
        let log_file = log_path(dir);
        let json = json_path(dir);
        if !Registry::exists(dir)? {
            return Err(no_registry(dir));
        }
        let (log, records) = RegistryLog::open(&log_file, options.fsync)?;
        let (state, import) = if records.is_empty() {
            // No log (or nothing complete in it): take over the JSON.
            if !json.exists() {
                return Err(no_registry(dir));
            }
            let event = RegistryEvent::Imported {
                at: now(),
                snapshot: Box::new(read_snapshot(&json)?),
            };
            let mut state = RegistryState::default();
            state.apply(event.clone());
            (state, Some(event))
        } else {
            (replay(&log_file, &records)?.0, None)
        };
        let mut registry = Registry {
            dir: dir.to_path_buf(),
            state,
            log: Some(log),
            options,
        };
        // Refuse before writing anything.
        let record_inputs = match (registry.state.inputs.as_ref(), current_inputs) {
            (Some(recorded), Some(current)) => {
                recorded.check_unchanged(current)?;
                None
            }
            (None, Some(current)) => Some(current.clone()),
            (_, None) => None,
        };
        let mut changed = false;
        if let Some(event) = import {
            // `apply` is deterministic, so appending the event now gives the
            // state already built from it.
            registry.append_applied(&event)?;
            changed = true;
        }
        if let Some(inputs) = record_inputs {
            registry.commit(RegistryEvent::InputsRecorded { at: now(), inputs })?;
            changed = true;
        }
        if registry.state.has_running() {
            registry.commit(RegistryEvent::InterruptedReset { at: now() })?;
            changed = true;
        }
        if changed {
            registry.sync()?;
        }
        if registry.options.fsync {
            // The log may have just been created (import).
            sync_dir(dir)?;
        }
        remove_if_present(&dir.join(JSON_TEMP_FILE_NAME))?;
        Ok(registry)
    }

    /// Checks, appends and applies one event; syncs when the group is full.
    fn commit(&mut self, event: RegistryEvent) -> Result<()> {
        if let Err(reason) = self.state.check(&event) {
            return Err(match event.key() {
                Some(key) => ErrorKind::Partition {
                    key: key.to_string(),
                    reason,
                }
                .into(),
                None => Error::usage(reason),
            });
        }
        self.append_applied(&event)?;
        self.state.apply(event);
        Ok(())
    }

    /// Appends an event whose effect is (or is about to be) in the state.
    fn append_applied(&mut self, event: &RegistryEvent) -> Result<()> {
        let RegistryOptions { fsync, sync_every } = self.options;
        let log = self.writer()?;
        let (record_type, payload) = event.encode();
        log.append(record_type, &payload)?;
        if fsync && log.unsynced() >= sync_every.max(1) {
            log.sync()?;
        }
        Ok(())
    }

    fn writer(&mut self) -> Result<&mut RegistryLog> {
        let dir = &self.dir;
        self.log.as_mut().ok_or_else(|| {
            Error::usage(format!(
                "the registry in {} was opened read-only",
                dir.display()
            ))
        })
    }

    /// Records the end of extraction: every partition found becomes pending
    /// (partitions already known keep their status), and the row counts are
    /// kept. Synced at once: the end of a phase.
    pub fn record_extraction_finished(
        &mut self,
        partitions: &[(String, String)],
        rows: ExtractionCounts,
    ) -> Result<()> {
        self.commit(RegistryEvent::ExtractionFinished {
            at: now(),
            partitions: partitions.to_vec(),
            counts: rows,
        })?;
        self.sync()
    }

    /// Whether extraction has finished (a resume skips it then).
    pub fn extraction_finished(&self) -> bool {
        self.state.extraction.is_some()
    }

    /// The recorded end of extraction, with its counts.
    pub fn extraction(&self) -> Option<&ExtractionRecord> {
        self.state.extraction.as_ref()
    }

    /// Adds one pending partition; a partition already known is left as it
    /// is (and nothing is written).
    pub fn add_partition(&mut self, date: &str, security_code: &str) -> Result<()> {
        if self
            .state
            .partitions
            .contains_key(&partition_key(date, security_code))
        {
            return Ok(());
        }
        self.commit(RegistryEvent::PartitionsAdded {
            at: now(),
            partitions: vec![(date.to_string(), security_code.to_string())],
        })
    }

    /// An attempt at `key` starts: `attempts` += 1, `started_at` set. The
    /// partition must be pending or failed.
    pub fn mark_running(&mut self, key: &str) -> Result<()> {
        self.commit(RegistryEvent::Started {
            at: now(),
            key: key.to_string(),
        })
    }

    /// The attempt at `key` succeeded. Call only once its stats files are
    /// durable (see the module doc). The partition must be running.
    pub fn mark_completed(
        &mut self,
        key: &str,
        figures: PartitionFigures,
        duration_sec: f64,
    ) -> Result<()> {
        self.commit(RegistryEvent::Completed {
            at: now(),
            key: key.to_string(),
            figures,
            duration_us: duration_to_micros(duration_sec),
        })
    }

    /// The attempt at `key` failed with `error`. The partition must be
    /// running.
    pub fn mark_failed(&mut self, key: &str, error: &str, duration_sec: f64) -> Result<()> {
        self.commit(RegistryEvent::Failed {
            at: now(),
            key: key.to_string(),
            error: error.to_string(),
            duration_us: duration_to_micros(duration_sec),
        })
    }

    /// Makes every failed partition pending again with `attempts` back to 0
    /// (a fresh retry budget; the last error stays visible until the next
    /// attempt ends). Returns how many were reset; synced at once.
    pub fn reset_failed(&mut self) -> Result<usize> {
        let failed = self.state.status_counts().failed;
        if failed == 0 {
            return Ok(0);
        }
        self.commit(RegistryEvent::FailedReset { at: now() })?;
        self.sync()?;
        Ok(failed)
    }

    /// The partitions with `status` (all when `None`), by key.
    pub fn list(&self, status: Option<PartitionStatus>) -> Vec<&PartitionRecord> {
        self.state
            .partitions
            .values()
            .filter(|record| status.is_none_or(|status| record.status == status))
            .collect()
    }

    /// The failed partitions, by key, with their errors.
    pub fn list_failed(&self) -> Vec<&PartitionRecord> {
        self.list(Some(PartitionStatus::Failed))
    }

    /// Keys of the pending partitions, sorted.
    pub fn pending_keys(&self) -> Vec<String> {
        self.keys_where(|record| record.status == PartitionStatus::Pending)
    }

    /// Keys of the failed partitions with fewer than `max_attempts` attempts,
    /// sorted: those an automatic retry may take again. With `--max-retries
    /// N`, `max_attempts` is N + 1.
    pub fn retryable_failed_keys(&self, max_attempts: u32) -> Vec<String> {
        self.keys_where(|record| {
            record.status == PartitionStatus::Failed && record.attempts < max_attempts
        })
    }

    fn keys_where(&self, keep: impl Fn(&PartitionRecord) -> bool) -> Vec<String> {
        self.state
            .partitions
            .iter()
            .filter(|(_, record)| keep(record))
            .map(|(key, _)| key.clone())
            .collect()
    }

    /// How many partitions are in each status.
    pub fn status_counts(&self) -> StatusCounts {
        self.state.status_counts()
    }

    /// How many partitions the registry holds.
    pub fn total_partitions(&self) -> usize {
        self.state.partitions.len()
    }

    /// One partition by key (`YYYY-MM-DD/security_code`).
    pub fn get(&self, key: &str) -> Option<&PartitionRecord> {
        self.state.partitions.get(key)
    }

    /// The recorded inputs (absent for a registry imported from the Python
    /// pipeline until a resume records them).
    pub fn inputs(&self) -> Option<&RunInputs> {
        self.state.inputs.as_ref()
    }

    /// When the run started, RFC 3339 UTC.
    pub fn created_at(&self) -> &str {
        &self.state.created_at
    }

    /// When the registry last changed, RFC 3339 UTC.
    pub fn updated_at(&self) -> &str {
        &self.state.updated_at
    }

    /// The output folder.
    pub fn output_dir(&self) -> &Path {
        &self.dir
    }

    /// Whether the registry was opened with [`Registry::open_read_only`].
    pub fn is_read_only(&self) -> bool {
        self.log.is_none()
    }

    /// Makes every appended record durable (group commit). A no-op when
    /// fsync is off, nothing is pending, or the registry is read-only. A
    /// failure is [`Error::sync`]: stop the run, do not retry.
    pub fn sync(&mut self) -> Result<()> {
        match self.log.as_mut() {
            Some(log) => log.sync(),
            None => Ok(()),
        }
    }

    /// Syncs the log, then rewrites `partition_registry.json` atomically from
    /// the current state.
    pub fn compact(&mut self) -> Result<()> {
        let fsync = self.options.fsync;
        let log = self.writer()?;
        log.sync()?;
        let last_seq = log.last_seq();
        let snapshot = RegistrySnapshot::from_state(&self.state, last_seq);
        write_snapshot(&self.dir, &snapshot, fsync)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_skips_records_at_or_below_the_last_sequence_number() {
        let created = RegistryEvent::Created {
            at: "t0".into(),
            inputs: None,
        };
        let added = RegistryEvent::PartitionsAdded {
            at: "t1".into(),
            partitions: vec![("2024-09-05".into(), "A".into())],
        };
        let started = RegistryEvent::Started {
            at: "t2".into(),
            key: "2024-09-05/A".into(),
        };
        let record = |number: u64, seq: u64, event: &RegistryEvent| {
            let (record_type, payload) = event.encode();
            log::LogRecord {
                offset: 0,
                number,
                record_type,
                seq,
                payload,
            }
        };
        // The `started` record appears twice: applying it twice would be
        // refused (running → running), so it must be skipped.
        let records = vec![
            record(1, 1, &created),
            record(2, 2, &added),
            record(3, 3, &started),
            record(4, 3, &started),
        ];
        let (state, last) = replay(Path::new("log"), &records).unwrap();
        assert_eq!(last, 3);
        assert_eq!(state.partitions["2024-09-05/A"].attempts, 1);
    }

    #[test]
    fn an_event_that_does_not_apply_is_corruption() {
        let started = RegistryEvent::Started {
            at: "t2".into(),
            key: "2024-09-05/A".into(),
        };
        let (record_type, payload) = started.encode();
        let records = vec![log::LogRecord {
            offset: 0,
            number: 1,
            record_type,
            seq: 1,
            payload,
        }];
        let error = replay(Path::new("log"), &records).unwrap_err().to_string();
        assert!(
            error.contains("record 1 at byte offset 0: the started event for partition 2024-09-05/A does not apply"),
            "{error}"
        );
    }
}

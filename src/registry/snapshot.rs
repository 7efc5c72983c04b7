//! `partition_registry.json`: the compaction of the log into the Python
//! pipeline's registry format (SPEC §5), plus fields of ours, and how it is
//! written atomically and read back.
//!
//! The JSON is a *view*: the log is the source of truth and is never cut
//! after a compaction. The JSON is read only when the log is missing (a
//! folder from the Python pipeline, or a lost log); it is then imported as
//! the first record of a new log.
//!
//! Writing: to `.partition_registry.json.tmp` in the same folder, fsynced,
//! renamed over `partition_registry.json`, then the folder fsynced, so the
//! JSON is always the previous or the next complete version. The temporary
//! file is removed when a write fails, and a leftover one (a crash between
//! create and rename) is removed when the registry is next opened for writing.
//!
//! Format: the Python fields (`created_at`, `total_partitions`,
//! `status_counts`, `partitions`) unchanged, and ours added: `updated_at`,
//! `inputs`, `sweep_min_levels`, `rejected_rows`, `extraction`, `log_seq`
//! (the log record the JSON reflects). Reading accepts any subset, so a
//! Python registry loads.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::inputs::{InputFingerprint, RunInputs};
use super::record::ExtractionCounts;
use super::state::{
    ExtractionRecord, PartitionRecord, PartitionStatus, RegistryState, StatusCounts,
    duration_to_micros, micros_to_seconds, partition_key,
};
use super::sync_dir;
use crate::error::{Error, ErrorKind, Result};

/// File name of the JSON registry.
pub const JSON_FILE_NAME: &str = "partition_registry.json";
/// File name of the JSON being written.
pub(crate) const JSON_TEMP_FILE_NAME: &str = ".partition_registry.json.tmp";

/// The JSON document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct RegistrySnapshot {
    #[serde(default)]
    pub created_at: String,
    #[serde(default)]
    pub updated_at: String,
    #[serde(default)]
    pub total_partitions: usize,
    #[serde(default)]
    pub status_counts: StatusCounts,
    #[serde(default)]
    pub partitions: BTreeMap<String, PartitionRecord>,
    #[serde(default)]
    pub inputs: Option<SnapshotInputs>,
    #[serde(default)]
    pub sweep_min_levels: Option<u32>,
    #[serde(default)]
    pub rejected_rows: RejectedRows,
    #[serde(default)]
    pub extraction: ExtractionSummary,
    #[serde(default)]
    pub log_seq: u64,
}

/// `inputs` in the JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SnapshotInputs {
    pub orders: InputFingerprint,
    pub trades: InputFingerprint,
}

/// `rejected_rows` in the JSON.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RejectedRows {
    #[serde(default)]
    pub orders: u64,
    #[serde(default)]
    pub trades: u64,
}

/// Whether extraction has finished.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ExtractionStatus {
    #[default]
    Pending,
    Completed,
}

/// `extraction` in the JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ExtractionSummary {
    #[serde(default)]
    pub status: ExtractionStatus,
    #[serde(default)]
    pub orders_rows: u64,
    #[serde(default)]
    pub trades_rows: u64,
    #[serde(default)]
    pub partitions: usize,
    #[serde(default)]
    pub finished_at: Option<String>,
}

impl RegistrySnapshot {
    /// The JSON view of `state` after log record `log_seq`.
    pub fn from_state(state: &RegistryState, log_seq: u64) -> RegistrySnapshot {
        let counts = state
            .extraction
            .as_ref()
            .map(|e| e.counts)
            .unwrap_or_default();
        RegistrySnapshot {
            created_at: state.created_at.clone(),
            updated_at: state.updated_at.clone(),
            total_partitions: state.partitions.len(),
            status_counts: state.status_counts(),
            partitions: state.partitions.clone(),
            inputs: state.inputs.as_ref().map(|inputs| SnapshotInputs {
                orders: inputs.orders.clone(),
                trades: inputs.trades.clone(),
            }),
            sweep_min_levels: state.inputs.as_ref().map(|i| i.sweep_min_levels),
            rejected_rows: RejectedRows {
                orders: counts.orders_rejected,
                trades: counts.trades_rejected,
            },
            extraction: match &state.extraction {
                None => ExtractionSummary::default(),
                Some(extraction) => ExtractionSummary {
                    status: ExtractionStatus::Completed,
                    orders_rows: counts.orders_rows,
                    trades_rows: counts.trades_rows,
                    partitions: extraction.partitions,
                    finished_at: Some(extraction.finished_at.clone()),
                },
            },
            log_seq,
        }
    }

    /// The registry state this JSON describes. Derived fields
    /// (`total_partitions`, `status_counts`) are recomputed, not trusted;
    /// records missing their key, date or code get them from the map key.
    pub fn into_state(self) -> RegistryState {
        let partitions = self
            .partitions
            .into_iter()
            .map(|(key, mut record)| {
                if record.partition_key.is_empty() {
                    record.partition_key = key.clone();
                }
                if (record.date.is_empty() || record.security_code.is_empty())
                    && let Some((date, code)) = key.split_once('/')
                {
                    record.date = date.to_string();
                    record.security_code = code.to_string();
                }
                debug_assert!(
                    record.date.is_empty()
                        || record.partition_key
                            == partition_key(&record.date, &record.security_code)
                );
                // The same microsecond rounding as a live run, so a state
                // read from JSON equals the state replayed from the log.
                record.duration_sec = record
                    .duration_sec
                    .map(|seconds| micros_to_seconds(duration_to_micros(seconds)));
                if record.status != PartitionStatus::Completed {
                    record.taker_orders = None;
                    record.sweep_orders = None;
                    record.unlinked_trades = None;
                    record.duplicate_orders = None;
                }
                (key, record)
            })
            .collect();
        let inputs = self.inputs.map(|inputs| RunInputs {
            orders: inputs.orders,
            trades: inputs.trades,
            // SPEC §6 default, for a JSON that recorded inputs but not this.
            sweep_min_levels: self.sweep_min_levels.unwrap_or(2),
        });
        let extraction = match self.extraction.status {
            ExtractionStatus::Pending => None,
            ExtractionStatus::Completed => Some(ExtractionRecord {
                counts: ExtractionCounts {
                    orders_rows: self.extraction.orders_rows,
                    trades_rows: self.extraction.trades_rows,
                    orders_rejected: self.rejected_rows.orders,
                    trades_rejected: self.rejected_rows.trades,
                },
                partitions: self.extraction.partitions,
                finished_at: self.extraction.finished_at.unwrap_or_default(),
            }),
        };
        RegistryState {
            created_at: self.created_at,
            updated_at: self.updated_at,
            inputs,
            extraction,
            partitions,
        }
    }
}

/// Writes the JSON atomically into `dir` (see the module doc). With `fsync`
/// off the rename still keeps the file whole against a crash of the process,
/// but not against power loss.
pub(crate) fn write_snapshot(dir: &Path, snapshot: &RegistrySnapshot, fsync: bool) -> Result<()> {
    let temp = dir.join(JSON_TEMP_FILE_NAME);
    let result = write_then_rename(dir, &temp, snapshot, fsync);
    if result.is_err() {
        // Best effort: the error being returned matters more than this one.
        let _ = std::fs::remove_file(&temp);
    }
    result
}

fn write_then_rename(
    dir: &Path,
    temp: &Path,
    snapshot: &RegistrySnapshot,
    fsync: bool,
) -> Result<()> {
    let file = File::create(temp).map_err(|e| Error::io(temp, "create", e))?;
    let mut writer = BufWriter::new(file);
    serde_json::to_writer_pretty(&mut writer, snapshot)
        .map_err(|e| Error::io(temp, "write", e.into()))?;
    writer
        .write_all(b"\n")
        .map_err(|e| Error::io(temp, "write", e))?;
    let file = writer
        .into_inner()
        .map_err(|e| Error::io(temp, "write", e.into_error()))?;
    if fsync {
        file.sync_all().map_err(|e| Error::sync(temp, e))?;
    }
    drop(file);
    let target = dir.join(JSON_FILE_NAME);
    std::fs::rename(temp, &target).map_err(|e| Error::io(&target, "rename into place", e))?;
    if fsync {
        sync_dir(dir)?;
    }
    Ok(())
}

/// Reads a JSON registry.
pub(crate) fn read_snapshot(path: &Path) -> Result<RegistrySnapshot> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, "read", e))?;
    serde_json::from_slice(&bytes).map_err(|e| {
        ErrorKind::RegistryCorrupt {
            path: path.to_path_buf(),
            reason: format!("it does not parse as a partition registry: {e}"),
        }
        .into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_python_registry_loads() {
        let json = r#"{
          "created_at": "2024-01-05T10:00:00Z",
          "total_partitions": 2,
          "status_counts": {"completed": 1, "failed": 1, "pending": 0},
          "partitions": {
            "2024-09-05/110621": {
              "partition_key": "2024-09-05/110621", "date": "2024-09-05",
              "security_code": "110621", "status": "completed",
              "order_count": 1250, "trade_count": 847,
              "matched_orders": 1000, "unmatched_orders": 250,
              "duration_sec": 15.3, "attempts": 1, "error_message": null,
              "started_at": "2024-01-05T10:15:00Z", "completed_at": "2024-01-05T10:15:15Z"
            },
            "2024-09-05/110622": {"status": "failed", "error_message": "boom", "attempts": 3}
          }
        }"#;
        let snapshot: RegistrySnapshot = serde_json::from_str(json).unwrap();
        let state = snapshot.into_state();
        let done = &state.partitions["2024-09-05/110621"];
        assert_eq!(done.order_count, 1250);
        assert_eq!(done.duration_sec, Some(15.3));
        let failed = &state.partitions["2024-09-05/110622"];
        assert_eq!(failed.date, "2024-09-05");
        assert_eq!(failed.security_code, "110622");
        assert_eq!(failed.partition_key, "2024-09-05/110622");
        assert_eq!(failed.attempts, 3);
        assert!(state.inputs.is_none());
        assert!(state.extraction.is_none());
        assert_eq!(state.status_counts().failed, 1);
    }

    #[test]
    fn state_survives_the_json() {
        let mut state = RegistryState {
            created_at: "2024-01-05T10:00:00Z".into(),
            updated_at: "2024-01-05T10:05:00Z".into(),
            ..RegistryState::default()
        };
        let mut record = PartitionRecord::pending("2024-09-05", "110621");
        record.duration_sec = Some(micros_to_seconds(1_234_567));
        state
            .partitions
            .insert(record.partition_key.clone(), record);
        state.extraction = Some(ExtractionRecord {
            counts: ExtractionCounts {
                orders_rows: 1,
                trades_rows: 2,
                orders_rejected: 3,
                trades_rejected: 4,
            },
            partitions: 1,
            finished_at: "2024-01-05T10:01:00Z".into(),
        });
        let json = serde_json::to_string(&RegistrySnapshot::from_state(&state, 9)).unwrap();
        let back: RegistrySnapshot = serde_json::from_str(&json).unwrap();
        assert_eq!(back.log_seq, 9);
        assert_eq!(back.into_state(), state);
    }
}

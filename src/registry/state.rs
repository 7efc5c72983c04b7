//! The in-memory registry: every partition with its status and figures, and
//! the rules for changing it.
//!
//! State changes only by applying a [`RegistryEvent`]. The same
//! [`RegistryState::check`] + [`RegistryState::apply`] pair runs when an event
//! is first made (after it has been appended to the log) and when the log is
//! replayed, so the state rebuilt from the log is the state the run had, by
//! construction. `check` is pure: an event it refuses is never written.
//!
//! This module does not touch files; the log and the JSON snapshot live in
//! [`super::log`] and [`super::snapshot`].

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::inputs::RunInputs;
use super::record::{ExtractionCounts, RegistryEvent};

/// Where a partition stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PartitionStatus {
    /// Extracted, not yet analysed (or reset for another try).
    Pending,
    /// An analysis has started and not finished. Only a live run holds
    /// partitions in this state; opening the registry for writing turns them
    /// back into `Pending`.
    Running,
    /// Analysed; its stats files are durable.
    Completed,
    /// The last attempt failed; `error_message` says why.
    Failed,
}

impl PartitionStatus {
    /// All statuses, in the order they are listed.
    pub const ALL: [PartitionStatus; 4] = [
        PartitionStatus::Pending,
        PartitionStatus::Running,
        PartitionStatus::Completed,
        PartitionStatus::Failed,
    ];

    /// The lowercase name used in the JSON and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            PartitionStatus::Pending => "pending",
            PartitionStatus::Running => "running",
            PartitionStatus::Completed => "completed",
            PartitionStatus::Failed => "failed",
        }
    }
}

impl std::fmt::Display for PartitionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for PartitionStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PartitionStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| {
                format!("unknown status {s:?}; expected pending, running, completed or failed")
            })
    }
}

pub use crate::partition::PartitionFigures;

/// One partition as the registry knows it; serialises to the record of the
/// Python pipeline's `partition_registry.json` plus, once completed, the four
/// figures it did not have.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartitionRecord {
    /// `YYYY-MM-DD/security_code`.
    #[serde(default)]
    pub partition_key: String,
    /// `YYYY-MM-DD`.
    #[serde(default)]
    pub date: String,
    /// The security code.
    #[serde(default)]
    pub security_code: String,
    /// Where the partition stands.
    pub status: PartitionStatus,
    /// See [`PartitionFigures`]; 0 until completed.
    #[serde(default)]
    pub order_count: u64,
    /// See [`PartitionFigures`]; 0 until completed.
    #[serde(default)]
    pub trade_count: u64,
    /// See [`PartitionFigures`]; 0 until completed.
    #[serde(default)]
    pub matched_orders: u64,
    /// See [`PartitionFigures`]; 0 until completed.
    #[serde(default)]
    pub unmatched_orders: u64,
    /// See [`PartitionFigures`]; present only when completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taker_orders: Option<u64>,
    /// See [`PartitionFigures`]; present only when completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep_orders: Option<u64>,
    /// See [`PartitionFigures`]; present only when completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unlinked_trades: Option<u64>,
    /// See [`PartitionFigures`]; present only when completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate_orders: Option<u64>,
    /// Wall time of the last finished attempt, in seconds (microsecond
    /// resolution, so it survives the JSON round trip exactly).
    #[serde(default)]
    pub duration_sec: Option<f64>,
    /// Attempts since the partition was added or last reset by hand
    /// ([`super::Registry::reset_failed`]); an attempt interrupted by a crash
    /// counts.
    #[serde(default)]
    pub attempts: u32,
    /// The error of the last failed attempt; cleared when an attempt
    /// completes.
    #[serde(default)]
    pub error_message: Option<String>,
    /// When the last attempt started, RFC 3339 UTC.
    #[serde(default)]
    pub started_at: Option<String>,
    /// When the partition completed, RFC 3339 UTC; `None` unless completed.
    #[serde(default)]
    pub completed_at: Option<String>,
}

impl PartitionRecord {
    /// A new pending partition.
    pub fn pending(date: &str, security_code: &str) -> PartitionRecord {
        PartitionRecord {
            partition_key: partition_key(date, security_code),
            date: date.to_string(),
            security_code: security_code.to_string(),
            status: PartitionStatus::Pending,
            order_count: 0,
            trade_count: 0,
            matched_orders: 0,
            unmatched_orders: 0,
            taker_orders: None,
            sweep_orders: None,
            unlinked_trades: None,
            duplicate_orders: None,
            duration_sec: None,
            attempts: 0,
            error_message: None,
            started_at: None,
            completed_at: None,
        }
    }

    /// The figures, when the partition is completed.
    pub fn figures(&self) -> Option<PartitionFigures> {
        if self.status != PartitionStatus::Completed {
            return None;
        }
        Some(PartitionFigures {
            order_count: self.order_count,
            trade_count: self.trade_count,
            matched_orders: self.matched_orders,
            unmatched_orders: self.unmatched_orders,
            taker_orders: self.taker_orders.unwrap_or(0),
            sweep_orders: self.sweep_orders.unwrap_or(0),
            unlinked_trades: self.unlinked_trades.unwrap_or(0),
            duplicate_orders: self.duplicate_orders.unwrap_or(0),
        })
    }

    fn set_figures(&mut self, figures: Option<PartitionFigures>) {
        let f = figures.unwrap_or_default();
        self.order_count = f.order_count;
        self.trade_count = f.trade_count;
        self.matched_orders = f.matched_orders;
        self.unmatched_orders = f.unmatched_orders;
        self.taker_orders = figures.map(|f| f.taker_orders);
        self.sweep_orders = figures.map(|f| f.sweep_orders);
        self.unlinked_trades = figures.map(|f| f.unlinked_trades);
        self.duplicate_orders = figures.map(|f| f.duplicate_orders);
    }
}

/// The key of a partition: `YYYY-MM-DD/security_code`.
pub fn partition_key(date: &str, security_code: &str) -> String {
    format!("{date}/{security_code}")
}

/// How many partitions are in each status. Serialises with all four keys.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusCounts {
    /// Partitions pending.
    #[serde(default)]
    pub pending: usize,
    /// Partitions running.
    #[serde(default)]
    pub running: usize,
    /// Partitions completed.
    #[serde(default)]
    pub completed: usize,
    /// Partitions failed.
    #[serde(default)]
    pub failed: usize,
}

impl StatusCounts {
    /// The count for one status.
    pub fn get(&self, status: PartitionStatus) -> usize {
        match status {
            PartitionStatus::Pending => self.pending,
            PartitionStatus::Running => self.running,
            PartitionStatus::Completed => self.completed,
            PartitionStatus::Failed => self.failed,
        }
    }

    /// The sum over all statuses.
    pub fn total(&self) -> usize {
        self.pending + self.running + self.completed + self.failed
    }
}

/// The end of extraction, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtractionRecord {
    /// Row counts of the extraction.
    pub counts: ExtractionCounts,
    /// How many partitions it found.
    pub partitions: usize,
    /// When it finished, RFC 3339 UTC.
    pub finished_at: String,
}

/// The whole registry in memory.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct RegistryState {
    pub created_at: String,
    pub updated_at: String,
    pub inputs: Option<RunInputs>,
    pub extraction: Option<ExtractionRecord>,
    pub partitions: BTreeMap<String, PartitionRecord>,
}

/// Durations travel as whole microseconds so that the value replayed from the
/// log (or read back from the JSON) is bit-for-bit the value of the live run.
pub(crate) fn duration_to_micros(seconds: f64) -> u64 {
    if seconds.is_finite() && seconds > 0.0 {
        // `as` saturates; no duration comes near u64::MAX microseconds.
        (seconds * 1e6).round() as u64
    } else {
        0
    }
}

pub(crate) fn micros_to_seconds(micros: u64) -> f64 {
    micros as f64 / 1e6
}

impl RegistryState {
    /// Whether `event` may be applied now; the reason when not (without the
    /// partition key, see [`RegistryEvent::key`]). Pure.
    pub fn check(&self, event: &RegistryEvent) -> Result<(), String> {
        // Reasons do not repeat the key: callers put it in front.
        let require = |key: &str, allowed: &[PartitionStatus], action: &str| {
            let record = self
                .partitions
                .get(key)
                .ok_or_else(|| "it is not in the registry".to_string())?;
            if allowed.contains(&record.status) {
                Ok(())
            } else {
                Err(format!(
                    "it cannot be {action}: its status is {}",
                    record.status
                ))
            }
        };
        match event {
            RegistryEvent::Created { .. }
            | RegistryEvent::Imported { .. }
            | RegistryEvent::InputsRecorded { .. }
            | RegistryEvent::PartitionsAdded { .. }
            | RegistryEvent::ExtractionFinished { .. }
            | RegistryEvent::FailedReset { .. }
            | RegistryEvent::InterruptedReset { .. } => Ok(()),
            RegistryEvent::Started { key, .. } => require(
                key,
                &[PartitionStatus::Pending, PartitionStatus::Failed],
                "started",
            ),
            RegistryEvent::Completed { key, .. } => {
                require(key, &[PartitionStatus::Running], "marked completed")
            }
            RegistryEvent::Failed { key, .. } => {
                require(key, &[PartitionStatus::Running], "marked failed")
            }
        }
    }

    /// Applies an event that [`RegistryState::check`] accepted.
    pub fn apply(&mut self, event: RegistryEvent) {
        match event {
            RegistryEvent::Created { at, inputs } => {
                *self = RegistryState {
                    created_at: at.clone(),
                    updated_at: at,
                    inputs,
                    ..RegistryState::default()
                };
            }
            RegistryEvent::Imported { at, snapshot } => {
                *self = snapshot.into_state();
                self.updated_at = at;
            }
            RegistryEvent::InputsRecorded { at, inputs } => {
                self.inputs = Some(inputs);
                self.updated_at = at;
            }
            RegistryEvent::PartitionsAdded { at, partitions } => {
                self.add_partitions(&partitions);
                self.updated_at = at;
            }
            RegistryEvent::ExtractionFinished {
                at,
                partitions,
                counts,
            } => {
                self.add_partitions(&partitions);
                let distinct: BTreeSet<&(String, String)> = partitions.iter().collect();
                self.extraction = Some(ExtractionRecord {
                    counts,
                    partitions: distinct.len(),
                    finished_at: at.clone(),
                });
                self.updated_at = at;
            }
            RegistryEvent::Started { at, key } => {
                if let Some(record) = self.partitions.get_mut(&key) {
                    record.status = PartitionStatus::Running;
                    record.attempts = record.attempts.saturating_add(1);
                    record.started_at = Some(at.clone());
                    record.completed_at = None;
                    record.duration_sec = None;
                    record.set_figures(None);
                    // error_message stays: the last error is kept until an
                    // attempt succeeds.
                }
                self.updated_at = at;
            }
            RegistryEvent::Completed {
                at,
                key,
                figures,
                duration_us,
            } => {
                if let Some(record) = self.partitions.get_mut(&key) {
                    record.status = PartitionStatus::Completed;
                    record.set_figures(Some(figures));
                    record.duration_sec = Some(micros_to_seconds(duration_us));
                    record.error_message = None;
                    record.completed_at = Some(at.clone());
                }
                self.updated_at = at;
            }
            RegistryEvent::Failed {
                at,
                key,
                error,
                duration_us,
            } => {
                if let Some(record) = self.partitions.get_mut(&key) {
                    record.status = PartitionStatus::Failed;
                    record.set_figures(None);
                    record.duration_sec = Some(micros_to_seconds(duration_us));
                    record.error_message = Some(error);
                    record.completed_at = None;
                }
                self.updated_at = at;
            }
            RegistryEvent::FailedReset { at } => {
                for record in self.partitions.values_mut() {
                    if record.status == PartitionStatus::Failed {
                        record.status = PartitionStatus::Pending;
                        // A reset by hand gives a fresh retry budget; the
                        // error stays visible until the next attempt ends.
                        record.attempts = 0;
                    }
                }
                self.updated_at = at;
            }
            RegistryEvent::InterruptedReset { at } => {
                for record in self.partitions.values_mut() {
                    if record.status == PartitionStatus::Running {
                        // The interrupted attempt still counts, so a partition
                        // that kills the process cannot loop forever.
                        record.status = PartitionStatus::Pending;
                        record.started_at = None;
                    }
                }
                self.updated_at = at;
            }
        }
    }

    fn add_partitions(&mut self, partitions: &[(String, String)]) {
        for (date, code) in partitions {
            // A partition already known keeps its status and figures.
            self.partitions
                .entry(partition_key(date, code))
                .or_insert_with(|| PartitionRecord::pending(date, code));
        }
    }

    pub fn status_counts(&self) -> StatusCounts {
        let mut counts = StatusCounts::default();
        for record in self.partitions.values() {
            match record.status {
                PartitionStatus::Pending => counts.pending += 1,
                PartitionStatus::Running => counts.running += 1,
                PartitionStatus::Completed => counts.completed += 1,
                PartitionStatus::Failed => counts.failed += 1,
            }
        }
        counts
    }

    pub fn has_running(&self) -> bool {
        self.partitions
            .values()
            .any(|record| record.status == PartitionStatus::Running)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures() -> PartitionFigures {
        PartitionFigures {
            order_count: 10,
            trade_count: 4,
            matched_orders: 6,
            unmatched_orders: 4,
            taker_orders: 3,
            sweep_orders: 1,
            unlinked_trades: 0,
            duplicate_orders: 2,
        }
    }

    fn state_with_one() -> RegistryState {
        let mut state = RegistryState::default();
        state.apply(RegistryEvent::PartitionsAdded {
            at: "t0".into(),
            partitions: vec![("2024-09-05".into(), "110621".into())],
        });
        state
    }

    #[test]
    fn transitions_follow_the_rules() {
        let mut state = state_with_one();
        let key = "2024-09-05/110621".to_string();
        let complete = RegistryEvent::Completed {
            at: "t2".into(),
            key: key.clone(),
            figures: figures(),
            duration_us: 1_500_000,
        };
        assert!(state.check(&complete).unwrap_err().contains("pending"));
        let start = RegistryEvent::Started {
            at: "t1".into(),
            key: key.clone(),
        };
        state.check(&start).unwrap();
        state.apply(start.clone());
        assert_eq!(state.partitions[&key].attempts, 1);
        state.check(&complete).unwrap();
        state.apply(complete);
        let record = &state.partitions[&key];
        assert_eq!(record.status, PartitionStatus::Completed);
        assert_eq!(record.figures(), Some(figures()));
        assert_eq!(record.duration_sec, Some(1.5));
        assert!(state.check(&start).unwrap_err().contains("completed"));
        let unknown = RegistryEvent::Started {
            at: "t3".into(),
            key: "2024-09-05/nope".into(),
        };
        assert!(state.check(&unknown).unwrap_err().contains("not in"));
    }

    #[test]
    fn failure_keeps_the_error_until_success() {
        let mut state = state_with_one();
        let key = "2024-09-05/110621".to_string();
        state.apply(RegistryEvent::Started {
            at: "t1".into(),
            key: key.clone(),
        });
        state.apply(RegistryEvent::Failed {
            at: "t2".into(),
            key: key.clone(),
            error: "boom".into(),
            duration_us: 10,
        });
        state.apply(RegistryEvent::Started {
            at: "t3".into(),
            key: key.clone(),
        });
        let record = &state.partitions[&key];
        assert_eq!(record.attempts, 2);
        assert_eq!(record.error_message.as_deref(), Some("boom"));
        assert_eq!(record.duration_sec, None);
    }

    #[test]
    fn durations_round_to_microseconds() {
        assert_eq!(duration_to_micros(15.3), 15_300_000);
        assert_eq!(duration_to_micros(-1.0), 0);
        assert_eq!(duration_to_micros(f64::NAN), 0);
        assert_eq!(duration_to_micros(f64::INFINITY), 0);
        assert_eq!(micros_to_seconds(15_300_000), 15.3);
    }

    #[test]
    fn status_parses_from_its_name() {
        for status in PartitionStatus::ALL {
            assert_eq!(status.as_str().parse::<PartitionStatus>(), Ok(status));
        }
        assert!("done".parse::<PartitionStatus>().is_err());
    }
}

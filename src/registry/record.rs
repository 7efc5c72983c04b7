//! The events the registry log records, and their encoding as log payloads.
//!
//! Every change of the registry is one [`RegistryEvent`]. A log record of type
//! [`EVENT_JSON_V1`] carries one event as a JSON object tagged by `"event"`,
//! e.g. `{"event":"completed","at":"…","key":"2024-09-05/110621",…}`. The
//! record type byte is the version of the payload: a change to an event that
//! old readers cannot skip gets a new record type, and a reader meeting a type
//! it does not know stops with a clear error instead of guessing. Fields may
//! be added to events (with `#[serde(default)]`) without a new type.
//!
//! Events carry their own timestamps (`at`) and durations, so replaying them
//! rebuilds exactly the state of the run that made them.

use serde::{Deserialize, Serialize};

use super::inputs::RunInputs;
use super::snapshot::RegistrySnapshot;
use super::state::PartitionFigures;

/// Record type: one [`RegistryEvent`] as JSON, version 1.
pub(crate) const EVENT_JSON_V1: u8 = 1;

/// Row counts of a finished extraction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtractionCounts {
    /// Order rows accepted and written to partitions.
    pub orders_rows: u64,
    /// Trade rows accepted and written to partitions.
    pub trades_rows: u64,
    /// Order rows rejected (`rejected/orders_rejected.csv`).
    pub orders_rejected: u64,
    /// Trade rows rejected (`rejected/trades_rejected.csv`).
    pub trades_rejected: u64,
}

/// One change of the registry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub(crate) enum RegistryEvent {
    /// A new run: the registry starts empty. Always the first record of a
    /// log made by [`super::Registry::create`].
    Created {
        at: String,
        inputs: Option<RunInputs>,
    },
    /// The log was started from an existing `partition_registry.json` (one
    /// written by the Python pipeline, or one whose log was lost): the whole
    /// state is replaced by the snapshot.
    Imported {
        at: String,
        snapshot: Box<RegistrySnapshot>,
    },
    /// The inputs were recorded after the fact (a registry imported without
    /// them, resumed with known inputs).
    InputsRecorded { at: String, inputs: RunInputs },
    /// Partitions added one by one; partitions already known are unchanged.
    PartitionsAdded {
        at: String,
        partitions: Vec<(String, String)>,
    },
    /// Extraction finished: every partition it found is added as pending
    /// (partitions already known are unchanged) and the row counts recorded.
    ExtractionFinished {
        at: String,
        partitions: Vec<(String, String)>,
        counts: ExtractionCounts,
    },
    /// An attempt at a partition started.
    Started { at: String, key: String },
    /// An attempt finished and the partition's stats files are durable.
    Completed {
        at: String,
        key: String,
        figures: PartitionFigures,
        duration_us: u64,
    },
    /// An attempt failed.
    Failed {
        at: String,
        key: String,
        error: String,
        duration_us: u64,
    },
    /// Every failed partition was made pending again by hand.
    FailedReset { at: String },
    /// A previous run died with partitions running; they are pending again.
    InterruptedReset { at: String },
}

impl RegistryEvent {
    /// The partition the event is about, when it is about one.
    pub fn key(&self) -> Option<&str> {
        match self {
            RegistryEvent::Started { key, .. }
            | RegistryEvent::Completed { key, .. }
            | RegistryEvent::Failed { key, .. } => Some(key),
            _ => None,
        }
    }

    /// The event's name as written in the payload.
    pub fn name(&self) -> &'static str {
        match self {
            RegistryEvent::Created { .. } => "created",
            RegistryEvent::Imported { .. } => "imported",
            RegistryEvent::InputsRecorded { .. } => "inputs_recorded",
            RegistryEvent::PartitionsAdded { .. } => "partitions_added",
            RegistryEvent::ExtractionFinished { .. } => "extraction_finished",
            RegistryEvent::Started { .. } => "started",
            RegistryEvent::Completed { .. } => "completed",
            RegistryEvent::Failed { .. } => "failed",
            RegistryEvent::FailedReset { .. } => "failed_reset",
            RegistryEvent::InterruptedReset { .. } => "interrupted_reset",
        }
    }

    /// The record type and payload that carry this event in the log.
    pub fn encode(&self) -> (u8, Vec<u8>) {
        // Serialising these plain data types to a Vec cannot fail: every map
        // key is a string and no type has a fallible `Serialize`.
        let payload = serde_json::to_vec(self)
            .unwrap_or_else(|e| unreachable!("a registry event always serialises to JSON: {e}"));
        (EVENT_JSON_V1, payload)
    }

    /// The event carried by a log record, or why it cannot be read.
    pub fn decode(record_type: u8, payload: &[u8]) -> Result<RegistryEvent, String> {
        match record_type {
            EVENT_JSON_V1 => serde_json::from_slice(payload)
                .map_err(|e| format!("the event does not parse: {e}")),
            other => Err(format!(
                "unknown record type {other} (written by a newer sweep-pipeline?)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip_through_their_encoding() {
        let events = vec![
            RegistryEvent::Created {
                at: "2024-01-05T10:00:00Z".into(),
                inputs: None,
            },
            RegistryEvent::ExtractionFinished {
                at: "2024-01-05T10:01:00Z".into(),
                partitions: vec![("2024-09-05".into(), "110621".into())],
                counts: ExtractionCounts {
                    orders_rows: 5,
                    trades_rows: 3,
                    orders_rejected: 1,
                    trades_rejected: 0,
                },
            },
            RegistryEvent::Failed {
                at: "2024-01-05T10:02:00Z".into(),
                key: "2024-09-05/110621".into(),
                error: "bad \"row\"\nline 2".into(),
                duration_us: 42,
            },
        ];
        for event in events {
            let (record_type, payload) = event.encode();
            assert_eq!(RegistryEvent::decode(record_type, &payload), Ok(event));
        }
    }

    #[test]
    fn the_payload_is_tagged_json() {
        let (_, payload) = RegistryEvent::Started {
            at: "2024-01-05T10:00:00Z".into(),
            key: "2024-09-05/110621".into(),
        }
        .encode();
        let value: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        assert_eq!(value["event"], "started");
        assert_eq!(value["key"], "2024-09-05/110621");
    }

    #[test]
    fn unknown_record_types_are_refused() {
        let error = RegistryEvent::decode(9, b"{}").unwrap_err();
        assert!(error.contains("unknown record type 9"), "{error}");
    }
}

//! Fingerprints of the input files, so that `--resume` against different
//! inputs (or a different sweep threshold) is refused instead of mixing two
//! data sets in one output folder.
//!
//! A fingerprint is the canonical path, the size and the modification time in
//! nanoseconds. It does not hash the content: reading 100 GB to resume would
//! defeat resuming, and any ordinary rewrite of a file changes its size or
//! modification time.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};

/// What identifies one input file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputFingerprint {
    /// The canonical (absolute, symlinks resolved) path.
    pub path: PathBuf,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch (negative before).
    pub modified_ns: i64,
    /// The modification time in RFC 3339, for people reading the JSON; not
    /// compared.
    #[serde(default)]
    pub modified: String,
}

impl InputFingerprint {
    /// The fingerprint of the file at `path` now.
    pub fn of(path: &Path) -> Result<InputFingerprint> {
        let canonical = path
            .canonicalize()
            .map_err(|e| Error::io(path, "resolve", e))?;
        let metadata = std::fs::metadata(&canonical).map_err(|e| Error::io(path, "stat", e))?;
        let modified = metadata
            .modified()
            .map_err(|e| Error::io(path, "read the modification time of", e))?;
        Ok(InputFingerprint {
            path: canonical,
            size: metadata.len(),
            modified_ns: nanos_since_epoch(modified),
            modified: humantime::format_rfc3339_nanos(modified).to_string(),
        })
    }

    /// How `now` differs from `self`, in words; `None` when they match.
    fn difference(&self, now: &InputFingerprint) -> Option<String> {
        let mut changes = Vec::new();
        if self.path != now.path {
            changes.push(format!(
                "the path was {}, now {}",
                self.path.display(),
                now.path.display()
            ));
        }
        if self.size != now.size {
            changes.push(format!(
                "the size was {} bytes, now {} bytes",
                self.size, now.size
            ));
        }
        if self.modified_ns != now.modified_ns {
            changes.push(format!(
                "the modification time was {}, now {}",
                describe_time(self),
                describe_time(now)
            ));
        }
        if changes.is_empty() {
            None
        } else {
            Some(changes.join(" and "))
        }
    }
}

fn describe_time(fingerprint: &InputFingerprint) -> String {
    if fingerprint.modified.is_empty() {
        format!("{} ns", fingerprint.modified_ns)
    } else {
        fingerprint.modified.clone()
    }
}

fn nanos_since_epoch(time: SystemTime) -> i64 {
    let clamp = |nanos: u128| i64::try_from(nanos).unwrap_or(i64::MAX);
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => clamp(after.as_nanos()),
        Err(before) => -clamp(before.duration().as_nanos()),
    }
}

/// Everything the results of a run depend on besides the code: the two input
/// files and the sweep threshold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunInputs {
    /// The orders file (`--orders`).
    pub orders: InputFingerprint,
    /// The trades file (`--trades`).
    pub trades: InputFingerprint,
    /// `--sweep-min-levels`.
    pub sweep_min_levels: u32,
}

impl RunInputs {
    /// Fingerprints both files now.
    pub fn of(orders: &Path, trades: &Path, sweep_min_levels: u32) -> Result<RunInputs> {
        Ok(RunInputs {
            orders: InputFingerprint::of(orders)?,
            trades: InputFingerprint::of(trades)?,
            sweep_min_levels,
        })
    }

    /// `Ok` when `current` is what was recorded; otherwise
    /// [`ErrorKind::InputsChanged`] naming each input that changed and how.
    pub fn check_unchanged(&self, current: &RunInputs) -> Result<()> {
        let mut reason = String::new();
        for (name, recorded, now) in [
            ("orders", &self.orders, &current.orders),
            ("trades", &self.trades, &current.trades),
        ] {
            if let Some(change) = recorded.difference(now) {
                if !reason.is_empty() {
                    reason.push_str("; ");
                }
                let _ = write!(
                    reason,
                    "the {name} input {} changed since the run started: {change}",
                    recorded.path.display()
                );
            }
        }
        if self.sweep_min_levels != current.sweep_min_levels {
            if !reason.is_empty() {
                reason.push_str("; ");
            }
            let _ = write!(
                reason,
                "--sweep-min-levels was {}, now {}",
                self.sweep_min_levels, current.sweep_min_levels
            );
        }
        if reason.is_empty() {
            Ok(())
        } else {
            Err(ErrorKind::InputsChanged { reason }.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fingerprint(size: u64, modified_ns: i64) -> InputFingerprint {
        InputFingerprint {
            path: "/data/orders.csv".into(),
            size,
            modified_ns,
            modified: String::new(),
        }
    }

    fn inputs(orders: InputFingerprint) -> RunInputs {
        RunInputs {
            trades: InputFingerprint {
                path: "/data/trades.csv".into(),
                ..fingerprint(7, 7)
            },
            orders,
            sweep_min_levels: 2,
        }
    }

    #[test]
    fn unchanged_inputs_pass() {
        let a = inputs(fingerprint(10, 20));
        a.check_unchanged(&a.clone()).unwrap();
    }

    #[test]
    fn a_change_names_the_input_and_what_changed() {
        let a = inputs(fingerprint(10, 20));
        let error = a
            .check_unchanged(&inputs(fingerprint(11, 20)))
            .unwrap_err()
            .to_string();
        assert!(error.contains("orders input /data/orders.csv"), "{error}");
        assert!(error.contains("size was 10 bytes, now 11 bytes"), "{error}");
        let error = a
            .check_unchanged(&inputs(fingerprint(10, 21)))
            .unwrap_err()
            .to_string();
        assert!(error.contains("modification time was 20 ns"), "{error}");
        let mut other = a.clone();
        other.sweep_min_levels = 3;
        let error = a.check_unchanged(&other).unwrap_err().to_string();
        assert!(error.contains("--sweep-min-levels was 2, now 3"), "{error}");
    }

    #[test]
    fn times_before_the_epoch_are_negative() {
        let before = UNIX_EPOCH - std::time::Duration::from_nanos(5);
        assert_eq!(nanos_since_epoch(before), -5);
    }
}

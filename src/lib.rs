//! sweep-pipeline: split huge exchange order/trade dumps into
//! per-(date, security) partitions and analyse the sweep orders of each.
//!
//! The library does all the work; the `sweep-pipeline` binary (`src/main.rs`
//! and `src/cli/`) only parses arguments, calls into it and prints.
//!
//! | module | owns |
//! |---|---|
//! | [`error`] | the typed error of the library |
//! | [`format`](mod@format) | the input format of SPEC §2: header mapping, row validation, line splitting |
//! | [`partition`] | a partition's key and where its files live |
//! | [`extract`] | phase 1: streaming the inputs into partition files |
//! | [`progress`] | progress counters shared with the display |
//! | [`generate`] | synthetic data from a limit order book simulation (SPEC §7) |
//! | [`stats`] | statistics: quantiles, Welch, Mann-Whitney, KS, number formatting |
//! | [`analysis`] | phase 2: the per-partition sweep-order analyses (SPEC §4) |
//! | [`registry`] | the crash-safe partition registry (SPEC §5) |
//! | [`engine`] | the work-stealing pool that runs analyses over partitions |
//! | [`run`] | a whole run: registry guard, extraction, processing, resume |
//! | [`system`] | machine facts and the defaults derived from them |

pub mod analysis;
pub mod engine;
pub mod error;
pub mod extract;
pub mod format;
pub mod generate;
pub mod partition;
pub mod progress;
pub mod registry;
pub mod run;
pub mod stats;
pub mod system;

pub use error::{Error, ErrorKind, Result};

/// Helpers shared by the unit tests of several modules.
#[cfg(test)]
pub(crate) mod test_support {
    /// A xorshift64 generator seeded with `seed` (not 0): reproducible
    /// pseudo-random test inputs without a dependency.
    pub(crate) fn xorshift(seed: u64) -> impl FnMut() -> u64 {
        let mut state = seed;
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        }
    }
}

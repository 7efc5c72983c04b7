//! A progress counter shared between a phase and whoever displays it.
//!
//! The phase adds to `done` as work completes; the command line polls it from
//! its own thread to draw a bar or print periodic lines. Atomics keep the
//! phase's hot path free of locks.

use std::sync::atomic::{AtomicU64, Ordering};

/// Work done out of a total, in the phase's unit (bytes or partitions).
#[derive(Debug, Default)]
pub struct Progress {
    total: AtomicU64,
    done: AtomicU64,
}

impl Progress {
    /// Sets the total (when it becomes known).
    pub fn set_total(&self, total: u64) {
        self.total.store(total, Ordering::Relaxed);
    }

    /// Adds `amount` to the total.
    pub fn add_total(&self, amount: u64) {
        self.total.fetch_add(amount, Ordering::Relaxed);
    }

    /// Records `amount` more done.
    pub fn advance(&self, amount: u64) {
        self.done.fetch_add(amount, Ordering::Relaxed);
    }

    /// Work done so far.
    pub fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    /// Total work, 0 when unknown.
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }
}

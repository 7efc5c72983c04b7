//! Showing a phase's progress on stderr: a live bar with rate and ETA when
//! stderr is a terminal, plain periodic lines otherwise (logs, CI), nothing
//! with `--quiet`.
//!
//! The phase only bumps atomic counters ([`Progress`]); a display thread
//! polls them, so drawing never slows the hot path.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use sweep_pipeline::progress::Progress;

/// What the counter counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Input bytes.
    Bytes,
    /// Partitions.
    Partitions,
}

/// A running display; stop it with [`ProgressDisplay::finish`].
pub struct ProgressDisplay {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// How often plain lines are printed when stderr is not a terminal.
const PLAIN_INTERVAL: Duration = Duration::from_secs(10);

impl ProgressDisplay {
    /// Starts showing `progress` for the phase called `label`.
    pub fn start(
        label: &'static str,
        unit: Unit,
        progress: Arc<Progress>,
        quiet: bool,
    ) -> ProgressDisplay {
        let stop = Arc::new(AtomicBool::new(false));
        if quiet {
            return ProgressDisplay { stop, thread: None };
        }
        let thread_stop = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("progress".into())
            .spawn(move || {
                if std::io::stderr().is_terminal() {
                    draw_bar(label, unit, &progress, &thread_stop);
                } else {
                    print_lines(label, unit, &progress, &thread_stop);
                }
            })
            .ok();
        ProgressDisplay { stop, thread }
    }

    /// Stops the display and clears the bar.
    pub fn finish(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for ProgressDisplay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn draw_bar(label: &'static str, unit: Unit, progress: &Progress, stop: &AtomicBool) {
    let template = match unit {
        Unit::Bytes => "{prefix:>10} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
        Unit::Partitions => "{prefix:>10} [{bar:30}] {pos}/{len} partitions {per_sec} ETA {eta}",
    };
    let bar = ProgressBar::new(progress.total());
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(label);
    while !stop.load(Ordering::Relaxed) {
        bar.set_length(progress.total());
        bar.set_position(progress.done());
        std::thread::sleep(Duration::from_millis(100));
    }
    bar.finish_and_clear();
}

fn print_lines(label: &'static str, unit: Unit, progress: &Progress, stop: &AtomicBool) {
    let started = Instant::now();
    let mut last_print = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
        if last_print.elapsed() < PLAIN_INTERVAL {
            continue;
        }
        last_print = Instant::now();
        let (done, total) = (progress.done(), progress.total());
        let elapsed = started.elapsed().as_secs_f64();
        let rate = done as f64 / elapsed.max(1e-9);
        let eta = if rate > 0.0 && total > done {
            format!(", ETA {:.0}s", (total - done) as f64 / rate)
        } else {
            String::new()
        };
        let percent = if total > 0 {
            format!(" ({:.0}%)", done as f64 * 100.0 / total as f64)
        } else {
            String::new()
        };
        match unit {
            Unit::Bytes => eprintln!(
                "{label}: {} of {}{percent}, {}/s{eta}",
                human_bytes(done),
                human_bytes(total),
                human_bytes(rate as u64)
            ),
            Unit::Partitions => {
                eprintln!("{label}: {done} of {total} partitions{percent}, {rate:.1}/s{eta}")
            }
        }
    }
}

/// `1.5 GB` style sizes (decimal units, as throughput is reported).
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

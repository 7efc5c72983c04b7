//! Synthetic order and trade dumps from a limit order book simulation
//! (SPEC §7).
//!
//! Owns `sweep-pipeline generate`: what a run produces (`orders.csv` and
//! `trades.csv` in the format of SPEC §2, one exchange-wide dump of several
//! days and securities), how big it is, and how the work is spread over
//! threads. The pieces live in their own modules:
//!
//! | module | owns |
//! |---|---|
//! | `book` | the price-time-priority order book and its matching |
//! | `simulate` | the order flow of one security for one day |
//! | `rows` | the CSV bytes of order and trade rows |
//! | `merge` | interleaving securities by time into the output files |
//! | `calendar` | trading dates and the session clock |
//!
//! # How a run is organised
//!
//! Every (day, security) partition has its own simulation with its own random
//! stream derived from (seed, day, security), so its rows never depend on the
//! others or on threads. A dump interleaves all securities of a day by time,
//! so the day is cut into time slices: in each slice every security's
//! simulation advances to the slice's end, writing formatted rows into its own
//! buffers, and the buffers are then merged by (time, security) into the
//! files. Only the books and two slices' rows are ever in memory, whatever the
//! output size.
//!
//! With several threads, workers advance simulations while the calling thread
//! merges: a simulation that has finished slice `k` is sent straight on to
//! slice `k + 1` with a second set of buffers while slice `k` is merged, so
//! simulation and merging overlap and at most two slices are in flight. The
//! merge order is fixed by the keys, so the bytes are the same for any thread
//! count.

mod book;
mod calendar;
mod merge;
mod rows;
mod simulate;

use std::path::PathBuf;

use crossbeam_channel::{Receiver, Sender};

use self::merge::{CsvSink, MergeScratch};
use self::rows::RowBuffer;
use self::simulate::{MAX_SECURITIES, SecurityProfile, SecuritySim};
use crate::error::{Error, Result};

/// Most trading days a run can have: about 380 years of weekdays, well
/// inside the four-digit years of the date format.
const MAX_DATES: u32 = 100_000;

/// Orders per partition when neither a size nor a count is asked for.
pub const DEFAULT_ORDERS_PER_PARTITION: u64 = 2_000;

/// What to generate.
#[derive(Clone, Debug)]
pub struct GenerateConfig {
    /// Folder for `orders.csv` and `trades.csv`; created if missing.
    pub output: PathBuf,
    /// Trading days: consecutive weekdays from 2024-01-02.
    pub dates: u32,
    /// Securities per day, coded 600000, 600001, ...
    pub securities: u32,
    /// Approximate total bytes of both files. Excludes `orders_per_partition`.
    pub size: Option<u64>,
    /// Mean orders per (day, security): securities differ in activity around
    /// it, and arrivals are random. Excludes `size`. When both are `None`,
    /// [`DEFAULT_ORDERS_PER_PARTITION`].
    pub orders_per_partition: Option<u64>,
    /// Seed of every random choice: the same config gives the same bytes.
    pub seed: u64,
    /// Worker threads (0 counts as 1). The output does not depend on it.
    pub threads: usize,
    /// Whether trades get an `aggressor_side` column (the taker's side).
    pub with_aggressor: bool,
}

impl Default for GenerateConfig {
    fn default() -> GenerateConfig {
        GenerateConfig {
            output: PathBuf::from("generated"),
            dates: 1,
            securities: 10,
            size: None,
            orders_per_partition: None,
            seed: 0,
            threads: std::thread::available_parallelism().map_or(1, usize::from),
            with_aggressor: false,
        }
    }
}

/// What a run wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GenerateSummary {
    /// Order rows (header excluded).
    pub orders: u64,
    /// Trade rows (header excluded).
    pub trades: u64,
    /// Size of `orders.csv`.
    pub orders_bytes: u64,
    /// Size of `trades.csv`.
    pub trades_bytes: u64,
    /// (date, security) partitions.
    pub partitions: u64,
}

/// Generates the data set described by `config`.
pub fn generate(config: &GenerateConfig) -> Result<GenerateSummary> {
    generate_with_progress(config, &|_| {})
}

/// [`generate`], calling `progress` with the bytes written so far (both
/// files) after each time slice.
pub fn generate_with_progress(
    config: &GenerateConfig,
    progress: &dyn Fn(u64),
) -> Result<GenerateSummary> {
    let plan = Plan::new(config)?;
    std::fs::create_dir_all(&config.output)
        .map_err(|error| Error::io(&config.output, "create folder", error))?;
    let mut files = OutputFiles {
        orders: CsvSink::create(&config.output.join("orders.csv"), rows::ORDERS_HEADER)?,
        trades: CsvSink::create(&config.output.join("trades.csv"), plan.trades_header())?,
        scratch: MergeScratch::default(),
    };
    if config.threads <= 1 {
        run_on_this_thread(&plan, &mut files, progress)?;
    } else {
        run_on_workers(&plan, config.threads, &mut files, progress)?;
    }
    let (orders, trades) = (files.orders.rows(), files.trades.rows());
    Ok(GenerateSummary {
        orders,
        trades,
        orders_bytes: files.orders.finish()?,
        trades_bytes: files.trades.finish()?,
        partitions: u64::from(config.dates) * u64::from(config.securities),
    })
}

/// Bytes of rows per time slice across all securities. Two slices are in
/// memory at once, and a slice is small enough that its rows are still in
/// the processor's cache when they are merged: the merge is bound by memory
/// latency otherwise.
const SLICE_BYTES: u64 = 4 << 20;
/// Smallest share of a slice per security, so tiny slices do not drown the
/// work in per-slice overhead.
const MIN_SECURITY_SLICE_BYTES: u64 = 4 << 10;
/// Bytes per order (its row and its share of trade rows) assumed before any
/// calibration.
const GUESSED_BYTES_PER_ORDER: f64 = 110.0;

/// Everything a run needs, fixed before the first row is written.
#[derive(Debug)]
struct Plan {
    seed: u64,
    with_aggressor: bool,
    dates: Vec<[u8; 10]>,
    profiles: Vec<SecurityProfile>,
    /// Orders per day of each security.
    orders: Vec<u64>,
    slices_per_day: u64,
}

impl Plan {
    fn new(config: &GenerateConfig) -> Result<Plan> {
        if config.dates == 0 || config.securities == 0 {
            return Err(Error::usage(
                "generate: --dates and --securities must be at least 1",
            ));
        }
        if config.dates > MAX_DATES {
            return Err(Error::usage(format!(
                "generate: at most {MAX_DATES} dates are supported"
            )));
        }
        if config.securities > MAX_SECURITIES {
            return Err(Error::usage(format!(
                "generate: at most {MAX_SECURITIES} securities are supported"
            )));
        }
        let profiles: Vec<SecurityProfile> = (0..config.securities)
            .map(|security| SecurityProfile::new(config.seed, security))
            .collect();
        let mut plan = Plan {
            seed: config.seed,
            with_aggressor: config.with_aggressor,
            dates: calendar::trading_dates(config.dates),
            profiles,
            orders: Vec::new(),
            slices_per_day: 1,
        };
        let (mean_orders, bytes_per_order) = match (config.size, config.orders_per_partition) {
            (Some(_), Some(_)) => {
                return Err(Error::usage(
                    "generate: give either --size or --orders-per-partition, not both",
                ));
            }
            (Some(0), None) | (None, Some(0)) => {
                return Err(Error::usage(
                    "generate: --size and --orders-per-partition must be positive",
                ));
            }
            (Some(size), None) => plan.mean_orders_for_size(size),
            (None, Some(orders)) => (orders, GUESSED_BYTES_PER_ORDER),
            (None, None) => (DEFAULT_ORDERS_PER_PARTITION, GUESSED_BYTES_PER_ORDER),
        };
        plan.set_orders(mean_orders);
        let day_bytes = plan.orders.iter().sum::<u64>() as f64 * bytes_per_order;
        let by_memory = (day_bytes / SLICE_BYTES as f64).ceil() as u64;
        let by_overhead =
            (day_bytes / (MIN_SECURITY_SLICE_BYTES as f64 * f64::from(config.securities))) as u64;
        plan.slices_per_day = by_memory.min(by_overhead).max(1);
        Ok(plan)
    }

    /// Spreads `mean` orders per security over the securities by activity,
    /// keeping the total at `mean × securities` (give or take rounding).
    fn set_orders(&mut self, mean: u64) {
        let total_activity: f64 = self.profiles.iter().map(|profile| profile.activity).sum();
        let scale = mean as f64 * self.profiles.len() as f64 / total_activity;
        self.orders = self
            .profiles
            .iter()
            .map(|profile| ((profile.activity * scale).round() as u64).max(1))
            .collect();
    }

    /// Mean orders per partition that make both files together about
    /// `target` bytes, and the bytes per order that implies.
    ///
    /// A few partitions of the first day are simulated (at most a few
    /// hundred thousand orders, so this costs a fraction of a second) to
    /// measure bytes per order and trades per order. Bytes per order still
    /// grow with the partition size, because ids get more digits, so the
    /// measurement is corrected for the digits of the ids at the final size.
    fn mean_orders_for_size(&self, target: u64) -> (u64, f64) {
        let securities = self.profiles.len() as u64;
        let partitions = (self.dates.len() as u64 * securities) as f64;
        let headers = (rows::ORDERS_HEADER.len() + self.trades_header().len()) as f64;
        let payload = (target as f64 - headers).max(0.0);
        let guess = ((payload / (partitions * GUESSED_BYTES_PER_ORDER)) as u64).max(1);

        let sample_orders = guess.min(100_000);
        let sampled = (400_000 / sample_orders).clamp(1, 16).min(securities);
        let (mut orders, mut trades, mut bytes) = (0u64, 0u64, 0u64);
        let (mut order_rows, mut trade_rows) = (RowBuffer::default(), RowBuffer::default());
        for index in 0..sampled {
            let security = (index * securities / sampled) as u32;
            let mut sim = SecuritySim::new(security, self.with_aggressor);
            sim.start_day(
                self.seed,
                &self.profiles[security as usize],
                0,
                &self.dates[0],
                sample_orders,
            );
            sim.run_until(u64::MAX, &mut order_rows, &mut trade_rows);
            orders += order_rows.rows() as u64;
            trades += trade_rows.rows() as u64;
            bytes += (order_rows.bytes().len() + trade_rows.bytes().len()) as u64;
            order_rows.clear();
            trade_rows.clear();
        }
        let measured = bytes as f64 / orders as f64;
        let trades_per_order = trades as f64 / orders as f64;
        // Each order row carries its id; each trade row its trade id and two
        // order ids.
        let bytes_per_order = |mean: f64| {
            let sample = sample_orders as f64;
            measured
                + (average_digits(mean) - average_digits(sample)) * (1.0 + 2.0 * trades_per_order)
                + (average_digits(mean * trades_per_order)
                    - average_digits(sample * trades_per_order))
                    * trades_per_order
        };
        let mut mean = guess as f64;
        for _ in 0..4 {
            mean = (payload / (partitions * bytes_per_order(mean))).max(1.0);
        }
        (mean.round() as u64, bytes_per_order(mean))
    }

    fn trades_header(&self) -> &'static [u8] {
        if self.with_aggressor {
            rows::TRADES_HEADER_WITH_AGGRESSOR
        } else {
            rows::TRADES_HEADER
        }
    }

    fn securities(&self) -> usize {
        self.profiles.len()
    }

    /// Time slices of the whole run: every slice of every day.
    fn steps(&self) -> u64 {
        self.dates.len() as u64 * self.slices_per_day
    }

    /// Advances `sim` through global slice `step`, starting its day first if
    /// the slice is the day's first.
    fn advance(&self, sim: &mut SecuritySim, output: &mut SliceOutput, step: u64) {
        let day = (step / self.slices_per_day) as u32;
        let slice = step % self.slices_per_day;
        let security = sim.security() as usize;
        if slice == 0 {
            sim.start_day(
                self.seed,
                &self.profiles[security],
                day,
                &self.dates[day as usize],
                self.orders[security],
            );
        }
        let end = if slice + 1 == self.slices_per_day {
            u64::MAX
        } else {
            calendar::SESSION_MICROS * (slice + 1) / self.slices_per_day
        };
        sim.run_until(end, &mut output.orders, &mut output.trades);
    }
}

/// Mean number of decimal digits of the integers `1..=n` (`n` rounded).
fn average_digits(n: f64) -> f64 {
    let n = n.round().max(1.0) as u64;
    let mut digits = 0u64;
    let mut low = 1u64;
    let mut width = 1u64;
    while low <= n {
        let high = n.min(low.saturating_mul(10) - 1);
        digits += (high - low + 1) * width;
        low = low.saturating_mul(10);
        width += 1;
    }
    digits as f64 / n as f64
}

/// The rows one security produced in one time slice.
#[derive(Debug, Default)]
struct SliceOutput {
    orders: RowBuffer,
    trades: RowBuffer,
}

impl SliceOutput {
    fn clear(&mut self) {
        self.orders.clear();
        self.trades.clear();
    }
}

/// The two output files and the merge's scratch space.
struct OutputFiles {
    orders: CsvSink,
    trades: CsvSink,
    scratch: MergeScratch,
}

impl OutputFiles {
    /// Merges one slice of every security (`outputs[i]` is security `i`'s)
    /// into the files.
    fn append_slice(&mut self, outputs: &[Box<SliceOutput>]) -> Result<()> {
        let orders: Vec<&RowBuffer> = outputs.iter().map(|output| &output.orders).collect();
        self.orders.append_merged(&orders, &mut self.scratch)?;
        let trades: Vec<&RowBuffer> = outputs.iter().map(|output| &output.trades).collect();
        self.trades.append_merged(&trades, &mut self.scratch)
    }

    fn bytes(&self) -> u64 {
        self.orders.bytes() + self.trades.bytes()
    }
}

/// The whole run on the calling thread: simulate a slice, merge it, repeat.
fn run_on_this_thread(plan: &Plan, files: &mut OutputFiles, progress: &dyn Fn(u64)) -> Result<()> {
    let securities = plan.securities();
    let mut sims: Vec<SecuritySim> = (0..securities)
        .map(|security| SecuritySim::new(security as u32, plan.with_aggressor))
        .collect();
    let mut outputs: Vec<Box<SliceOutput>> = (0..securities).map(|_| Box::default()).collect();
    for step in 0..plan.steps() {
        for (sim, output) in sims.iter_mut().zip(&mut outputs) {
            plan.advance(sim, output, step);
        }
        files.append_slice(&outputs)?;
        outputs.iter_mut().for_each(|output| output.clear());
        progress(files.bytes());
    }
    Ok(())
}

/// A simulation sent to a worker to advance through one slice.
struct Job {
    sim: Box<SecuritySim>,
    output: Box<SliceOutput>,
    step: u64,
}

/// The run with `workers` simulation threads and the calling thread merging.
fn run_on_workers(
    plan: &Plan,
    workers: usize,
    files: &mut OutputFiles,
    progress: &dyn Fn(u64),
) -> Result<()> {
    let (job_sender, job_receiver) = crossbeam_channel::unbounded::<Job>();
    let (done_sender, done_receiver) = crossbeam_channel::unbounded::<Option<Job>>();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let jobs = job_receiver.clone();
            let done = done_sender.clone();
            scope.spawn(move || simulate_jobs(plan, &jobs, &done));
        }
        // Only workers may hold senders of finished jobs, so that a worker
        // that dies ends the merger's wait instead of hanging it.
        drop(done_sender);
        // The job sender is moved in and dropped when merging ends, on
        // success or error, which lets the workers finish.
        merge_jobs(plan, job_sender, &done_receiver, files, progress)
    })
}

/// A worker: advances each simulation it receives and sends it back.
fn simulate_jobs(plan: &Plan, jobs: &Receiver<Job>, done: &Sender<Option<Job>>) {
    let _alarm = PanicAlarm(done);
    for mut job in jobs {
        plan.advance(&mut job.sim, &mut job.output, job.step);
        if done.send(Some(job)).is_err() {
            return;
        }
    }
}

/// Tells the merger when a worker panics (by sending `None`), since the
/// merger would otherwise wait forever for the simulation the worker held.
struct PanicAlarm<'a>(&'a Sender<Option<Job>>);

impl Drop for PanicAlarm<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ = self.0.send(None);
        }
    }
}

/// The merging side of [`run_on_workers`]. See the module documentation for
/// the two-slice pipeline.
fn merge_jobs(
    plan: &Plan,
    jobs: Sender<Job>,
    done: &Receiver<Option<Job>>,
    files: &mut OutputFiles,
    progress: &dyn Fn(u64),
) -> Result<()> {
    let securities = plan.securities();
    let steps = plan.steps();
    // Rows of the slice being completed and of the next one.
    let mut current: Vec<Option<Box<SliceOutput>>> = (0..securities).map(|_| None).collect();
    let mut next: Vec<Option<Box<SliceOutput>>> = (0..securities).map(|_| None).collect();
    // Simulations that finished the next slice before the current one was
    // merged; they wait so that no more than two slices are in flight.
    let mut parked: Vec<Box<SecuritySim>> = Vec::new();
    // Each security's merged buffers go back to it, so a buffer keeps the
    // capacity its own security needs rather than growing to the busiest's.
    let mut spare: Vec<Option<Box<SliceOutput>>> = (0..securities).map(|_| None).collect();
    let mut merged: Vec<Box<SliceOutput>> = Vec::with_capacity(securities);

    let send = |sim: Box<SecuritySim>, output: Box<SliceOutput>, step: u64| {
        jobs.send(Job { sim, output, step })
            .expect("workers live while the merger does");
    };
    for security in 0..securities {
        let sim = Box::new(SecuritySim::new(security as u32, plan.with_aggressor));
        send(sim, Box::default(), 0);
    }
    let mut received_next = 0;
    for step in 0..steps {
        let mut received = received_next;
        received_next = 0;
        while received < securities {
            let Ok(Some(job)) = done.recv() else {
                panic!("a generator worker panicked");
            };
            let security = job.sim.security() as usize;
            if job.step == step {
                current[security] = Some(job.output);
                received += 1;
                if step + 1 < steps {
                    send(
                        job.sim,
                        spare[security].take().unwrap_or_default(),
                        step + 1,
                    );
                }
            } else {
                debug_assert_eq!(job.step, step + 1);
                next[security] = Some(job.output);
                received_next += 1;
                parked.push(job.sim);
            }
        }
        merged.extend(
            current
                .iter_mut()
                .map(|slot| slot.take().expect("every security reported")),
        );
        files.append_slice(&merged)?;
        for (security, mut output) in merged.drain(..).enumerate() {
            output.clear();
            spare[security] = Some(output);
        }
        progress(files.bytes());
        std::mem::swap(&mut current, &mut next);
        for sim in parked.drain(..) {
            if step + 2 < steps {
                let security = sim.security() as usize;
                send(sim, spare[security].take().unwrap_or_default(), step + 2);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn average_digits_counts_exactly() {
        assert_eq!(average_digits(1.0), 1.0);
        assert_eq!(average_digits(9.0), 1.0);
        assert_eq!(average_digits(10.0), 1.1);
        assert_eq!(average_digits(100.0), 192.0 / 100.0);
    }

    #[test]
    fn orders_follow_activity_and_keep_the_mean() {
        let config = GenerateConfig {
            securities: 50,
            orders_per_partition: Some(1_000),
            ..GenerateConfig::default()
        };
        let plan = Plan::new(&config).unwrap();
        let total: u64 = plan.orders.iter().sum();
        assert!((49_900..=50_100).contains(&total), "total {total}");
        assert!(plan.orders.iter().max() > plan.orders.iter().min());
    }

    #[test]
    fn conflicting_or_empty_requests_are_usage_errors() {
        for config in [
            GenerateConfig {
                dates: 0,
                ..GenerateConfig::default()
            },
            GenerateConfig {
                securities: 0,
                ..GenerateConfig::default()
            },
            GenerateConfig {
                size: Some(1_000),
                orders_per_partition: Some(10),
                ..GenerateConfig::default()
            },
            GenerateConfig {
                size: Some(0),
                ..GenerateConfig::default()
            },
        ] {
            let error = Plan::new(&config).unwrap_err();
            assert!(error.is_usage_or_input(), "{error}");
        }
    }
}

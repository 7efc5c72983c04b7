//! The processing pool: runs a job over many partitions on `workers`
//! threads, largest first, with failures contained and retried.
//!
//! - **Order**: tasks enter a shared `crossbeam-deque` injector sorted by
//!   weight (the partition's bytes), largest first, and each worker steals
//!   from it in batches into its own deque. Starting the largest partitions
//!   first means the slowest one never starts last and leaves one core busy
//!   while the others idle.
//! - **Containment**: a job's error, or a panic caught at the partition
//!   boundary, fails that partition only; the others go on.
//! - **Retries**: a failed partition goes back to the end of the queue until
//!   it has had `max_attempts` attempts; the last error is reported.
//! - **One writer of state**: workers never touch the registry. They report
//!   [`PoolEvent`]s over a channel to the calling thread, which records them
//!   (and may stop the run, e.g. when an fsync fails).
//!
//! The pool knows nothing of analyses or registries: it runs any job, which
//! is also how the retry and panic rules are tested.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crossbeam_deque::{Injector, Steal, Worker};

use crate::error::Result;

/// One unit of work.
#[derive(Clone, Debug)]
pub struct Task<K> {
    /// What to work on (a partition key).
    pub key: K,
    /// Its size; larger tasks start first.
    pub weight: u64,
    /// Attempts already made (by earlier runs, for a resumed run).
    pub previous_attempts: u32,
}

/// What happened to a task; delivered to the caller in the order events
/// occur.
#[derive(Debug)]
pub enum PoolEvent<K, T> {
    /// An attempt started.
    Started {
        /// The task.
        key: K,
        /// 1-based attempt number, counting earlier runs' attempts.
        attempt: u32,
    },
    /// The attempt succeeded.
    Completed {
        /// The task.
        key: K,
        /// The job's result.
        output: T,
        /// How long the attempt took.
        duration: Duration,
    },
    /// The attempt failed.
    Failed {
        /// The task.
        key: K,
        /// Why (the error, or the panic message).
        error: String,
        /// How long the attempt took.
        duration: Duration,
        /// True when the task was queued again.
        will_retry: bool,
    },
}

/// How the pool ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolSummary {
    /// Tasks that completed.
    pub completed: usize,
    /// Tasks that failed every attempt.
    pub failed: usize,
}

struct Queued<K> {
    task: Task<K>,
}

/// Runs `job` over `tasks` with `workers` threads; every task gets up to
/// `max_attempts` attempts in total. `on_event` runs on the calling thread
/// for every event; if it returns an error, no new attempt starts, running
/// ones finish, and the error is returned.
pub fn run_pool<K, T, J, E>(
    mut tasks: Vec<Task<K>>,
    workers: usize,
    max_attempts: u32,
    job: J,
    mut on_event: E,
) -> Result<PoolSummary>
where
    K: Clone + Send + Sync,
    T: Send,
    J: Fn(&K) -> Result<T> + Sync,
    E: FnMut(PoolEvent<K, T>) -> Result<()>,
{
    let max_attempts = max_attempts.max(1);
    // Largest first; ties keep the caller's order so runs are repeatable.
    tasks.sort_by_key(|task| std::cmp::Reverse(task.weight));
    let remaining = AtomicUsize::new(tasks.len());
    let injector = Injector::new();
    for task in tasks {
        injector.push(Queued { task });
    }
    let stop = AtomicBool::new(false);
    let workers = workers.max(1);
    let (event_tx, event_rx) = crossbeam_channel::unbounded::<PoolEvent<K, T>>();
    let mut summary = PoolSummary::default();

    std::thread::scope(|scope| -> Result<()> {
        for _ in 0..workers {
            let event_tx = event_tx.clone();
            let (injector, remaining, stop, job) = (&injector, &remaining, &stop, &job);
            scope.spawn(move || {
                let local = Worker::new_fifo();
                while !stop.load(Ordering::Relaxed) && remaining.load(Ordering::Acquire) > 0 {
                    let Some(Queued { task }) = next_task(&local, injector) else {
                        // Everything left is running elsewhere and may come
                        // back as a retry; wait a moment and look again.
                        std::thread::sleep(Duration::from_millis(1));
                        continue;
                    };
                    let attempt = task.previous_attempts + 1;
                    let _ = event_tx.send(PoolEvent::Started {
                        key: task.key.clone(),
                        attempt,
                    });
                    let started = Instant::now();
                    let outcome = catch_unwind(AssertUnwindSafe(|| job(&task.key)));
                    let duration = started.elapsed();
                    let error = match outcome {
                        Ok(Ok(output)) => {
                            remaining.fetch_sub(1, Ordering::AcqRel);
                            let _ = event_tx.send(PoolEvent::Completed {
                                key: task.key,
                                output,
                                duration,
                            });
                            continue;
                        }
                        Ok(Err(error)) => error.to_string(),
                        Err(panic) => format!("panicked: {}", panic_message(&*panic)),
                    };
                    let will_retry = attempt < max_attempts && !stop.load(Ordering::Relaxed);
                    let key = task.key.clone();
                    if will_retry {
                        injector.push(Queued {
                            task: Task {
                                previous_attempts: attempt,
                                ..task
                            },
                        });
                    } else {
                        remaining.fetch_sub(1, Ordering::AcqRel);
                    }
                    let _ = event_tx.send(PoolEvent::Failed {
                        key,
                        error,
                        duration,
                        will_retry,
                    });
                }
            });
        }
        drop(event_tx);
        let mut first_error = None;
        for event in event_rx {
            match &event {
                PoolEvent::Completed { .. } => summary.completed += 1,
                PoolEvent::Failed {
                    will_retry: false, ..
                } => summary.failed += 1,
                _ => {}
            }
            if first_error.is_some() {
                continue;
            }
            if let Err(error) = on_event(event) {
                stop.store(true, Ordering::Relaxed);
                first_error = Some(error);
            }
        }
        first_error.map_or(Ok(()), Err)
    })?;
    Ok(summary)
}

/// The next task: from this worker's deque, else a batch stolen from the
/// shared injector.
fn next_task<T>(local: &Worker<T>, injector: &Injector<T>) -> Option<T> {
    if let Some(task) = local.pop() {
        return Some(task);
    }
    loop {
        match injector.steal_batch_with_limit_and_pop(local, 1) {
            Steal::Success(task) => return Some(task),
            Steal::Empty => return None,
            Steal::Retry => continue,
        }
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(message) = panic.downcast_ref::<&str>() {
        (*message).to_owned()
    } else if let Some(message) = panic.downcast_ref::<String>() {
        message.clone()
    } else {
        "unknown panic".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use super::*;
    use crate::error::Error;

    fn tasks(weights: &[u64]) -> Vec<Task<usize>> {
        weights
            .iter()
            .enumerate()
            .map(|(key, &weight)| Task {
                key,
                weight,
                previous_attempts: 0,
            })
            .collect()
    }

    #[test]
    fn largest_tasks_start_first_on_one_worker() {
        let mut started = Vec::new();
        run_pool(
            tasks(&[5, 50, 1, 20]),
            1,
            1,
            |&k| Ok(k),
            |event| {
                if let PoolEvent::Started { key, .. } = event {
                    started.push(key);
                }
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(started, vec![1, 3, 0, 2]);
    }

    #[test]
    fn transient_failures_are_retried_and_permanent_ones_reported() {
        let calls = Mutex::new(HashMap::<usize, u32>::new());
        let mut failed = Vec::new();
        let mut completed = Vec::new();
        let summary = run_pool(
            tasks(&[1; 6]),
            3,
            3,
            |&key| {
                let attempt = {
                    let mut calls = calls.lock().unwrap();
                    let count = calls.entry(key).or_default();
                    *count += 1;
                    *count
                };
                match key {
                    // Fails once, then succeeds.
                    2 if attempt == 1 => Err(Error::usage("transient")),
                    // Always fails, by error and by panic.
                    4 => Err(Error::usage("always")),
                    5 => panic!("boom {key}"),
                    _ => Ok(key * 10),
                }
            },
            |event| {
                match event {
                    PoolEvent::Completed { key, output, .. } => completed.push((key, output)),
                    PoolEvent::Failed {
                        key,
                        error,
                        will_retry: false,
                        ..
                    } => failed.push((key, error)),
                    _ => {}
                }
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(
            summary,
            PoolSummary {
                completed: 4,
                failed: 2
            }
        );
        completed.sort();
        assert_eq!(completed, vec![(0, 0), (1, 10), (2, 20), (3, 30)]);
        failed.sort();
        assert_eq!(
            failed,
            vec![(4, "always".to_owned()), (5, "panicked: boom 5".to_owned())]
        );
        let calls = calls.into_inner().unwrap();
        assert_eq!((calls[&2], calls[&4], calls[&5]), (2, 3, 3));
    }

    #[test]
    fn attempts_from_earlier_runs_count() {
        let mut attempts = Vec::new();
        let mut input = tasks(&[1]);
        input[0].previous_attempts = 2;
        let summary = run_pool(
            input,
            2,
            3,
            |_| Err::<(), _>(Error::usage("no")),
            |event| {
                if let PoolEvent::Started { attempt, .. } = event {
                    attempts.push(attempt);
                }
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(attempts, vec![3]);
        assert_eq!(summary.failed, 1);
    }

    #[test]
    fn an_error_from_the_recorder_stops_the_pool() {
        let ran = AtomicUsize::new(0);
        let error = run_pool(
            tasks(&[1; 50]),
            2,
            1,
            |_| {
                ran.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(2));
                Ok(())
            },
            |event| match event {
                PoolEvent::Completed { .. } => Err(Error::usage("fsync failed")),
                _ => Ok(()),
            },
        )
        .unwrap_err();
        assert_eq!(error.to_string(), "fsync failed");
        assert!(ran.load(Ordering::Relaxed) < 50, "the pool must stop early");
    }
}

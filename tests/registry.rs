//! The partition registry through its public API: persistence, recovery from
//! torn and corrupt logs, resume rules, the JSON format, and a property test
//! that replaying the log always rebuilds the live state.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use proptest::prelude::*;
use serde_json::Value;
use sweep_pipeline::ErrorKind;
use sweep_pipeline::registry::{
    ExtractionCounts, ExtractionRecord, JSON_FILE_NAME, LOG_FILE_NAME, PartitionFigures,
    PartitionRecord, PartitionStatus, Registry, RegistryOptions, RunInputs, StatusCounts,
};
use tempfile::TempDir;

/// An output folder and two input files.
struct Setup {
    _inputs_dir: TempDir,
    output: TempDir,
    orders: PathBuf,
    trades: PathBuf,
}

impl Setup {
    fn new() -> Setup {
        let inputs_dir = tempfile::tempdir().unwrap();
        let orders = inputs_dir.path().join("orders.csv");
        let trades = inputs_dir.path().join("trades.csv");
        fs::write(&orders, "date,security_code,order_id\n").unwrap();
        fs::write(&trades, "date,security_code,trade_id\n").unwrap();
        Setup {
            _inputs_dir: inputs_dir,
            output: tempfile::tempdir().unwrap(),
            orders,
            trades,
        }
    }

    fn dir(&self) -> &Path {
        self.output.path()
    }

    fn inputs(&self) -> RunInputs {
        RunInputs::of(&self.orders, &self.trades, 2).unwrap()
    }

    fn create(&self) -> Registry {
        Registry::create(self.dir(), self.inputs(), options()).unwrap()
    }

    fn log(&self) -> PathBuf {
        self.dir().join(LOG_FILE_NAME)
    }

    fn json(&self) -> PathBuf {
        self.dir().join(JSON_FILE_NAME)
    }
}

fn options() -> RegistryOptions {
    RegistryOptions {
        fsync: true,
        sync_every: 4,
    }
}

fn no_fsync() -> RegistryOptions {
    RegistryOptions {
        fsync: false,
        sync_every: 1,
    }
}

fn figures(n: u64) -> PartitionFigures {
    PartitionFigures {
        order_count: 10 * n,
        trade_count: 5 * n,
        matched_orders: 6 * n,
        unmatched_orders: 4 * n,
        taker_orders: 3 * n,
        sweep_orders: n,
        unlinked_trades: 1,
        duplicate_orders: 2,
    }
}

fn partitions(names: &[(&str, &str)]) -> Vec<(String, String)> {
    names
        .iter()
        .map(|(d, c)| (d.to_string(), c.to_string()))
        .collect()
}

fn counts() -> ExtractionCounts {
    ExtractionCounts {
        orders_rows: 1000,
        trades_rows: 700,
        orders_rejected: 3,
        trades_rejected: 1,
    }
}

/// Everything the public API shows of a registry.
#[derive(Debug, PartialEq)]
struct View {
    created_at: String,
    updated_at: String,
    partitions: Vec<PartitionRecord>,
    counts: StatusCounts,
    extraction: Option<ExtractionRecord>,
    inputs: Option<RunInputs>,
}

fn view(registry: &Registry) -> View {
    View {
        created_at: registry.created_at().to_string(),
        updated_at: registry.updated_at().to_string(),
        partitions: registry.list(None).into_iter().cloned().collect(),
        counts: registry.status_counts(),
        extraction: registry.extraction().cloned(),
        inputs: registry.inputs().cloned(),
    }
}

/// A registry with one partition of each final status and one pending.
fn populated(setup: &Setup) -> Registry {
    let mut registry = setup.create();
    registry
        .record_extraction_finished(
            &partitions(&[
                ("2024-09-05", "110621"),
                ("2024-09-05", "110622"),
                ("2024-09-06", "110621"),
            ]),
            counts(),
        )
        .unwrap();
    registry.mark_running("2024-09-05/110621").unwrap();
    registry
        .mark_completed("2024-09-05/110621", figures(1), 15.3)
        .unwrap();
    registry.mark_running("2024-09-05/110622").unwrap();
    registry
        .mark_failed("2024-09-05/110622", "orders.csv:3: bad price", 0.25)
        .unwrap();
    registry
}

/// Byte offsets of the records of a log, by walking the frames.
fn record_offsets(bytes: &[u8]) -> Vec<usize> {
    let mut offsets = Vec::new();
    let mut offset = 0;
    while offset + 17 <= bytes.len() {
        offsets.push(offset);
        let length = u32::from_le_bytes(bytes[offset + 4..offset + 8].try_into().unwrap());
        offset += 17 + length as usize;
    }
    assert_eq!(offset, bytes.len(), "the log is a whole number of records");
    offsets
}

fn json_value(setup: &Setup) -> Value {
    serde_json::from_slice(&fs::read(setup.json()).unwrap()).unwrap()
}

fn keys(value: &Value) -> BTreeSet<String> {
    value.as_object().unwrap().keys().cloned().collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[test]
fn reopening_gives_the_same_state() {
    let setup = Setup::new();
    let mut registry = populated(&setup);
    registry.add_partition("2024-09-07", "X.1").unwrap();
    registry.sync().unwrap();
    let live = view(&registry);
    assert_eq!(live.partitions.len(), 4);
    drop(registry);

    let reopened = Registry::open_existing(setup.dir(), options()).unwrap();
    assert_eq!(view(&reopened), live);
    drop(reopened);
    let read_only = Registry::open_read_only(setup.dir()).unwrap();
    assert_eq!(view(&read_only), live);
    assert!(read_only.is_read_only());

    let done = read_only.get("2024-09-05/110621").unwrap();
    assert_eq!(done.status, PartitionStatus::Completed);
    assert_eq!(done.figures(), Some(figures(1)));
    assert_eq!(done.duration_sec, Some(15.3));
    assert_eq!(done.attempts, 1);
    assert!(done.started_at.is_some() && done.completed_at.is_some());
    let failed = read_only.get("2024-09-05/110622").unwrap();
    assert_eq!(
        failed.error_message.as_deref(),
        Some("orders.csv:3: bad price")
    );
    assert_eq!(failed.figures(), None);
    assert_eq!(read_only.extraction().unwrap().counts, counts());
    assert_eq!(read_only.inputs(), Some(&setup.inputs()));
}

#[test]
fn the_json_has_the_python_fields_and_ours() {
    let setup = Setup::new();
    let mut registry = populated(&setup);
    registry.compact().unwrap();
    let json = json_value(&setup);

    assert_eq!(
        keys(&json),
        set(&[
            // The Python pipeline's.
            "created_at",
            "total_partitions",
            "status_counts",
            "partitions",
            // Ours.
            "updated_at",
            "inputs",
            "sweep_min_levels",
            "rejected_rows",
            "extraction",
            "log_seq",
        ])
    );
    assert_eq!(json["total_partitions"], 3);
    assert_eq!(
        json["status_counts"],
        serde_json::json!({"pending": 1, "running": 0, "completed": 1, "failed": 1})
    );
    assert_eq!(
        json["rejected_rows"],
        serde_json::json!({"orders": 3, "trades": 1})
    );
    assert_eq!(json["extraction"]["status"], "completed");
    assert_eq!(json["extraction"]["partitions"], 3);
    assert_eq!(json["extraction"]["orders_rows"], 1000);
    assert_eq!(json["sweep_min_levels"], 2);
    assert_eq!(keys(&json["inputs"]), set(&["orders", "trades"]));
    assert_eq!(
        keys(&json["inputs"]["orders"]),
        set(&["path", "size", "modified_ns", "modified"])
    );
    let created = json["created_at"].as_str().unwrap();
    assert!(created.ends_with('Z') && humantime::parse_rfc3339(created).is_ok());

    let python_fields = [
        "partition_key",
        "date",
        "security_code",
        "status",
        "order_count",
        "trade_count",
        "matched_orders",
        "unmatched_orders",
        "duration_sec",
        "attempts",
        "error_message",
        "started_at",
        "completed_at",
    ];
    let mut completed_fields = python_fields.to_vec();
    completed_fields.extend([
        "taker_orders",
        "sweep_orders",
        "unlinked_trades",
        "duplicate_orders",
    ]);
    let done = &json["partitions"]["2024-09-05/110621"];
    assert_eq!(keys(done), set(&completed_fields));
    assert_eq!(done["status"], "completed");
    assert_eq!(done["order_count"], 10);
    assert_eq!(done["sweep_orders"], 1);
    assert_eq!(done["duration_sec"], 15.3);
    assert_eq!(done["error_message"], Value::Null);
    assert_eq!(
        keys(&json["partitions"]["2024-09-05/110622"]),
        set(&python_fields)
    );
    assert_eq!(json["partitions"]["2024-09-05/110622"]["status"], "failed");
    assert_eq!(json["partitions"]["2024-09-06/110621"]["status"], "pending");

    // Partitions appear sorted by key in the text itself.
    let text = fs::read_to_string(setup.json()).unwrap();
    let positions: Vec<usize> = [
        "2024-09-05/110621",
        "2024-09-05/110622",
        "2024-09-06/110621",
    ]
    .iter()
    .map(|key| text.find(&format!("\"{key}\": {{")).unwrap())
    .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
}

#[test]
fn a_new_registry_writes_a_json_with_all_four_counts() {
    let setup = Setup::new();
    let _registry = setup.create();
    let json = json_value(&setup);
    assert_eq!(
        json["status_counts"],
        serde_json::json!({"pending": 0, "running": 0, "completed": 0, "failed": 0})
    );
    assert_eq!(json["extraction"]["status"], "pending");
    assert_eq!(json["partitions"], serde_json::json!({}));
}

#[test]
fn a_torn_last_record_is_dropped_at_every_cut() {
    let setup = Setup::new();
    let mut registry = populated(&setup);
    registry.sync().unwrap();
    let before = view(&registry);
    let good_len = fs::metadata(setup.log()).unwrap().len() as usize;
    registry.add_partition("2024-09-07", "LAST").unwrap();
    registry.sync().unwrap();
    drop(registry);
    let full = fs::read(setup.log()).unwrap();
    assert!(full.len() > good_len + 17);

    for cut in good_len..full.len() {
        fs::write(setup.log(), &full[..cut]).unwrap();
        let read_only = Registry::open_read_only(setup.dir()).unwrap();
        assert_eq!(view(&read_only), before, "cut at {cut}");
        drop(read_only);

        // A writer cuts the tail off, then appends after the good records.
        let mut registry = Registry::open_existing(setup.dir(), options()).unwrap();
        assert_eq!(view(&registry), before, "cut at {cut}");
        assert_eq!(
            fs::metadata(setup.log()).unwrap().len() as usize,
            good_len,
            "cut at {cut}"
        );
        registry.add_partition("2024-09-08", "AFTER").unwrap();
        registry.sync().unwrap();
        drop(registry);

        let bytes = fs::read(setup.log()).unwrap();
        let offsets = record_offsets(&bytes);
        assert_eq!(offsets.last().copied(), Some(good_len));
        let reopened = Registry::open_read_only(setup.dir()).unwrap();
        assert!(reopened.get("2024-09-08/AFTER").is_some());
        assert!(reopened.get("2024-09-07/LAST").is_none());
        assert_eq!(reopened.total_partitions(), before.partitions.len() + 1);
    }
}

#[test]
fn a_flipped_byte_in_a_middle_record_is_corruption() {
    let setup = Setup::new();
    let mut registry = populated(&setup);
    registry.sync().unwrap();
    drop(registry);
    let bytes = fs::read(setup.log()).unwrap();
    let offsets = record_offsets(&bytes);
    assert!(offsets.len() >= 4);
    let damaged_record = 2; // 0-based: the third record
    let offset = offsets[damaged_record];
    for position in [offset, offset + 5, offset + 9, offset + 20, offsets[3] - 1] {
        let mut damaged = bytes.clone();
        damaged[position] ^= 0x10;
        fs::write(setup.log(), &damaged).unwrap();
        for result in [
            Registry::open_existing(setup.dir(), options()),
            Registry::open_read_only(setup.dir()),
        ] {
            let error = result.unwrap_err();
            let message = error.to_string();
            assert!(
                matches!(error.kind(), ErrorKind::RegistryCorrupt { .. }),
                "byte {position}: {message}"
            );
            assert!(
                message.contains(&format!("record 3 at byte offset {offset}")),
                "byte {position}: {message}"
            );
        }
        // Refusing changed nothing.
        assert_eq!(fs::read(setup.log()).unwrap(), damaged);
    }
}

#[test]
fn resume_turns_running_back_into_pending_and_counts_attempts() {
    let setup = Setup::new();
    let mut registry = populated(&setup);
    let key = "2024-09-05/110622";
    registry.mark_running(key).unwrap();
    registry.mark_failed(key, "second failure", 0.5).unwrap();
    registry.mark_running(key).unwrap();
    assert_eq!(registry.get(key).unwrap().attempts, 3);
    assert_eq!(registry.status_counts().running, 1);
    registry.sync().unwrap();
    drop(registry); // as if killed while running

    let registry =
        Registry::open_for_resume(setup.dir(), Some(&setup.inputs()), options()).unwrap();
    let record = registry.get(key).unwrap();
    assert_eq!(record.status, PartitionStatus::Pending);
    assert_eq!(record.attempts, 3);
    assert_eq!(record.error_message.as_deref(), Some("second failure"));
    assert_eq!(registry.status_counts().running, 0);
    assert_eq!(
        registry.pending_keys(),
        vec![key.to_string(), "2024-09-06/110621".to_string()]
    );
    drop(registry);
    // The reset is itself in the log.
    let again = Registry::open_read_only(setup.dir()).unwrap();
    assert_eq!(again.get(key).unwrap().status, PartitionStatus::Pending);
}

#[test]
fn transitions_out_of_order_are_refused_and_change_nothing() {
    let setup = Setup::new();
    let mut registry = populated(&setup);
    let before = view(&registry);
    let log_len = fs::metadata(setup.log()).unwrap().len();
    let pending = "2024-09-06/110621";
    for result in [
        registry.mark_completed(pending, figures(1), 1.0),
        registry.mark_failed(pending, "x", 1.0),
        registry.mark_running("2024-09-05/110621"), // completed
        registry.mark_running("2099-01-01/NOPE"),
    ] {
        let error = result.unwrap_err();
        assert!(
            matches!(error.kind(), ErrorKind::Partition { .. }),
            "{error}"
        );
    }
    assert_eq!(view(&registry), before);
    assert_eq!(fs::metadata(setup.log()).unwrap().len(), log_len);
}

#[test]
fn reset_failed_makes_failed_partitions_pending_with_a_fresh_budget() {
    let setup = Setup::new();
    let mut registry = populated(&setup);
    registry.mark_running("2024-09-06/110621").unwrap();
    registry
        .mark_failed("2024-09-06/110621", "disk full", 0.1)
        .unwrap();
    assert_eq!(registry.list_failed().len(), 2);
    assert_eq!(
        registry.retryable_failed_keys(2),
        vec!["2024-09-05/110622", "2024-09-06/110621"]
    );
    assert!(registry.retryable_failed_keys(1).is_empty());

    assert_eq!(registry.reset_failed().unwrap(), 2);
    assert!(registry.list_failed().is_empty());
    assert_eq!(registry.reset_failed().unwrap(), 0);
    drop(registry);

    let registry = Registry::open_read_only(setup.dir()).unwrap();
    let pending = registry.list(Some(PartitionStatus::Pending));
    assert_eq!(pending.len(), 2);
    for record in pending {
        assert_eq!(record.attempts, 0);
        assert!(record.error_message.is_some());
    }
}

#[test]
fn list_filters_by_status_in_key_order() {
    let setup = Setup::new();
    let registry = populated(&setup);
    let keys_of = |status| {
        registry
            .list(status)
            .into_iter()
            .map(|r| r.partition_key.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        keys_of(None),
        vec![
            "2024-09-05/110621",
            "2024-09-05/110622",
            "2024-09-06/110621"
        ]
    );
    assert_eq!(
        keys_of(Some(PartitionStatus::Completed)),
        vec!["2024-09-05/110621"]
    );
    assert_eq!(
        keys_of(Some(PartitionStatus::Failed)),
        vec!["2024-09-05/110622"]
    );
    assert_eq!(
        keys_of(Some(PartitionStatus::Pending)),
        vec!["2024-09-06/110621"]
    );
    assert!(keys_of(Some(PartitionStatus::Running)).is_empty());
}

#[test]
fn resume_refuses_changed_inputs() {
    let setup = Setup::new();
    drop(populated(&setup));
    let log_before = fs::read(setup.log()).unwrap();

    // Size.
    fs::write(
        &setup.orders,
        "date,security_code,order_id\n2024-01-01,A,1\n",
    )
    .unwrap();
    let error =
        Registry::open_for_resume(setup.dir(), Some(&setup.inputs()), options()).unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error.kind(), ErrorKind::InputsChanged { .. }),
        "{message}"
    );
    assert!(message.contains("orders input"), "{message}");
    assert!(
        message.contains("size was 28 bytes, now 43 bytes"),
        "{message}"
    );
    assert!(!message.contains("trades input"), "{message}");
    assert_eq!(fs::read(setup.log()).unwrap(), log_before);

    // Modification time only (the size is back to what was recorded).
    let setup = Setup::new();
    drop(populated(&setup));
    let file = fs::File::options().write(true).open(&setup.trades).unwrap();
    file.set_modified(SystemTime::now() + Duration::from_secs(3600))
        .unwrap();
    drop(file);
    let error =
        Registry::open_for_resume(setup.dir(), Some(&setup.inputs()), options()).unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(error.kind(), ErrorKind::InputsChanged { .. }),
        "{message}"
    );
    assert!(message.contains("trades input"), "{message}");
    assert!(message.contains("modification time was"), "{message}");

    // A different sweep threshold.
    let recorded = Registry::open_read_only(setup.dir())
        .unwrap()
        .inputs()
        .cloned()
        .unwrap();
    let mut other = recorded.clone();
    other.sweep_min_levels = 3;
    let error = Registry::open_for_resume(setup.dir(), Some(&other), options()).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("--sweep-min-levels was 2, now 3")
    );

    // Unchanged inputs resume.
    Registry::open_for_resume(setup.dir(), Some(&recorded), options()).unwrap();
}

#[test]
fn a_used_folder_needs_resume_or_force() {
    let setup = Setup::new();
    drop(populated(&setup));
    let error = Registry::create(setup.dir(), setup.inputs(), options()).unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::OutputInUse { .. }),
        "{error}"
    );

    // A JSON alone (a folder from the Python pipeline) counts as a registry.
    fs::remove_file(setup.log()).unwrap();
    let error = Registry::create(setup.dir(), setup.inputs(), options()).unwrap_err();
    assert!(matches!(error.kind(), ErrorKind::OutputInUse { .. }));

    let mut forced = Registry::create_forced(setup.dir(), setup.inputs(), options()).unwrap();
    assert_eq!(forced.total_partitions(), 0);
    assert!(!forced.extraction_finished());
    forced.add_partition("2024-01-01", "A").unwrap();
    forced.compact().unwrap();
    drop(forced);
    let reopened = Registry::open_read_only(setup.dir()).unwrap();
    assert_eq!(reopened.total_partitions(), 1);
    assert_eq!(json_value(&setup)["total_partitions"], 1);
}

#[test]
fn forcing_over_a_corrupt_log_starts_over() {
    let setup = Setup::new();
    drop(populated(&setup));
    let mut bytes = fs::read(setup.log()).unwrap();
    bytes[20] ^= 0xff;
    fs::write(setup.log(), &bytes).unwrap();
    assert!(Registry::open_existing(setup.dir(), options()).is_err());
    let registry = Registry::create_forced(setup.dir(), setup.inputs(), options()).unwrap();
    assert_eq!(registry.total_partitions(), 0);
}

#[test]
fn a_second_writer_is_refused_while_the_first_lives() {
    let setup = Setup::new();
    let registry = populated(&setup);
    let error = Registry::open_existing(setup.dir(), options()).unwrap_err();
    assert!(
        error.to_string().contains("another sweep-pipeline"),
        "{error}"
    );
    let error = Registry::create_forced(setup.dir(), setup.inputs(), options()).unwrap_err();
    assert!(
        error.to_string().contains("another sweep-pipeline"),
        "{error}"
    );
    // Reading is fine.
    assert_eq!(
        view(&Registry::open_read_only(setup.dir()).unwrap()),
        view(&registry)
    );
    drop(registry);
    Registry::open_existing(setup.dir(), options()).unwrap();
}

#[test]
fn a_read_only_registry_refuses_changes() {
    let setup = Setup::new();
    drop(populated(&setup));
    let mut registry = Registry::open_read_only(setup.dir()).unwrap();
    assert!(registry.mark_running("2024-09-06/110621").is_err());
    assert!(registry.add_partition("2024-01-01", "B").is_err());
    assert!(registry.compact().is_err());
    assert!(registry.sync().is_ok());
}

#[test]
fn no_registry_is_a_clear_error() {
    let setup = Setup::new();
    for result in [
        Registry::open_existing(setup.dir(), options()),
        Registry::open_for_resume(setup.dir(), None, options()),
        Registry::open_read_only(setup.dir()),
    ] {
        let message = result.unwrap_err().to_string();
        assert!(message.contains("holds no partition registry"), "{message}");
    }
    assert!(!setup.log().exists());
}

#[test]
fn compaction_is_atomic_and_leaves_no_temporary_file() {
    let setup = Setup::new();
    let mut registry = populated(&setup);
    let temp = setup.dir().join(".partition_registry.json.tmp");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let stop = stop.clone();
        let json = setup.json();
        std::thread::spawn(move || {
            let mut reads = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let bytes = fs::read(&json).unwrap();
                let value: Value = serde_json::from_slice(&bytes)
                    .unwrap_or_else(|e| panic!("a partial JSON was seen: {e}"));
                assert!(value["partitions"].is_object());
                reads += 1;
            }
            reads
        })
    };
    for i in 0..200 {
        registry
            .add_partition("2024-10-01", &format!("S{i:03}"))
            .unwrap();
        registry.compact().unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(reader.join().unwrap() > 0);
    assert!(!temp.exists());
    assert_eq!(json_value(&setup)["total_partitions"], 203);

    // A compaction that fails leaves the previous JSON whole.
    let before = fs::read(setup.json()).unwrap();
    fs::create_dir(&temp).unwrap();
    registry.add_partition("2024-10-02", "FAIL").unwrap();
    assert!(registry.compact().is_err());
    assert_eq!(fs::read(setup.json()).unwrap(), before);
    fs::remove_dir(&temp).unwrap();
    registry.compact().unwrap();
    assert_eq!(json_value(&setup)["total_partitions"], 204);
    drop(registry);

    // A temporary file left by a crash is removed on the next open.
    fs::write(&temp, b"{\"partial\":").unwrap();
    drop(Registry::open_existing(setup.dir(), options()).unwrap());
    assert!(!temp.exists());
}

#[test]
fn without_a_log_the_json_is_imported() {
    let setup = Setup::new();
    let mut registry = populated(&setup);
    registry.compact().unwrap();
    let live = view(&registry);
    drop(registry);
    fs::remove_file(setup.log()).unwrap();

    let read_only = Registry::open_read_only(setup.dir()).unwrap();
    assert_eq!(view(&read_only).partitions, live.partitions);
    drop(read_only);
    let mut registry =
        Registry::open_for_resume(setup.dir(), Some(&setup.inputs()), options()).unwrap();
    assert_eq!(view(&registry).partitions, live.partitions);
    assert_eq!(registry.inputs(), live.inputs.as_ref());
    assert_eq!(registry.extraction(), live.extraction.as_ref());
    registry.mark_running("2024-09-06/110621").unwrap();
    registry
        .mark_completed("2024-09-06/110621", figures(2), 2.0)
        .unwrap();
    registry.sync().unwrap();
    let after = view(&registry);
    drop(registry);
    // The log now starts with the imported state.
    assert_eq!(view(&Registry::open_read_only(setup.dir()).unwrap()), after);
}

#[test]
fn a_python_registry_is_taken_over() {
    let setup = Setup::new();
    fs::write(
        setup.json(),
        r#"{
          "created_at": "2024-01-05T10:00:00Z",
          "total_partitions": 2,
          "status_counts": {"completed": 1, "failed": 0, "pending": 1},
          "partitions": {
            "2024-09-05/110621": {
              "partition_key": "2024-09-05/110621", "date": "2024-09-05",
              "security_code": "110621", "status": "completed",
              "order_count": 1250, "trade_count": 847,
              "matched_orders": 1000, "unmatched_orders": 250,
              "duration_sec": 15.3, "attempts": 1, "error_message": null,
              "started_at": "2024-01-05T10:15:00Z", "completed_at": "2024-01-05T10:15:15Z"
            },
            "2024-09-05/110622": {
              "partition_key": "2024-09-05/110622", "date": "2024-09-05",
              "security_code": "110622", "status": "running",
              "order_count": 0, "trade_count": 0,
              "matched_orders": 0, "unmatched_orders": 0,
              "duration_sec": null, "attempts": 1, "error_message": null,
              "started_at": "2024-01-05T10:15:00Z", "completed_at": null
            }
          }
        }"#,
    )
    .unwrap();
    let mut registry =
        Registry::open_for_resume(setup.dir(), Some(&setup.inputs()), options()).unwrap();
    assert_eq!(registry.created_at(), "2024-01-05T10:00:00Z");
    assert_eq!(registry.pending_keys(), vec!["2024-09-05/110622"]);
    assert_eq!(registry.inputs(), Some(&setup.inputs()));
    registry.compact().unwrap();
    drop(registry);
    let json = json_value(&setup);
    assert_eq!(json["partitions"]["2024-09-05/110621"]["order_count"], 1250);
    assert_eq!(json["status_counts"]["running"], 0);
}

#[test]
fn without_fsync_everything_still_round_trips() {
    let setup = Setup::new();
    let mut registry = Registry::create(setup.dir(), setup.inputs(), no_fsync()).unwrap();
    registry
        .record_extraction_finished(&partitions(&[("2024-01-02", "A")]), counts())
        .unwrap();
    registry.mark_running("2024-01-02/A").unwrap();
    registry
        .mark_completed("2024-01-02/A", figures(3), 0.000_001)
        .unwrap();
    registry.compact().unwrap();
    let live = view(&registry);
    drop(registry);
    assert_eq!(
        view(&Registry::open_existing(setup.dir(), no_fsync()).unwrap()),
        live
    );
}

// ---- property test -------------------------------------------------------

#[derive(Debug, Clone)]
enum Op {
    Add(u8),
    Extract(Vec<u8>),
    Start(u8),
    Complete(u8, u64, u32),
    Fail(u8, u8, u32),
    ResetFailed,
    Sync,
    Compact,
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    let partition = 0u8..6;
    prop_oneof![
        1 => partition.clone().prop_map(Op::Add),
        1 => prop::collection::vec(0u8..6, 0..4).prop_map(Op::Extract),
        3 => partition.clone().prop_map(Op::Start),
        3 => (partition.clone(), 0u64..1000, 0u32..100_000).prop_map(|(p, n, d)| Op::Complete(p, n, d)),
        2 => (partition.clone(), any::<u8>(), 0u32..100_000).prop_map(|(p, m, d)| Op::Fail(p, m, d)),
        1 => Just(Op::ResetFailed),
        1 => Just(Op::Sync),
        1 => Just(Op::Compact),
        1 => Just(Op::Reopen),
    ]
}

fn partition_of(i: u8) -> (String, String) {
    (format!("2024-09-0{}", 1 + i % 3), format!("S{i}"))
}

fn key_of(i: u8) -> String {
    let (date, code) = partition_of(i);
    format!("{date}/{code}")
}

fn run_op(registry: &mut Registry, op: &Op, dir: &Path, options: RegistryOptions) {
    // Transitions the state does not allow are refused with a Partition
    // error and must leave no trace; anything else must succeed.
    let refused_ok = |result: sweep_pipeline::Result<()>| match result {
        Ok(()) => {}
        Err(e) => assert!(matches!(e.kind(), ErrorKind::Partition { .. }), "{e}"),
    };
    match op {
        Op::Add(i) => {
            let (date, code) = partition_of(*i);
            registry.add_partition(&date, &code).unwrap();
        }
        Op::Extract(ids) => {
            let list: Vec<_> = ids.iter().map(|&i| partition_of(i)).collect();
            registry
                .record_extraction_finished(&list, counts())
                .unwrap();
        }
        Op::Start(i) => refused_ok(registry.mark_running(&key_of(*i))),
        Op::Complete(i, n, micros) => {
            refused_ok(registry.mark_completed(&key_of(*i), figures(*n), f64::from(*micros) / 1e6))
        }
        Op::Fail(i, m, micros) => refused_ok(registry.mark_failed(
            &key_of(*i),
            &format!("error \"{m}\"\n"),
            f64::from(*micros) / 7e3,
        )),
        Op::ResetFailed => {
            registry.reset_failed().unwrap();
        }
        Op::Sync => registry.sync().unwrap(),
        Op::Compact => registry.compact().unwrap(),
        Op::Reopen => {
            let placeholder = Registry::open_read_only(dir).unwrap();
            drop(std::mem::replace(registry, placeholder));
            *registry = Registry::open_existing(dir, options).unwrap();
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn replaying_the_log_rebuilds_the_live_state(
        ops in prop::collection::vec(op(), 0..40),
        sync_every in 1usize..6,
    ) {
        let setup = Setup::new();
        let options = RegistryOptions { fsync: false, sync_every };
        let mut registry = Registry::create(setup.dir(), setup.inputs(), options).unwrap();
        for op in &ops {
            let before = view(&registry);
            let log_len = fs::metadata(setup.log()).unwrap().len();
            run_op(&mut registry, op, setup.dir(), options);
            if matches!(op, Op::Start(_) | Op::Complete(..) | Op::Fail(..))
                && fs::metadata(setup.log()).unwrap().len() == log_len
            {
                // Refused: nothing changed.
                prop_assert_eq!(view(&registry), before);
            }
            let counts = registry.status_counts();
            prop_assert_eq!(counts.total(), registry.total_partitions());
        }
        let live = view(&registry);

        // From the log, without the reset a writer does.
        prop_assert_eq!(&view(&Registry::open_read_only(setup.dir()).unwrap()), &live);

        // From the JSON alone.
        registry.compact().unwrap();
        drop(registry);
        fs::remove_file(setup.log()).unwrap();
        let from_json = Registry::open_read_only(setup.dir()).unwrap();
        prop_assert_eq!(&view(&from_json), &live);
    }
}

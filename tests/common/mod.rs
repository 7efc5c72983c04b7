//! Helpers shared by the end-to-end tests that run the real binary
//! (`run_cli.rs`, `crash_safety.rs`): spawning it, generating inputs,
//! reading output trees and the registry.
//!
//! Each test file compiles this module on its own and uses part of it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// The four stats files of a completed partition, relative to its folder.
pub const STATS_FILES: [&str; 4] = [
    "stats/matched/sweep_order_comparison_detailed.csv",
    "stats/matched/sweep_order_comparison_summary.csv",
    "stats/matched/sweep_order_statistical_tests.csv",
    "stats/unmatched/unmatched_orders_analysis.csv",
];

/// The registry log and its JSON compaction, in the output folder.
pub const LOG: &str = "partition_registry.log";
pub const JSON: &str = "partition_registry.json";

/// The binary under test.
pub fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sweep-pipeline"))
}

/// What a finished invocation said.
#[derive(Debug)]
pub struct Outcome {
    /// The exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    fn from_output(output: Output) -> Outcome {
        Outcome {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Panics with both streams unless the exit code is `code`.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Outcome {
        assert_eq!(
            self.code,
            Some(code),
            "expected exit code {code}\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

/// Runs the binary with `args` to completion.
pub fn run<I, S>(args: I) -> Outcome
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Outcome::from_output(binary().args(args).output().expect("run sweep-pipeline"))
}

/// A generated pair of inputs.
#[derive(Clone, Debug)]
pub struct Inputs {
    pub orders: PathBuf,
    pub trades: PathBuf,
}

/// How big a generated data set is.
#[derive(Clone, Copy, Debug)]
pub struct Generated {
    pub dates: u32,
    pub securities: u32,
    pub orders_per_partition: u32,
    pub seed: u64,
    pub with_aggressor: bool,
}

/// Generates inputs into `dir` with `sweep-pipeline generate`.
pub fn generate(dir: &Path, size: Generated) -> Inputs {
    let mut args: Vec<String> = vec![
        "generate".into(),
        "--output".into(),
        dir.display().to_string(),
        "--dates".into(),
        size.dates.to_string(),
        "--securities".into(),
        size.securities.to_string(),
        "--orders-per-partition".into(),
        size.orders_per_partition.to_string(),
        "--seed".into(),
        size.seed.to_string(),
        "--quiet".into(),
    ];
    if size.with_aggressor {
        args.push("--with-aggressor".into());
    }
    run(&args).expect_code(0);
    let inputs = Inputs {
        orders: dir.join("orders.csv"),
        trades: dir.join("trades.csv"),
    };
    assert!(inputs.orders.is_file() && inputs.trades.is_file());
    inputs
}

/// The arguments of a full run of `inputs` into `output`, then `extra`.
pub fn run_args(inputs: &Inputs, output: &Path, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "--orders".into(),
        inputs.orders.display().to_string(),
        "--trades".into(),
        inputs.trades.display().to_string(),
        "--output".into(),
        output.display().to_string(),
        "--quiet".into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// Every file under `root`, by path relative to `root` (with `/`), with its
/// bytes. Empty when `root` does not exist.
pub fn read_tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let relative = path.strip_prefix(root).unwrap();
                let name = relative.to_string_lossy().replace('\\', "/");
                out.insert(name, fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// The data a run produces: `partitions/` and `rejected/`, every file with
/// its bytes (the registry files are compared separately: they hold
/// timestamps).
pub fn output_tree(output: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut tree = BTreeMap::new();
    for top in ["partitions", "rejected"] {
        for (name, bytes) in read_tree(&output.join(top)) {
            tree.insert(format!("{top}/{name}"), bytes);
        }
    }
    tree
}

/// Asserts two trees are equal, naming the first difference instead of
/// dumping megabytes.
#[track_caller]
pub fn assert_same_tree(
    got: &BTreeMap<String, Vec<u8>>,
    expected: &BTreeMap<String, Vec<u8>>,
    context: &str,
) {
    let missing: Vec<&String> = expected.keys().filter(|k| !got.contains_key(*k)).collect();
    let extra: Vec<&String> = got.keys().filter(|k| !expected.contains_key(*k)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{context}: files differ; missing {missing:?}, unexpected {extra:?}"
    );
    for (name, bytes) in expected {
        if got[name] != *bytes {
            let got_text = String::from_utf8_lossy(&got[name]);
            let expected_text = String::from_utf8_lossy(bytes);
            let line = got_text
                .lines()
                .zip(expected_text.lines())
                .position(|(a, b)| a != b)
                .map_or_else(
                    || "a missing or extra line".to_owned(),
                    |i| format!("line {}", i + 1),
                );
            panic!(
                "{context}: {name} differs ({} bytes, expected {}; first difference at {line})",
                got[name].len(),
                bytes.len()
            );
        }
    }
}

/// Files whose names say they are temporary or staging leftovers
/// (`.extract.partial`, `.*.tmp`), relative to `output`.
pub fn leftovers(output: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name == ".extract.partial" || name.ends_with(".tmp") || name.ends_with(".partial") {
                out.push(path.strip_prefix(root).unwrap().display().to_string());
            }
            if path.is_dir() {
                walk(root, &path, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(output, output, &mut out);
    out
}

/// `partition_registry.json`, parsed.
pub fn registry_json(output: &Path) -> Value {
    let path = output.join(JSON);
    let bytes = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The per-partition fields that must not depend on timing: everything but
/// timestamps, durations and attempts.
pub const STABLE_FIELDS: [&str; 12] = [
    "partition_key",
    "date",
    "security_code",
    "status",
    "order_count",
    "trade_count",
    "matched_orders",
    "unmatched_orders",
    "taker_orders",
    "sweep_orders",
    "unlinked_trades",
    "duplicate_orders",
];

/// For every partition of a registry JSON, its [`STABLE_FIELDS`].
pub fn stable_figures(json: &Value) -> BTreeMap<String, Vec<Value>> {
    json["partitions"]
        .as_object()
        .expect("`partitions` is an object")
        .iter()
        .map(|(key, record)| {
            let fields = STABLE_FIELDS
                .iter()
                .map(|field| record.get(*field).cloned().unwrap_or(Value::Null))
                .collect();
            (key.clone(), fields)
        })
        .collect()
}

/// One row of `registry list`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListRow {
    pub key: String,
    pub status: String,
    pub attempts: u32,
    /// The last error, empty when none.
    pub error: String,
}

/// Parses `registry list` output (a header, then one row per partition:
/// key, status, attempts, orders, trades, sweeps, seconds, then the error
/// after two spaces).
pub fn parse_list(stdout: &str) -> Vec<ListRow> {
    let mut lines = stdout.lines();
    let header = lines.next().expect("a header line");
    assert!(header.starts_with("partition"), "{header}");
    let error_column = header.find("  error").map(|at| at + 2);
    lines
        .map(|line| {
            let mut fields = line.split_whitespace();
            let key = fields.next().unwrap().to_owned();
            let status = fields.next().unwrap().to_owned();
            let attempts = fields.next().unwrap().parse().unwrap();
            let error = error_column
                .and_then(|at| line.get(at..))
                .unwrap_or("")
                .trim()
                .to_owned();
            ListRow {
                key,
                status,
                attempts,
                error,
            }
        })
        .collect()
}

/// `registry list --output DIR [--status S]`, which must succeed.
pub fn registry_list(output: &Path, status: Option<&str>) -> Vec<ListRow> {
    let mut args = vec![
        "registry".to_owned(),
        "list".to_owned(),
        "--output".to_owned(),
        output.display().to_string(),
    ];
    if let Some(status) = status {
        args.push("--status".into());
        args.push(status.into());
    }
    let outcome = run(&args);
    outcome.expect_code(0);
    parse_list(&outcome.stdout)
}

/// `(offset, length)` of every whole record of a registry log (framing:
/// checksum u32, payload length u32, type u8, sequence u64, payload).
pub fn log_records(log: &[u8]) -> Vec<(usize, usize)> {
    const HEADER: usize = 17;
    let mut records = Vec::new();
    let mut offset = 0;
    while offset + HEADER <= log.len() {
        let length = u32::from_le_bytes(log[offset + 4..offset + 8].try_into().unwrap()) as usize;
        let end = offset + HEADER + length;
        if end > log.len() {
            break;
        }
        records.push((offset, HEADER + length));
        offset = end;
    }
    records
}

/// Copies a folder recursively.
pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

//! Extraction end to end (SPEC §3), through the library and the binary.
//!
//! The central property: whatever the strategy (workers, chunk size, window
//! size, mapped or read input, open-file cap), the output tree is
//! byte-identical to what a slow, obviously correct sequential partitioner
//! produces, so every row lands exactly once, in its partition or in the
//! rejected file, in input order.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use sweep_pipeline::extract::{ExtractConfig, ReadStrategy, extract};
use sweep_pipeline::format::{FieldBuf, FileKind, Layout, is_blank, strip_terminator};
use sweep_pipeline::partition::PartitionKey;

/// A small deterministic generator (an LCG), so inputs are reproducible
/// without pulling the real generator into these tests.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Messy but mostly valid inputs: `dates × codes` partitions, rows
/// interleaved, with CRLF lines, quoted fields, blank lines, an extra
/// column, a BOM, rejected rows of several kinds and no final newline.
fn messy_inputs(dir: &Path, rows: usize, dates: u32, codes: u32, seed: u64) -> (PathBuf, PathBuf) {
    let mut rng = Lcg(seed);
    let mut orders =
        b"\xEF\xBB\xBFdate,security_code,order_id,time,side,price,quantity,order_type,venue\n"
            .to_vec();
    let mut trades =
        b"trade_id,date,security_code,time,price,quantity,buy_order_id,sell_order_id\r\n".to_vec();
    for i in 0..rows {
        let date = format!("2024-01-{:02}", 2 + rng.below(u64::from(dates)));
        let code = format!("C{:04}", rng.below(u64::from(codes)));
        let time = format!(
            "{:02}:{:02}:{:02}.{:03}",
            9 + rng.below(6),
            rng.below(60),
            rng.below(60),
            rng.below(1000)
        );
        let end = if rng.below(5) == 0 { "\r\n" } else { "\n" };
        let order = match rng.below(40) {
            0 => format!("{date},{code},{},{time},B,10.5,100,L,X", i + 1).replace("-01-", "-13-"),
            1 => format!("{date},{code},{},{time},B,,100,L,X", i + 1),
            2 => format!("{date},\"{code},{time}\",B,1,1,L,X"),
            3 => String::new(),
            4 => format!(
                "\"{date}\",\"{code}\",{},{time},S,10,5,\"M\",\"a b\"",
                i + 1
            ),
            5 => format!("{date},{code},{},{time},S,,7,M,\"X", i + 1),
            _ => format!(
                "{date},{code},{},{time},S,{}.{:02},{},L,XSHG",
                i + 1,
                10 + rng.below(5),
                rng.below(100),
                100 * (1 + rng.below(9))
            ),
        };
        orders.extend_from_slice(order.as_bytes());
        orders.extend_from_slice(end.as_bytes());
        let trade = match rng.below(50) {
            0 => format!("{i},{date},{code},{time},0,100,1,2"),
            1 => "\r".to_owned(),
            _ => format!(
                "{i},{date},{code},{time},10.{:02},{},{},{}",
                rng.below(100),
                100,
                rng.below(1000),
                i
            ),
        };
        trades.extend_from_slice(trade.as_bytes());
        trades.extend_from_slice(b"\r\n");
    }
    // The last orders line has no terminator.
    while orders.last() == Some(&b'\n') || orders.last() == Some(&b'\r') {
        orders.pop();
    }
    orders.extend_from_slice(b"2024-01-02,LAST,999999999,15:00:00,B,1,1,L,Z");
    let orders_path = dir.join("orders.csv");
    let trades_path = dir.join("trades.csv");
    fs::write(&orders_path, orders).unwrap();
    fs::write(&trades_path, trades).unwrap();
    (orders_path, trades_path)
}

/// The obviously correct partitioner: one line at a time, in order.
fn reference_tree(orders: &Path, trades: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut tree = BTreeMap::new();
    let mut partitions = BTreeMap::<PartitionKey, ()>::new();
    let mut headers = Vec::new();
    for (path, kind) in [(orders, FileKind::Orders), (trades, FileKind::Trades)] {
        let bytes = fs::read(path).unwrap();
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
        let header_end = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
        let header = bytes[..header_end].to_vec();
        let layout = Layout::from_header(kind, &header, path).unwrap();
        let mut fields = FieldBuf::default();
        let file = format!("{}.csv", kind.name());
        let mut rejected = b"line_number,reason,raw_line\n".to_vec();
        let mut line_number = 1;
        let mut rest = &bytes[header_end..];
        while !rest.is_empty() {
            line_number += 1;
            let end = rest
                .iter()
                .position(|&b| b == b'\n')
                .map_or(rest.len(), |at| at + 1);
            let (with_end, after) = rest.split_at(end);
            rest = after;
            let line = strip_terminator(with_end);
            if is_blank(line) {
                continue;
            }
            match layout.parse_key(line, &mut fields) {
                Ok(key) => {
                    let key = PartitionKey::new(key.date, key.security_code).unwrap();
                    partitions.insert(key, ());
                    let entry = tree
                        .entry(format!("partitions/{key}/{file}"))
                        .or_insert_with(|| header.clone());
                    entry.extend_from_slice(with_end);
                    if !with_end.ends_with(b"\n") {
                        entry.push(b'\n');
                    }
                }
                Err(reason) => {
                    let quote = |s: &[u8]| {
                        if s.iter().any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n')) {
                            let mut q = b"\"".to_vec();
                            for &b in s {
                                if b == b'"' {
                                    q.push(b'"');
                                }
                                q.push(b);
                            }
                            q.push(b'"');
                            q
                        } else {
                            s.to_vec()
                        }
                    };
                    rejected.extend_from_slice(format!("{line_number},").as_bytes());
                    rejected.extend_from_slice(&quote(reason.to_string().as_bytes()));
                    rejected.push(b',');
                    rejected.extend_from_slice(&quote(line));
                    rejected.push(b'\n');
                }
            }
        }
        tree.insert(format!("rejected/{}_rejected.csv", kind.name()), rejected);
        headers.push((file, header));
    }
    for key in partitions.keys() {
        for (file, header) in &headers {
            tree.entry(format!("partitions/{key}/{file}"))
                .or_insert_with(|| header.clone());
        }
    }
    tree
}

/// The extraction's output: `partitions/` and `rejected/` (not the
/// registry, which records times).
fn extracted_tree(output: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut tree = read_tree(output);
    tree.retain(|path, _| path.starts_with("partitions/") || path.starts_with("rejected/"));
    tree
}

/// Same files, same bytes; a failure names the first differing file
/// instead of dumping megabytes of bytes.
fn assert_same_tree(got: &BTreeMap<String, Vec<u8>>, expected: &BTreeMap<String, Vec<u8>>) {
    let got_paths: Vec<_> = got.keys().collect();
    let expected_paths: Vec<_> = expected.keys().collect();
    assert!(
        got_paths == expected_paths,
        "different files: {} vs {} expected",
        got.len(),
        expected.len()
    );
    for (path, bytes) in expected {
        assert!(
            got[path] == *bytes,
            "{path} differs:\n got: {}\nwant: {}",
            String::from_utf8_lossy(&got[path]),
            String::from_utf8_lossy(bytes)
        );
    }
}

/// Every file under `root`, by relative path.
fn read_tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let relative = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.insert(relative, fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn config(orders: &Path, trades: &Path, output: &Path) -> ExtractConfig {
    let mut config = ExtractConfig::new(orders.into(), trades.into(), output.into());
    config.fsync = false;
    config
}

#[test]
fn output_is_identical_for_every_strategy_and_equals_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let (orders, trades) = messy_inputs(dir.path(), 6_000, 3, 40, 7);
    let expected = reference_tree(&orders, &trades);
    assert!(
        expected.len() > 200,
        "the input should make many partitions"
    );

    type Adjust = Box<dyn Fn(&mut ExtractConfig)>;
    let strategies: Vec<(&str, Adjust)> = vec![
        ("defaults", Box::new(|_| {})),
        (
            "1 worker, 1-row chunks",
            Box::new(|c| {
                c.workers = 1;
                c.chunk_rows = 1;
            }),
        ),
        (
            "2 workers, 3-row chunks, tiny windows",
            Box::new(|c| {
                c.workers = 2;
                c.chunk_rows = 3;
                c.window_bytes = 4096;
            }),
        ),
        (
            "4 workers, 17-row chunks, 3 open files, tiny budget",
            Box::new(|c| {
                c.workers = 4;
                c.chunk_rows = 17;
                c.max_open_files = Some(3);
                c.buffer_budget = 1000;
            }),
        ),
        (
            "read path, 2 workers, 5-row chunks, small blocks",
            Box::new(|c| {
                c.workers = 2;
                c.chunk_rows = 5;
                c.read_strategy = ReadStrategy::Read;
                c.window_bytes = 1000;
            }),
        ),
        (
            "read path, one huge chunk",
            Box::new(|c| {
                c.chunk_rows = 10_000_000;
                c.read_strategy = ReadStrategy::Read;
            }),
        ),
        (
            "no pinning, fsync",
            Box::new(|c| {
                c.pin_threads = false;
                c.fsync = true;
            }),
        ),
    ];
    for (name, adjust) in strategies {
        let output = dir.path().join(name.replace([' ', ','], "_"));
        let mut config = config(&orders, &trades, &output);
        adjust(&mut config);
        let summary = extract(&config).unwrap();
        let got = read_tree(&output);
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>(),
            "{name}"
        );
        for (path, bytes) in &expected {
            assert!(got[path] == *bytes, "{name}: {path} differs");
        }
        let rejected_lines =
            |file: &str| expected[file].iter().filter(|&&b| b == b'\n').count() as u64 - 1;
        assert_eq!(
            summary.orders.rejected,
            rejected_lines("rejected/orders_rejected.csv"),
            "{name}"
        );
        assert_eq!(
            summary.trades.rejected,
            rejected_lines("rejected/trades_rejected.csv"),
            "{name}"
        );
        assert_eq!(summary.orders.bytes, fs::metadata(&orders).unwrap().len());
        assert_eq!(
            summary.orders.mapped,
            config.read_strategy == ReadStrategy::Auto
        );
    }
}

#[test]
fn every_row_is_routed_once_or_rejected_with_its_line_number() {
    let dir = tempfile::tempdir().unwrap();
    let orders = dir.path().join("o.csv");
    let trades = dir.path().join("t.csv");
    fs::write(
        &orders,
        "date,security_code,order_id,time,side,price,quantity\n\
         2024-01-02,A,1,10:00:00,B,1,1\n\
         \n\
         2024-01-02,A,2,10:00:00,X,1,1\n\
         20240102,B,3,10:00:01,S,2,1\r\n\
         2024-01-02,A,4,10:00:02,B,1,1",
    )
    .unwrap();
    fs::write(
        &trades,
        "date,security_code,trade_id,time,price,quantity,buy_order_id,sell_order_id\n\
         2024-01-02,C,1,10:00:00,1,1,1,\n",
    )
    .unwrap();
    let output = dir.path().join("out");
    let summary = extract(&config(&orders, &trades, &output)).unwrap();
    assert_eq!(summary.orders.rows, 3);
    assert_eq!(summary.orders.rejected, 1);
    assert_eq!(summary.trades.rows, 1);
    assert_eq!(summary.partitions.len(), 3);
    let read = |p: &str| fs::read_to_string(output.join(p)).unwrap();
    assert_eq!(
        read("partitions/2024-01-02/A/orders.csv"),
        "date,security_code,order_id,time,side,price,quantity\n\
         2024-01-02,A,1,10:00:00,B,1,1\n\
         2024-01-02,A,4,10:00:02,B,1,1\n"
    );
    // The compact date is normalised in the folder name, the row kept as is.
    assert_eq!(
        read("partitions/2024-01-02/B/orders.csv"),
        "date,security_code,order_id,time,side,price,quantity\n20240102,B,3,10:00:01,S,2,1\r\n"
    );
    // A partition with trades only still gets an orders file with the header.
    assert_eq!(
        read("partitions/2024-01-02/C/orders.csv"),
        "date,security_code,order_id,time,side,price,quantity\n"
    );
    assert_eq!(
        read("partitions/2024-01-02/A/trades.csv"),
        "date,security_code,trade_id,time,price,quantity,buy_order_id,sell_order_id\n"
    );
    assert_eq!(
        read("rejected/orders_rejected.csv"),
        "line_number,reason,raw_line\n4,\"invalid side: expected B, S, 1 or 2\",\"2024-01-02,A,2,10:00:00,X,1,1\"\n"
    );
    assert!(!output.join(".extract.partial").exists());
}

#[test]
fn a_fifo_is_read_like_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let (orders, trades) = messy_inputs(dir.path(), 2_000, 2, 10, 11);
    let fifo = dir.path().join("orders.fifo");
    let status = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(status.success());
    let feeder = {
        let (orders, fifo) = (orders.clone(), fifo.clone());
        std::thread::spawn(move || fs::write(&fifo, fs::read(&orders).unwrap()).unwrap())
    };
    let output = dir.path().join("out");
    let mut config = config(&fifo, &trades, &output);
    config.chunk_rows = 7;
    let summary = extract(&config).unwrap();
    feeder.join().unwrap();
    assert!(!summary.orders.mapped, "a FIFO cannot be mapped");
    let mapped_output = dir.path().join("mapped");
    extract(&self::config(&orders, &trades, &mapped_output)).unwrap();
    assert_same_tree(&extracted_tree(&output), &extracted_tree(&mapped_output));
}

#[test]
fn a_header_without_required_columns_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (orders, _) = messy_inputs(dir.path(), 10, 1, 1, 3);
    let trades = dir.path().join("bad_trades.csv");
    fs::write(&trades, "date,security_code,price\n2024-01-02,A,1\n").unwrap();
    let output = dir.path().join("out");
    let error = extract(&config(&orders, &trades, &output)).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("bad_trades.csv"), "{message}");
    assert!(
        message.contains("trade_id, time, quantity, buy_order_id, sell_order_id"),
        "{message}"
    );
    assert!(
        message.contains("columns found: date, security_code, price"),
        "{message}"
    );
    assert!(!output.exists(), "nothing may be written");
}

#[test]
fn an_empty_input_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let (orders, _) = messy_inputs(dir.path(), 10, 1, 1, 3);
    let trades = dir.path().join("empty.csv");
    fs::write(&trades, "").unwrap();
    let error = extract(&config(&orders, &trades, &dir.path().join("out"))).unwrap_err();
    assert!(error.to_string().contains("empty"), "{error}");
}

fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sweep-pipeline"))
}

#[test]
fn strict_mode_names_file_line_and_reason_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let orders = dir.path().join("o.csv");
    let trades = dir.path().join("t.csv");
    let mut text = String::from("date,security_code,order_id,time,side,price,quantity\n");
    for i in 1..=500 {
        text.push_str(&format!("2024-01-02,A,{i},10:00:00,B,1,1\n"));
    }
    text.push_str("2024-01-02,A,501,10:00:00,B,1,0\n");
    fs::write(&orders, text).unwrap();
    fs::write(
        &trades,
        "date,security_code,trade_id,time,price,quantity,buy_order_id,sell_order_id\n",
    )
    .unwrap();
    let output = dir.path().join("out");
    let run = binary()
        .args([
            "extract",
            "--strict",
            "--no-fsync",
            "--chunk-size",
            "3",
            "--orders",
        ])
        .arg(&orders)
        .arg("--trades")
        .arg(&trades)
        .arg("--output")
        .arg(&output)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("o.csv:502: invalid quantity"), "{stderr}");
    assert!(!output.join("partitions").exists());
    assert!(!output.join(".extract.partial").exists());
}

#[test]
fn thousands_of_partitions_under_ulimit_256() {
    let dir = tempfile::tempdir().unwrap();
    // 5 dates × 1,020 codes = 5,100 partitions, rows interleaved.
    let orders = dir.path().join("o.csv");
    let trades = dir.path().join("t.csv");
    let mut o = String::from("date,security_code,order_id,time,side,price,quantity\n");
    let mut t = String::from(
        "date,security_code,trade_id,time,price,quantity,buy_order_id,sell_order_id\n",
    );
    for round in 0..3 {
        for date in 2..7 {
            for code in 0..1_020 {
                o.push_str(&format!(
                    "2024-01-{date:02},S{code},{},10:00:00,B,1,1\n",
                    round + 1
                ));
                if round == 0 {
                    t.push_str(&format!("2024-01-{date:02},S{code},1,10:00:00,1,1,1,0\n"));
                }
            }
        }
    }
    fs::write(&orders, &o).unwrap();
    fs::write(&trades, &t).unwrap();
    let output = dir.path().join("out");
    let run = Command::new("sh")
        .arg("-c")
        .arg("ulimit -n 256 && exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_sweep-pipeline"))
        .args(["extract", "--no-fsync", "--chunk-size", "500", "--orders"])
        .arg(&orders)
        .arg("--trades")
        .arg(&trades)
        .arg("--output")
        .arg(&output)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let dates: Vec<_> = fs::read_dir(output.join("partitions")).unwrap().collect();
    assert_eq!(dates.len(), 5);
    let expected = reference_tree(&orders, &trades);
    assert_eq!(expected.len(), 5_100 * 2 + 2);
    assert_same_tree(&extracted_tree(&output), &expected);
}

#[test]
fn generated_data_extracts_identically_for_any_workers_and_chunk_size() {
    use sweep_pipeline::generate::{GenerateConfig, generate};
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input");
    generate(&GenerateConfig {
        output: input.clone(),
        dates: 3,
        securities: 12,
        orders_per_partition: Some(400),
        seed: 99,
        with_aggressor: true,
        ..GenerateConfig::default()
    })
    .unwrap();
    let (orders, trades) = (input.join("orders.csv"), input.join("trades.csv"));
    let expected = reference_tree(&orders, &trades);
    assert_eq!(expected.len(), 3 * 12 * 2 + 2);
    for workers in [1, 2, 4] {
        for chunk_rows in [1, 7, 1000, 1_000_000] {
            let output = dir.path().join(format!("out-{workers}-{chunk_rows}"));
            let mut config = config(&orders, &trades, &output);
            config.workers = workers;
            config.chunk_rows = chunk_rows;
            let summary = extract(&config).unwrap();
            assert_eq!(summary.orders.rejected + summary.trades.rejected, 0);
            assert_same_tree(&extracted_tree(&output), &expected);
            fs::remove_dir_all(&output).unwrap();
        }
    }
}

//! Golden tests of the sweep-order analyses (SPEC §4).
//!
//! Every case under `tests/golden/cases/NAME/` holds a partition
//! (`input/orders.csv`, `input/trades.csv`, optionally
//! `input/sweep_min_levels`) and the outputs SciPy/NumPy/pandas produced for it
//! (`expected/*.csv`, `expected/figures.txt`), made by
//! `tests/golden/make_golden.py` from the spec, independently of this crate.
//! Each case is copied to a temporary partition folder, analysed with
//! [`analyse_partition`], and compared:
//!
//! - headers, counts, ids, codes and text fields: byte for byte;
//! - descriptive numbers (prices, quantities, metrics, means, std,
//!   percentiles): byte for byte too — the crate reproduces NumPy's pairwise
//!   summation and percentile interpolation exactly;
//! - test statistics and p-values (`welch_t`, `welch_df`, `welch_p`,
//!   `mannwhitney_p`, `ks_p`, `cohens_d`): equal, or within 1e-9 relative
//!   error, because SciPy computes variances and the special functions with
//!   different (equally valid) rounding; `mannwhitney_u` and `ks_d` are exact.

use std::fs;
use std::path::{Path, PathBuf};

use sweep_pipeline::analysis::{AnalysisOptions, PartitionFigures, analyse_partition};

const KEY: &str = "2024-01-02/TEST";
const STATS_TOLERANCE: f64 = 1e-9;
const TOLERANT_COLUMNS: [&str; 6] = [
    "welch_t",
    "welch_df",
    "welch_p",
    "mannwhitney_p",
    "ks_p",
    "cohens_d",
];
const OUTPUTS: [&str; 4] = [
    "matched/sweep_order_comparison_detailed.csv",
    "matched/sweep_order_comparison_summary.csv",
    "matched/sweep_order_statistical_tests.csv",
    "unmatched/unmatched_orders_analysis.csv",
];

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/cases")
}

/// Copies a case's input into `root/partitions/DATE/CODE` and analyses it.
fn run_case(
    input: &Path,
    key: &str,
    root: &Path,
    options: &AnalysisOptions,
) -> (PathBuf, PartitionFigures) {
    let partition = root.join("partitions").join(key);
    fs::create_dir_all(&partition).unwrap();
    fs::copy(input.join("orders.csv"), partition.join("orders.csv")).unwrap();
    fs::copy(input.join("trades.csv"), partition.join("trades.csv")).unwrap();
    let figures = analyse_partition(&partition, key, options)
        .unwrap_or_else(|e| panic!("{}: {e}", input.display()));
    (partition, figures)
}

fn figures_text(f: &PartitionFigures) -> String {
    format!(
        "order_count={}\ntrade_count={}\nmatched_orders={}\nunmatched_orders={}\ntaker_orders={}\nsweep_orders={}\nunlinked_trades={}\nduplicate_orders={}\n",
        f.order_count,
        f.trade_count,
        f.matched_orders,
        f.unmatched_orders,
        f.taker_orders,
        f.sweep_orders,
        f.unlinked_trades,
        f.duplicate_orders
    )
}

/// Compares one output file with its golden twin; returns the mismatches.
fn compare_file(name: &str, actual: &str, expected: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let actual_lines: Vec<&str> = actual.lines().collect();
    let expected_lines: Vec<&str> = expected.lines().collect();
    if actual_lines.len() != expected_lines.len() {
        problems.push(format!(
            "{name}: {} lines, expected {}",
            actual_lines.len(),
            expected_lines.len()
        ));
        return problems;
    }
    let header: Vec<&str> = expected_lines[0].split(',').collect();
    for (number, (a, e)) in actual_lines.iter().zip(&expected_lines).enumerate() {
        if a == e {
            continue;
        }
        let (a_fields, e_fields): (Vec<&str>, Vec<&str>) =
            (a.split(',').collect(), e.split(',').collect());
        if a_fields.len() != e_fields.len() || number == 0 {
            problems.push(format!(
                "{name}:{}: got\n  {a}\nexpected\n  {e}",
                number + 1
            ));
            continue;
        }
        for (column, (af, ef)) in header.iter().zip(a_fields.iter().zip(&e_fields)) {
            if af == ef {
                continue;
            }
            let close = TOLERANT_COLUMNS.contains(column)
                && match (af.parse::<f64>(), ef.parse::<f64>()) {
                    (Ok(x), Ok(y)) => x == y || ((x - y) / y).abs() <= STATS_TOLERANCE,
                    _ => false,
                };
            if !close {
                problems.push(format!(
                    "{name}:{} ({}) column {column}: got {af:?}, expected {ef:?}",
                    number + 1,
                    e_fields[0]
                ));
            }
        }
    }
    problems
}

#[test]
fn every_golden_case_matches_scipy() {
    let mut cases: Vec<PathBuf> = fs::read_dir(golden_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    assert!(cases.len() >= 10, "golden cases missing: {cases:?}");
    let mut problems = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let input = case.join("input");
        let sweep_min_levels = fs::read_to_string(input.join("sweep_min_levels"))
            .map(|text| text.trim().parse().unwrap())
            .unwrap_or(2);
        let options = AnalysisOptions {
            sweep_min_levels,
            fsync: false,
        };
        let root = tempfile::tempdir().unwrap();
        let (partition, figures) = run_case(&input, KEY, root.path(), &options);
        let expected_figures = fs::read_to_string(case.join("expected/figures.txt")).unwrap();
        if figures_text(&figures) != expected_figures {
            problems.push(format!(
                "{name}: figures {figures:?}, expected\n{expected_figures}"
            ));
        }
        for output in OUTPUTS {
            let actual = fs::read_to_string(partition.join("stats").join(output)).unwrap();
            let file_name = Path::new(output).file_name().unwrap();
            let expected = fs::read_to_string(case.join("expected").join(file_name)).unwrap();
            problems.extend(compare_file(
                &format!("{name}/{output}"),
                &actual,
                &expected,
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{} mismatches:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// The real SSE fixture (600519.SH, 2023-02-01), outside the repository in
/// `shared/fixtures`: found beside the checkout, one level further up (a git
/// worktree), or at `$SWEEP_FIXTURES_DIR`.
fn sse_fixture() -> Option<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut candidates: Vec<PathBuf> = std::env::var_os("SWEEP_FIXTURES_DIR")
        .map(PathBuf::from)
        .into_iter()
        .collect();
    candidates.push(manifest.join("../shared/fixtures"));
    candidates.push(manifest.join("../../shared/fixtures"));
    candidates
        .into_iter()
        .map(|dir| dir.join("sse-600519-2023-02-01"))
        .find(|dir| dir.join("orders.csv").is_file())
}

#[test]
fn real_sse_fixture_matches_the_pandas_reference() {
    let Some(fixture) = sse_fixture() else {
        eprintln!(
            "skipped: shared/fixtures/sse-600519-2023-02-01 not found (set SWEEP_FIXTURES_DIR)"
        );
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let key = "2023-02-01/600519.SH";
    let partition = root.path().join("partitions").join(key);
    fs::create_dir_all(&partition).unwrap();
    fs::copy(fixture.join("orders.csv"), partition.join("orders.csv")).unwrap();
    fs::copy(
        fixture.join("trades_with_aggressor.csv"),
        partition.join("trades.csv"),
    )
    .unwrap();
    let options = AnalysisOptions {
        sweep_min_levels: 2,
        fsync: false,
    };
    let figures = analyse_partition(&partition, key, &options).unwrap();

    // Computed by `make_golden.py fixture` (pandas + SciPy, independent of
    // this crate). Most trades are unlinked: before November 2023 the SSE
    // feed never published orders that filled on arrival.
    assert_eq!(
        figures,
        PartitionFigures {
            order_count: 39_067,
            trade_count: 27_135,
            matched_orders: 20_597,
            unmatched_orders: 18_470,
            taker_orders: 963,
            sweep_orders: 167,
            unlinked_trades: 24_382,
            duplicate_orders: 0,
        }
    );
    let expected_dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/fixture_sse_600519/expected");
    let mut problems = Vec::new();
    for output in OUTPUTS {
        let actual = fs::read_to_string(partition.join("stats").join(output)).unwrap();
        let expected =
            fs::read_to_string(expected_dir.join(Path::new(output).file_name().unwrap())).unwrap();
        problems.extend(compare_file(output, &actual, &expected));
    }
    assert!(
        problems.is_empty(),
        "{} mismatches:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

const ORDERS_HEADER: &str = "date,security_code,order_id,time,side,price,quantity,order_type\n";
const TRADES_HEADER: &str =
    "date,security_code,trade_id,time,price,quantity,buy_order_id,sell_order_id\n";

fn write_partition(root: &Path, orders: &str, trades: &str) -> PathBuf {
    let partition = root.join("partitions").join(KEY);
    fs::create_dir_all(&partition).unwrap();
    fs::write(partition.join("orders.csv"), orders).unwrap();
    fs::write(partition.join("trades.csv"), trades).unwrap();
    partition
}

fn no_fsync() -> AnalysisOptions {
    AnalysisOptions {
        sweep_min_levels: 2,
        fsync: false,
    }
}

/// A buy that walks three levels, every metric worked out by hand.
#[test]
fn three_level_buy_sweep_computed_by_hand() {
    let root = tempfile::tempdir().unwrap();
    let orders = format!(
        "{ORDERS_HEADER}\
         2024-01-02,TEST,1,10:00:00,S,100,100,L\n\
         2024-01-02,TEST,2,10:00:00,S,101,100,L\n\
         2024-01-02,TEST,3,10:00:00,S,102,100,L\n\
         2024-01-02,TEST,9,10:00:30,B,99,10,L\n\
         2024-01-02,TEST,10,10:01:00,B,102,400,L\n"
    );
    // Trade 1 (taker 9, at 99) is the reference price for order 10.
    let trades = format!(
        "{TRADES_HEADER}\
         2024-01-02,TEST,1,10:00:40,99,10,9,1\n\
         2024-01-02,TEST,4,10:01:00.250,102,50,10,3\n\
         2024-01-02,TEST,2,10:01:00.001,100,100,10,1\n\
         2024-01-02,TEST,3,10:01:00.002,101,100,10,2\n"
    );
    let partition = write_partition(root.path(), &orders, &trades);
    let figures = analyse_partition(&partition, KEY, &no_fsync()).unwrap();
    assert_eq!((figures.taker_orders, figures.sweep_orders), (2, 1));

    let detailed =
        fs::read_to_string(partition.join("stats/matched/sweep_order_comparison_detailed.csv"))
            .unwrap();
    let row = detailed.lines().find(|l| l.starts_with("10,")).unwrap();
    let f: Vec<&str> = row.split(',').collect();
    // filled 100 + 100 + 50 = 250 of 400; notional 10000 + 10100 + 5100 = 25200
    // vwap 25200 / 250 = 100.8; first 100, last 102 (fills by time, not file order)
    // impact (102 − 100)/100·1e4 = 200 bps; slippage (100.8 − 100)/100·1e4 = 80 bps
    // arrival 99: shortfall (100.8 − 99)/99·1e4 = 181.818… bps; duration 250 ms
    let expect = [
        ("order_id", "10"),
        ("is_sweep", "1"),
        ("fills", "3"),
        ("levels", "3"),
        ("filled_qty", "250.0"),
        ("fill_ratio", "0.625"),
        ("notional", "25200.0"),
        ("vwap", "100.8"),
        ("first_price", "100.0"),
        ("last_price", "102.0"),
        ("arrival_price", "99.0"),
        ("duration_ms", "250.0"),
    ];
    let header: Vec<&str> = detailed.lines().next().unwrap().split(',').collect();
    let field = |name: &str| f[header.iter().position(|h| *h == name).unwrap()];
    for (name, value) in expect {
        assert_eq!(field(name), value, "{name}");
    }
    let number = |name: &str| field(name).parse::<f64>().unwrap();
    assert!((number("price_impact_bps") - 200.0).abs() < 1e-9);
    assert!((number("slippage_bps") - 80.0).abs() < 1e-9);
    assert!((number("shortfall_bps") - 1.8 / 99.0 * 1e4).abs() < 1e-9);
}

#[test]
fn a_row_that_does_not_parse_names_file_line_and_reason_and_writes_nothing() {
    let root = tempfile::tempdir().unwrap();
    let orders = format!(
        "{ORDERS_HEADER}2024-01-02,TEST,1,10:00:00,S,100,100,L\n2024-01-02,TEST,2,25:00:00,S,100,100,L\n"
    );
    let partition = write_partition(root.path(), &orders, TRADES_HEADER);
    let error = analyse_partition(&partition, KEY, &no_fsync()).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("orders.csv:3:"), "{message}");
    assert!(message.contains("time"), "{message}");
    assert!(!partition.join("stats").exists());
}

#[test]
fn a_missing_trades_file_is_an_error() {
    let root = tempfile::tempdir().unwrap();
    let partition = write_partition(root.path(), ORDERS_HEADER, TRADES_HEADER);
    fs::remove_file(partition.join("trades.csv")).unwrap();
    let message = analyse_partition(&partition, KEY, &no_fsync())
        .unwrap_err()
        .to_string();
    assert!(message.contains("trades.csv"), "{message}");
}

#[test]
fn a_row_of_another_partition_is_an_error() {
    let root = tempfile::tempdir().unwrap();
    let orders = format!("{ORDERS_HEADER}2024-01-03,TEST,1,10:00:00,S,100,100,L\n");
    let partition = write_partition(root.path(), &orders, TRADES_HEADER);
    let message = analyse_partition(&partition, KEY, &no_fsync())
        .unwrap_err()
        .to_string();
    assert!(message.contains("2024-01-03/TEST"), "{message}");
}

#[test]
fn sweep_min_levels_below_two_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let partition = write_partition(root.path(), ORDERS_HEADER, TRADES_HEADER);
    let options = AnalysisOptions {
        sweep_min_levels: 1,
        fsync: false,
    };
    assert!(analyse_partition(&partition, KEY, &options).is_err());
}

#[test]
fn outputs_replace_earlier_ones_and_leave_no_temporary_files() {
    let root = tempfile::tempdir().unwrap();
    let orders = format!(
        "{ORDERS_HEADER}2024-01-02,TEST,1,10:00:00,S,100,100,L\n2024-01-02,TEST,2,10:00:01,B,100,100,L\n"
    );
    let trades = format!("{TRADES_HEADER}2024-01-02,TEST,1,10:00:01,100,100,2,1\n");
    let partition = write_partition(root.path(), &orders, &trades);
    let options = AnalysisOptions {
        sweep_min_levels: 2,
        fsync: true,
    };
    let first = analyse_partition(&partition, KEY, &options).unwrap();
    let second = analyse_partition(&partition, KEY, &options).unwrap();
    assert_eq!(first, second);
    for dir in ["stats/matched", "stats/unmatched"] {
        for entry in fs::read_dir(partition.join(dir)).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            assert!(!name.ends_with(".tmp"), "left behind: {name}");
        }
    }
    let summary =
        fs::read_to_string(partition.join("stats/matched/sweep_order_comparison_summary.csv"))
            .unwrap();
    assert_eq!(summary.lines().count(), 31);
}

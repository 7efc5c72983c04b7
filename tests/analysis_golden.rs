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

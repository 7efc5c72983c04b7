//! The fuzz properties, run under `cargo test` on stable.
//!
//! This file owns no property: it runs the ones in `fuzz/props.rs` (the same
//! functions the fuzz targets call) over every file of the committed seed
//! corpus `fuzz/seeds/<target>/`, and over a few hundred structured random
//! inputs built from the format's tokens, so CI checks what the fuzzer
//! checks without libFuzzer or a nightly toolchain. A crash the fuzzer finds
//! is minimised and added to the seeds, where it stays a regression test.

#[path = "../fuzz/props.rs"]
mod props;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use proptest::prelude::*;

fn seed_files(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/seeds")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("cannot list {}: {err}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    assert!(
        files.len() >= 10,
        "{} holds only {} seeds",
        dir.display(),
        files.len()
    );
    files
}

/// Runs `property` on every seed of `target`, and names every seed that
/// fails rather than stopping at the first.
fn run_seeds(target: &str, property: fn(&[u8])) {
    let failures: Vec<String> = seed_files(target)
        .into_iter()
        .filter_map(|path| {
            let data = std::fs::read(&path).expect("read seed");
            catch_unwind(AssertUnwindSafe(|| property(&data)))
                .err()
                .map(|_| path.display().to_string())
        })
        .collect();
    assert!(failures.is_empty(), "seeds failing {target}: {failures:#?}");
}

#[test]
fn row_parser_seeds() {
    run_seeds("row_parser", props::check_row);
}

/// Agreement on rejections alone would be cheap: the corpus must also hold
/// rows that both readings accept, for every fixed header.
#[test]
fn row_parser_seeds_reach_accepted_rows() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/row_parser");
    let verdict = |name: &str| props::row_verdicts(&std::fs::read(dir.join(name)).expect(name));
    for name in [
        "order_valid",
        "order_compact_date",
        "order_all_quoted",
        "date_feb29_2000",
        "time_nine_digit_fraction",
        "decimal_leading_dot",
        "decimal_zero_price_order",
        "id_u64_max",
        "id_leading_zeros",
        "side_numeric",
        "code_32",
        "code_three_dots",
        "market_empty_price",
        "reordered_order",
        "extras_order",
        "extras_non_utf8",
    ] {
        assert!(verdict(name).0, "{name} should be a valid order");
    }
    for name in [
        "trade_valid",
        "date_9999",
        "decimal_long_exact",
        "id_zero_trade",
        "trade_aggressor_empty",
        "trade_aggressor_sell",
        "reordered_trade",
        "extras_trade",
    ] {
        assert!(verdict(name).1, "{name} should be a valid trade");
    }
    for name in [
        "unbalanced_quote_head",
        "quoted_comma",
        "date_feb29_nonleap",
        "time_24h",
        "decimal_huge_overflow",
        "decimal_tiny_underflow",
        "id_u64_overflow",
        "limit_empty_price",
        "no_type_column_empty_price",
        "code_33",
        "code_dotdot",
    ] {
        assert!(!verdict(name).0, "{name} should be a rejected order");
    }
}

#[test]
fn header_mapping_seeds() {
    run_seeds("header_mapping", props::check_header);
}

#[test]
fn splitter_seeds() {
    run_seeds("splitter", props::check_splitter);
}

#[test]
fn router_seeds() {
    run_seeds("router", props::check_router);
}

/// Field values that are valid somewhere, invalid elsewhere, or break the
/// quote rules: random rows over them hit far more accept/reject branches
/// than random bytes do.
const TOKENS: &[&str] = &[
    "2024-09-05",
    "20240905",
    "2024-02-30",
    "0000-01-01",
    "600519.SH",
    "BTC-USD",
    "..",
    "\"110621\"",
    "1",
    "0",
    "18446744073709551615",
    "18446744073709551616",
    "09:30:00",
    "09:30:00.123456789",
    "24:00:00",
    "09:30:00.",
    "B",
    "S",
    "2",
    "b",
    "L",
    "M",
    "",
    "\"\"",
    "10.5",
    ".5",
    "5.",
    ".",
    "1e5",
    "\"a,b\"",
    "x\"y",
    "\"",
    "\r",
];

fn token_line(max_fields: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(TOKENS), 1..max_fields)
        .prop_map(|fields| fields.join(",").into_bytes())
}

/// A line for orders header 0 and trades header 0 (selector byte 0), each
/// field drawn from values mostly valid for its column, so most rows reach
/// the value checks and many are accepted.
/// Endings of [`column_row`] for header 0, which has seven columns: none,
/// or an eighth field that makes the row too long.
const EXTRA_ENDINGS: &[&str] = &["", ",1", ",2", ",\"3\""];

/// Endings of [`column_row`] for header 4, whose eighth column is
/// `order_type`: empty, valid, invalid, quoted, or missing.
const ORDER_TYPE_ENDINGS: &[&str] = &[",", ",L", ",M", ",X", ",\"M\"", ""];

/// `ending` follows the seventh field, its leading comma included: the
/// eighth field when there is one.
fn column_row(ending: &'static [&'static str]) -> impl Strategy<Value = Vec<u8>> {
    let pick = |choices: &'static [&'static str]| prop::sample::select(choices);
    (
        pick(&[
            "2024-09-05",
            "20240905",
            "20240229",
            "2023-02-29",
            "\"2024-09-05\"",
        ]),
        pick(&["600519.SH", "A", "..", "a b", "\"X\""]),
        pick(&[
            "1",
            "0",
            "007",
            "18446744073709551615",
            "18446744073709551616",
        ]),
        pick(&["09:30:00", "23:59:59.999999999", "09:30:00.", "24:00:00"]),
        pick(&["B", "S", "1", "2", "", "10.5"]),
        pick(&["10.5", ".5", "5.", "0", "", "1e3"]),
        pick(&["100", "0.001", "0", "-1", "7"]),
        pick(ending),
    )
        .prop_map(|(date, code, id, time, side, price, qty, ending)| {
            let mut line = [date, code, id, time, side, price, qty].join(",");
            line.push_str(ending);
            line.into_bytes()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn row_parser_token_rows(selector in any::<u8>(), line in token_line(13)) {
        let mut data = vec![selector];
        data.extend_from_slice(&line);
        props::check_row(&data);
    }

    #[test]
    fn row_parser_column_rows(line in column_row(EXTRA_ENDINGS)) {
        let mut data = vec![0];
        data.extend_from_slice(&line);
        props::check_row(&data);
    }

    #[test]
    fn header_mapping_random(header in prop::collection::vec(
        prop::sample::select(&[
            "date", "security_code", "order_id", "trade_id", "time", "side", "price",
            "quantity", "order_type", "buy_order_id", "sell_order_id", "aggressor_side",
            "extra", "\"date\"", "", "\"", "\u{feff}",
        ][..]),
        1..12,
    )) {
        props::check_header(header.join(",").as_bytes());
    }

    #[test]
    fn router_token_chunks(selector in any::<u8>(), lines in prop::collection::vec(token_line(12), 0..8), crlf in any::<bool>()) {
        let terminator: &[u8] = if crlf { b"\r\n" } else { b"\n" };
        let mut data = vec![selector];
        data.extend_from_slice(&lines.join(terminator));
        props::check_router(&data);
    }

    /// Chunks of mostly valid orders rows (header 0), so the router's fast
    /// path is taken often: one partition written with both date forms,
    /// CRLF, and prices padded with zeros past the 127 bytes the fast path
    /// classifies, so both paths meet in one chunk.
    #[test]
    fn router_column_chunks(
        lines in prop::collection::vec((column_row(EXTRA_ENDINGS), 0usize..120), 0..12),
        crlf in any::<bool>(),
        final_terminator in any::<bool>(),
    ) {
        router_chunk_of(0, &lines, crlf, final_terminator);
    }

    /// The same against the spec's full orders header (header 4, the
    /// optional `order_type` last), whose rows routing reads front to back.
    #[test]
    fn router_column_chunks_with_order_types(
        lines in prop::collection::vec((column_row(ORDER_TYPE_ENDINGS), 0usize..120), 0..12),
        crlf in any::<bool>(),
        final_terminator in any::<bool>(),
    ) {
        router_chunk_of(4 << 1, &lines, crlf, final_terminator);
    }

    #[test]
    fn splitter_random(data in prop::collection::vec(
        prop::sample::select(&b"ab\n\r,"[..]), 0..300,
    )) {
        props::check_splitter(&data);
    }
}

/// Routes `lines` (each with its price padded by its count of zeros) as
/// one chunk against router header `selector`, and checks the properties.
fn router_chunk_of(selector: u8, lines: &[(Vec<u8>, usize)], crlf: bool, final_terminator: bool) {
    let terminator: &[u8] = if crlf { b"\r\n" } else { b"\n" };
    let mut data = vec![selector];
    for (line, pad) in lines {
        // The price is field 6: pad it after the fifth comma.
        let mut padded = line.clone();
        let fifth_comma = padded
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b',')
            .nth(4)
            .map(|(at, _)| at + 1);
        if let Some(at) = fifth_comma {
            padded.splice(at..at, std::iter::repeat_n(b'0', *pad));
        }
        data.extend_from_slice(&padded);
        data.extend_from_slice(terminator);
    }
    if !final_terminator && !lines.is_empty() {
        data.truncate(data.len() - terminator.len());
    }
    props::check_router(&data);
}

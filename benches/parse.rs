//! Throughput of the hot path of extraction: parsing rows and routing a
//! chunk of them to partitions.
//!
//! The input is built in memory, so the figures (MB/s through
//! `Throughput::Bytes`) measure parsing and routing alone, not the disk. It
//! looks like an exchange dump: 200,000 orders and 100,000 trades over 500
//! securities and two days, securities interleaved as in time order, times
//! with microseconds, prices with decimals. A deterministic LCG makes the
//! bytes (and so the figures) the same on every run.
//!
//! Run with `cargo bench --bench parse`.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sweep_pipeline::extract::RowRouter;
use sweep_pipeline::format::classify::Simd;
use sweep_pipeline::format::{self, FieldBuf, FileKind, Layout};

const ORDER_ROWS: usize = 200_000;
const TRADE_ROWS: usize = 100_000;
const SECURITIES: u64 = 500;

const ORDERS_HEADER: &str = "date,security_code,order_id,time,side,price,quantity,order_type";
const TRADES_HEADER: &str =
    "date,security_code,trade_id,time,price,quantity,buy_order_id,sell_order_id,aggressor_side";

/// A 64-bit LCG (Knuth's MMIX constants): enough variety for realistic
/// bytes, no dependency, same sequence everywhere.
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

/// Writes the fields every row starts with, date and security code, and
/// returns the security drawn. Half the rows fall on each of two days.
fn row_prefix(out: &mut String, rng: &mut Lcg, at: usize, rows: usize) -> u64 {
    use std::fmt::Write;
    let day = if at < rows / 2 {
        "2024-09-05"
    } else {
        "2024-09-06"
    };
    let security = rng.below(SECURITIES);
    // Shanghai-style codes, half of them with the exchange suffix.
    let suffix = if security.is_multiple_of(2) {
        ".SH"
    } else {
        ""
    };
    let _ = write!(out, "{day},{code}{suffix},", code = 600_000 + security * 7);
    security
}

/// `HH:MM:SS.ffffff`, rising from 09:30 to 15:00 over each day's rows.
fn time_text(at: usize, rows: usize) -> String {
    let half = rows / 2;
    let micros = 34_200_000_000 + (at % half) as u64 * 19_800_000_000 / half as u64;
    let secs = micros / 1_000_000;
    format!(
        "{:02}:{:02}:{:02}.{:06}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        micros % 1_000_000
    )
}

fn price_text(rng: &mut Lcg, security: u64) -> String {
    let ticks = 1_000 + security * 37 + rng.below(200);
    format!("{}.{:02}", ticks / 100, ticks % 100)
}

/// The body (no header) of an orders file.
fn orders_body() -> Vec<u8> {
    use std::fmt::Write;
    let mut rng = Lcg(0x5eed);
    let mut out = String::with_capacity(ORDER_ROWS * 64);
    for at in 0..ORDER_ROWS {
        let security = row_prefix(&mut out, &mut rng, at, ORDER_ROWS);
        let side = if rng.below(2) == 0 { "B" } else { "S" };
        let market = rng.below(20) == 0;
        let price = if market {
            String::new()
        } else {
            price_text(&mut rng, security)
        };
        let _ = writeln!(
            out,
            "{id},{time},{side},{price},{qty},{kind}",
            id = 1_000_000 + at,
            time = time_text(at, ORDER_ROWS),
            qty = (1 + rng.below(50)) * 100,
            kind = if market { "M" } else { "L" },
        );
    }
    out.into_bytes()
}

/// The body (no header) of a trades file.
fn trades_body() -> Vec<u8> {
    use std::fmt::Write;
    let mut rng = Lcg(0x7ade);
    let mut out = String::with_capacity(TRADE_ROWS * 72);
    for at in 0..TRADE_ROWS {
        let security = row_prefix(&mut out, &mut rng, at, TRADE_ROWS);
        let buy = 1_000_000 + rng.below(ORDER_ROWS as u64);
        let sell = 1_000_000 + rng.below(ORDER_ROWS as u64);
        let _ = writeln!(
            out,
            "{id},{time},{price},{qty},{buy},{sell},{aggressor}",
            id = 5_000_000 + at,
            time = time_text(at, TRADE_ROWS),
            price = price_text(&mut rng, security),
            qty = (1 + rng.below(20)) * 100,
            aggressor = if buy > sell { "B" } else { "S" },
        );
    }
    out.into_bytes()
}

fn layout(kind: FileKind, header: &str) -> Layout {
    Layout::from_header(kind, header.as_bytes(), Path::new("bench.csv")).expect("bench header")
}

/// The floor under both parsers: finding the lines alone (`memchr`).
fn bench_lines(c: &mut Criterion) {
    let orders = orders_body();
    let mut group = c.benchmark_group("lines");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(orders.len() as u64));
    group.bench_function("orders", |b| {
        b.iter(|| black_box(format::lines(black_box(&orders)).count()))
    });
    group.finish();
}

fn bench_parse(c: &mut Criterion) {
    let orders = orders_body();
    let trades = trades_body();
    let orders_layout = layout(FileKind::Orders, ORDERS_HEADER);
    let trades_layout = layout(FileKind::Trades, TRADES_HEADER);

    let mut group = c.benchmark_group("parse");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));

    group.throughput(Throughput::Bytes(orders.len() as u64));
    group.bench_function("parse_order", |b| {
        let mut fields = FieldBuf::default();
        b.iter(|| {
            let mut accepted = 0u64;
            for (_, line) in format::lines(&orders) {
                if orders_layout.parse_order(line, &mut fields).is_ok() {
                    accepted += 1;
                }
            }
            assert_eq!(accepted, ORDER_ROWS as u64);
            black_box(accepted)
        })
    });

    group.throughput(Throughput::Bytes(trades.len() as u64));
    group.bench_function("parse_trade", |b| {
        let mut fields = FieldBuf::default();
        b.iter(|| {
            let mut accepted = 0u64;
            for (_, line) in format::lines(&trades) {
                if trades_layout.parse_trade(line, &mut fields).is_ok() {
                    accepted += 1;
                }
            }
            assert_eq!(accepted, TRADE_ROWS as u64);
            black_box(accepted)
        })
    });

    // Processing's one-pass readers (`format::scan`) over the same bytes:
    // every row checked and converted field by field, the key fields
    // found but not looked up. What routing's mask classification costs
    // against this is the question these two answer.
    group.throughput(Throughput::Bytes(orders.len() as u64));
    group.bench_function("scan_order", |b| {
        b.iter(|| black_box(scan_all(black_box(&orders), format::scan::scan_order)))
    });
    group.throughput(Throughput::Bytes(trades.len() as u64));
    group.bench_function("scan_trade", |b| {
        b.iter(|| black_box(scan_all(black_box(&trades), format::scan::scan_trade)))
    });
    group.finish();
}

/// `format::scan::scan_order` or `scan_trade`: the row read from its third
/// field on (the optional column present or not), and where the next
/// line starts.
type RowScanner<'b, R> = fn(&'b [u8], usize, bool) -> Option<(R, usize)>;

/// Reads every row of `body` (spec-order rows with the optional column)
/// with `scan`, asserting each is accepted; returns the row count plus
/// the key fields' lengths, one number that depends on every row, so that
/// nothing is optimised away.
fn scan_all<'b, R>(body: &'b [u8], scan: RowScanner<'b, R>) -> usize {
    let (mut rows, mut key_bytes, mut start) = (0, 0, 0);
    while start < body.len() {
        let (date, code, values_start) =
            format::scan::key_fields(body, start).expect("a bench row has a key");
        let (row, next) = scan(body, values_start, true).expect("a bench row is valid");
        black_box(row);
        key_bytes += date.len() + code.len();
        rows += 1;
        start = next;
    }
    rows + key_bytes
}

fn bench_route(c: &mut Criterion) {
    let orders = orders_body();
    let trades = trades_body();
    let orders_layout = layout(FileKind::Orders, ORDERS_HEADER);
    let trades_layout = layout(FileKind::Trades, TRADES_HEADER);

    let mut group = c.benchmark_group("route");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));

    // One worker's job on one multi-MB chunk: the whole buffer at once.
    group.throughput(Throughput::Bytes(orders.len() as u64));
    group.bench_function("route_bytes_orders", |b| {
        let mut router = RowRouter::new(&orders_layout);
        b.iter(|| {
            let routed = router.route_bytes(0, black_box(&orders));
            assert!(routed.rejected.is_empty());
            let groups = routed.groups().len();
            router.recycle(routed);
            black_box(groups)
        })
    });

    group.throughput(Throughput::Bytes(trades.len() as u64));
    group.bench_function("route_bytes_trades", |b| {
        let mut router = RowRouter::new(&trades_layout);
        b.iter(|| {
            let routed = router.route_bytes(0, black_box(&trades));
            assert!(routed.rejected.is_empty());
            let groups = routed.groups().len();
            router.recycle(routed);
            black_box(groups)
        })
    });

    // Routing, then a copy of every group's rows into a buffer of its
    // partition: what extraction's user-space work on one core was when
    // the writers copied rows (they now write them from the routed chunk).
    group.throughput(Throughput::Bytes(orders.len() as u64));
    group.bench_function("route_and_copy_orders", |b| {
        let mut router = RowRouter::new(&orders_layout);
        let mut buffers: Vec<Vec<u8>> = Vec::new();
        b.iter(|| {
            let routed = router.route_bytes(0, black_box(&orders));
            buffers.resize_with(routed.groups().len(), Vec::new);
            for (group, buffer) in routed.groups().zip(&mut buffers) {
                buffer.clear();
                buffer.extend_from_slice(group.bytes);
            }
            let groups = buffers.len();
            router.recycle(routed);
            black_box(groups)
        })
    });

    // The same with each narrower classification this CPU has (the paths
    // of CPUs without AVX-512, or without AVX2), to show what the wide
    // registers buy.
    for simd in Simd::available()
        .into_iter()
        .filter(|simd| *simd != Simd::detect())
    {
        for (name, layout, body) in [
            ("orders", &orders_layout, &orders),
            ("trades", &trades_layout, &trades),
        ] {
            group.throughput(Throughput::Bytes(body.len() as u64));
            group.bench_function(format!("route_bytes_{name}_{simd:?}"), |b| {
                let mut router = RowRouter::new(layout).with_simd(simd);
                b.iter(|| {
                    let routed = router.route_bytes(0, black_box(body));
                    assert!(routed.rejected.is_empty());
                    let groups = routed.groups().len();
                    router.recycle(routed);
                    black_box(groups)
                })
            });
        }
    }

    group.finish();
}

criterion_group!(benches, bench_lines, bench_parse, bench_route);
criterion_main!(benches);

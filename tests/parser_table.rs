//! The input format of SPEC §2 as a table: rows that must be accepted with
//! the values they hold, rows that must be rejected with the exact reason,
//! and header errors.

use std::path::Path;

use sweep_pipeline::ErrorKind;
use sweep_pipeline::format::{Column, FieldBuf, FileKind, Layout, OrderType, RejectReason, Side};

const ORDERS_HEADER: &[u8] = b"date,security_code,order_id,time,side,price,quantity,order_type";
const TRADES_HEADER: &[u8] =
    b"date,security_code,trade_id,time,price,quantity,buy_order_id,sell_order_id,aggressor_side";

fn layout(kind: FileKind, header: &[u8]) -> Layout {
    Layout::from_header(kind, header, Path::new("input.csv")).expect("valid header")
}

fn order_reason(line: &str) -> Option<RejectReason> {
    let layout = layout(FileKind::Orders, ORDERS_HEADER);
    layout
        .parse_order(line.as_bytes(), &mut FieldBuf::default())
        .err()
}

fn trade_reason(line: &str) -> Option<RejectReason> {
    let layout = layout(FileKind::Trades, TRADES_HEADER);
    layout
        .parse_trade(line.as_bytes(), &mut FieldBuf::default())
        .err()
}

#[test]
fn valid_order_rows_hold_their_values() {
    let layout = layout(FileKind::Orders, ORDERS_HEADER);
    let mut fields = FieldBuf::default();
    let row = layout
        .parse_order(
            b"2023-02-01,600519.SH,90,09:15:00.020000,S,1745,50,L",
            &mut fields,
        )
        .unwrap();
    assert_eq!(row.date.iso_string(), "2023-02-01");
    assert_eq!(row.security_code, b"600519.SH");
    assert_eq!(row.order_id, 90);
    assert_eq!(
        row.time_ns,
        (9 * 3600 + 15 * 60) * 1_000_000_000 + 20_000_000
    );
    assert_eq!(row.time_text, b"09:15:00.020000");
    assert_eq!(row.side, Side::Sell);
    assert_eq!(row.price, Some(1745.0));
    assert_eq!(row.quantity, 50.0);
    assert_eq!(row.order_type, OrderType::Limit);

    // Compact date, numeric side, market order without a price, quotes,
    // a fractional quantity as in crypto data.
    let row = layout
        .parse_order(b"\"20240105\",BTC-USD,007,23:59:59,1,,0.25,M", &mut fields)
        .unwrap();
    assert_eq!(row.date.iso_string(), "2024-01-05");
    assert_eq!(row.order_id, 7);
    assert_eq!(row.side, Side::Buy);
    assert_eq!(row.side_text, b'1');
    assert_eq!(row.price, None);
    assert_eq!(row.quantity, 0.25);
    assert_eq!(row.order_type, OrderType::Market);

    // An empty order_type is a limit order; price 0 is allowed for orders.
    let row = layout
        .parse_order(b"2024-01-05,A,1,10:00:00,B,0,100,", &mut fields)
        .unwrap();
    assert_eq!(row.order_type, OrderType::Limit);
    assert_eq!(row.price, Some(0.0));
}

#[test]
fn valid_trade_rows_hold_their_values() {
    let layout = layout(FileKind::Trades, TRADES_HEADER);
    let mut fields = FieldBuf::default();
    let row = layout
        .parse_trade(
            b"2023-02-01,600519.SH,0,09:25:00.940000,1854.98,100,,0,",
            &mut fields,
        )
        .unwrap();
    assert_eq!(row.trade_id, 0);
    assert_eq!(row.price, 1854.98);
    assert_eq!((row.buy_order_id, row.sell_order_id), (0, 0));
    assert_eq!(row.aggressor_side, None);
    let row = layout
        .parse_trade(
            b"2023-02-01,X,18446744073709551615,09:25:00,1,1,5,6,2",
            &mut fields,
        )
        .unwrap();
    assert_eq!(row.trade_id, u64::MAX);
    assert_eq!(row.aggressor_side, Some(Side::Sell));
}

#[test]
fn invalid_order_rows_and_their_reasons() {
    use RejectReason::*;
    let table: &[(&str, RejectReason)] = &[
        ("2023-02-30,A,1,10:00:00,B,1,1,L", Invalid(Column::Date)),
        ("2023-2-01,A,1,10:00:00,B,1,1,L", Invalid(Column::Date)),
        ("0000-01-01,A,1,10:00:00,B,1,1,L", Invalid(Column::Date)),
        (
            "2023-02-01,,1,10:00:00,B,1,1,L",
            Invalid(Column::SecurityCode),
        ),
        (
            "2023-02-01,..,1,10:00:00,B,1,1,L",
            Invalid(Column::SecurityCode),
        ),
        (
            "2023-02-01,a/b,1,10:00:00,B,1,1,L",
            Invalid(Column::SecurityCode),
        ),
        (
            "2023-02-01,ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456,1,10:00:00,B,1,1,L",
            Invalid(Column::SecurityCode),
        ),
        ("2023-02-01,A,0,10:00:00,B,1,1,L", Invalid(Column::OrderId)),
        ("2023-02-01,A,-1,10:00:00,B,1,1,L", Invalid(Column::OrderId)),
        (
            "2023-02-01,A,18446744073709551616,10:00:00,B,1,1,L",
            Invalid(Column::OrderId),
        ),
        ("2023-02-01,A,,10:00:00,B,1,1,L", Invalid(Column::OrderId)),
        ("2023-02-01,A,1,24:00:00,B,1,1,L", Invalid(Column::Time)),
        (
            "2023-02-01,A,1,10:00:00.1234567890,B,1,1,L",
            Invalid(Column::Time),
        ),
        ("2023-02-01,A,1,10:00:00,b,1,1,L", Invalid(Column::Side)),
        ("2023-02-01,A,1,10:00:00,3,1,1,L", Invalid(Column::Side)),
        (
            "2023-02-01,A,1,10:00:00,B,-1,1,L",
            Invalid(Column::OrderPrice),
        ),
        (
            "2023-02-01,A,1,10:00:00,B,1e3,1,L",
            Invalid(Column::OrderPrice),
        ),
        ("2023-02-01,A,1,10:00:00,B,1,0,L", Invalid(Column::Quantity)),
        ("2023-02-01,A,1,10:00:00,B,1,,L", Invalid(Column::Quantity)),
        (
            "2023-02-01,A,1,10:00:00,B,1,1,l",
            Invalid(Column::OrderType),
        ),
        ("2023-02-01,A,1,10:00:00,B,,1,L", MissingLimitPrice),
        ("2023-02-01,A,1,10:00:00,B,,1,", MissingLimitPrice),
        (
            "2023-02-01,A,1,10:00:00,B,1,1",
            FieldCount {
                expected: 8,
                found: 7,
            },
        ),
        (
            "2023-02-01,A,1,10:00:00,B,1,1,L,extra",
            FieldCount {
                expected: 8,
                found: 9,
            },
        ),
        (
            "2023-02-01,\"A,B\",1,10:00:00,B,1,1,L",
            QuotedSeparator { field: 2 },
        ),
        (
            "2023-02-01,\"A\"\"B\",1,10:00:00,B,1,1,L",
            QuotedSeparator { field: 2 },
        ),
        (
            "2023-02-01,A\"B\",1,10:00:00,B,1,1,L",
            StrayQuote { field: 2 },
        ),
        ("2023-02-01,\"A,1,10:00:00,B,1,1,L", UnbalancedQuote),
        ("B\",1,10:00:00,B,1,1,L", UnbalancedQuote),
        (" 2023-02-01,A,1,10:00:00,B,1,1,L", Invalid(Column::Date)),
    ];
    for (line, reason) in table {
        assert_eq!(order_reason(line), Some(*reason), "{line}");
    }
}

#[test]
fn invalid_trade_rows_and_their_reasons() {
    use RejectReason::*;
    let table: &[(&str, RejectReason)] = &[
        ("2023-02-01,A,,10:00:00,1,1,1,2,B", Invalid(Column::TradeId)),
        (
            "2023-02-01,A,1,10:00:00,0,1,1,2,B",
            Invalid(Column::TradePrice),
        ),
        (
            "2023-02-01,A,1,10:00:00,,1,1,2,B",
            Invalid(Column::TradePrice),
        ),
        (
            "2023-02-01,A,1,10:00:00,1,0.0,1,2,B",
            Invalid(Column::Quantity),
        ),
        (
            "2023-02-01,A,1,10:00:00,1,1,x,2,B",
            Invalid(Column::BuyOrderId),
        ),
        (
            "2023-02-01,A,1,10:00:00,1,1,1,-2,B",
            Invalid(Column::SellOrderId),
        ),
        (
            "2023-02-01,A,1,10:00:00,1,1,1,2,b",
            Invalid(Column::AggressorSide),
        ),
        (
            "2023-02-01,A,1,10:00:00,1,1,1,2,X",
            Invalid(Column::AggressorSide),
        ),
    ];
    for (line, reason) in table {
        assert_eq!(trade_reason(line), Some(*reason), "{line}");
    }
    assert_eq!(trade_reason("2023-02-01,A,1,10:00:00,1,1,1,2,S"), None);
}

#[test]
fn reasons_read_as_sentences() {
    assert_eq!(
        RejectReason::Invalid(Column::Date).to_string(),
        "invalid date: expected a real calendar date as YYYY-MM-DD or YYYYMMDD"
    );
    assert_eq!(
        RejectReason::FieldCount {
            expected: 8,
            found: 9
        }
        .to_string(),
        "expected 8 fields, found 9"
    );
}

#[test]
fn headers_map_by_name_in_any_order_with_extras() {
    let header = b"\xEF\xBB\xBFvenue,quantity,price,side,time,order_id,security_code,date\r\n";
    let layout = layout(FileKind::Orders, header);
    assert!(!layout.has_order_type());
    assert_eq!(layout.field_count(), 8);
    assert_eq!(layout.column_names()[0], "venue");
    let row = layout
        .parse_order(
            b"XSHG,100,10.5,B,10:00:00,5,600000,2024-01-02",
            &mut FieldBuf::default(),
        )
        .unwrap();
    assert_eq!(row.order_id, 5);
    assert_eq!(row.quantity, 100.0);
    assert_eq!(row.order_type, OrderType::Limit);

    let trades = layout_of(TRADES_HEADER, FileKind::Trades).unwrap();
    assert!(trades.has_aggressor_side());
}

fn layout_of(header: &[u8], kind: FileKind) -> sweep_pipeline::Result<Layout> {
    Layout::from_header(kind, header, Path::new("/data/in.csv"))
}

#[test]
fn missing_columns_are_named_with_the_columns_found() {
    let error = layout_of(b"date,security_code,order_id,Time,side", FileKind::Orders).unwrap_err();
    match error.kind() {
        ErrorKind::MissingColumns { missing, found, .. } => {
            assert_eq!(missing, &["time", "price", "quantity"]);
            assert_eq!(
                found,
                &["date", "security_code", "order_id", "Time", "side"]
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    let message = error.to_string();
    assert!(message.contains("/data/in.csv"), "{message}");
    assert!(message.contains("time, price, quantity"), "{message}");
}

#[test]
fn duplicated_or_malformed_headers_are_refused() {
    let error = layout_of(
        b"date,date,security_code,order_id,time,side,price,quantity",
        FileKind::Orders,
    )
    .unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::BadHeader { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("`date` appears more than once"));
    let error = layout_of(b"date,\"security_code", FileKind::Orders).unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::BadHeader { .. }),
        "{error}"
    );
}

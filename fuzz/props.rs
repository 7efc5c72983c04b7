//! The properties the fuzz targets check, shared with `tests/fuzz_properties.rs`.
//!
//! Each `check_*` function takes the raw fuzz input, decodes it, runs the
//! crate's fast code and a slow, obviously correct reference written here
//! from SPEC §2 alone, and panics when they disagree. The fuzz targets are
//! one-line wrappers around these functions and the seed-corpus test calls
//! the same functions on every file under `fuzz/seeds/`, so stable CI checks
//! every property the fuzzer does.
//!
//! The reference deliberately shares no code with `src/format`: it splits on
//! every `,` with `split`, strips one pair of wrapping quotes, and parses
//! values with `str` methods and `std`'s number parsers. Agreement between
//! two independent readings of the spec is what the properties assert.
//!
//! Input encodings (also described in `fuzz/README.md`):
//! - `row_parser`: byte 0 selects an orders header (`b % 4`) and a trades
//!   header (`b / 4 % 4`) among the first four; the rest is one line,
//!   parsed against both.
//! - `header_mapping`: the whole input is a header line, mapped for both
//!   kinds.
//! - `splitter`: bytes 0–1 are the chunk target (little-endian `u16`), byte 2
//!   the thread count (`b % 4 + 1`), the rest the buffer.
//! - `router`: byte 0 selects the kind (`b & 1`, 0 = orders) and the header
//!   (`(b >> 1) % 5`); the rest is a chunk of body lines.

// Each fuzz target uses one `check_*` function of this module; the others
// are dead code in that binary.
#![allow(dead_code)]

use std::path::Path;
use std::sync::OnceLock;

use sweep_pipeline::ErrorKind;
use sweep_pipeline::extract::RowRouter;
use sweep_pipeline::format::{
    self, Column, FieldBuf, FileKind, Layout, OrderType, RejectReason, Side,
};

/// Orders headers the row and router properties parse against: the plain
/// one, one with the optional column, extras and a quoted name, one in
/// reverse order, one with extras interleaved, and the spec's full header
/// (the optional column last, which routing reads front to back).
pub const ORDER_HEADERS: [&str; HEADER_CHOICES] = [
    "date,security_code,order_id,time,side,price,quantity",
    "date,security_code,order_id,time,side,price,quantity,order_type,channel,\"note\"",
    "quantity,order_type,price,side,time,order_id,security_code,date",
    "seq,\"date\",security_code,venue,order_id,time,side,price,quantity,flag",
    "date,security_code,order_id,time,side,price,quantity,order_type",
];

/// How many headers of each kind the properties choose from.
pub const HEADER_CHOICES: usize = 5;

/// Trades headers, chosen the same way as [`ORDER_HEADERS`].
pub const TRADE_HEADERS: [&str; HEADER_CHOICES] = [
    "date,security_code,trade_id,time,price,quantity,buy_order_id,sell_order_id",
    "date,security_code,trade_id,time,price,quantity,buy_order_id,sell_order_id,aggressor_side,channel",
    "aggressor_side,sell_order_id,buy_order_id,quantity,price,time,trade_id,security_code,date",
    "seq,date,security_code,trade_id,venue,time,price,quantity,buy_order_id,sell_order_id,x",
    "date,security_code,trade_id,time,price,quantity,buy_order_id,sell_order_id,aggressor_side",
];

const ORDER_REQUIRED: [&str; 7] = [
    "date",
    "security_code",
    "order_id",
    "time",
    "side",
    "price",
    "quantity",
];
const TRADE_REQUIRED: [&str; 8] = [
    "date",
    "security_code",
    "trade_id",
    "time",
    "price",
    "quantity",
    "buy_order_id",
    "sell_order_id",
];

fn required(kind: FileKind) -> &'static [&'static str] {
    match kind {
        FileKind::Orders => &ORDER_REQUIRED,
        FileKind::Trades => &TRADE_REQUIRED,
    }
}

fn optional(kind: FileKind) -> &'static str {
    match kind {
        FileKind::Orders => "order_type",
        FileKind::Trades => "aggressor_side",
    }
}

/// The fixed headers, mapped once per process (mapping allocates, and the
/// row properties run millions of times), with their column names as the
/// reference splits them.
struct FixedLayouts {
    layouts: [[Layout; HEADER_CHOICES]; 2],
    names: [[Vec<String>; HEADER_CHOICES]; 2],
}

fn fixed() -> &'static FixedLayouts {
    static FIXED: OnceLock<FixedLayouts> = OnceLock::new();
    FIXED.get_or_init(|| {
        let map = |kind, header: &str| {
            Layout::from_header(kind, header.as_bytes(), Path::new("fixed-header.csv"))
                .unwrap_or_else(|err| panic!("fixed header {header:?} does not map: {err}"))
        };
        let names = |header: &str| -> Vec<String> {
            reference_split(header.as_bytes())
                .into_iter()
                .map(|field| String::from_utf8_lossy(field.value).into_owned())
                .collect()
        };
        FixedLayouts {
            layouts: [
                ORDER_HEADERS.map(|header| map(FileKind::Orders, header)),
                TRADE_HEADERS.map(|header| map(FileKind::Trades, header)),
            ],
            names: [ORDER_HEADERS.map(names), TRADE_HEADERS.map(names)],
        }
    })
}

/// Fixed layout `index` of `kind`, and its column names.
fn layout(kind: FileKind, index: usize) -> (&'static Layout, &'static [String]) {
    let set = match kind {
        FileKind::Orders => 0,
        FileKind::Trades => 1,
    };
    let fixed = fixed();
    (&fixed.layouts[set][index], &fixed.names[set][index])
}

// ---------------------------------------------------------------------------
// The reference reading of SPEC §2.

/// One field of the naive split: the bytes between commas, and the value
/// with one pair of wrapping quotes removed.
#[derive(Debug)]
struct RefField<'a> {
    raw: &'a [u8],
    value: &'a [u8],
}

impl RefField<'_> {
    /// True when the field is fine by the quote rules: no quote at all, or
    /// wrapped in one pair with no quote inside.
    fn quotes_ok(&self) -> bool {
        !self.value.contains(&b'"')
    }

    /// The raw field starts with a quote but is not cleanly wrapped.
    fn quoted_separator(&self) -> bool {
        self.raw.first() == Some(&b'"') && !self.quotes_ok()
    }

    /// The raw field holds a quote but does not start with one.
    fn stray_quote(&self) -> bool {
        self.raw.first() != Some(&b'"') && self.raw.contains(&b'"')
    }
}

fn reference_split(line: &[u8]) -> Vec<RefField<'_>> {
    line.split(|&b| b == b',')
        .map(|raw| {
            let value = match raw {
                [b'"', inner @ .., b'"'] => inner,
                _ => raw,
            };
            RefField { raw, value }
        })
        .collect()
}

fn quote_count(line: &[u8]) -> usize {
    line.iter().filter(|&&b| b == b'"').count()
}

/// True when the quote rules of the whole line hold (balanced, and every
/// field clean).
fn reference_quotes_ok(line: &[u8], fields: &[RefField<'_>]) -> bool {
    quote_count(line).is_multiple_of(2) && fields.iter().all(RefField::quotes_ok)
}

fn as_str(bytes: &[u8]) -> Option<&str> {
    std::str::from_utf8(bytes).ok()
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn ref_u64(bytes: &[u8]) -> Option<u64> {
    // `u64::from_str` accepts a leading `+`; the spec does not.
    let s = as_str(bytes)?;
    if !all_digits(s) {
        return None;
    }
    s.parse().ok()
}

fn ref_decimal(bytes: &[u8]) -> Option<f64> {
    let s = as_str(bytes)?;
    let (whole, fraction) = match s.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (s, None),
    };
    let whole_ok = whole.is_empty() || all_digits(whole);
    let fraction_ok = match fraction {
        None => true,
        Some(fraction) => fraction.is_empty() || all_digits(fraction),
    };
    let has_digit = !whole.is_empty() || fraction.is_some_and(|f| !f.is_empty());
    if !(whole_ok && fraction_ok && has_digit) {
        return None;
    }
    // `std` parses "5." and ".5" and rounds correctly, like the crate must.
    let value: f64 = s.parse().ok()?;
    value.is_finite().then_some(value)
}

fn ref_time_ns(bytes: &[u8]) -> Option<u64> {
    let s = as_str(bytes)?;
    let (clock, fraction) = match s.split_once('.') {
        Some((clock, fraction)) => (clock, Some(fraction)),
        None => (s, None),
    };
    let parts: Vec<&str> = clock.split(':').collect();
    if parts.len() != 3 || parts.iter().any(|p| p.len() != 2 || !all_digits(p)) {
        return None;
    }
    let (h, m, sec): (u64, u64, u64) = (
        parts[0].parse().ok()?,
        parts[1].parse().ok()?,
        parts[2].parse().ok()?,
    );
    if h > 23 || m > 59 || sec > 59 {
        return None;
    }
    let nanos = match fraction {
        None => 0,
        Some(f) if (1..=9).contains(&f.len()) && all_digits(f) => {
            format!("{f:0<9}").parse::<u64>().ok()?
        }
        Some(_) => return None,
    };
    Some(((h * 60 + m) * 60 + sec) * 1_000_000_000 + nanos)
}

/// The date normalised to `YYYY-MM-DD`, if it is a real one.
fn ref_date(bytes: &[u8]) -> Option<String> {
    let s = as_str(bytes)?;
    let (y, m, d) = if s.len() == 10 && s.as_bytes()[4] == b'-' && s.as_bytes()[7] == b'-' {
        (&s[0..4], &s[5..7], &s[8..10])
    } else if s.len() == 8 && s.is_ascii() {
        (&s[0..4], &s[4..6], &s[6..8])
    } else {
        return None;
    };
    if ![y, m, d].iter().all(|part| all_digits(part)) {
        return None;
    }
    let (year, month, day): (u32, u32, u32) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    let month_days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        1..=12 => 31,
        _ => 0,
    };
    let ok = (1..=9999).contains(&year) && (1..=month_days).contains(&day);
    ok.then(|| format!("{y}-{m}-{d}"))
}

fn ref_security_code(bytes: &[u8]) -> bool {
    (1..=32).contains(&bytes.len())
        && bytes != b"."
        && bytes != b".."
        && bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
}

fn ref_side(bytes: &[u8]) -> Option<Side> {
    match bytes {
        b"B" | b"1" => Some(Side::Buy),
        b"S" | b"2" => Some(Side::Sell),
        _ => None,
    }
}

fn ref_order_type(bytes: &[u8]) -> Option<OrderType> {
    match bytes {
        b"" | b"L" => Some(OrderType::Limit),
        b"M" => Some(OrderType::Market),
        _ => None,
    }
}

fn ref_optional_id(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() {
        Some(0)
    } else {
        ref_u64(bytes)
    }
}

/// Whether a known column's value is valid, judged by the reference.
fn ref_column_valid(column: Column, value: &[u8]) -> bool {
    match column {
        Column::Date => ref_date(value).is_some(),
        Column::SecurityCode => ref_security_code(value),
        Column::OrderId => ref_u64(value).is_some_and(|id| id > 0),
        Column::TradeId => ref_u64(value).is_some(),
        Column::Time => ref_time_ns(value).is_some(),
        Column::Side => ref_side(value).is_some(),
        // Empty is judged with the order type (MissingLimitPrice).
        Column::OrderPrice => value.is_empty() || ref_decimal(value).is_some(),
        Column::TradePrice | Column::Quantity => ref_decimal(value).is_some_and(|v| v > 0.0),
        Column::OrderType => ref_order_type(value).is_some(),
        Column::BuyOrderId | Column::SellOrderId => ref_optional_id(value).is_some(),
        Column::AggressorSide => value.is_empty() || ref_side(value).is_some(),
    }
}

/// A row split by the reference, with lookups by column name.
struct RefRow<'a> {
    line: &'a [u8],
    fields: Vec<RefField<'a>>,
    names: &'a [String],
}

impl<'a> RefRow<'a> {
    fn new(line: &'a [u8], names: &'a [String]) -> RefRow<'a> {
        RefRow {
            line,
            fields: reference_split(line),
            names,
        }
    }

    /// The value under column `name`, when the header has it. Only called
    /// once the field count matches the header.
    fn get(&self, name: &str) -> Option<&'a [u8]> {
        let at = self.names.iter().position(|n| n == name)?;
        Some(self.fields[at].value)
    }

    fn shape_ok(&self) -> bool {
        reference_quotes_ok(self.line, &self.fields) && self.fields.len() == self.names.len()
    }

    /// Whether the reference accepts the row as `kind`.
    fn accepts(&self, kind: FileKind) -> bool {
        if !self.shape_ok() {
            return false;
        }
        let columns_ok = self.names.iter().zip(&self.fields).all(|(name, field)| {
            column_named(kind, name).is_none_or(|column| ref_column_valid(column, field.value))
        });
        columns_ok && !self.missing_limit_price(kind)
    }

    fn missing_limit_price(&self, kind: FileKind) -> bool {
        kind == FileKind::Orders
            && self.get("price") == Some(b"")
            && self.get("order_type").and_then(ref_order_type) != Some(OrderType::Market)
    }

    /// Asserts that `reason` names something really wrong with the row.
    fn assert_justifies(&self, kind: FileKind, reason: RejectReason) {
        let line = String::from_utf8_lossy(self.line);
        assert!(
            !reason.to_string().is_empty(),
            "empty Display for {reason:?}"
        );
        let field = |n: usize| &self.fields[n - 1];
        let ok = match reason {
            RejectReason::UnbalancedQuote => !quote_count(self.line).is_multiple_of(2),
            RejectReason::QuotedSeparator { field: n } => {
                n >= 1 && n <= self.fields.len() && field(n).quoted_separator()
            }
            RejectReason::StrayQuote { field: n } => {
                n >= 1 && n <= self.fields.len() && field(n).stray_quote()
            }
            RejectReason::FieldCount { expected, found } => {
                reference_quotes_ok(self.line, &self.fields)
                    && expected == self.names.len()
                    && found == self.fields.len()
                    && found != expected
            }
            RejectReason::Invalid(column) => {
                self.shape_ok()
                    && self.names.iter().zip(&self.fields).any(|(name, field)| {
                        column_named(kind, name) == Some(column)
                            && !ref_column_valid(column, field.value)
                    })
            }
            RejectReason::MissingLimitPrice => self.shape_ok() && self.missing_limit_price(kind),
            _ => panic!("a reject reason the properties do not know: {reason:?}"),
        };
        assert!(
            ok,
            "{kind:?} row {line:?} rejected for a wrong reason: {reason:?} ({reason})"
        );
    }
}

/// The column a header name stands for in `kind`, if any.
fn column_named(kind: FileKind, name: &str) -> Option<Column> {
    let column = match (kind, name) {
        (_, "date") => Column::Date,
        (_, "security_code") => Column::SecurityCode,
        (_, "time") => Column::Time,
        (_, "quantity") => Column::Quantity,
        (FileKind::Orders, "order_id") => Column::OrderId,
        (FileKind::Orders, "side") => Column::Side,
        (FileKind::Orders, "price") => Column::OrderPrice,
        (FileKind::Orders, "order_type") => Column::OrderType,
        (FileKind::Trades, "trade_id") => Column::TradeId,
        (FileKind::Trades, "price") => Column::TradePrice,
        (FileKind::Trades, "buy_order_id") => Column::BuyOrderId,
        (FileKind::Trades, "sell_order_id") => Column::SellOrderId,
        (FileKind::Trades, "aggressor_side") => Column::AggressorSide,
        _ => return None,
    };
    Some(column)
}

fn must<'a>(row: &RefRow<'a>, name: &str) -> &'a [u8] {
    row.get(name)
        .unwrap_or_else(|| panic!("accepted row lacks column {name}"))
}

fn check_order_line(index: usize, line: &[u8], scratch: &mut FieldBuf) {
    let (layout, names) = layout(FileKind::Orders, index);
    let reference = RefRow::new(line, names);
    let shown = String::from_utf8_lossy(line);
    match layout.parse_order(line, scratch) {
        Ok(row) => {
            assert!(
                reference.accepts(FileKind::Orders),
                "orders header {index} accepted a row the reference rejects: {shown:?} -> {row:?}"
            );
            assert_eq!(reference.fields.len(), layout.field_count());
            assert_eq!(scratch.len(), layout.field_count());
            let date = ref_date(must(&reference, "date")).expect("reference accepted the date");
            assert_eq!(&row.date.iso()[..], date.as_bytes(), "date of {shown:?}");
            assert_eq!(row.security_code, must(&reference, "security_code"));
            assert_eq!(Some(row.order_id), ref_u64(must(&reference, "order_id")));
            assert_eq!(row.time_text, must(&reference, "time"));
            assert_eq!(Some(row.time_ns), ref_time_ns(row.time_text), "{shown:?}");
            assert_eq!(&[row.side_text][..], must(&reference, "side"));
            assert_eq!(Some(row.side), ref_side(&[row.side_text]));
            let price = must(&reference, "price");
            if price.is_empty() {
                assert_eq!(row.price, None);
            } else {
                assert_eq!(row.price, ref_decimal(price), "price of {shown:?}");
            }
            assert_eq!(
                Some(row.quantity),
                ref_decimal(must(&reference, "quantity")),
                "quantity of {shown:?}"
            );
            let order_type = reference.get("order_type").unwrap_or(b"");
            assert_eq!(Some(row.order_type), ref_order_type(order_type));
            // Each field the layout exposes is the reference's field.
            for (at, field) in reference.fields.iter().enumerate() {
                assert_eq!(
                    scratch.field(line, at),
                    field.value,
                    "field {at} of {shown:?}"
                );
            }
        }
        Err(reason) => {
            assert!(
                !reference.accepts(FileKind::Orders),
                "orders header {index} rejected a row the reference accepts: {shown:?} ({reason})"
            );
            reference.assert_justifies(FileKind::Orders, reason);
        }
    }
}

fn check_trade_line(index: usize, line: &[u8], scratch: &mut FieldBuf) {
    let (layout, names) = layout(FileKind::Trades, index);
    let reference = RefRow::new(line, names);
    let shown = String::from_utf8_lossy(line);
    match layout.parse_trade(line, scratch) {
        Ok(row) => {
            assert!(
                reference.accepts(FileKind::Trades),
                "trades header {index} accepted a row the reference rejects: {shown:?} -> {row:?}"
            );
            assert_eq!(reference.fields.len(), layout.field_count());
            let date = ref_date(must(&reference, "date")).expect("reference accepted the date");
            assert_eq!(&row.date.iso()[..], date.as_bytes(), "date of {shown:?}");
            assert_eq!(row.security_code, must(&reference, "security_code"));
            assert_eq!(Some(row.trade_id), ref_u64(must(&reference, "trade_id")));
            assert_eq!(row.time_text, must(&reference, "time"));
            assert_eq!(Some(row.time_ns), ref_time_ns(row.time_text), "{shown:?}");
            assert_eq!(Some(row.price), ref_decimal(must(&reference, "price")));
            assert_eq!(
                Some(row.quantity),
                ref_decimal(must(&reference, "quantity"))
            );
            assert_eq!(
                Some(row.buy_order_id),
                ref_optional_id(must(&reference, "buy_order_id"))
            );
            assert_eq!(
                Some(row.sell_order_id),
                ref_optional_id(must(&reference, "sell_order_id"))
            );
            let aggressor = reference.get("aggressor_side").unwrap_or(b"");
            assert_eq!(row.aggressor_side, ref_side(aggressor));
            for (at, field) in reference.fields.iter().enumerate() {
                assert_eq!(
                    scratch.field(line, at),
                    field.value,
                    "field {at} of {shown:?}"
                );
            }
        }
        Err(reason) => {
            assert!(
                !reference.accepts(FileKind::Trades),
                "trades header {index} rejected a row the reference accepts: {shown:?} ({reason})"
            );
            reference.assert_justifies(FileKind::Trades, reason);
        }
    }
}

// ---------------------------------------------------------------------------
// The properties.

/// `row_parser`: one line, parsed as an order and as a trade. Accepted iff
/// the reference accepts; accepted values equal the reference's; a
/// rejection's reason names a real fault.
pub fn check_row(data: &[u8]) {
    let Some((&selector, line)) = data.split_first() else {
        return;
    };
    let selector = usize::from(selector);
    // A dirty scratch buffer (left by the other kind) must not leak into
    // the next parse, so one buffer serves both.
    let mut scratch = FieldBuf::default();
    // The first four headers only, as when the seeds were written; the
    // fifth differs from the first by its optional column, which the
    // second has too.
    let (order, trade) = (selector % 4, selector / 4 % 4);
    check_order_line(order, line, &mut scratch);
    check_trade_line(trade, line, &mut scratch);
    check_order_line(order, line, &mut scratch);
}

/// Whether a `row_parser` input is accepted as an order and as a trade.
/// Lets the seed test check that the corpus reaches the accepting paths,
/// not only rejections (where agreement would be cheap).
pub fn row_verdicts(data: &[u8]) -> (bool, bool) {
    let Some((&selector, line)) = data.split_first() else {
        return (false, false);
    };
    let selector = usize::from(selector);
    let mut scratch = FieldBuf::default();
    let order = layout(FileKind::Orders, selector % 4)
        .0
        .parse_order(line, &mut scratch);
    let trade = layout(FileKind::Trades, selector / 4 % 4)
        .0
        .parse_trade(line, &mut scratch);
    (order.is_ok(), trade.is_ok())
}

/// `header_mapping`: any bytes as a header, for both kinds.
pub fn check_header(data: &[u8]) {
    for kind in [FileKind::Orders, FileKind::Trades] {
        check_header_as(kind, data);
    }
}

fn check_header_as(kind: FileKind, header: &[u8]) {
    let shown = String::from_utf8_lossy(header);
    let body = header.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(header);
    let body = body.strip_suffix(b"\n").unwrap_or(body);
    let body = body.strip_suffix(b"\r").unwrap_or(body);
    let fields = reference_split(body);
    let names: Option<Vec<&str>> = fields.iter().map(|f| as_str(f.value)).collect();
    let quotes_ok = reference_quotes_ok(body, &fields);
    let count = |names: &[&str], wanted: &str| names.iter().filter(|n| **n == wanted).count();
    let known = |name: &str| column_named(kind, name).is_some();

    match Layout::from_header(kind, header, Path::new("fuzz.csv")) {
        Ok(layout) => {
            let names = names.unwrap_or_else(|| panic!("accepted a non-UTF-8 header {shown:?}"));
            assert!(
                quotes_ok,
                "accepted a header breaking the quote rules: {shown:?}"
            );
            assert_eq!(layout.kind(), kind);
            assert_eq!(
                layout.column_names(),
                &names[..],
                "{kind:?} header {shown:?}"
            );
            assert_eq!(layout.field_count(), names.len());
            for name in required(kind) {
                assert_eq!(
                    count(&names, name),
                    1,
                    "{name} in {kind:?} header {shown:?}"
                );
            }
            let has_optional = count(&names, optional(kind));
            assert!(has_optional <= 1, "duplicated optional column in {shown:?}");
            let expected_optional = has_optional == 1;
            match kind {
                FileKind::Orders => {
                    assert_eq!(layout.has_order_type(), expected_optional);
                    assert!(!layout.has_aggressor_side());
                }
                FileKind::Trades => {
                    assert_eq!(layout.has_aggressor_side(), expected_optional);
                    assert!(!layout.has_order_type());
                }
            }
        }
        Err(err) => {
            assert!(!err.to_string().is_empty());
            match err.kind() {
                ErrorKind::MissingColumns { missing, found, .. } => {
                    let names = names.unwrap_or_else(|| {
                        panic!("MissingColumns for a non-UTF-8 header {shown:?}")
                    });
                    assert!(quotes_ok, "MissingColumns before a quote fault: {shown:?}");
                    assert_eq!(found, &names, "found columns of {shown:?}");
                    let absent: Vec<&str> = required(kind)
                        .iter()
                        .copied()
                        .filter(|name| count(&names, name) == 0)
                        .collect();
                    assert_eq!(missing, &absent, "missing columns of {shown:?}");
                    assert!(!absent.is_empty());
                }
                ErrorKind::BadHeader { .. } => {
                    let duplicated = names.as_ref().is_some_and(|names| {
                        names
                            .iter()
                            .any(|name| known(name) && count(names, name) > 1)
                    });
                    assert!(
                        !quotes_ok || names.is_none() || duplicated,
                        "{kind:?} header {shown:?} refused without a fault: {err}"
                    );
                }
                _ => panic!("unexpected error for {kind:?} header {shown:?}: {err}"),
            }
        }
    }
}

/// `splitter`: sequential and parallel chunking agree with each other and
/// with a naive reference, and chunks hold exactly the buffer's lines.
pub fn check_splitter(data: &[u8]) {
    let target = match data {
        [a, b, ..] => usize::from(u16::from_le_bytes([*a, *b])),
        _ => 1,
    };
    let threads = data.get(2).map_or(1, |b| usize::from(b % 4) + 1);
    let buf = data.get(3..).unwrap_or_default();

    let ends = format::chunk_boundaries(buf, target);
    let parallel = format::chunk_boundaries_parallel(buf, target, threads);
    assert_eq!(ends, parallel, "target {target} threads {threads}");
    assert_eq!(ends, reference_boundaries(buf, target), "target {target}");

    if buf.is_empty() {
        assert!(ends.is_empty());
        return;
    }
    assert_eq!(ends.last(), Some(&buf.len()));
    let mut start = 0;
    let mut joined = Vec::with_capacity(buf.len());
    let mut chunk_lines: Vec<(u64, &[u8])> = Vec::new();
    for (at, &end) in ends.iter().enumerate() {
        assert!(end > start, "chunk ends not strictly increasing: {ends:?}");
        let chunk = &buf[start..end];
        if at + 1 < ends.len() {
            assert_eq!(chunk.last(), Some(&b'\n'), "chunk {at} does not end a line");
        }
        joined.extend_from_slice(chunk);
        let first = chunk_lines.len() as u64 + 1;
        chunk_lines.extend(format::lines(chunk).numbered_from(first));
        start = end;
    }
    assert_eq!(joined, buf);
    let whole: Vec<(u64, &[u8])> = format::lines(buf).collect();
    assert_eq!(chunk_lines, whole);
    assert_eq!(whole, reference_lines(buf));
}

/// The chunk ends by the grid rule, found by scanning for line starts.
fn reference_boundaries(buf: &[u8], target: usize) -> Vec<usize> {
    let target = target.max(1);
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(
            buf.iter()
                .enumerate()
                .filter(|(_, b)| **b == b'\n')
                .map(|(at, _)| at + 1),
        )
        .collect();
    let mut ends = Vec::new();
    let mut start = 0;
    while start < buf.len() {
        let grid = (start / target + 1) * target;
        // The first line start at or after the grid point (the sorted list
        // is searched, not scanned, to keep fuzzing fast on long buffers).
        let first = line_starts.partition_point(|&s| s < grid);
        let end = line_starts.get(first).copied().unwrap_or(buf.len());
        ends.push(end);
        start = end;
    }
    ends
}

/// Lines by the spec: split on `\n`, one `\r` before it dropped, no empty
/// line after a final `\n`.
fn reference_lines(buf: &[u8]) -> Vec<(u64, &[u8])> {
    let mut pieces: Vec<&[u8]> = buf.split(|&b| b == b'\n').collect();
    if buf.last() == Some(&b'\n') || buf.is_empty() {
        pieces.pop();
    }
    pieces
        .into_iter()
        .enumerate()
        .map(|(at, piece)| (at as u64 + 1, piece.strip_suffix(b"\r").unwrap_or(piece)))
        .collect()
}

/// `router`: every non-blank line lands exactly once, in input order, in
/// the group of its reference partition (byte for byte, `\n` added when
/// missing) or among the rejected lines with the parser's reason.
pub fn check_router(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let kind = if selector & 1 == 0 {
        FileKind::Orders
    } else {
        FileKind::Trades
    };
    let index = usize::from(selector >> 1) % HEADER_CHOICES;
    let (layout, names) = layout(kind, index);
    let mut router = RowRouter::new(layout);
    let routed = router.route_bytes(7, body);
    assert_eq!(routed.seq, 7);
    assert_eq!(routed.input_bytes, body.len() as u64);

    let mut expected_groups: Vec<(String, Vec<u8>, u64)> = Vec::new();
    let mut expected_rejected: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut scratch = FieldBuf::default();
    let mut line_count = 0u64;
    let mut rest = body;
    while !rest.is_empty() {
        let cut = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |at| at + 1);
        let (with_terminator, tail) = rest.split_at(cut);
        rest = tail;
        let index_in_chunk = line_count;
        line_count += 1;
        let line = with_terminator
            .strip_suffix(b"\n")
            .unwrap_or(with_terminator);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() || line == b"\r" {
            continue;
        }
        let reference = RefRow::new(line, names);
        if reference.accepts(kind) {
            let date = ref_date(must(&reference, "date")).expect("accepted date");
            let code = String::from_utf8(must(&reference, "security_code").to_vec())
                .expect("accepted codes are ASCII");
            let key = format!("{date}/{code}");
            let mut bytes = with_terminator.to_vec();
            if bytes.last() != Some(&b'\n') {
                bytes.push(b'\n');
            }
            match expected_groups.iter_mut().find(|(k, _, _)| *k == key) {
                Some((_, group, rows)) => {
                    group.extend_from_slice(&bytes);
                    *rows += 1;
                }
                None => expected_groups.push((key, bytes, 1)),
            }
        } else {
            // The parser must agree it is rejected; its reason is checked
            // against the reference by the row property.
            assert!(layout.parse_key(line, &mut scratch).is_err());
            expected_rejected.push((index_in_chunk, line.to_vec()));
        }
    }
    assert_eq!(routed.lines, line_count, "line count of {kind:?} chunk");

    let got_groups: Vec<(String, Vec<u8>, u64)> = routed
        .groups()
        .map(|g| (g.key.to_string(), g.bytes.to_vec(), g.rows))
        .collect();
    assert_eq!(
        got_groups, expected_groups,
        "groups of {kind:?} header {index}"
    );
    let got_rejected: Vec<(u64, Vec<u8>)> = routed
        .rejected
        .iter()
        .map(|r| (r.line_in_chunk, r.raw.clone()))
        .collect();
    assert_eq!(
        got_rejected, expected_rejected,
        "rejected of {kind:?} header {index}"
    );
    for rejected in &routed.rejected {
        let reason = layout
            .parse_key(&rejected.raw, &mut scratch)
            .expect_err("rejected line parses");
        assert_eq!(rejected.reason, reason);
    }
    // A reused router gives the same answer: its scratch state is reset.
    let again = router.route_bytes(8, body);
    assert_eq!(again.groups().len(), routed.groups().len());
    assert_eq!(again.rejected.len(), routed.rejected.len());
}

//! Processing's fastest path: a row under the spec's own header (its
//! columns in the spec's order, the optional one last if present, as
//! `generate` writes them and most feeds deliver them), read in one pass
//! over its bytes, each field checked and converted at once.
//!
//! With the column of every field known in advance there is nothing to
//! split first: each field's reader consumes its bytes and stops at the
//! separator, which the next step expects. Mask classification
//! ([`super::classify`]) pays for seven class masks of every byte and a
//! split before a field is looked at, several times the cost of reading a
//! row this way.
//!
//! A reader answers `None` on anything unusual (a quote, a 20-digit id, a
//! missing or extra field, any invalid value) and the caller then takes
//! the full parser ([`super::Layout::parse_order`]), which gives the exact
//! reason. What a reader returns is exactly what the full parser returns
//! for the line (the tests compare the two on every one-byte edit of
//! varied rows).
//!
//! The readers start after the date and the security code, the first two
//! fields: a partition repeats the same ones on every row, so the caller
//! checks them once and then compares bytes ([`key_fields`] finds them for
//! that one full check).

use super::layout::{ClassifiedOrder, ClassifiedTrade};
use super::values::{self, OrderType, POWERS_OF_TEN, Side};

/// Nanoseconds per unit of a time's fraction of `n` digits: 10^(9 − n).
const NANOS_PER_UNIT: [u64; 10] = [
    1_000_000_000,
    100_000_000,
    10_000_000,
    1_000_000,
    100_000,
    10_000,
    1_000,
    100,
    10,
    1,
];

/// The run of ASCII digits that starts eight bytes read little-endian
/// (the first byte lowest): its length (0–8) and its value.
///
/// A byte is a digit when neither `byte − '0'` borrows nor `byte + 0x46`
/// reaches 0x80; either sets the byte's top bit. Below the first
/// non-digit no byte borrows or carries into the next, so the lowest top
/// bit set is exactly the first non-digit (bytes after it may be flagged
/// or not: they are not looked at). The run's digits, shifted to the top
/// of the word with zeros below, are then combined pairwise (the
/// technique of `fast_float`'s eight-digit parse): 2561·x >> 8 forms the
/// two-digit values, the masks and multipliers the four- and eight-digit
/// ones.
#[inline]
fn digit_run(word: u64) -> (usize, u64) {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let values = word.wrapping_sub(ONES * u64::from(b'0'));
    let non_digits = (word.wrapping_add(ONES * 0x46) | values) & (ONES * 0x80);
    let run = (non_digits.trailing_zeros() / 8) as usize;
    if run == 0 {
        return (0, 0);
    }
    let x = values << (8 * (8 - run));
    let x = x.wrapping_mul(10).wrapping_add(x >> 8);
    const MASK: u64 = 0x0000_00FF_0000_00FF;
    const MUL1: u64 = 100 + (1_000_000 << 32);
    const MUL2: u64 = 1 + (10_000 << 32);
    let x = ((x & MASK)
        .wrapping_mul(MUL1)
        .wrapping_add(((x >> 16) & MASK).wrapping_mul(MUL2)))
        >> 32;
    (run, x)
}

/// A position in the file's bytes, moved field by field.
struct Cursor<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.buf.get(self.at).copied()
    }

    /// Steps over `byte`, or fails.
    #[inline]
    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.at += 1)
    }

    /// A field taken as text: the bytes up to the next comma, which is
    /// stepped over. Fails at a line end, the buffer's end, or past 32
    /// bytes (no valid date or code is longer).
    #[inline]
    fn text(&mut self) -> Option<&'a [u8]> {
        let start = self.at;
        loop {
            match self.peek()? {
                b',' => break,
                b'\n' => return None,
                _ if self.at - start >= 32 => return None,
                _ => self.at += 1,
            }
        }
        let field = &self.buf[start..self.at];
        self.at += 1;
        Some(field)
    }

    /// A run of ASCII digits: its value and length. The value is exact up
    /// to 19 digits.
    #[inline]
    fn digits(&mut self) -> (u64, usize) {
        self.digits_onto(0)
    }

    /// A run of ASCII digits appended to the digits of `value`: the value
    /// of them all (exact up to 19 digits in all) and the run's length.
    #[inline]
    fn digits_onto(&mut self, mut value: u64) -> (u64, usize) {
        let start = self.at;
        while let Some(byte) = self.peek() {
            let digit = byte.wrapping_sub(b'0');
            if digit > 9 {
                break;
            }
            value = value.wrapping_mul(10).wrapping_add(u64::from(digit));
            self.at += 1;
        }
        (value, self.at - start)
    }

    /// [`Cursor::digits`] for runs that are usually long (ids, a time's
    /// fraction): eight bytes looked at in one word when the buffer has
    /// them — where the run ends and the value of its digits, each in a
    /// few instructions instead of a step per digit. The byte loop
    /// continues a longer run and reads the buffer's last bytes. (Prices
    /// and quantities, runs of one to four digits, are no faster this way.)
    #[inline(always)]
    fn long_digits(&mut self) -> (u64, usize) {
        if let Some(chunk) = self.buf.get(self.at..).and_then(|b| b.first_chunk::<8>()) {
            let (run, value) = digit_run(u64::from_le_bytes(*chunk));
            self.at += run;
            if run < 8 {
                return (value, run);
            }
            let (value, more) = self.digits_onto(value);
            return (value, run + more);
        }
        self.digits()
    }

    /// An unsigned 64-bit integer of 1–19 digits ([`values::parse_u64`]
    /// accepts exactly these and longer ones, which are left to it).
    #[inline(always)]
    fn id(&mut self) -> Option<u64> {
        let (value, len) = self.long_digits();
        (1..=19).contains(&len).then_some(value)
    }

    /// An order id on a trade: empty (unknown, 0) or an id.
    #[inline(always)]
    fn optional_id(&mut self) -> Option<u64> {
        match self.peek() {
            Some(b',' | b'\n' | b'\r') | None => Some(0),
            _ => self.id(),
        }
    }

    /// `HH:MM:SS` with an optional `.` and 1–9 digits, as
    /// [`values::parse_time_ns`] reads it: nanoseconds and the text.
    #[inline(always)]
    fn time(&mut self) -> Option<(u64, &'a [u8])> {
        let start = self.at;
        let &[h1, h2, c1, m1, m2, c2, s1, s2] = self.buf.get(start..)?.first_chunk::<8>()?;
        let two = |tens: u8, units: u8| {
            let (tens, units) = (tens.wrapping_sub(b'0'), units.wrapping_sub(b'0'));
            (tens <= 9 && units <= 9).then_some(u64::from(tens) * 10 + u64::from(units))
        };
        let (hours, minutes, seconds) = (two(h1, h2)?, two(m1, m2)?, two(s1, s2)?);
        if c1 != b':' || c2 != b':' || hours > 23 || minutes > 59 || seconds > 59 {
            return None;
        }
        self.at += 8;
        let mut nanos = 0;
        if self.peek() == Some(b'.') {
            self.at += 1;
            let (fraction, len) = self.long_digits();
            if !(1..=9).contains(&len) {
                return None;
            }
            nanos = fraction * NANOS_PER_UNIT[len];
        }
        let whole_seconds = hours * 3600 + minutes * 60 + seconds;
        Some((
            whole_seconds * 1_000_000_000 + nanos,
            &self.buf[start..self.at],
        ))
    }

    /// A decimal `[0-9]+(\.[0-9]*)?` or `\.[0-9]+`, as
    /// [`values::parse_decimal`] reads it: up to 15 digits its fast path
    /// (the same quotient), beyond that the function itself.
    #[inline(always)]
    fn decimal(&mut self) -> Option<f64> {
        let start = self.at;
        let (mut mantissa, mut digits) = self.digits();
        let mut fraction_len = 0;
        if self.peek() == Some(b'.') {
            self.at += 1;
            (mantissa, fraction_len) = self.digits_onto(mantissa);
            digits += fraction_len;
        }
        if digits == 0 {
            return None;
        }
        if digits > 15 {
            return values::parse_decimal(&self.buf[start..self.at]);
        }
        // Through `i64` (exact: below 10^15), which converts in one
        // instruction; `u64` takes five.
        Some(mantissa as i64 as f64 / POWERS_OF_TEN[fraction_len])
    }

    /// `B`/`1` or `S`/`2`.
    #[inline]
    fn side(&mut self) -> Option<(Side, &'a [u8])> {
        let side = match self.peek()? {
            b'B' | b'1' => Side::Buy,
            b'S' | b'2' => Side::Sell,
            _ => return None,
        };
        self.at += 1;
        Some((side, &self.buf[self.at - 1..self.at]))
    }

    /// The end of the line's content: where the next line starts, or
    /// `None` when more bytes follow on this line. A `\r` before the `\n`
    /// (or before the end of the buffer) is the terminator's, as
    /// [`super::lines`] has it.
    #[inline(always)]
    fn line_end(&self) -> Option<usize> {
        match self.buf.get(self.at..) {
            Some([]) => Some(self.at),
            Some([b'\n', ..]) => Some(self.at + 1),
            Some([b'\r']) => Some(self.at + 1),
            Some([b'\r', b'\n', ..]) => Some(self.at + 2),
            _ => None,
        }
    }

    /// At the end of the last field: the content ends here.
    #[inline]
    fn at_line_end(&self) -> bool {
        self.line_end().is_some()
    }
}

/// The first two fields of the line at `buf[start..]` (the date and the
/// security code under the spec's header), as written, and where the next
/// field starts; `None` when the line has no two such fields.
pub fn key_fields(buf: &[u8], start: usize) -> Option<(&[u8], &[u8], usize)> {
    let mut cursor = Cursor { buf, at: start };
    let date = cursor.text()?;
    let security_code = cursor.text()?;
    Some((date, security_code, cursor.at))
}

/// Reads an order row under the spec's orders header (`order_type` last
/// when `has_order_type`) from `buf[values_start..]`, where its third
/// field starts. Returns the row and where the next line starts, or
/// `None`: ask the full parser.
#[inline]
pub fn scan_order(
    buf: &[u8],
    values_start: usize,
    has_order_type: bool,
) -> Option<(ClassifiedOrder<'_>, usize)> {
    let mut cursor = Cursor {
        buf,
        at: values_start,
    };
    let order_id = cursor.id().filter(|&id| id > 0)?;
    cursor.expect(b',')?;
    let (time_ns, time_text) = cursor.time()?;
    cursor.expect(b',')?;
    let (side, side_text) = cursor.side()?;
    cursor.expect(b',')?;
    let price = match cursor.peek()? {
        b',' => None,
        _ => Some(cursor.decimal()?),
    };
    cursor.expect(b',')?;
    let quantity = cursor.decimal().filter(|&q| q > 0.0)?;
    let order_type = if has_order_type {
        cursor.expect(b',')?;
        // Anything but `L` or `M` must be the line's end (an empty
        // field), which `line_end` below checks.
        match cursor.peek() {
            Some(b'L') => {
                cursor.at += 1;
                OrderType::Limit
            }
            Some(b'M') => {
                cursor.at += 1;
                OrderType::Market
            }
            _ => OrderType::Limit,
        }
    } else {
        OrderType::Limit
    };
    let next = cursor.line_end()?;
    if price.is_none() && order_type != OrderType::Market {
        return None;
    }
    Some((
        ClassifiedOrder {
            order_id,
            time_ns,
            time_text,
            side,
            side_text,
            price,
            quantity,
            order_type,
        },
        next,
    ))
}

/// Reads a trade row under the spec's trades header (`aggressor_side` last
/// when `has_aggressor_side`) from `buf[values_start..]`, where its third
/// field starts. Returns the row and where the next line starts, or
/// `None`: ask the full parser.
#[inline]
pub fn scan_trade(
    buf: &[u8],
    values_start: usize,
    has_aggressor_side: bool,
) -> Option<(ClassifiedTrade, usize)> {
    let mut cursor = Cursor {
        buf,
        at: values_start,
    };
    let trade_id = cursor.id()?;
    cursor.expect(b',')?;
    let (time_ns, _) = cursor.time()?;
    cursor.expect(b',')?;
    let price = cursor.decimal().filter(|&p| p > 0.0)?;
    cursor.expect(b',')?;
    let quantity = cursor.decimal().filter(|&q| q > 0.0)?;
    cursor.expect(b',')?;
    let buy_order_id = cursor.optional_id()?;
    cursor.expect(b',')?;
    let sell_order_id = cursor.optional_id()?;
    let aggressor_side = if has_aggressor_side {
        cursor.expect(b',')?;
        if cursor.at_line_end() {
            None
        } else {
            Some(cursor.side()?.0)
        }
    } else {
        None
    };
    let next = cursor.line_end()?;
    Some((
        ClassifiedTrade {
            trade_id,
            time_ns,
            price,
            quantity,
            buy_order_id,
            sell_order_id,
            aggressor_side,
        },
        next,
    ))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// Digit runs read by words equal the byte-at-a-time loop, for runs of
    /// every length, at every distance from the buffer's end, after any
    /// non-digit byte (all 256), and onto any earlier value.
    #[test]
    fn digit_runs_read_by_words_equal_the_byte_loop() {
        fn by_bytes(buf: &[u8], at: usize, mut value: u64) -> (u64, usize) {
            let mut end = at;
            while let Some(digit) = buf.get(end).map(|b| b.wrapping_sub(b'0')) {
                if digit > 9 {
                    break;
                }
                value = value.wrapping_mul(10).wrapping_add(u64::from(digit));
                end += 1;
            }
            (value, end - at)
        }
        let mut state = 77u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for run in 0..24 {
            for stop in 0..=255u8 {
                for tail in 0..10 {
                    let mut buf: Vec<u8> = (0..run).map(|_| b'0' + (next() % 10) as u8).collect();
                    buf.push(stop);
                    buf.extend((0..tail).map(|_| next() as u8));
                    let at = (next() % 2) as usize;
                    let buf = [&b"7"[..at], &buf].concat();
                    for cut in [buf.len(), (at + run + 1).min(buf.len()), at + run / 2] {
                        let buf = &buf[..cut.max(at)];
                        let mut cursor = Cursor { buf, at };
                        let fast = cursor.long_digits();
                        assert_eq!(fast, by_bytes(buf, at, 0), "{buf:?}");
                        assert_eq!(cursor.at, at + fast.1);
                    }
                }
            }
        }
    }
    use crate::format::{FieldBuf, FileKind, Layout};

    /// Every one-byte edit (replace, insert, delete) of `row`, over an
    /// alphabet that reaches every rule.
    fn edits(row: &str) -> Vec<Vec<u8>> {
        crate::format::one_byte_edits(row.as_bytes(), b"0195.,:-\"BSLM12x \r\n")
    }

    /// Runs `check(layout, buffer, content)` on every edit of every row,
    /// followed by each terminator and by none (`content` is the first
    /// line of the buffer as [`crate::format::lines`] cuts it).
    fn for_each_line(
        kind: FileKind,
        header: &str,
        rows: &[&str],
        mut check: impl FnMut(&Layout, &[u8], &[u8]),
    ) {
        let layout = Layout::from_header(kind, header.as_bytes(), Path::new("t.csv")).unwrap();
        assert!(layout.in_spec_order());
        for row in rows {
            for line in edits(row) {
                for terminator in [&b""[..], b"\n", b"\r\n", b"\nnext"] {
                    let mut buffer = line.clone();
                    buffer.extend_from_slice(terminator);
                    let (_, content) = crate::format::lines(&buffer).next().unwrap_or((1, b""));
                    check(&layout, &buffer, content);
                }
            }
        }
    }

    /// A line the readers may leave to the full parser though it is
    /// valid: one with a quote or a 20-digit id.
    fn left_to_full_parse(content: &[u8]) -> bool {
        content.contains(&b'"')
            || content
                .split(|b| !b.is_ascii_digit())
                .any(|digits| digits.len() >= 20)
    }

    /// Where the line of `content` ends in `buffer` (past its terminator).
    fn next_line(buffer: &[u8], content: &[u8]) -> usize {
        memchr::memchr(b'\n', buffer)
            .map_or(buffer.len(), |at| at + 1)
            .max(content.len())
    }

    #[test]
    fn orders_are_read_as_the_full_parse_reads_them() {
        let mut scratch = FieldBuf::default();
        let mut read = 0;
        for (header, rows) in [
            (
                "date,security_code,order_id,time,side,price,quantity,order_type",
                &[
                    "2024-09-05,600519.SH,17,09:30:00.120,B,1801.01,200,L",
                    "20240905,A,1,23:59:59,S,,0.5,M",
                    "2024-09-05,A,18446744073709551615,00:00:00.000000001,1,0,1.,",
                ][..],
            ),
            (
                "date,security_code,order_id,time,side,price,quantity",
                &["2024-09-05,600519,17,09:30:00.5,2,.5,200"][..],
            ),
        ] {
            for_each_line(FileKind::Orders, header, rows, |layout, buffer, content| {
                let full = layout.parse_order(content, &mut scratch);
                let fast = key_fields(buffer, 0).and_then(|(date, code, values_start)| {
                    let key_valid =
                        values::parse_date(date).is_some() && values::is_valid_security_code(code);
                    scan_order(buffer, values_start, layout.has_order_type())
                        .map(|row| (key_valid, row))
                });
                let shown = String::from_utf8_lossy(buffer);
                let Some((key_valid, (row, next))) = fast else {
                    assert!(full.is_err() || left_to_full_parse(content), "{shown:?}");
                    return;
                };
                assert_eq!(key_valid, full.is_ok(), "{shown:?}");
                let Ok(full) = full else { return };
                read += 1;
                assert_eq!(next, next_line(buffer, content), "{shown:?}");
                let expected = ClassifiedOrder {
                    order_id: full.order_id,
                    time_ns: full.time_ns,
                    time_text: full.time_text,
                    side: full.side,
                    side_text: full.side_text,
                    price: full.price,
                    quantity: full.quantity,
                    order_type: full.order_type,
                };
                assert_eq!(row, expected, "{shown:?}");
            });
        }
        assert!(read > 1_000, "{read}");
    }

    #[test]
    fn trades_are_read_as_the_full_parse_reads_them() {
        let mut scratch = FieldBuf::default();
        let mut read = 0;
        for (header, rows) in [
            (
                "date,security_code,trade_id,time,price,quantity,buy_order_id,sell_order_id,aggressor_side",
                &[
                    "2024-09-05,600519,0,09:30:00.5,12.5,100,3,,B",
                    "2024-09-05,600519,18446744073709551615,09:30:00,0.01,7,0,18,",
                ][..],
            ),
            (
                "date,security_code,trade_id,time,price,quantity,buy_order_id,sell_order_id",
                &[
                    "2024-09-05,600519,12,09:30:00.5,12.5,100,3,",
                    "2024-09-05,X,1,10:00:00,1.25,3,,",
                ][..],
            ),
        ] {
            for_each_line(FileKind::Trades, header, rows, |layout, buffer, content| {
                let full = layout.parse_trade(content, &mut scratch);
                let fast = key_fields(buffer, 0).and_then(|(date, code, values_start)| {
                    let key_valid =
                        values::parse_date(date).is_some() && values::is_valid_security_code(code);
                    scan_trade(buffer, values_start, layout.has_aggressor_side())
                        .map(|row| (key_valid, row))
                });
                let shown = String::from_utf8_lossy(buffer);
                let Some((key_valid, (row, next))) = fast else {
                    assert!(full.is_err() || left_to_full_parse(content), "{shown:?}");
                    return;
                };
                assert_eq!(key_valid, full.is_ok(), "{shown:?}");
                let Ok(full) = full else { return };
                read += 1;
                assert_eq!(next, next_line(buffer, content), "{shown:?}");
                let expected = ClassifiedTrade {
                    trade_id: full.trade_id,
                    time_ns: full.time_ns,
                    price: full.price,
                    quantity: full.quantity,
                    buy_order_id: full.buy_order_id,
                    sell_order_id: full.sell_order_id,
                    aggressor_side: full.aggressor_side,
                };
                assert_eq!(row, expected, "{shown:?}");
            });
        }
        assert!(read > 1_000, "{read}");
    }
}

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

/// `HH:MM:SS` (hours to 23, minutes and seconds to 59) in eight bytes read
/// little-endian (the first byte lowest), as seconds since midnight.
///
/// All eight bytes are checked at once: the colons must equal `:` exactly,
/// and with `0` put in their place every byte must be a digit, which the
/// flags of [`digit_run`] tell (any invalid byte flags at least the lowest
/// invalid one). Subtracting `0` then leaves each digit in its byte;
/// `10·x + (x >> 8)` puts each pair's value in the byte of its tens.
#[inline(always)]
fn clock_seconds(word: u64) -> Option<u64> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const PATTERN: u64 = u64::from_le_bytes(*b"00:00:00");
    const COLONS: u64 = 0x0000_FF00_00FF_0000;
    if (word ^ PATTERN) & COLONS != 0 {
        return None;
    }
    let digits = (word & !COLONS) | ((ONES * u64::from(b'0')) & COLONS);
    let values = digits.wrapping_sub(ONES * u64::from(b'0'));
    if (digits.wrapping_add(ONES * 0x46) | values) & (ONES * 0x80) != 0 {
        return None;
    }
    let pairs = values * 10 + (values >> 8);
    let (hours, minutes, seconds) = (pairs & 0xFF, (pairs >> 24) & 0xFF, (pairs >> 48) & 0xFF);
    if hours > 23 || minutes > 59 || seconds > 59 {
        return None;
    }
    Some(hours * 3600 + minutes * 60 + seconds)
}

/// A position in the file's bytes, for the key fields (read once per file).
struct Cursor<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    /// A field taken as text: the bytes up to the next comma, which is
    /// stepped over. Fails at a line end, the buffer's end, or past 32
    /// bytes (no valid date or code is longer).
    fn text(&mut self) -> Option<&'a [u8]> {
        let start = self.at;
        loop {
            match *self.buf.get(self.at)? {
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
}

/// Positions in a [`Window`] whose bytes a row's values are read from.
/// A power of two: a position is reduced modulo it, which is one `and`
/// where a bounds check is a load, a compare and a branch.
const WINDOW: usize = 128;
/// A window's bytes: its positions and the seven more that a word read at
/// the last one reaches.
const WINDOW_BYTES: usize = WINDOW + 8;
/// The furthest a row's content may reach in its window (else the full
/// parser reads it): up to here every read, a word at most, lies inside
/// the window's positions, so no position was reduced.
const LAST_POSITION: usize = WINDOW - 8;

/// The bytes of a row from its third field on, read without a bounds check
/// per byte: a fixed-size window, each position reduced modulo [`WINDOW`]
/// before it is read. A reduced position reads a wrong byte only past
/// [`LAST_POSITION`], and the readers refuse a row that reaches there
/// (positions only grow), so what they accept was read as written.
///
/// Near the end of the file the window is a copy, padded with zero bytes
/// (read as no digit, no separator, no line end); `end` then marks where
/// the file's bytes stop, as the end of the buffer does for
/// [`super::lines`].
struct Window<'w> {
    bytes: &'w [u8; WINDOW_BYTES],
    /// Where the file ends in the window; never reached when it goes on.
    end: usize,
    /// The position reached.
    at: usize,
}

impl<'w> Window<'w> {
    /// The window of file bytes that go on past it.
    #[inline(always)]
    fn of(bytes: &'w [u8; WINDOW_BYTES]) -> Window<'w> {
        Window {
            bytes,
            end: usize::MAX,
            at: 0,
        }
    }

    /// A padded window whose file bytes stop at `end`.
    fn at_end(bytes: &'w [u8; WINDOW_BYTES], end: usize) -> Window<'w> {
        Window { bytes, end, at: 0 }
    }

    /// The byte at position `at`.
    #[inline(always)]
    fn byte(&self, at: usize) -> u8 {
        self.bytes[at % WINDOW]
    }

    #[inline(always)]
    fn peek(&self) -> u8 {
        self.byte(self.at)
    }

    /// Eight bytes from position `at`, the first in the lowest byte.
    #[inline(always)]
    fn word(&self, at: usize) -> u64 {
        // Always a whole word (`WINDOW_BYTES` leaves room); the 0 is not
        // reached, and would read as no digit.
        self.bytes[at % WINDOW..]
            .first_chunk::<8>()
            .map_or(0, |chunk| u64::from_le_bytes(*chunk))
    }

    /// Steps over `byte`, or fails.
    #[inline(always)]
    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.peek() == byte).then(|| self.at += 1)
    }

    /// A run of ASCII digits appended to the digits of `value`: the value
    /// of them all (exact up to 19 digits in all) and the run's length.
    /// Stops past [`LAST_POSITION`], where the row is refused anyway.
    #[inline(always)]
    fn digits_onto(&mut self, mut value: u64) -> (u64, usize) {
        let start = self.at;
        while self.at <= LAST_POSITION {
            let digit = self.peek().wrapping_sub(b'0');
            if digit > 9 {
                break;
            }
            value = value.wrapping_mul(10).wrapping_add(u64::from(digit));
            self.at += 1;
        }
        (value, self.at - start)
    }

    /// [`Window::digits_onto`] for runs that are usually long (ids, a
    /// time's fraction): eight bytes looked at in one word — where the run
    /// ends and the value of its digits, each in a few instructions instead
    /// of a step per digit. The byte loop continues a longer run. (Prices
    /// and quantities, runs of one to four digits, are no faster this way.)
    #[inline(always)]
    fn long_digits(&mut self) -> (u64, usize) {
        let (run, value) = digit_run(self.word(self.at));
        self.at += run;
        if run < 8 {
            return (value, run);
        }
        let (value, more) = self.digits_onto(value);
        (value, run + more)
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
            b',' | b'\n' | b'\r' => Some(0),
            _ if self.at == self.end => Some(0),
            _ => self.id(),
        }
    }

    /// `HH:MM:SS` with an optional `.` and 1–9 digits, as
    /// [`values::parse_time_ns`] reads it: nanoseconds, and where its text
    /// starts (it ends where the window now is).
    #[inline(always)]
    fn time(&mut self) -> Option<(u64, usize)> {
        let start = self.at;
        let whole_seconds = clock_seconds(self.word(start))?;
        self.at += 8;
        let mut nanos = 0;
        if self.peek() == b'.' {
            self.at += 1;
            let (fraction, len) = self.long_digits();
            if !(1..=9).contains(&len) {
                return None;
            }
            nanos = fraction * NANOS_PER_UNIT[len];
        }
        Some((whole_seconds * 1_000_000_000 + nanos, start))
    }

    /// A decimal `[0-9]+(\.[0-9]*)?` or `\.[0-9]+`, as
    /// [`values::parse_decimal`] reads it: up to 15 digits its fast path
    /// (the same quotient), beyond that the function itself.
    #[inline(always)]
    fn decimal(&mut self) -> Option<f64> {
        let start = self.at;
        let (mut mantissa, mut digits) = self.digits_onto(0);
        let mut fraction_len = 0;
        if self.peek() == b'.' {
            self.at += 1;
            (mantissa, fraction_len) = self.digits_onto(mantissa);
            digits += fraction_len;
        }
        if digits == 0 {
            return None;
        }
        if digits > 15 {
            // The text is the window's bytes as they are up to
            // `LAST_POSITION`; a row reaching further is refused.
            return values::parse_decimal(self.bytes.get(start..self.at.min(LAST_POSITION))?);
        }
        // Through `i64` (exact: below 10^15), which converts in one
        // instruction; `u64` takes five.
        let value = mantissa as i64 as f64;
        Some(if fraction_len == 0 {
            value
        } else {
            value / POWERS_OF_TEN[fraction_len]
        })
    }

    /// `B`/`1` or `S`/`2`, and the byte as written.
    #[inline(always)]
    fn side(&mut self) -> Option<(Side, u8)> {
        let byte = self.peek();
        let side = match byte {
            b'B' | b'1' => Side::Buy,
            b'S' | b'2' => Side::Sell,
            _ => return None,
        };
        self.at += 1;
        Some((side, byte))
    }

    /// At the end of the row's last field: where the next line starts, or
    /// `None` when more bytes follow on this line or the row reached past
    /// [`LAST_POSITION`]. A `\r` before the `\n` (or before the end of the
    /// file) is the terminator's, as [`super::lines`] has it.
    #[inline(always)]
    fn line_end(&self) -> Option<usize> {
        let at = self.at;
        if at > LAST_POSITION {
            return None;
        }
        if at == self.end {
            return Some(at);
        }
        match (self.byte(at), self.byte(at + 1)) {
            (b'\n', _) => Some(at + 1),
            (b'\r', b'\n') => Some(at + 2),
            (b'\r', _) if at + 1 == self.end => Some(at + 1),
            _ => None,
        }
    }
}

/// The file's last bytes `rest`, fewer than [`WINDOW_BYTES`], padded with
/// zero bytes to a window; `None` for more.
fn padded(rest: &[u8]) -> Option<[u8; WINDOW_BYTES]> {
    let mut bytes = [0; WINDOW_BYTES];
    bytes.get_mut(..rest.len())?.copy_from_slice(rest);
    Some(bytes)
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

/// An order row as read in its window: the values, with positions in the
/// window for the text the caller takes from the file.
struct OrderInWindow {
    order_id: u64,
    time_ns: u64,
    time_text: (usize, usize),
    side: Side,
    side_text: u8,
    price: Option<f64>,
    quantity: f64,
    order_type: OrderType,
    next: usize,
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
    // The file's own bytes when a window of them follows, else a padded
    // copy (out of line: once per file).
    let rest = buf.get(values_start..)?;
    let row = match rest.first_chunk::<WINDOW_BYTES>() {
        Some(bytes) => read_order(&mut Window::of(bytes), has_order_type),
        None => read_order_at_end(rest, has_order_type),
    }?;
    let text = |from: usize, to: usize| buf.get(values_start + from..values_start + to);
    Some((
        ClassifiedOrder {
            order_id: row.order_id,
            time_ns: row.time_ns,
            time_text: text(row.time_text.0, row.time_text.1)?,
            side: row.side,
            side_text: row.side_text,
            price: row.price,
            quantity: row.quantity,
            order_type: row.order_type,
        },
        values_start + row.next,
    ))
}

/// [`read_order`] in a padded window of the file's last bytes.
#[cold]
#[inline(never)]
fn read_order_at_end(rest: &[u8], has_order_type: bool) -> Option<OrderInWindow> {
    read_order(
        &mut Window::at_end(&padded(rest)?, rest.len()),
        has_order_type,
    )
}

/// [`scan_order`] in the row's window.
#[inline(always)]
fn read_order(window: &mut Window<'_>, has_order_type: bool) -> Option<OrderInWindow> {
    let order_id = window.id().filter(|&id| id > 0)?;
    window.expect(b',')?;
    let (time_ns, time_start) = window.time()?;
    let time_text = (time_start, window.at);
    window.expect(b',')?;
    let (side, side_text) = window.side()?;
    window.expect(b',')?;
    let price = match window.peek() {
        b',' => None,
        _ => Some(window.decimal()?),
    };
    window.expect(b',')?;
    let quantity = window.decimal().filter(|&q| q > 0.0)?;
    let order_type = if has_order_type {
        window.expect(b',')?;
        // Anything but `L` or `M` must be the line's end (an empty
        // field), which `line_end` below checks.
        match window.peek() {
            b'L' => {
                window.at += 1;
                OrderType::Limit
            }
            b'M' => {
                window.at += 1;
                OrderType::Market
            }
            _ => OrderType::Limit,
        }
    } else {
        OrderType::Limit
    };
    let next = window.line_end()?;
    if price.is_none() && order_type != OrderType::Market {
        return None;
    }
    Some(OrderInWindow {
        order_id,
        time_ns,
        time_text,
        side,
        side_text,
        price,
        quantity,
        order_type,
        next,
    })
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
    // As in `scan_order`.
    let rest = buf.get(values_start..)?;
    let (row, next) = match rest.first_chunk::<WINDOW_BYTES>() {
        Some(bytes) => read_trade(&mut Window::of(bytes), has_aggressor_side),
        None => read_trade_at_end(rest, has_aggressor_side),
    }?;
    Some((row, values_start + next))
}

/// [`read_trade`] in a padded window of the file's last bytes.
#[cold]
#[inline(never)]
fn read_trade_at_end(rest: &[u8], has_aggressor_side: bool) -> Option<(ClassifiedTrade, usize)> {
    read_trade(
        &mut Window::at_end(&padded(rest)?, rest.len()),
        has_aggressor_side,
    )
}

/// [`scan_trade`] in the row's window.
#[inline(always)]
fn read_trade(
    window: &mut Window<'_>,
    has_aggressor_side: bool,
) -> Option<(ClassifiedTrade, usize)> {
    let trade_id = window.id()?;
    window.expect(b',')?;
    let (time_ns, _) = window.time()?;
    window.expect(b',')?;
    let price = window.decimal().filter(|&p| p > 0.0)?;
    window.expect(b',')?;
    let quantity = window.decimal().filter(|&q| q > 0.0)?;
    window.expect(b',')?;
    let buy_order_id = window.optional_id()?;
    window.expect(b',')?;
    let sell_order_id = window.optional_id()?;
    let aggressor_side = if has_aggressor_side {
        window.expect(b',')?;
        // No side is an empty field; `line_end` below checks that it is.
        window.side().map(|(side, _)| side)
    } else {
        None
    };
    let next = window.line_end()?;
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
        let mut next = crate::test_support::xorshift(77u64);
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
                        // At the file's end (a padded window), and with a
                        // window of other bytes after it.
                        let followed = [buf, &[b'x'; WINDOW_BYTES]].concat();
                        for buf in [buf, &followed] {
                            let rest = &buf[at..];
                            let bytes = match rest.first_chunk::<WINDOW_BYTES>() {
                                Some(bytes) => *bytes,
                                None => padded(rest).unwrap(),
                            };
                            let mut window = Window::at_end(&bytes, rest.len());
                            let fast = window.long_digits();
                            let end = window.at;
                            assert_eq!(fast, by_bytes(buf, at, 0), "{buf:?}");
                            assert_eq!(end, fast.1);
                        }
                    }
                }
            }
        }
    }
    /// Clock times read by words equal the byte-at-a-time reading, on
    /// every valid time, each with every byte replaced by an alphabet of
    /// near misses, and on random words.
    #[test]
    fn clock_times_read_by_words_equal_the_byte_reading() {
        fn by_bytes(word: u64) -> Option<u64> {
            let [h1, h2, c1, m1, m2, c2, s1, s2] = word.to_le_bytes();
            let two = |tens: u8, units: u8| {
                let (tens, units) = (tens.wrapping_sub(b'0'), units.wrapping_sub(b'0'));
                (tens <= 9 && units <= 9).then_some(u64::from(tens) * 10 + u64::from(units))
            };
            let (hours, minutes, seconds) = (two(h1, h2)?, two(m1, m2)?, two(s1, s2)?);
            if c1 != b':' || c2 != b':' || hours > 23 || minutes > 59 || seconds > 59 {
                return None;
            }
            Some(hours * 3600 + minutes * 60 + seconds)
        }
        let alphabet = b"0123456789:;/.,- \x00\x7f\x80\xff\xba\xc6";
        let mut checked = 0;
        for second in (0..100 * 3600).step_by(7) {
            let text = format!(
                "{:02}:{:02}:{:02}",
                second / 3600,
                second / 60 % 60,
                second % 60
            );
            let word = u64::from_le_bytes(*text.as_bytes().first_chunk().unwrap());
            assert_eq!(clock_seconds(word), by_bytes(word), "{text}");
            for at in 0..8 {
                for &byte in alphabet {
                    let mut bytes = word.to_le_bytes();
                    bytes[at] = byte;
                    let word = u64::from_le_bytes(bytes);
                    assert_eq!(clock_seconds(word), by_bytes(word), "{bytes:?}");
                    checked += 1;
                }
            }
        }
        let mut next = crate::test_support::xorshift(5);
        for _ in 0..1_000_000 {
            let word = next();
            assert_eq!(clock_seconds(word), by_bytes(word), "{word:x}");
        }
        assert!(checked > 1_000_000);
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
                // Lines at the file's end (a padded window) and lines a
                // whole window of bytes follows (the file's own bytes).
                let long_tail = [&b"\n"[..], &[b'7'; WINDOW_BYTES]].concat();
                let long_tail_crlf = [&b"\r\n"[..], &[b','; WINDOW_BYTES]].concat();
                for terminator in [
                    &b""[..],
                    b"\n",
                    b"\r\n",
                    b"\nnext",
                    &long_tail,
                    &long_tail_crlf,
                ] {
                    let mut buffer = line.clone();
                    buffer.extend_from_slice(terminator);
                    let (_, content) = crate::format::lines(&buffer).next().unwrap_or((1, b""));
                    check(&layout, &buffer, content);
                }
            }
        }
    }

    /// A line the readers may leave to the full parser though it is
    /// valid: one with a quote or a 20-digit id, or longer than a window.
    fn left_to_full_parse(content: &[u8]) -> bool {
        content.len() > LAST_POSITION
            || content.contains(&b'"')
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

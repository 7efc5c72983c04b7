//! Order and trade rows as CSV bytes (SPEC §2), and the buffers that hold them.
//!
//! Owns the column layout of the generated files and the number formatting.
//! Rows are formatted by hand straight into their buffer, because the
//! generator writes billions of them and `format!` per field would cost more
//! than the simulation. It does not decide what the rows say (the
//! simulation) nor their order in the files (the merge).

use super::book::Side;

/// Header of the generated orders file.
pub const ORDERS_HEADER: &[u8] =
    b"date,security_code,order_id,time,side,price,quantity,order_type\n";
/// Header of the generated trades file without the aggressor column.
pub const TRADES_HEADER: &[u8] =
    b"date,security_code,trade_id,time,price,quantity,buy_order_id,sell_order_id\n";
/// Header of the generated trades file with the aggressor column.
pub const TRADES_HEADER_WITH_AGGRESSOR: &[u8] =
    b"date,security_code,trade_id,time,price,quantity,buy_order_id,sell_order_id,aggressor_side\n";

/// Room the formatter reserves for one row, including the fixed-size copies
/// that may run past a field's end. The longest real row (20-digit ids, a
/// 10-digit code) is under 140 bytes.
const ROW_ROOM: usize = 256;

/// Bytes of initialised storage that follow the last row of a
/// [`RowBuffer`]: a row starts with `ROW_ROOM` bytes free and is shorter
/// than `ROW_ROOM - SLACK_AFTER_ROWS`.
pub const SLACK_AFTER_ROWS: usize = 64;

/// Rows of one security in time order, with each row's merge key.
///
/// Invariants: `ends.len() == keys.len()`; row `i` is
/// `storage[ends[i - 1]..ends[i]]` (from 0 for the first) and ends with
/// `\n`; `keys` never decrease; `storage` is initialised memory at least
/// [`SLACK_AFTER_ROWS`] bytes longer than the rows (when there are rows), so
/// readers may copy fixed-size chunks past the end of a row.
#[derive(Debug, Default)]
pub struct RowBuffer {
    storage: Vec<u8>,
    /// End offset of each row in `storage`.
    pub ends: Vec<u32>,
    /// Merge key of each row (see the merge).
    pub keys: Vec<u64>,
}

impl RowBuffer {
    /// Forgets the rows, keeping the allocations.
    pub fn clear(&mut self) {
        self.ends.clear();
        self.keys.clear();
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.ends.len()
    }

    /// The rows, back to back.
    pub fn bytes(&self) -> &[u8] {
        &self.storage[..self.len()]
    }

    /// The rows followed by at least [`SLACK_AFTER_ROWS`] bytes of slack
    /// (when there are rows).
    pub fn bytes_with_slack(&self) -> &[u8] {
        &self.storage
    }

    fn len(&self) -> usize {
        self.ends.last().map_or(0, |&end| end as usize)
    }

    /// Starts a row at the end of the buffer, making room for it first.
    fn begin_row(&mut self) -> RowWriter<'_> {
        let at = self.len();
        if self.storage.len() < at + ROW_ROOM {
            // Grow geometrically; zero-filling once is the price of writing
            // in place without `unsafe`.
            let wanted = (2 * self.storage.len()).max(at + ROW_ROOM);
            self.storage.resize(wanted, 0);
        }
        RowWriter { buffer: self, at }
    }

    /// Appends `text` (without its newline) as a row under `key`: for tests
    /// of code that consumes rows.
    #[cfg(test)]
    pub fn push_text(&mut self, text: &[u8], key: u64) {
        let mut row = self.begin_row();
        for &byte in text {
            row.put(&[byte]);
        }
        row.finish(key);
    }
}

/// Writes one row in place at the end of a [`RowBuffer`]. Every field is a
/// copy of a known size or digits stored directly, so formatting a row makes
/// no calls to `memcpy`: at tens of millions of rows a second those calls
/// would cost more than the formatting.
struct RowWriter<'a> {
    buffer: &'a mut RowBuffer,
    /// Where the next byte goes.
    at: usize,
}

impl RowWriter<'_> {
    fn put<const N: usize>(&mut self, bytes: &[u8; N]) {
        self.buffer.storage[self.at..self.at + N].copy_from_slice(bytes);
        self.at += N;
    }

    fn put_prefix(&mut self, prefix: &RowPrefix) {
        // The whole array is copied, then the cursor moves by its length.
        self.buffer.storage[self.at..self.at + PREFIX_ROOM].copy_from_slice(&prefix.bytes);
        self.at += usize::from(prefix.len);
    }

    /// The decimal digits of `value`, stored from the last one backwards.
    fn put_u64(&mut self, mut value: u64) {
        let digits = value.checked_ilog10().map_or(1, |log| log as usize + 1);
        let out = &mut self.buffer.storage[self.at..self.at + digits];
        let mut end = digits;
        while value >= 100 {
            out[end - 2..end].copy_from_slice(two_digits((value % 100) as u32));
            value /= 100;
            end -= 2;
        }
        if value >= 10 {
            out[..2].copy_from_slice(two_digits(value as u32));
        } else {
            out[0] = b'0' + value as u8;
        }
        self.at += digits;
    }

    /// A price of `tick` hundredths as `units.hundredths` (`10.23`).
    fn put_price(&mut self, tick: u32) {
        self.put_u64(u64::from(tick / 100));
        let cents = (tick % 100) as usize * 2;
        self.put(&[b'.', DIGIT_PAIRS[cents], DIGIT_PAIRS[cents + 1]]);
    }

    /// Ends the row with a newline; it sorts under `key`.
    fn finish(mut self, key: u64) {
        self.put(b"\n");
        let buffer = self.buffer;
        debug_assert!(buffer.keys.last().is_none_or(|&last| last <= key));
        debug_assert!(self.at + SLACK_AFTER_ROWS <= buffer.storage.len());
        buffer.ends.push(self.at as u32);
        buffer.keys.push(key);
    }
}

/// Room for `date,security_code,`: a 10-byte date, a code of up to 10
/// digits, two commas.
const PREFIX_ROOM: usize = 32;

/// The `date,security_code,` that starts every row of a partition, kept in a
/// fixed array so it is copied without a length-dependent `memcpy`.
#[derive(Clone, Copy, Debug)]
pub struct RowPrefix {
    bytes: [u8; PREFIX_ROOM],
    len: u8,
}

impl RowPrefix {
    /// The prefix of `date` (`YYYY-MM-DD`) and a numeric security code.
    pub fn new(date: &[u8; 10], security_code: u64) -> RowPrefix {
        let text = format!("{},{security_code},", String::from_utf8_lossy(date));
        let mut bytes = [0; PREFIX_ROOM];
        bytes[..text.len()].copy_from_slice(text.as_bytes());
        RowPrefix {
            bytes,
            len: text.len() as u8,
        }
    }
}

/// A time of day formatted once as `HH:MM:SS.ffffff`, shared by an order and
/// the trades it causes.
pub type TimeText = [u8; 15];

/// `HH:MM:SS.ffffff` of a time in microseconds since midnight.
pub fn time_text(micros_since_midnight: u64) -> TimeText {
    let seconds = micros_since_midnight / 1_000_000;
    let micros = (micros_since_midnight % 1_000_000) as u32;
    let mut text = *b"00:00:00.000000";
    text[0..2].copy_from_slice(two_digits((seconds / 3600) as u32));
    text[3..5].copy_from_slice(two_digits((seconds / 60 % 60) as u32));
    text[6..8].copy_from_slice(two_digits((seconds % 60) as u32));
    text[9..11].copy_from_slice(two_digits(micros / 10_000));
    text[11..13].copy_from_slice(two_digits(micros / 100 % 100));
    text[13..15].copy_from_slice(two_digits(micros % 100));
    text
}

/// Appends an orders row. `limit_tick` is `None` for a market order (empty
/// price, type `M`).
#[allow(clippy::too_many_arguments)] // one argument per column
pub fn push_order(
    out: &mut RowBuffer,
    key: u64,
    prefix: &RowPrefix,
    order_id: u64,
    time: &TimeText,
    side: Side,
    limit_tick: Option<u32>,
    quantity: u64,
) {
    let mut row = out.begin_row();
    row.put_prefix(prefix);
    row.put_u64(order_id);
    row.put(b",");
    row.put(time);
    row.put(match side {
        Side::Buy => b",B,",
        Side::Sell => b",S,",
    });
    if let Some(tick) = limit_tick {
        row.put_price(tick);
    }
    row.put(b",");
    row.put_u64(quantity);
    row.put(if limit_tick.is_some() { b",L" } else { b",M" });
    row.finish(key);
}

/// Appends a trades row. `aggressor` is `Some(taker side)` when the file has
/// the `aggressor_side` column.
#[allow(clippy::too_many_arguments)] // one argument per column
pub fn push_trade(
    out: &mut RowBuffer,
    key: u64,
    prefix: &RowPrefix,
    trade_id: u64,
    time: &TimeText,
    tick: u32,
    quantity: u64,
    buy_order_id: u64,
    sell_order_id: u64,
    aggressor: Option<Side>,
) {
    let mut row = out.begin_row();
    row.put_prefix(prefix);
    row.put_u64(trade_id);
    row.put(b",");
    row.put(time);
    row.put(b",");
    row.put_price(tick);
    row.put(b",");
    row.put_u64(quantity);
    row.put(b",");
    row.put_u64(buy_order_id);
    row.put(b",");
    row.put_u64(sell_order_id);
    match aggressor {
        Some(Side::Buy) => row.put(b",B"),
        Some(Side::Sell) => row.put(b",S"),
        None => {}
    }
    row.finish(key);
}

/// `00` to `99`, for writing two digits at a time.
const DIGIT_PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

fn two_digits(value: u32) -> &'static [u8] {
    let index = value as usize * 2;
    &DIGIT_PAIRS[index..index + 2]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: &[u8]) -> &str {
        std::str::from_utf8(bytes).unwrap()
    }

    #[test]
    fn integers_match_std() {
        let mut buffer = RowBuffer::default();
        let values = [
            0,
            7,
            9,
            10,
            99,
            100,
            101,
            999,
            1000,
            12_345,
            4_294_967_296,
            u64::MAX,
        ];
        for value in values {
            let mut row = buffer.begin_row();
            row.put_u64(value);
            row.finish(0);
        }
        let expected: String = values.iter().map(|value| format!("{value}\n")).collect();
        assert_eq!(text(buffer.bytes()), expected);
    }

    #[test]
    fn prices_have_two_decimals() {
        let mut buffer = RowBuffer::default();
        for tick in [1, 1023, 100, 123_456] {
            let mut row = buffer.begin_row();
            row.put_price(tick);
            row.finish(0);
        }
        assert_eq!(text(buffer.bytes()), "0.01\n10.23\n1.00\n1234.56\n");
    }

    #[test]
    fn times_have_microseconds() {
        let micros = ((9 * 3600 + 30 * 60 + 5) * 1_000_000) + 42;
        assert_eq!(text(&time_text(micros)), "09:30:05.000042");
        assert_eq!(
            text(&time_text(15 * 3600 * 1_000_000 - 1)),
            "14:59:59.999999"
        );
    }

    #[test]
    fn rows_follow_the_headers() {
        let prefix = RowPrefix::new(b"2024-01-02", 600_000);
        let mut orders = RowBuffer::default();
        let time = time_text(((13 * 3600) * 1_000_000) + 500_000);
        push_order(
            &mut orders,
            1,
            &prefix,
            17,
            &time,
            Side::Buy,
            Some(1023),
            300,
        );
        push_order(&mut orders, 2, &prefix, 18, &time, Side::Sell, None, 1_000);
        assert_eq!(
            text(orders.bytes()),
            "2024-01-02,600000,17,13:00:00.500000,B,10.23,300,L\n\
             2024-01-02,600000,18,13:00:00.500000,S,,1000,M\n"
        );
        assert_eq!(orders.ends, vec![51, 98]);
        assert_eq!(orders.keys, vec![1, 2]);

        let mut trades = RowBuffer::default();
        push_trade(&mut trades, 1, &prefix, 3, &time, 1023, 200, 17, 18, None);
        push_trade(
            &mut trades,
            1,
            &prefix,
            4,
            &time,
            1022,
            100,
            16,
            18,
            Some(Side::Sell),
        );
        assert_eq!(
            text(trades.bytes()),
            "2024-01-02,600000,3,13:00:00.500000,10.23,200,17,18\n\
             2024-01-02,600000,4,13:00:00.500000,10.22,100,16,18,S\n"
        );
    }

    #[test]
    fn cleared_buffer_is_reused_from_the_start() {
        let prefix = RowPrefix::new(b"2024-01-02", 1_234_567);
        let mut orders = RowBuffer::default();
        let time = time_text(34_200_000_000);
        for id in 0..1_000 {
            push_order(
                &mut orders,
                id,
                &prefix,
                id,
                &time,
                Side::Buy,
                Some(99),
                100,
            );
        }
        orders.clear();
        push_order(
            &mut orders,
            0,
            &prefix,
            u64::MAX,
            &time,
            Side::Sell,
            None,
            1,
        );
        assert_eq!(
            text(orders.bytes()),
            "2024-01-02,1234567,18446744073709551615,09:30:00.000000,S,,1,M\n"
        );
        assert!(orders.bytes_with_slack().len() >= orders.bytes().len() + SLACK_AFTER_ROWS);
    }
}

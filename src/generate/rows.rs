//! Order and trade rows as CSV bytes (SPEC §2), and the buffers that hold them.
//!
//! Owns the column layout of the generated files and the number formatting.
//! Numbers are formatted by hand into stack buffers, because the generator
//! writes billions of them and `format!` per field would cost more than the
//! simulation. It does not decide what the rows say (the simulation) nor
//! their order in the files (the merge).

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

/// Rows of one security in time order, with each row's merge key.
///
/// Invariants: `ends.len() == keys.len()`; row `i` is
/// `bytes[ends[i - 1]..ends[i]]` (from 0 for the first) and ends with `\n`;
/// `keys` never decrease.
#[derive(Debug, Default)]
pub struct RowBuffer {
    /// The rows, back to back.
    pub bytes: Vec<u8>,
    /// End offset of each row in `bytes`.
    pub ends: Vec<u32>,
    /// Merge key of each row (see the merge).
    pub keys: Vec<u64>,
}

impl RowBuffer {
    /// Forgets the rows, keeping the allocations.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
        self.keys.clear();
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.ends.len()
    }

    /// Ends the row being written, which sorts under `key`.
    fn finish_row(&mut self, key: u64) {
        self.bytes.push(b'\n');
        debug_assert!(self.keys.last().is_none_or(|&last| last <= key));
        self.ends.push(self.bytes.len() as u32);
        self.keys.push(key);
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

/// Appends an orders row. `prefix` is `date,security_code,`; `limit_tick` is
/// `None` for a market order (empty price, type `M`).
#[allow(clippy::too_many_arguments)] // one argument per column
pub fn push_order(
    out: &mut RowBuffer,
    key: u64,
    prefix: &[u8],
    order_id: u64,
    time: &TimeText,
    side: Side,
    limit_tick: Option<u32>,
    quantity: u64,
) {
    let bytes = &mut out.bytes;
    bytes.extend_from_slice(prefix);
    push_u64(bytes, order_id);
    bytes.push(b',');
    bytes.extend_from_slice(time);
    bytes.extend_from_slice(side_field(side));
    if let Some(tick) = limit_tick {
        push_price(bytes, tick);
    }
    bytes.push(b',');
    push_u64(bytes, quantity);
    bytes.extend_from_slice(if limit_tick.is_some() { b",L" } else { b",M" });
    out.finish_row(key);
}

/// Appends a trades row. `aggressor` is `Some(taker side)` when the file has
/// the `aggressor_side` column.
#[allow(clippy::too_many_arguments)] // one argument per column
pub fn push_trade(
    out: &mut RowBuffer,
    key: u64,
    prefix: &[u8],
    trade_id: u64,
    time: &TimeText,
    tick: u32,
    quantity: u64,
    buy_order_id: u64,
    sell_order_id: u64,
    aggressor: Option<Side>,
) {
    let bytes = &mut out.bytes;
    bytes.extend_from_slice(prefix);
    push_u64(bytes, trade_id);
    bytes.push(b',');
    bytes.extend_from_slice(time);
    bytes.push(b',');
    push_price(bytes, tick);
    bytes.push(b',');
    push_u64(bytes, quantity);
    bytes.push(b',');
    push_u64(bytes, buy_order_id);
    bytes.push(b',');
    push_u64(bytes, sell_order_id);
    if let Some(side) = aggressor {
        bytes.extend_from_slice(match side {
            Side::Buy => b",B",
            Side::Sell => b",S",
        });
    }
    out.finish_row(key);
}

/// `,B,` or `,S,`: the separator before, the side, and the separator after.
fn side_field(side: Side) -> &'static [u8; 3] {
    match side {
        Side::Buy => b",B,",
        Side::Sell => b",S,",
    }
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

/// Appends the decimal digits of `value`.
pub fn push_u64(out: &mut Vec<u8>, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    while value >= 100 {
        let pair = (value % 100) as u32;
        value /= 100;
        start -= 2;
        digits[start..start + 2].copy_from_slice(two_digits(pair));
    }
    if value >= 10 {
        start -= 2;
        digits[start..start + 2].copy_from_slice(two_digits(value as u32));
    } else {
        start -= 1;
        digits[start] = b'0' + value as u8;
    }
    out.extend_from_slice(&digits[start..]);
}

/// Appends a price of `tick` hundredths as `units.hundredths` (`10.23`).
pub fn push_price(out: &mut Vec<u8>, tick: u32) {
    push_u64(out, u64::from(tick / 100));
    out.push(b'.');
    out.extend_from_slice(two_digits(tick % 100));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: &[u8]) -> &str {
        std::str::from_utf8(bytes).unwrap()
    }

    #[test]
    fn integers_match_std() {
        for value in [
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
        ] {
            let mut out = Vec::new();
            push_u64(&mut out, value);
            assert_eq!(text(&out), value.to_string());
        }
    }

    #[test]
    fn prices_have_two_decimals() {
        for (tick, expected) in [
            (1, "0.01"),
            (1023, "10.23"),
            (100, "1.00"),
            (123_456, "1234.56"),
        ] {
            let mut out = Vec::new();
            push_price(&mut out, tick);
            assert_eq!(text(&out), expected);
        }
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
        let mut orders = RowBuffer::default();
        let time = time_text(((13 * 3600) * 1_000_000) + 500_000);
        push_order(
            &mut orders,
            1,
            b"2024-01-02,600000,",
            17,
            &time,
            Side::Buy,
            Some(1023),
            300,
        );
        push_order(
            &mut orders,
            2,
            b"2024-01-02,600000,",
            18,
            &time,
            Side::Sell,
            None,
            1_000,
        );
        assert_eq!(
            text(&orders.bytes),
            "2024-01-02,600000,17,13:00:00.500000,B,10.23,300,L\n\
             2024-01-02,600000,18,13:00:00.500000,S,,1000,M\n"
        );
        assert_eq!(orders.ends, vec![51, 98]);

        let mut trades = RowBuffer::default();
        push_trade(
            &mut trades,
            1,
            b"2024-01-02,600000,",
            3,
            &time,
            1023,
            200,
            17,
            18,
            None,
        );
        push_trade(
            &mut trades,
            1,
            b"2024-01-02,600000,",
            4,
            &time,
            1022,
            100,
            16,
            18,
            Some(Side::Sell),
        );
        assert_eq!(
            text(&trades.bytes),
            "2024-01-02,600000,3,13:00:00.500000,10.23,200,17,18\n\
             2024-01-02,600000,4,13:00:00.500000,10.22,100,16,18,S\n"
        );
    }
}

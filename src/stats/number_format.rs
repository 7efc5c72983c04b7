//! How numbers are written in the output files (SPEC §4): counts as decimal
//! integers; every other number in the shortest form that reads back as the
//! same `f64`, exactly as the `ryu` crate writes it (`1.0`, `0.1`, `1e20`,
//! `1.5e-7`); negative zero as zero; an undefined value (absent, NaN or
//! infinite) as an empty field.

/// Appends `value` to `out` as a field (no separator). `None` and non-finite
/// values append nothing: the field is empty.
pub fn push_float(out: &mut Vec<u8>, value: Option<f64>) {
    let Some(value) = value.filter(|v| v.is_finite()) else {
        return;
    };
    // -0.0 == 0.0, so this also normalises a negative zero. Zero is the
    // commonest value of all (impact, slippage, durations of one fill).
    if value == 0.0 {
        out.extend_from_slice(b"0.0");
        return;
    }
    if !push_short_decimal(out, value) {
        let mut buffer = ryu::Buffer::new();
        out.extend_from_slice(buffer.format_finite(value).as_bytes());
    }
}

/// [`push_float`] with a memory of recent texts, for a file that writes
/// the same values over and over: a partition's prices, quantities, ratios
/// and bps repeat across its detailed rows (a few thousand distinct values
/// in rows of fifteen numbers), and copying a text costs a fraction of
/// writing it, above all when `ryu` writes it.
///
/// A direct-mapped table indexed by a hash of the float's bits: a text
/// depends on the bits alone, so a remembered text is the text; a
/// collision just writes the value again and takes the slot.
pub struct FloatTexts {
    /// A fixed number of slots, so that a slot index (a hash shifted
    /// down to [`REMEMBERED_BITS`] bits) needs no bounds check.
    slots: Box<[RememberedText; 1 << REMEMBERED_BITS]>,
}

/// One slot of [`FloatTexts`]: the bits of a float and its field (`,` and
/// the text), whose length is kept in the last byte (fields of 24 bytes
/// are not remembered).
#[derive(Clone, Copy)]
struct RememberedText {
    bits: u64,
    text: [u8; TEXT_CAPACITY],
}

/// log2 of the slots of [`FloatTexts`]: 4,096 slots of 32 bytes, 128 KiB,
/// within a core's L2 cache.
const REMEMBERED_BITS: u32 = 12;

impl Default for FloatTexts {
    fn default() -> FloatTexts {
        // Every slot holds the field of its bits, at first NaN's: the
        // separator alone.
        let mut text = [0; TEXT_CAPACITY];
        text[0] = b',';
        text[TEXT_CAPACITY - 1] = 1;
        let empty = RememberedText {
            bits: f64::NAN.to_bits(),
            text,
        };
        FloatTexts {
            slots: Box::new([empty; 1 << REMEMBERED_BITS]),
        }
    }
}

impl FloatTexts {
    /// Appends a field separator and `value`: `,` then exactly what
    /// [`push_float`] writes. The separator is remembered with the text,
    /// so that a remembered field is one copy.
    #[inline]
    pub fn push_field(&mut self, out: &mut Vec<u8>, value: Option<f64>) {
        let Some(value) = value else {
            out.push(b',');
            return;
        };
        // Any float, zeros and non-finite ones included: its text (empty
        // for the latter) depends on its bits alone all the same, and one
        // lookup costs less than telling them apart first.
        let bits = value.to_bits();
        // Fibonacci hashing: the top bits of the product depend on every
        // bit of the float, the low mantissa bits of round numbers being
        // all zero.
        let slot = (bits.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - REMEMBERED_BITS)) as usize;
        let remembered = &mut self.slots[slot];
        if remembered.bits == bits {
            let len = usize::from(remembered.text[TEXT_CAPACITY - 1]);
            append(out, &remembered.text, len);
            return;
        }
        let start = out.len();
        out.push(b',');
        push_float(out, Some(value));
        let field = &out[start..];
        if let Some(room) = remembered.text.get_mut(..field.len())
            && field.len() < TEXT_CAPACITY
        {
            room.copy_from_slice(field);
            remembered.text[TEXT_CAPACITY - 1] = field.len() as u8;
            remembered.bits = bits;
        }
    }
}

/// 10^0 ..= 10^9, exact as `f64` and as `u64`.
const POWERS_OF_TEN: [u64; 10] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
];

/// Decimals of at most this many significant digits are told apart by
/// `f64` (`DBL_DIG`): two different ones never round to the same value.
const UNIQUE_DIGITS_BOUND: u64 = 1_000_000_000_000_000; // 10^15

/// Writes `value` as `ryu` would, without `ryu`, when it is a short
/// decimal: a price, a quantity, a whole ratio, a duration in ms. Returns
/// false, writing nothing, otherwise.
///
/// Why the bytes are `ryu`'s: `ryu` writes the shortest decimal that reads
/// back as `value`. Here `m / 10^k` is that decimal when (1) it reads back
/// as `value` — `m` and `10^k` are exact doubles, so the division rounds the
/// exact quotient correctly, as a parser does — and (2) `m < 10^15`: any
/// shorter decimal reading back as `value` would be a second decimal of at
/// most 15 digits rounding to the same double, which `DBL_DIG` = 15 rules
/// out. Stripping `m`'s trailing zeros gives exactly `ryu`'s digits, and for
/// values from 10^-5 to below 10^16 `ryu` writes them in plain notation:
/// integer digits, `.`, fraction digits (`.0` when there are none), a `0`
/// before the point below 1. The tests compare the two over many values.
///
/// Most of the detailed file's numbers are such decimals, and `ryu` is at
/// its slowest on them (it removes the ~17 digits of its first estimate
/// one at a time), so this halves the cost of writing floats.
fn push_short_decimal(out: &mut Vec<u8>, value: f64) -> bool {
    let magnitude = value.abs();
    // As many fraction digits as keep `m` below 10^15. One copy of the
    // writer per count, so that every division and remainder by a power of
    // ten is by a constant, which compiles to a multiplication; through a
    // table lookup they were hardware divisions, the costliest steps here.
    // Below 10^7 (nearly every value) eight fraction digits, so that the
    // integer part and the fraction are each one word of eight digits.
    if magnitude < 1e7 {
        push_eight_fraction_digits(out, value, magnitude)
    } else if magnitude < 1e11 {
        push_scaled::<4>(out, value, magnitude)
    } else if magnitude < 1e15 {
        push_scaled::<0>(out, value, magnitude)
    } else {
        false
    }
}

/// The rounded `magnitude · 10^FRACTION_DIGITS` when, divided by the same
/// power, it reads back as `magnitude` and is a decimal [`push_short_decimal`]
/// may write (below 10^15, at least 10^-5).
#[inline(always)]
fn scaled_digits<const FRACTION_DIGITS: usize>(magnitude: f64) -> Option<u64> {
    let scale = POWERS_OF_TEN[FRACTION_DIGITS];
    // Rounded to nearest (`scaled` < 2^50, so adding 0.5 is exact enough
    // and the cast truncates a non-negative number; through `i64`, which
    // converts in one instruction, `u64` does not); any integer would do,
    // the check below decides.
    let m = (magnitude * scale as f64 + 0.5) as i64 as u64;
    // Below 10^-5 `ryu` switches to an exponent: `m / 10^k` ≥ 10^-5.
    let smallest = POWERS_OF_TEN[FRACTION_DIGITS.saturating_sub(5)];
    (m < UNIQUE_DIGITS_BOUND && m >= smallest && m as f64 / scale as f64 == magnitude).then_some(m)
}

/// [`push_short_decimal`] below 10^7: eight fraction digits, so that the
/// integer part (at most seven digits) and the fraction are each turned
/// into text as one word ([`eight_digits`]), where the trailing zeros of
/// the fraction and the leading zeros of the integer part are counted by
/// one bit scan instead of a division per digit.
#[inline]
fn push_eight_fraction_digits(out: &mut Vec<u8>, value: f64, magnitude: f64) -> bool {
    let Some(m) = scaled_digits::<8>(magnitude) else {
        return false;
    };
    let (whole, fraction) = (m / 100_000_000, m % 100_000_000);
    let mut text = [0u8; TEXT_CAPACITY];
    text[0] = b'-';
    let mut len = usize::from(value < 0.0);
    let (whole_text, whole_width) = leading_digits(whole);
    text[len..len + 8].copy_from_slice(&whole_text.to_le_bytes());
    len += whole_width;
    text[len] = b'.';
    len += 1;
    // The fraction's trailing zeros are the word's top zero bytes; a zero
    // fraction is written `0`.
    let fraction = eight_digits(fraction);
    let fraction_width = (8 - fraction.leading_zeros() as usize / 8).max(1);
    text[len..len + 8].copy_from_slice(&(fraction | ASCII_ZEROS).to_le_bytes());
    len += fraction_width;
    append(out, &text, len);
    true
}

/// `b'0'` in every byte of a word: added to [`eight_digits`], the text.
const ASCII_ZEROS: u64 = 0x3030_3030_3030_3030;

/// The eight decimal digits of `value` (< 10^8, zero-padded on the left),
/// one per byte, the first digit in the lowest byte: the bytes of the text
/// in memory order once [`ASCII_ZEROS`] is added.
///
/// Divisions on every lane of the word at once (SWAR): 4 + 4 digits in two
/// 32-bit lanes, each split into 2 + 2 in 16-bit lanes by `(v · 5243) >> 19`
/// (= v / 100 for v < 10^4), each of those into 1 + 1 in bytes by
/// `(v · 103) >> 10` (= v / 10 for v < 100). No lane's product reaches the
/// next lane, and the masks drop what a shift brings down from above.
#[inline]
fn eight_digits(value: u64) -> u64 {
    let quads = (value / 10_000) | ((value % 10_000) << 32);
    let hundreds = ((quads * 5243) >> 19) & 0x0000_007F_0000_007F;
    let pairs = hundreds | ((quads - hundreds * 100) << 16);
    let tens = ((pairs * 103) >> 10) & 0x000F_000F_000F_000F;
    tens | ((pairs - tens * 10) << 8)
}

/// The text of `value` (< 10^8) without leading zeros, in the low bytes of
/// a word, and its width (1 for 0).
#[inline]
fn leading_digits(value: u64) -> (u64, usize) {
    let digits = eight_digits(value);
    // Leading zeros are the word's low zero bytes; 0 keeps its last digit.
    let zeros = if value == 0 {
        7
    } else {
        digits.trailing_zeros() as usize / 8
    };
    ((digits | ASCII_ZEROS) >> (8 * zeros), 8 - zeros)
}

/// [`push_short_decimal`] with `FRACTION_DIGITS` fraction digits (4 or 0)
/// for `magnitude` = |`value`|.
#[inline(always)]
fn push_scaled<const FRACTION_DIGITS: usize>(
    out: &mut Vec<u8>,
    value: f64,
    magnitude: f64,
) -> bool {
    let scale = POWERS_OF_TEN[FRACTION_DIGITS];
    let Some(m) = scaled_digits::<FRACTION_DIGITS>(magnitude) else {
        return false;
    };
    let mut text = [0u8; TEXT_CAPACITY];
    let mut len = 0;
    if value < 0.0 {
        text[0] = b'-';
        len = 1;
    }
    let whole = m / scale;
    let whole_width = digit_count(whole);
    write_digits(&mut text[len..len + whole_width], whole);
    len += whole_width;
    text[len] = b'.';
    len += 1;
    let mut fraction = m % scale;
    if fraction == 0 {
        text[len] = b'0';
        len += 1;
    } else {
        // At most 3 trailing zeros (0 < fraction < 10^4): strip 2 and 1
        // of them where present.
        let mut width = FRACTION_DIGITS;
        for (power, zeros) in [(100, 2), (10, 1)] {
            if zeros < FRACTION_DIGITS && fraction.is_multiple_of(power) {
                fraction /= power;
                width -= zeros;
            }
        }
        write_digits(&mut text[len..len + width], fraction);
        len += width;
    }
    append(out, &text, len);
    true
}

/// Room for any number this module writes without `ryu`: a count (20
/// digits), or a short decimal (sign, 15 digits, point, a digit).
const TEXT_CAPACITY: usize = 24;

/// Appends `text[..len]` to `out`. The whole array is copied, a fixed size
/// the compiler turns into a few moves, and the excess is cut off: cheaper
/// than a `memcpy` call for a length only known at run time, and these
/// numbers are most of what the stats files hold.
#[inline]
fn append(out: &mut Vec<u8>, text: &[u8; TEXT_CAPACITY], len: usize) {
    let old_len = out.len();
    out.extend_from_slice(text);
    out.truncate(old_len + len);
}

/// How many decimal digits `value` has (1 for 0).
#[inline]
fn digit_count(value: u64) -> usize {
    value.checked_ilog10().map_or(1, |log| log as usize + 1)
}

/// Appends a time of day as a valid time field is written, given its
/// nanoseconds since midnight (below 24 h) and how many fraction digits
/// the field had (`format::values::time_fraction_digits`): the field
/// exactly, since the format accepts only `HH:MM:SS` with an optional `.`
/// and 1–9 digits, whose digits these two determine.
#[inline]
pub fn push_time_text(out: &mut Vec<u8>, time_ns: u64, fraction_digits: u8) {
    let (seconds, nanos) = (time_ns / 1_000_000_000, time_ns % 1_000_000_000);
    let mut text = [0u8; TEXT_CAPACITY];
    for (at, value) in [
        (0, seconds / 3600),
        (3, seconds / 60 % 60),
        (6, seconds % 60),
    ] {
        write_digits(&mut text[at..at + 2], value);
    }
    text[2] = b':';
    text[5] = b':';
    text[8] = b'.';
    text[9] = b'0' + (nanos / 100_000_000) as u8;
    text[10..18].copy_from_slice(&(eight_digits(nanos % 100_000_000) | ASCII_ZEROS).to_le_bytes());
    let len = match fraction_digits.min(9) {
        0 => 8,
        digits => 9 + usize::from(digits),
    };
    append(out, &text, len);
}

/// "00" to "99": two digits per division when writing numbers.
const DIGIT_PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Writes `value` into `slots`, one digit per slot, zero-padded on the left.
#[inline]
fn write_digits(slots: &mut [u8], mut value: u64) {
    let mut end = slots.len();
    while end >= 2 {
        let pair = (value % 100) as usize * 2;
        slots[end - 2..end].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
        value /= 100;
        end -= 2;
    }
    if end == 1 {
        slots[0] = b'0' + (value % 10) as u8;
    }
}

/// Appends a count to `out` as a decimal integer.
#[inline]
pub fn push_count(out: &mut Vec<u8>, count: u64) {
    // One digit, as the fills and levels of most takers: one byte, inline.
    if count < 10 {
        out.push(b'0' + count as u8);
    } else {
        push_long_count(out, count);
    }
}

/// [`push_count`] from 10 on. Counts and ids below 10^16 (all but absurd
/// ones) are written as one or two words of eight digits
/// ([`eight_digits`]).
fn push_long_count(out: &mut Vec<u8>, count: u64) {
    let mut text = [0u8; TEXT_CAPACITY];
    let len = if count < 100_000_000 {
        let (digits, width) = leading_digits(count);
        text[..8].copy_from_slice(&digits.to_le_bytes());
        width
    } else if count < 10_000_000_000_000_000 {
        let (digits, width) = leading_digits(count / 100_000_000);
        text[..8].copy_from_slice(&digits.to_le_bytes());
        let low = eight_digits(count % 100_000_000) | ASCII_ZEROS;
        text[width..width + 8].copy_from_slice(&low.to_le_bytes());
        width + 8
    } else {
        let width = digit_count(count);
        write_digits(&mut text[..width], count);
        width
    };
    append(out, &text, len);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every valid time field is written back exactly from its nanoseconds
    /// and fraction digits.
    #[test]
    fn time_texts_are_rebuilt_from_nanoseconds_and_fraction_digits() {
        let mut next = crate::test_support::xorshift(5);
        let mut texts = vec![
            b"00:00:00".to_vec(),
            b"23:59:59.999999999".to_vec(),
            b"09:30:00.0".to_vec(),
            b"09:30:00.000000001".to_vec(),
            b"12:00:00.10".to_vec(),
        ];
        for _ in 0..20_000 {
            let digits = (next() % 10) as usize;
            let mut text =
                format!("{:02}:{:02}:{:02}", next() % 24, next() % 60, next() % 60).into_bytes();
            if digits > 0 {
                text.push(b'.');
                text.extend((0..digits).map(|_| b'0' + (next() % 10) as u8));
            }
            texts.push(text);
        }
        for text in texts {
            let ns = crate::format::values::parse_time_ns(&text).expect("a valid time");
            let mut written = Vec::new();
            push_time_text(
                &mut written,
                ns,
                crate::format::values::time_fraction_digits(&text),
            );
            assert_eq!(written, text, "{:?}", String::from_utf8_lossy(&text));
        }
    }

    fn float(v: Option<f64>) -> String {
        let mut out = Vec::new();
        push_float(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn floats_as_ryu_writes_them() {
        assert_eq!(float(Some(1.0)), "1.0");
        assert_eq!(float(Some(0.1)), "0.1");
        assert_eq!(float(Some(1e20)), "1e20");
        assert_eq!(float(Some(1.5e-7)), "1.5e-7");
        assert_eq!(float(Some(-2.25)), "-2.25");
        assert_eq!(float(Some(-0.0)), "0.0");
        assert_eq!(float(None), "");
        assert_eq!(float(Some(f64::NAN)), "");
        assert_eq!(float(Some(f64::INFINITY)), "");
    }

    fn ryu_text(value: f64) -> String {
        let value = if value == 0.0 { 0.0 } else { value };
        ryu::Buffer::new().format_finite(value).to_owned()
    }

    fn assert_as_ryu(value: f64) {
        assert_eq!(float(Some(value)), ryu_text(value), "{value:e}");
    }

    /// Deterministic pseudo-random bits (SplitMix64), so the sweep below is
    /// the same on every run.
    fn split_mix(state: &mut u64) -> u64 {
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    #[test]
    fn short_decimals_are_written_exactly_as_ryu_writes_them() {
        // Around every switch: of notation (1e-5, 1e16), of fraction
        // digits (1e7, 1e11, 1e15), of the digit bound (2^53).
        for edge in [
            1e-5,
            1e-4,
            1e6,
            1e7,
            1e11,
            1e15,
            1e16,
            1e17,
            9_007_199_254_740_992.0,
            1.0,
            0.1,
            0.5,
        ] {
            let mut up = edge;
            let mut down = edge;
            for _ in 0..50 {
                assert_as_ryu(up);
                assert_as_ryu(-down);
                up = f64::from_bits(up.to_bits() + 1);
                down = f64::from_bits(down.to_bits() - 1);
            }
        }
        // Decimals of every length and scale, as prices, sizes, ratios and
        // durations are: m / 10^k, and their neighbours one ulp away.
        let mut state = 7;
        for _ in 0..200_000 {
            let bits = split_mix(&mut state);
            let digits = 1 + (bits % 17) as u32;
            let m = split_mix(&mut state) % 10u64.pow(digits);
            let k = ((bits >> 8) % 23) as i32;
            let value = m as f64 / 10f64.powi(k);
            assert_as_ryu(value);
            assert_as_ryu(-value);
            assert_as_ryu(f64::from_bits(value.to_bits() + 1));
            assert_as_ryu(f64::from_bits(value.to_bits().saturating_sub(1)));
            // Sums and quotients such as notionals, VWAPs and bps.
            let other = (split_mix(&mut state) % 100_000) as f64 / 100.0;
            assert_as_ryu(value * other);
            assert_as_ryu((value - other) / (other + 1.0) * 1e4);
        }
        // Any bit pattern at all.
        for _ in 0..200_000 {
            let value = f64::from_bits(split_mix(&mut state));
            if value.is_finite() {
                assert_as_ryu(value);
            }
        }
        // Every short decimal of a few digits at every scale.
        for k in 0..12 {
            for m in 0..20_000u64 {
                assert_as_ryu(m as f64 / 10f64.powi(k));
            }
        }
    }

    #[test]
    fn eight_digits_are_the_zero_padded_text() {
        let mut state = 3;
        let values = (0..100_000u64)
            .chain((0..8).flat_map(|p| {
                let power = 10u64.pow(p);
                [power - 1, power, power + 1]
            }))
            .chain((0..200_000).map(|_| split_mix(&mut state) % 100_000_000))
            .chain([99_999_999]);
        for value in values {
            let text = (eight_digits(value) | ASCII_ZEROS).to_le_bytes();
            assert_eq!(text, *format!("{value:08}").as_bytes(), "{value}");
            let (digits, width) = leading_digits(value);
            assert_eq!(
                &digits.to_le_bytes()[..width],
                value.to_string().as_bytes(),
                "{value}"
            );
        }
    }

    /// Remembered texts are the texts: values repeated, colliding in the
    /// table (far more distinct values than slots), of every length up to
    /// `ryu`'s longest, zeros and undefined values among them.
    #[test]
    fn remembered_texts_are_written_as_push_float_writes_them() {
        let mut state = 11;
        let mut pool: Vec<Option<f64>> = (0..20_000)
            .map(|_| {
                let bits = split_mix(&mut state);
                Some(match bits % 4 {
                    0 => (bits % 100_000) as f64 / 100.0,
                    1 => f64::from_bits(bits),
                    2 => (bits % 1000) as f64,
                    _ => -((bits % 7_777) as f64) / 3.0,
                })
            })
            .collect();
        pool.extend([
            None,
            Some(0.0),
            Some(-0.0),
            Some(f64::NAN),
            Some(f64::NEG_INFINITY),
            Some(-1.2345678901234567e-300),
        ]);
        let mut texts = FloatTexts::default();
        let (mut remembered, mut plain) = (Vec::new(), Vec::new());
        for _ in 0..200_000 {
            let value = pool[(split_mix(&mut state) % pool.len() as u64) as usize];
            texts.push_field(&mut remembered, value);
            plain.push(b',');
            push_float(&mut plain, value);
        }
        assert!(remembered == plain);
    }

    #[test]
    fn counts_as_integers() {
        let mut out = Vec::new();
        push_count(&mut out, 0);
        out.push(b',');
        push_count(&mut out, u64::MAX);
        assert_eq!(out, b"0,18446744073709551615");
        for count in (0..20).flat_map(|p| {
            let power = 10u64.pow(p);
            [power - 1, power, power + 1]
        }) {
            let mut out = b"x".to_vec();
            push_count(&mut out, count);
            assert_eq!(out, format!("x{count}").as_bytes());
        }
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::push_float;

    fn written(value: f64) -> String {
        let mut out = Vec::new();
        push_float(&mut out, Some(value));
        String::from_utf8(out).expect("ASCII")
    }

    fn by_ryu(value: f64) -> String {
        let value = if value == 0.0 { 0.0 } else { value };
        ryu::Buffer::new().format_finite(value).to_owned()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        #[test]
        fn any_finite_float_is_written_as_ryu_writes_it(value in any::<f64>()) {
            prop_assume!(value.is_finite());
            prop_assert_eq!(written(value), by_ryu(value));
        }

        #[test]
        fn any_short_decimal_is_written_as_ryu_writes_it(
            m in 0u64..10_000_000_000_000_000,
            k in 0i32..24,
            negative in any::<bool>(),
        ) {
            let value = m as f64 / 10f64.powi(k);
            let value = if negative { -value } else { value };
            prop_assert_eq!(written(value), by_ryu(value));
        }
    }
}

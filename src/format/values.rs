//! The value syntax of SPEC §2: dates, times, decimals, integers, security
//! codes and the one-letter codes.
//!
//! Each parser takes the field's bytes (already unquoted) and returns the
//! value or `None`; the caller knows which column it was and builds the
//! rejection reason. Nothing here allocates. Numbers are checked against the
//! spec's grammar first and only then handed to `lexical-core`, because
//! `lexical-core` accepts more (signs, exponents) than the format allows.

/// A calendar date, validated (years 0001–9999, a real month and day).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    /// 1–9999.
    pub year: u16,
    /// 1–12.
    pub month: u8,
    /// 1–31, valid for the month and year.
    pub day: u8,
}

impl Date {
    /// The date as `YYYY-MM-DD`, the form used in partition paths and keys.
    pub fn iso(&self) -> [u8; 10] {
        let mut out = *b"0000-00-00";
        let year = self.year as usize;
        out[0] = b'0' + (year / 1000) as u8;
        out[1] = b'0' + (year / 100 % 10) as u8;
        out[2] = b'0' + (year / 10 % 10) as u8;
        out[3] = b'0' + (year % 10) as u8;
        out[5] = b'0' + self.month / 10;
        out[6] = b'0' + self.month % 10;
        out[8] = b'0' + self.day / 10;
        out[9] = b'0' + self.day % 10;
        out
    }

    /// The date as a `YYYY-MM-DD` string.
    pub fn iso_string(&self) -> String {
        // `iso` only writes ASCII digits and dashes.
        self.iso().iter().map(|&b| b as char).collect()
    }
}

/// Buy or sell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    /// `B` or `1`.
    Buy,
    /// `S` or `2`.
    Sell,
}

impl Side {
    /// σ of SPEC §4: +1 for a buy, −1 for a sell.
    pub fn sign(self) -> f64 {
        match self {
            Side::Buy => 1.0,
            Side::Sell => -1.0,
        }
    }

    /// The canonical one-letter code.
    pub fn code(self) -> &'static str {
        match self {
            Side::Buy => "B",
            Side::Sell => "S",
        }
    }
}

/// Limit or market order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OrderType {
    /// `L`, an empty field, or no `order_type` column.
    Limit,
    /// `M`.
    Market,
}

impl OrderType {
    /// The canonical one-letter code.
    pub fn code(self) -> &'static str {
        match self {
            OrderType::Limit => "L",
            OrderType::Market => "M",
        }
    }
}

/// Parses `YYYY-MM-DD` or `YYYYMMDD`.
pub fn parse_date(field: &[u8]) -> Option<Date> {
    let (y, m, d) = match field.len() {
        10 if field[4] == b'-' && field[7] == b'-' => (&field[0..4], &field[5..7], &field[8..10]),
        8 => (&field[0..4], &field[4..6], &field[6..8]),
        _ => return None,
    };
    let year = digits_value(y)? as u16;
    let month = digits_value(m)? as u8;
    let day = digits_value(d)? as u8;
    if year == 0 || !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some(Date { year, month, day })
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        _ => 28,
    }
}

/// The value of a short run of ASCII digits, or `None` if any byte is not a
/// digit. Only used on fixed-width fields of at most 9 digits.
fn digits_value(bytes: &[u8]) -> Option<u32> {
    let mut value = 0u32;
    for &b in bytes {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value * 10 + u32::from(b - b'0');
    }
    Some(value)
}

/// Parses `HH:MM:SS` with an optional `.f` of 1–9 digits into nanoseconds
/// since midnight, in integers (a float would not hold 9 fraction digits).
pub fn parse_time_ns(field: &[u8]) -> Option<u64> {
    if field.len() < 8 || field[2] != b':' || field[5] != b':' {
        return None;
    }
    let hours = digits_value(&field[0..2])?;
    let minutes = digits_value(&field[3..5])?;
    let seconds = digits_value(&field[6..8])?;
    if hours > 23 || minutes > 59 || seconds > 59 {
        return None;
    }
    let mut nanos = 0u64;
    match &field[8..] {
        [] => {}
        [b'.', fraction @ ..] if (1..=9).contains(&fraction.len()) => {
            nanos = u64::from(digits_value(fraction)?) * 10u64.pow(9 - fraction.len() as u32);
        }
        _ => return None,
    }
    let whole_seconds = u64::from(hours * 3600 + minutes * 60 + seconds);
    Some(whole_seconds * 1_000_000_000 + nanos)
}

/// Parses a decimal `[0-9]+(\.[0-9]*)?` or `\.[0-9]+` (no sign, exponent or
/// separators) into a finite `f64`.
pub fn parse_decimal(field: &[u8]) -> Option<f64> {
    let mut mantissa = 0u64;
    let mut digits = 0usize;
    let mut significant = 0usize;
    let mut dot_at = None;
    for (at, &b) in field.iter().enumerate() {
        match b {
            b'0'..=b'9' => {
                digits += 1;
                if mantissa != 0 || b != b'0' {
                    significant += 1;
                }
                mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(b - b'0'));
            }
            b'.' if dot_at.is_none() => dot_at = Some(at),
            _ => return None,
        }
    }
    if digits == 0 {
        return None;
    }
    let fraction_digits = dot_at.map_or(0, |at| field.len() - at - 1);
    // Clinger's fast path: a mantissa below 2^53 and a power of ten up to
    // 10^22 are both exact doubles, and IEEE division rounds correctly, so
    // the quotient is the correctly rounded value, the same one a full
    // parser returns. Prices and sizes almost always take this path.
    if significant <= 15 && fraction_digits <= 22 {
        return Some(mantissa as f64 / POWERS_OF_TEN[fraction_digits]);
    }
    let value: f64 = lexical_core::parse(field).ok()?;
    // Hundreds of digits overflow to infinity; such a value is no price.
    value.is_finite().then_some(value)
}

/// [`parse_decimal`] of a field already known to have the decimal grammar
/// (digits, at most one dot, at least one digit), as a mask check such as
/// [`LineClasses::decimal_is_positive`](super::classify::LineClasses::decimal_is_positive)
/// establishes: the same value, without re-checking every byte. Up to 15
/// digits in all, the mantissa cannot have more than 15 significant digits,
/// so [`parse_decimal`] takes its exact fast path and this computes the
/// same quotient; longer fields go to [`parse_decimal`] itself.
pub fn decimal_of_valid(field: &[u8]) -> Option<f64> {
    let dot_at = memchr::memchr(b'.', field);
    let digits = field.len() - usize::from(dot_at.is_some());
    if digits > 15 {
        return parse_decimal(field);
    }
    let mut mantissa = 0u64;
    for &b in field {
        if b != b'.' {
            mantissa = mantissa * 10 + u64::from(b - b'0');
        }
    }
    let fraction_digits = dot_at.map_or(0, |at| field.len() - at - 1);
    Some(mantissa as f64 / POWERS_OF_TEN[fraction_digits])
}

/// [`parse_u64`] of a field of 1–19 ASCII digits (19 digits always fit in
/// 64 bits), known to be so; longer fields go to [`parse_u64`].
pub fn u64_of_digits(field: &[u8]) -> Option<u64> {
    if field.len() > 19 {
        return parse_u64(field);
    }
    let mut value = 0u64;
    for &b in field {
        value = value * 10 + u64::from(b.wrapping_sub(b'0'));
    }
    Some(value)
}

/// [`parse_time_ns`] of a field that [`is_valid_time`] (or its mask
/// counterpart) accepted: the same nanoseconds, without the checks.
pub fn time_ns_of_valid(field: &[u8]) -> Option<u64> {
    let [h1, h2, _, m1, m2, _, s1, s2, rest @ ..] = field else {
        return None;
    };
    let two = |tens: u8, units: u8| u64::from(tens - b'0') * 10 + u64::from(units - b'0');
    let whole_seconds = two(*h1, *h2) * 3600 + two(*m1, *m2) * 60 + two(*s1, *s2);
    let mut nanos = 0u64;
    if let [_, fraction @ ..] = rest {
        for &b in fraction {
            nanos = nanos * 10 + u64::from(b - b'0');
        }
        nanos *= 10u64.pow(9u32.saturating_sub(fraction.len() as u32));
    }
    Some(whole_seconds * 1_000_000_000 + nanos)
}

/// How many fraction digits a valid time field has (0 without a fraction):
/// with its nanoseconds, all that `stats::push_time_text` needs to write
/// the field back exactly.
pub fn time_fraction_digits(field: &[u8]) -> u8 {
    // `HH:MM:SS` is eight bytes, the `.` a ninth.
    field.len().saturating_sub(9) as u8
}

/// Fields up to this long are checked by [`decimal_is_positive`] on their
/// grammar alone. Within it the value is finite (fewer than 309 integer
/// digits) and a nonzero digit makes it at least 10^-300, far above the
/// smallest subnormal, so "valid" and "> 0" need no conversion. Longer
/// fields can overflow to infinity or underflow to zero: they go through
/// [`parse_decimal`], which decides those exactly.
const DECIMAL_GRAMMAR_ONLY_LEN: usize = 300;

/// What [`parse_decimal`] decides about a field, without converting it:
/// `None` when it returns `None`, otherwise whether the value is `> 0`.
/// Extraction only validates, so it takes this path.
pub fn decimal_is_positive(field: &[u8]) -> Option<bool> {
    if field.len() > DECIMAL_GRAMMAR_ONLY_LEN {
        return parse_decimal(field).map(|value| value > 0.0);
    }
    let mut digits = 0usize;
    let mut dots = 0usize;
    let mut nonzero = false;
    for &b in field {
        match b {
            b'0' => digits += 1,
            b'1'..=b'9' => {
                digits += 1;
                nonzero = true;
            }
            b'.' => dots += 1,
            _ => return None,
        }
    }
    (digits > 0 && dots <= 1).then_some(nonzero)
}

/// 10^0 ..= 10^22, every one exactly representable as an `f64`.
pub(crate) const POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Parses an unsigned 64-bit integer: ASCII digits only (leading zeros
/// allowed), at most 2⁶⁴−1.
pub fn parse_u64(field: &[u8]) -> Option<u64> {
    if field.is_empty() || !field.iter().all(u8::is_ascii_digit) {
        return None;
    }
    lexical_core::parse(field).ok()
}

/// True exactly when [`parse_u64`] accepts the field: ASCII digits whose
/// value, leading zeros aside, fits in 64 bits. Checked by length and, at
/// 20 significant digits, by comparing with the text of 2⁶⁴−1.
pub fn is_u64(field: &[u8]) -> bool {
    if field.is_empty() || !field.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let first_nonzero = field.iter().position(|&b| b != b'0');
    let significant = first_nonzero.map_or(&field[field.len()..], |at| &field[at..]);
    match significant.len() {
        0..20 => true,
        20 => significant <= b"18446744073709551615".as_slice(),
        _ => false,
    }
}

/// True exactly when [`parse_time_ns`] accepts the field, without
/// computing the nanoseconds.
pub fn is_valid_time(field: &[u8]) -> bool {
    let [h1, h2, b':', m1, m2, b':', s1, s2, rest @ ..] = field else {
        return false;
    };
    let two_digits_at_most = |tens: u8, units: u8, max: u8| {
        tens.is_ascii_digit()
            && units.is_ascii_digit()
            && (tens - b'0') * 10 + (units - b'0') <= max
    };
    two_digits_at_most(*h1, *h2, 23)
        && two_digits_at_most(*m1, *m2, 59)
        && two_digits_at_most(*s1, *s2, 59)
        && match rest {
            [] => true,
            [b'.', fraction @ ..] => {
                (1..=9).contains(&fraction.len()) && fraction.iter().all(u8::is_ascii_digit)
            }
            _ => false,
        }
}

/// True for a valid security code: 1–32 bytes of `[A-Za-z0-9._-]`, not `.`
/// or `..`. The code becomes a folder name, so this check is what keeps
/// untrusted input from naming paths outside the output.
pub fn is_valid_security_code(field: &[u8]) -> bool {
    (1..=32).contains(&field.len())
        && field != b"."
        && field != b".."
        && field
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// `B`/`1` is a buy, `S`/`2` a sell; anything else (lower case included) is
/// not a side.
pub fn parse_side(field: &[u8]) -> Option<Side> {
    match field {
        b"B" | b"1" => Some(Side::Buy),
        b"S" | b"2" => Some(Side::Sell),
        _ => None,
    }
}

/// `L` or empty is a limit order, `M` a market order.
pub fn parse_order_type(field: &[u8]) -> Option<OrderType> {
    match field {
        b"" | b"L" => Some(OrderType::Limit),
        b"M" => Some(OrderType::Market),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_both_forms_and_only_real_ones() {
        let d = parse_date(b"2024-02-29").unwrap();
        assert_eq!((d.year, d.month, d.day), (2024, 2, 29));
        assert_eq!(parse_date(b"20240229"), Some(d));
        assert_eq!(&d.iso(), b"2024-02-29");
        assert_eq!(
            parse_date(b"0001-01-01").unwrap().iso_string(),
            "0001-01-01"
        );
        assert_eq!(
            parse_date(b"9999-12-31").unwrap().iso_string(),
            "9999-12-31"
        );
        for bad in [
            &b"2023-02-29"[..],
            b"1900-02-29",
            b"2000-13-01",
            b"2000-00-10",
            b"2000-04-31",
            b"0000-01-01",
            b"2000/01/01",
            b"2000-1-01",
            b"200001011",
            b"2000010",
            b"",
            b"2000-01-0a",
            b"+2000101",
        ] {
            assert_eq!(parse_date(bad), None, "{}", String::from_utf8_lossy(bad));
        }
        assert!(parse_date(b"2000-02-29").is_some(), "2000 is a leap year");
    }

    #[test]
    fn times_are_integer_nanoseconds() {
        assert_eq!(parse_time_ns(b"00:00:00"), Some(0));
        assert_eq!(parse_time_ns(b"09:15:00.02"), Some(33_300_020_000_000));
        assert_eq!(
            parse_time_ns(b"23:59:59.999999999"),
            Some(86_399_999_999_999)
        );
        assert_eq!(parse_time_ns(b"10:00:00.1"), Some(36_000_100_000_000));
        for bad in [
            &b"24:00:00"[..],
            b"10:60:00",
            b"10:00:60",
            b"10:00:00.",
            b"10:00:00.1234567890",
            b"10:00",
            b"1:00:00",
            b"10-00-00",
            b"10:00:00,5",
            b"10:00:00.5x",
        ] {
            assert_eq!(parse_time_ns(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn decimals_follow_the_grammar() {
        assert_eq!(parse_decimal(b"1801.01"), Some(1801.01));
        assert_eq!(parse_decimal(b"5."), Some(5.0));
        assert_eq!(parse_decimal(b".5"), Some(0.5));
        assert_eq!(parse_decimal(b"007"), Some(7.0));
        assert_eq!(parse_decimal(b"0"), Some(0.0));
        for bad in [
            &b""[..],
            b".",
            b"-1",
            b"+1",
            b"1e5",
            b"1,000",
            b"1.2.3",
            b" 1",
            b"nan",
            b"inf",
        ] {
            assert_eq!(parse_decimal(bad), None, "{}", String::from_utf8_lossy(bad));
        }
        let huge = vec![b'9'; 400];
        assert_eq!(parse_decimal(&huge), None);
        assert_eq!(
            parse_decimal(b"0000000000000000000000000012.50"),
            Some(12.5)
        );
    }

    #[test]
    fn the_fast_path_equals_a_full_parser() {
        // Deterministic sample of decimals of every shape the fast path
        // takes, and some it must hand over; std's parser is the reference.
        let mut next = crate::test_support::xorshift(0x2545_f491_4f6c_dd1du64);
        for _ in 0..200_000 {
            let int_digits = (next() % 12) as usize;
            let frac_digits = (next() % 12) as usize;
            let mut text = String::new();
            for _ in 0..int_digits {
                text.push((b'0' + (next() % 10) as u8) as char);
            }
            if frac_digits > 0 || int_digits == 0 {
                text.push('.');
            }
            for _ in 0..frac_digits.max(usize::from(int_digits == 0)) {
                text.push((b'0' + (next() % 10) as u8) as char);
            }
            let expected: f64 = text.parse().unwrap();
            assert_eq!(parse_decimal(text.as_bytes()), Some(expected), "{text}");
        }
    }

    use crate::test_support::xorshift;

    /// A random field over `alphabet`, of up to `max_len` bytes, mostly short.
    fn random_field(next: &mut impl FnMut() -> u64, alphabet: &[u8], max_len: usize) -> Vec<u8> {
        let len = if next().is_multiple_of(8) {
            (next() % (max_len as u64 + 1)) as usize
        } else {
            (next() % 24) as usize
        };
        (0..len)
            .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
            .collect()
    }

    #[test]
    fn validation_only_checks_agree_with_the_parsers() {
        let mut next = xorshift(0x9e37_79b9_7f4a_7c15);
        for _ in 0..300_000 {
            let decimal = random_field(&mut next, b"0000000123456789..x", 420);
            assert_eq!(
                decimal_is_positive(&decimal),
                parse_decimal(&decimal).map(|v| v > 0.0),
                "{}",
                String::from_utf8_lossy(&decimal)
            );
            let integer = random_field(&mut next, b"0000000123456789x", 30);
            assert_eq!(
                is_u64(&integer),
                parse_u64(&integer).is_some(),
                "{integer:?}"
            );
            let mut time = *b"00:00:00.000000000";
            for byte in time.iter_mut() {
                if next().is_multiple_of(6) {
                    *byte = b"0123456789:.x"[(next() % 13) as usize];
                }
            }
            let time = &time[..(next() % 20).min(18) as usize];
            assert_eq!(
                is_valid_time(time),
                parse_time_ns(time).is_some(),
                "{time:?}"
            );
        }
    }

    #[test]
    fn validation_only_checks_at_their_edges() {
        for text in [
            "18446744073709551615",
            "18446744073709551616",
            "99999999999999999999",
            "0000000000000000000018446744073709551615",
            "0000000000000000000018446744073709551616",
            "00000000000000000000000",
            "1",
        ] {
            assert_eq!(
                is_u64(text.as_bytes()),
                parse_u64(text.as_bytes()).is_some(),
                "{text}"
            );
        }
        for tiny_or_huge in [
            format!("0.{}1", "0".repeat(296)),
            format!("0.{}1", "0".repeat(297)),
            format!("0.{}1", "0".repeat(400)),
            format!(".{}1", "0".repeat(330)),
            "9".repeat(300),
            "9".repeat(301),
            "9".repeat(309),
            "9".repeat(310),
            format!("{}.", "1".repeat(308)),
            format!("{}.0", "1".repeat(309)),
            format!("{}0", "0".repeat(300)),
        ] {
            assert_eq!(
                decimal_is_positive(tiny_or_huge.as_bytes()),
                parse_decimal(tiny_or_huge.as_bytes()).map(|v| v > 0.0),
                "{tiny_or_huge}"
            );
        }
        for time in [
            "23:59:59",
            "24:00:00",
            "09:60:00",
            "09:00:00.",
            "09:00:00.123456789",
        ] {
            assert_eq!(
                is_valid_time(time.as_bytes()),
                parse_time_ns(time.as_bytes()).is_some()
            );
        }
    }

    /// The conversions of validated fields give exactly what the parsers
    /// give, on every field the validation accepts.
    #[test]
    fn conversions_of_valid_fields_equal_the_parsers() {
        let mut next = xorshift(11);
        let mut checked = 0;
        for _ in 0..200_000 {
            let field = random_field(&mut next, b"0123456789.", 24);
            if decimal_is_positive(&field).is_some() {
                assert_eq!(decimal_of_valid(&field), parse_decimal(&field), "{field:?}");
                checked += 1;
            }
            let digits = random_field(&mut next, b"0123456789", 22);
            if is_u64(&digits) {
                assert_eq!(u64_of_digits(&digits), parse_u64(&digits), "{digits:?}");
            }
            let time = random_field(&mut next, b"0123456789", 15);
            if time.len() >= 6 {
                let mut text = Vec::new();
                text.extend_from_slice(&time[..2]);
                text.push(b':');
                text.extend_from_slice(&time[2..4]);
                text.push(b':');
                text.extend_from_slice(&time[4..6]);
                if time.len() > 6 {
                    text.push(b'.');
                    text.extend_from_slice(&time[6..]);
                }
                if is_valid_time(&text) {
                    assert_eq!(time_ns_of_valid(&text), parse_time_ns(&text), "{text:?}");
                }
            }
        }
        assert!(checked > 10_000);
        for field in [
            &b"0"[..],
            b".5",
            b"5.",
            b"999999999999999",
            b"9999999999999999",
            b"0.000000000000001",
            b"123456789012345.",
            b"1234567890123456.7",
            b"00000000000000000000000000001.5",
        ] {
            assert_eq!(decimal_of_valid(field), parse_decimal(field), "{field:?}");
        }
        for field in [&b"0"[..], b"18446744073709551615", b"9999999999999999999"] {
            assert_eq!(u64_of_digits(field), parse_u64(field), "{field:?}");
        }
        for time in [&b"00:00:00"[..], b"23:59:59.999999999", b"09:30:00.1"] {
            assert_eq!(time_ns_of_valid(time), parse_time_ns(time), "{time:?}");
        }
    }

    #[test]
    fn integers_are_u64_digits() {
        assert_eq!(parse_u64(b"0"), Some(0));
        assert_eq!(parse_u64(b"000123"), Some(123));
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        for bad in [
            &b""[..],
            b"18446744073709551616",
            b"+1",
            b"-1",
            b"1.0",
            b"1e3",
        ] {
            assert_eq!(parse_u64(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn security_codes_cannot_escape_their_folder() {
        for good in [
            &b"600519.SH"[..],
            b"A",
            b"BTC-USD",
            b"x_y",
            b"...",
            &[b'a'; 32],
        ] {
            assert!(is_valid_security_code(good));
        }
        for bad in [
            &b""[..],
            b".",
            b"..",
            b"../etc",
            b"a/b",
            b"a\\b",
            b"a b",
            &[b'a'; 33],
            "é".as_bytes(),
        ] {
            assert!(!is_valid_security_code(bad));
        }
    }

    #[test]
    fn codes_are_case_sensitive() {
        assert_eq!(parse_side(b"B"), Some(Side::Buy));
        assert_eq!(parse_side(b"2"), Some(Side::Sell));
        assert_eq!(parse_side(b"b"), None);
        assert_eq!(parse_order_type(b""), Some(OrderType::Limit));
        assert_eq!(parse_order_type(b"M"), Some(OrderType::Market));
        assert_eq!(parse_order_type(b"m"), None);
    }
}

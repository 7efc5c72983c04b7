//! Trading days and the trading session's clock.
//!
//! Owns which dates are generated (consecutive weekdays from 2024-01-02) and
//! how a position inside the continuous session maps to a time of day: the
//! session runs 09:30–11:30 and 13:00–15:00, as on the Shanghai exchange, so
//! the lunch break holds no rows.

/// Microseconds in a second.
const MICROS_PER_SECOND: u64 = 1_000_000;
/// Start of the morning session, in microseconds since midnight.
const MORNING_OPEN: u64 = (9 * 3600 + 30 * 60) * MICROS_PER_SECOND;
/// Length of each half of the session (two hours).
const HALF_SESSION: u64 = 2 * 3600 * MICROS_PER_SECOND;
/// Start of the afternoon session.
const AFTERNOON_OPEN: u64 = 13 * 3600 * MICROS_PER_SECOND;

/// Length of the continuous session, in microseconds.
pub const SESSION_MICROS: u64 = 2 * HALF_SESSION;

/// The time of day, in microseconds since midnight, of a position in the
/// session (`0..SESSION_MICROS`).
pub fn time_of_day(session_offset: u64) -> u64 {
    if session_offset < HALF_SESSION {
        MORNING_OPEN + session_offset
    } else {
        AFTERNOON_OPEN + (session_offset - HALF_SESSION)
    }
}

/// The first trading day generated, as days since 1970-01-01 (2024-01-02).
const FIRST_DAY: i64 = 19_724;

/// The `count` trading days, as `YYYY-MM-DD` strings: consecutive weekdays
/// starting on 2024-01-02.
pub fn trading_dates(count: u32) -> Vec<[u8; 10]> {
    let mut dates = Vec::with_capacity(count as usize);
    let mut day = FIRST_DAY;
    while dates.len() < count as usize {
        // 1970-01-01 was a Thursday; with Sunday = 0 its weekday is 4.
        let weekday = (day + 4).rem_euclid(7);
        if weekday != 0 && weekday != 6 {
            dates.push(format_date(day));
        }
        day += 1;
    }
    dates
}

/// `YYYY-MM-DD` of a day counted from 1970-01-01 (proleptic Gregorian,
/// years 1970–9999).
fn format_date(days_since_epoch: i64) -> [u8; 10] {
    let (year, month, day) = civil_from_days(days_since_epoch);
    let mut text = *b"0000-00-00";
    let digits = |value: u32, out: &mut [u8]| {
        let mut value = value;
        for byte in out.iter_mut().rev() {
            *byte = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    digits(year, &mut text[0..4]);
    digits(month, &mut text[5..7]);
    digits(day, &mut text[8..10]);
    text
}

/// Year, month, day of a day counted from 1970-01-01, by the era arithmetic
/// of Howard Hinnant's `civil_from_days`.
fn civil_from_days(days_since_epoch: i64) -> (u32, u32, u32) {
    let shifted = days_since_epoch + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year as u32, month as u32, day as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(date: [u8; 10]) -> String {
        String::from_utf8(date.to_vec()).unwrap()
    }

    #[test]
    fn first_date_is_2024_01_02() {
        assert_eq!(text(format_date(FIRST_DAY)), "2024-01-02");
        assert_eq!(text(format_date(0)), "1970-01-01");
        assert_eq!(text(format_date(19_782)), "2024-02-29");
    }

    #[test]
    fn dates_skip_weekends() {
        let dates: Vec<String> = trading_dates(6).into_iter().map(text).collect();
        assert_eq!(
            dates,
            [
                "2024-01-02",
                "2024-01-03",
                "2024-01-04",
                "2024-01-05",
                "2024-01-08",
                "2024-01-09"
            ]
        );
    }

    #[test]
    fn session_skips_lunch() {
        assert_eq!(time_of_day(0), MORNING_OPEN);
        assert_eq!(
            time_of_day(HALF_SESSION - 1),
            11 * 3600 * MICROS_PER_SECOND + 1800 * MICROS_PER_SECOND - 1
        );
        assert_eq!(time_of_day(HALF_SESSION), AFTERNOON_OPEN);
        assert!(time_of_day(SESSION_MICROS - 1) < 15 * 3600 * MICROS_PER_SECOND);
    }
}

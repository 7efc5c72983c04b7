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
    // -0.0 == 0.0, so this also normalises a negative zero.
    let value = if value == 0.0 { 0.0 } else { value };
    let mut buffer = ryu::Buffer::new();
    out.extend_from_slice(buffer.format_finite(value).as_bytes());
}

/// Appends a count to `out` as a decimal integer.
pub fn push_count(out: &mut Vec<u8>, count: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = count;
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn counts_as_integers() {
        let mut out = Vec::new();
        push_count(&mut out, 0);
        out.push(b',');
        push_count(&mut out, u64::MAX);
        assert_eq!(out, b"0,18446744073709551615");
    }
}

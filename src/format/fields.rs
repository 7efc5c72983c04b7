//! Splitting one line into its fields.
//!
//! The common row has no quote at all, so one pass finds both the commas
//! and any quote; only a row that has quotes takes the slower path that
//! checks and strips them. Spans go into a caller-owned [`FieldBuf`]
//! that is reused row after row, so splitting allocates nothing once the
//! buffer has grown to the header's width.

use super::reject::RejectReason;

/// Reusable scratch space holding the byte ranges of a line's fields (quotes
/// already stripped). Allocate one per thread or per file, not per row.
#[derive(Debug, Default, Clone)]
pub struct FieldBuf {
    spans: Vec<(usize, usize)>,
}

impl FieldBuf {
    /// Splits `line` (without its line terminator) into exactly `expected`
    /// fields, checking the quote rules of SPEC §2.
    pub fn split(&mut self, line: &[u8], expected: usize) -> Result<(), RejectReason> {
        self.spans.clear();
        let mut start = 0;
        let mut quotes = 0usize;
        // Eight bytes at a time: a word's commas and quotes become a bit
        // mask (one high bit per matching byte), walked with
        // `trailing_zeros`. Fields are a few bytes long, so a per-byte loop
        // or a SIMD search that pays its set-up per field is slower.
        let mut base = 0;
        while let Some(word) = line[base..].first_chunk::<8>() {
            let word = u64::from_le_bytes(*word);
            let mut commas = byte_mask(word, b',');
            quotes += byte_mask(word, b'"').count_ones() as usize;
            while commas != 0 {
                let at = base + (commas.trailing_zeros() / 8) as usize;
                self.spans.push((start, at));
                start = at + 1;
                commas &= commas - 1;
            }
            base += 8;
        }
        for (offset, &byte) in line[base..].iter().enumerate() {
            if byte == b',' {
                self.spans.push((start, base + offset));
                start = base + offset + 1;
            } else if byte == b'"' {
                quotes += 1;
            }
        }
        self.spans.push((start, line.len()));
        if !quotes.is_multiple_of(2) {
            return Err(RejectReason::UnbalancedQuote);
        }
        // Quotes first: a quoted comma also changes the field count, and the
        // quote is the reason a person needs to read.
        if quotes > 0 {
            self.strip_quotes(line)?;
        }
        if self.spans.len() != expected {
            return Err(RejectReason::FieldCount {
                expected,
                found: self.spans.len(),
            });
        }
        Ok(())
    }

    /// A quoted field is `"value"` with no quote or comma inside (a comma
    /// inside would already have split it, leaving a half-quoted field).
    fn strip_quotes(&mut self, line: &[u8]) -> Result<(), RejectReason> {
        for (index, span) in self.spans.iter_mut().enumerate() {
            let field = &line[span.0..span.1];
            let Some(quote_at) = memchr::memchr(b'"', field) else {
                continue;
            };
            let wrapped = quote_at == 0
                && field.len() >= 2
                && field[field.len() - 1] == b'"'
                && memchr::memchr(b'"', &field[1..field.len() - 1]).is_none();
            if wrapped {
                *span = (span.0 + 1, span.1 - 1);
            } else if quote_at == 0 {
                return Err(RejectReason::QuotedSeparator { field: index + 1 });
            } else {
                return Err(RejectReason::StrayQuote { field: index + 1 });
            }
        }
        Ok(())
    }

    /// The number of fields of the last successful split.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// True when no line has been split yet.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Field `index` (0-based) of the last successful split of `line`.
    pub fn field<'a>(&self, line: &'a [u8], index: usize) -> &'a [u8] {
        let (start, end) = self.spans[index];
        &line[start..end]
    }
}

/// The high bit of every byte of `word` equal to `needle`, exactly (no
/// false positives from borrows: the low seven bits are added separately).
fn byte_mask(word: u64, needle: u8) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let diff = word ^ (u64::from(needle) * 0x0101_0101_0101_0101);
    // A byte of `diff` is zero exactly when neither its high bit nor any of
    // its low seven bits is set; adding LOW7 to the low bits sets the high
    // bit for any nonzero low part without carrying into the next byte.
    !(((diff & LOW7) + LOW7) | diff | LOW7)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(line: &str, expected: usize) -> Result<Vec<String>, RejectReason> {
        let mut buf = FieldBuf::default();
        buf.split(line.as_bytes(), expected)?;
        Ok((0..buf.len())
            .map(|i| String::from_utf8_lossy(buf.field(line.as_bytes(), i)).into_owned())
            .collect())
    }

    #[test]
    fn plain_and_quoted_fields() {
        assert_eq!(split("a,b,,c", 4).unwrap(), ["a", "b", "", "c"]);
        assert_eq!(split("\"a\",b,\"\"", 3).unwrap(), ["a", "b", ""]);
        assert_eq!(split("", 1).unwrap(), [""]);
    }

    #[test]
    fn quote_rules() {
        assert_eq!(
            split("\"a,b\",c", 2),
            Err(RejectReason::QuotedSeparator { field: 1 })
        );
        assert_eq!(
            split("\"a,b\",c", 3),
            Err(RejectReason::QuotedSeparator { field: 1 })
        );
        assert_eq!(
            split("x,\"a\"\"b\"", 2),
            Err(RejectReason::QuotedSeparator { field: 2 })
        );
        assert_eq!(
            split("a\"b\",c", 2),
            Err(RejectReason::StrayQuote { field: 1 })
        );
        assert_eq!(split("\"abc,d", 2), Err(RejectReason::UnbalancedQuote));
        assert_eq!(split("def\",x", 2), Err(RejectReason::UnbalancedQuote));
    }

    #[test]
    fn word_masks_find_exactly_the_needle() {
        for text in [
            &b"a,b,,c\"x"[..],
            b",,,,,,,,",
            b"\x80,\xff\"\x2c\x00\x01",
            b"zzzzzzzz",
        ] {
            let mut bytes = [0u8; 8];
            bytes[..text.len().min(8)].copy_from_slice(&text[..text.len().min(8)]);
            let word = u64::from_le_bytes(bytes);
            for needle in [b',', b'"'] {
                let expected: u64 = bytes
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| **b == needle)
                    .map(|(i, _)| 0x80u64 << (8 * i))
                    .sum();
                assert_eq!(byte_mask(word, needle), expected, "{text:?} {needle}");
            }
        }
    }

    #[test]
    fn splitting_agrees_with_a_naive_split_at_every_length() {
        let mut buf = FieldBuf::default();
        let alphabet = b"a,\"b";
        let mut line = Vec::new();
        // Every line of up to 7 symbols over the alphabet, plus padding that
        // moves it across word boundaries.
        for len in 0..=7u32 {
            for code in 0..alphabet.len().pow(len) {
                for pad in 0..9 {
                    line.clear();
                    line.extend(std::iter::repeat_n(b'x', pad));
                    let mut c = code;
                    for _ in 0..len {
                        line.push(alphabet[c % alphabet.len()]);
                        c /= alphabet.len();
                    }
                    let naive: Vec<&[u8]> = line.split(|&b| b == b',').collect();
                    let quotes = line.iter().filter(|&&b| b == b'"').count();
                    match buf.split(&line, naive.len()) {
                        Ok(()) => {
                            assert_eq!(quotes % 2, 0);
                            for (i, field) in naive.iter().enumerate() {
                                let unquoted = field
                                    .strip_prefix(b"\"")
                                    .and_then(|f| f.strip_suffix(b"\""))
                                    .unwrap_or(field);
                                assert_eq!(buf.field(&line, i), unquoted, "{line:?}");
                            }
                        }
                        Err(_) => assert!(quotes > 0, "{line:?}"),
                    }
                }
            }
        }
    }

    #[test]
    fn field_count_is_checked() {
        assert_eq!(
            split("a,b,c", 2),
            Err(RejectReason::FieldCount {
                expected: 2,
                found: 3
            })
        );
    }
}

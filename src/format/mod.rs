//! The input format of SPEC §2.
//!
//! This module owns everything about reading the two CSV inputs (and the
//! partition files, which hold the same rows): mapping a header to columns
//! ([`Layout`]), splitting a line into fields with the quote rules
//! ([`FieldBuf`]), the value syntax ([`values`]), why a row is rejected
//! ([`RejectReason`]), and cutting a buffer into lines and chunks ([`lines()`]).
//! It does no I/O and allocates nothing per row.

pub mod classify;
mod fields;
mod layout;
pub mod lines;
mod reject;
pub mod scan;
pub mod values;

pub use fields::FieldBuf;
pub use layout::{
    ClassifiedOrder, ClassifiedTrade, FileKind, KeySpans, Layout, OrderRow, RowKey, TradeRow,
    UTF8_BOM,
};
pub use lines::{
    Lines, chunk_boundaries, chunk_boundaries_parallel, is_blank, lines, strip_terminator,
};
pub use reject::{Column, RejectReason};
pub use values::{Date, OrderType, Side, time_fraction_digits};

/// Every one-byte edit of `row` (each byte removed, each byte replaced by
/// and each position given an insertion of every byte of `alphabet`), with
/// `row` itself first: the tests that compare a fast row path with the full
/// parse run them all.
#[cfg(test)]
pub(crate) fn one_byte_edits(row: &[u8], alphabet: &[u8]) -> Vec<Vec<u8>> {
    let mut variants = vec![row.to_vec()];
    for at in 0..=row.len() {
        if at < row.len() {
            let mut removed = row.to_vec();
            removed.remove(at);
            variants.push(removed);
        }
        for &byte in alphabet {
            if at < row.len() {
                let mut replaced = row.to_vec();
                replaced[at] = byte;
                variants.push(replaced);
            }
            let mut inserted = row.to_vec();
            inserted.insert(at, byte);
            variants.push(inserted);
        }
    }
    variants
}

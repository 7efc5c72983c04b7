//! The input format of SPEC §2.
//!
//! This module owns everything about reading the two CSV inputs (and the
//! partition files, which hold the same rows): mapping a header to columns
//! ([`Layout`]), splitting a line into fields with the quote rules
//! ([`FieldBuf`]), the value syntax ([`values`]), why a row is rejected
//! ([`RejectReason`]), and cutting a buffer into lines and chunks ([`lines`]).
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
pub use values::{Date, OrderType, Side};

//! A partition: one `(date, security_code)` pair, its key and where its
//! files live in the output folder.
//!
//! The key is the only way untrusted input becomes a path, so it is built
//! only from a validated [`Date`] and a code that passed
//! [`values::is_valid_security_code`]; [`PartitionKey::parse`] applies the
//! same checks to keys read back from a registry.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::format::values::{self, Date};

/// Longest security code the format accepts.
pub const MAX_CODE_LEN: usize = 32;

/// The figures an analysis reports for one partition (SPEC §4) and the
/// registry records for it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PartitionFigures {
    /// Orders in the partition (the first row of each order id).
    pub order_count: u64,
    /// Trade rows.
    pub trade_count: u64,
    /// Orders whose id appears on either side of at least one trade.
    pub matched_orders: u64,
    /// The other orders.
    pub unmatched_orders: u64,
    /// Orders that are the taker in at least one trade.
    pub taker_orders: u64,
    /// Taker orders that filled at `sweep_min_levels` prices or more.
    pub sweep_orders: u64,
    /// Trades whose two ids are not both orders of the partition.
    pub unlinked_trades: u64,
    /// Order rows repeating an earlier row's id (ignored for every purpose).
    pub duplicate_orders: u64,
}

/// Folder of the partitions inside the output folder.
pub const PARTITIONS_DIR: &str = "partitions";
/// Folder of the rejected rows inside the output folder.
pub const REJECTED_DIR: &str = "rejected";

/// A partition key: a date and a security code, stored inline (no heap) so
/// the extractor can hash and copy it freely. The unused tail of `code` is
/// always zero, so the derived equality and order are those of the code.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PartitionKey {
    date: Date,
    code_len: u8,
    code: [u8; MAX_CODE_LEN],
}

impl PartitionKey {
    /// The key of a validated date and security code. Returns `None` for a
    /// code the format would reject.
    pub fn new(date: Date, security_code: &[u8]) -> Option<PartitionKey> {
        if !values::is_valid_security_code(security_code) {
            return None;
        }
        let mut code = [0u8; MAX_CODE_LEN];
        code[..security_code.len()].copy_from_slice(security_code);
        Some(PartitionKey {
            date,
            code_len: security_code.len() as u8,
            code,
        })
    }

    /// Parses `YYYY-MM-DD/security_code`, with the same validation as input
    /// rows.
    pub fn parse(key: &str) -> Option<PartitionKey> {
        let (date, code) = key.split_once('/')?;
        if date.len() != 10 {
            return None;
        }
        PartitionKey::new(values::parse_date(date.as_bytes())?, code.as_bytes())
    }

    /// The trading day.
    pub fn date(&self) -> Date {
        self.date
    }

    /// The security code.
    pub fn security_code(&self) -> &str {
        // Valid codes are ASCII, checked in `new`.
        std::str::from_utf8(&self.code[..usize::from(self.code_len)]).unwrap_or_default()
    }

    /// The partition's folder inside `output`:
    /// `output/partitions/YYYY-MM-DD/security_code`.
    pub fn dir(&self, output: &Path) -> PathBuf {
        let mut path = output.join(PARTITIONS_DIR);
        path.push(self.date.iso_string());
        path.push(self.security_code());
        path
    }
}

impl std::hash::Hash for PartitionKey {
    // Hashing only the code's used bytes, not the whole 32-byte array,
    // matters: the extractor hashes a key per row.
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.date.hash(state);
        state.write(&self.code[..usize::from(self.code_len)]);
    }
}

impl fmt::Display for PartitionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.date.iso_string(), self.security_code())
    }
}

impl fmt::Debug for PartitionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PartitionKey({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_refuse_paths() {
        let key = PartitionKey::parse("2024-09-05/110621").unwrap();
        assert_eq!(key.to_string(), "2024-09-05/110621");
        assert_eq!(
            key.dir(Path::new("/out")),
            Path::new("/out/partitions/2024-09-05/110621")
        );
        for bad in [
            "2024-09-05/..",
            "2024-09-05/a/b",
            "20240905/x",
            "2024-02-30/x",
            "2024-09-05/",
            "nope",
        ] {
            assert!(PartitionKey::parse(bad).is_none(), "{bad}");
        }
    }
}

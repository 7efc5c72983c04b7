//! Loading a partition: `orders.csv` and `trades.csv` of one partition folder
//! into columnar arrays ([`PartitionData`]).
//!
//! The files are memory-mapped (with a fallback to a plain read where mapping
//! is impossible) and parsed with [`crate::format`] straight into one `Vec`
//! per column: no allocation per row. Text the outputs echo verbatim (an
//! order's `time` and `side`) is kept as slices of the mapped bytes, so the
//! columns borrow from the [`PartitionFiles`] that hold the maps.
//!
//! Partition files hold rows the extractor validated, so a row that fails to
//! parse here means the folder was damaged or edited: the partition fails with
//! an error naming file, line and reason. So does a row that belongs to
//! another partition.

use std::fs::File;
use std::ops::Deref;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use crate::error::{Error, ErrorKind, Result};
use crate::format::{self, FieldBuf, FileKind, Layout, OrderType, Side};

/// The orders of a partition, one `Vec` per column, in file order (duplicate
/// order ids included; the analysis decides which row counts).
#[derive(Debug, Default, Clone)]
pub struct OrderColumns<'a> {
    /// `order_id`.
    pub order_id: Vec<u64>,
    /// `time` as nanoseconds since midnight.
    pub time_ns: Vec<u64>,
    /// `time` as written in the file (unquoted), echoed in the detailed output.
    pub time_text: Vec<&'a [u8]>,
    /// `side`.
    pub side: Vec<Side>,
    /// `side` as written in the file (unquoted), echoed in the detailed output.
    pub side_text: Vec<&'a [u8]>,
    /// `price`; `None` for a market order without one.
    pub price: Vec<Option<f64>>,
    /// `quantity`.
    pub quantity: Vec<f64>,
    /// `order_type` (limit when the column is absent or the field empty).
    pub order_type: Vec<OrderType>,
}

impl<'a> OrderColumns<'a> {
    /// Number of order rows.
    pub fn len(&self) -> usize {
        self.order_id.len()
    }

    /// True when there are no order rows.
    pub fn is_empty(&self) -> bool {
        self.order_id.is_empty()
    }

    /// Appends one order row.
    pub fn push(&mut self, row: &format::OrderRow<'a>) {
        self.order_id.push(row.order_id);
        self.time_ns.push(row.time_ns);
        self.time_text.push(row.time_text);
        self.side.push(row.side);
        self.side_text.push(row.side_text);
        self.price.push(row.price);
        self.quantity.push(row.quantity);
        self.order_type.push(row.order_type);
    }
}

/// The trades of a partition, one `Vec` per column, in file order.
#[derive(Debug, Default, Clone)]
pub struct TradeColumns {
    /// `trade_id`.
    pub trade_id: Vec<u64>,
    /// `time` as nanoseconds since midnight.
    pub time_ns: Vec<u64>,
    /// `price`.
    pub price: Vec<f64>,
    /// `quantity`.
    pub quantity: Vec<f64>,
    /// `buy_order_id`; 0 = unknown.
    pub buy_order_id: Vec<u64>,
    /// `sell_order_id`; 0 = unknown.
    pub sell_order_id: Vec<u64>,
    /// `aggressor_side`; `None` when empty (or when the column is absent).
    pub aggressor_side: Vec<Option<Side>>,
    /// Whether the file has an `aggressor_side` column at all: this switches
    /// the taker rule of SPEC §4.
    pub has_aggressor_column: bool,
}

impl TradeColumns {
    /// Number of trade rows.
    pub fn len(&self) -> usize {
        self.trade_id.len()
    }

    /// True when there are no trade rows.
    pub fn is_empty(&self) -> bool {
        self.trade_id.is_empty()
    }

    /// Appends one trade row.
    pub fn push(&mut self, row: &format::TradeRow<'_>) {
        self.trade_id.push(row.trade_id);
        self.time_ns.push(row.time_ns);
        self.price.push(row.price);
        self.quantity.push(row.quantity);
        self.buy_order_id.push(row.buy_order_id);
        self.sell_order_id.push(row.sell_order_id);
        self.aggressor_side.push(row.aggressor_side);
    }
}

/// Everything the analyses read from one partition.
#[derive(Debug, Default, Clone)]
pub struct PartitionData<'a> {
    /// The orders.
    pub orders: OrderColumns<'a>,
    /// The trades.
    pub trades: TradeColumns,
}

/// The bytes of a file: mapped when possible, read otherwise.
enum FileBytes {
    Mapped(Mmap),
    Read(Vec<u8>),
}

impl Deref for FileBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            FileBytes::Mapped(map) => map,
            FileBytes::Read(bytes) => bytes,
        }
    }
}

impl FileBytes {
    fn open(path: &Path) -> Result<FileBytes> {
        let file = File::open(path).map_err(|e| Error::io(path, "open", e))?;
        let length = file
            .metadata()
            .map_err(|e| Error::io(path, "stat", e))?
            .len();
        if length == 0 {
            return Ok(FileBytes::Read(Vec::new()));
        }
        // SAFETY: the partition files are written by this program and not
        // modified while a partition is analysed (the registry hands each
        // partition to one worker at a time), so the mapped bytes do not
        // change under us. A truncation by an outside process could still
        // fault; that is the documented limit of memory maps (as in ripgrep).
        match unsafe { Mmap::map(&file) } {
            Ok(map) => Ok(FileBytes::Mapped(map)),
            // Some file systems cannot map (e.g. ENODEV); read the file instead.
            Err(_) => std::fs::read(path)
                .map(FileBytes::Read)
                .map_err(|e| Error::io(path, "read", e)),
        }
    }
}

/// The two files of a partition folder, held open (mapped) while their
/// columns are in use.
pub struct PartitionFiles {
    orders_path: PathBuf,
    trades_path: PathBuf,
    orders: FileBytes,
    trades: FileBytes,
}

impl PartitionFiles {
    /// Opens `orders.csv` and `trades.csv` in `partition_dir`.
    pub fn open(partition_dir: &Path) -> Result<PartitionFiles> {
        let orders_path = partition_dir.join(FileKind::Orders.partition_file_name());
        let trades_path = partition_dir.join(FileKind::Trades.partition_file_name());
        let orders = FileBytes::open(&orders_path)?;
        let trades = FileBytes::open(&trades_path)?;
        Ok(PartitionFiles {
            orders_path,
            trades_path,
            orders,
            trades,
        })
    }

    /// Parses both files into columns. `key` is the partition key
    /// (`YYYY-MM-DD/security_code`); every row must belong to it.
    pub fn parse(&self, key: &str) -> Result<PartitionData<'_>> {
        Ok(PartitionData {
            orders: parse_orders(&self.orders, &self.orders_path, key)?,
            trades: parse_trades(&self.trades, &self.trades_path, key)?,
        })
    }
}

/// Splits off the header line; an empty file has none.
fn header_and_rows<'b>(bytes: &'b [u8], path: &Path) -> Result<(&'b [u8], format::Lines<'b>)> {
    let mut lines = format::lines(bytes);
    match lines.next() {
        Some((_, header)) => Ok((header, lines)),
        None => Err(ErrorKind::EmptyInput {
            path: path.to_path_buf(),
        }
        .into()),
    }
}

/// Checks that a row's date and security code are the partition's.
fn check_key(
    date: format::Date,
    security_code: &[u8],
    key: &str,
    path: &Path,
    line: u64,
) -> Result<()> {
    let key = key.as_bytes();
    let belongs = key.len() == 11 + security_code.len()
        && key[..10] == date.iso()
        && key[10] == b'/'
        && &key[11..] == security_code;
    if belongs {
        return Ok(());
    }
    Err(ErrorKind::Partition {
        key: String::from_utf8_lossy(key).into_owned(),
        reason: format!(
            "{}:{line}: the row belongs to partition {}/{}",
            path.display(),
            date.iso_string(),
            String::from_utf8_lossy(security_code)
        ),
    }
    .into())
}

/// Parses an orders file (header and rows) into columns.
pub fn parse_orders<'b>(bytes: &'b [u8], path: &Path, key: &str) -> Result<OrderColumns<'b>> {
    let (header, rows) = header_and_rows(bytes, path)?;
    let layout = Layout::from_header(FileKind::Orders, header, path)?;
    let mut scratch = FieldBuf::default();
    let mut columns = OrderColumns::default();
    for (line_number, line) in rows {
        if format::is_blank(line) {
            continue;
        }
        let row = layout
            .parse_order(line, &mut scratch)
            .map_err(|reason| Error::bad_row(path, line_number, reason))?;
        check_key(row.date, row.security_code, key, path, line_number)?;
        columns.push(&row);
    }
    Ok(columns)
}

/// Parses a trades file (header and rows) into columns.
pub fn parse_trades(bytes: &[u8], path: &Path, key: &str) -> Result<TradeColumns> {
    let (header, rows) = header_and_rows(bytes, path)?;
    let layout = Layout::from_header(FileKind::Trades, header, path)?;
    let mut scratch = FieldBuf::default();
    let mut columns = TradeColumns {
        has_aggressor_column: layout.has_aggressor_side(),
        ..TradeColumns::default()
    };
    for (line_number, line) in rows {
        if format::is_blank(line) {
            continue;
        }
        let row = layout
            .parse_trade(line, &mut scratch)
            .map_err(|reason| Error::bad_row(path, line_number, reason))?;
        check_key(row.date, row.security_code, key, path, line_number)?;
        columns.push(&row);
    }
    Ok(columns)
}

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
//!
//! Validation stays complete but is made cheap the way extraction makes it
//! cheap: each line is classified into bit masks
//! ([`LineClasses`]), checked and converted by
//! [`Layout::parse_order_classified`] / [`Layout::parse_trade_classified`],
//! and only a line they do not take (quotes, a line over 127 bytes, any
//! invalid field) goes through the full parser, which then gives the exact
//! reason. Every row of a partition repeats the same date and code, so the
//! key is checked once in full ([`KeyCheck`]) and afterwards by comparing
//! bytes.

use std::fs::File;
use std::ops::Deref;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use crate::error::{Error, ErrorKind, Result};
use crate::format::classify::LineClasses;
use crate::format::{
    self, ClassifiedOrder, ClassifiedTrade, FieldBuf, FileKind, Layout, OrderType, Side,
};

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

    /// Room for `rows` more rows in every column.
    fn reserve(&mut self, rows: usize) {
        self.order_id.reserve(rows);
        self.time_ns.reserve(rows);
        self.time_text.reserve(rows);
        self.side.reserve(rows);
        self.side_text.reserve(rows);
        self.price.reserve(rows);
        self.quantity.reserve(rows);
        self.order_type.reserve(rows);
    }

    /// Appends one order row read by the fast path.
    fn push_classified(&mut self, row: &ClassifiedOrder<'a>) {
        self.order_id.push(row.order_id);
        self.time_ns.push(row.time_ns);
        self.time_text.push(row.time_text);
        self.side.push(row.side);
        self.side_text.push(row.side_text);
        self.price.push(row.price);
        self.quantity.push(row.quantity);
        self.order_type.push(row.order_type);
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

    /// Room for `rows` more rows in every column.
    fn reserve(&mut self, rows: usize) {
        self.trade_id.reserve(rows);
        self.time_ns.reserve(rows);
        self.price.reserve(rows);
        self.quantity.reserve(rows);
        self.buy_order_id.reserve(rows);
        self.sell_order_id.reserve(rows);
        self.aggressor_side.reserve(rows);
    }

    /// Appends one trade row read by the fast path.
    fn push_classified(&mut self, row: &ClassifiedTrade<'_>) {
        self.trade_id.push(row.trade_id);
        self.time_ns.push(row.time_ns);
        self.price.push(row.price);
        self.quantity.push(row.quantity);
        self.buy_order_id.push(row.buy_order_id);
        self.sell_order_id.push(row.sell_order_id);
        self.aggressor_side.push(row.aggressor_side);
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

/// The header line and where the rows start; an empty file has no header.
fn header_and_body<'b>(bytes: &'b [u8], path: &Path) -> Result<(&'b [u8], usize)> {
    if bytes.is_empty() {
        return Err(ErrorKind::EmptyInput {
            path: path.to_path_buf(),
        }
        .into());
    }
    let body = memchr::memchr(b'\n', bytes).map_or(bytes.len(), |at| at + 1);
    Ok((format::strip_terminator(&bytes[..body]), body))
}

/// About how many rows `body` holds, a little over rather than under so
/// that the columns are allocated once: the body's length over the mean
/// length of the lines in its first 64 KiB.
fn estimated_rows(body: &[u8]) -> usize {
    let sample = &body[..body.len().min(64 * 1024)];
    let lines = memchr::memchr_iter(b'\n', sample).count().max(1);
    let estimate = body.len() / sample.len().div_ceil(lines).max(1);
    estimate + estimate / 8 + 16
}

/// One line of a partition file: its number, its content (terminator
/// removed) and, when it is short enough, its classes.
struct Line<'b> {
    number: u64,
    content: &'b [u8],
    classes: Option<LineClasses>,
}

/// The lines of a file's body, each classified when it fits the masks,
/// numbered from 2 (the header is line 1). Cut exactly as
/// [`format::lines`] cuts them: at `\n`, one `\r` before it dropped, a
/// last line without a terminator kept.
struct ClassifiedLines<'b> {
    bytes: &'b [u8],
    at: usize,
    next_number: u64,
}

impl<'b> ClassifiedLines<'b> {
    fn new(bytes: &'b [u8], body: usize) -> ClassifiedLines<'b> {
        ClassifiedLines {
            bytes,
            at: body,
            next_number: 2,
        }
    }
}

impl<'b> Iterator for ClassifiedLines<'b> {
    type Item = Line<'b>;

    #[inline]
    fn next(&mut self) -> Option<Line<'b>> {
        let start = self.at;
        if start >= self.bytes.len() {
            return None;
        }
        let classes = LineClasses::of_line(self.bytes, start);
        let content = match &classes {
            Some(classes) => {
                self.at = start + classes.next;
                &self.bytes[start..start + classes.len]
            }
            None => {
                self.at = memchr::memchr(b'\n', &self.bytes[start..])
                    .map_or(self.bytes.len(), |offset| start + offset + 1);
                format::strip_terminator(&self.bytes[start..self.at])
            }
        };
        let number = self.next_number;
        self.next_number += 1;
        Some(Line {
            number,
            content,
            classes,
        })
    }
}

/// Checks that rows belong to the partition. A row's date and code are
/// checked in full once; a later row whose two fields are the same bytes
/// is then known to pass, which is every row of a well-formed file.
struct KeyCheck<'k, 'b> {
    key: &'k str,
    path: &'k Path,
    /// The `date` and `security_code` bytes of a row that passed.
    known: Option<(&'b [u8], &'b [u8])>,
}

impl<'k, 'b> KeyCheck<'k, 'b> {
    fn new(key: &'k str, path: &'k Path) -> KeyCheck<'k, 'b> {
        KeyCheck {
            key,
            path,
            known: None,
        }
    }

    /// True when the fields, as written, name this partition. False means
    /// "take the full parse", which reports what is wrong.
    #[inline]
    fn accepts(&mut self, date_text: &'b [u8], code_text: &'b [u8]) -> bool {
        if self.known == Some((date_text, code_text)) {
            return true;
        }
        let belongs = format::values::parse_date(date_text).is_some_and(|date| {
            format::values::is_valid_security_code(code_text)
                && belongs_to(date, code_text, self.key)
        });
        if belongs {
            self.known = Some((date_text, code_text));
        }
        belongs
    }

    /// The full check of a row the full parser read.
    fn check(&self, date: format::Date, security_code: &[u8], line: u64) -> Result<()> {
        check_key(date, security_code, self.key, self.path, line)
    }
}

/// True when a date and security code make the partition key `key`.
fn belongs_to(date: format::Date, security_code: &[u8], key: &str) -> bool {
    let key = key.as_bytes();
    key.len() == 11 + security_code.len()
        && key[..10] == date.iso()
        && key[10] == b'/'
        && &key[11..] == security_code
}

/// Checks that a row's date and security code are the partition's.
fn check_key(
    date: format::Date,
    security_code: &[u8],
    key: &str,
    path: &Path,
    line: u64,
) -> Result<()> {
    if belongs_to(date, security_code, key) {
        return Ok(());
    }
    Err(ErrorKind::Partition {
        key: key.to_owned(),
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
    let (header, body) = header_and_body(bytes, path)?;
    let layout = Layout::from_header(FileKind::Orders, header, path)?;
    let mut scratch = FieldBuf::default();
    let mut columns = OrderColumns::default();
    columns.reserve(estimated_rows(&bytes[body..]));
    let mut keys = KeyCheck::new(key, path);
    for line in ClassifiedLines::new(bytes, body) {
        if let Some(classes) = &line.classes {
            let fast = match classes.narrow::<u64>() {
                Some(short) => layout.parse_order_classified(line.content, &short),
                None => layout.parse_order_classified(line.content, classes),
            };
            if let Some(row) = fast
                && keys.accepts(row.date_text, row.security_code_text)
            {
                columns.push_classified(&row);
                continue;
            }
        }
        if format::is_blank(line.content) {
            continue;
        }
        let row = layout
            .parse_order(line.content, &mut scratch)
            .map_err(|reason| Error::bad_row(path, line.number, reason))?;
        keys.check(row.date, row.security_code, line.number)?;
        columns.push(&row);
    }
    Ok(columns)
}

/// Parses a trades file (header and rows) into columns.
pub fn parse_trades(bytes: &[u8], path: &Path, key: &str) -> Result<TradeColumns> {
    let (header, body) = header_and_body(bytes, path)?;
    let layout = Layout::from_header(FileKind::Trades, header, path)?;
    let mut scratch = FieldBuf::default();
    let mut columns = TradeColumns {
        has_aggressor_column: layout.has_aggressor_side(),
        ..TradeColumns::default()
    };
    columns.reserve(estimated_rows(&bytes[body..]));
    let mut keys = KeyCheck::new(key, path);
    for line in ClassifiedLines::new(bytes, body) {
        if let Some(classes) = &line.classes {
            let fast = match classes.narrow::<u64>() {
                Some(short) => layout.parse_trade_classified(line.content, &short),
                None => layout.parse_trade_classified(line.content, classes),
            };
            if let Some(row) = fast
                && keys.accepts(row.date_text, row.security_code_text)
            {
                columns.push_classified(&row);
                continue;
            }
        }
        if format::is_blank(line.content) {
            continue;
        }
        let row = layout
            .parse_trade(line.content, &mut scratch)
            .map_err(|reason| Error::bad_row(path, line.number, reason))?;
        keys.check(row.date, row.security_code, line.number)?;
        columns.push(&row);
    }
    Ok(columns)
}

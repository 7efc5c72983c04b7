//! Loading a partition: `orders.csv` and `trades.csv` of one partition folder
//! into columnar arrays ([`PartitionData`]).
//!
//! The files are memory-mapped (with a fallback to a plain read where mapping
//! is impossible) and parsed with [`crate::format`] straight into one `Vec`
//! per column: no allocation per row. Text the outputs echo verbatim (an
//! order's `time` and `side`) is kept in a form that gives it back exactly
//! (nanoseconds with their number of fraction digits, the side's byte), so
//! the columns own everything and the maps can go once a partition is read.
//!
//! Partition files hold rows the extractor validated, so a row that fails to
//! parse here means the folder was damaged or edited: the partition fails with
//! an error naming file, line and reason. So does a row that belongs to
//! another partition.
//!
//! Validation stays complete but is made cheap. Under the spec's own header
//! a row is read in one pass, each field checked and converted at once
//! ([`format::scan`]); under any other header each line is classified into
//! bit masks ([`LineClasses`]) and read by
//! [`Layout::parse_order_classified`] / [`Layout::parse_trade_classified`].
//! Only a line these do not take (quotes, a line over 127 bytes, any invalid
//! field) goes through the full parser, which then gives the exact reason.
//! Every row of a partition repeats the same date and code, so the key is
//! checked once in full ([`KeyCheck`]) and afterwards by comparing bytes.

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
/// order ids included; the analysis decides which row counts). Not
/// `PartialEq`: a missing price is NaN, which equals nothing.
#[derive(Debug, Default, Clone)]
pub struct OrderColumns {
    /// `order_id`.
    pub order_id: Vec<u64>,
    /// `time` as nanoseconds since midnight.
    pub time_ns: Vec<u64>,
    /// How many fraction digits `time` was written with (0 for none): with
    /// `time_ns` this gives the text back exactly
    /// ([`crate::stats::push_time_text`]), echoed in the detailed output. (The
    /// text itself would be a pointer into the file, twice the size of the
    /// nanoseconds, and reading it back for each taker missed the cache.)
    pub time_fraction_digits: Vec<u8>,
    /// `side`.
    pub side: Vec<Side>,
    /// `side` as written in the file (unquoted, one byte), echoed in the
    /// detailed output.
    pub side_text: Vec<u8>,
    /// `price`, NaN for a market order without one ([`OrderColumns::price_of`]
    /// gives the `Option`): half the memory of an `Option<f64>`, and a
    /// parsed price is never NaN.
    pub price: Vec<f64>,
    /// `quantity`.
    pub quantity: Vec<f64>,
    /// `order_type` (limit when the column is absent or the field empty).
    pub order_type: Vec<OrderType>,
}

impl OrderColumns {
    /// The price of row `row`; `None` for a market order without one.
    #[inline]
    pub fn price_of(&self, row: usize) -> Option<f64> {
        let price = self.price[row];
        (!price.is_nan()).then_some(price)
    }

    /// Number of order rows.
    pub fn len(&self) -> usize {
        self.order_id.len()
    }

    /// True when there are no order rows.
    pub fn is_empty(&self) -> bool {
        self.order_id.is_empty()
    }

    /// The columns emptied, their allocations kept, for the rows of another
    /// file: a worker reuses them from one partition to the next instead of
    /// faulting in fresh memory for each.
    pub fn recycle(self) -> OrderColumns {
        OrderColumns {
            order_id: emptied(self.order_id),
            time_ns: emptied(self.time_ns),
            time_fraction_digits: emptied(self.time_fraction_digits),
            side: emptied(self.side),
            side_text: emptied(self.side_text),
            price: emptied(self.price),
            quantity: emptied(self.quantity),
            order_type: emptied(self.order_type),
        }
    }

    /// Room for `rows` more rows in every column.
    fn reserve(&mut self, rows: usize) {
        self.order_id.reserve(rows);
        self.time_ns.reserve(rows);
        self.time_fraction_digits.reserve(rows);
        self.side.reserve(rows);
        self.side_text.reserve(rows);
        self.price.reserve(rows);
        self.quantity.reserve(rows);
        self.order_type.reserve(rows);
    }

    /// Appends one order row.
    pub fn push(&mut self, row: &format::OrderRow<'_>) {
        self.order_id.push(row.order_id);
        self.time_ns.push(row.time_ns);
        self.time_fraction_digits
            .push(format::time_fraction_digits(row.time_text));
        self.side.push(row.side);
        self.side_text.push(row.side_text);
        self.price.push(row.price.unwrap_or(f64::NAN));
        self.quantity.push(row.quantity);
        self.order_type.push(row.order_type);
    }
}

/// Rows the fast path read wait here, up to [`BATCH_ROWS`] at a time,
/// before they are appended to the columns, one column at a time.
///
/// Why: a `Vec::push` loads the vector's pointer, length and capacity and
/// stores its new length, and after a store into one column's memory the
/// compiler cannot assume the other columns' lengths unchanged, so a row
/// paid all of that again for each of its columns. A batch's arrays live
/// on the stack, written at one index kept in a register.
struct OrderBatch {
    len: usize,
    order_id: [u64; BATCH_ROWS],
    time_ns: [u64; BATCH_ROWS],
    time_fraction_digits: [u8; BATCH_ROWS],
    side: [Side; BATCH_ROWS],
    side_text: [u8; BATCH_ROWS],
    price: [f64; BATCH_ROWS],
    quantity: [f64; BATCH_ROWS],
    order_type: [OrderType; BATCH_ROWS],
}

/// Rows per [`OrderBatch`] / [`TradeBatch`].
const BATCH_ROWS: usize = 64;

impl Default for OrderBatch {
    fn default() -> OrderBatch {
        OrderBatch {
            len: 0,
            order_id: [0; BATCH_ROWS],
            time_ns: [0; BATCH_ROWS],
            time_fraction_digits: [0; BATCH_ROWS],
            side: [Side::Buy; BATCH_ROWS],
            side_text: [0; BATCH_ROWS],
            price: [0.0; BATCH_ROWS],
            quantity: [0.0; BATCH_ROWS],
            order_type: [OrderType::Limit; BATCH_ROWS],
        }
    }
}

impl OrderBatch {
    /// Adds a row; true when the batch is then full.
    #[inline(always)]
    fn push(&mut self, row: &ClassifiedOrder<'_>) -> bool {
        let at = self.len % BATCH_ROWS;
        self.order_id[at] = row.order_id;
        self.time_ns[at] = row.time_ns;
        self.time_fraction_digits[at] = format::time_fraction_digits(row.time_text);
        self.side[at] = row.side;
        self.side_text[at] = row.side_text;
        self.price[at] = row.price.unwrap_or(f64::NAN);
        self.quantity[at] = row.quantity;
        self.order_type[at] = row.order_type;
        self.len = at + 1;
        self.len == BATCH_ROWS
    }

    /// Appends the rows to `columns` and empties the batch.
    fn drain_into(&mut self, columns: &mut OrderColumns) {
        let n = self.len;
        columns.order_id.extend_from_slice(&self.order_id[..n]);
        columns.time_ns.extend_from_slice(&self.time_ns[..n]);
        columns
            .time_fraction_digits
            .extend_from_slice(&self.time_fraction_digits[..n]);
        columns.side.extend_from_slice(&self.side[..n]);
        columns.side_text.extend_from_slice(&self.side_text[..n]);
        columns.price.extend_from_slice(&self.price[..n]);
        columns.quantity.extend_from_slice(&self.quantity[..n]);
        columns.order_type.extend_from_slice(&self.order_type[..n]);
        self.len = 0;
    }
}

/// The trades of a partition, one `Vec` per column, in file order.
#[derive(Debug, Default, Clone, PartialEq)]
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
    /// The columns emptied, their allocations kept (see
    /// [`OrderColumns::recycle`]).
    pub fn recycle(self) -> TradeColumns {
        TradeColumns {
            trade_id: emptied(self.trade_id),
            time_ns: emptied(self.time_ns),
            price: emptied(self.price),
            quantity: emptied(self.quantity),
            buy_order_id: emptied(self.buy_order_id),
            sell_order_id: emptied(self.sell_order_id),
            aggressor_side: emptied(self.aggressor_side),
            has_aggressor_column: false,
        }
    }

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

/// [`OrderBatch`] for trade rows.
struct TradeBatch {
    len: usize,
    trade_id: [u64; BATCH_ROWS],
    time_ns: [u64; BATCH_ROWS],
    price: [f64; BATCH_ROWS],
    quantity: [f64; BATCH_ROWS],
    buy_order_id: [u64; BATCH_ROWS],
    sell_order_id: [u64; BATCH_ROWS],
    aggressor_side: [Option<Side>; BATCH_ROWS],
}

impl Default for TradeBatch {
    fn default() -> TradeBatch {
        TradeBatch {
            len: 0,
            trade_id: [0; BATCH_ROWS],
            time_ns: [0; BATCH_ROWS],
            price: [0.0; BATCH_ROWS],
            quantity: [0.0; BATCH_ROWS],
            buy_order_id: [0; BATCH_ROWS],
            sell_order_id: [0; BATCH_ROWS],
            aggressor_side: [None; BATCH_ROWS],
        }
    }
}

impl TradeBatch {
    /// Adds a row; true when the batch is then full.
    #[inline(always)]
    fn push(&mut self, row: &ClassifiedTrade) -> bool {
        let at = self.len % BATCH_ROWS;
        self.trade_id[at] = row.trade_id;
        self.time_ns[at] = row.time_ns;
        self.price[at] = row.price;
        self.quantity[at] = row.quantity;
        self.buy_order_id[at] = row.buy_order_id;
        self.sell_order_id[at] = row.sell_order_id;
        self.aggressor_side[at] = row.aggressor_side;
        self.len = at + 1;
        self.len == BATCH_ROWS
    }

    /// Appends the rows to `columns` and empties the batch.
    fn drain_into(&mut self, columns: &mut TradeColumns) {
        let n = self.len;
        columns.trade_id.extend_from_slice(&self.trade_id[..n]);
        columns.time_ns.extend_from_slice(&self.time_ns[..n]);
        columns.price.extend_from_slice(&self.price[..n]);
        columns.quantity.extend_from_slice(&self.quantity[..n]);
        columns
            .buy_order_id
            .extend_from_slice(&self.buy_order_id[..n]);
        columns
            .sell_order_id
            .extend_from_slice(&self.sell_order_id[..n]);
        columns
            .aggressor_side
            .extend_from_slice(&self.aggressor_side[..n]);
        self.len = 0;
    }
}

/// `column` cleared, its allocation kept.
fn emptied<T>(mut column: Vec<T>) -> Vec<T> {
    column.clear();
    column
}

/// Everything the analyses read from one partition.
#[derive(Debug, Default, Clone)]
pub struct PartitionData {
    /// The orders.
    pub orders: OrderColumns,
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
    pub fn parse(&self, key: &str) -> Result<PartitionData> {
        self.parse_into(key, PartitionData::default())
    }

    /// [`PartitionFiles::parse`] into the (recycled) allocations of
    /// `columns`.
    pub fn parse_into(&self, key: &str, columns: PartitionData) -> Result<PartitionData> {
        Ok(PartitionData {
            orders: parse_orders_into(
                &self.orders,
                &self.orders_path,
                key,
                columns.orders.recycle(),
            )?,
            trades: parse_trades_into(
                &self.trades,
                &self.trades_path,
                key,
                columns.trades.recycle(),
            )?,
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

/// Reads one kind of row into its columns: a fast reader for the usual
/// line, the full parser for the rest.
trait RowReader<'b> {
    /// Reads the row at `bytes[start..]` if the fast path takes it (key
    /// included) and returns where the next line starts; `None` leaves
    /// the line to [`RowReader::read_full`].
    fn read_fast(&mut self, bytes: &'b [u8], start: usize) -> Option<usize>;

    /// Reads line `number` (content without terminator, not blank) with
    /// the full parser: an error names the line and the reason.
    fn read_full(&mut self, number: u64, content: &'b [u8]) -> Result<()>;

    /// After the last line: rows the reader still holds go to its columns.
    fn finish(&mut self) {}
}

/// Runs `reader` over the rows of a file whose header ends at `body`.
/// Lines are numbered from 2 (the header is line 1) and cut as
/// [`format::lines`] cuts them: at `\n`, one `\r` before it dropped, a
/// last line without a terminator kept; blank lines are skipped.
fn read_rows<'b>(bytes: &'b [u8], body: usize, reader: &mut impl RowReader<'b>) -> Result<()> {
    let mut start = body;
    let mut number = 2;
    while start < bytes.len() {
        start = match reader.read_fast(bytes, start) {
            Some(next) => next,
            None => {
                let end = memchr::memchr(b'\n', &bytes[start..])
                    .map_or(bytes.len(), |offset| start + offset + 1);
                let content = format::strip_terminator(&bytes[start..end]);
                if !format::is_blank(content) {
                    reader.read_full(number, content)?;
                }
                end
            }
        };
        number += 1;
    }
    reader.finish();
    Ok(())
}

/// Checks that rows belong to the partition. A row's date and code are
/// checked in full once; a later row whose two fields are the same bytes
/// is then known to pass, which is every row of a well-formed file.
struct KeyCheck<'k, 'b> {
    key: &'k str,
    path: &'k Path,
    /// The `date` and `security_code` bytes of a row that passed.
    known: Option<(&'b [u8], &'b [u8])>,
    /// Under the spec's header: the bytes `date,security_code,` that
    /// start a row that passed (empty until one has).
    known_prefix: &'b [u8],
}

impl<'k, 'b> KeyCheck<'k, 'b> {
    fn new(key: &'k str, path: &'k Path) -> KeyCheck<'k, 'b> {
        KeyCheck {
            key,
            path,
            known: None,
            known_prefix: &[],
        }
    }

    /// Under the spec's header (date and code first): where the third
    /// field of the line at `bytes[start..]` begins, when its key is the
    /// partition's; `None` means "take the full parse".
    ///
    /// The byte comparison, taken on every row, is inlined into the row
    /// readers; the full check, once per file, is kept out of line, so that
    /// the readers do not pay a call and its register saves per row.
    #[inline(always)]
    fn skip_key(&mut self, bytes: &'b [u8], start: usize) -> Option<usize> {
        let prefix = self.known_prefix;
        let end = start + prefix.len();
        if !prefix.is_empty() && bytes.get(start..end).is_some_and(|b| same_bytes(b, prefix)) {
            return Some(end);
        }
        self.check_new_key(bytes, start)
    }

    /// [`KeyCheck::skip_key`] for a row whose key bytes are not the known
    /// ones.
    #[cold]
    #[inline(never)]
    fn check_new_key(&mut self, bytes: &'b [u8], start: usize) -> Option<usize> {
        let (date_text, code_text, values_start) = format::scan::key_fields(bytes, start)?;
        if !self.accepts(date_text, code_text) {
            return None;
        }
        self.known_prefix = &bytes[start..values_start];
        Some(values_start)
    }

    /// True when the fields, as written, name this partition. False means
    /// "take the full parse", which reports what is wrong.
    #[inline]
    fn accepts(&mut self, date_text: &'b [u8], code_text: &'b [u8]) -> bool {
        if let Some((date, code)) = self.known
            && same_bytes(date, date_text)
            && same_bytes(code, code_text)
        {
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

/// `a == b` for short slices, a word at a time without a call to `memcmp`
/// (whose call and set-up cost more than these few bytes): up to 32 bytes
/// (a row's `date,security_code,`, compared on every row) the first and
/// the last word of 8 or 16 bytes (overlapping); longer, 8-byte words from
/// the start, then the last eight bytes.
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let len = a.len();
    if len != b.len() {
        return false;
    }
    let word = |bytes: &[u8], at: usize| {
        bytes[at..]
            .first_chunk::<8>()
            .map(|chunk| u64::from_le_bytes(*chunk))
    };
    let double_word = |bytes: &[u8], at: usize| {
        bytes[at..]
            .first_chunk::<16>()
            .map(|chunk| u128::from_le_bytes(*chunk))
    };
    match len {
        0..8 => a == b,
        8..=16 => word(a, 0) == word(b, 0) && word(a, len - 8) == word(b, len - 8),
        17..=32 => {
            double_word(a, 0) == double_word(b, 0)
                && double_word(a, len - 16) == double_word(b, len - 16)
        }
        _ => {
            let mut at = 0;
            while at + 8 < len {
                if word(a, at) != word(b, at) {
                    return false;
                }
                at += 8;
            }
            word(a, len - 8) == word(b, len - 8)
        }
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

/// The orders of one file being read.
struct OrderReader<'b, 'k> {
    layout: Layout,
    path: &'k Path,
    keys: KeyCheck<'k, 'b>,
    scratch: FieldBuf,
    /// The fast path's rows not yet in `columns`, which come after them.
    batch: OrderBatch,
    columns: OrderColumns,
}

impl<'b> RowReader<'b> for OrderReader<'b, '_> {
    #[inline]
    fn read_fast(&mut self, bytes: &'b [u8], start: usize) -> Option<usize> {
        let (row, next) = if self.layout.in_spec_order() {
            let values_start = self.keys.skip_key(bytes, start)?;
            format::scan::scan_order(bytes, values_start, self.layout.has_order_type())?
        } else {
            let classes = LineClasses::of_line(bytes, start)?;
            let content = &bytes[start..start + classes.len];
            let (key, row) = match classes.narrow::<u64>() {
                Some(short) => self.layout.parse_order_classified(content, &short),
                None => self.layout.parse_order_classified(content, &classes),
            }?;
            if !self
                .keys
                .accepts(&content[key.date], &content[key.security_code])
            {
                return None;
            }
            (row, start + classes.next)
        };
        if self.batch.push(&row) {
            self.batch.drain_into(&mut self.columns);
        }
        Some(next)
    }

    fn read_full(&mut self, number: u64, content: &'b [u8]) -> Result<()> {
        let row = self
            .layout
            .parse_order(content, &mut self.scratch)
            .map_err(|reason| Error::bad_row(self.path, number, reason))?;
        self.keys.check(row.date, row.security_code, number)?;
        self.batch.drain_into(&mut self.columns);
        self.columns.push(&row);
        Ok(())
    }

    fn finish(&mut self) {
        self.batch.drain_into(&mut self.columns);
    }
}

/// The trades of one file being read.
struct TradeReader<'b, 'k> {
    layout: Layout,
    path: &'k Path,
    keys: KeyCheck<'k, 'b>,
    scratch: FieldBuf,
    /// The fast path's rows not yet in `columns`, which come after them.
    batch: TradeBatch,
    columns: TradeColumns,
}

impl<'b> RowReader<'b> for TradeReader<'b, '_> {
    #[inline]
    fn read_fast(&mut self, bytes: &'b [u8], start: usize) -> Option<usize> {
        let (row, next) = if self.layout.in_spec_order() {
            let values_start = self.keys.skip_key(bytes, start)?;
            format::scan::scan_trade(bytes, values_start, self.layout.has_aggressor_side())?
        } else {
            let classes = LineClasses::of_line(bytes, start)?;
            let content = &bytes[start..start + classes.len];
            let (key, row) = match classes.narrow::<u64>() {
                Some(short) => self.layout.parse_trade_classified(content, &short),
                None => self.layout.parse_trade_classified(content, &classes),
            }?;
            if !self
                .keys
                .accepts(&content[key.date], &content[key.security_code])
            {
                return None;
            }
            (row, start + classes.next)
        };
        if self.batch.push(&row) {
            self.batch.drain_into(&mut self.columns);
        }
        Some(next)
    }

    fn read_full(&mut self, number: u64, content: &'b [u8]) -> Result<()> {
        let row = self
            .layout
            .parse_trade(content, &mut self.scratch)
            .map_err(|reason| Error::bad_row(self.path, number, reason))?;
        self.keys.check(row.date, row.security_code, number)?;
        self.batch.drain_into(&mut self.columns);
        self.columns.push(&row);
        Ok(())
    }

    fn finish(&mut self) {
        self.batch.drain_into(&mut self.columns);
    }
}

/// Parses an orders file (header and rows) into columns.
pub fn parse_orders(bytes: &[u8], path: &Path, key: &str) -> Result<OrderColumns> {
    parse_orders_into(bytes, path, key, OrderColumns::default())
}

/// [`parse_orders`] into `columns`, which are empty.
fn parse_orders_into(
    bytes: &[u8],
    path: &Path,
    key: &str,
    columns: OrderColumns,
) -> Result<OrderColumns> {
    let (header, body) = header_and_body(bytes, path)?;
    let mut reader = OrderReader {
        layout: Layout::from_header(FileKind::Orders, header, path)?,
        path,
        keys: KeyCheck::new(key, path),
        scratch: FieldBuf::default(),
        batch: OrderBatch::default(),
        columns,
    };
    reader.columns.reserve(estimated_rows(&bytes[body..]));
    read_rows(bytes, body, &mut reader)?;
    Ok(reader.columns)
}

/// Parses a trades file (header and rows) into columns.
pub fn parse_trades(bytes: &[u8], path: &Path, key: &str) -> Result<TradeColumns> {
    parse_trades_into(bytes, path, key, TradeColumns::default())
}

/// [`parse_trades`] into `columns`, which are empty.
fn parse_trades_into(
    bytes: &[u8],
    path: &Path,
    key: &str,
    columns: TradeColumns,
) -> Result<TradeColumns> {
    let (header, body) = header_and_body(bytes, path)?;
    let layout = Layout::from_header(FileKind::Trades, header, path)?;
    let mut reader = TradeReader {
        columns: TradeColumns {
            has_aggressor_column: layout.has_aggressor_side(),
            ..columns
        },
        layout,
        path,
        keys: KeyCheck::new(key, path),
        scratch: FieldBuf::default(),
        batch: TradeBatch::default(),
    };
    reader.columns.reserve(estimated_rows(&bytes[body..]));
    read_rows(bytes, body, &mut reader)?;
    Ok(reader.columns)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The loader before its fast paths: every line through the full
    /// parser. The fast loader must give the same columns or the same error.
    fn orders_by_full_parse(bytes: &[u8], path: &Path, key: &str) -> Result<OrderColumns> {
        let mut lines = format::lines(bytes);
        let Some((_, header)) = lines.next() else {
            return Err(ErrorKind::EmptyInput {
                path: path.to_path_buf(),
            }
            .into());
        };
        let layout = Layout::from_header(FileKind::Orders, header, path)?;
        let mut scratch = FieldBuf::default();
        let mut columns = OrderColumns::default();
        for (number, line) in lines {
            if format::is_blank(line) {
                continue;
            }
            let row = layout
                .parse_order(line, &mut scratch)
                .map_err(|reason| Error::bad_row(path, number, reason))?;
            check_key(row.date, row.security_code, key, path, number)?;
            columns.push(&row);
        }
        Ok(columns)
    }

    /// See [`orders_by_full_parse`].
    fn trades_by_full_parse(bytes: &[u8], path: &Path, key: &str) -> Result<TradeColumns> {
        let mut lines = format::lines(bytes);
        let Some((_, header)) = lines.next() else {
            return Err(ErrorKind::EmptyInput {
                path: path.to_path_buf(),
            }
            .into());
        };
        let layout = Layout::from_header(FileKind::Trades, header, path)?;
        let mut scratch = FieldBuf::default();
        let mut columns = TradeColumns {
            has_aggressor_column: layout.has_aggressor_side(),
            ..TradeColumns::default()
        };
        for (number, line) in lines {
            if format::is_blank(line) {
                continue;
            }
            let row = layout
                .parse_trade(line, &mut scratch)
                .map_err(|reason| Error::bad_row(path, number, reason))?;
            check_key(row.date, row.security_code, key, path, number)?;
            columns.push(&row);
        }
        Ok(columns)
    }

    const KEY: &str = "2024-01-02/600000";

    /// Headers: the spec's order with and without the optional column,
    /// reordered, with an extra column. Rows as they are written under
    /// the first header; the others get them permuted to match.
    const ORDER_HEADERS: [&str; 4] = [
        "date,security_code,order_id,time,side,price,quantity,order_type",
        "date,security_code,order_id,time,side,price,quantity",
        "quantity,price,side,time,order_id,security_code,date,order_type",
        "date,security_code,order_id,time,side,price,quantity,order_type,note",
    ];
    const ORDER_ROWS: [&str; 12] = [
        "2024-01-02,600000,1,09:30:00.027413,S,7.63,1600,L",
        "2024-01-02,600000,2,09:30:00,B,,100,M",
        "2024-01-02,600000,3,09:30:01.5,1,7.5,0.25,",
        "20240102,600000,4,09:30:02.123456789,2,0,1.,L",
        "2024-01-02,\"600000\",5,09:30:03,B,7.61,300,L",
        "2024-01-02,600000,00000000000000000000006,09:30:04,S,7.70,100,L",
        "2024-01-02,600000,7,09:30:05,S,1234567890.123456789,100,L",
        "",
        "2024-01-02,600000,8,09:30:06,B,,100,L",
        "2024-01-03,600000,9,09:30:07,B,7.5,100,L",
        "2024-01-02,600000,10,09:30:08,B,7.5,0,L",
        "2024-01-02,600000,11,09:30:09,X,7.5,100,L",
    ];
    const TRADE_HEADERS: [&str; 4] = [
        "date,security_code,trade_id,time,price,quantity,buy_order_id,sell_order_id,aggressor_side",
        "date,security_code,trade_id,time,price,quantity,buy_order_id,sell_order_id",
        "sell_order_id,buy_order_id,quantity,price,time,trade_id,security_code,date,aggressor_side",
        "extra,date,security_code,trade_id,time,price,quantity,buy_order_id,sell_order_id,aggressor_side",
    ];
    const TRADE_ROWS: [&str; 10] = [
        "2024-01-02,600000,1,09:30:00.502638,7.57,100,6,4,B",
        "2024-01-02,600000,0,09:30:00.6,7.55,100,,7,",
        "2024-01-02,600000,3,09:30:01,7.55,0.5,0,,1",
        "2024-01-02,600000,4,09:30:02,.5,100,18446744073709551615,2,2",
        "2024-01-02,\"600000\",5,09:30:03,7.5,100,2,3,S",
        "",
        "2024-01-02,600000,6,09:30:04,0,100,2,3,S",
        "2024-01-02,600001,7,09:30:05,7.5,100,2,3,S",
        "2024-01-02,600000,8,09:30:06,7.5,100,2,3,s",
        "2024-01-02,600000,9,9:30:06,7.5,100,2,3,B",
    ];

    /// A row of the first header's columns rearranged for `header`.
    fn arrange(row: &str, first_header: &str, header: &str) -> String {
        if row.is_empty() {
            return String::new();
        }
        let names: Vec<&str> = first_header.split(',').collect();
        let fields: Vec<&str> = row.split(',').collect();
        header
            .split(',')
            .map(|name| match names.iter().position(|n| *n == name) {
                Some(at) => fields[at],
                None if name == "note" => "a long note that makes the line longer than the 127 bytes that line masks can hold, so it takes the byte path",
                None => "x",
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Files made of a header and a window of the rows (so that every bad
    /// row is the first error of some file, and some files have none), with
    /// each line terminator, with and without a final one.
    fn files(headers: &[&str], rows: &[&str]) -> Vec<String> {
        let mut files = Vec::new();
        for header in headers {
            let arranged: Vec<String> = rows
                .iter()
                .map(|row| arrange(row, headers[0], header))
                .collect();
            for first in 0..arranged.len() {
                for last in first..=arranged.len() {
                    for terminator in ["\n", "\r\n"] {
                        let mut text = format!("{header}{terminator}");
                        for row in &arranged[first..last] {
                            text.push_str(row);
                            text.push_str(terminator);
                        }
                        files.push(text.clone());
                        if let Some(cut) = text.strip_suffix(terminator) {
                            files.push(cut.to_owned());
                        }
                    }
                }
            }
        }
        files
    }

    fn outcome<T: std::fmt::Debug>(result: Result<T>) -> String {
        match result {
            Ok(columns) => format!("{columns:?}"),
            Err(error) => format!("error: {error}"),
        }
    }

    #[test]
    fn orders_load_as_the_full_parse_loads_them() {
        let path = Path::new("p/orders.csv");
        let mut loaded = 0;
        for text in files(&ORDER_HEADERS, &ORDER_ROWS) {
            let bytes = text.as_bytes();
            let fast = parse_orders(bytes, path, KEY);
            loaded += usize::from(fast.is_ok());
            assert_eq!(
                outcome(fast),
                outcome(orders_by_full_parse(bytes, path, KEY)),
                "{text:?}"
            );
        }
        assert!(loaded > 100, "{loaded}");
    }

    #[test]
    fn trades_load_as_the_full_parse_loads_them() {
        let path = Path::new("p/trades.csv");
        let mut loaded = 0;
        for text in files(&TRADE_HEADERS, &TRADE_ROWS) {
            let bytes = text.as_bytes();
            let fast = parse_trades(bytes, path, KEY);
            loaded += usize::from(fast.is_ok());
            assert_eq!(
                outcome(fast),
                outcome(trades_by_full_parse(bytes, path, KEY)),
                "{text:?}"
            );
        }
        assert!(loaded > 100, "{loaded}");
    }

    /// Files of hundreds of rows, valid rows of the fast path and of the
    /// full parse (a quoted code; an order id of 23 digits, a trade's
    /// order id of 20) in random runs: the rows come out in file order
    /// across the batches the fast path fills and the full parse's rows
    /// between them.
    #[test]
    fn long_files_keep_their_order_across_batches() {
        let mut next = crate::test_support::xorshift(0x5EED_u64);
        let orders = Path::new("p/orders.csv");
        let trades = Path::new("p/trades.csv");
        let order_rows = [0, 1, 2, 3, 4, 5].map(|i| ORDER_ROWS[i]);
        let trade_rows = [0, 1, 2, 3, 4].map(|i| TRADE_ROWS[i]);
        for round in 0..40 {
            let rows = 1 + next() % 400;
            let mut order_text = format!("{}\n", ORDER_HEADERS[0]);
            let mut trade_text = format!("{}\n", TRADE_HEADERS[0]);
            for _ in 0..rows {
                // Mostly fast rows, so that batches fill between full ones.
                let pick = |next: &mut dyn FnMut() -> u64, count: usize| {
                    if next().is_multiple_of(8) {
                        count - 1
                    } else {
                        (next() % (count as u64 - 1)) as usize
                    }
                };
                order_text.push_str(order_rows[pick(&mut next, order_rows.len())]);
                order_text.push('\n');
                trade_text.push_str(trade_rows[pick(&mut next, trade_rows.len())]);
                trade_text.push('\n');
            }
            let fast = parse_orders(order_text.as_bytes(), orders, KEY).expect("valid orders");
            assert_eq!(fast.len() as u64, rows, "{round}");
            assert_eq!(
                outcome(Ok(fast)),
                outcome(orders_by_full_parse(order_text.as_bytes(), orders, KEY)),
                "{round}"
            );
            let fast = parse_trades(trade_text.as_bytes(), trades, KEY).expect("valid trades");
            assert_eq!(fast.len() as u64, rows, "{round}");
            assert_eq!(
                outcome(Ok(fast)),
                outcome(trades_by_full_parse(trade_text.as_bytes(), trades, KEY)),
                "{round}"
            );
        }
    }

    /// Random edits of whole files (a few bytes replaced, inserted or
    /// removed anywhere, line breaks included) load exactly as the full
    /// parse loads them, under every header.
    #[test]
    fn randomly_edited_files_load_as_the_full_parse_loads_them() {
        let mut next = crate::test_support::xorshift(0x9E37_79B9_7F4A_7C15u64);
        let alphabet = b"0123456789.,:-\"BSLM12x \r\n";
        let orders = Path::new("p/orders.csv");
        let trades = Path::new("p/trades.csv");
        let good_orders: Vec<&str> = ORDER_ROWS[..4].to_vec();
        let good_trades: Vec<&str> = TRADE_ROWS[..4].to_vec();
        for round in 0..3_000 {
            let is_orders = round % 2 == 0;
            let (headers, rows) = if is_orders {
                (&ORDER_HEADERS[..], &good_orders)
            } else {
                (&TRADE_HEADERS[..], &good_trades)
            };
            let header = headers[(next() % headers.len() as u64) as usize];
            let mut text = format!("{header}\n");
            for row in rows.iter() {
                text.push_str(&arrange(row, headers[0], header));
                text.push_str(if next().is_multiple_of(2) {
                    "\n"
                } else {
                    "\r\n"
                });
            }
            let mut bytes = text.into_bytes();
            let header_len = header.len() + 1;
            for _ in 0..1 + next() % 3 {
                let at = header_len + (next() % (bytes.len() - header_len) as u64) as usize;
                let byte = alphabet[(next() % alphabet.len() as u64) as usize];
                match next() % 3 {
                    0 => bytes[at] = byte,
                    1 => bytes.insert(at, byte),
                    _ => {
                        bytes.remove(at);
                    }
                }
            }
            let shown = String::from_utf8_lossy(&bytes);
            if is_orders {
                assert_eq!(
                    outcome(parse_orders(&bytes, orders, KEY)),
                    outcome(orders_by_full_parse(&bytes, orders, KEY)),
                    "{shown:?}"
                );
            } else {
                assert_eq!(
                    outcome(parse_trades(&bytes, trades, KEY)),
                    outcome(trades_by_full_parse(&bytes, trades, KEY)),
                    "{shown:?}"
                );
            }
        }
    }

    /// Recycled columns are empty and keep their allocations, and loading
    /// into them gives what loading into fresh ones gives.
    #[test]
    fn recycled_columns_keep_their_allocations() {
        let text = format!(
            "{}\n{}\n{}\n",
            ORDER_HEADERS[0], ORDER_ROWS[0], ORDER_ROWS[1]
        );
        let path = Path::new("p/orders.csv");
        let columns = parse_orders(text.as_bytes(), path, KEY).expect("loads");
        let (capacity, at) = (columns.time_ns.capacity(), columns.time_ns.as_ptr().addr());
        assert!(capacity >= 2);
        let recycled = columns.recycle();
        // Debug output, as columns are not `PartialEq` (NaN prices).
        assert_eq!(
            format!("{recycled:?}"),
            format!("{:?}", OrderColumns::default())
        );
        assert_eq!(recycled.time_ns.capacity(), capacity);
        assert_eq!(recycled.time_ns.as_ptr().addr(), at);
        let again = text.clone();
        assert_eq!(
            outcome(parse_orders_into(again.as_bytes(), path, KEY, recycled)),
            outcome(parse_orders(again.as_bytes(), path, KEY))
        );
    }

    #[test]
    fn an_empty_file_and_a_header_alone() {
        let path = Path::new("p/orders.csv");
        for text in ["", "\n", ORDER_HEADERS[0], "date,security_code\n"] {
            assert_eq!(
                outcome(parse_orders(text.as_bytes(), path, KEY)),
                outcome(orders_by_full_parse(text.as_bytes(), path, KEY)),
                "{text:?}"
            );
        }
    }

    #[test]
    fn short_slices_compare_as_slices() {
        let mut texts: Vec<Vec<u8>> = [
            &b""[..],
            b"a",
            b"2024-01-02",
            b"2024-01-03",
            b"600000",
            b"12345678",
            b"123456789",
            b"2024-01-02,600000,",
            b"2024-01-02,600001,",
            b"3024-01-02,600000,",
        ]
        .map(<[u8]>::to_vec)
        .to_vec();
        // Every length to 48, and each with one byte changed at each end
        // and in the middle.
        let long = b"2024-01-02,600519.SH,2024-01-02,600519.SH,abcdef";
        for len in 0..=long.len() {
            texts.push(long[..len].to_vec());
            for at in [0, len / 2, len.saturating_sub(1)] {
                if at < len {
                    let mut changed = long[..len].to_vec();
                    changed[at] ^= 1;
                    texts.push(changed);
                }
            }
        }
        for a in &texts {
            for b in &texts {
                assert_eq!(same_bytes(a, b), a == b, "{a:?} {b:?}");
            }
        }
    }
}

//! A file's header, mapped to the columns the format knows, and the typed
//! parse of one row against it.
//!
//! Columns are found by exact name, in any order; every other column is
//! "extra": counted, quote-checked and otherwise carried verbatim. A row is
//! split once ([`FieldBuf`]) and each field is parsed according to the role
//! its position has in the header, so parsing costs one pass and no
//! allocation.

use std::ops::Range;
use std::path::Path;

use super::classify::{
    FieldBits, FieldLocator, FieldWalk, LineClasses, Mask, SeparatorBits, SplitLine,
};
use super::fields::FieldBuf;
use super::reject::{Column, RejectReason};
use super::values::{self, Date, OrderType, Side};
use crate::error::{Error, ErrorKind, Result};

/// Which of the two inputs a file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// The orders file (`--orders`).
    Orders,
    /// The trades file (`--trades`).
    Trades,
}

impl FileKind {
    /// `orders` or `trades`: the stem of the partition and rejected files.
    pub fn name(self) -> &'static str {
        match self {
            FileKind::Orders => "orders",
            FileKind::Trades => "trades",
        }
    }

    /// The file's name inside a partition folder.
    pub fn partition_file_name(self) -> &'static str {
        match self {
            FileKind::Orders => "orders.csv",
            FileKind::Trades => "trades.csv",
        }
    }

    fn required(self) -> &'static [Column] {
        match self {
            FileKind::Orders => &[
                Column::Date,
                Column::SecurityCode,
                Column::OrderId,
                Column::Time,
                Column::Side,
                Column::OrderPrice,
                Column::Quantity,
            ],
            FileKind::Trades => &[
                Column::Date,
                Column::SecurityCode,
                Column::TradeId,
                Column::Time,
                Column::TradePrice,
                Column::Quantity,
                Column::BuyOrderId,
                Column::SellOrderId,
            ],
        }
    }

    fn optional(self) -> &'static [Column] {
        match self {
            FileKind::Orders => &[Column::OrderType],
            FileKind::Trades => &[Column::AggressorSide],
        }
    }
}

/// One order row, parsed. Slices borrow from the line.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OrderRow<'a> {
    /// Trading day.
    pub date: Date,
    /// Instrument code, validated.
    pub security_code: &'a [u8],
    /// Order id, > 0.
    pub order_id: u64,
    /// Submission time, nanoseconds since midnight.
    pub time_ns: u64,
    /// The `time` field as written (without quotes).
    pub time_text: &'a [u8],
    /// Buy or sell.
    pub side: Side,
    /// The `side` field as written (without quotes): always one byte.
    pub side_text: u8,
    /// Limit price; `None` only for a market order with an empty price.
    pub price: Option<f64>,
    /// Order size, > 0.
    pub quantity: f64,
    /// Limit or market.
    pub order_type: OrderType,
}

/// One trade row, parsed. Slices borrow from the line.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TradeRow<'a> {
    /// Trading day.
    pub date: Date,
    /// Instrument code, validated.
    pub security_code: &'a [u8],
    /// Execution id.
    pub trade_id: u64,
    /// Execution time, nanoseconds since midnight.
    pub time_ns: u64,
    /// The `time` field as written (without quotes).
    pub time_text: &'a [u8],
    /// Execution price, > 0.
    pub price: f64,
    /// Executed size, > 0.
    pub quantity: f64,
    /// The buy order; 0 when unknown (`0` or empty).
    pub buy_order_id: u64,
    /// The sell order; 0 when unknown (`0` or empty).
    pub sell_order_id: u64,
    /// The taker's side; `None` when the field is empty or the column absent.
    pub aggressor_side: Option<Side>,
}

/// The partition a row belongs to: its date and security code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowKey<'a> {
    /// Trading day.
    pub date: Date,
    /// Instrument code, validated (safe as a folder name).
    pub security_code: &'a [u8],
}

/// Where a row's key fields lie within its line (see
/// [`Layout::check_classified`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySpans {
    /// The `date` field.
    pub date: Range<usize>,
    /// The `security_code` field.
    pub security_code: Range<usize>,
}

/// The values processing keeps of an order row, read by a fast path
/// ([`Layout::parse_order_classified`], [`super::scan::scan_order`]); the
/// row's key is checked by the caller.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClassifiedOrder<'a> {
    /// Order id, > 0.
    pub order_id: u64,
    /// Submission time, nanoseconds since midnight.
    pub time_ns: u64,
    /// The `time` field as written.
    pub time_text: &'a [u8],
    /// Buy or sell.
    pub side: Side,
    /// The `side` field as written: always one byte.
    pub side_text: u8,
    /// Limit price; `None` only for a market order with an empty price.
    pub price: Option<f64>,
    /// Order size, > 0.
    pub quantity: f64,
    /// Limit or market.
    pub order_type: OrderType,
}

/// The values processing keeps of a trade row, read by a fast path
/// ([`Layout::parse_trade_classified`], [`super::scan::scan_trade`]); the
/// row's key is checked by the caller.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClassifiedTrade {
    /// Execution id.
    pub trade_id: u64,
    /// Execution time, nanoseconds since midnight.
    pub time_ns: u64,
    /// Execution price, > 0.
    pub price: f64,
    /// Executed size, > 0.
    pub quantity: f64,
    /// The buy order; 0 when unknown.
    pub buy_order_id: u64,
    /// The sell order; 0 when unknown.
    pub sell_order_id: u64,
    /// The taker's side; `None` when empty or the column is absent.
    pub aggressor_side: Option<Side>,
}

/// A parsed header: which field position holds which column.
#[derive(Clone, Debug)]
pub struct Layout {
    kind: FileKind,
    /// `roles[i]` is the column at field position `i`, `None` for extras.
    roles: Vec<Option<Column>>,
    /// Which field holds each column the mask check reads.
    fields_of: ColumnIndex,
    /// True when the columns are exactly the spec's, in its order (the
    /// optional one last, if present): the fast path's fastest case.
    in_spec_order: bool,
    names: Vec<String>,
    has_optional: bool,
}

/// [`values::parse_side`] accepts it. Without branches: buys and sells
/// alternate at random, so a branch (or a jump table) on the letter would be
/// mispredicted on every other row.
fn is_side(field: &[u8]) -> bool {
    match field {
        &[b] => (b == b'B') | (b == b'S') | (b == b'1') | (b == b'2'),
        _ => false,
    }
}

/// The side of a field [`is_side`] accepted.
fn side_of_valid(field: &[u8]) -> Side {
    if matches!(field, [b'B' | b'1']) {
        Side::Buy
    } else {
        Side::Sell
    }
}

/// The field index of each column the mask check reads ([`Layout::
/// check_classified`] and the processing fast paths); a column the file does
/// not have is 0, and never read (the kind and `has_optional` say which
/// columns exist).
#[derive(Clone, Copy, Debug, Default)]
struct ColumnIndex {
    date: u8,
    code: u8,
    /// `order_id` or `trade_id`.
    id: u8,
    time: u8,
    side: u8,
    /// `price` of either file.
    price: u8,
    quantity: u8,
    order_type: u8,
    buy: u8,
    sell: u8,
    aggressor: u8,
}

impl ColumnIndex {
    fn of(roles: &[Option<Column>]) -> ColumnIndex {
        let mut index = ColumnIndex::default();
        for (at, role) in roles.iter().enumerate() {
            // The header had at most 127 commas if any row is to be
            // classified; a wider one never reaches the mask check.
            let at = u8::try_from(at).unwrap_or(u8::MAX);
            let slot = match role {
                Some(Column::Date) => &mut index.date,
                Some(Column::SecurityCode) => &mut index.code,
                Some(Column::OrderId | Column::TradeId) => &mut index.id,
                Some(Column::Time) => &mut index.time,
                Some(Column::Side) => &mut index.side,
                Some(Column::OrderPrice | Column::TradePrice) => &mut index.price,
                Some(Column::Quantity) => &mut index.quantity,
                Some(Column::OrderType) => &mut index.order_type,
                Some(Column::BuyOrderId) => &mut index.buy,
                Some(Column::SellOrderId) => &mut index.sell,
                Some(Column::AggressorSide) => &mut index.aggressor,
                None => continue,
            };
            *slot = at;
        }
        index
    }
}

/// A row's fields checked one at a time, in any order, by the masks of its
/// line's classes ([`Layout::check_classified`]); the rule that spans two
/// fields (an empty price is valid for a market order only) waits for
/// [`MaskCheck::is_valid`].
struct MaskCheck<'a, M: Mask> {
    line: &'a [u8],
    classes: &'a LineClasses<M>,
    /// No field checked so far broke a rule.
    valid: bool,
    /// The order's price was empty.
    empty_price: bool,
    /// The order's type: limit unless an `order_type` field says otherwise.
    order_type: Option<OrderType>,
}

impl<'a, M: Mask> MaskCheck<'a, M> {
    #[inline(always)]
    fn new(line: &'a [u8], classes: &'a LineClasses<M>) -> MaskCheck<'a, M> {
        MaskCheck {
            line,
            classes,
            valid: true,
            empty_price: false,
            order_type: Some(OrderType::Limit),
        }
    }

    /// Checks `field`, the row's `column`. The date and the security code
    /// pass here: routing checks them with the key.
    // `&&`: skipping the checks after a failed one took fewer
    // instructions than `&=` (509 against 516 a row, callgrind).
    #[inline(always)]
    fn field(&mut self, column: Column, field: FieldBits<M>) {
        let (line, classes) = (self.line, self.classes);
        let text = || &line[field.start..field.end];
        self.valid = self.valid
            && match column {
                Column::Date | Column::SecurityCode => true,
                Column::OrderId => classes.is_positive_u64(line, field),
                Column::TradeId => classes.is_u64(line, field),
                Column::Time => classes.is_valid_time(line, field),
                Column::Side => is_side(text()),
                Column::OrderPrice => {
                    self.empty_price = field.start == field.end;
                    self.empty_price || classes.decimal_is_positive(field).is_some()
                }
                Column::TradePrice | Column::Quantity => {
                    classes.decimal_is_positive(field) == Some(true)
                }
                Column::OrderType => {
                    self.order_type = values::parse_order_type(text());
                    self.order_type.is_some()
                }
                // An order id on a trade may be empty (unknown).
                Column::BuyOrderId | Column::SellOrderId => {
                    field.start == field.end || classes.is_u64(line, field)
                }
                Column::AggressorSide => field.start == field.end || is_side(text()),
            };
    }

    /// Every field checked passed, and so does the rule between them.
    #[inline(always)]
    fn is_valid(&self) -> bool {
        self.valid && (!self.empty_price || self.order_type == Some(OrderType::Market))
    }
}

/// A leading UTF-8 byte order mark, skipped at the start of a file.
pub const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

impl Layout {
    /// Maps the header line of `path` (a leading BOM and the line terminator
    /// are accepted and ignored).
    pub fn from_header(kind: FileKind, header_line: &[u8], path: &Path) -> Result<Layout> {
        let line = header_line.strip_prefix(UTF8_BOM).unwrap_or(header_line);
        let line = super::lines::strip_terminator(line);
        let bad_header = |reason: String| -> Error {
            ErrorKind::BadHeader {
                path: path.to_path_buf(),
                reason,
            }
            .into()
        };
        let mut fields = FieldBuf::default();
        let field_count = memchr::memchr_iter(b',', line).count() + 1;
        fields
            .split(line, field_count)
            .map_err(|reason| bad_header(reason.to_string()))?;
        let mut names = Vec::with_capacity(field_count);
        for index in 0..field_count {
            let name = std::str::from_utf8(fields.field(line, index))
                .map_err(|_| bad_header(format!("column {} is not valid UTF-8", index + 1)))?;
            names.push(name.to_owned());
        }

        let known = || kind.required().iter().chain(kind.optional());
        let mut roles = Vec::with_capacity(field_count);
        for name in &names {
            let role = known().copied().find(|column| column.name() == name);
            if let Some(column) = role
                && roles.contains(&Some(column))
            {
                return Err(bad_header(format!(
                    "column `{name}` appears more than once"
                )));
            }
            roles.push(role);
        }
        let missing: Vec<String> = kind
            .required()
            .iter()
            .filter(|column| !roles.contains(&Some(**column)))
            .map(|column| column.name().to_owned())
            .collect();
        if !missing.is_empty() {
            return Err(ErrorKind::MissingColumns {
                path: path.to_path_buf(),
                missing,
                found: names,
            }
            .into());
        }
        let has_optional = kind
            .optional()
            .iter()
            .any(|column| roles.contains(&Some(*column)));
        let fields_of = ColumnIndex::of(&roles);
        let in_spec_order = roles
            .iter()
            .copied()
            .eq(known().copied().take(roles.len()).map(Some))
            && roles.len() >= kind.required().len();
        Ok(Layout {
            kind,
            roles,
            fields_of,
            in_spec_order,
            names,
            has_optional,
        })
    }

    /// Orders or trades.
    pub fn kind(&self) -> FileKind {
        self.kind
    }

    /// Number of fields every row must have.
    pub fn field_count(&self) -> usize {
        self.roles.len()
    }

    /// The header's column names, in order.
    pub fn column_names(&self) -> &[String] {
        &self.names
    }

    /// True when the columns are exactly the spec's, in its order, the
    /// optional one last if present (see [`super::scan`]).
    pub fn in_spec_order(&self) -> bool {
        self.in_spec_order
    }

    /// True when an orders header has the optional `order_type` column.
    pub fn has_order_type(&self) -> bool {
        self.kind == FileKind::Orders && self.has_optional
    }

    /// True when a trades header has the optional `aggressor_side` column.
    pub fn has_aggressor_side(&self) -> bool {
        self.kind == FileKind::Trades && self.has_optional
    }

    /// Validates a row of either kind and returns its partition. This is
    /// what extraction needs: every rule checked, only the key kept.
    ///
    /// It accepts and rejects exactly what [`Layout::parse_order`] and
    /// [`Layout::parse_trade`] do, with the same reason (the first failing
    /// field in header order), but checks numbers and times by their
    /// grammar instead of converting them: extraction never uses the
    /// values, and conversion was most of the cost of a row.
    pub fn parse_key<'a>(
        &self,
        line: &'a [u8],
        scratch: &mut FieldBuf,
    ) -> Result<RowKey<'a>, RejectReason> {
        scratch.split(line, self.roles.len())?;
        let mut date = None;
        let mut security_code: &[u8] = b"";
        let mut price_is_empty = false;
        let mut order_type = OrderType::Limit;
        for (index, role) in self.roles.iter().enumerate() {
            let Some(column) = *role else { continue };
            let field = scratch.field(line, index);
            let valid = match column {
                Column::Date => {
                    date = values::parse_date(field);
                    date.is_some()
                }
                Column::SecurityCode => {
                    security_code = field;
                    values::is_valid_security_code(field)
                }
                // `order_id` > 0: some digit is not a zero.
                Column::OrderId => values::is_u64(field) && field.iter().any(|&b| b != b'0'),
                Column::TradeId => values::is_u64(field),
                Column::Time => values::is_valid_time(field),
                Column::Side => values::parse_side(field).is_some(),
                Column::OrderPrice if field.is_empty() => {
                    price_is_empty = true;
                    true
                }
                Column::OrderPrice => values::decimal_is_positive(field).is_some(),
                Column::TradePrice | Column::Quantity => {
                    values::decimal_is_positive(field) == Some(true)
                }
                Column::OrderType => match values::parse_order_type(field) {
                    Some(parsed) => {
                        order_type = parsed;
                        true
                    }
                    None => false,
                },
                Column::BuyOrderId | Column::SellOrderId => {
                    field.is_empty() || values::is_u64(field)
                }
                Column::AggressorSide => field.is_empty() || values::parse_side(field).is_some(),
            };
            if !valid {
                return Err(RejectReason::Invalid(column));
            }
        }
        if price_is_empty && order_type != OrderType::Market {
            return Err(RejectReason::MissingLimitPrice);
        }
        // `date` is a required column, so a row that got here has one.
        let date = date.ok_or(RejectReason::Invalid(Column::Date))?;
        Ok(RowKey {
            date,
            security_code,
        })
    }

    /// Extraction's fast path, for a line of at most
    /// [`MAX_CLASSIFIED_LEN`](super::classify::MAX_CLASSIFIED_LEN) bytes:
    /// finds its fields by its comma mask and checks every column except
    /// the date and the security code by the masks of `classes`; says where
    /// those two are. A header in the spec's order has its fields taken
    /// front to back ([`FieldWalk`]); any other, by their numbers.
    ///
    /// `None` means "ask [`Layout::parse_key`]": the row is invalid (the
    /// full check gives the reason, in header order) or has a quote. A row
    /// this accepts, and whose date and code then pass their own checks, is
    /// exactly a row `parse_key` accepts.
    // Always inlined, so that it is compiled into each of extraction's
    // loops with that loop's instruction set (popcnt, BMI with AVX-512).
    #[inline(always)]
    pub fn check_classified<M: Mask>(
        &self,
        line: &[u8],
        classes: &LineClasses<M>,
    ) -> Option<KeySpans> {
        if self.in_spec_order {
            return self.check_fields_in_spec_order(line, classes);
        }
        let mut split = SplitLine::new();
        if !split.split(classes, self.roles.len()) {
            return None;
        }
        self.check_fields(line, classes, &split)
    }

    /// [`Layout::check_classified`] with the fields found by BMI2
    /// ([`SeparatorBits`]): extraction's hot path on x86_64 CPUs that
    /// have it. Same answers (the tests compare them).
    ///
    /// # Safety
    /// On x86_64 the CPU must have BMI2 (every [`Simd`](super::classify::Simd)
    /// level but the portable one).
    #[inline(always)]
    pub unsafe fn check_classified_bmi2<M: Mask>(
        &self,
        line: &[u8],
        classes: &LineClasses<M>,
    ) -> Option<KeySpans> {
        if self.in_spec_order {
            return self.check_fields_in_spec_order(line, classes);
        }
        // SAFETY: the caller vouches for BMI2.
        let fields = unsafe { SeparatorBits::new(classes, self.roles.len()) }?;
        self.check_fields(line, classes, &fields)
    }

    /// The checks of [`Layout::check_classified`], the fields located by
    /// `fields`.
    #[inline(always)]
    fn check_fields<M: Mask>(
        &self,
        line: &[u8],
        classes: &LineClasses<M>,
        fields: &impl FieldLocator<M>,
    ) -> Option<KeySpans> {
        let at = &self.fields_of;
        let mut check = MaskCheck::new(line, classes);
        let mut field = |column: Column, index: u8| check.field(column, fields.field(index));
        match self.kind {
            FileKind::Orders => {
                field(Column::OrderId, at.id);
                field(Column::Time, at.time);
                field(Column::Side, at.side);
                field(Column::OrderPrice, at.price);
                field(Column::Quantity, at.quantity);
                if self.has_optional {
                    field(Column::OrderType, at.order_type);
                }
            }
            FileKind::Trades => {
                field(Column::TradeId, at.id);
                field(Column::Time, at.time);
                field(Column::TradePrice, at.price);
                field(Column::Quantity, at.quantity);
                field(Column::BuyOrderId, at.buy);
                field(Column::SellOrderId, at.sell);
                if self.has_optional {
                    field(Column::AggressorSide, at.aggressor);
                }
            }
        }
        check.is_valid().then_some(KeySpans {
            date: fields.span(at.date),
            security_code: fields.span(at.code),
        })
    }

    /// The checks of [`Layout::check_classified`] for a header in the
    /// spec's order ([`Layout::in_spec_order`]): the fields are taken front
    /// to back ([`FieldWalk`]), a few bit operations each, and each is
    /// checked as soon as it is found, its column known when compiled.
    #[inline(always)]
    fn check_fields_in_spec_order<M: Mask>(
        &self,
        line: &[u8],
        classes: &LineClasses<M>,
    ) -> Option<KeySpans> {
        let mut walk = FieldWalk::new(classes, self.roles.len())?;
        let date = walk.next_field();
        let code = walk.next_field();
        // A line of 64 bytes or more (a real trade row often is) has
        // 128-bit masks, where every step takes two registers; the fields
        // after the key usually fit in 64 bits, and are checked there
        // (778 → 633 instructions a row for the fixture's trades).
        let rest_start = code.end + 1;
        // (Known when compiled: 64-bit masks are narrow already.)
        let narrowed = if M::BITS > 64 {
            classes.narrowed_from(rest_start)
        } else {
            None
        };
        let valid = match narrowed {
            Some(rest) => {
                let mut rest_walk = FieldWalk::new(&rest, self.roles.len() - 2)?;
                self.rest_is_valid(&line[rest_start..], &rest, &mut rest_walk)
            }
            None => self.rest_is_valid(line, classes, &mut walk),
        };
        valid.then_some(KeySpans {
            date: date.start..date.end,
            security_code: code.start..code.end,
        })
    }

    /// The checks of [`Layout::check_fields_in_spec_order`] for the fields
    /// after the key, the next ones of `walk`.
    #[inline(always)]
    fn rest_is_valid<M: Mask>(
        &self,
        line: &[u8],
        classes: &LineClasses<M>,
        walk: &mut FieldWalk<M>,
    ) -> bool {
        let mut check = MaskCheck::new(line, classes);
        let mut next = |column: Column| check.field(column, walk.next_field());
        // The spec's columns after the key's two, written out: a loop over
        // `FileKind::required` was not unrolled, and each field then paid
        // for a jump on its column (559 instructions an order row, not 471).
        // `check_fields` lists the same columns by their field numbers;
        // one list visited through a closure cost 7 to 35 instructions a
        // row on both paths.
        match self.kind {
            FileKind::Orders => {
                next(Column::OrderId);
                next(Column::Time);
                next(Column::Side);
                next(Column::OrderPrice);
                next(Column::Quantity);
                if self.has_optional {
                    next(Column::OrderType);
                }
            }
            FileKind::Trades => {
                next(Column::TradeId);
                next(Column::Time);
                next(Column::TradePrice);
                next(Column::Quantity);
                next(Column::BuyOrderId);
                next(Column::SellOrderId);
                if self.has_optional {
                    next(Column::AggressorSide);
                }
            }
        }
        check.is_valid()
    }

    /// Processing's fast path: an order row of a classified line (at most
    /// [`MAX_CLASSIFIED_LEN`](super::classify::MAX_CLASSIFIED_LEN) bytes).
    /// Every column but the key is checked by the masks of `classes`, as
    /// [`Layout::check_classified`] checks it, then converted without
    /// looking at its bytes again. The date and the security code are only
    /// located: the caller checks them, usually by comparing their bytes
    /// with those of a row it already checked.
    ///
    /// `None` means "ask [`Layout::parse_order`]": the row is invalid (the
    /// full parse gives the reason) or has a quote. When the returned key
    /// fields pass their checks, the values are exactly those
    /// `parse_order` returns; the tests compare the two on every one-byte
    /// edit of varied rows.
    pub fn parse_order_classified<'a, M: Mask>(
        &self,
        line: &'a [u8],
        classes: &LineClasses<M>,
    ) -> Option<(KeySpans, ClassifiedOrder<'a>)> {
        debug_assert_eq!(self.kind, FileKind::Orders);
        let mut split = SplitLine::new();
        if !split.split(classes, self.roles.len()) {
            return None;
        }
        let at = &self.fields_of;
        let field = |index: u8| split.field::<M>(index);
        let text = |field: FieldBits<M>| &line[field.start..field.end];
        let order_type = if self.has_optional {
            values::parse_order_type(text(field(at.order_type)))?
        } else {
            OrderType::Limit
        };
        let (price_text, side_text) = (text(field(at.price)), text(field(at.side)));
        let valid = classes.is_positive_u64(line, field(at.id))
            && classes.is_valid_time(line, field(at.time))
            && is_side(side_text)
            && (if price_text.is_empty() {
                order_type == OrderType::Market
            } else {
                classes.decimal_is_positive(field(at.price)).is_some()
            })
            && classes.decimal_is_positive(field(at.quantity)) == Some(true);
        if !valid {
            return None;
        }
        let price = if price_text.is_empty() {
            None
        } else {
            Some(values::decimal_of_valid(price_text)?)
        };
        let time_text = text(field(at.time));
        let key = KeySpans {
            date: split.span(at.date),
            security_code: split.span(at.code),
        };
        Some((
            key,
            ClassifiedOrder {
                order_id: values::u64_of_digits(text(field(at.id)))?,
                time_ns: values::time_ns_of_valid(time_text)?,
                time_text,
                side: side_of_valid(side_text),
                side_text: side_text[0],
                price,
                quantity: values::decimal_of_valid(text(field(at.quantity)))
                    .filter(|&q| q > 0.0)?,
                order_type,
            },
        ))
    }

    /// [`Layout::parse_order_classified`] for a trade row: `None` means
    /// "ask [`Layout::parse_trade`]".
    pub fn parse_trade_classified<M: Mask>(
        &self,
        line: &[u8],
        classes: &LineClasses<M>,
    ) -> Option<(KeySpans, ClassifiedTrade)> {
        debug_assert_eq!(self.kind, FileKind::Trades);
        let mut split = SplitLine::new();
        if !split.split(classes, self.roles.len()) {
            return None;
        }
        let at = &self.fields_of;
        let field = |index: u8| split.field::<M>(index);
        let text = |field: FieldBits<M>| &line[field.start..field.end];
        let valid = classes.is_u64(line, field(at.id))
            && classes.is_valid_time(line, field(at.time))
            && classes.decimal_is_positive(field(at.price)) == Some(true)
            && classes.decimal_is_positive(field(at.quantity)) == Some(true);
        if !valid {
            return None;
        }
        // An order id on a trade: empty means unknown, as does 0.
        let order_id = |field: FieldBits<M>| {
            if field.start == field.end {
                Some(0)
            } else if classes.is_u64(line, field) {
                values::u64_of_digits(text(field))
            } else {
                None
            }
        };
        let aggressor_side = match text(field(at.aggressor)) {
            _ if !self.has_optional => None,
            b"" => None,
            side if is_side(side) => Some(side_of_valid(side)),
            _ => return None,
        };
        let key = KeySpans {
            date: split.span(at.date),
            security_code: split.span(at.code),
        };
        Some((
            key,
            ClassifiedTrade {
                trade_id: values::u64_of_digits(text(field(at.id)))?,
                time_ns: values::time_ns_of_valid(text(field(at.time)))?,
                price: values::decimal_of_valid(text(field(at.price))).filter(|&p| p > 0.0)?,
                quantity: values::decimal_of_valid(text(field(at.quantity)))
                    .filter(|&q| q > 0.0)?,
                buy_order_id: order_id(field(at.buy))?,
                sell_order_id: order_id(field(at.sell))?,
                aggressor_side,
            },
        ))
    }

    /// The slow, obviously equivalent form of [`Layout::parse_key`]: the
    /// full parse, key kept. Tests check that the two agree.
    pub fn parse_key_by_full_parse<'a>(
        &self,
        line: &'a [u8],
        scratch: &mut FieldBuf,
    ) -> Result<RowKey<'a>, RejectReason> {
        match self.kind {
            FileKind::Orders => self.parse_order(line, scratch).map(|row| RowKey {
                date: row.date,
                security_code: row.security_code,
            }),
            FileKind::Trades => self.parse_trade(line, scratch).map(|row| RowKey {
                date: row.date,
                security_code: row.security_code,
            }),
        }
    }

    /// Parses an order row (without its line terminator).
    ///
    /// # Panics
    ///
    /// When the layout is a trades layout: which file a layout describes is
    /// the caller's choice, never the input's.
    pub fn parse_order<'a>(
        &self,
        line: &'a [u8],
        scratch: &mut FieldBuf,
    ) -> Result<OrderRow<'a>, RejectReason> {
        debug_assert_eq!(self.kind, FileKind::Orders);
        scratch.split(line, self.roles.len())?;
        let mut row = OrderRow {
            date: Date {
                year: 0,
                month: 0,
                day: 0,
            },
            security_code: b"",
            order_id: 0,
            time_ns: 0,
            time_text: b"",
            side: Side::Buy,
            side_text: 0,
            price: None,
            quantity: 0.0,
            order_type: OrderType::Limit,
        };
        let mut price_is_empty = false;
        for (index, role) in self.roles.iter().enumerate() {
            let Some(column) = *role else { continue };
            let field = scratch.field(line, index);
            let invalid = RejectReason::Invalid(column);
            match column {
                Column::Date => row.date = values::parse_date(field).ok_or(invalid)?,
                Column::SecurityCode => row.security_code = security_code(field)?,
                Column::OrderId => {
                    row.order_id = values::parse_u64(field)
                        .filter(|&id| id > 0)
                        .ok_or(invalid)?
                }
                Column::Time => {
                    row.time_ns = values::parse_time_ns(field).ok_or(invalid)?;
                    row.time_text = field;
                }
                Column::Side => {
                    row.side = values::parse_side(field).ok_or(invalid)?;
                    // A side is one byte (`parse_side` accepted it).
                    row.side_text = field[0];
                }
                Column::OrderPrice if field.is_empty() => price_is_empty = true,
                Column::OrderPrice => {
                    row.price = Some(values::parse_decimal(field).ok_or(invalid)?)
                }
                Column::Quantity => row.quantity = positive_decimal(field, column)?,
                Column::OrderType => {
                    row.order_type = values::parse_order_type(field).ok_or(invalid)?
                }
                _ => unreachable!("orders layouts hold only order columns"),
            }
        }
        if price_is_empty && row.order_type != OrderType::Market {
            return Err(RejectReason::MissingLimitPrice);
        }
        Ok(row)
    }

    /// Parses a trade row (without its line terminator).
    ///
    /// # Panics
    ///
    /// When the layout is an orders layout (see [`Layout::parse_order`]).
    pub fn parse_trade<'a>(
        &self,
        line: &'a [u8],
        scratch: &mut FieldBuf,
    ) -> Result<TradeRow<'a>, RejectReason> {
        debug_assert_eq!(self.kind, FileKind::Trades);
        scratch.split(line, self.roles.len())?;
        let mut row = TradeRow {
            date: Date {
                year: 0,
                month: 0,
                day: 0,
            },
            security_code: b"",
            trade_id: 0,
            time_ns: 0,
            time_text: b"",
            price: 0.0,
            quantity: 0.0,
            buy_order_id: 0,
            sell_order_id: 0,
            aggressor_side: None,
        };
        for (index, role) in self.roles.iter().enumerate() {
            let Some(column) = *role else { continue };
            let field = scratch.field(line, index);
            let invalid = RejectReason::Invalid(column);
            match column {
                Column::Date => row.date = values::parse_date(field).ok_or(invalid)?,
                Column::SecurityCode => row.security_code = security_code(field)?,
                Column::TradeId => row.trade_id = values::parse_u64(field).ok_or(invalid)?,
                Column::Time => {
                    row.time_ns = values::parse_time_ns(field).ok_or(invalid)?;
                    row.time_text = field;
                }
                Column::TradePrice => row.price = positive_decimal(field, column)?,
                Column::Quantity => row.quantity = positive_decimal(field, column)?,
                Column::BuyOrderId => row.buy_order_id = optional_id(field, column)?,
                Column::SellOrderId => row.sell_order_id = optional_id(field, column)?,
                Column::AggressorSide if field.is_empty() => row.aggressor_side = None,
                Column::AggressorSide => {
                    row.aggressor_side = Some(values::parse_side(field).ok_or(invalid)?)
                }
                _ => unreachable!("trades layouts hold only trade columns"),
            }
        }
        Ok(row)
    }
}

fn security_code(field: &[u8]) -> Result<&[u8], RejectReason> {
    if values::is_valid_security_code(field) {
        Ok(field)
    } else {
        Err(RejectReason::Invalid(Column::SecurityCode))
    }
}

fn positive_decimal(field: &[u8], column: Column) -> Result<f64, RejectReason> {
    values::parse_decimal(field)
        .filter(|&value| value > 0.0)
        .ok_or(RejectReason::Invalid(column))
}

/// An order id on a trade: empty means unknown, as does 0.
fn optional_id(field: &[u8], column: Column) -> Result<u64, RejectReason> {
    if field.is_empty() {
        return Ok(0);
    }
    values::parse_u64(field).ok_or(RejectReason::Invalid(column))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Valid rows of both kinds, under headers with and without the optional
    /// column, reordered, and with an extra column.
    fn cases() -> Vec<(Layout, Vec<&'static str>)> {
        let layout = |kind, header: &str| {
            Layout::from_header(kind, header.as_bytes(), Path::new("t.csv")).unwrap()
        };
        vec![
            (
                layout(
                    FileKind::Orders,
                    "date,security_code,order_id,time,side,price,quantity,order_type",
                ),
                vec![
                    "2024-09-05,600519.SH,17,09:30:00.120,B,1801.01,200,L",
                    "20240905,A,1,23:59:59,S,,0.5,M",
                    // 64 bytes or more: 128-bit masks, the fields after
                    // the key checked in 64 bits, or (the second, whose
                    // rest is 64 bytes) in 128.
                    "2024-09-05,600519.SH,1234567890,09:30:00.123456789,B,1801.0100,2000,L",
                    "2024-09-05,600519.SH,1234567890123,09:30:00.123456789,S,1801.01000000000,2000000000,M",
                    "\"2024-02-29\",x_y,00018446744073709551615,00:00:00.000000001,1,0,1.,",
                ],
            ),
            (
                layout(
                    FileKind::Orders,
                    "date,security_code,order_id,time,side,price,quantity",
                ),
                vec![
                    "2024-09-05,600519.SH,17,09:30:00.120,B,1801.01,200",
                    "2024-09-05,600519.SH,18,23:59:59,S,0.5,1",
                ],
            ),
            (
                layout(
                    FileKind::Orders,
                    "quantity,extra,price,side,time,order_id,security_code,date",
                ),
                vec!["100,\"note\",.5,2,10:00:00,5,BTC-USD,2024-01-02"],
            ),
            (
                layout(
                    FileKind::Trades,
                    "date,security_code,trade_id,time,price,quantity,buy_order_id,sell_order_id,aggressor_side",
                ),
                vec![
                    "2024-09-05,600519,0,09:30:00.5,12.5,100,3,,B",
                    // A real trade row (the fixture's), 64 bytes or more.
                    "2023-02-01,600519.SH,8502,09:25:00.940000,1854.98,100,113304,38420,S",
                    "2024-09-05,600519,18446744073709551615,09:30:00,0.01,7,0,18,",
                ],
            ),
            (
                layout(
                    FileKind::Trades,
                    "date,security_code,trade_id,time,price,quantity,buy_order_id,sell_order_id",
                ),
                vec![
                    "2024-09-05,600519,7,09:30:00.5,12.5,100,,18",
                    "2023-02-01,600519.SH,18446744073709551615,09:25:00.940000,1854.98,100,113304,38420",
                ],
            ),
            (
                layout(
                    FileKind::Trades,
                    "sell_order_id,buy_order_id,quantity,price,time,trade_id,security_code,date,x",
                ),
                vec!["1,2,3,4.5,12:00:00,9,S1,2024-12-31,\"\""],
            ),
        ]
    }

    #[test]
    fn the_spec_order_is_recognised_exactly() {
        let in_order = |kind, header: &str| {
            Layout::from_header(kind, header.as_bytes(), Path::new("t.csv"))
                .unwrap()
                .in_spec_order
        };
        let orders = "date,security_code,order_id,time,side,price,quantity";
        let trades = "date,security_code,trade_id,time,price,quantity,buy_order_id,sell_order_id";
        assert!(in_order(FileKind::Orders, orders));
        assert!(in_order(FileKind::Orders, &format!("{orders},order_type")));
        assert!(!in_order(FileKind::Orders, &format!("{orders},extra")));
        assert!(!in_order(
            FileKind::Orders,
            &format!("{orders},order_type,extra")
        ));
        assert!(!in_order(
            FileKind::Orders,
            "security_code,date,order_id,time,side,price,quantity"
        ));
        assert!(in_order(FileKind::Trades, trades));
        assert!(in_order(
            FileKind::Trades,
            &format!("{trades},aggressor_side")
        ));
        assert!(!in_order(FileKind::Trades, &format!("extra,{trades}")));
    }

    /// Every one-byte edit of varied rows (as in the test below), under
    /// headers with and without the optional columns: processing's fast
    /// path returns a row exactly when the full parse accepts it (quotes
    /// aside, which it leaves to the full parse), with the same values.
    #[test]
    fn classified_rows_agree_with_the_full_parse() {
        let alphabet = b"0195.,:-\"BSLM12x ";
        let layout = |kind, header: &str| {
            Layout::from_header(kind, header.as_bytes(), Path::new("t.csv")).unwrap()
        };
        let mut all_cases = cases();
        all_cases.push((
            layout(
                FileKind::Orders,
                "date,security_code,order_id,time,side,price,quantity",
            ),
            vec!["2024-09-05,600519.SH,17,09:30:00.120,B,1801.01,200"],
        ));
        all_cases.push((
            layout(
                FileKind::Trades,
                "date,security_code,trade_id,time,price,quantity,buy_order_id,sell_order_id",
            ),
            vec!["2024-09-05,600519,12,09:30:00.5,12.5,100,3,"],
        ));
        all_cases.push((
            layout(
                FileKind::Orders,
                "order_type,date,extra,security_code,order_id,time,side,price,quantity",
            ),
            vec!["M,2024-09-05,x,A,123456789012345678901,09:30:00,S,,1.5"],
        ));
        let mut scratch = FieldBuf::default();
        let mut fast_rows = 0u64;
        for (layout, rows) in all_cases {
            for row in rows {
                let row = row.as_bytes();
                let variants = crate::format::one_byte_edits(row, alphabet);
                for line in &variants {
                    let shown = String::from_utf8_lossy(line);
                    let classes = LineClasses::of_line(line, 0).expect("short line");
                    let key_valid = |date: &[u8], code: &[u8]| {
                        values::parse_date(date).is_some() && values::is_valid_security_code(code)
                    };
                    match layout.kind {
                        FileKind::Orders => {
                            let fast = layout.parse_order_classified(line, &classes);
                            if let Some(short) = classes.narrow::<u64>() {
                                assert_eq!(layout.parse_order_classified(line, &short), fast);
                            }
                            let full = layout.parse_order(line, &mut scratch);
                            let Some((key, fast)) = fast else {
                                assert!(full.is_err() || line.contains(&b'"'), "{shown}");
                                continue;
                            };
                            fast_rows += 1;
                            let (date_text, code_text) =
                                (&line[key.date.clone()], &line[key.security_code.clone()]);
                            let key_ok = key_valid(date_text, code_text);
                            assert_eq!(key_ok, full.is_ok(), "{shown}");
                            let Ok(full) = full else { continue };
                            assert_eq!(values::parse_date(date_text), Some(full.date));
                            assert_eq!(code_text, full.security_code);
                            let expected = ClassifiedOrder {
                                order_id: full.order_id,
                                time_ns: full.time_ns,
                                time_text: full.time_text,
                                side: full.side,
                                side_text: full.side_text,
                                price: full.price,
                                quantity: full.quantity,
                                order_type: full.order_type,
                            };
                            assert_eq!(fast, expected, "{shown}");
                        }
                        FileKind::Trades => {
                            let fast = layout.parse_trade_classified(line, &classes);
                            if let Some(short) = classes.narrow::<u64>() {
                                assert_eq!(layout.parse_trade_classified(line, &short), fast);
                            }
                            let full = layout.parse_trade(line, &mut scratch);
                            let Some((key, fast)) = fast else {
                                assert!(full.is_err() || line.contains(&b'"'), "{shown}");
                                continue;
                            };
                            fast_rows += 1;
                            let (date_text, code_text) =
                                (&line[key.date.clone()], &line[key.security_code.clone()]);
                            let key_ok = key_valid(date_text, code_text);
                            assert_eq!(key_ok, full.is_ok(), "{shown}");
                            let Ok(full) = full else { continue };
                            assert_eq!(values::parse_date(date_text), Some(full.date));
                            assert_eq!(code_text, full.security_code);
                            let expected = ClassifiedTrade {
                                trade_id: full.trade_id,
                                time_ns: full.time_ns,
                                price: full.price,
                                quantity: full.quantity,
                                buy_order_id: full.buy_order_id,
                                sell_order_id: full.sell_order_id,
                                aggressor_side: full.aggressor_side,
                            };
                            assert_eq!(fast, expected, "{shown}");
                        }
                    }
                }
            }
        }
        assert!(fast_rows > 1_000, "{fast_rows}");
    }

    /// Every single-byte edit of every valid row (replacing, inserting or
    /// deleting one byte from an alphabet that reaches every rule) is
    /// accepted or rejected by the validation-only path exactly as by the
    /// full parse, with the same reason and key.
    #[test]
    fn parse_key_agrees_with_the_full_parse() {
        let alphabet = b"0195.,:-\"BSLM12x ";
        let mut scratch = FieldBuf::default();
        // Every wide SIMD level implies BMI2, which the bit-located check
        // needs; where there is none, it is not compared.
        let has_bmi2 =
            crate::format::classify::Simd::detect() > crate::format::classify::Simd::Portable;
        let mut checked = 0u64;
        for (layout, rows) in cases() {
            for row in rows {
                let row = row.as_bytes();
                assert!(layout.parse_key(row, &mut scratch).is_ok());
                let variants = crate::format::one_byte_edits(row, alphabet);
                for line in &variants {
                    let fast = layout.parse_key(line, &mut scratch);
                    let full = layout.parse_key_by_full_parse(line, &mut scratch);
                    assert_eq!(fast, full, "{}", String::from_utf8_lossy(line));
                    // Extraction's path: classify, check all but the key
                    // by masks, then the key's own checks.
                    let classes = LineClasses::of_line(line, 0).expect("short line");
                    let by_masks = layout.check_classified(line, &classes);
                    if let Some(short) = classes.narrow::<u64>() {
                        assert_eq!(layout.check_classified(line, &short), by_masks);
                        if has_bmi2 {
                            // SAFETY: the CPU has BMI2.
                            let by_bits = unsafe { layout.check_classified_bmi2(line, &short) };
                            assert_eq!(by_bits, by_masks, "{}", String::from_utf8_lossy(line));
                        }
                    }
                    if has_bmi2 {
                        // SAFETY: the CPU has BMI2.
                        let by_bits = unsafe { layout.check_classified_bmi2(line, &classes) };
                        assert_eq!(by_bits, by_masks, "{}", String::from_utf8_lossy(line));
                    }
                    if let Some(spans) = by_masks {
                        let key_valid = values::parse_date(&line[spans.date.clone()]).is_some()
                            && values::is_valid_security_code(&line[spans.security_code.clone()]);
                        assert_eq!(key_valid, fast.is_ok(), "{}", String::from_utf8_lossy(line));
                        if let Ok(key) = fast {
                            assert_eq!(&line[spans.security_code], key.security_code);
                        }
                    } else {
                        assert!(
                            fast.is_err() || line.contains(&b'"'),
                            "{}",
                            String::from_utf8_lossy(line)
                        );
                    }
                    checked += 1;
                }
            }
        }
        assert!(checked > 10_000);
    }
}

//! Why a row was rejected.
//!
//! A reason is a small `Copy` value, so rejecting a row allocates nothing;
//! its `Display` is the sentence written to `rejected/*_rejected.csv` and into
//! `--strict` errors. The raw line travels beside it, so the reason does not
//! repeat the offending value.

use std::fmt;

/// A column the format gives a meaning to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Column {
    /// `date`.
    Date,
    /// `security_code`.
    SecurityCode,
    /// `order_id` (orders).
    OrderId,
    /// `trade_id` (trades).
    TradeId,
    /// `time`.
    Time,
    /// `side` (orders).
    Side,
    /// `price` of an order.
    OrderPrice,
    /// `price` of a trade.
    TradePrice,
    /// `quantity`.
    Quantity,
    /// `order_type` (orders, optional).
    OrderType,
    /// `buy_order_id` (trades).
    BuyOrderId,
    /// `sell_order_id` (trades).
    SellOrderId,
    /// `aggressor_side` (trades, optional).
    AggressorSide,
}

impl Column {
    /// The column's name in the header.
    pub fn name(self) -> &'static str {
        match self {
            Column::Date => "date",
            Column::SecurityCode => "security_code",
            Column::OrderId => "order_id",
            Column::TradeId => "trade_id",
            Column::Time => "time",
            Column::Side => "side",
            Column::OrderPrice | Column::TradePrice => "price",
            Column::Quantity => "quantity",
            Column::OrderType => "order_type",
            Column::BuyOrderId => "buy_order_id",
            Column::SellOrderId => "sell_order_id",
            Column::AggressorSide => "aggressor_side",
        }
    }

    /// What the column accepts, as the end of a sentence.
    fn expectation(self) -> &'static str {
        match self {
            Column::Date => "a real calendar date as YYYY-MM-DD or YYYYMMDD",
            Column::SecurityCode => "1-32 characters of A-Z a-z 0-9 . _ - (not . or ..)",
            Column::OrderId => "an integer from 1 to 18446744073709551615",
            Column::TradeId => "an integer from 0 to 18446744073709551615",
            Column::Time => "HH:MM:SS with an optional fraction of 1-9 digits",
            Column::Side => "B, S, 1 or 2",
            Column::OrderPrice => "a decimal >= 0 (digits and an optional point)",
            Column::TradePrice | Column::Quantity => "a decimal > 0 (digits and an optional point)",
            Column::OrderType => "L, M or empty",
            Column::BuyOrderId | Column::SellOrderId => {
                "an integer from 0 to 18446744073709551615, or empty"
            }
            Column::AggressorSide => "B, S, 1, 2 or empty",
        }
    }
}

/// Why a row was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RejectReason {
    /// The row does not have as many fields as the header.
    FieldCount {
        /// Fields in the header.
        expected: usize,
        /// Fields in the row.
        found: usize,
    },
    /// The line has an odd number of `"`: a quoted field broken by a line
    /// break, or the fragment after such a break.
    UnbalancedQuote,
    /// A quoted field holds a comma or a quote, which the format does not
    /// support.
    QuotedSeparator {
        /// 1-based field number.
        field: usize,
    },
    /// A `"` inside a field that does not start with one.
    StrayQuote {
        /// 1-based field number.
        field: usize,
    },
    /// A value that breaks its column's syntax.
    Invalid(Column),
    /// An empty `price` on an order that is not a market order.
    MissingLimitPrice,
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            RejectReason::FieldCount { expected, found } => {
                write!(f, "expected {expected} fields, found {found}")
            }
            RejectReason::UnbalancedQuote => f.write_str(
                "unbalanced quote (a quoted field broken by a line break is not supported)",
            ),
            RejectReason::QuotedSeparator { field } => write!(
                f,
                "field {field} is quoted and contains a comma or a quote, which is not supported"
            ),
            RejectReason::StrayQuote { field } => {
                write!(f, "field {field} has a quote inside an unquoted value")
            }
            RejectReason::Invalid(column) => {
                write!(
                    f,
                    "invalid {}: expected {}",
                    column.name(),
                    column.expectation()
                )
            }
            RejectReason::MissingLimitPrice => {
                f.write_str("empty price on an order that is not a market order (M)")
            }
        }
    }
}

//! Per-taker metrics (SPEC §4): for every order that is the taker in at least
//! one trade, its fills, levels, quantities, prices, impact, slippage,
//! shortfall against the reference price, and duration; and whether it is a
//! sweep. One row per taker, ordered by order time then order id, which is
//! the order of the detailed output and the order every later statistic
//! consumes the values in.

use super::linking::{Linking, ReferenceCursor};
use super::load::PartitionData;
use crate::stats::numpy_sum;

/// The metrics of one taker order (a row of
/// `sweep_order_comparison_detailed.csv`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TakerMetrics {
    /// The order's row in `orders.csv` (0-based, data rows only).
    pub row: u32,
    /// `levels ≥ K`.
    pub is_sweep: bool,
    /// The order's quantity.
    pub order_qty: f64,
    /// Number of fills.
    pub fills: u64,
    /// Distinct fill prices (as f64).
    pub levels: u64,
    /// Σ fill quantity.
    pub filled_qty: f64,
    /// filled_qty / order quantity (not clipped).
    pub fill_ratio: f64,
    /// Σ price·quantity.
    pub notional: f64,
    /// notional / filled_qty.
    pub vwap: f64,
    /// Price of the first fill by (time, trade_id).
    pub first_price: f64,
    /// Price of the last fill by (time, trade_id).
    pub last_price: f64,
    /// The order's reference price, if any trade precedes it.
    pub arrival_price: Option<f64>,
    /// σ·(last − first)/first·10⁴.
    pub price_impact_bps: f64,
    /// σ·(vwap − first)/first·10⁴.
    pub slippage_bps: f64,
    /// σ·(vwap − arrival)/arrival·10⁴, when there is an arrival price.
    pub shortfall_bps: Option<f64>,
    /// (time of last fill − order time) in ms, from integer nanoseconds.
    pub duration_ms: f64,
}

/// The metrics compared between sweep and non-sweep takers, in output order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Order quantity.
    OrderQty,
    /// Σ fill quantity.
    FilledQty,
    /// Filled / ordered.
    FillRatio,
    /// Σ price·quantity.
    Notional,
    /// Number of fills.
    Fills,
    /// Distinct fill prices.
    Levels,
    /// Impact of the last fill against the first, bps.
    PriceImpactBps,
    /// VWAP against the first fill, bps.
    SlippageBps,
    /// VWAP against the arrival (reference) price, bps.
    ShortfallBps,
    /// Order time to last fill, ms.
    DurationMs,
}

impl Metric {
    /// Every metric, in the order of the summary file.
    pub const ALL: [Metric; 10] = [
        Metric::OrderQty,
        Metric::FilledQty,
        Metric::FillRatio,
        Metric::Notional,
        Metric::Fills,
        Metric::Levels,
        Metric::PriceImpactBps,
        Metric::SlippageBps,
        Metric::ShortfallBps,
        Metric::DurationMs,
    ];

    /// The name written in the `metric` column.
    pub fn name(self) -> &'static str {
        match self {
            Metric::OrderQty => "order_qty",
            Metric::FilledQty => "filled_qty",
            Metric::FillRatio => "fill_ratio",
            Metric::Notional => "notional",
            Metric::Fills => "fills",
            Metric::Levels => "levels",
            Metric::PriceImpactBps => "price_impact_bps",
            Metric::SlippageBps => "slippage_bps",
            Metric::ShortfallBps => "shortfall_bps",
            Metric::DurationMs => "duration_ms",
        }
    }

    /// The metric's value for one taker; `None` when undefined (shortfall
    /// without an arrival price).
    pub fn of(self, taker: &TakerMetrics) -> Option<f64> {
        Some(match self {
            Metric::OrderQty => taker.order_qty,
            Metric::FilledQty => taker.filled_qty,
            Metric::FillRatio => taker.fill_ratio,
            Metric::Notional => taker.notional,
            Metric::Fills => taker.fills as f64,
            Metric::Levels => taker.levels as f64,
            Metric::PriceImpactBps => taker.price_impact_bps,
            Metric::SlippageBps => taker.slippage_bps,
            Metric::ShortfallBps => return taker.shortfall_bps,
            Metric::DurationMs => taker.duration_ms,
        })
    }
}

/// Which takers a statistic covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// Takers with levels ≥ K.
    Sweep,
    /// The other takers.
    NonSweep,
    /// Every taker.
    All,
}

impl Group {
    /// The groups in the order of the summary file.
    pub const ALL: [Group; 3] = [Group::Sweep, Group::NonSweep, Group::All];

    /// The name written in the `group` column.
    pub fn name(self) -> &'static str {
        match self {
            Group::Sweep => "sweep",
            Group::NonSweep => "non_sweep",
            Group::All => "all",
        }
    }
}

/// Computes the metrics of every taker order, sorted by (order time, order
/// id), into `metrics`, emptied first; `takers` is scratch for their rows.
/// (A worker keeps both vectors from one partition to the next: their
/// memory is faulted in once.)
pub fn taker_metrics(
    data: &PartitionData,
    linking: &Linking,
    sweep_min_levels: u32,
    takers: &mut Vec<u32>,
    metrics: &mut Vec<TakerMetrics>,
) {
    let orders = &data.orders;
    let trades = &data.trades;

    super::keep_rows(linking.canonical_rows.iter().copied(), takers, |row| {
        linking.is_taker(row)
    });
    // Canonical rows have distinct ids, so this order is total. Files
    // mostly list orders by time already: then checking is all it takes.
    let time_then_id = |&row: &u32| (orders.time_ns[row as usize], orders.order_id[row as usize]);
    if !takers.is_sorted_by_key(time_then_id) {
        takers.sort_unstable_by_key(time_then_id);
    }

    // Scratch reused across takers: no allocation per order.
    let mut quantities = Vec::new();
    let mut notionals = Vec::new();
    let mut prices = Vec::new();
    // Takers are in time order: each reference lookup starts where the
    // previous one ended.
    let mut cursor = ReferenceCursor::default();
    metrics.clear();
    metrics.extend(takers.iter().map(|&row| {
        let fills = linking.fills_of(row);
        let r = row as usize;
        let first = fills[0] as usize;
        let last = fills[fills.len() - 1] as usize;
        let first_price = trades.price[first];
        let last_price = trades.price[last];
        let (filled_qty, notional, levels) = if fills.len() == 1 {
            // One fill (most takers): the sums of one value, taken as
            // `numpy_sum` takes them, and one level, without the
            // scratch vectors and the sort.
            let (price, quantity) = (first_price, trades.quantity[first]);
            (numpy_sum(&[quantity]), numpy_sum(&[price * quantity]), 1)
        } else {
            quantities.clear();
            notionals.clear();
            prices.clear();
            for &trade in fills {
                let (price, quantity) = (
                    trades.price[trade as usize],
                    trades.quantity[trade as usize],
                );
                quantities.push(quantity);
                notionals.push(price * quantity);
                prices.push(price);
            }
            prices.sort_unstable_by(f64::total_cmp);
            prices.dedup_by(|a, b| a == b);
            (
                numpy_sum(&quantities),
                numpy_sum(&notionals),
                prices.len() as u64,
            )
        };

        let sigma = orders.side[r].sign();
        let vwap = notional / filled_qty;
        let arrival_price = linking.reference_price_from(&mut cursor, orders.time_ns[r], trades);
        let duration_ns = trades.time_ns[last] as i64 - orders.time_ns[r] as i64;
        TakerMetrics {
            row,
            is_sweep: levels >= u64::from(sweep_min_levels),
            order_qty: orders.quantity[r],
            fills: fills.len() as u64,
            levels,
            filled_qty,
            fill_ratio: filled_qty / orders.quantity[r],
            notional,
            vwap,
            first_price,
            last_price,
            arrival_price,
            price_impact_bps: sigma * (last_price - first_price) / first_price * 1e4,
            slippage_bps: sigma * (vwap - first_price) / first_price * 1e4,
            shortfall_bps: arrival_price.map(|arrival| sigma * (vwap - arrival) / arrival * 1e4),
            duration_ms: duration_ns as f64 / 1e6,
        }
    }));
}

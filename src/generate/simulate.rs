//! The order flow of one security for one day, and the rows it produces.
//!
//! Owns the behaviour of the simulated traders: when orders arrive, which
//! side, how far from the touch passive orders rest, how large marketable
//! orders are (heavy-tailed, with deliberate sweeps that walk several levels),
//! and which resting orders get cancelled. Every order goes through the
//! [`OrderBook`], so trades are exactly the book's fills: each names a real
//! resting maker and the incoming taker, at the maker's price, at the taker's
//! arrival time.
//!
//! A [`SecuritySim`] runs in steps ([`SecuritySim::run_until`]) so the caller
//! can interleave many securities in time slices with bounded memory. Its
//! output depends only on the seed, the day and the security, never on how
//! the day is sliced or which thread runs it.
//!
//! Randomness comes from a PCG generator with its raw 64-bit outputs turned
//! into numbers by the helpers below rather than by `rand`'s distributions, so
//! the bytes stay the same across `rand` releases.

use std::sync::LazyLock;

use rand::Rng;
use rand_pcg::Pcg64Mcg;

use super::book::{Fill, OrderBook, Side};
use super::calendar::{SESSION_MICROS, time_of_day};
use super::rows::{self, RowBuffer, RowPrefix, TimeText};

/// Bits of a merge key that hold the security index; the session offset in
/// microseconds sits above them. See [`merge_key`].
pub const SECURITY_BITS: u32 = 27;

/// Most securities a run can have, so that every index fits its key bits.
pub const MAX_SECURITIES: u32 = 1 << SECURITY_BITS;

/// Sort key of a row: time first, then security index, so rows of different
/// securities at the same microsecond merge in a fixed order.
pub fn merge_key(session_offset: u64, security: u32) -> u64 {
    (session_offset << SECURITY_BITS) | u64::from(security)
}

/// Share of arrivals that are market orders (type `M`).
const MARKET_ORDER_SHARE: f64 = 0.05;
/// Share of arrivals that are limit orders priced through the touch.
const MARKETABLE_LIMIT_SHARE: f64 = 0.17;
/// Share of arrivals sized to walk several levels on purpose.
const SWEEP_SHARE: f64 = 0.012;
/// Expected cancellations per arrival for each resting order: the book
/// settles where cancellations balance the resting inflow, about
/// `0.7 / CANCEL_RATE` orders.
const CANCEL_RATE: f64 = 1.0 / 120.0;
/// Mean distance in ticks behind the touch of a passive order.
const PASSIVE_OFFSET_MEAN: f64 = 3.0;
/// Share of sell orders that are odd lots (fewer than 100 shares).
const ODD_LOT_SHARE: f64 = 0.02;
/// Daily price limit, as a fraction of the reference price.
const PRICE_LIMIT: f64 = 0.10;
/// Spread of the fair value around the reference price (the standard
/// deviation of its stationary distribution, as a fraction of the price):
/// it sets how far prices wander in a day.
const FAIR_VALUE_SPREAD: f64 = 0.012;
/// Fraction of the fair value's distance from the reference price that is
/// pulled back at each arrival.
const FAIR_VALUE_PULL: f64 = 1.0 / 3000.0;
/// How strongly the side of an order follows the gap between fair value and
/// the market: a mid one standard deviation below fair value makes a buy
/// this much more likely.
const FAIR_VALUE_LEAN: f64 = 0.15;

/// A random generator for one purpose, seeded from the run seed and the
/// purpose's coordinates by SplitMix64 so nearby coordinates give unrelated
/// streams.
pub fn stream_rng(seed: u64, purpose: u64, first: u64, second: u64) -> Pcg64Mcg {
    let mut state = seed ^ 0x5851_f42d_4c95_7f2d;
    let mut next = |value: u64| {
        state = splitmix64(state ^ value);
        state
    };
    next(purpose);
    next(first);
    let high = next(second);
    let low = next(0x2545_f491_4f6c_dd1d);
    Pcg64Mcg::new((u128::from(high) << 64) | u128::from(low))
}

fn splitmix64(mut value: u64) -> u64 {
    value = value.wrapping_add(0x9e37_79b9_7f4a_7c15);
    value = (value ^ (value >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    value = (value ^ (value >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    value ^ (value >> 31)
}

/// Purposes of [`stream_rng`].
const PURPOSE_PARTITION: u64 = 1;
const PURPOSE_SECURITY: u64 = 2;

/// Uniform in `[0, 1)` with 53 random bits.
fn unit(rng: &mut Pcg64Mcg) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Uniform integer in `0..bound` (`bound > 0`), by multiply-shift.
fn below(rng: &mut Pcg64Mcg, bound: u64) -> u64 {
    ((u128::from(rng.next_u64()) * u128::from(bound)) >> 64) as u64
}

/// Approximately standard normal (Irwin–Hall with 12 uniforms): only used
/// when setting up a security or a day, never per order.
fn roughly_normal(rng: &mut Pcg64Mcg) -> f64 {
    (0..12).map(|_| unit(rng)).sum::<f64>() - 6.0
}

/// A discrete distribution sampled by table lookup: entry `i` is the
/// inverse distribution function at the middle of the `i`-th of
/// `TABLE_SIZE` equal probability slices. Sampling costs one random number
/// and a load instead of a `powf` or `ln` per order, which matters at
/// millions of orders a second. The first slice, where a heavy tail lives,
/// is sampled exactly instead.
struct InverseTable {
    values: [f64; TABLE_SIZE],
    inverse: fn(f64) -> f64,
}

const TABLE_BITS: u32 = 12;
const TABLE_SIZE: usize = 1 << TABLE_BITS;

impl InverseTable {
    fn new(inverse: fn(f64) -> f64) -> InverseTable {
        let mut values = [0.0; TABLE_SIZE];
        for (index, value) in values.iter_mut().enumerate() {
            *value = inverse((index as f64 + 0.5) / TABLE_SIZE as f64);
        }
        InverseTable { values, inverse }
    }

    fn sample(&self, rng: &mut Pcg64Mcg) -> f64 {
        let bits = rng.next_u64();
        let index = (bits >> (64 - TABLE_BITS)) as usize;
        if index != 0 {
            return self.values[index];
        }
        // The remaining bits place the draw inside the first slice.
        let within = ((bits & ((1 << 40) - 1)) + 1) as f64 / (1u64 << 40) as f64;
        (self.inverse)(within / TABLE_SIZE as f64)
    }
}

/// Lots of a passive order: Pareto with scale 2 and shape 1.6, capped at 500.
static PASSIVE_LOTS: LazyLock<InverseTable> =
    LazyLock::new(|| InverseTable::new(|u| (2.0 * u.powf(-1.0 / 1.6)).clamp(1.0, 500.0)));
/// Lots of a marketable order: Pareto with scale 1 and shape 1.1 (a heavy
/// tail: the largest walk the book on their own), capped at 5000.
static TAKER_LOTS: LazyLock<InverseTable> =
    LazyLock::new(|| InverseTable::new(|u| u.powf(-1.0 / 1.1).clamp(1.0, 5000.0)));
/// Ticks behind the touch of a passive order: exponential, mean
/// `PASSIVE_OFFSET_MEAN`.
static PASSIVE_OFFSET: LazyLock<InverseTable> =
    LazyLock::new(|| InverseTable::new(|u| -u.ln() * PASSIVE_OFFSET_MEAN));
/// Ticks through the touch of a marketable limit order: exponential, mean 1.5.
static MARKETABLE_REACH: LazyLock<InverseTable> =
    LazyLock::new(|| InverseTable::new(|u| -u.ln() * 1.5));

/// Standard exponential: the gaps between arrivals, in units of the mean gap.
static EXPONENTIAL: LazyLock<InverseTable> = LazyLock::new(|| InverseTable::new(|u| -u.ln()));

/// Intraday activity at session fraction `x`: arrivals are denser at the
/// open and the close (1.8 times the mean) than at midday (0.6 times); the
/// mean over the session is 1.
fn intraday_intensity(x: f64) -> f64 {
    let from_middle = 2.0 * x - 1.0;
    0.6 + 1.2 * from_middle * from_middle
}

/// What stays fixed for a security across days: its price level and how
/// active it is.
#[derive(Clone, Copy, Debug)]
pub struct SecurityProfile {
    /// Reference price on the first day, in ticks.
    pub first_reference_tick: u32,
    /// Relative activity; the mean over securities is about 1.
    pub activity: f64,
}

impl SecurityProfile {
    /// The profile of security `security` under `seed`.
    pub fn new(seed: u64, security: u32) -> SecurityProfile {
        let mut rng = stream_rng(seed, PURPOSE_SECURITY, u64::from(security), 0);
        // Prices spread log-uniformly over 3.00–60.00, like a stock index.
        let price = 3.0 * 20f64.powf(unit(&mut rng));
        // Log-normal activity with sigma 0.6 and mean 1.
        let activity = (0.6 * roughly_normal(&mut rng) - 0.18).exp();
        SecurityProfile {
            first_reference_tick: (price * 100.0) as u32,
            activity,
        }
    }

    /// The walk of this security's reference prices, at the first day.
    fn reference_walk(&self, seed: u64, security: u32) -> ReferenceWalk {
        ReferenceWalk {
            rng: stream_rng(seed, PURPOSE_SECURITY, u64::from(security), 1),
            price: f64::from(self.first_reference_tick),
            day: 0,
        }
    }
}

/// The reference (previous close) prices of a security, day by day: a
/// random walk of daily returns from the first day's price, drawn from a
/// stream of the security alone, so a day's price depends only on the seed,
/// the security and the day. Walked forward one day at a time, as days are
/// generated in order.
#[derive(Debug)]
struct ReferenceWalk {
    rng: Pcg64Mcg,
    price: f64,
    day: u32,
}

impl ReferenceWalk {
    /// The reference price of `day` in ticks (`day` not before the walk's).
    fn tick_on(&mut self, day: u32) -> u32 {
        debug_assert!(day >= self.day);
        while self.day < day {
            self.price *= 1.0 + 0.02 * roughly_normal(&mut self.rng).clamp(-4.5, 4.5);
            self.price = self.price.max(100.0);
            self.day += 1;
        }
        self.price as u32
    }
}

/// The state of one security's simulation for one day. See the module
/// documentation.
#[derive(Debug)]
pub struct SecuritySim {
    security: u32,
    with_aggressor: bool,
    rng: Pcg64Mcg,
    book: OrderBook,
    /// `date,security_code,` of every row.
    prefix: RowPrefix,
    /// Mean gap between arrivals as a fraction of the session: the
    /// reciprocal of the day's expected orders.
    mean_gap: f64,
    /// Orders arrived so far today (the last order id).
    orders_arrived: u64,
    /// Session fraction of the next arrival.
    arrival_position: f64,
    /// Session offset in microseconds of the next arrival; `u64::MAX` once
    /// the day is over.
    next_arrival: u64,
    trades: u64,
    reference_tick: u32,
    /// Where the reference prices of the security's days come from.
    reference_walk: Option<ReferenceWalk>,
    /// The traders' shared idea of the price, in ticks: a mean-reverting
    /// random walk around the reference price. Passive orders gather around
    /// it and order flow leans towards it, so prices trend and revert within
    /// a realistic daily range instead of wandering to the price limits.
    fair_tick: f64,
    /// Stationary standard deviation of `fair_tick`, in ticks.
    fair_spread: f64,
    /// Price of the last trade, in ticks: the market price when one side of
    /// the book is empty.
    last_trade_tick: u32,
}

impl SecuritySim {
    /// A simulation for `security`, idle until [`SecuritySim::start_day`].
    pub fn new(security: u32, with_aggressor: bool) -> SecuritySim {
        SecuritySim {
            security,
            with_aggressor,
            rng: Pcg64Mcg::new(0),
            book: OrderBook::default(),
            prefix: RowPrefix::new(b"1970-01-01", 0),
            mean_gap: 1.0,
            orders_arrived: 0,
            arrival_position: 0.0,
            next_arrival: u64::MAX,
            trades: 0,
            reference_tick: 0,
            reference_walk: None,
            fair_tick: 0.0,
            fair_spread: 1.0,
            last_trade_tick: 0,
        }
    }

    /// The security index.
    pub fn security(&self) -> u32 {
        self.security
    }

    /// Starts day `day` (`date` is its `YYYY-MM-DD`) with `orders` orders,
    /// emptying the book.
    pub fn start_day(
        &mut self,
        seed: u64,
        profile: &SecurityProfile,
        day: u32,
        date: &[u8; 10],
        orders: u64,
    ) {
        self.rng = stream_rng(
            seed,
            PURPOSE_PARTITION,
            u64::from(day),
            u64::from(self.security),
        );
        let walk = match &mut self.reference_walk {
            Some(walk) if walk.day <= day => walk,
            stale => stale.insert(profile.reference_walk(seed, self.security)),
        };
        self.reference_tick = walk.tick_on(day);
        let band = ((f64::from(self.reference_tick) * PRICE_LIMIT) as u32).max(5);
        let lowest = self.reference_tick.saturating_sub(band).max(1);
        self.book.reset(lowest, self.reference_tick + band);
        self.prefix = RowPrefix::new(date, security_code(self.security));
        self.mean_gap = 1.0 / orders.max(1) as f64;
        self.orders_arrived = 0;
        self.arrival_position = 0.0;
        self.trades = 0;
        self.fair_tick = f64::from(self.reference_tick);
        self.fair_spread = f64::from(self.reference_tick) * FAIR_VALUE_SPREAD;
        self.last_trade_tick = self.reference_tick;
        self.draw_next_arrival();
    }

    /// True when every order of the day has arrived.
    #[cfg(test)]
    pub fn day_finished(&self) -> bool {
        self.next_arrival == u64::MAX
    }

    /// Processes every arrival before session offset `end` (microseconds),
    /// appending the rows it causes.
    pub fn run_until(&mut self, end: u64, orders_out: &mut RowBuffer, trades_out: &mut RowBuffer) {
        while self.next_arrival < end {
            self.arrive(orders_out, trades_out);
            self.draw_next_arrival();
        }
    }

    /// Draws the next arrival time. Arrivals are a Poisson process whose
    /// rate follows [`intraday_intensity`] (each gap is drawn at the rate of
    /// its start), so a day has `orders` arrivals on average and no day is
    /// ever held in memory.
    fn draw_next_arrival(&mut self) {
        let gap = EXPONENTIAL.sample(&mut self.rng) * self.mean_gap
            / intraday_intensity(self.arrival_position);
        self.arrival_position += gap;
        self.next_arrival = if self.arrival_position < 1.0 {
            // Monotonic in the position, so times never go backwards.
            (self.arrival_position * SESSION_MICROS as f64) as u64
        } else {
            u64::MAX
        };
    }

    /// One order arrives at `next_arrival`: some resting orders are
    /// cancelled first, then the order is written, matched, and its rest (if
    /// a limit order) joins the book.
    fn arrive(&mut self, orders_out: &mut RowBuffer, trades_out: &mut RowBuffer) {
        self.cancel_some();

        self.orders_arrived += 1;
        let order_id = self.orders_arrived;
        let session_offset = self.next_arrival;
        let key = merge_key(session_offset, self.security);
        let time = rows::time_text(time_of_day(session_offset));

        self.move_fair_value();
        let gap = (self.fair_tick - self.market_tick()) / self.fair_spread;
        let lean = (FAIR_VALUE_LEAN * gap).clamp(-0.25, 0.25);
        let side = if unit(&mut self.rng) < 0.5 + lean {
            Side::Buy
        } else {
            Side::Sell
        };
        let (limit_tick, quantity) = self.choose_price_and_quantity(side);

        rows::push_order(
            orders_out,
            key,
            &self.prefix,
            order_id,
            &time,
            side,
            limit_tick,
            quantity,
        );
        let left =
            self.match_incoming(order_id, side, limit_tick, quantity, key, &time, trades_out);
        if let (Some(tick), true) = (limit_tick, left > 0) {
            self.book.add(order_id, side, tick, left);
        }
    }

    /// Cancels on average `CANCEL_RATE` of the resting orders. Of two
    /// resting orders picked at random the one further from its touch goes,
    /// which keeps the book concentrated near the spread as in real books.
    fn cancel_some(&mut self) {
        let expected = self.book.live_orders() as f64 * CANCEL_RATE;
        let mut count = expected as u32 + u32::from(unit(&mut self.rng) < expected.fract());
        while count > 0 && self.book.live_orders() > 0 {
            count -= 1;
            let live = self.book.live_orders() as u64;
            let first = self.book.live_slot(below(&mut self.rng, live) as usize);
            let second = self.book.live_slot(below(&mut self.rng, live) as usize);
            let victim = if self.distance_from_touch(first) >= self.distance_from_touch(second) {
                first
            } else {
                second
            };
            self.book.cancel(victim);
        }
    }

    fn distance_from_touch(&self, slot: u32) -> u32 {
        match self.book.slot_side_and_tick(slot) {
            (Side::Buy, tick) => self.book.best_bid().unwrap_or(tick) - tick,
            (Side::Sell, tick) => tick - self.book.best_ask().unwrap_or(tick),
        }
    }

    /// The new order's limit price (`None` for a market order) and quantity.
    fn choose_price_and_quantity(&mut self, side: Side) -> (Option<u32>, u64) {
        let lowest = self.book.lowest_tick();
        let highest = self.book.highest_tick();
        let opposite_touch = match side {
            Side::Buy => self.book.best_ask(),
            Side::Sell => self.book.best_bid(),
        };
        let kind = unit(&mut self.rng);

        if let Some(touch) = opposite_touch {
            if kind < SWEEP_SHARE {
                // A sweep: take the first few levels and a bit more.
                let levels = 2 + below(&mut self.rng, 4) as usize;
                let depth = self.book.depth_against(side, levels);
                let quantity = depth.div_ceil(100) * 100 + 100 * below(&mut self.rng, 10);
                if unit(&mut self.rng) < 0.4 {
                    return (None, quantity);
                }
                let reach = 5 + below(&mut self.rng, 20) as u32;
                let limit = match side {
                    Side::Buy => (touch + reach).min(highest),
                    Side::Sell => touch.saturating_sub(reach).max(lowest),
                };
                return (Some(limit), quantity);
            }
            if kind < SWEEP_SHARE + MARKET_ORDER_SHARE {
                return (None, self.taker_quantity(side));
            }
            if kind < SWEEP_SHARE + MARKET_ORDER_SHARE + MARKETABLE_LIMIT_SHARE {
                let reach = MARKETABLE_REACH.sample(&mut self.rng) as u32;
                let limit = match side {
                    Side::Buy => (touch + reach).min(highest),
                    Side::Sell => touch.saturating_sub(reach).max(lowest),
                };
                return (Some(limit), self.taker_quantity(side));
            }
        }

        // A passive limit order some ticks on its side of the fair value,
        // never through the opposite touch.
        let anchor = match side {
            Side::Buy => {
                let below_fair = self.fair_tick.floor() as u32;
                opposite_touch.map_or(below_fair, |ask| below_fair.min(ask.saturating_sub(1)))
            }
            Side::Sell => {
                let above_fair = self.fair_tick.ceil() as u32;
                opposite_touch.map_or(above_fair, |bid| above_fair.max(bid + 1))
            }
        };
        let offset = PASSIVE_OFFSET.sample(&mut self.rng) as u32;
        let tick = match side {
            Side::Buy => anchor.saturating_sub(offset),
            Side::Sell => anchor + offset,
        }
        .clamp(lowest, highest);
        let quantity = if side == Side::Sell && unit(&mut self.rng) < ODD_LOT_SHARE {
            1 + below(&mut self.rng, 99)
        } else {
            100 * PASSIVE_LOTS.sample(&mut self.rng) as u64
        };
        (Some(tick), quantity)
    }

    /// One step of the fair value's mean-reverting walk (an Ornstein–Uhlenbeck
    /// process in discrete time with uniform shocks of unit variance).
    fn move_fair_value(&mut self) {
        let reference = f64::from(self.reference_tick);
        let shock = (unit(&mut self.rng) - 0.5) * 12f64.sqrt();
        let step = self.fair_spread * (2.0 * FAIR_VALUE_PULL).sqrt();
        self.fair_tick += FAIR_VALUE_PULL * (reference - self.fair_tick) + step * shock;
        let (lowest, highest) = (self.book.lowest_tick(), self.book.highest_tick());
        self.fair_tick = self.fair_tick.clamp(f64::from(lowest), f64::from(highest));
    }

    /// The market price in ticks: the mid when both sides are quoted, else
    /// the last trade.
    fn market_tick(&self) -> f64 {
        match (self.book.best_bid(), self.book.best_ask()) {
            (Some(bid), Some(ask)) => 0.5 * f64::from(bid + ask),
            _ => f64::from(self.last_trade_tick),
        }
    }

    /// Size of an ordinary marketable order: heavy-tailed round lots, so the
    /// largest ones walk the book on their own.
    fn taker_quantity(&mut self, side: Side) -> u64 {
        if side == Side::Sell && unit(&mut self.rng) < ODD_LOT_SHARE {
            return 1 + below(&mut self.rng, 99);
        }
        100 * TAKER_LOTS.sample(&mut self.rng) as u64
    }

    /// Matches the incoming order and writes one trade row per fill. Returns
    /// the unfilled quantity.
    #[allow(clippy::too_many_arguments)]
    fn match_incoming(
        &mut self,
        taker_id: u64,
        side: Side,
        limit_tick: Option<u32>,
        quantity: u64,
        key: u64,
        time: &TimeText,
        trades_out: &mut RowBuffer,
    ) -> u64 {
        let prefix = &self.prefix;
        let trades = &mut self.trades;
        let last_trade_tick = &mut self.last_trade_tick;
        let aggressor = self.with_aggressor.then_some(side);
        self.book.execute(side, limit_tick, quantity, |fill: Fill| {
            *trades += 1;
            *last_trade_tick = fill.tick;
            let (buy_id, sell_id) = match side {
                Side::Buy => (taker_id, fill.maker_id),
                Side::Sell => (fill.maker_id, taker_id),
            };
            rows::push_trade(
                trades_out,
                key,
                prefix,
                *trades,
                time,
                fill.tick,
                fill.quantity,
                buy_id,
                sell_id,
                aggressor,
            );
        })
    }
}

/// The code of security `index`: 600000, 600001, ... (7 digits and more past
/// 999999).
pub fn security_code(index: u32) -> u64 {
    600_000 + u64::from(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_day(orders: u64, end: u64) -> (RowBuffer, RowBuffer, SecuritySim) {
        let profile = SecurityProfile::new(7, 3);
        let mut sim = SecuritySim::new(3, false);
        sim.start_day(7, &profile, 0, b"2024-01-02", orders);
        let (mut orders_out, mut trades_out) = (RowBuffer::default(), RowBuffer::default());
        sim.run_until(end, &mut orders_out, &mut trades_out);
        (orders_out, trades_out, sim)
    }

    #[test]
    fn a_day_produces_all_its_orders_in_time_order() {
        let (orders, trades, sim) = run_day(5_000, u64::MAX);
        assert!(sim.day_finished());
        assert!(
            (4_700..=5_300).contains(&orders.rows()),
            "{}",
            orders.rows()
        );
        assert!(trades.rows() > 500, "only {} trades", trades.rows());
        assert!(orders.keys.windows(2).all(|pair| pair[0] <= pair[1]));
        assert!(trades.keys.windows(2).all(|pair| pair[0] <= pair[1]));
        assert!(
            orders
                .keys
                .iter()
                .all(|key| key & (MAX_SECURITIES as u64 - 1) == 3)
        );
    }

    #[test]
    fn slicing_the_day_does_not_change_the_rows() {
        let (whole_orders, whole_trades, _) = run_day(3_000, u64::MAX);
        let profile = SecurityProfile::new(7, 3);
        let mut sim = SecuritySim::new(3, false);
        sim.start_day(7, &profile, 0, b"2024-01-02", 3_000);
        let (mut orders, mut trades) = (RowBuffer::default(), RowBuffer::default());
        for slice in 1..=7 {
            sim.run_until(SESSION_MICROS * slice / 7, &mut orders, &mut trades);
        }
        assert!(sim.day_finished());
        assert_eq!(orders.bytes(), whole_orders.bytes());
        assert_eq!(trades.bytes(), whole_trades.bytes());
    }

    #[test]
    fn a_day_is_the_same_whether_or_not_earlier_days_ran() {
        let profile = SecurityProfile::new(9, 4);
        let run = |days: &[u32]| {
            let mut sim = SecuritySim::new(4, true);
            let (mut orders, mut trades) = (RowBuffer::default(), RowBuffer::default());
            for &day in days {
                orders.clear();
                trades.clear();
                sim.start_day(9, &profile, day, b"2024-01-05", 500);
                sim.run_until(u64::MAX, &mut orders, &mut trades);
            }
            (
                orders.bytes().to_vec(),
                trades.bytes().to_vec(),
                sim.reference_tick,
            )
        };
        let direct = run(&[3]);
        assert_eq!(run(&[0, 1, 2, 3]), direct);
        assert_eq!(run(&[5, 3]), direct);
        assert_ne!(run(&[2]).2, direct.2);
    }

    #[test]
    fn stream_rngs_differ_by_coordinates() {
        let mut first = stream_rng(1, PURPOSE_PARTITION, 0, 0);
        let mut second = stream_rng(1, PURPOSE_PARTITION, 0, 1);
        let mut third = stream_rng(2, PURPOSE_PARTITION, 0, 0);
        let a = first.next_u64();
        assert_ne!(a, second.next_u64());
        assert_ne!(a, third.next_u64());
    }
}

//! Who traded with whom (SPEC §4): the order id index (first row wins), the
//! taker of every trade, matched orders, linked/unlinked trades, and each
//! taker order's fills in `(time, trade_id)` order.
//!
//! Everything is index arrays over the columns, no per-order allocation: the
//! fills of all takers live in one `Vec` grouped by taker row (a counting
//! sort), so a taker's fills are a slice.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::load::{OrderColumns, TradeColumns};
use crate::format::Side;

/// Hashes a `u64` order id with one multiply-fold. Order ids are often dense
/// and sequential; the 128-bit product mixes every input bit into the high
/// and low halves, so hashbrown's bucket and tag bits are both well spread,
/// and it is several times cheaper than SipHash. Ids come from files, not
/// from an adversary who could aim for collisions.
#[derive(Default, Clone, Copy)]
pub(crate) struct OrderIdHasher(u64);

impl Hasher for OrderIdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b) ^ self.0.rotate_left(8));
        }
    }

    fn write_u64(&mut self, id: u64) {
        // A folded 64×64→128-bit multiply: both factors are 64-bit, so the
        // product always fits.
        let product =
            u128::from(id ^ 0x243F_6A88_85A3_08D3) * u128::from(0x9E37_79B9_7F4A_7C15_u64);
        self.0 = (product as u64) ^ ((product >> 64) as u64);
    }
}

/// Marks "no row" in `u32` index arrays.
pub(crate) const NO_ROW: u32 = u32::MAX;

/// The links between the orders and trades of one partition.
#[derive(Debug, Default, Clone)]
pub(crate) struct Linking {
    /// The rows that exist for every purpose: the first row of each order id,
    /// in file order.
    pub canonical_rows: Vec<u32>,
    /// Order rows whose id already appeared on an earlier row.
    pub duplicate_orders: u64,
    /// Per order row: the id appears on either side of a trade (meaningful
    /// for canonical rows only).
    pub matched: Vec<bool>,
    /// Trades whose buy and sell ids are not both orders of the partition.
    pub unlinked_trades: u64,
    /// Trade indices sorted by `(time, trade_id)`, ties in file order.
    pub trade_order: Vec<u32>,
    /// The trade times in `trade_order` order, for reference-price lookups
    /// (sorted once here, shared by the taker and unmatched analyses);
    /// empty when the file has them in that order already: read them through
    /// [`Linking::sorted_trade_times`].
    sorted_trade_times: Vec<u64>,
    /// The file's trades are in `(time, trade_id)` order.
    trades_in_file_order: bool,
    /// `fills[fill_start[r]..fill_start[r + 1]]` are the trades in which order
    /// row `r` is the taker, in `trade_order` order.
    pub fill_start: Vec<u32>,
    /// Trade indices grouped by taker row.
    pub fills: Vec<u32>,
}

impl Linking {
    /// The trade times in `trade_order` order: the file's own column when
    /// the file is in that order (usually), so that it is not copied.
    pub fn sorted_trade_times<'t>(&'t self, trades: &'t TradeColumns) -> &'t [u64] {
        if self.trades_in_file_order {
            &trades.time_ns
        } else {
            &self.sorted_trade_times
        }
    }

    /// The reference price of an order arriving at `time_ns`: the price of
    /// the last trade, linked or not, by `(time, trade_id)`, strictly
    /// earlier.
    /// The analyses use [`Linking::reference_price_from`]; this plain
    /// binary search is what the tests hold it to.
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn reference_price(&self, time_ns: u64, trades: &TradeColumns) -> Option<f64> {
        let earlier = self
            .sorted_trade_times(trades)
            .partition_point(|&t| t < time_ns);
        let last_earlier = *self.trade_order.get(earlier.checked_sub(1)?)?;
        Some(trades.price[last_earlier as usize])
    }

    /// [`Linking::reference_price`] for order times that mostly come in
    /// ascending order, as the orders of a file and the takers do: from
    /// where the previous lookup (`cursor`) ended, a few steps forward
    /// instead of a binary search over every trade. A time earlier than
    /// the previous one, or far ahead of it, is searched as before, so the
    /// answer is the same for any order of lookups.
    #[inline]
    pub fn reference_price_from(
        &self,
        cursor: &mut ReferenceCursor,
        time_ns: u64,
        trades: &TradeColumns,
    ) -> Option<f64> {
        let times = self.sorted_trade_times(trades);
        // Invariant: `cursor.earlier` is the number of trades strictly
        // before `cursor.time_ns`.
        let earlier = if time_ns >= cursor.time_ns {
            let mut at = cursor.earlier;
            let limit = (at + ReferenceCursor::STEPS).min(times.len());
            while at < limit && times[at] < time_ns {
                at += 1;
            }
            if at == limit && at < times.len() && times[at] < time_ns {
                at = gallop(times, at, time_ns);
            }
            at
        } else {
            times.partition_point(|&t| t < time_ns)
        };
        *cursor = ReferenceCursor { time_ns, earlier };
        let last_earlier = *self.trade_order.get(earlier.checked_sub(1)?)?;
        Some(trades.price[last_earlier as usize])
    }

    /// True when order row `row` took liquidity in at least one trade
    /// (`fills_of(row)` is not empty).
    #[inline]
    pub fn is_taker(&self, row: u32) -> bool {
        let row = row as usize;
        self.fill_start[row] != self.fill_start[row + 1]
    }

    /// The fills (trade indices) of order row `row`, by `(time, trade_id)`.
    pub fn fills_of(&self, row: u32) -> &[u32] {
        let row = row as usize;
        &self.fills[self.fill_start[row] as usize..self.fill_start[row + 1] as usize]
    }
}

/// The number of `times` (ascending) below `time_ns`, given that
/// `times[known_below]` is below it: steps of doubling length from there
/// bracket the answer, which a binary search of the bracket then finds.
/// A time a little ahead costs a few probes near the cursor instead of a
/// binary search of every later trade, whose first probes miss the cache.
fn gallop(times: &[u64], known_below: usize, time_ns: u64) -> usize {
    let mut below = known_below;
    let mut step = ReferenceCursor::STEPS;
    let not_below = loop {
        let probe = below + step;
        if probe >= times.len() {
            break times.len();
        }
        if times[probe] >= time_ns {
            break probe;
        }
        below = probe;
        step *= 2;
    };
    below + 1 + times[below + 1..not_below].partition_point(|&t| t < time_ns)
}

/// Where the previous [`Linking::reference_price_from`] lookup ended.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct ReferenceCursor {
    /// The time looked up.
    time_ns: u64,
    /// How many trades are strictly earlier than `time_ns`.
    earlier: usize,
}

impl ReferenceCursor {
    /// Steps tried one by one before [`gallop`] takes over.
    const STEPS: usize = 8;
}

/// The id of a trade's taker order per SPEC §4, or `None` when the trade has
/// no taker (empty aggressor, or no aggressor column and an unknown id).
pub(crate) fn taker_id(trades: &TradeColumns, trade: usize) -> Option<u64> {
    let (buy, sell) = (trades.buy_order_id[trade], trades.sell_order_id[trade]);
    let id = if trades.has_aggressor_column {
        match trades.aggressor_side[trade]? {
            Side::Buy => buy,
            Side::Sell => sell,
        }
    } else if buy != 0 && sell != 0 {
        // A sequentially numbered feed: the later order took liquidity.
        buy.max(sell)
    } else {
        return None;
    };
    // An aggressor side whose id is unknown names no order.
    (id != 0).then_some(id)
}

/// Order id -> the first row with it.
///
/// Many feeds number each security's orders 1, 2, 3, …: the ids of a
/// partition are then dense, and an array indexed by `id − smallest id`
/// answers a lookup with one load, several times faster than hashing (the
/// lookups, one per order and two or three per trade, were most of the
/// linking's cost). Sparse ids, such as an exchange-wide sequence split
/// over many securities, take the hash map. Both answer the same. The
/// tables live in [`LinkScratch`]; this is a view of the one in use.
#[derive(Clone, Copy)]
enum OrderIndex<'a> {
    /// `rows[id − first_id]`, [`NO_ROW`] for an id without an order.
    Dense { first_id: u64, rows: &'a [u32] },
    /// Any ids.
    Hashed(&'a HashMap<u64, u32, BuildHasherDefault<OrderIdHasher>>),
}

impl<'a> OrderIndex<'a> {
    /// Indexes `ids` (one per order row, in file order) in one of the
    /// `scratch` tables: the first row of each id counts, and goes to
    /// `canonical_rows`; later ones are counted in `duplicate_orders`.
    fn build(
        ids: &[u64],
        scratch: &'a mut LinkScratch,
        canonical_rows: &mut Vec<u32>,
        duplicate_orders: &mut u64,
    ) -> OrderIndex<'a> {
        let (first_id, last_id) = ids.iter().fold((u64::MAX, 0), |(low, high), &id| {
            (low.min(id), high.max(id))
        });
        // At most four slots per order (16 bytes), or a small table.
        let dense_limit = (ids.len() as u64).saturating_mul(4).saturating_add(4096);
        if !ids.is_empty() && last_id - first_id < dense_limit {
            let rows = &mut scratch.dense_rows;
            rows.clear();
            rows.resize((last_id - first_id) as usize + 1, NO_ROW);
            for (row, &id) in ids.iter().enumerate() {
                let slot = &mut rows[(id - first_id) as usize];
                if *slot == NO_ROW {
                    *slot = row as u32;
                    canonical_rows.push(row as u32);
                } else {
                    *duplicate_orders += 1;
                }
            }
            return OrderIndex::Dense { first_id, rows };
        }
        let first_row = &mut scratch.first_row;
        first_row.clear();
        first_row.reserve(ids.len());
        for (row, &id) in ids.iter().enumerate() {
            match first_row.entry(id) {
                std::collections::hash_map::Entry::Occupied(_) => *duplicate_orders += 1,
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(row as u32);
                    canonical_rows.push(row as u32);
                }
            }
        }
        OrderIndex::Hashed(first_row)
    }

    /// The first row of order `id`; [`NO_ROW`] for 0 (unknown) or an id
    /// that is not an order of the partition.
    #[inline]
    fn row_of(self, id: u64) -> u32 {
        if id == 0 {
            return NO_ROW;
        }
        match self {
            OrderIndex::Dense { first_id, rows } => usize::try_from(id.wrapping_sub(first_id))
                .ok()
                .and_then(|at| rows.get(at))
                .copied()
                .unwrap_or(NO_ROW),
            OrderIndex::Hashed(first_row) => first_row.get(&id).copied().unwrap_or(NO_ROW),
        }
    }
}

/// The tables [`link_reusing`] builds and drops: a worker keeps them from
/// one partition to the next, so that their memory is faulted in once.
#[derive(Default)]
pub(crate) struct LinkScratch {
    /// The dense [`OrderIndex`].
    dense_rows: Vec<u32>,
    /// The hashed [`OrderIndex`].
    first_row: HashMap<u64, u32, BuildHasherDefault<OrderIdHasher>>,
    /// Each trade's taker row, [`NO_ROW`] for none.
    taker_row_of_trade: Vec<u32>,
}

/// True when the trades of the file are in `(time, trade_id)` order (ties
/// in any order: the stable sort keeps them as they are).
fn trades_in_time_order(trades: &TradeColumns) -> bool {
    let keys = trades.time_ns.iter().zip(&trades.trade_id);
    keys.clone()
        .zip(keys.skip(1))
        .all(|(earlier, later)| earlier <= later)
}

/// Builds the links of a partition.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn link(orders: &OrderColumns, trades: &TradeColumns) -> Linking {
    link_reusing(
        orders,
        trades,
        Linking::default(),
        &mut LinkScratch::default(),
    )
}

/// [`link`] into the allocations of `spare` (the previous partition's
/// links) and `scratch`: the same links, without faulting in fresh memory
/// for every partition.
pub(crate) fn link_reusing(
    orders: &OrderColumns,
    trades: &TradeColumns,
    spare: Linking,
    scratch: &mut LinkScratch,
) -> Linking {
    let order_count = orders.len();
    assert!(
        order_count < NO_ROW as usize && trades.len() < NO_ROW as usize,
        "a partition holds fewer than 2^32 - 1 rows per file"
    );

    let Linking {
        mut canonical_rows,
        mut matched,
        mut trade_order,
        mut sorted_trade_times,
        fill_start: mut fill_counts,
        mut fills,
        ..
    } = spare;
    let mut taker_row_of_trade = std::mem::take(&mut scratch.taker_row_of_trade);

    // Order id -> first row.
    canonical_rows.clear();
    canonical_rows.reserve(order_count);
    let mut duplicate_orders = 0;
    let index = OrderIndex::build(
        &orders.order_id,
        scratch,
        &mut canonical_rows,
        &mut duplicate_orders,
    );
    let row_of = |id: u64| index.row_of(id);

    // Trades by (time, trade_id); a stable sort keeps file order for ties.
    // Feeds are usually already in that order: checked along the columns,
    // several times cheaper than the sort's own check through the indices,
    // and file order is then the answer.
    let in_file_order = trades_in_time_order(trades);
    trade_order.clear();
    trade_order.extend(0..trades.len() as u32);
    if !in_file_order {
        trade_order.sort_by_key(|&t| (trades.time_ns[t as usize], trades.trade_id[t as usize]));
    }

    // One pass over the trades: matched flags, linking, and each trade's
    // taker row.
    matched.clear();
    matched.resize(order_count, false);
    let mut unlinked_trades = 0;
    taker_row_of_trade.clear();
    taker_row_of_trade.resize(trades.len(), NO_ROW);
    fill_counts.clear();
    fill_counts.resize(order_count + 1, 0);
    for (trade, taker_row) in taker_row_of_trade.iter_mut().enumerate() {
        let buy_row = row_of(trades.buy_order_id[trade]);
        let sell_row = row_of(trades.sell_order_id[trade]);
        for row in [buy_row, sell_row] {
            if row != NO_ROW {
                matched[row as usize] = true;
            }
        }
        if buy_row == NO_ROW || sell_row == NO_ROW {
            unlinked_trades += 1;
        }
        if let Some(id) = taker_id(trades, trade) {
            let row = row_of(id);
            if row != NO_ROW {
                *taker_row = row;
                fill_counts[row as usize] += 1;
            }
        }
    }

    // Counting sort of the fills by taker row. The running sums make
    // `fill_start[r]` the end of row `r`'s fills; the trades are then
    // placed from the last (by time) to the first, each one slot before
    // the previous of its row, so every taker's fills come out in
    // (time, trade_id) order and `fill_start[r]` ends at the row's start,
    // without a second array of positions.
    let mut fill_start = fill_counts;
    let mut fill_count = 0;
    for end in &mut fill_start[..order_count] {
        fill_count += *end;
        *end = fill_count;
    }
    fill_start[order_count] = fill_count;
    fills.clear();
    fills.resize(fill_count as usize, 0);
    for &trade in trade_order.iter().rev() {
        let row = taker_row_of_trade[trade as usize];
        if row != NO_ROW {
            let slot = &mut fill_start[row as usize];
            *slot -= 1;
            fills[*slot as usize] = trade;
        }
    }

    sorted_trade_times.clear();
    if !in_file_order {
        sorted_trade_times.extend(trade_order.iter().map(|&t| trades.time_ns[t as usize]));
    }
    scratch.taker_row_of_trade = taker_row_of_trade;
    Linking {
        canonical_rows,
        duplicate_orders,
        matched,
        unlinked_trades,
        trade_order,
        sorted_trade_times,
        trades_in_file_order: in_file_order,
        fill_start,
        fills,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trades(rows: &[(u64, u64, Option<Side>)], has_aggressor_column: bool) -> TradeColumns {
        let mut t = TradeColumns {
            has_aggressor_column,
            ..TradeColumns::default()
        };
        for (i, &(buy, sell, aggressor)) in rows.iter().enumerate() {
            t.trade_id.push(i as u64);
            t.time_ns.push(0);
            t.price.push(1.0);
            t.quantity.push(1.0);
            t.buy_order_id.push(buy);
            t.sell_order_id.push(sell);
            t.aggressor_side.push(aggressor);
        }
        t
    }

    #[test]
    fn without_aggressor_column_the_larger_known_id_takes() {
        let t = trades(
            &[(5, 9, None), (9, 5, None), (0, 9, None), (9, 0, None)],
            false,
        );
        let takers: Vec<Option<u64>> = (0..4).map(|i| taker_id(&t, i)).collect();
        assert_eq!(takers, [Some(9), Some(9), None, None]);
    }

    #[test]
    fn with_aggressor_column_the_named_side_takes_even_the_smaller_id() {
        let t = trades(
            &[
                (5, 9, Some(Side::Buy)),
                (5, 9, Some(Side::Sell)),
                (5, 9, None),
                (0, 9, Some(Side::Buy)),
            ],
            true,
        );
        let takers: Vec<Option<u64>> = (0..4).map(|i| taker_id(&t, i)).collect();
        assert_eq!(takers, [Some(5), Some(9), None, None]);
    }

    /// The cursor answers as the binary search does, for times in any
    /// order: ascending runs, jumps back, far jumps ahead, repeats.
    #[test]
    fn reference_prices_from_a_cursor_equal_the_binary_search() {
        let mut next = crate::test_support::xorshift(5u64);
        for round in 0..50 {
            let trade_count = (next() % 200) as usize;
            let mut t = trades(&vec![(1, 2, None); trade_count], false);
            for (i, (time, price)) in t.time_ns.iter_mut().zip(&mut t.price).enumerate() {
                *time = next() % 100;
                *price = i as f64;
            }
            let orders = OrderColumns::default();
            let l = link(&orders, &t);
            let mut cursor = ReferenceCursor::default();
            let mut time = 0u64;
            for _ in 0..300 {
                time = match (next() + round) % 5 {
                    0 => next() % 110,
                    1 => time,
                    2 => time + next() % 40,
                    _ => time + next() % 3,
                };
                assert_eq!(
                    l.reference_price_from(&mut cursor, time, &t)
                        .map(f64::to_bits),
                    l.reference_price(time, &t).map(f64::to_bits),
                    "{time}"
                );
            }
        }
    }

    /// Links built into the previous partition's allocations are the links
    /// built afresh, whatever the sizes and kinds of index before.
    #[test]
    fn reused_buffers_link_as_fresh_ones() {
        let mut next = crate::test_support::xorshift(5u64);
        let fields = |l: Linking| {
            (
                l.canonical_rows,
                l.duplicate_orders,
                l.matched,
                l.unlinked_trades,
                l.trade_order,
                l.sorted_trade_times,
                l.trades_in_file_order,
                l.fill_start,
                l.fills,
            )
        };
        let (mut spare, mut scratch) = (Linking::default(), LinkScratch::default());
        for round in 0..100 {
            let order_count = next() % 40;
            // Dense ids, and sparse ones for the hash map.
            let spread = if round % 3 == 0 { 1 << 40 } else { 1 };
            let mut orders = OrderColumns::default();
            for _ in 0..order_count {
                orders
                    .order_id
                    .push((1 + next() % (order_count + 1)) * spread);
            }
            let rows: Vec<(u64, u64, Option<Side>)> = (0..next() % 60)
                .map(|_| {
                    let id = |n: u64| (n % (order_count + 3)) * spread;
                    let side = [None, Some(Side::Buy), Some(Side::Sell)][(next() % 3) as usize];
                    (id(next()), id(next()), side)
                })
                .collect();
            let mut t = trades(&rows, round % 2 == 0);
            for time in t.time_ns.iter_mut() {
                *time = next() % 5;
            }
            let reused = link_reusing(&orders, &t, spare, &mut scratch);
            assert_eq!(fields(reused.clone()), fields(link(&orders, &t)));
            spare = reused;
        }
    }

    /// Trades already in order (the sort skipped) and not (sorted) come
    /// out as a stable sort by (time, trade_id) puts them, ties included.
    #[test]
    fn trade_order_is_the_stable_sort_by_time_and_id() {
        let mut next = crate::test_support::xorshift(9u64);
        for round in 0..200 {
            let count = (next() % 60) as usize;
            let mut t = trades(&vec![(1, 2, None); count], false);
            let mut keys: Vec<(u64, u64)> = (0..count).map(|_| (next() % 5, next() % 3)).collect();
            if round % 2 == 0 {
                keys.sort();
            }
            for (i, &(time, id)) in keys.iter().enumerate() {
                t.time_ns[i] = time;
                t.trade_id[i] = id;
            }
            let mut expected: Vec<u32> = (0..count as u32).collect();
            expected.sort_by_key(|&i| keys[i as usize]);
            let l = link(&OrderColumns::default(), &t);
            assert_eq!(l.trade_order, expected, "{keys:?}");
            let times: Vec<u64> = expected.iter().map(|&i| keys[i as usize].0).collect();
            assert_eq!(l.sorted_trade_times(&t), times, "{keys:?}");
        }
    }

    #[test]
    fn hasher_spreads_sequential_ids() {
        let hash = |id: u64| {
            let mut h = OrderIdHasher::default();
            h.write_u64(id);
            h.finish()
        };
        let top_bits: std::collections::HashSet<u64> =
            (1..=1024).map(|id| hash(id) >> 57).collect();
        assert!(
            top_bits.len() > 64,
            "tag bits poorly spread: {}",
            top_bits.len()
        );
        assert_ne!(hash(1), hash(2));
    }

    /// The dense and the hashed index link alike: the same partition with
    /// its ids spread far apart (order kept, so the larger-id rule picks
    /// the same taker) gives the same links.
    #[test]
    fn dense_and_sparse_ids_link_alike() {
        let mut next = crate::test_support::xorshift(17u64);
        for has_aggressor_column in [false, true] {
            for round in 0..20 {
                let order_count = 1 + (next() % 300) as usize;
                let ids: Vec<u64> = (0..order_count)
                    .map(|_| 1 + next() % (order_count as u64 + 20))
                    .collect();
                let id_or_unknown = |r: u64| {
                    if r.is_multiple_of(10) {
                        0
                    } else {
                        1 + r % (order_count as u64 + 40)
                    }
                };
                let rows: Vec<(u64, u64, Option<Side>)> = (0..(next() % 400))
                    .map(|_| {
                        let aggressor = match next() % 3 {
                            0 => None,
                            1 => Some(Side::Buy),
                            _ => Some(Side::Sell),
                        };
                        (id_or_unknown(next()), id_or_unknown(next()), aggressor)
                    })
                    .collect();
                let spread = |id: u64| {
                    if id == 0 {
                        0
                    } else {
                        id * 1_000_003 + 7_000_000_000
                    }
                };
                let linked = |spread: &dyn Fn(u64) -> u64| {
                    let mut orders = OrderColumns::default();
                    for &id in &ids {
                        orders.order_id.push(spread(id));
                    }
                    let mut t = trades(
                        &rows
                            .iter()
                            .map(|&(b, s, a)| (spread(b), spread(s), a))
                            .collect::<Vec<_>>(),
                        has_aggressor_column,
                    );
                    for (i, time) in t.time_ns.iter_mut().enumerate() {
                        *time = (i as u64 * 7 + round) % 13;
                    }
                    let l = link(&orders, &t);
                    (
                        l.canonical_rows,
                        l.duplicate_orders,
                        l.matched,
                        l.unlinked_trades,
                        l.trade_order,
                        l.fill_start,
                        l.fills,
                    )
                };
                let dense = linked(&|id| id);
                assert_eq!(linked(&spread), dense);
            }
        }
    }
}

//! The price-time-priority limit order book of one security for one day.
//!
//! Owns resting orders, their queues per price level, the best bid and ask,
//! and the matching of an incoming order against the opposite side. It knows
//! nothing of time, randomness or output: the simulation decides what arrives
//! and turns the [`Fill`]s it gets back into trade rows.
//!
//! Prices are integer ticks inside a fixed band `[lowest_tick, highest_tick]`
//! (the exchange's daily price limit), so the levels are a dense array indexed
//! by `tick - lowest_tick`: no tree, no hashing. A level can hold orders of
//! only one side at a time, because the book is never crossed, so one array
//! serves both sides: a non-empty level at or below the best bid is a bid
//! level, one at or above the best ask an ask level.
//!
//! Each level is a FIFO of resting orders kept as a doubly linked list through
//! a slab of order slots, so a fill pops the head and a cancellation unlinks
//! any order in O(1). Freed slots are reused, so memory follows the number of
//! live orders, not the number of orders seen.

/// No slot / no level.
const NIL: u32 = u32::MAX;

/// Buy or sell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// A bid.
    Buy,
    /// An offer.
    Sell,
}

/// One execution against a resting order, at the resting order's price.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fill {
    /// The id of the resting (maker) order.
    pub maker_id: u64,
    /// The maker's limit price, in ticks.
    pub tick: u32,
    /// Executed quantity.
    pub quantity: u64,
}

/// A resting order in the slab.
#[derive(Clone, Copy, Debug)]
struct RestingOrder {
    id: u64,
    quantity: u64,
    /// Index of its level in `levels`.
    level: u32,
    /// Neighbours in the level's FIFO (`NIL` at the ends).
    prev: u32,
    next: u32,
    /// Its position in `live`, so a cancellation can remove it in O(1).
    live_position: u32,
    side: Side,
}

/// A price level: the FIFO of its resting orders and their total quantity.
#[derive(Clone, Copy, Debug)]
struct Level {
    head: u32,
    tail: u32,
    quantity: u64,
}

const EMPTY_LEVEL: Level = Level {
    head: NIL,
    tail: NIL,
    quantity: 0,
};

/// Handle of a resting order, valid until it is filled or cancelled.
pub type OrderSlot = u32;

/// The book. See the module documentation.
#[derive(Debug, Default)]
pub struct OrderBook {
    lowest_tick: u32,
    levels: Vec<Level>,
    orders: Vec<RestingOrder>,
    free_slots: Vec<u32>,
    /// Slots of all resting orders, in no particular order, to pick
    /// cancellations from.
    live: Vec<u32>,
    /// Level index of the best bid and best ask, `NIL` when that side is empty.
    best_bid: u32,
    best_ask: u32,
}

impl OrderBook {
    /// An empty book for prices `lowest_tick..=highest_tick`.
    #[cfg(test)]
    pub fn new(lowest_tick: u32, highest_tick: u32) -> OrderBook {
        let mut book = OrderBook::default();
        book.reset(lowest_tick, highest_tick);
        book
    }

    /// Empties the book and sets a new price band, keeping the allocations.
    pub fn reset(&mut self, lowest_tick: u32, highest_tick: u32) {
        assert!(lowest_tick <= highest_tick, "empty price band");
        self.lowest_tick = lowest_tick;
        self.levels.clear();
        self.levels
            .resize((highest_tick - lowest_tick + 1) as usize, EMPTY_LEVEL);
        self.orders.clear();
        self.free_slots.clear();
        self.live.clear();
        self.best_bid = NIL;
        self.best_ask = NIL;
    }

    /// Lowest price of the band, in ticks.
    pub fn lowest_tick(&self) -> u32 {
        self.lowest_tick
    }

    /// Highest price of the band, in ticks.
    pub fn highest_tick(&self) -> u32 {
        self.lowest_tick + self.levels.len() as u32 - 1
    }

    /// Best bid price in ticks.
    pub fn best_bid(&self) -> Option<u32> {
        (self.best_bid != NIL).then(|| self.lowest_tick + self.best_bid)
    }

    /// Best ask price in ticks.
    pub fn best_ask(&self) -> Option<u32> {
        (self.best_ask != NIL).then(|| self.lowest_tick + self.best_ask)
    }

    /// Number of resting orders.
    pub fn live_orders(&self) -> usize {
        self.live.len()
    }

    /// The `index`-th resting order (`index < live_orders()`), in an
    /// arbitrary but deterministic order: for picking one at random.
    pub fn live_slot(&self, index: usize) -> OrderSlot {
        self.live[index]
    }

    /// Side and price in ticks of a resting order.
    pub fn slot_side_and_tick(&self, slot: OrderSlot) -> (Side, u32) {
        let order = &self.orders[slot as usize];
        (order.side, self.lowest_tick + order.level)
    }

    /// Total resting quantity at `tick` (zero outside the band).
    #[cfg(test)]
    pub fn quantity_at(&self, tick: u32) -> u64 {
        tick.checked_sub(self.lowest_tick)
            .and_then(|index| self.levels.get(index as usize))
            .map_or(0, |level| level.quantity)
    }

    /// Quantity resting on the side opposite to `side` (the side a `side`
    /// taker consumes) over its first `levels` non-empty price levels.
    pub fn depth_against(&self, side: Side, levels: usize) -> u64 {
        let mut total = 0;
        let mut seen = 0;
        match side {
            Side::Buy => {
                if self.best_ask == NIL {
                    return 0;
                }
                for level in &self.levels[self.best_ask as usize..] {
                    if level.head != NIL {
                        total += level.quantity;
                        seen += 1;
                        if seen == levels {
                            break;
                        }
                    }
                }
            }
            Side::Sell => {
                if self.best_bid == NIL {
                    return 0;
                }
                for level in self.levels[..=self.best_bid as usize].iter().rev() {
                    if level.head != NIL {
                        total += level.quantity;
                        seen += 1;
                        if seen == levels {
                            break;
                        }
                    }
                }
            }
        }
        total
    }

    /// Matches an incoming order of `side` for `quantity` against the
    /// opposite side, best price first and, within a price, oldest first.
    /// `limit_tick` is its limit price (`None` for a market order, which
    /// accepts any price). Calls `on_fill` for every execution, in order, and
    /// returns the quantity left unfilled. The incoming order is not added to
    /// the book; see [`OrderBook::add`].
    pub fn execute(
        &mut self,
        side: Side,
        limit_tick: Option<u32>,
        mut quantity: u64,
        mut on_fill: impl FnMut(Fill),
    ) -> u64 {
        while quantity > 0 {
            let level_index = match side {
                Side::Buy => self.best_ask,
                Side::Sell => self.best_bid,
            };
            if level_index == NIL {
                break;
            }
            let tick = self.lowest_tick + level_index;
            let acceptable = match (side, limit_tick) {
                (_, None) => true,
                (Side::Buy, Some(limit)) => tick <= limit,
                (Side::Sell, Some(limit)) => tick >= limit,
            };
            if !acceptable {
                break;
            }
            let slot = self.levels[level_index as usize].head;
            let maker = &mut self.orders[slot as usize];
            let executed = quantity.min(maker.quantity);
            maker.quantity -= executed;
            let maker_id = maker.id;
            let maker_done = maker.quantity == 0;
            self.levels[level_index as usize].quantity -= executed;
            quantity -= executed;
            on_fill(Fill {
                maker_id,
                tick,
                quantity: executed,
            });
            if maker_done {
                self.remove(slot);
            }
        }
        quantity
    }

    /// Rests an order at `tick` behind the orders already there. The book
    /// must not cross: a buy must be below the best ask, a sell above the
    /// best bid (match it with [`OrderBook::execute`] first).
    pub fn add(&mut self, id: u64, side: Side, tick: u32, quantity: u64) -> OrderSlot {
        debug_assert!(quantity > 0);
        let level_index = tick - self.lowest_tick;
        match side {
            Side::Buy => {
                debug_assert!(self.best_ask == NIL || level_index < self.best_ask);
                if self.best_bid == NIL || level_index > self.best_bid {
                    self.best_bid = level_index;
                }
            }
            Side::Sell => {
                debug_assert!(self.best_bid == NIL || level_index > self.best_bid);
                if self.best_ask == NIL || level_index < self.best_ask {
                    self.best_ask = level_index;
                }
            }
        }
        let level = &mut self.levels[level_index as usize];
        let order = RestingOrder {
            id,
            quantity,
            level: level_index,
            prev: level.tail,
            next: NIL,
            live_position: self.live.len() as u32,
            side,
        };
        let slot = match self.free_slots.pop() {
            Some(slot) => {
                self.orders[slot as usize] = order;
                slot
            }
            None => {
                self.orders.push(order);
                (self.orders.len() - 1) as u32
            }
        };
        if level.tail == NIL {
            level.head = slot;
        } else {
            self.orders[level.tail as usize].next = slot;
        }
        level.tail = slot;
        level.quantity += quantity;
        self.live.push(slot);
        slot
    }

    /// Removes a resting order that has not been filled (a cancellation).
    pub fn cancel(&mut self, slot: OrderSlot) {
        let order = self.orders[slot as usize];
        self.levels[order.level as usize].quantity -= order.quantity;
        self.remove(slot);
    }

    /// Unlinks `slot` from its level and the live list, frees it, and moves
    /// the best price of its side if its level emptied.
    fn remove(&mut self, slot: OrderSlot) {
        let order = self.orders[slot as usize];
        if order.prev == NIL {
            self.levels[order.level as usize].head = order.next;
        } else {
            self.orders[order.prev as usize].next = order.next;
        }
        if order.next == NIL {
            self.levels[order.level as usize].tail = order.prev;
        } else {
            self.orders[order.next as usize].prev = order.prev;
        }
        let last = self.live.pop().expect("a resting order is live");
        if last != slot {
            self.live[order.live_position as usize] = last;
            self.orders[last as usize].live_position = order.live_position;
        }
        self.free_slots.push(slot);
        if self.levels[order.level as usize].head != NIL {
            return;
        }
        // The level emptied: if it was the best of its side, the next best is
        // the nearest non-empty level further from the spread.
        match order.side {
            Side::Buy if order.level == self.best_bid => {
                self.best_bid = self.levels[..order.level as usize]
                    .iter()
                    .rposition(|level| level.head != NIL)
                    .map_or(NIL, |index| index as u32);
            }
            Side::Sell if order.level == self.best_ask => {
                let start = order.level as usize + 1;
                self.best_ask = self.levels[start..]
                    .iter()
                    .position(|level| level.head != NIL)
                    .map_or(NIL, |offset| (start + offset) as u32);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fills(
        book: &mut OrderBook,
        side: Side,
        limit: Option<u32>,
        quantity: u64,
    ) -> (Vec<Fill>, u64) {
        let mut all = Vec::new();
        let left = book.execute(side, limit, quantity, |fill| all.push(fill));
        (all, left)
    }

    fn fill(maker_id: u64, tick: u32, quantity: u64) -> Fill {
        Fill {
            maker_id,
            tick,
            quantity,
        }
    }

    #[test]
    fn best_prices_follow_adds() {
        let mut book = OrderBook::new(900, 1100);
        assert_eq!((book.best_bid(), book.best_ask()), (None, None));
        book.add(1, Side::Buy, 998, 100);
        book.add(2, Side::Buy, 999, 100);
        book.add(3, Side::Sell, 1002, 100);
        book.add(4, Side::Sell, 1001, 100);
        assert_eq!((book.best_bid(), book.best_ask()), (Some(999), Some(1001)));
        assert_eq!(book.live_orders(), 4);
    }

    #[test]
    fn better_price_fills_first_then_older_order() {
        let mut book = OrderBook::new(900, 1100);
        book.add(1, Side::Sell, 1002, 100);
        book.add(2, Side::Sell, 1001, 100);
        book.add(3, Side::Sell, 1001, 100);
        let (all, left) = fills(&mut book, Side::Buy, Some(1002), 250);
        assert_eq!(left, 0);
        assert_eq!(
            all,
            vec![fill(2, 1001, 100), fill(3, 1001, 100), fill(1, 1002, 50)]
        );
        // The partially filled order keeps its place with the rest.
        assert_eq!(book.best_ask(), Some(1002));
        assert_eq!(book.quantity_at(1002), 50);
        assert_eq!(book.live_orders(), 1);
    }

    #[test]
    fn limit_stops_the_walk_and_returns_the_rest() {
        let mut book = OrderBook::new(900, 1100);
        book.add(1, Side::Buy, 1000, 300);
        book.add(2, Side::Buy, 998, 300);
        let (all, left) = fills(&mut book, Side::Sell, Some(999), 500);
        assert_eq!(all, vec![fill(1, 1000, 300)]);
        assert_eq!(left, 200);
        assert_eq!(book.best_bid(), Some(998));
    }

    #[test]
    fn market_order_walks_every_level_until_the_side_is_empty() {
        let mut book = OrderBook::new(900, 1100);
        book.add(1, Side::Buy, 1000, 100);
        book.add(2, Side::Buy, 950, 100);
        book.add(3, Side::Buy, 900, 100);
        let (all, left) = fills(&mut book, Side::Sell, None, 1000);
        assert_eq!(
            all,
            vec![fill(1, 1000, 100), fill(2, 950, 100), fill(3, 900, 100)]
        );
        assert_eq!(left, 700);
        assert_eq!(book.best_bid(), None);
        assert_eq!(book.live_orders(), 0);
    }

    #[test]
    fn cancelled_order_is_no_longer_fillable() {
        let mut book = OrderBook::new(900, 1100);
        let first = book.add(1, Side::Sell, 1001, 100);
        book.add(2, Side::Sell, 1001, 100);
        let lone_best = book.add(3, Side::Sell, 1000, 100);
        book.cancel(first);
        book.cancel(lone_best);
        assert_eq!(book.best_ask(), Some(1001));
        assert_eq!(book.quantity_at(1001), 100);
        let (all, left) = fills(&mut book, Side::Buy, None, 500);
        assert_eq!(all, vec![fill(2, 1001, 100)]);
        assert_eq!(left, 400);
    }

    #[test]
    fn cancelling_the_middle_of_a_queue_keeps_the_others_in_order() {
        let mut book = OrderBook::new(900, 1100);
        book.add(1, Side::Buy, 1000, 100);
        let middle = book.add(2, Side::Buy, 1000, 100);
        book.add(3, Side::Buy, 1000, 100);
        book.cancel(middle);
        // A freed slot is reused; the new order still queues last.
        book.add(4, Side::Buy, 1000, 100);
        let (all, _) = fills(&mut book, Side::Sell, Some(1000), 300);
        assert_eq!(
            all,
            vec![fill(1, 1000, 100), fill(3, 1000, 100), fill(4, 1000, 100)]
        );
    }

    #[test]
    fn depth_counts_non_empty_levels_from_the_touch() {
        let mut book = OrderBook::new(900, 1100);
        book.add(1, Side::Sell, 1001, 100);
        book.add(2, Side::Sell, 1005, 200);
        book.add(3, Side::Sell, 1009, 400);
        book.add(4, Side::Buy, 999, 800);
        assert_eq!(book.depth_against(Side::Buy, 2), 300);
        assert_eq!(book.depth_against(Side::Buy, 10), 700);
        assert_eq!(book.depth_against(Side::Sell, 2), 800);
    }

    #[test]
    fn live_list_tracks_removals() {
        let mut book = OrderBook::new(900, 1100);
        let slots: Vec<_> = (1..=5)
            .map(|id| book.add(id, Side::Buy, 950 + id as u32, 100))
            .collect();
        book.cancel(slots[1]);
        book.cancel(slots[4]);
        let mut ids: Vec<u64> = (0..book.live_orders())
            .map(|index| {
                let (side, tick) = book.slot_side_and_tick(book.live_slot(index));
                assert_eq!(side, Side::Buy);
                u64::from(tick - 950)
            })
            .collect();
        ids.sort_unstable();
        assert_eq!(ids, vec![1, 3, 4]);
        assert_eq!(book.best_bid(), Some(954));
    }
}

//! `stats/matched/sweep_order_comparison_detailed.csv`: one row per taker
//! order, by order time then order id, with the order's own fields echoed
//! (time and side as written, order type normalised) and its metrics.

use super::load::OrderColumns;
use super::takers::TakerMetrics;
use crate::stats::{FloatTexts, push_count, push_time_text};

/// The header line of the detailed file.
pub const DETAILED_HEADER: &str = "order_id,time,side,order_type,order_qty,order_price,is_sweep,fills,levels,filled_qty,fill_ratio,notional,vwap,first_price,last_price,arrival_price,price_impact_bps,slippage_bps,shortfall_bps,duration_ms";

/// Writes the detailed file's text (header included) to `out`. Most values
/// repeat from row to row, and from partition to partition: `texts`
/// remembers their texts (a worker keeps it, 128 KiB, for all its
/// partitions).
pub fn write_detailed(
    orders: &OrderColumns,
    takers: &[TakerMetrics],
    texts: &mut FloatTexts,
    out: &mut Vec<u8>,
) {
    out.extend_from_slice(DETAILED_HEADER.as_bytes());
    out.push(b'\n');
    for taker in takers {
        let r = taker.row as usize;
        push_count(out, orders.order_id[r]);
        out.push(b',');
        push_time_text(out, orders.time_ns[r], orders.time_fraction_digits[r]);
        out.push(b',');
        out.push(orders.side_text[r]);
        out.push(b',');
        push_short_field(out, orders.order_type[r].code().as_bytes());
        texts.push_field(out, Some(taker.order_qty));
        texts.push_field(out, orders.price_of(r));
        out.extend_from_slice(if taker.is_sweep { b",1," } else { b",0," });
        push_count(out, taker.fills);
        out.push(b',');
        push_count(out, taker.levels);
        for value in metric_values(taker) {
            texts.push_field(out, value);
        }
        out.push(b'\n');
    }
}

/// A taker's metrics from `filled_qty` to `duration_ms`, in the header's
/// column order (`None` writes an empty field).
#[inline(always)]
fn metric_values(taker: &TakerMetrics) -> [Option<f64>; 11] {
    [
        Some(taker.filled_qty),
        Some(taker.fill_ratio),
        Some(taker.notional),
        Some(taker.vwap),
        Some(taker.first_price),
        Some(taker.last_price),
        taker.arrival_price,
        Some(taker.price_impact_bps),
        Some(taker.slippage_bps),
        taker.shortfall_bps,
        Some(taker.duration_ms),
    ]
}

/// Appends a field of (almost always) one byte, an order type:
/// as a byte, not through a call to `memcpy` for a length known only at
/// run time.
#[inline]
fn push_short_field(out: &mut Vec<u8>, field: &[u8]) {
    match field {
        [byte] => out.push(*byte),
        _ => out.extend_from_slice(field),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{OrderType, Side};
    use crate::stats::push_float;

    /// The writer before it remembered texts: every value written.
    fn write_plain(orders: &OrderColumns, takers: &[TakerMetrics], out: &mut Vec<u8>) {
        out.extend_from_slice(DETAILED_HEADER.as_bytes());
        out.push(b'\n');
        for taker in takers {
            let r = taker.row as usize;
            push_count(out, orders.order_id[r]);
            out.push(b',');
            push_time_text(out, orders.time_ns[r], orders.time_fraction_digits[r]);
            for text in [
                &[orders.side_text[r]][..],
                orders.order_type[r].code().as_bytes(),
            ] {
                out.push(b',');
                out.extend_from_slice(text);
            }
            out.push(b',');
            push_float(out, Some(taker.order_qty));
            out.push(b',');
            push_float(out, orders.price_of(r));
            out.extend_from_slice(if taker.is_sweep { b",1," } else { b",0," });
            push_count(out, taker.fills);
            out.push(b',');
            push_count(out, taker.levels);
            for value in metric_values(taker) {
                out.push(b',');
                push_float(out, value);
            }
            out.push(b'\n');
        }
    }

    #[test]
    fn repeated_values_are_written_as_the_plain_writer_writes_them() {
        let mut next = crate::test_support::xorshift(21u64);
        // Few distinct values, so that neighbours repeat, with the zeros,
        // NaN and infinity whose texts are special.
        let pool = [
            0.0,
            -0.0,
            1.0,
            7.57,
            100.0,
            3.7926744186046513,
            -26.42007926023839,
            f64::NAN,
            f64::INFINITY,
            1e20,
        ];
        let mut pick = || pool[(next() % pool.len() as u64) as usize];
        let mut orders = OrderColumns::default();
        let mut takers = Vec::new();
        for row in 0..2_000u32 {
            orders.order_id.push(u64::from(row) + 1);
            orders.time_ns.push(34_200_100_000_000);
            orders.time_fraction_digits.push(1);
            orders.side.push(Side::Buy);
            orders.side_text.push(b'B');
            orders
                .price
                .push(if row % 3 != 0 { pick() } else { f64::NAN });
            orders.quantity.push(pick());
            orders.order_type.push(OrderType::Limit);
            takers.push(TakerMetrics {
                row,
                is_sweep: row % 2 == 0,
                order_qty: pick(),
                fills: 1,
                levels: 1,
                filled_qty: pick(),
                fill_ratio: pick(),
                notional: pick(),
                vwap: pick(),
                first_price: pick(),
                last_price: pick(),
                arrival_price: Some(pick()).filter(|_| row % 5 != 0),
                price_impact_bps: pick(),
                slippage_bps: pick(),
                shortfall_bps: Some(pick()).filter(|_| row % 7 != 0),
                duration_ms: pick(),
            });
        }
        // A worker's texts carry over to its next partition: write the
        // takers once, then again in another order with other values.
        let mut texts = FloatTexts::default();
        for round in 0..2 {
            let (mut fast, mut plain) = (Vec::new(), Vec::new());
            write_detailed(&orders, &takers, &mut texts, &mut fast);
            write_plain(&orders, &takers, &mut plain);
            assert_eq!(String::from_utf8(fast), String::from_utf8(plain), "{round}");
            takers.reverse();
            for taker in &mut takers {
                taker.vwap = pick();
                taker.notional *= 3.0;
            }
        }
    }
}

//! `stats/matched/sweep_order_comparison_detailed.csv`: one row per taker
//! order, by order time then order id, with the order's own fields echoed
//! (time and side as written, order type normalised) and its metrics.

use super::load::OrderColumns;
use super::takers::TakerMetrics;
use crate::stats::{push_count, push_float};

/// The header line of the detailed file.
pub const DETAILED_HEADER: &str = "order_id,time,side,order_type,order_qty,order_price,is_sweep,fills,levels,filled_qty,fill_ratio,notional,vwap,first_price,last_price,arrival_price,price_impact_bps,slippage_bps,shortfall_bps,duration_ms";

/// Writes the detailed file's text (header included) to `out`.
pub fn write_detailed(orders: &OrderColumns<'_>, takers: &[TakerMetrics], out: &mut Vec<u8>) {
    out.extend_from_slice(DETAILED_HEADER.as_bytes());
    out.push(b'\n');
    for taker in takers {
        let r = taker.row as usize;
        push_count(out, orders.order_id[r]);
        out.push(b',');
        out.extend_from_slice(orders.time_text[r]);
        out.push(b',');
        out.extend_from_slice(orders.side_text[r]);
        out.push(b',');
        out.extend_from_slice(orders.order_type[r].code().as_bytes());
        out.push(b',');
        push_float(out, Some(taker.order_qty));
        out.push(b',');
        push_float(out, orders.price[r]);
        out.extend_from_slice(if taker.is_sweep { b",1," } else { b",0," });
        push_count(out, taker.fills);
        out.push(b',');
        push_count(out, taker.levels);
        for value in [
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
        ] {
            out.push(b',');
            push_float(out, value);
        }
        out.push(b'\n');
    }
}

//! The values of one metric split by group, gathered in one pass over the
//! takers and sorted once, for both the summary (descriptions) and the
//! statistical tests (which want sorted samples): no metric is collected or
//! sorted twice.

use super::takers::{Metric, TakerMetrics};
use crate::stats::{MergedKeys, Moments, float_of_order_key, order_key};

/// The defined values of one metric for sweep, non-sweep and all takers, in
/// taker order (the order the means are summed in) and sorted, with their
/// moments. The buffers are reused from metric to metric.
#[derive(Debug, Default)]
pub struct MetricSamples {
    /// Sweep takers' values, in taker order.
    pub sweep: Vec<f64>,
    /// Non-sweep takers' values, in taker order.
    pub non_sweep: Vec<f64>,
    /// Every taker's value, in taker order.
    pub all: Vec<f64>,
    /// `sweep`, sorted ascending.
    pub sweep_sorted: Vec<f64>,
    /// `non_sweep`, sorted ascending.
    pub non_sweep_sorted: Vec<f64>,
    /// The moments of `sweep`.
    pub sweep_moments: Moments,
    /// The moments of `non_sweep`.
    pub non_sweep_moments: Moments,
    /// The moments of `all`.
    pub all_moments: Moments,
    /// The positions in the takers of the sweep and of the non-sweep
    /// takers ([`MetricSamples::group`]), ascending.
    sweep_rows: Vec<u32>,
    non_sweep_rows: Vec<u32>,
    /// Scratch: the groups' sort keys.
    sweep_keys: Vec<i64>,
    non_sweep_keys: Vec<i64>,
}

impl MetricSamples {
    /// Finds which of `takers` are sweeps, for the [`MetricSamples::collect`]
    /// calls over them that follow (once for all their metrics: it reads
    /// every taker's whole record).
    pub fn group(&mut self, takers: &[TakerMetrics]) {
        let positions = || 0..takers.len() as u32;
        let is_sweep = |row: u32| takers[row as usize].is_sweep;
        super::keep_rows(positions(), &mut self.sweep_rows, is_sweep);
        super::keep_rows(positions(), &mut self.non_sweep_rows, |row| !is_sweep(row));
    }

    /// Refills the buffers with `metric` over `takers`, which
    /// [`MetricSamples::group`] was last called with.
    pub fn collect(&mut self, takers: &[TakerMetrics], metric: Metric) {
        debug_assert_eq!(
            self.sweep_rows.len() + self.non_sweep_rows.len(),
            takers.len(),
            "MetricSamples::group was called with these takers"
        );
        // One gathering loop per metric, the field it reads fixed at
        // compile time, rather than one loop choosing the field per taker.
        match metric {
            Metric::OrderQty => self.gather_defined(takers, |t| t.order_qty),
            Metric::FilledQty => self.gather_defined(takers, |t| t.filled_qty),
            Metric::FillRatio => self.gather_defined(takers, |t| t.fill_ratio),
            Metric::Notional => self.gather_defined(takers, |t| t.notional),
            Metric::Fills => self.gather_defined(takers, |t| t.fills as f64),
            Metric::Levels => self.gather_defined(takers, |t| t.levels as f64),
            Metric::PriceImpactBps => self.gather_defined(takers, |t| t.price_impact_bps),
            Metric::SlippageBps => self.gather_defined(takers, |t| t.slippage_bps),
            Metric::ShortfallBps => self.gather(takers, |t| t.shortfall_bps),
            Metric::DurationMs => self.gather_defined(takers, |t| t.duration_ms),
        }
        debug_assert!(
            self.all
                .iter()
                .copied()
                .eq(takers.iter().filter_map(|t| metric.of(t))),
            "{metric:?} gathered as Metric::of reads it"
        );
        self.sort_and_describe();
    }

    /// [`MetricSamples::gather`] for a metric every taker has: `all` is
    /// then one value per taker, filled without a capacity check per value,
    /// and each group is picked from it by the group's positions: loads
    /// independent of one another, where a branch on each taker's group
    /// (which follows no pattern, so cannot be predicted) made the
    /// analyse bench 11 % slower.
    #[inline(always)]
    fn gather_defined(&mut self, takers: &[TakerMetrics], value: impl Fn(&TakerMetrics) -> f64) {
        self.all.clear();
        self.all.extend(takers.iter().map(value));
        let all = &self.all[..];
        for (group, rows) in [
            (&mut self.sweep, &self.sweep_rows),
            (&mut self.non_sweep, &self.non_sweep_rows),
        ] {
            group.clear();
            group.extend(rows.iter().map(|&row| all[row as usize]));
        }
    }

    /// Fills `sweep`, `non_sweep` and `all` with the defined `value`s of
    /// `takers`, in taker order.
    #[inline(always)]
    fn gather(&mut self, takers: &[TakerMetrics], value: impl Fn(&TakerMetrics) -> Option<f64>) {
        for buffer in [&mut self.sweep, &mut self.non_sweep, &mut self.all] {
            buffer.clear();
            buffer.reserve(takers.len());
        }
        for taker in takers {
            if let Some(value) = value(taker) {
                if taker.is_sweep {
                    self.sweep.push(value);
                } else {
                    self.non_sweep.push(value);
                }
                self.all.push(value);
            }
        }
    }

    /// `all`, sorted ascending: the two sorted groups read as one, never
    /// merged (only a few positions of it are read).
    pub fn all_sorted(&self) -> MergedKeys<'_> {
        MergedKeys {
            a: &self.sweep_keys,
            b: &self.non_sweep_keys,
        }
    }

    /// Sorts the gathered values and takes their moments.
    fn sort_and_describe(&mut self) {
        // Sorted as integer keys (see `crate::stats::sort_floats`), which
        // `all_sorted` also reads: comparing integers is cheaper than
        // `total_cmp`, and the keys' order is its order, so the floats come
        // out the same.
        sorted_keys(&self.sweep, &mut self.sweep_keys);
        sorted_keys(&self.non_sweep, &mut self.non_sweep_keys);
        floats_of_keys(&self.sweep_keys, &mut self.sweep_sorted);
        floats_of_keys(&self.non_sweep_keys, &mut self.non_sweep_sorted);
        self.sweep_moments = Moments::of_sorted(&self.sweep, &self.sweep_sorted);
        self.non_sweep_moments = Moments::of_sorted(&self.non_sweep, &self.non_sweep_sorted);
        self.all_moments = Moments::of_sorted(&self.all, &self.all_sorted());
    }
}

/// `keys` := the sort keys of `values`, ascending.
fn sorted_keys(values: &[f64], keys: &mut Vec<i64>) {
    keys.clear();
    keys.extend(values.iter().map(|&v| order_key(v)));
    keys.sort_unstable();
}

/// `out` := the floats of `keys`.
fn floats_of_keys(keys: &[i64], out: &mut Vec<f64>) {
    out.clear();
    out.extend(keys.iter().map(|&k| float_of_order_key(k)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Sorted;

    /// Takers with distinct values in every metric, some without a
    /// shortfall.
    fn takers() -> Vec<TakerMetrics> {
        let mut next = crate::test_support::xorshift(3u64);
        (0..300u32)
            .map(|row| {
                let mut value = || (next() % 10_000) as f64 / 8.0;
                TakerMetrics {
                    row,
                    is_sweep: row % 3 == 0,
                    order_qty: value(),
                    fills: u64::from(row % 7),
                    levels: u64::from(row % 4),
                    filled_qty: value(),
                    fill_ratio: value(),
                    notional: value(),
                    vwap: value(),
                    first_price: value(),
                    last_price: value(),
                    arrival_price: Some(value()),
                    price_impact_bps: value(),
                    slippage_bps: value(),
                    shortfall_bps: (row % 5 != 0).then(&mut value),
                    duration_ms: value(),
                }
            })
            .collect()
    }

    #[test]
    fn each_metric_is_collected_by_group_and_sorted() {
        let takers = takers();
        let mut samples = MetricSamples::default();
        samples.group(&takers);
        for metric in Metric::ALL {
            samples.collect(&takers, metric);
            let of = |sweep: Option<bool>| -> Vec<f64> {
                takers
                    .iter()
                    .filter(|t| sweep.is_none_or(|sweep| t.is_sweep == sweep))
                    .filter_map(|t| metric.of(t))
                    .collect()
            };
            assert_eq!(samples.sweep, of(Some(true)), "{metric:?}");
            assert_eq!(samples.non_sweep, of(Some(false)), "{metric:?}");
            assert_eq!(samples.all, of(None), "{metric:?}");
            let mut sorted = of(None);
            sorted.sort_by(f64::total_cmp);
            let all_sorted = samples.all_sorted();
            let read: Vec<f64> = (0..all_sorted.len()).map(|i| all_sorted.nth(i)).collect();
            assert_eq!(read, sorted, "{metric:?}");
            assert_eq!(samples.all_moments.count, samples.all.len());
        }
    }
}

//! The values of one metric split by group, gathered in one pass over the
//! takers and sorted once, for both the summary (descriptions) and the
//! statistical tests (which want sorted samples): no metric is collected or
//! sorted twice.

use super::takers::{Metric, TakerMetrics};

/// The defined values of one metric for sweep, non-sweep and all takers, in
/// taker order (the order the means are summed in) and sorted. The buffers
/// are reused from metric to metric.
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
    /// `all`, sorted ascending (a merge of the two sorted groups).
    pub all_sorted: Vec<f64>,
}

impl MetricSamples {
    /// Refills the buffers with `metric` over `takers`.
    pub fn collect(&mut self, takers: &[TakerMetrics], metric: Metric) {
        for buffer in [&mut self.sweep, &mut self.non_sweep, &mut self.all] {
            buffer.clear();
        }
        for taker in takers {
            if let Some(value) = metric.of(taker) {
                if taker.is_sweep {
                    self.sweep.push(value);
                } else {
                    self.non_sweep.push(value);
                }
                self.all.push(value);
            }
        }
        sorted_copy(&self.sweep, &mut self.sweep_sorted);
        sorted_copy(&self.non_sweep, &mut self.non_sweep_sorted);
        self.all_sorted.clear();
        let (mut a, mut b) = (
            self.sweep_sorted.iter().peekable(),
            self.non_sweep_sorted.iter().peekable(),
        );
        loop {
            let next = match (a.peek(), b.peek()) {
                (Some(&&x), Some(&&y)) if x.total_cmp(&y).is_le() => a.next(),
                (Some(_), Some(_)) => b.next(),
                (Some(_), None) => a.next(),
                (None, Some(_)) => b.next(),
                (None, None) => break,
            };
            self.all_sorted.extend(next);
        }
    }
}

fn sorted_copy(values: &[f64], out: &mut Vec<f64>) {
    out.clear();
    out.extend_from_slice(values);
    crate::stats::sort_floats(out);
}

//! `stats/matched/sweep_order_comparison_summary.csv`: count, mean, sample
//! std, min, percentiles and max of every metric for sweep, non-sweep and all
//! takers — always 3 × 10 = 30 rows.

use super::takers::{Group, Metric, TakerMetrics, collect_values};
use crate::stats::{Description, push_count, push_float};

/// The header line of the summary file.
pub const SUMMARY_HEADER: &str = "group,metric,count,mean,std,min,p25,median,p75,p90,p99,max";

/// Writes the summary file's text (header included) to `out`.
pub fn write_summary(takers: &[TakerMetrics], out: &mut Vec<u8>) {
    out.extend_from_slice(SUMMARY_HEADER.as_bytes());
    out.push(b'\n');
    let mut values = Vec::with_capacity(takers.len());
    let mut scratch = Vec::with_capacity(takers.len());
    for group in Group::ALL {
        for metric in Metric::ALL {
            collect_values(takers, group, metric, &mut values);
            let d = Description::of(&values, &mut scratch);
            out.extend_from_slice(group.name().as_bytes());
            out.push(b',');
            out.extend_from_slice(metric.name().as_bytes());
            out.push(b',');
            push_count(out, d.count);
            for statistic in [
                d.mean, d.std, d.min, d.p25, d.median, d.p75, d.p90, d.p99, d.max,
            ] {
                out.push(b',');
                push_float(out, statistic);
            }
            out.push(b'\n');
        }
    }
}

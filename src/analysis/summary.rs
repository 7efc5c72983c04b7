//! `stats/matched/sweep_order_comparison_summary.csv`: count, mean, sample
//! std, min, percentiles and max of every metric for sweep, non-sweep and all
//! takers — always 3 × 10 = 30 rows, group by group.

use super::takers::{Group, Metric};
use crate::stats::{Description, push_count, push_float};

/// The header line of the summary file.
pub const SUMMARY_HEADER: &str = "group,metric,count,mean,std,min,p25,median,p75,p90,p99,max";

/// The descriptions of every (group, metric), indexed like [`Group::ALL`]
/// and [`Metric::ALL`].
pub type SummaryTable = [[Description; Metric::ALL.len()]; Group::ALL.len()];

/// Writes the summary file's text (header included) to `out`.
pub fn write_summary(table: &SummaryTable, out: &mut Vec<u8>) {
    out.extend_from_slice(SUMMARY_HEADER.as_bytes());
    out.push(b'\n');
    for (group, row) in Group::ALL.iter().zip(table) {
        for (metric, d) in Metric::ALL.iter().zip(row) {
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

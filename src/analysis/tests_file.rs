//! `stats/matched/sweep_order_statistical_tests.csv`: for every metric but
//! `levels` (which defines the groups), sweep (x) against non-sweep (y) takers
//! with Welch's t-test, Mann-Whitney U, two-sample KS and Cohen's d, with the
//! empty-field rules of SPEC §4: counts always, means when the group has a
//! value, tests only when both groups have at least two values, and a test
//! whose statistic is undefined left empty.

use super::samples::MetricSamples;
use super::takers::Metric;
use crate::stats::{
    cohens_d_of_moments, ks_2samp_sorted, mann_whitney_u_sorted, push_count, push_float,
    welch_t_test_of_moments,
};

/// The header line of the statistical tests file.
pub const TESTS_HEADER: &str = "metric,n_sweep,n_non_sweep,mean_sweep,mean_non_sweep,welch_t,welch_df,welch_p,mannwhitney_u,mannwhitney_p,ks_d,ks_p,cohens_d";

/// Appends the row of `metric` (whose values are in `samples`) to `out`.
pub fn write_test_row(metric: Metric, samples: &MetricSamples, out: &mut Vec<u8>) {
    let (sweep, non_sweep) = (&samples.sweep, &samples.non_sweep);
    out.extend_from_slice(metric.name().as_bytes());
    out.push(b',');
    push_count(out, sweep.len() as u64);
    out.push(b',');
    push_count(out, non_sweep.len() as u64);

    // Each test returns None below two values per group, as the spec asks.
    let (x, y) = (&samples.sweep_moments, &samples.non_sweep_moments);
    let welch = welch_t_test_of_moments(x, y);
    let mann_whitney = mann_whitney_u_sorted(&samples.sweep_sorted, &samples.non_sweep_sorted);
    let ks = ks_2samp_sorted(&samples.sweep_sorted, &samples.non_sweep_sorted);
    let fields = [
        x.mean,
        y.mean,
        welch.map(|w| w.t),
        welch.map(|w| w.df),
        welch.map(|w| w.p),
        mann_whitney.map(|m| m.u),
        mann_whitney.map(|m| m.p),
        ks.map(|k| k.d),
        ks.map(|k| k.p),
        cohens_d_of_moments(x, y),
    ];
    for field in fields {
        out.push(b',');
        push_float(out, field);
    }
    out.push(b'\n');
}

//! `stats/matched/sweep_order_statistical_tests.csv`: for every metric but
//! `levels` (which defines the groups), sweep (x) against non-sweep (y) takers
//! with Welch's t-test, Mann-Whitney U, two-sample KS and Cohen's d, with the
//! empty-field rules of SPEC §4: counts always, means when the group has a
//! value, tests only when both groups have at least two values, and a test
//! whose statistic is undefined left empty.

use super::takers::{Group, Metric, TakerMetrics, collect_values};
use crate::stats::{
    cohens_d, ks_2samp, mann_whitney_u, mean, push_count, push_float, welch_t_test,
};

/// The header line of the statistical tests file.
pub const TESTS_HEADER: &str = "metric,n_sweep,n_non_sweep,mean_sweep,mean_non_sweep,welch_t,welch_df,welch_p,mannwhitney_u,mannwhitney_p,ks_d,ks_p,cohens_d";

/// Writes the statistical tests file's text (header included) to `out`.
pub fn write_tests(takers: &[TakerMetrics], out: &mut Vec<u8>) {
    out.extend_from_slice(TESTS_HEADER.as_bytes());
    out.push(b'\n');
    let mut sweep = Vec::new();
    let mut non_sweep = Vec::new();
    for metric in Metric::ALL.into_iter().filter(|m| *m != Metric::Levels) {
        collect_values(takers, Group::Sweep, metric, &mut sweep);
        collect_values(takers, Group::NonSweep, metric, &mut non_sweep);
        out.extend_from_slice(metric.name().as_bytes());
        out.push(b',');
        push_count(out, sweep.len() as u64);
        out.push(b',');
        push_count(out, non_sweep.len() as u64);

        let welch = welch_t_test(&sweep, &non_sweep);
        let mann_whitney = mann_whitney_u(&sweep, &non_sweep);
        let ks = ks_2samp(&sweep, &non_sweep);
        let fields = [
            mean(&sweep),
            mean(&non_sweep),
            welch.map(|w| w.t),
            welch.map(|w| w.df),
            welch.map(|w| w.p),
            mann_whitney.map(|m| m.u),
            mann_whitney.map(|m| m.p),
            ks.map(|k| k.d),
            ks.map(|k| k.p),
            cohens_d(&sweep, &non_sweep),
        ];
        for field in fields {
            out.push(b',');
            push_float(out, field);
        }
        out.push(b'\n');
    }
}

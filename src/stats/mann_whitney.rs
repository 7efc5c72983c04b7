//! The Mann-Whitney U test with the normal approximation, as
//! `scipy.stats.mannwhitneyu(x, y, alternative='two-sided',
//! use_continuity=True, method='asymptotic')` computes it: U for x from the
//! average ranks of the pooled sample, the tie-corrected variance, a
//! continuity correction of ½ and p = 2·sf(z) clipped to 1.

use super::special_functions::normal_sf;

/// The outcome of [`mann_whitney_u`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannWhitneyResult {
    /// U statistic of x (the number of pairs with x above y, ties counted ½).
    pub u: f64,
    /// Two-sided asymptotic p-value.
    pub p: f64,
}

/// The Mann-Whitney U test of x against y. `None` when either sample has
/// fewer than two values. When every value is tied the test says nothing:
/// U = nm/2 and p = 1, as SciPy gives.
pub fn mann_whitney_u(x: &[f64], y: &[f64]) -> Option<MannWhitneyResult> {
    let mut xs = x.to_vec();
    let mut ys = y.to_vec();
    xs.sort_unstable_by(f64::total_cmp);
    ys.sort_unstable_by(f64::total_cmp);
    mann_whitney_u_sorted(&xs, &ys)
}

/// [`mann_whitney_u`] for samples already sorted ascending: the pooled ranks
/// come from walking both samples in step, one group of tied values at a
/// time, without building the pooled sample.
pub fn mann_whitney_u_sorted(xs: &[f64], ys: &[f64]) -> Option<MannWhitneyResult> {
    let (nx, ny) = (xs.len(), ys.len());
    if nx < 2 || ny < 2 {
        return None;
    }
    // Ranks are half-integers, so these sums are exact in f64 for any
    // realistic sample size.
    let mut rank_sum_x = 0.0f64;
    let mut tie_term = 0.0f64; // Σ (t³ − t) over groups of t tied values
    let mut ranked = 0usize; // values ranked so far
    let (mut i, mut j) = (0usize, 0usize);
    let mut groups = 0usize;
    while i < nx || j < ny {
        let value = match (xs.get(i), ys.get(j)) {
            (Some(&a), Some(&b)) => a.min(b),
            (Some(&a), None) => a,
            (None, Some(&b)) => b,
            (None, None) => break,
        };
        // `==` rather than bit equality: -0.0 and 0.0 are one tied value.
        let from_x = xs[i..].iter().take_while(|&&v| v == value).count();
        let from_y = ys[j..].iter().take_while(|&&v| v == value).count();
        i += from_x;
        j += from_y;
        let tied = (from_x + from_y) as f64;
        // Positions ranked+1 ..= ranked+tied share their average rank.
        let average_rank = (2 * ranked + from_x + from_y + 1) as f64 / 2.0;
        rank_sum_x += from_x as f64 * average_rank;
        tie_term += tied * tied * tied - tied;
        ranked += from_x + from_y;
        groups += 1;
    }
    let (nx_f, ny_f) = (nx as f64, ny as f64);
    let u_x = rank_sum_x - nx_f * (nx_f + 1.0) / 2.0;
    let u_y = nx_f * ny_f - u_x;
    if groups == 1 {
        return Some(MannWhitneyResult { u: u_x, p: 1.0 });
    }
    let n = (nx + ny) as f64;
    let mean_u = nx_f * ny_f / 2.0;
    let sd_u = (nx_f * ny_f / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)))).sqrt();
    let z = (u_x.max(u_y) - mean_u - 0.5) / sd_u;
    let p = (2.0 * normal_sf(z)).clamp(0.0, 1.0);
    if !u_x.is_finite() || p.is_nan() {
        return None;
    }
    Some(MannWhitneyResult { u: u_x, p })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_scipy_with_ties() {
        // scipy.stats.mannwhitneyu([1,2,2,3,5], [2,4,4,6], method='asymptotic')
        let r = mann_whitney_u(&[1.0, 2.0, 2.0, 3.0, 5.0], &[2.0, 4.0, 4.0, 6.0]).unwrap();
        assert_eq!(r.u, 5.0);
        assert!((r.p - 0.26017490098354834).abs() < 1e-12, "{r:?}");
    }

    #[test]
    fn all_tied_gives_half_nm_and_p_one() {
        let r = mann_whitney_u(&[3.0, 3.0], &[3.0, 3.0, 3.0]).unwrap();
        assert_eq!(r, MannWhitneyResult { u: 3.0, p: 1.0 });
        assert_eq!(mann_whitney_u(&[1.0], &[1.0, 2.0]), None);
    }
}

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
    if x.len() < 2 || y.len() < 2 {
        return None;
    }
    let (nx, ny) = (x.len(), y.len());
    // Pool the samples, remembering which came from x, and rank them.
    let mut pooled: Vec<(f64, bool)> = Vec::with_capacity(nx + ny);
    pooled.extend(x.iter().map(|&v| (v, true)));
    pooled.extend(y.iter().map(|&v| (v, false)));
    pooled.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));

    // Ranks are half-integers, so these sums are exact in f64 for any
    // realistic sample size.
    let mut rank_sum_x = 0.0f64;
    let mut tie_term = 0.0f64; // Σ (t³ − t) over groups of t tied values
    let mut start = 0;
    while start < pooled.len() {
        let value = pooled[start].0;
        // `==` rather than bit equality: -0.0 and 0.0 are one tied value.
        let end = start + pooled[start..].iter().take_while(|p| p.0 == value).count();
        let tied = (end - start) as f64;
        // Positions start..end hold ranks start+1 ..= end; their average:
        let average_rank = (start + 1 + end) as f64 / 2.0;
        let from_x = pooled[start..end].iter().filter(|p| p.1).count() as f64;
        rank_sum_x += from_x * average_rank;
        tie_term += tied * tied * tied - tied;
        start = end;
    }
    let (nx_f, ny_f) = (nx as f64, ny as f64);
    let u_x = rank_sum_x - nx_f * (nx_f + 1.0) / 2.0;
    let u_y = nx_f * ny_f - u_x;
    let all_tied = pooled.first().map(|p| p.0) == pooled.last().map(|p| p.0);
    if all_tied {
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

//! Welch's unequal-variance t-test, as `scipy.stats.ttest_ind(x, y,
//! equal_var=False)` computes it: the t statistic, the Welch–Satterthwaite
//! degrees of freedom and the two-sided p-value from Student's t.

use super::describe::Moments;
use super::special_functions::student_t_two_sided_p;

/// The outcome of [`welch_t_test`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WelchResult {
    /// The t statistic (positive when x has the larger mean).
    pub t: f64,
    /// Welch–Satterthwaite degrees of freedom.
    pub df: f64,
    /// Two-sided p-value.
    pub p: f64,
}

/// Welch's t-test of x against y. `None` when either sample has fewer than two
/// values, or when the statistic is not finite (both samples constant: the
/// standard error is 0), which is when SPEC §4 leaves the fields empty.
pub fn welch_t_test(x: &[f64], y: &[f64]) -> Option<WelchResult> {
    welch_t_test_of_moments(&Moments::of(x), &Moments::of(y))
}

/// [`welch_t_test`] from the two samples' [`Moments`], computed once by a
/// caller that needs them for other statistics too.
pub fn welch_t_test_of_moments(x: &Moments, y: &Moments) -> Option<WelchResult> {
    if x.count < 2 || y.count < 2 {
        return None;
    }
    let (nx, ny) = (x.count as f64, y.count as f64);
    let (mean_x, mean_y) = (x.mean?, y.mean?);
    let var_x_over_n = x.variance? / nx;
    let var_y_over_n = y.variance? / ny;
    let standard_error_sq = var_x_over_n + var_y_over_n;
    let df = standard_error_sq * standard_error_sq
        / (var_x_over_n * var_x_over_n / (nx - 1.0) + var_y_over_n * var_y_over_n / (ny - 1.0));
    let t = (mean_x - mean_y) / standard_error_sq.sqrt();
    if !t.is_finite() || !df.is_finite() {
        return None;
    }
    let p = student_t_two_sided_p(t, df);
    Some(WelchResult { t, df, p })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_scipy_on_a_small_example() {
        // scipy.stats.ttest_ind([1,2,3,4,5], [2,4,6,8,10,12], equal_var=False)
        let r = welch_t_test(
            &[1.0, 2.0, 3.0, 4.0, 5.0],
            &[2.0, 4.0, 6.0, 8.0, 10.0, 12.0],
        )
        .unwrap();
        assert!((r.t - -2.3763541031440183).abs() < 1e-12, "{r:?}");
        assert!((r.df - 6.972255729794934).abs() < 1e-12, "{r:?}");
        assert!((r.p - 0.04928433820673053).abs() < 1e-10, "{r:?}");
    }

    #[test]
    fn both_constant_is_undefined_one_constant_is_not() {
        assert_eq!(welch_t_test(&[1.0, 1.0], &[2.0, 2.0, 2.0]), None);
        assert_eq!(welch_t_test(&[1.0, 1.0], &[1.0, 1.0]), None);
        assert!(welch_t_test(&[1.0, 1.0], &[2.0, 3.0]).is_some());
        assert_eq!(welch_t_test(&[1.0], &[2.0, 3.0]), None);
    }
}

//! Cohen's d: the difference of means in units of the pooled standard
//! deviation (both groups' variances over n − 1, pooled over n₁ + n₂ − 2).

use super::describe::Moments;

/// Cohen's d of x against y. `None` when either group has fewer than two
/// values or the pooled standard deviation is 0 (both groups constant).
pub fn cohens_d(x: &[f64], y: &[f64]) -> Option<f64> {
    cohens_d_of_moments(&Moments::of(x), &Moments::of(y))
}

/// [`cohens_d`] from the two samples' [`Moments`], computed once by a
/// caller that needs them for other statistics too.
pub fn cohens_d_of_moments(x: &Moments, y: &Moments) -> Option<f64> {
    if x.count < 2 || y.count < 2 {
        return None;
    }
    let (nx, ny) = (x.count as f64, y.count as f64);
    let pooled_variance = ((nx - 1.0) * x.variance? + (ny - 1.0) * y.variance?) / (nx + ny - 2.0);
    let pooled_sd = pooled_variance.sqrt();
    if pooled_sd == 0.0 || !pooled_sd.is_finite() {
        return None;
    }
    let d = (x.mean? - y.mean?) / pooled_sd;
    d.is_finite().then_some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooled_over_n_minus_one() {
        // means 2 and 5, variances 1 and 1 -> pooled sd 1 -> d = -3
        assert_eq!(cohens_d(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]), Some(-3.0));
        assert_eq!(cohens_d(&[1.0, 1.0], &[2.0, 2.0]), None);
        assert_eq!(cohens_d(&[1.0], &[2.0, 3.0]), None);
    }
}

//! Property tests: the statistics of `sweep_pipeline::stats` agree with slow,
//! obviously correct reference formulas on random samples, including samples
//! with many ties and constant groups.
//!
//! - Mann-Whitney U by counting every pair (O(nm)); p from the textbook
//!   normal approximation with `statrs`' erfc (accurate to ~1e-10, hence the
//!   tolerance).
//! - KS D by evaluating both empirical CDFs at every data point.
//! - Welch t and df from naive left-to-right sums; p from `statrs`' Student t.
//! - Percentiles from the textbook (n−1)q interpolation.

use proptest::prelude::*;
use statrs::distribution::{ContinuousCDF, StudentsT};
use statrs::function::erf::erfc;
use sweep_pipeline::stats;

fn relative_error(actual: f64, expected: f64) -> f64 {
    if actual == expected {
        0.0
    } else {
        (actual - expected).abs() / expected.abs().max(f64::MIN_POSITIVE)
    }
}

/// Samples of 0..30 values: either from a small grid (many ties), continuous,
/// or a constant.
fn sample() -> impl Strategy<Value = Vec<f64>> {
    prop_oneof![
        prop::collection::vec((0u8..6).prop_map(|v| f64::from(v) * 0.5), 0..30),
        prop::collection::vec(-1000.0f64..1000.0, 0..30),
        (prop::sample::select(vec![0.1, 3.0, -2.5, 1e6]), 0usize..30).prop_map(|(v, n)| vec![v; n]),
    ]
}

fn naive_mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

fn naive_variance(v: &[f64]) -> f64 {
    let m = naive_mean(v);
    v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (v.len() - 1) as f64
}

fn is_constant(v: &[f64]) -> bool {
    v.iter().all(|x| *x == v[0])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn mann_whitney_matches_pair_counting(x in sample(), y in sample()) {
        let result = stats::mann_whitney_u(&x, &y);
        if x.len() < 2 || y.len() < 2 {
            prop_assert!(result.is_none());
            return Ok(());
        }
        let result = result.unwrap();
        let mut u = 0.0;
        for a in &x {
            for b in &y {
                if a > b { u += 1.0 } else if a == b { u += 0.5 }
            }
        }
        prop_assert_eq!(result.u, u);
        let mirrored = stats::mann_whitney_u(&y, &x).unwrap();
        prop_assert_eq!(result.u + mirrored.u, (x.len() * y.len()) as f64);
        prop_assert_eq!(result.p, mirrored.p);

        let (n1, n2) = (x.len() as f64, y.len() as f64);
        let n = n1 + n2;
        let mut pooled: Vec<f64> = x.iter().chain(&y).copied().collect();
        pooled.sort_by(f64::total_cmp);
        let mut tie_term = 0.0;
        for group in pooled.chunk_by(|a, b| a == b) {
            let t = group.len() as f64;
            tie_term += t * t * t - t;
        }
        let variance = n1 * n2 / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)));
        let expected_p = if variance <= 0.0 {
            1.0
        } else {
            let z = (u.max(n1 * n2 - u) - n1 * n2 / 2.0 - 0.5) / variance.sqrt();
            (erfc(z / std::f64::consts::SQRT_2)).min(1.0)
        };
        prop_assert!(relative_error(result.p, expected_p) < 1e-9, "p {} vs {}", result.p, expected_p);
    }

    #[test]
    fn ks_matches_ecdfs_at_every_point(x in sample(), y in sample()) {
        let result = stats::ks_2samp(&x, &y);
        if x.len() < 2 || y.len() < 2 {
            prop_assert!(result.is_none());
            return Ok(());
        }
        let result = result.unwrap();
        let ecdf = |v: &[f64], at: f64| v.iter().filter(|s| **s <= at).count() as f64 / v.len() as f64;
        let d = x.iter().chain(&y).map(|&at| (ecdf(&x, at) - ecdf(&y, at)).abs()).fold(0.0, f64::max);
        // SciPy reports the exact rational D rounded once; the ECDF
        // difference here is rounded twice.
        prop_assert!((result.d - d).abs() <= 4.0 * f64::EPSILON, "d {} vs {}", result.d, d);
        // The Kolmogorov series summed term by term.
        let arg = d * ((x.len() * y.len()) as f64 / (x.len() + y.len()) as f64).sqrt();
        let expected_p = if arg < 0.2 {
            1.0
        } else {
            let mut s = 0.0;
            for k in 1..200 {
                let k = f64::from(k);
                let sign = if k as u32 % 2 == 1 { 1.0 } else { -1.0 };
                s += sign * 2.0 * (-2.0 * k * k * arg * arg).exp();
            }
            s.clamp(0.0, 1.0)
        };
        prop_assert!((result.p - expected_p).abs() < 1e-12, "p {} vs {}", result.p, expected_p);
    }

    #[test]
    fn welch_matches_naive_formulas(x in sample(), y in sample()) {
        let result = stats::welch_t_test(&x, &y);
        if x.len() < 2 || y.len() < 2 || (is_constant(&x) && is_constant(&y)) {
            prop_assert!(result.is_none());
            return Ok(());
        }
        let result = result.unwrap();
        let (n1, n2) = (x.len() as f64, y.len() as f64);
        let v1 = if is_constant(&x) { 0.0 } else { naive_variance(&x) } / n1;
        let v2 = if is_constant(&y) { 0.0 } else { naive_variance(&y) } / n2;
        let t = (naive_mean(&x) - naive_mean(&y)) / (v1 + v2).sqrt();
        let df = (v1 + v2).powi(2) / (v1 * v1 / (n1 - 1.0) + v2 * v2 / (n2 - 1.0));
        let scale = naive_mean(&x).abs().max(naive_mean(&y).abs()) / (v1 + v2).sqrt();
        prop_assert!((result.t - t).abs() <= 1e-9 * scale.max(1.0), "t {} vs {}", result.t, t);
        prop_assert!(relative_error(result.df, df) < 1e-9, "df {} vs {}", result.df, df);
        let p = 2.0 * StudentsT::new(0.0, 1.0, df).unwrap().sf(t.abs());
        prop_assert!((result.p - p).abs() < 1e-8, "p {} vs {}", result.p, p);
    }

    #[test]
    fn cohens_d_matches_naive_pooled_sd(x in sample(), y in sample()) {
        let d = stats::cohens_d(&x, &y);
        if x.len() < 2 || y.len() < 2 || (is_constant(&x) && is_constant(&y)) {
            prop_assert!(d.is_none());
            return Ok(());
        }
        let (n1, n2) = (x.len() as f64, y.len() as f64);
        let v1 = if is_constant(&x) { 0.0 } else { naive_variance(&x) };
        let v2 = if is_constant(&y) { 0.0 } else { naive_variance(&y) };
        let pooled = (((n1 - 1.0) * v1 + (n2 - 1.0) * v2) / (n1 + n2 - 2.0)).sqrt();
        let expected = (naive_mean(&x) - naive_mean(&y)) / pooled;
        let d = d.unwrap();
        prop_assert!((d - expected).abs() <= 1e-9 * expected.abs().max(1.0), "{} vs {}", d, expected);
    }

    #[test]
    fn descriptions_match_textbook_formulas(x in sample()) {
        let mut scratch = Vec::new();
        let description = stats::Description::of(&x, &mut scratch);
        prop_assert_eq!(description.count, x.len() as u64);
        if x.is_empty() {
            prop_assert_eq!(description, stats::Description::default());
            return Ok(());
        }
        let mut sorted = x.clone();
        sorted.sort_by(f64::total_cmp);
        let spread = (sorted[sorted.len() - 1] - sorted[0]).abs().max(1.0);
        let magnitude = sorted.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1.0);
        prop_assert!((description.mean.unwrap() - naive_mean(&x)).abs() <= 1e-12 * magnitude);
        match description.std {
            None => prop_assert_eq!(x.len(), 1),
            Some(std) if is_constant(&x) => prop_assert_eq!(std, 0.0),
            Some(std) => prop_assert!((std - naive_variance(&x).sqrt()).abs() <= 1e-9 * magnitude),
        }
        for (percent, value) in [(25.0, description.p25), (50.0, description.median), (75.0, description.p75), (90.0, description.p90), (99.0, description.p99)] {
            let h = (sorted.len() - 1) as f64 * percent / 100.0;
            let low = h.floor() as usize;
            let high = (low + 1).min(sorted.len() - 1);
            let expected = sorted[low] + (h - low as f64) * (sorted[high] - sorted[low]);
            prop_assert!((value.unwrap() - expected).abs() <= 1e-12 * spread, "p{}: {:?} vs {}", percent, value, expected);
        }
        prop_assert_eq!(description.min, Some(sorted[0]));
        prop_assert_eq!(description.max, Some(sorted[sorted.len() - 1]));
    }
}

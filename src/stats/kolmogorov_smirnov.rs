//! The two-sample Kolmogorov-Smirnov test with the asymptotic p-value:
//! `scipy.stats.ks_2samp(x, y).statistic` for D, and
//! `scipy.stats.kstwobign.sf(D·√(nm/(n+m)))` for p, where `kstwobign` is the
//! limiting (Kolmogorov) distribution of √n·Dₙ.

/// The outcome of [`ks_2samp`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KsResult {
    /// The largest distance between the two empirical CDFs.
    pub d: f64,
    /// Asymptotic two-sided p-value.
    pub p: f64,
}

/// Below this argument the survival function is computed as 1 − cdf from the
/// Jacobi-theta form of the CDF, which converges fast for small x; above it,
/// from the alternating series of the survival function, which converges fast
/// for large x and keeps full relative precision in the far tail. Both series
/// need at most a handful of terms at the crossover.
const SERIES_CROSSOVER: f64 = 0.82;

/// The survival function of the Kolmogorov distribution,
/// P(K > x) = 2 Σ_{k≥1} (−1)^(k−1) e^(−2k²x²) (SciPy's `kolmogorov(x)`,
/// `kstwobign.sf(x)`). 1 for x ≤ 0, NaN for NaN.
pub fn kolmogorov_sf(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x <= 0.0 {
        return 1.0;
    }
    let sf = if x <= SERIES_CROSSOVER {
        // P(K ≤ x) = √(2π)/x · Σ_{k≥1} e^(−(2k−1)²π²/(8x²))
        let exponent_unit = -std::f64::consts::PI * std::f64::consts::PI / (8.0 * x * x);
        let mut series = 0.0;
        for k in 1..64u32 {
            let odd = f64::from(2 * k - 1);
            let term = (exponent_unit * odd * odd).exp();
            series += term;
            if term <= series * 1e-17 {
                break;
            }
        }
        1.0 - (2.0 * std::f64::consts::PI).sqrt() / x * series
    } else {
        // Sum the alternating series from its smallest term up, so that the
        // small terms are not lost against the first.
        let mut terms = [0.0f64; 16];
        let mut count = 0;
        let first = (-2.0 * x * x).exp();
        while count < terms.len() {
            let k = (count + 1) as f64;
            let term = (-2.0 * k * k * x * x).exp();
            terms[count] = term;
            count += 1;
            if term <= first * 1e-17 {
                break;
            }
        }
        let mut sum = 0.0;
        for (i, term) in terms[..count].iter().enumerate().rev() {
            if i % 2 == 0 {
                sum += term;
            } else {
                sum -= term;
            }
        }
        2.0 * sum
    };
    sf.clamp(0.0, 1.0)
}

/// The two-sample KS test of x against y. `None` when either sample has fewer
/// than two values (SPEC §4 leaves the test fields empty then).
pub fn ks_2samp(x: &[f64], y: &[f64]) -> Option<KsResult> {
    if x.len() < 2 || y.len() < 2 {
        return None;
    }
    let mut xs = x.to_vec();
    let mut ys = y.to_vec();
    xs.sort_unstable_by(f64::total_cmp);
    ys.sort_unstable_by(f64::total_cmp);
    ks_2samp_sorted(&xs, &ys)
}

/// [`ks_2samp`] for samples already sorted ascending.
pub fn ks_2samp_sorted(xs: &[f64], ys: &[f64]) -> Option<KsResult> {
    if xs.len() < 2 || ys.len() < 2 {
        return None;
    }
    let d = ks_statistic_of_sorted(xs, ys);
    let (n, m) = (xs.len(), ys.len());
    let scale = ((n * m) as f64 / (n + m) as f64).sqrt();
    Some(KsResult {
        d,
        p: kolmogorov_sf(d * scale),
    })
}

/// Up to this sample size SciPy's default (`method='auto'`) takes the exact
/// path, which reports D as the nearest multiple of 1/lcm(n, m) — the exact
/// rational D rounded once — instead of the difference of two rounded CDF
/// values. Above it, D is `i/n − j/m` as evaluated in floating point.
const SCIPY_MAX_EXACT_N: usize = 10_000;

/// D for two sorted samples: walk both in step and compare the empirical CDFs
/// just after every distinct value (the only places the difference changes),
/// as SciPy reports D: exactly, as integers over lcm(n, m), up to
/// [`SCIPY_MAX_EXACT_N`]; as its floats `i/n − j/m` above.
fn ks_statistic_of_sorted(xs: &[f64], ys: &[f64]) -> f64 {
    let (n, m) = (xs.len(), ys.len());
    // Only the form SciPy reports is computed: the floats' two divisions
    // per distinct value were most of the walk's cost.
    let exact = n.max(m) <= SCIPY_MAX_EXACT_N;
    let g = gcd(n as u64, m as u64);
    let (x_step, y_step) = (m as u64 / g, n as u64 / g); // lcm = n·x_step = m·y_step
    let lcm = n as u64 * x_step;
    let (mut i, mut j) = (0usize, 0usize);
    let (mut largest, mut smallest) = (0.0f64, 0.0f64);
    let mut largest_exact = 0u64;
    while i < n || j < m {
        let value = match (xs.get(i), ys.get(j)) {
            (Some(&a), Some(&b)) => a.min(b),
            (Some(&a), None) => a,
            (None, Some(&b)) => b,
            (None, None) => break,
        };
        while i < n && xs[i] <= value {
            i += 1;
        }
        while j < m && ys[j] <= value {
            j += 1;
        }
        if exact {
            largest_exact = largest_exact.max((i as u64 * x_step).abs_diff(j as u64 * y_step));
        } else {
            let difference = i as f64 / n as f64 - j as f64 / m as f64;
            largest = largest.max(difference);
            smallest = smallest.min(difference);
        }
    }
    if exact {
        largest_exact as f64 / lcm as f64
    } else {
        largest.max((-smallest).clamp(0.0, 1.0))
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kolmogorov_sf_known_values() {
        // scipy.special.kolmogorov at 0.5, 1.0, 2.0
        assert!((kolmogorov_sf(0.5) - 0.9639452436648751).abs() < 1e-15);
        assert!((kolmogorov_sf(1.0) - 0.26999967167735456).abs() < 1e-15);
        assert!((kolmogorov_sf(2.0) / 0.0006709252557796953 - 1.0).abs() < 1e-12);
        assert_eq!(kolmogorov_sf(0.0), 1.0);
        assert_eq!(kolmogorov_sf(0.01), 1.0);
        assert_eq!(kolmogorov_sf(40.0), 0.0);
    }

    #[test]
    fn distance_takes_scipys_form_on_each_side_of_the_exact_limit() {
        let mut next = crate::test_support::xorshift(17u64);
        for (n, m) in [(9_999, 37), (10_000, 10_000), (10_001, 37), (25_000, 4)] {
            let mut sample = |len: usize| -> Vec<f64> {
                let mut v: Vec<f64> = (0..len).map(|_| (next() % 500) as f64).collect();
                v.sort_by(f64::total_cmp);
                v
            };
            let (xs, ys) = (sample(n), sample(m));
            // Each sample's count at or below every value of either.
            let below = |v: &[f64], at: f64| v.partition_point(|&s| s <= at);
            let (mut float_d, mut exact_num) = (0.0f64, 0u64);
            for &at in xs.iter().chain(&ys) {
                let (i, j) = (below(&xs, at), below(&ys, at));
                float_d = float_d.max((i as f64 / n as f64 - j as f64 / m as f64).abs());
                exact_num = exact_num.max(((i * m) as u64).abs_diff((j * n) as u64));
            }
            let expected = if n.max(m) <= SCIPY_MAX_EXACT_N {
                exact_num as f64 / (n * m) as f64
            } else {
                float_d
            };
            let d = ks_statistic_of_sorted(&xs, &ys);
            // The exact form over lcm(n, m) and over n·m is the same
            // fraction, rounded once.
            assert_eq!(d.to_bits(), expected.to_bits(), "{n} {m}: {d} {expected}");
        }
        // A case whose two forms differ in the last bit (found with
        // Python's `fractions`): 0 … 10,000 against three values. Past the
        // limit SciPy reports the floats' D (the exact one, rounded once, is
        // 0.32270106322701064).
        let xs: Vec<f64> = (0..10_001).map(f64::from).collect();
        let ys = [1537.0, 3439.0, 7993.0];
        assert_eq!(ks_statistic_of_sorted(&xs, &ys), 0.3227010632270106);
    }

    #[test]
    fn identical_samples_have_zero_distance() {
        let r = ks_2samp(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]).unwrap();
        assert_eq!(r, KsResult { d: 0.0, p: 1.0 });
    }

    #[test]
    fn disjoint_samples_have_distance_one() {
        let r = ks_2samp(&[1.0, 2.0], &[3.0, 4.0, 5.0]).unwrap();
        assert_eq!(r.d, 1.0);
    }
}

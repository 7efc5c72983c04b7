//! Descriptive statistics computed exactly as NumPy computes them, so that
//! means, standard deviations and percentiles match the Python reference
//! pipeline to the last bit, not merely to a tolerance.
//!
//! NumPy sums a contiguous `float64` array with *pairwise summation* (blocks of
//! up to 128 values summed with eight interleaved accumulators, larger arrays
//! split in halves), starting from the additive identity `0.0`. A plain
//! left-to-right sum rounds differently, so [`numpy_sum`] reproduces the
//! pairwise scheme; [`mean`] and [`sample_variance`] are built on it the way
//! `np.mean` and `np.var(ddof=1)` are.
//!
//! One deliberate departure: a group whose values are all equal has a variance
//! of exactly 0 (SPEC §4). NumPy can return a tiny positive number there
//! (the mean of `[0.1, 0.1, 0.1]` is not exactly `0.1`), which would turn an
//! undefined test into a meaningless one.

/// Below this length a pairwise block is summed left to right.
const UNROLL: usize = 8;
/// Blocks up to this length are summed with `UNROLL` interleaved accumulators.
const PAIRWISE_BLOCK: usize = 128;

/// The sum of `values` as `np.sum` computes it for a contiguous array.
pub fn numpy_sum(values: &[f64]) -> f64 {
    // The reduction starts from the identity 0.0, which also turns a lone
    // -0.0 into 0.0, as NumPy does.
    0.0 + pairwise_sum(values)
}

fn pairwise_sum(values: &[f64]) -> f64 {
    pairwise_sum_of(values, |v| v)
}

/// The pairwise sum of `term(v)` over `values`, adding in exactly the order
/// [`pairwise_sum`] adds, without storing the terms first (the squared
/// deviations of [`Moments::of`] were an allocation per variance).
#[inline]
fn pairwise_sum_of(values: &[f64], term: impl Fn(f64) -> f64 + Copy) -> f64 {
    let n = values.len();
    if n < UNROLL {
        let mut sum = 0.0;
        for &v in values {
            sum += term(v);
        }
        sum
    } else if n <= PAIRWISE_BLOCK {
        let mut acc = [0.0f64; UNROLL];
        for (slot, &v) in acc.iter_mut().zip(&values[..UNROLL]) {
            *slot = term(v);
        }
        let whole = n - n % UNROLL;
        // Whole chunks, so that no lane's index is bounds-checked (seven
        // checks per eight values) and the lanes' adds can share vector
        // instructions; each lane still adds its values in order.
        for chunk in values[UNROLL..whole].chunks_exact(UNROLL) {
            for (slot, &v) in acc.iter_mut().zip(chunk) {
                *slot += term(v);
            }
        }
        let mut sum =
            ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
        for &v in &values[whole..] {
            sum += term(v);
        }
        sum
    } else {
        // Split near the middle, keeping the first half a multiple of UNROLL.
        let mut half = n / 2;
        half -= half % UNROLL;
        pairwise_sum_of(&values[..half], term) + pairwise_sum_of(&values[half..], term)
    }
}

/// The arithmetic mean (`np.mean`); `None` for no values.
pub fn mean(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        None
    } else {
        Some(numpy_sum(values) / values.len() as f64)
    }
}

/// True when every value equals the first (so the spread is exactly 0).
fn all_equal(values: &[f64]) -> bool {
    match values.split_first() {
        Some((first, rest)) => rest.iter().all(|v| v == first),
        None => true,
    }
}

/// The sample variance over n − 1 degrees of freedom (`np.var(ddof=1)`):
/// two passes, squared deviations from the mean summed pairwise. Exactly 0
/// when all values are equal; `None` for fewer than two values.
pub fn sample_variance(values: &[f64]) -> Option<f64> {
    Moments::of(values).variance
}

/// The count, mean and sample variance of a group of values, computed once
/// and shared by every statistic that needs them (the summary's mean and
/// std, Welch's test, Cohen's d): each used to sum the same values again.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Moments {
    /// How many values.
    pub count: usize,
    /// [`mean`]; `None` for no values.
    pub mean: Option<f64>,
    /// [`sample_variance`]; `None` for fewer than two values.
    pub variance: Option<f64>,
}

impl Moments {
    /// The moments of `values`, in the order given (the sums depend on it
    /// in the last bit, as NumPy's do).
    pub fn of(values: &[f64]) -> Moments {
        Moments::with_equality(values, all_equal(values))
    }

    /// [`Moments::of`] when the caller holds the values sorted ascending
    /// (by [`f64::total_cmp`]): they are all equal exactly when the
    /// smallest equals the largest (a NaN, if any, sorts to an end and
    /// equals nothing), which saves a pass over them.
    pub fn of_sorted(values: &[f64], sorted: &(impl Sorted + ?Sized)) -> Moments {
        debug_assert_eq!(values.len(), sorted.len());
        let all_equal = match sorted.len().checked_sub(1) {
            Some(last) => sorted.nth(0) == sorted.nth(last),
            None => true,
        };
        Moments::with_equality(values, all_equal)
    }

    /// The moments of `values`, told whether they are all equal.
    fn with_equality(values: &[f64], all_equal: bool) -> Moments {
        let mean = mean(values);
        let variance = match mean {
            Some(_) if values.len() < 2 => None,
            Some(_) if all_equal => Some(0.0),
            Some(centre) => {
                let squares = pairwise_sum_of(values, |v| {
                    let d = v - centre;
                    d * d
                });
                // `numpy_sum`'s start from the identity 0.0.
                Some((0.0 + squares) / (values.len() - 1) as f64)
            }
            None => None,
        };
        Moments {
            count: values.len(),
            mean,
            variance,
        }
    }
}

/// The sample standard deviation (`np.std(ddof=1)`); see [`sample_variance`].
pub fn sample_std(values: &[f64]) -> Option<f64> {
    sample_variance(values).map(f64::sqrt)
}

/// The integer whose order is [`f64::total_cmp`]'s order: the float's
/// bits, with the magnitude bits flipped for negatives. A bijection;
/// [`float_of_order_key`] undoes it.
pub fn order_key(value: f64) -> i64 {
    let bits = value.to_bits() as i64;
    bits ^ (((bits >> 63) as u64) >> 1) as i64
}

/// The float of an [`order_key`] (the same flip undoes itself: it keeps
/// the sign bit).
pub fn float_of_order_key(key: i64) -> f64 {
    f64::from_bits((key ^ (((key >> 63) as u64) >> 1) as i64) as u64)
}

/// Sorts `values` ascending by [`f64::total_cmp`], as
/// `values.sort_unstable_by(f64::total_cmp)` does, but faster: each value
/// is mapped once to its [`order_key`], the integers are sorted, and
/// mapped back. The mapping is a bijection that preserves the order, so the
/// result is bit for bit the same; comparing integers is several times
/// cheaper than calling `total_cmp`, which maps both operands on every
/// comparison.
pub fn sort_floats(values: &mut [f64]) {
    let mut keys: Vec<i64> = values.iter().map(|&v| order_key(v)).collect();
    keys.sort_unstable();
    for (slot, &key) in values.iter_mut().zip(&keys) {
        *slot = float_of_order_key(key);
    }
}

/// NumPy's linear interpolation `a + (b − a)·t`, evaluated from the nearer end
/// (`b − (b − a)·(1 − t)` when `t ≥ 0.5`) exactly as `numpy.lib._lerp` does.
fn lerp(a: f64, b: f64, t: f64) -> f64 {
    let diff = b - a;
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

/// `np.percentile(values, percent)` with the default `'linear'` method, for
/// values already sorted ascending; `None` for no values.
pub fn percentile_of_sorted(sorted: &(impl Sorted + ?Sized), percent: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let quantile = percent / 100.0;
    let virtual_index = last as f64 * quantile;
    if virtual_index >= last as f64 {
        return Some(sorted.nth(last));
    }
    if virtual_index <= 0.0 {
        return Some(sorted.nth(0));
    }
    let below = virtual_index.floor();
    let gamma = virtual_index - below;
    let i = below as usize;
    Some(lerp(sorted.nth(i), sorted.nth(i + 1), gamma))
}

/// Values in ascending order (by [`f64::total_cmp`]), read by position:
/// what percentiles, the least and the greatest need.
pub trait Sorted {
    /// How many values.
    fn len(&self) -> usize;
    /// True when there are no values.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The value at position `i` (< `len`), the least at 0.
    fn nth(&self, i: usize) -> f64;
}

/// A slice, an array or a `Vec` of floats, sorted.
impl<T: AsRef<[f64]> + ?Sized> Sorted for T {
    fn len(&self) -> usize {
        self.as_ref().len()
    }
    fn nth(&self, i: usize) -> f64 {
        self.as_ref()[i]
    }
}

/// Two ascending runs of [`order_key`]s read as their merge, without
/// merging them: the value at a position is found by a binary search over
/// how many of it come from each run. (A group's description needs a
/// dozen positions; merging every value cost a branch-free but serial
/// step per value, for each metric of each partition.)
#[derive(Debug, Clone, Copy)]
pub struct MergedKeys<'a> {
    /// One run, ascending.
    pub a: &'a [i64],
    /// The other run, ascending.
    pub b: &'a [i64],
}

impl MergedKeys<'_> {
    /// The key at position `i` of the merge.
    ///
    /// The first `i + 1` keys of the merge are the first `taken` of `a`
    /// and the first `i + 1 − taken` of `b`, for the least `taken` at which
    /// no key of `b` left out is below one of `a` left out:
    /// `b[j − 1] <= a[taken]`. That condition only turns from false to
    /// true as `taken` grows, hence the binary search; the key is then the
    /// greater of the last one taken from each run.
    fn key_at(&self, i: usize) -> i64 {
        let (a, b) = (self.a, self.b);
        let wanted = i + 1;
        let (mut low, mut high) = (wanted.saturating_sub(b.len()), wanted.min(a.len()));
        while low < high {
            let taken = low + (high - low) / 2;
            // `taken` < `high` <= `a.len()`, and `j` >= 1 since
            // `taken` < `wanted`.
            let j = wanted - taken;
            if b[j - 1] <= a[taken] {
                high = taken;
            } else {
                low = taken + 1;
            }
        }
        let (taken, j) = (low, wanted - low);
        let from_a = taken.checked_sub(1).map(|at| a[at]);
        let from_b = j.checked_sub(1).map(|at| b[at]);
        match (from_a, from_b) {
            (Some(x), Some(y)) => x.max(y),
            (Some(x), None) | (None, Some(x)) => x,
            // Only when `i` is past the end, which indexing a slice there
            // would not allow either.
            (None, None) => panic!("position {i} of {} merged keys", self.len()),
        }
    }
}

impl Sorted for MergedKeys<'_> {
    fn len(&self) -> usize {
        self.a.len() + self.b.len()
    }
    fn nth(&self, i: usize) -> f64 {
        float_of_order_key(self.key_at(i))
    }
}

/// [`percentile_of_sorted`] of values in any order, given as their
/// [`order_key`]s, by selection instead of a sort: the one or two order
/// statistics the interpolation reads are found in expected linear time,
/// and they are the very values a sort by [`f64::total_cmp`] would put at
/// those places, so the result is identical. Reorders `keys`; `None` for
/// no values.
pub fn percentile_by_selection(keys: &mut [i64], percent: f64) -> Option<f64> {
    percentiles_by_selection(keys, [percent])[0]
}

/// [`percentile_by_selection`] of several percents at once. Each selection
/// leaves the keys below its place no greater than those above, so with
/// the percents ascending (the median, then the 90th) each later one
/// searches only above the place of the one before; a percent out of
/// order searches all the keys again. The results are the same either way.
pub fn percentiles_by_selection<const N: usize>(
    keys: &mut [i64],
    percents: [f64; N],
) -> [Option<f64>; N] {
    let mut results = [None; N];
    let Some(last) = keys.len().checked_sub(1) else {
        return results;
    };
    // Every key before `done` is ≤ every key from `done` on.
    let mut done = 0;
    let mut nth = |keys: &mut [i64], k: usize| {
        if k < done {
            done = 0;
        }
        let at = *keys[done..].select_nth_unstable(k - done).1;
        done = k;
        at
    };
    for (result, percent) in results.iter_mut().zip(percents) {
        let quantile = percent / 100.0;
        let virtual_index = last as f64 * quantile;
        *result = Some(if virtual_index >= last as f64 {
            float_of_order_key(nth(keys, last))
        } else if virtual_index <= 0.0 {
            float_of_order_key(nth(keys, 0))
        } else {
            let below = virtual_index.floor();
            let gamma = virtual_index - below;
            let i = below as usize;
            let at = nth(keys, i);
            // `i` < `last`, so something lies above; its least is the next.
            let next = keys[i + 1..].iter().copied().min().unwrap_or(at);
            lerp(float_of_order_key(at), float_of_order_key(next), gamma)
        });
    }
    results
}

/// The summary statistics of one group of values (a row of
/// `sweep_order_comparison_summary.csv`). Every statistic is `None` for an
/// empty group, and `std` also for a single value.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Description {
    /// How many values.
    pub count: u64,
    /// Arithmetic mean.
    pub mean: Option<f64>,
    /// Sample standard deviation (n − 1).
    pub std: Option<f64>,
    /// Smallest value.
    pub min: Option<f64>,
    /// 25th percentile.
    pub p25: Option<f64>,
    /// 50th percentile.
    pub median: Option<f64>,
    /// 75th percentile.
    pub p75: Option<f64>,
    /// 90th percentile.
    pub p90: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
    /// Largest value.
    pub max: Option<f64>,
}

impl Description {
    /// Describes `values` (in the order given: the mean depends on it in the
    /// last bit, as NumPy's does). `scratch` is reused for the sorted copy.
    pub fn of(values: &[f64], scratch: &mut Vec<f64>) -> Description {
        scratch.clear();
        scratch.extend_from_slice(values);
        scratch.sort_unstable_by(f64::total_cmp);
        Description::of_sorted(values, scratch)
    }

    /// [`Description::of`] when the caller already holds `sorted`, the same
    /// values sorted ascending (`values` keeps the order the mean uses).
    pub fn of_sorted(values: &[f64], sorted: &[f64]) -> Description {
        Description::of_moments(&Moments::of(values), sorted)
    }

    /// [`Description::of_sorted`] when the caller already holds the
    /// values' [`Moments`].
    pub fn of_moments(moments: &Moments, sorted: &(impl Sorted + ?Sized)) -> Description {
        debug_assert_eq!(moments.count, sorted.len());
        let last = sorted.len().checked_sub(1);
        Description {
            count: moments.count as u64,
            mean: moments.mean,
            std: moments.variance.map(f64::sqrt),
            min: last.map(|_| sorted.nth(0)),
            p25: percentile_of_sorted(sorted, 25.0),
            median: percentile_of_sorted(sorted, 50.0),
            p75: percentile_of_sorted(sorted, 75.0),
            p90: percentile_of_sorted(sorted, 90.0),
            p99: percentile_of_sorted(sorted, 99.0),
            max: last.map(|last| sorted.nth(last)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairwise_sum_of_short_and_long_arrays() {
        assert_eq!(numpy_sum(&[]), 0.0);
        assert_eq!(numpy_sum(&[1.0, 2.0, 3.0]), 6.0);
        let long: Vec<f64> = (1..=1000).map(f64::from).collect();
        assert_eq!(numpy_sum(&long), 500_500.0);
        assert!(numpy_sum(&[-0.0]).is_sign_positive());
    }

    /// The variance as it was computed before [`Moments`]: the squared
    /// deviations stored, then summed.
    fn variance_by_stored_squares(values: &[f64]) -> Option<f64> {
        if values.len() < 2 {
            return None;
        }
        if all_equal(values) {
            return Some(0.0);
        }
        let centre = mean(values)?;
        let squares: Vec<f64> = values.iter().map(|v| (v - centre) * (v - centre)).collect();
        Some(numpy_sum(&squares) / (values.len() - 1) as f64)
    }

    #[test]
    fn moments_equal_the_stored_computation_bit_for_bit() {
        let mut next = crate::test_support::xorshift(11u64);
        for len in [
            0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 127, 128, 129, 300, 1000, 4099,
        ] {
            for _ in 0..5 {
                let values: Vec<f64> = (0..len)
                    .map(|_| (next() % 1_000_000) as f64 / 7.0 - 50_000.0)
                    .collect();
                let moments = Moments::of(&values);
                assert_eq!(moments.count, len);
                assert_eq!(
                    moments.mean.map(f64::to_bits),
                    mean(&values).map(f64::to_bits)
                );
                assert_eq!(
                    moments.variance.map(f64::to_bits),
                    variance_by_stored_squares(&values).map(f64::to_bits),
                    "{len}"
                );
            }
        }
    }

    #[test]
    fn moments_of_sorted_values_equal_moments_of_values() {
        let mut next = crate::test_support::xorshift(12u64);
        // Few distinct values (so that groups are often constant), with
        // both zeros, which are equal but sort apart, and a NaN.
        let pool = [0.0, -0.0, 0.1, 2.5, -7.0, f64::NAN];
        for len in [0, 1, 2, 3, 5, 40] {
            for distinct in 1..=pool.len() {
                for _ in 0..20 {
                    let values: Vec<f64> = (0..len)
                        .map(|_| pool[(next() % distinct as u64) as usize])
                        .collect();
                    let mut sorted = values.clone();
                    sorted.sort_by(f64::total_cmp);
                    let (of, of_sorted) =
                        (Moments::of(&values), Moments::of_sorted(&values, &sorted));
                    assert_eq!(of.count, of_sorted.count);
                    assert_eq!(of.mean.map(f64::to_bits), of_sorted.mean.map(f64::to_bits));
                    assert_eq!(
                        of.variance.map(f64::to_bits),
                        of_sorted.variance.map(f64::to_bits),
                        "{values:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn merged_keys_read_as_the_merge_of_their_runs() {
        let mut next = crate::test_support::xorshift(13u64);
        for (a_len, b_len) in [
            (0, 0),
            (0, 1),
            (1, 0),
            (1, 1),
            (0, 9),
            (9, 0),
            (3, 40),
            (40, 3),
            (64, 65),
        ] {
            for values in [3, 50, 1_000_000] {
                // Few distinct values give long runs of ties across the runs.
                let mut run = |len: usize| -> Vec<i64> {
                    let mut keys: Vec<i64> = (0..len)
                        .map(|_| order_key((next() % values) as f64 - values as f64 / 2.0))
                        .collect();
                    keys.sort_unstable();
                    keys
                };
                let (a, b) = (run(a_len), run(b_len));
                let mut merged: Vec<f64> =
                    a.iter().chain(&b).map(|&k| float_of_order_key(k)).collect();
                merged.sort_by(f64::total_cmp);
                let view = MergedKeys { a: &a, b: &b };
                assert_eq!(view.len(), merged.len());
                let read: Vec<f64> = (0..view.len()).map(|i| view.nth(i)).collect();
                assert_eq!(read, merged, "{a:?} {b:?}");
                for percent in [0.0, 25.0, 50.0, 90.0, 99.0, 100.0] {
                    assert_eq!(
                        percentile_of_sorted(&view, percent).map(f64::to_bits),
                        percentile_of_sorted(&merged[..], percent).map(f64::to_bits)
                    );
                }
            }
        }
    }

    #[test]
    fn constant_groups_have_exactly_zero_spread() {
        assert_eq!(sample_std(&[0.1, 0.1, 0.1]), Some(0.0));
        assert_eq!(sample_std(&[7.0]), None);
        assert_eq!(
            sample_std(&[1.0, 2.0, 3.0, 4.0]),
            Some((5.0f64 / 3.0).sqrt())
        );
    }

    #[test]
    fn percentiles_match_numpy_linear() {
        let sorted = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(percentile_of_sorted(&sorted, 50.0), Some(2.5));
        assert_eq!(percentile_of_sorted(&sorted, 25.0), Some(1.75));
        assert_eq!(percentile_of_sorted(&sorted, 90.0), Some(3.7));
        assert_eq!(percentile_of_sorted(&sorted, 100.0), Some(4.0));
        assert_eq!(percentile_of_sorted(&[5.0], 99.0), Some(5.0));
        assert_eq!(percentile_of_sorted(&[], 50.0), None);
    }

    #[test]
    fn floats_sort_exactly_as_total_cmp_sorts_them() {
        let mut next = crate::test_support::xorshift(3u64);
        for len in [0, 1, 2, 3, 10, 100, 1000] {
            for round in 0..20 {
                let values: Vec<f64> = (0..len)
                    .map(|i| match (next() + round) % 6 {
                        0 => f64::from_bits(next()),
                        1 => -0.0,
                        2 => 0.0,
                        3 => (next() % 7) as f64 - 3.0,
                        4 => [f64::INFINITY, f64::NEG_INFINITY, f64::NAN, -f64::NAN][i % 4],
                        _ => (next() % 100_000) as f64 / 100.0,
                    })
                    .collect();
                let mut expected = values.clone();
                expected.sort_unstable_by(f64::total_cmp);
                let mut sorted = values.clone();
                sort_floats(&mut sorted);
                let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&sorted), bits(&expected));
            }
        }
    }

    #[test]
    fn several_percentiles_by_selection_equal_one_at_a_time() {
        let mut next = crate::test_support::xorshift(13u64);
        for len in [0, 1, 2, 3, 4, 5, 9, 10, 11, 100, 1001] {
            for _ in 0..30 {
                let values: Vec<f64> = (0..len).map(|_| (next() % 50) as f64 - 20.0).collect();
                let keys: Vec<i64> = values.iter().map(|&v| order_key(v)).collect();
                let percents = [
                    (next() % 101) as f64,
                    (next() % 101) as f64,
                    (next() % 101) as f64,
                ];
                for set in [percents, [50.0, 90.0, 99.0], [0.0, 100.0, 25.0]] {
                    let together = percentiles_by_selection(&mut keys.clone(), set);
                    for (percent, got) in set.into_iter().zip(together) {
                        let alone = percentile_by_selection(&mut keys.clone(), percent);
                        assert_eq!(got.map(f64::to_bits), alone.map(f64::to_bits), "{set:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn percentiles_by_selection_equal_percentiles_of_the_sorted_values() {
        let mut next = crate::test_support::xorshift(9u64);
        for len in [0, 1, 2, 3, 4, 5, 7, 10, 11, 100, 1001] {
            for round in 0..30u64 {
                let values: Vec<f64> = (0..len)
                    .map(|_| match (next() + round) % 5 {
                        0 => -0.0,
                        1 => 0.0,
                        2 => (next() % 5) as f64,
                        3 => f64::from_bits(next() >> 2),
                        _ => (next() % 100_000) as f64 / 7.0 - 5000.0,
                    })
                    .collect();
                let mut sorted = values.clone();
                sorted.sort_unstable_by(f64::total_cmp);
                for percent in [0.0, 1.0, 25.0, 50.0, 75.0, 90.0, 99.0, 100.0] {
                    let mut keys: Vec<i64> = values.iter().map(|&v| order_key(v)).collect();
                    let by_selection = percentile_by_selection(&mut keys, percent);
                    let by_sort = percentile_of_sorted(&sorted, percent);
                    assert_eq!(
                        by_selection.map(f64::to_bits),
                        by_sort.map(f64::to_bits),
                        "{percent} {values:?}"
                    );
                }
            }
        }
    }
}

//! Statistics for the sweep-order analyses (SPEC §4): descriptive statistics
//! that reproduce NumPy bit for bit, the two-sample tests that reproduce SciPy,
//! and the number formatting of the output files.
//!
//! Everything here is a pure function over `f64` slices; this module knows
//! nothing about orders, trades or files. The analyses in
//! [`crate::analysis`] decide which values go in and which fields come out
//! empty.
//!
//! | file | owns |
//! |---|---|
//! | `describe` | NumPy's pairwise sum, mean, sample variance/std, linear percentiles |
//! | `welch` | Welch's unequal-variance t-test (`scipy.stats.ttest_ind(equal_var=False)`) |
//! | `mann_whitney` | the asymptotic Mann-Whitney U test (`scipy.stats.mannwhitneyu`) |
//! | `kolmogorov_smirnov` | the two-sample KS statistic and the Kolmogorov distribution's survival function |
//! | `effect_size` | Cohen's d with the pooled standard deviation |
//! | `special_functions` | erfc and Student's t written for full double precision |
//! | `number_format` | shortest round-trip floats (as `ryu` writes them) and integer fields |

mod describe;
mod effect_size;
mod kolmogorov_smirnov;
mod mann_whitney;
mod number_format;
mod special_functions;
mod welch;

pub use describe::{
    Description, MergedKeys, Moments, Sorted, float_of_order_key, mean, numpy_sum, order_key,
    percentile_by_selection, percentile_of_sorted, percentiles_by_selection, sample_std,
    sample_variance, sort_floats,
};
pub use effect_size::{cohens_d, cohens_d_of_moments};
pub use kolmogorov_smirnov::{KsResult, kolmogorov_sf, ks_2samp, ks_2samp_sorted};
pub use mann_whitney::{MannWhitneyResult, mann_whitney_u, mann_whitney_u_sorted};
pub use number_format::{FloatTexts, push_count, push_float, push_time_text};
pub use welch::{WelchResult, welch_t_test, welch_t_test_of_moments};

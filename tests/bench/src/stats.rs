//! Statistics of benchmark rounds.

/// The median of `values`, sorted in place: for an even count, the upper of the middle two.
///
/// # Panics
///
/// When `values` is empty.
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

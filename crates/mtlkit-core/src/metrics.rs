//! Regression metrics with scikit-learn's conventions.

use ndarray::ArrayView1;

/// Mean squared error `1/n Σ (y_true − y_pred)²`. NaN for empty inputs.
///
/// # Panics
/// If the lengths differ (a programming error).
pub fn mean_squared_error(y_true: ArrayView1<'_, f64>, y_pred: ArrayView1<'_, f64>) -> f64 {
    assert_eq!(y_true.len(), y_pred.len(), "length mismatch");
    let n = y_true.len() as f64;
    y_true
        .iter()
        .zip(y_pred)
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f64>()
        / n
}

/// Coefficient of determination `1 − SS_res / SS_tot`, as `sklearn.metrics.r2_score`:
/// when `y_true` is constant, 1.0 for a perfect prediction and 0.0 otherwise; NaN for fewer
/// than two samples (not defined).
///
/// # Panics
/// If the lengths differ (a programming error).
pub fn r2_score(y_true: ArrayView1<'_, f64>, y_pred: ArrayView1<'_, f64>) -> f64 {
    assert_eq!(y_true.len(), y_pred.len(), "length mismatch");
    if y_true.len() < 2 {
        // not defined on fewer than two samples (scikit-learn: NaN and a warning)
        return f64::NAN;
    }
    let mean = y_true.mean().unwrap_or(f64::NAN);
    let ss_res: f64 = y_true
        .iter()
        .zip(y_pred)
        .map(|(a, b)| (a - b) * (a - b))
        .sum();
    let ss_tot: f64 = y_true.iter().map(|a| (a - mean) * (a - mean)).sum();
    if ss_tot == 0.0 {
        if ss_res == 0.0 { 1.0 } else { 0.0 }
    } else {
        1.0 - ss_res / ss_tot
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn matches_sklearn_values() {
        // sklearn.metrics.r2_score([3, -0.5, 2, 7], [2.5, 0.0, 2, 8]) == 0.9486081370449679
        let t = array![3.0, -0.5, 2.0, 7.0];
        let p = array![2.5, 0.0, 2.0, 8.0];
        assert!((r2_score(t.view(), p.view()) - 0.948_608_137_044_967_9).abs() < 1e-15);
        assert!((mean_squared_error(t.view(), p.view()) - 0.375).abs() < 1e-15);
        let c = array![1.0, 1.0];
        assert_eq!(r2_score(c.view(), c.view()), 1.0);
        assert_eq!(r2_score(c.view(), array![1.0, 2.0].view()), 0.0);
        // one sample: not defined (it read 0 or 1)
        assert!(r2_score(array![3.0].view(), array![2.0].view()).is_nan());
    }
}

//! Checks for hyperparameters, shared by every estimator.
//!
//! Each check returns [`Error::InvalidParameter`] naming the parameter in scikit-learn's words.

use crate::{Error, Result};

/// The first item of `items` that an earlier item equals (a repeated seed, column or feature
/// name), if any.
///
/// ```
/// assert_eq!(mtlkit_core::param::first_duplicate([3, 1, 3, 1]), Some(3));
/// assert_eq!(mtlkit_core::param::first_duplicate(["a", "b"]), None);
/// ```
pub fn first_duplicate<T: Eq + std::hash::Hash + Copy>(
    items: impl IntoIterator<Item = T>,
) -> Option<T> {
    let mut seen = std::collections::HashSet::new();
    items.into_iter().find(|&v| !seen.insert(v))
}

/// `value` must be finite and `>= 0`.
///
/// # Errors
/// [`Error::InvalidParameter`] when it is negative, NaN or infinite.
pub fn non_negative(name: &'static str, value: f64) -> Result<f64> {
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(invalid(name, value, "a finite number >= 0"))
    }
}

/// `value > 0` and finite.
///
/// # Errors
/// [`Error::InvalidParameter`] naming the parameter.
pub fn positive(name: &'static str, value: f64) -> Result<f64> {
    if value > 0.0 && value.is_finite() {
        Ok(value)
    } else {
        Err(Error::InvalidParameter {
            name,
            value: value.to_string(),
            expected: "a finite number > 0",
        })
    }
}

/// `value` must lie in `[0, 1]`.
///
/// # Errors
/// [`Error::InvalidParameter`] when it is outside `[0, 1]` or NaN.
pub fn unit_interval(name: &'static str, value: f64) -> Result<f64> {
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(invalid(name, value, "in [0, 1]"))
    }
}

/// `value` must lie in the open interval `(0, 1)`.
///
/// # Errors
/// [`Error::InvalidParameter`] when it is outside `(0, 1)` or NaN.
pub fn open_unit_interval(name: &'static str, value: f64) -> Result<f64> {
    if value > 0.0 && value < 1.0 {
        Ok(value)
    } else {
        Err(invalid(name, value, "in (0, 1)"))
    }
}

/// An integer count must be `>= 1`.
///
/// # Errors
/// [`Error::InvalidParameter`] when it is 0.
pub fn positive_count(name: &'static str, value: usize) -> Result<usize> {
    if value >= 1 {
        Ok(value)
    } else {
        Err(Error::InvalidParameter {
            name,
            value: value.to_string(),
            expected: "an integer >= 1",
        })
    }
}

fn invalid(name: &'static str, value: f64, expected: &'static str) -> Error {
    Error::InvalidParameter {
        name,
        value: value.to_string(),
        expected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_nan_negative_and_out_of_range() {
        assert!(non_negative("alpha", f64::NAN).is_err());
        assert!(non_negative("alpha", -1e-300).is_err());
        assert!(non_negative("alpha", f64::INFINITY).is_err());
        assert_eq!(non_negative("alpha", 0.0).ok(), Some(0.0));
        assert!(unit_interval("l1_ratio", 1.0 + 1e-12).is_err());
        assert!(unit_interval("l1_ratio", f64::NAN).is_err());
        assert!(open_unit_interval("test_size", 1.0).is_err());
        assert!(positive_count("max_iter", 0).is_err());
        let msg = non_negative("alpha", -2.0).unwrap_err().to_string();
        assert!(msg.contains("alpha") && msg.contains("-2"), "{msg}");
    }
}

//! Estimator traits.

/// Fit a model to data, returning a new fitted type.
///
/// Fitted state exists only on the returned type, so an unfitted model cannot be used to predict.
pub trait Fit<D: ?Sized> {
    /// The fitted model.
    type Fitted;
    /// The error type.
    type Error;
    /// Fit to `data`.
    ///
    /// # Errors
    /// Invalid data or hyperparameters.
    fn fit(&self, data: &D) -> Result<Self::Fitted, Self::Error>;
}

/// Predict from inputs.
pub trait Predict<X: ?Sized> {
    /// The prediction.
    type Output;
    /// The error type.
    type Error;
    /// Predict for `x`.
    ///
    /// # Errors
    /// Inputs whose shape or values do not fit the model.
    fn predict(&self, x: &X) -> Result<Self::Output, Self::Error>;
}

//! # mtlkit-weighting
//!
//! Loss weighting and gradient balancing for multi-task learning, on plain matrices and with
//! no deep-learning backend: a method sees the T task losses, and — only when it needs them —
//! the Gramian `G = J Jᵀ` (T×T) or the per-task gradient matrix `J` (T×P). A trainer asks
//! [`Weighting::need_now`] what to compute, computes only that, calls
//! [`Weighting::aggregate`], and descends along `Jᵀλ` (or the explicit direction of the few
//! methods that alter coordinates), e.g. by back-propagating `Σ_t λ_t L_t`.
//!
//! ```
//! use mtlkit_weighting::{Method, StepInput};
//! use ndarray::array;
//!
//! // The torchjd example: two conflicting gradients.
//! let j = array![[-4.0, 1.0, 1.0], [6.0, 1.0, 1.0]];
//! let losses = array![1.0, 1.0];
//! let method: Method = serde_json::from_str(r#"{"method": "upgrad"}"#)?;
//! let mut upgrad = method.build(2, 0)?;
//! let out = upgrad.aggregate(&StepInput::new(losses.view()).with_jacobian(j.view()))?;
//! let d = out.combine(j.view())?; // Jᵀλ
//! assert!((d[0] - 0.2929).abs() < 1e-4 && (d[1] - 1.9004).abs() < 1e-4);
//! // The direction conflicts with no task: ⟨d, g_i⟩ ≥ 0.
//! assert!(j.dot(&d).iter().all(|&x| x >= 0.0));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Methods
//!
//! Loss-level (need only losses): [`Mean`](methods::Mean), [`Sum`](methods::Sum) (equal
//! weights), [`Fixed`](methods::Fixed), [`LogSum`](methods::LogSum),
//! [`Uncertainty`](methods::Uncertainty), [`Dwa`](methods::Dwa), [`Gls`](methods::Gls),
//! [`Rlw`](methods::Rlw), [`Stch`](methods::Stch), [`Famo`](methods::Famo),
//! [`ImtlL`](methods::ImtlL).
//!
//! Gradient-level on the Gramian: [`Mgda`](methods::Mgda), [`PcGrad`](methods::PcGrad),
//! [`GradVac`](methods::GradVac), [`ImtlG`](methods::ImtlG), [`CaGrad`](methods::CaGrad),
//! [`NashMtl`](methods::NashMtl), [`AlignedMtl`](methods::AlignedMtl),
//! [`UpGrad`](methods::UpGrad), [`DualProj`](methods::DualProj),
//! [`FairGrad`](methods::FairGrad), [`GradNorm`](methods::GradNorm) (diagonal only).
//!
//! Gradient-level on the Jacobian: [`ExcessMtl`](methods::ExcessMtl),
//! [`DbMtl`](methods::DbMtl), [`MoCo`](methods::MoCo), [`GradDrop`](methods::GradDrop).
//!
//! Each method's doc comment names its sources (paper, and the reference implementation whose
//! conventions are followed: torchjd for the Jacobian-descent aggregators, LibMTL or the
//! authors' code for the others) and says where this implementation departs from them.
//!
//! ## Design
//!
//! - **Configs.** [`Method`] is a serde enum (`{"method": "cagrad", "c": 0.4}`, kebab-case tag)
//!   over one typed config per method; omitted fields take the defaults of the paper or its
//!   reference implementation. [`Method::build`] validates the hyperparameters and returns a
//!   `Box<dyn Weighting>`.
//! - **Need.** [`Weighting::need`] is the most a method ever needs; [`Weighting::need_now`] is
//!   what the next call needs (methods with `update_every > 1` need only losses on the steps
//!   where they reuse their last weights).
//! - **Output.** [`Aggregation::weights`] are the λ of the step (one per input row), so the
//!   update direction is `Jᵀλ`; methods that cannot be written as a combination of the current
//!   gradients (GradDrop, DB-MTL, MoCo) also return [`Aggregation::direction`]. The
//!   [`SolverReport`] says how the inner solver ended.
//! - **Absent tasks.** The trainer passes only the tasks present in the batch and names them
//!   with [`StepInput::with_tasks`]; weights come back per given row and only the present
//!   tasks' state is updated.
//! - **State.** Every method's mutable state (learned parameters, moving averages, caches,
//!   step counters — randomness is derived from `(seed, step)`) is saved with
//!   [`Weighting::state`] as JSON and restored with [`Weighting::load_state`], so it
//!   checkpoints with the model and a restored run continues identically.
//! - **After-step losses.** FAMO updates its logits from the loss decrease of the step; the
//!   trainer calls [`Weighting::observe_losses_after_step`] with the losses after the update
//!   when [`Weighting::wants_losses_after_step`] is true.
//! - **Epochs.** DWA and STCH work per epoch; the trainer calls [`Weighting::end_epoch`].
//! - **Robustness.** Wrong shapes, missing inputs, NaN/inf and invalid hyperparameters are
//!   errors ([`WeightingError`]), never panics. Zero, colinear and huge (1e150) gradients give
//!   finite weights: Gramians are rescaled internally ([`gramian`] also computes `J Jᵀ` with
//!   a scaling) and the solvers regularize singular problems.
//! - **Monitoring.** [`monitor::StepStats`] gives the weights, pairwise gradient cosines and
//!   the conflict ratio of a step for the training log; [`monitor::Monitor`] averages them.
//!
//! ## Fidelity
//!
//! The ten torchjd aggregators (Mean, Sum, MGDA, PCGrad, UPGrad, IMTL-G, DualProj, Aligned-MTL,
//! CAGrad, Nash-MTL) reproduce torchjd's published values on `[[-4,1,1],[6,1,1]]` to 1e-4.
//! Where this crate departs from a reference implementation, the method's doc says so; the
//! main departures are:
//! - inner problems are solved to tight tolerances by exact methods (Wolfe's min-norm point,
//!   a Lawson–Hanson QP, active-set Newton for CAGrad, Newton for the Nash / α-fair systems)
//!   instead of cvxpy/ECOS/Clarabel/quadprog/scipy, so results match the exact solutions;
//! - gradients are rescaled internally so that weights of scale-invariant methods do not
//!   depend on the gradient magnitude, and zero-threshold tests are relative (torchjd treats
//!   `tr(G) < 1e-4` as zero);
//! - Nash-MTL and FairGrad add a `1e-12` relative ridge and leave exactly-zero gradients out
//!   of the bargaining; GradVac updates its EMA at every visit (paper) rather than only on
//!   adjustment (LibMTL); GradNorm's `L(0)` is the first step's loss; GradDrop acts on the
//!   coordinates it is given, not on a sign-corrected activation gradient;
//! - DWA and STCH count epochs through [`Weighting::end_epoch`]; learnable loss weights
//!   (uncertainty, IMTL-L, GradNorm, FAMO) use their own Adam rather than the model's.

mod common;
pub mod config;
mod error;
mod input;
mod linalg;
pub mod methods;
pub mod monitor;
pub mod solvers;

pub use common::AdamConfig;
pub use config::Method;
pub use error::{Result, WeightingError};
pub use input::{Need, StepInput, gramian};
pub use solvers::SolverReport;

use ndarray::{Array1, ArrayView1, ArrayView2};

/// The result of one step of a method.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregation {
    /// The weight λ of each input row (task). The update direction is `Jᵀλ` unless
    /// [`Aggregation::direction`] is set; for loss-level methods, back-propagate `Σ λ_t L_t`.
    pub weights: Array1<f64>,
    /// The explicit update direction (length P), only for methods whose direction is not a
    /// combination of the current gradients (GradDrop, DB-MTL, MoCo). When set, `weights` are
    /// informative only (documented per method).
    pub direction: Option<Array1<f64>>,
    /// How the inner solver ended (closed-form methods report 0 iterations, converged).
    pub report: SolverReport,
    /// `false` when the weights were reused from an earlier step (`update_every > 1`).
    pub updated: bool,
}

impl Aggregation {
    pub(crate) fn new(weights: Array1<f64>, report: SolverReport) -> Self {
        Self {
            weights,
            direction: None,
            report,
            updated: true,
        }
    }

    /// The update direction given the Jacobian of the step: [`Aggregation::direction`] when
    /// set, `Jᵀλ` otherwise.
    pub fn combine(&self, jacobian: ArrayView2<f64>) -> Result<Array1<f64>> {
        if let Some(d) = &self.direction {
            if d.len() != jacobian.ncols() {
                return Err(WeightingError::Shape {
                    what: "jacobian",
                    expected: format!("{} columns (the direction's length)", d.len()),
                    got: format!("{}", jacobian.ncols()),
                });
            }
            return Ok(d.clone());
        }
        if jacobian.nrows() != self.weights.len() {
            return Err(WeightingError::Shape {
                what: "jacobian",
                expected: format!("{} rows (one per weight)", self.weights.len()),
                got: format!("{}", jacobian.nrows()),
            });
        }
        Ok(jacobian.t().dot(&self.weights))
    }
}

/// A loss weighting or gradient balancing method with its state.
///
/// A trainer's step:
/// 1. `need_now()` → compute the losses, plus the Gramian or Jacobian if asked;
/// 2. `aggregate(&StepInput)` → weights (and maybe a direction);
/// 3. update the model along `Jᵀλ` (or `direction`);
/// 4. if `wants_losses_after_step()`, recompute the losses of the same batch and call
///    `observe_losses_after_step`;
/// 5. at each epoch end call `end_epoch()`; checkpoint `state()` with the model.
pub trait Weighting: Send + std::fmt::Debug {
    /// The method's name (its config tag).
    fn name(&self) -> &'static str;

    /// Number of tasks the method was built for.
    fn num_tasks(&self) -> usize;

    /// The most this method ever needs.
    fn need(&self) -> Need;

    /// What the next [`Weighting::aggregate`] call needs (less than [`Weighting::need`] on
    /// steps that reuse cached weights).
    fn need_now(&self) -> Need {
        self.need()
    }

    /// Computes the weights of a step and updates the method's state.
    fn aggregate(&mut self, input: &StepInput<'_>) -> Result<Aggregation>;

    /// Whether the trainer should call [`Weighting::observe_losses_after_step`] (FAMO).
    fn wants_losses_after_step(&self) -> bool {
        false
    }

    /// Gives the losses of the same batch after the parameter update (same rows and task ids
    /// as the last [`Weighting::aggregate`] call). A no-op for most methods.
    fn observe_losses_after_step(
        &mut self,
        losses: ArrayView1<f64>,
        tasks: Option<&[usize]>,
    ) -> Result<()> {
        let _ = (losses, tasks);
        Ok(())
    }

    /// Marks the end of an epoch (used by DWA and STCH; a no-op for the others).
    fn end_epoch(&mut self) {}

    /// The mutable state, to checkpoint with the model.
    fn state(&self) -> Result<serde_json::Value>;

    /// Restores a state saved by [`Weighting::state`] of the same method and task count.
    fn load_state(&mut self, state: &serde_json::Value) -> Result<()>;
}

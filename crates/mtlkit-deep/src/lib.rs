//! Deep multi-task learning for mtlkit, on burn.
//!
//! * [`task`]: what each task predicts and its loss;
//! * [`data`]: a shared input with a target per task, or one dataset per task, label masks,
//!   deterministic batch plans and task samplers;
//! * [`nn`] and [`arch`]: backbone-agnostic architectures — hard sharing, MMoE, CGC, PLE,
//!   cross-stitch, DSelect-k — over any [`nn::Encoder`];
//! * [`loss`]: masked task losses;
//! * [`trainer`]: the training loop (weighting methods from `mtlkit-weighting`, schedules,
//!   early stopping on validation, checkpoints and resume, JSON log);
//! * [`affinity`]: which tasks help each other, measured while training (lookahead
//!   affinity, gradient cosines);
//! * [`eval`]: per-task metrics, Δm, Δp and mean rank against single-task baselines.
//!
//! The CPU backend is burn's pure-Rust `flex` backend (`Device::flex()`); with the `cuda`
//! feature, `Device::cuda(0)`.

pub mod affinity;
pub mod arch;
pub mod data;
pub mod error;
pub mod eval;
pub mod experiment;
pub mod loss;
pub mod model;
pub mod nn;
pub mod oracle;
pub mod persist;
pub mod progress;
pub mod schedule;
pub mod task;
pub mod trainer;

pub use arch::{Cgc, CrossStitch, DSelectK, HardSharing, Mmoe, MultiTaskModel, Ple};
pub use data::{Batch, BatchIndex, DeepDataset, DeepLayout, Sampling, Targets, TaskBatch};
pub use error::{DeepError, Result};
pub use eval::{Metric, delta_m, delta_p, mean_rank, task_metrics};
pub use model::{ArchConfig, DeepModel};
pub use nn::{ConvConfig, ConvNet, Encoder, Mlp, Tower};
pub use task::{LossKind, TaskKind, TaskSpec};
pub use trainer::{
    Evaluation, RunFiles, TrainOutcome, TrainerConfig, check_model_fits, evaluate, predict, train,
};

/// Build a model from a seed, reproducibly: burn's random generator is process-global and
/// parameters draw their initial values lazily, so `build` runs under a global lock right after
/// seeding `device`, and the parameters are materialised before the lock is released (other
/// threads building models or drawing random tensors cannot interleave).
pub fn seeded<M: burn::module::Module>(
    device: &burn::tensor::Device,
    seed: u64,
    build: impl FnOnce(&burn::tensor::Device) -> M,
) -> M {
    /// Touches every parameter (a lazily initialised one draws its values then).
    struct Touch;
    impl burn::module::ModuleVisitor for Touch {
        fn visit_float<const D: usize>(
            &mut self,
            p: &burn::module::Param<burn::tensor::Tensor<D>>,
        ) {
            let _ = p.val();
        }
    }
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = LOCK
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    device.seed(seed);
    let m = build(device);
    m.visit(&mut Touch);
    m
}

/// burn's device type, re-exported for callers that do not depend on burn.
pub mod burn_device {
    pub use burn::tensor::Device;
}

/// The default training device: burn's pure-Rust CPU backend with autodiff.
pub fn cpu_device() -> burn::tensor::Device {
    burn::tensor::Device::flex().autodiff()
}

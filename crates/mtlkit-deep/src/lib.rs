//! Deep multi-task learning for mtlkit.
//!
//! * [`task`]: what each task predicts and its loss;
//! * [`data`]: a shared input with a target per task, or one dataset per task, label masks,
//!   deterministic batch plans and task samplers;
//! * [`eval`]: per-task metrics, Δm, Δp and mean rank against single-task baselines.

pub mod data;
pub mod error;
pub mod eval;
pub mod schedule;
pub mod task;

pub use data::{Batch, BatchIndex, DeepDataset, DeepLayout, Sampling, Targets, TaskBatch};
pub use error::{DeepError, Result};
pub use eval::{Metric, delta_m, delta_p, mean_rank, task_metrics};
pub use task::{LossKind, TaskKind, TaskSpec};

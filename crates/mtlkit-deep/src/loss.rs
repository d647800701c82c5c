//! Masked task losses on burn tensors. Each loss is the mean over the task's labelled entries
//! in the batch (a missing label contributes nothing to the value or the gradients).

use burn::tensor::{Device, Int, Tensor, TensorData, activation};
use ndarray::Array2;

use crate::data::TaskBatch;
use crate::task::LossKind;

/// An `ndarray` matrix as a tensor on `device`.
pub fn tensor2(a: &Array2<f32>, device: &Device) -> Tensor<2> {
    let (r, c) = a.dim();
    let data: Vec<f32> = a.iter().copied().collect();
    Tensor::from_data(TensorData::new(data, [r, c]), device)
}

/// The loss of one task on its part of a batch, from its head's outputs
/// (`[rows, output_dim]`): a scalar tensor.
pub fn task_loss(kind: &LossKind, out: Tensor<2>, tb: &TaskBatch, device: &Device) -> Tensor<1> {
    let count = tb.mask.iter().filter(|&&m| m > 0.0).count().max(1) as f64;
    let mask = tensor2(&tb.mask, device);
    match kind {
        LossKind::Mse => {
            let y = tensor2(&tb.y, device);
            ((out - y).powi_scalar(2) * mask).sum().div_scalar(count)
        }
        LossKind::Huber { delta } => {
            let y = tensor2(&tb.y, device);
            let a = (out - y).abs();
            let q = a.clone().clamp_max(*delta);
            // ½q² + δ(|r| − q): ½r² inside the threshold, δ(|r| − ½δ) beyond
            let l = q.clone().powi_scalar(2).mul_scalar(0.5) + (a - q).mul_scalar(*delta);
            (l * mask).sum().div_scalar(count)
        }
        LossKind::Bce => {
            let y = tensor2(&tb.y, device);
            // log(1 + e^z) − y z, stably: max(z, 0) − y z + log(1 + e^{−|z|})
            let l = out.clone().clamp_min(0.0) - out.clone() * y + out.abs().neg().exp().log1p();
            (l * mask).sum().div_scalar(count)
        }
        LossKind::CrossEntropy => {
            #[allow(clippy::cast_possible_truncation)]
            let idx: Vec<i64> = tb.y.column(0).iter().map(|&v| v as i64).collect();
            let n = idx.len();
            let idx = Tensor::<2, Int>::from_data(TensorData::new(idx, [n, 1]), device);
            let logp = activation::log_softmax(out, 1);
            let nll = logp.gather(1, idx).neg(); // [rows, 1]
            (nll * mask).sum().div_scalar(count)
        }
    }
}

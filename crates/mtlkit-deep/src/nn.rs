//! Building blocks: the [`Encoder`] trait any trunk or expert implements, an MLP, and task
//! towers.

use burn::module::{Module, ModuleDisplay};
use burn::nn::{Linear, LinearConfig, Relu};
use burn::tensor::{Device, Tensor};

/// A module that maps a batch `[B, d_in]` to a representation `[B, out_dim]`: the trunk of hard
/// sharing, an expert of MMoE / CGC / PLE / DSelect-k, or a block of a cross-stitch column.
/// Implement it for any burn module to use it in the architectures.
pub trait Encoder: Module + ModuleDisplay {
    /// Forward pass.
    fn forward(&self, x: Tensor<2>) -> Tensor<2>;
    /// Width of the output.
    fn out_dim(&self) -> usize;
}

/// A multilayer perceptron with a ReLU after every layer (an identity when it has no layer).
#[derive(Module, Debug)]
pub struct Mlp {
    layers: Vec<Linear>,
    act: Relu,
    out: usize,
}

impl Mlp {
    /// Layers `dims[0] → dims[1] → … → dims[k]` (`dims = [d]`: the identity on width `d`).
    ///
    /// # Panics
    /// Never for a non-empty `dims`; an empty one is treated as width 0.
    pub fn new(dims: &[usize], device: &Device) -> Self {
        let layers = dims
            .windows(2)
            .map(|w| LinearConfig::new(w[0], w[1]).init(device))
            .collect();
        Self {
            layers,
            act: Relu::new(),
            out: dims.last().copied().unwrap_or(0),
        }
    }
}

impl Encoder for Mlp {
    fn forward(&self, mut x: Tensor<2>) -> Tensor<2> {
        for l in &self.layers {
            x = self.act.forward(l.forward(x));
        }
        x
    }
    fn out_dim(&self) -> usize {
        self.out
    }
}

/// A task tower: hidden ReLU layers, then a linear output layer of the task's width (logits
/// or values).
#[derive(Module, Debug)]
pub struct Tower {
    hidden: Mlp,
    out: Linear,
}

impl Tower {
    /// `in_dim → hidden… → out_dim`.
    pub fn new(in_dim: usize, hidden: &[usize], out_dim: usize, device: &Device) -> Self {
        let mut dims = vec![in_dim];
        dims.extend_from_slice(hidden);
        let last = *dims.last().unwrap_or(&in_dim);
        Self {
            hidden: Mlp::new(&dims, device),
            out: LinearConfig::new(last, out_dim).init(device),
        }
    }

    /// One tower per task, `in_dim → hidden… → out_dims[t]`.
    pub fn per_task(
        in_dim: usize,
        hidden: &[usize],
        out_dims: &[usize],
        device: &Device,
    ) -> Vec<Self> {
        out_dims
            .iter()
            .map(|&o| Self::new(in_dim, hidden, o, device))
            .collect()
    }

    /// Forward pass.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.out.forward(self.hidden.forward(x))
    }
}

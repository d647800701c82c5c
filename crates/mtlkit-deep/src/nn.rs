//! Building blocks: the [`Encoder`] trait any trunk or expert implements, an MLP, a small
//! convolutional network for images, and task towers.

use burn::module::{Module, ModuleDisplay};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, Relu};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::error::{Result, config_err};

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

/// The convolutional part of a [`ConvNet`] (`conv = { image = [C, H, W], channels = [..],
/// kernel = K }` in a model configuration).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvConfig {
    /// Image shape `[channels, height, width]`; an input row holds the `C·H·W` pixel values
    /// channel by channel, each channel row by row.
    pub image: [usize; 3],
    /// Output channels of each convolution layer.
    pub channels: Vec<usize>,
    /// Square kernel size (default 5).
    #[serde(default = "five")]
    pub kernel: usize,
}

fn five() -> usize {
    5
}

impl ConvConfig {
    /// The `[channels, height, width]` after every layer (convolution without padding, then a
    /// 2 × 2 max-pool).
    ///
    /// # Errors
    /// A zero size, or an image too small for the layers.
    pub fn shapes(&self) -> Result<Vec<[usize; 3]>> {
        let [c, h, w] = self.image;
        if c == 0 || h == 0 || w == 0 || self.kernel == 0 {
            return Err(config_err("conv: image sizes and the kernel must be ≥ 1"));
        }
        if self.channels.is_empty() || self.channels.contains(&0) {
            return Err(config_err(
                "conv: `channels` needs at least one width, all ≥ 1",
            ));
        }
        let mut out = vec![[c, h, w]];
        let (mut h, mut w) = (h, w);
        for &ch in &self.channels {
            if h < self.kernel + 1 || w < self.kernel + 1 {
                return Err(config_err(format!(
                    "conv: a {h}×{w} map is too small for a {k}×{k} kernel and a 2×2 pool",
                    k = self.kernel
                )));
            }
            // (h − k + 1) / 2 rounded down
            h = (h - self.kernel).div_ceil(2);
            w = (w - self.kernel).div_ceil(2);
            out.push([ch, h, w]);
        }
        Ok(out)
    }

    /// Number of input values per row (`C·H·W`).
    pub fn input_width(&self) -> usize {
        self.image.iter().product()
    }
}

/// A small convolutional network (LeNet-style): for each layer a `K × K` convolution without
/// padding, a ReLU and a 2 × 2 max-pool; the last feature maps are flattened and pass an
/// [`Mlp`]. Inputs are flat rows `[B, C·H·W]` (see [`ConvConfig::image`]), so image data goes
/// through the same tables, batches and architectures as any other input.
#[derive(Module, Debug)]
pub struct ConvNet {
    convs: Vec<Conv2d>,
    pool: MaxPool2d,
    act: Relu,
    mlp: Mlp,
    channels: usize,
    height: usize,
    width: usize,
}

impl ConvNet {
    /// The network for `cfg`, then the MLP `flattened → hidden…`.
    ///
    /// # Errors
    /// An invalid [`ConvConfig`] (see [`ConvConfig::shapes`]).
    pub fn new(cfg: &ConvConfig, hidden: &[usize], device: &Device) -> Result<Self> {
        let shapes = cfg.shapes()?;
        let convs = shapes
            .windows(2)
            .map(|s| Conv2dConfig::new([s[0][0], s[1][0]], [cfg.kernel, cfg.kernel]).init(device))
            .collect();
        let last = shapes.last().copied().unwrap_or(cfg.image);
        let mut dims = vec![last.iter().product()];
        dims.extend_from_slice(hidden);
        Ok(Self {
            convs,
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            act: Relu::new(),
            mlp: Mlp::new(&dims, device),
            channels: cfg.image[0],
            height: cfg.image[1],
            width: cfg.image[2],
        })
    }
}

impl Encoder for ConvNet {
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let [b, _] = x.dims();
        let mut m: Tensor<4> = x.reshape([b, self.channels, self.height, self.width]);
        for c in &self.convs {
            m = self.act.forward(self.pool.forward(c.forward(m)));
        }
        let flat: Tensor<2> = m.flatten(1, 3);
        self.mlp.forward(flat)
    }
    fn out_dim(&self) -> usize {
        self.mlp.out_dim()
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

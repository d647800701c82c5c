//! Configured models: an [`ArchConfig`] builds a [`DeepModel`] (one of the architectures over
//! MLP experts), which is what the CLI trains, saves and reloads.

use std::ops::Range;

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::arch::{Cgc, CrossStitch, DSelectK, HardSharing, Mmoe, MultiTaskModel, Ple};
use crate::error::{Result, config_err};
use crate::nn::{ConvConfig, ConvNet, Mlp};

/// Which architecture, and its sizes. Experts, trunks and cross-stitch blocks are MLPs with
/// the `hidden` widths (ReLU after every layer); towers have the `tower` widths, then the
/// task's output layer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "architecture", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ArchConfig {
    /// [`HardSharing`]: one MLP trunk (a [`ConvNet`] when `conv` is given).
    HardSharing {
        /// Trunk widths after the input (after the flattened feature maps with `conv`).
        hidden: Vec<usize>,
        /// Tower widths.
        #[serde(default)]
        tower: Vec<usize>,
        /// Convolution layers in front of the trunk's MLP, for image inputs.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        conv: Option<ConvConfig>,
    },
    /// [`Mmoe`]: `experts` MLP experts (each a [`ConvNet`] when `conv` is given), a softmax
    /// gate per task.
    Mmoe {
        /// Expert widths after the input.
        hidden: Vec<usize>,
        /// Number of experts.
        experts: usize,
        /// Tower widths.
        #[serde(default)]
        tower: Vec<usize>,
        /// Convolution layers in front of every expert's MLP, for image inputs.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        conv: Option<ConvConfig>,
    },
    /// [`Cgc`]: shared and task-specific experts, one gate per task.
    Cgc {
        /// Expert widths after the input.
        hidden: Vec<usize>,
        /// Shared experts.
        shared_experts: usize,
        /// Experts of each task.
        task_experts: usize,
        /// Tower widths.
        #[serde(default)]
        tower: Vec<usize>,
    },
    /// [`Ple`]: `levels` CGC levels with a shared path; the experts of every level are MLPs
    /// with the `hidden` widths (from the previous level's width).
    Ple {
        /// Expert widths (after the level's input).
        hidden: Vec<usize>,
        /// Number of levels.
        levels: usize,
        /// Shared experts per level.
        shared_experts: usize,
        /// Experts of each task per level.
        task_experts: usize,
        /// Tower widths.
        #[serde(default)]
        tower: Vec<usize>,
    },
    /// [`CrossStitch`]: one column per task, one block per `hidden` width, cross-stitch units
    /// between blocks.
    CrossStitch {
        /// Block widths (each block is one layer).
        hidden: Vec<usize>,
        /// Tower widths.
        #[serde(default)]
        tower: Vec<usize>,
    },
    /// [`DSelectK`]: `experts` MLP experts, `k` selectors per task.
    DselectK {
        /// Expert widths after the input.
        hidden: Vec<usize>,
        /// Number of experts.
        experts: usize,
        /// Selectors per task.
        k: usize,
        /// Smooth-step width γ (paper: 1).
        #[serde(default = "one")]
        gamma: f64,
        /// Tower widths.
        #[serde(default)]
        tower: Vec<usize>,
    },
}

fn one() -> f64 {
    1.0
}

impl Default for ArchConfig {
    fn default() -> Self {
        Self::HardSharing {
            hidden: vec![64, 64],
            tower: Vec::new(),
            conv: None,
        }
    }
}

impl ArchConfig {
    /// Check the sizes.
    ///
    /// # Errors
    /// Empty `hidden`, zero widths or counts, `k` larger than the experts, a non-positive γ.
    pub fn validate(&self) -> Result<()> {
        let (hidden, tower) = self.widths();
        if hidden.is_empty() {
            return Err(config_err("`hidden` needs at least one width"));
        }
        if hidden.iter().chain(tower).any(|&w| w == 0) {
            return Err(config_err("layer widths must be ≥ 1"));
        }
        let pos = |name: &str, v: usize| {
            if v == 0 {
                Err(config_err(format!("`{name}` must be ≥ 1")))
            } else {
                Ok(())
            }
        };
        match self {
            Self::HardSharing { conv, .. } => {
                conv.as_ref().map_or(Ok(()), |c| c.shapes().map(|_| ()))
            }
            Self::CrossStitch { .. } => Ok(()),
            Self::Mmoe { experts, conv, .. } => {
                if let Some(c) = conv {
                    c.shapes()?;
                }
                pos("experts", *experts)
            }
            Self::Cgc {
                shared_experts,
                task_experts,
                ..
            } => {
                pos("shared_experts", *shared_experts)?;
                pos("task_experts", *task_experts)
            }
            Self::Ple {
                levels,
                shared_experts,
                task_experts,
                ..
            } => {
                pos("levels", *levels)?;
                pos("shared_experts", *shared_experts)?;
                pos("task_experts", *task_experts)
            }
            Self::DselectK {
                experts, k, gamma, ..
            } => {
                pos("experts", *experts)?;
                pos("k", *k)?;
                if *k > *experts {
                    return Err(config_err(format!("k = {k} exceeds the {experts} experts")));
                }
                if !(*gamma > 0.0 && gamma.is_finite()) {
                    return Err(config_err(format!("gamma must be positive, got {gamma}")));
                }
                Ok(())
            }
        }
    }

    fn widths(&self) -> (&[usize], &[usize]) {
        match self {
            Self::HardSharing { hidden, tower, .. }
            | Self::Mmoe { hidden, tower, .. }
            | Self::Cgc { hidden, tower, .. }
            | Self::Ple { hidden, tower, .. }
            | Self::CrossStitch { hidden, tower }
            | Self::DselectK { hidden, tower, .. } => (hidden, tower),
        }
    }

    /// Short name of the architecture.
    pub fn name(&self) -> &'static str {
        match self {
            Self::HardSharing { .. } => "hard-sharing",
            Self::Mmoe { .. } => "mmoe",
            Self::Cgc { .. } => "cgc",
            Self::Ple { .. } => "ple",
            Self::CrossStitch { .. } => "cross-stitch",
            Self::DselectK { .. } => "dselect-k",
        }
    }

    /// Check that rows of `d_in` values fit the model (a convolutional model needs exactly
    /// `C·H·W`).
    ///
    /// # Errors
    /// A width that does not match the configured image.
    pub fn check_inputs(&self, d_in: usize) -> Result<()> {
        if let Self::HardSharing { conv: Some(c), .. } | Self::Mmoe { conv: Some(c), .. } = self
            && c.input_width() != d_in
        {
            return Err(config_err(format!(
                "conv: the image {:?} needs {} input values per row, the data has {d_in}",
                c.image,
                c.input_width()
            )));
        }
        Ok(())
    }

    /// Build the model for `d_in` inputs and task output widths `out_dims` (parameters drawn
    /// from `device`'s generator; wrap in [`crate::seeded`] for a reproducible draw).
    ///
    /// # Panics
    /// A convolutional configuration that fails [`validate`](Self::validate) (every path that
    /// reads a configuration from a user validates it first).
    pub fn build(&self, d_in: usize, out_dims: &[usize], device: &Device) -> DeepModel {
        let mlp = |d_in: usize, hidden: &[usize]| {
            let mut dims = vec![d_in];
            dims.extend_from_slice(hidden);
            Mlp::new(&dims, device)
        };
        // a valid configuration (see `validate`) always builds its convolutions
        let conv = |c: &ConvConfig, hidden: &[usize]| {
            ConvNet::new(c, hidden, device).unwrap_or_else(|e| panic!("{e}"))
        };
        match self {
            Self::HardSharing {
                hidden,
                tower,
                conv: None,
            } => {
                DeepModel::HardSharing(HardSharing::new(mlp(d_in, hidden), tower, out_dims, device))
            }
            Self::HardSharing {
                hidden,
                tower,
                conv: Some(c),
            } => DeepModel::HardSharingConv(HardSharing::new(
                conv(c, hidden),
                tower,
                out_dims,
                device,
            )),
            Self::Mmoe {
                hidden,
                experts,
                tower,
                conv: Some(c),
            } => DeepModel::MmoeConv(Mmoe::new(
                d_in,
                (0..*experts).map(|_| conv(c, hidden)).collect(),
                tower,
                out_dims,
                device,
            )),
            Self::Mmoe {
                hidden,
                experts,
                tower,
                conv: None,
            } => DeepModel::Mmoe(Mmoe::new(
                d_in,
                (0..*experts).map(|_| mlp(d_in, hidden)).collect(),
                tower,
                out_dims,
                device,
            )),
            Self::Cgc {
                hidden,
                shared_experts,
                task_experts,
                tower,
            } => DeepModel::Cgc(Cgc::new(
                d_in,
                (0..*shared_experts).map(|_| mlp(d_in, hidden)).collect(),
                (0..task_experts * out_dims.len())
                    .map(|_| mlp(d_in, hidden))
                    .collect(),
                tower,
                out_dims,
                device,
            )),
            Self::Ple {
                hidden,
                levels,
                shared_experts,
                task_experts,
                tower,
            } => DeepModel::Ple(Ple::new(
                d_in,
                *levels,
                *shared_experts,
                *task_experts,
                |_, i| mlp(i, hidden),
                tower,
                out_dims,
                device,
            )),
            Self::CrossStitch { hidden, tower } => {
                let mut blocks = Vec::with_capacity(hidden.len());
                let mut prev = d_in;
                for &w in hidden {
                    blocks.push(
                        (0..out_dims.len())
                            .map(|_| Mlp::new(&[prev, w], device))
                            .collect(),
                    );
                    prev = w;
                }
                DeepModel::CrossStitch(CrossStitch::new(blocks, tower, out_dims, device))
            }
            Self::DselectK {
                hidden,
                experts,
                k,
                gamma,
                tower,
            } => DeepModel::DselectK(DSelectK::new(
                d_in,
                (0..*experts).map(|_| mlp(d_in, hidden)).collect(),
                *k,
                *gamma,
                tower,
                out_dims,
                device,
            )),
        }
    }
}

/// A configured model (the architectures over MLP blocks).
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum DeepModel {
    /// Hard sharing.
    HardSharing(HardSharing<Mlp>),
    /// MMoE.
    Mmoe(Mmoe<Mlp>),
    /// CGC.
    Cgc(Cgc<Mlp>),
    /// PLE.
    Ple(Ple<Mlp>),
    /// Cross-stitch.
    CrossStitch(CrossStitch<Mlp>),
    /// DSelect-k.
    DselectK(DSelectK<Mlp>),
    /// Hard sharing over a convolutional trunk.
    HardSharingConv(HardSharing<ConvNet>),
    /// MMoE over convolutional experts.
    MmoeConv(Mmoe<ConvNet>),
}

macro_rules! dispatch {
    ($self:ident, $m:ident => $e:expr) => {
        match $self {
            DeepModel::HardSharing($m) => $e,
            DeepModel::Mmoe($m) => $e,
            DeepModel::Cgc($m) => $e,
            DeepModel::Ple($m) => $e,
            DeepModel::CrossStitch($m) => $e,
            DeepModel::DselectK($m) => $e,
            DeepModel::HardSharingConv($m) => $e,
            DeepModel::MmoeConv($m) => $e,
        }
    };
}

impl MultiTaskModel for DeepModel {
    fn n_tasks(&self) -> usize {
        dispatch!(self, m => m.n_tasks())
    }
    fn forward(&self, x: Tensor<2>, rows: &[Option<Range<usize>>]) -> Vec<Option<Tensor<2>>> {
        dispatch!(self, m => m.forward(x, rows))
    }
    fn shared(&self, x: Tensor<2>) -> Option<Tensor<2>> {
        dispatch!(self, m => m.shared(x))
    }
    fn task_from_shared(&self, t: usize, z: Tensor<2>, x: Tensor<2>) -> Tensor<2> {
        dispatch!(self, m => m.task_from_shared(t, z, x))
    }
}

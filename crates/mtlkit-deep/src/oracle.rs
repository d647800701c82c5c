//! Gradient oracles for weighting methods that need task gradients (a Gramian `G = J Jᵀ` or
//! the Jacobian `J`), computed with burn's one-backward-per-graph rule:
//!
//! * **representation level** (architectures with a representation split, see
//!   [`MultiTaskModel::shared`]): one forward of the shared part to `z`; for each task a fresh
//!   leaf `z_t = z.detach().require_grad()`, its task part and loss, one backward, giving the
//!   task's gradient at the representation `∂L_t/∂z` (a row of `J`, `B·R` wide) and the
//!   gradients of its own parameters; the method's weights `λ` combine the rows into
//!   `v = Jᵀλ`, and one backward of `⟨z, v⟩` takes `v` through the shared part. The
//!   task-specific parameters get `λ_t ∂L_t/∂θ_t`. With equal weights this is exactly the
//!   summed-loss gradient; the cost is one trunk forward and backward for all tasks.
//! * **parameter level** (any architecture): one forward and backward per task; `J` holds the
//!   gradients over all parameters (`T × P`), the update direction is `Jᵀλ` (or the method's
//!   explicit direction) written back as the step's gradient.

use std::ops::Range;

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};
use mtlkit_weighting::monitor::StepStats;
use mtlkit_weighting::{Need, StepInput, Weighting};
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};

use crate::arch::{MultiTaskModel, rows_of};
use crate::data::{Batch, DeepDataset};
use crate::error::{DeepError, Result};
use crate::loss::{task_loss, tensor2};

/// Which oracle the trainer uses for gradient-level methods. `Auto` takes the parameter level
/// for methods that need the Jacobian itself (GradDrop, DB-MTL, MoCo, ExcessMTL: they act on,
/// and some keep state per, coordinate, and only the parameters persist from step to step).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OracleChoice {
    /// Representation level when the architecture has a split, parameter level otherwise.
    #[default]
    Auto,
    /// Always the representation level (an error for architectures without a split).
    Representation,
    /// Always the parameter level.
    Parameters,
}

/// One step's gradients and what to log.
pub struct OracleStep {
    /// The gradients to hand to the optimizer.
    pub grads: GradientsParams,
    /// Task ids present in the step.
    pub tasks: Vec<usize>,
    /// Their losses.
    pub losses: Vec<f64>,
    /// The method's weights.
    pub weights: Vec<f64>,
    /// Gradient statistics (norms, cosines, conflict ratio) of the step.
    pub stats: Option<StepStats>,
    /// Which oracle ran (`"representation"`, `"parameters"`, `"losses"`).
    pub oracle: &'static str,
}

fn to_f64(t: Tensor<2>) -> Vec<f64> {
    t.into_data()
        .convert::<f32>()
        .try_to_vec::<f32>()
        .unwrap_or_default()
        .into_iter()
        .map(f64::from)
        .collect()
}

/// Adds `scale ×` every gradient of `module`'s parameters found in `src` into `dst`.
struct Accumulate<'a> {
    src: &'a mut GradientsParams,
    dst: &'a mut GradientsParams,
    scale: f64,
}
impl ModuleVisitor for Accumulate<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.src.remove::<D>(param.id) {
            let g = g.mul_scalar(self.scale);
            let g = match self.dst.remove::<D>(param.id) {
                Some(old) => old + g,
                None => g,
            };
            self.dst.register::<D>(param.id, g);
        }
    }
}

fn accumulate<M: Module>(m: &M, src: &mut GradientsParams, dst: &mut GradientsParams, scale: f64) {
    m.visit(&mut Accumulate { src, dst, scale });
}

/// All parameter gradients of `m` in `g`, flattened in visit order (zeros where absent).
struct Flatten<'a> {
    grads: &'a GradientsParams,
    out: Vec<f64>,
}
impl ModuleVisitor for Flatten<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let n = param.lazy_shape().num_elements();
        match self.grads.get::<D>(param.id) {
            Some(g) => self.out.extend(
                g.into_data()
                    .convert::<f32>()
                    .try_to_vec::<f32>()
                    .unwrap_or_else(|_| vec![0.0; n])
                    .into_iter()
                    .map(f64::from),
            ),
            None => self.out.extend(std::iter::repeat_n(0.0, n)),
        }
    }
}

/// Write a flat vector back as the gradients of `m` (plain tensors on `device`).
struct WriteBack<'a> {
    grads: &'a mut GradientsParams,
    flat: &'a [f64],
    at: usize,
    device: Device,
}
impl ModuleVisitor for WriteBack<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let shape = param.lazy_shape();
        let n = shape.num_elements();
        #[allow(clippy::cast_possible_truncation)]
        let data: Vec<f32> = self.flat[self.at..self.at + n]
            .iter()
            .map(|&v| v as f32)
            .collect();
        self.at += n;
        let g = Tensor::<D>::from_data(TensorData::new(data, shape), &self.device);
        self.grads.register::<D>(param.id, g);
    }
}

/// A Gramian from the device's `f32` product `J Jᵀ`, made exactly what its definition
/// guarantees (the weighting methods check both): symmetric, and `|G_ij| ≤ √(G_ii G_jj)`
/// (nearly parallel gradients can cross that bound by `f32` rounding).
fn f32_gramian(mut g: Array2<f64>) -> Array2<f64> {
    let k = g.nrows();
    for i in 0..k {
        g[[i, i]] = g[[i, i]].max(0.0);
    }
    for i in 0..k {
        for j in 0..i {
            let bound = (g[[i, i]] * g[[j, j]]).sqrt();
            let v = (0.5 * (g[[i, j]] + g[[j, i]])).clamp(-bound, bound);
            g[[i, j]] = v;
            g[[j, i]] = v;
        }
    }
    g
}

fn check_losses(data: &DeepDataset, ids: &[usize], lv: &[f64]) -> Result<()> {
    if let Some((k, v)) = lv.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(DeepError::Training(format!(
            "task '{}' has loss {v}: training diverged (lower the learning rate, clip gradients, or standardise the regression targets: the squared loss overflows f32 beyond about 1e19)",
            data.specs()[ids[k]].name
        )));
    }
    Ok(())
}

/// The method's weights for one step (given the Jacobian when it is passed, the Gramian
/// otherwise) and the step's gradient statistics.
fn aggregate(
    weighting: &mut dyn Weighting,
    losses: &Array1<f64>,
    gram: &Array2<f64>,
    jac: Option<&Array2<f64>>,
    ids: &[usize],
) -> Result<(mtlkit_weighting::Aggregation, Option<StepStats>)> {
    let input = match jac {
        Some(j) => StepInput::new(losses.view()).with_jacobian(j.view()),
        None => StepInput::new(losses.view()).with_gramian(gram.view()),
    }
    .with_tasks(ids);
    let agg = weighting.aggregate(&input)?;
    let stats = StepStats::new(
        &StepInput::new(losses.view())
            .with_gramian(gram.view())
            .with_tasks(ids),
        &agg,
    )
    .ok();
    Ok((agg, stats))
}

/// The rows of each task in the batch.
fn task_rows(batch: &Batch) -> Vec<Option<Range<usize>>> {
    batch
        .tasks
        .iter()
        .map(|t| t.as_ref().map(|tb| tb.rows.clone()))
        .collect()
}

/// One step's gradients through the representation-level oracle, or `None` when the
/// architecture has no representation split.
///
/// # Errors
/// Diverging losses, a weighting method that rejects its input.
pub fn representation_step<M: MultiTaskModel>(
    model: &M,
    data: &DeepDataset,
    batch: &Batch,
    weighting: &mut dyn Weighting,
    device: &Device,
) -> Result<Option<OracleStep>> {
    let x = tensor2(&batch.x, device);
    let Some(z) = model.shared(x.clone()) else {
        return Ok(None);
    };
    let [b, r] = z.dims();
    let rows = task_rows(batch);
    let mut ids = Vec::new();
    let mut lv = Vec::new();
    let mut gzs: Vec<Tensor<2>> = Vec::new();
    let mut heads: Vec<GradientsParams> = Vec::new();
    for (t, rr) in rows.iter().enumerate() {
        let (Some(rr), Some(tb)) = (rr, &batch.tasks[t]) else {
            continue;
        };
        let leaf = z.clone().detach().require_grad();
        let out = model.task_from_shared(t, rows_of(&leaf, rr), rows_of(&x, rr));
        let loss = task_loss(&data.specs()[t].loss(), out, tb, device);
        lv.push(f64::from(loss.clone().into_scalar::<f32>()));
        let mut g = loss.backward();
        let plain = device.clone().without_autodiff();
        gzs.push(
            leaf.grad(&g)
                .unwrap_or_else(|| Tensor::zeros([b, r], &plain)),
        );
        heads.push(GradientsParams::from_module(&mut g, model));
        ids.push(t);
    }
    if ids.is_empty() {
        return Ok(Some(OracleStep {
            grads: GradientsParams::new(),
            tasks: ids,
            losses: lv,
            weights: Vec::new(),
            stats: None,
            oracle: "representation",
        }));
    }
    check_losses(data, &ids, &lv)?;
    let k = ids.len();
    let losses = Array1::from(lv.clone());
    // the task gradients stay on the device: the Gramian is one k × (B·R) product, and
    // v = Σ λ_t ∂L_t/∂z is formed there; only a method that needs J itself gets it on the host
    let stacked = Tensor::cat(
        gzs.iter().map(|g| g.clone().reshape([1, b * r])).collect(),
        0,
    );
    let gram_t = stacked.clone().matmul(stacked.clone().transpose());
    let gram = f32_gramian(
        Array2::from_shape_vec((k, k), to_f64(gram_t))
            .map_err(|e| DeepError::Training(e.to_string()))?,
    );
    let jac = if weighting.need_now() == Need::Jacobian {
        Some(
            Array2::from_shape_vec((k, b * r), to_f64(stacked))
                .map_err(|e| DeepError::Training(e.to_string()))?,
        )
    } else {
        None
    };
    let (agg, stats) = aggregate(weighting, &losses, &gram, jac.as_ref(), &ids)?;
    let v: Tensor<2> = match (&agg.direction, &jac) {
        (Some(_), Some(j)) => {
            let d = agg.combine(j.view())?;
            #[allow(clippy::cast_possible_truncation)]
            let d32: Vec<f32> = d.iter().map(|&a| a as f32).collect();
            Tensor::from_data(TensorData::new(d32, [b, r]), device)
        }
        _ => gzs
            .iter()
            .zip(agg.weights.iter())
            .map(|(g, &w)| g.clone().mul_scalar(w))
            .reduce(|a, c| a + c)
            .map_or_else(|| Tensor::zeros([b, r], device), Tensor::autodiff),
    };
    let mut all = GradientsParams::new();
    for (h, &w) in heads.iter_mut().zip(agg.weights.iter()) {
        accumulate(model, h, &mut all, w);
    }
    let mut g = (z * v).sum().backward();
    let mut trunk = GradientsParams::from_module(&mut g, model);
    accumulate(model, &mut trunk, &mut all, 1.0);
    Ok(Some(OracleStep {
        grads: all,
        tasks: ids,
        losses: lv,
        weights: agg.weights.to_vec(),
        stats,
        oracle: "representation",
    }))
}

/// One step's gradients through the parameter-level oracle (one forward and backward per
/// task).
///
/// # Errors
/// Diverging losses, a weighting method that rejects its input.
pub fn parameter_step<M: MultiTaskModel>(
    model: &M,
    data: &DeepDataset,
    batch: &Batch,
    weighting: &mut dyn Weighting,
    device: &Device,
) -> Result<OracleStep> {
    let rows = task_rows(batch);
    let mut ids = Vec::new();
    let mut lv = Vec::new();
    let mut jrows: Vec<f64> = Vec::new();
    let mut p = 0;
    for (t, rr) in rows.iter().enumerate() {
        let (Some(rr), Some(tb)) = (rr, &batch.tasks[t]) else {
            continue;
        };
        let x = tensor2(&batch.x, device);
        let mut only: Vec<Option<Range<usize>>> = vec![None; rows.len()];
        only[t] = Some(rr.clone());
        let Some(out) = model.forward(x, &only).swap_remove(t) else {
            continue;
        };
        let loss = task_loss(&data.specs()[t].loss(), out, tb, device);
        lv.push(f64::from(loss.clone().into_scalar::<f32>()));
        let g = GradientsParams::from_grads(loss.backward(), model);
        let mut f = Flatten {
            grads: &g,
            out: Vec::new(),
        };
        model.visit(&mut f);
        p = f.out.len();
        jrows.extend(f.out);
        ids.push(t);
    }
    check_losses(data, &ids, &lv)?;
    if ids.is_empty() {
        // no task has a label in this batch: nothing to weigh, no step (as the loss path and
        // the representation oracle)
        return Ok(OracleStep {
            grads: GradientsParams::new(),
            tasks: ids,
            losses: lv,
            weights: Vec::new(),
            stats: None,
            oracle: "parameters",
        });
    }
    let k = ids.len();
    let jac =
        Array2::from_shape_vec((k, p), jrows).map_err(|e| DeepError::Training(e.to_string()))?;
    let losses = Array1::from(lv.clone());
    let gram = mtlkit_weighting::gramian(jac.view());
    let jac_if_needed = (weighting.need_now() == Need::Jacobian).then_some(&jac);
    let (agg, stats) = aggregate(weighting, &losses, &gram, jac_if_needed, &ids)?;
    let d = agg.combine(jac.view())?;
    let mut grads = GradientsParams::new();
    let mut w = WriteBack {
        grads: &mut grads,
        flat: d.as_slice().unwrap_or(&[]),
        at: 0,
        device: device.clone().without_autodiff(),
    };
    if d.len() == p {
        model.visit(&mut w);
    }
    Ok(OracleStep {
        grads,
        tasks: ids,
        losses: lv,
        weights: agg.weights.to_vec(),
        stats,
        oracle: "parameters",
    })
}

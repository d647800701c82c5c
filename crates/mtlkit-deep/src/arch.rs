//! Multi-task architectures, backbone-agnostic: any [`Encoder`] serves as trunk, expert or
//! cross-stitch block.
//!
//! | architecture | shared parameters | task-specific parameters | representation split |
//! |---|---|---|---|
//! | [`HardSharing`] | trunk | towers | yes: the trunk's output |
//! | [`Mmoe`] (Ma et al. 2018) | experts | gates, towers | yes: the experts' outputs |
//! | [`Cgc`] (Tang et al. 2020, one level) | shared experts | task experts, gates, towers | yes: the shared experts' outputs |
//! | [`Ple`] (Tang et al. 2020) | shared experts and shared gates of every level | task experts, task gates, towers | no |
//! | [`CrossStitch`] (Misra et al. 2016) | the cross-stitch units | one column of blocks per task, towers | no |
//! | [`DSelectK`] (Hazimeh et al. 2021) | experts | selectors, towers | yes: the experts' outputs |
//!
//! Every architecture computes the outputs of the tasks present in a batch on their rows only
//! ([`MultiTaskModel::forward`]); those with a representation split also expose it
//! ([`MultiTaskModel::shared`] and [`MultiTaskModel::task_from_shared`]), which gives the
//! gradient oracles at the shared representation (one trunk backward for all tasks).

use std::ops::Range;

use burn::module::{Module, Param};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor, TensorData, activation};

use crate::nn::{Encoder, Tower};

/// What every multi-task architecture provides.
pub trait MultiTaskModel: Module {
    /// Number of tasks.
    fn n_tasks(&self) -> usize;

    /// Outputs `[|rows_t|, out_dim_t]` of each task `t` with `rows[t] = Some(range)`, computed
    /// on those rows of `x` (`None` in, `None` out).
    fn forward(&self, x: Tensor<2>, rows: &[Option<Range<usize>>]) -> Vec<Option<Tensor<2>>>;

    /// The shared representation `z = φ(x)`, `[B, R]`, when the architecture splits into a
    /// shared part and task parts that read only `z` and `x`; `None` otherwise.
    fn shared(&self, _x: Tensor<2>) -> Option<Tensor<2>> {
        None
    }

    /// Task `t`'s output from the shared representation `z` and the input `x` (same rows).
    /// Only called when [`shared`](Self::shared) returns `Some`.
    fn task_from_shared(&self, _t: usize, z: Tensor<2>, _x: Tensor<2>) -> Tensor<2> {
        z
    }
}

/// Rows `r` of `x` (no copy when `r` covers every row).
pub(crate) fn rows_of(x: &Tensor<2>, r: &Range<usize>) -> Tensor<2> {
    let [n, _] = x.dims();
    if r.start == 0 && r.end == n {
        x.clone()
    } else {
        x.clone().narrow(0, r.start, r.end - r.start)
    }
}

/// Forward through a representation split: `z = φ(x)` once, then each task on its rows.
fn forward_split<M: MultiTaskModel>(
    m: &M,
    x: Tensor<2>,
    rows: &[Option<Range<usize>>],
) -> Vec<Option<Tensor<2>>> {
    let Some(z) = m.shared(x.clone()) else {
        return vec![None; rows.len()];
    };
    rows.iter()
        .enumerate()
        .map(|(t, r)| {
            r.as_ref()
                .map(|r| m.task_from_shared(t, rows_of(&z, r), rows_of(&x, r)))
        })
        .collect()
}

/// Each task's tower on its rows of its own path (`None` for tasks absent from the batch).
fn towers_on_rows(
    towers: &[Tower],
    paths: &[Tensor<2>],
    rows: &[Option<Range<usize>>],
) -> Vec<Option<Tensor<2>>> {
    rows.iter()
        .enumerate()
        .map(|(t, r)| r.as_ref().map(|r| towers[t].forward(rows_of(&paths[t], r))))
        .collect()
}

/// Mix expert outputs `[B, E, D]` with gate logits `[B, E]` (softmax over experts) → `[B, D]`.
fn mix(experts: Tensor<3>, gate_logits: Tensor<2>) -> Tensor<2> {
    let w = activation::softmax(gate_logits, 1);
    (experts * w.unsqueeze_dim::<3>(2))
        .sum_dim(1)
        .squeeze_dim::<2>(1)
}

/// Stack expert outputs `[B, D]` into `[B, E, D]`.
fn stack(outs: Vec<Tensor<2>>) -> Tensor<3> {
    Tensor::stack::<3>(outs, 1)
}

/// `[B, E·D]` → `[B, E, D]`.
fn unflatten(z: Tensor<2>, e: usize) -> Tensor<3> {
    let [b, ed] = z.dims();
    z.reshape([b, e, ed / e.max(1)])
}

/// `[B, E, D]` → `[B, E·D]`.
fn flatten(z: Tensor<3>) -> Tensor<2> {
    let [b, e, d] = z.dims();
    z.reshape([b, e * d])
}

/// Hard parameter sharing: one trunk, one tower per task.
#[derive(Module, Debug)]
pub struct HardSharing<E: Module> {
    /// The shared trunk.
    pub trunk: E,
    /// One tower per task.
    pub towers: Vec<Tower>,
}

impl<E: Encoder> HardSharing<E> {
    /// A trunk and towers with `hidden` layers and the tasks' output widths.
    pub fn new(trunk: E, hidden: &[usize], out_dims: &[usize], device: &Device) -> Self {
        let d = trunk.out_dim();
        let towers = Tower::per_task(d, hidden, out_dims, device);
        Self { trunk, towers }
    }
}

impl<E: Encoder> MultiTaskModel for HardSharing<E> {
    fn n_tasks(&self) -> usize {
        self.towers.len()
    }
    fn forward(&self, x: Tensor<2>, rows: &[Option<Range<usize>>]) -> Vec<Option<Tensor<2>>> {
        forward_split(self, x, rows)
    }
    fn shared(&self, x: Tensor<2>) -> Option<Tensor<2>> {
        Some(self.trunk.forward(x))
    }
    fn task_from_shared(&self, t: usize, z: Tensor<2>, _x: Tensor<2>) -> Tensor<2> {
        self.towers[t].forward(z)
    }
}

/// Multi-gate mixture of experts (MMoE, Ma et al. KDD 2018): experts shared by all tasks, one
/// softmax gate per task over the experts (a linear map of the input), one tower per task.
#[derive(Module, Debug)]
pub struct Mmoe<E: Module> {
    /// Shared experts (equal output widths).
    pub experts: Vec<E>,
    /// One gate per task, `d_in → n_experts`.
    pub gates: Vec<Linear>,
    /// One tower per task.
    pub towers: Vec<Tower>,
}

impl<E: Encoder> Mmoe<E> {
    /// Experts, then one gate and tower per task.
    pub fn new(
        d_in: usize,
        experts: Vec<E>,
        hidden: &[usize],
        out_dims: &[usize],
        device: &Device,
    ) -> Self {
        let d = experts.first().map_or(0, Encoder::out_dim);
        let n = experts.len();
        Self {
            gates: out_dims
                .iter()
                .map(|_| LinearConfig::new(d_in, n).init(device))
                .collect(),
            towers: Tower::per_task(d, hidden, out_dims, device),
            experts,
        }
    }
}

impl<E: Encoder> MultiTaskModel for Mmoe<E> {
    fn n_tasks(&self) -> usize {
        self.towers.len()
    }
    fn forward(&self, x: Tensor<2>, rows: &[Option<Range<usize>>]) -> Vec<Option<Tensor<2>>> {
        forward_split(self, x, rows)
    }
    fn shared(&self, x: Tensor<2>) -> Option<Tensor<2>> {
        let outs = self.experts.iter().map(|e| e.forward(x.clone())).collect();
        Some(flatten(stack(outs)))
    }
    fn task_from_shared(&self, t: usize, z: Tensor<2>, x: Tensor<2>) -> Tensor<2> {
        let experts = unflatten(z, self.experts.len());
        self.towers[t].forward(mix(experts, self.gates[t].forward(x)))
    }
}

/// Customized gate control (CGC, the one-level PLE of Tang et al. RecSys 2020): shared experts,
/// task-specific experts, and per task a gate over the shared experts and its own.
#[derive(Module, Debug)]
pub struct Cgc<E: Module> {
    /// Shared experts.
    pub shared_experts: Vec<E>,
    /// Task-specific experts, `experts_per_task` per task, task by task.
    pub task_experts: Vec<E>,
    /// One gate per task, `d_in → n_shared + experts_per_task`.
    pub gates: Vec<Linear>,
    /// One tower per task.
    pub towers: Vec<Tower>,
}

impl<E: Encoder> Cgc<E> {
    /// `shared_experts`, and `task_experts` (`n_tasks · k` of them, task by task).
    ///
    /// # Panics
    /// When `task_experts.len()` is not a multiple of the number of tasks.
    pub fn new(
        d_in: usize,
        shared_experts: Vec<E>,
        task_experts: Vec<E>,
        hidden: &[usize],
        out_dims: &[usize],
        device: &Device,
    ) -> Self {
        let t = out_dims.len();
        assert!(
            t > 0 && task_experts.len().is_multiple_of(t),
            "task experts must come in equal numbers per task"
        );
        let k = task_experts.len() / t;
        let d = shared_experts
            .first()
            .or(task_experts.first())
            .map_or(0, Encoder::out_dim);
        Self {
            gates: (0..t)
                .map(|_| LinearConfig::new(d_in, shared_experts.len() + k).init(device))
                .collect(),
            towers: Tower::per_task(d, hidden, out_dims, device),
            shared_experts,
            task_experts,
        }
    }

    fn per_task(&self) -> usize {
        self.task_experts.len() / self.towers.len().max(1)
    }
}

impl<E: Encoder> MultiTaskModel for Cgc<E> {
    fn n_tasks(&self) -> usize {
        self.towers.len()
    }
    fn forward(&self, x: Tensor<2>, rows: &[Option<Range<usize>>]) -> Vec<Option<Tensor<2>>> {
        forward_split(self, x, rows)
    }
    fn shared(&self, x: Tensor<2>) -> Option<Tensor<2>> {
        let outs = self
            .shared_experts
            .iter()
            .map(|e| e.forward(x.clone()))
            .collect();
        Some(flatten(stack(outs)))
    }
    fn task_from_shared(&self, t: usize, z: Tensor<2>, x: Tensor<2>) -> Tensor<2> {
        let k = self.per_task();
        let mut outs: Vec<Tensor<2>> = Vec::with_capacity(self.shared_experts.len() + k);
        let shared = unflatten(z, self.shared_experts.len());
        let [_, s, _] = shared.dims();
        for i in 0..s {
            outs.push(shared.clone().narrow(1, i, 1).squeeze_dim::<2>(1));
        }
        for e in &self.task_experts[t * k..(t + 1) * k] {
            outs.push(e.forward(x.clone()));
        }
        self.towers[t].forward(mix(stack(outs), self.gates[t].forward(x)))
    }
}

/// One extraction layer of [`Ple`].
#[derive(Module, Debug)]
pub struct PleLevel<E: Module> {
    /// Shared experts (input: the shared path).
    pub shared_experts: Vec<E>,
    /// Task experts, `k` per task, task by task (input: the task's path).
    pub task_experts: Vec<E>,
    /// Per task, a gate over the shared experts and its own (input: the task's path).
    pub task_gates: Vec<Linear>,
    /// The shared gate over every expert of the level (input: the shared path); absent on the
    /// last level.
    pub shared_gate: Option<Linear>,
}

/// Progressive layered extraction (PLE, Tang et al. RecSys 2020): stacked CGC levels with
/// separate task paths and a shared path; on every level but the last, a **shared-expert
/// gate** mixes all the level's experts (shared and task-specific) into the next level's shared
/// input, as in the paper.
#[derive(Module, Debug)]
pub struct Ple<E: Module> {
    /// The levels, first to last.
    pub levels: Vec<PleLevel<E>>,
    /// One tower per task.
    pub towers: Vec<Tower>,
}

impl<E: Encoder> Ple<E> {
    /// `n_levels` levels; `make_expert(level, in_dim)` builds each expert (all of a level must
    /// share one output width), `n_shared` shared and `k` task experts per level.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        d_in: usize,
        n_levels: usize,
        n_shared: usize,
        k: usize,
        mut make_expert: impl FnMut(usize, usize) -> E,
        hidden: &[usize],
        out_dims: &[usize],
        device: &Device,
    ) -> Self {
        let t = out_dims.len();
        let mut levels = Vec::with_capacity(n_levels);
        let mut in_dim = d_in;
        for l in 0..n_levels {
            let shared_experts: Vec<E> = (0..n_shared).map(|_| make_expert(l, in_dim)).collect();
            let task_experts: Vec<E> = (0..t * k).map(|_| make_expert(l, in_dim)).collect();
            let out = shared_experts
                .first()
                .or(task_experts.first())
                .map_or(in_dim, Encoder::out_dim);
            let last = l + 1 == n_levels;
            levels.push(PleLevel {
                task_gates: (0..t)
                    .map(|_| LinearConfig::new(in_dim, n_shared + k).init(device))
                    .collect(),
                shared_gate: (!last)
                    .then(|| LinearConfig::new(in_dim, n_shared + t * k).init(device)),
                shared_experts,
                task_experts,
            });
            in_dim = out;
        }
        Self {
            levels,
            towers: Tower::per_task(in_dim, hidden, out_dims, device),
        }
    }
}

impl<E: Encoder> MultiTaskModel for Ple<E> {
    fn n_tasks(&self) -> usize {
        self.towers.len()
    }
    fn forward(&self, x: Tensor<2>, rows: &[Option<Range<usize>>]) -> Vec<Option<Tensor<2>>> {
        let t = self.towers.len();
        // all tasks run on all rows (the shared path needs every task path); outputs are cut
        // to each task's rows at the end
        let mut paths: Vec<Tensor<2>> = vec![x.clone(); t];
        let mut shared_path = x;
        for level in &self.levels {
            let k = level.task_experts.len() / t.max(1);
            let shared_outs: Vec<Tensor<2>> = level
                .shared_experts
                .iter()
                .map(|e| e.forward(shared_path.clone()))
                .collect();
            let task_outs: Vec<Tensor<2>> = level
                .task_experts
                .iter()
                .enumerate()
                .map(|(i, e)| e.forward(paths[i / k.max(1)].clone()))
                .collect();
            let new_paths: Vec<Tensor<2>> = (0..t)
                .map(|ti| {
                    let mut outs = shared_outs.clone();
                    outs.extend(task_outs[ti * k..(ti + 1) * k].iter().cloned());
                    mix(stack(outs), level.task_gates[ti].forward(paths[ti].clone()))
                })
                .collect();
            if let Some(g) = &level.shared_gate {
                let mut outs = shared_outs;
                outs.extend(task_outs);
                shared_path = mix(stack(outs), g.forward(shared_path));
            }
            paths = new_paths;
        }
        towers_on_rows(&self.towers, &paths, rows)
    }
}

/// Cross-stitch networks (Misra et al. CVPR 2016): one column of blocks per task; after every
/// block but the last, a learned `T × T` cross-stitch unit mixes the columns
/// (`h'_t = Σ_s α[t, s] h_s`, initialised to 0.9 on the diagonal and `0.1/(T−1)` elsewhere).
#[derive(Module, Debug)]
pub struct CrossStitch<E: Module> {
    /// Blocks, level by level: `columns[l · T + t]` is task `t`'s block at level `l`.
    pub columns: Vec<E>,
    /// One `T × T` unit per level boundary.
    pub units: Vec<Param<Tensor<2>>>,
    /// One tower per task.
    pub towers: Vec<Tower>,
}

impl<E: Encoder> CrossStitch<E> {
    /// `blocks[l][t]`: the level-`l` block of task `t` (blocks of one level share an output
    /// width).
    ///
    /// # Panics
    /// When a level does not have one block per task.
    pub fn new(blocks: Vec<Vec<E>>, hidden: &[usize], out_dims: &[usize], device: &Device) -> Self {
        let t = out_dims.len();
        assert!(
            blocks.iter().all(|l| l.len() == t),
            "every level needs one block per task"
        );
        let levels = blocks.len();
        let d = blocks
            .last()
            .and_then(|l| l.first())
            .map_or(0, Encoder::out_dim);
        let off = if t > 1 { 0.1 / (t - 1) as f32 } else { 0.0 };
        let init: Vec<f32> = (0..t * t)
            .map(|i| if i / t == i % t { 0.9 } else { off })
            .collect();
        let units = (0..levels.saturating_sub(1))
            .map(|_| {
                Param::from_tensor(Tensor::<2>::from_data(
                    TensorData::new(init.clone(), [t, t]),
                    device,
                ))
            })
            .collect();
        Self {
            columns: blocks.into_iter().flatten().collect(),
            units,
            towers: Tower::per_task(d, hidden, out_dims, device),
        }
    }
}

impl<E: Encoder> MultiTaskModel for CrossStitch<E> {
    fn n_tasks(&self) -> usize {
        self.towers.len()
    }
    fn forward(&self, x: Tensor<2>, rows: &[Option<Range<usize>>]) -> Vec<Option<Tensor<2>>> {
        let t = self.towers.len();
        let levels = self.columns.len() / t.max(1);
        let mut h: Vec<Tensor<2>> = vec![x; t];
        for l in 0..levels {
            h = (0..t)
                .map(|ti| self.columns[l * t + ti].forward(h[ti].clone()))
                .collect();
            if let Some(unit) = self.units.get(l) {
                let [b, d] = h[0].dims();
                let stacked = Tensor::stack::<3>(h, 0).reshape([t, b * d]);
                let mixed = unit.val().matmul(stacked).reshape([t, b, d]);
                h = (0..t)
                    .map(|ti| mixed.clone().narrow(0, ti, 1).reshape([b, d]))
                    .collect();
            }
        }
        towers_on_rows(&self.towers, &h, rows)
    }
}

/// DSelect-k gates (Hazimeh et al. NeurIPS 2021): per task, `k` differentiable selectors over
/// `n` shared experts. Selector `i` holds `m = ⌈log₂ n⌉` logits `z_i(x)` (a linear map of the
/// input, the per-example gate); expert `e` with binary code `b(e)` gets
/// `r_i(e) = Π_j S(z_ij)^{b_j} (1 − S(z_ij))^{1−b_j}` with the smooth step
/// `S(t) = −2t³/γ³ + 3t/(2γ) + ½` on `|t| ≤ γ/2` (0 / 1 beyond); the gate is
/// `Σ_i softmax(α(x))_i r_i`, renormalised over the `n` existing experts when `n` is not a power
/// of two. (The paper's entropy regulariser, which pushes the selectors to binary, is not
/// included: the smooth step alone reaches exact 0/1 once `|z| ≥ γ/2`.)
#[derive(Module, Debug)]
pub struct DSelectK<E: Module> {
    /// Shared experts.
    pub experts: Vec<E>,
    /// Per task, `d_in → k·m` selector logits.
    pub selectors: Vec<Linear>,
    /// Per task, `d_in → k` selector weights (softmax).
    pub alphas: Vec<Linear>,
    /// One tower per task.
    pub towers: Vec<Tower>,
    /// Selectors per task.
    pub k: usize,
    /// Smooth-step width γ.
    pub gamma: f64,
}

impl<E: Encoder> DSelectK<E> {
    /// `k` selectors per task over `experts`, smooth-step width `gamma` (the paper uses 1).
    pub fn new(
        d_in: usize,
        experts: Vec<E>,
        k: usize,
        gamma: f64,
        hidden: &[usize],
        out_dims: &[usize],
        device: &Device,
    ) -> Self {
        let n = experts.len();
        let m = bits(n);
        let d = experts.first().map_or(0, Encoder::out_dim);
        Self {
            selectors: out_dims
                .iter()
                .map(|_| LinearConfig::new(d_in, k * m).init(device))
                .collect(),
            alphas: out_dims
                .iter()
                .map(|_| LinearConfig::new(d_in, k).init(device))
                .collect(),
            towers: Tower::per_task(d, hidden, out_dims, device),
            experts,
            k,
            gamma,
        }
    }

    /// The gate of task `t`, `[B, n]` (rows sum to 1).
    pub fn gate(&self, t: usize, x: Tensor<2>) -> Tensor<2> {
        let n = self.experts.len();
        let m = bits(n);
        let k = self.k;
        let [b, _] = x.dims();
        let device = x.device();
        let alpha = activation::softmax(self.alphas[t].forward(x.clone()), 1); // [B, k]
        if m == 0 {
            return Tensor::ones([b, n], &device);
        }
        let z = self.selectors[t].forward(x).reshape([b, k, m]);
        let g = self.gamma;
        let half = g / 2.0;
        let zc = z.clamp(-half, half);
        let s = zc
            .clone()
            .powi_scalar(3)
            .mul_scalar(-2.0 / (g * g * g))
            .add(zc.mul_scalar(3.0 / (2.0 * g)))
            .add_scalar(0.5); // [B, k, m]
        let mut r: Option<Tensor<3>> = None; // [B, k, n]
        for j in 0..m {
            let code: Vec<f32> = (0..n).map(|e| ((e >> j) & 1) as f32).collect();
            let c = Tensor::<1>::from_data(TensorData::new(code, [n]), &device).reshape([1, 1, n]);
            let sj = s.clone().narrow(2, j, 1); // [B, k, 1]
            let term =
                c.clone() * sj.clone() + (c.neg().add_scalar(1.0)) * (sj.neg().add_scalar(1.0));
            r = Some(match r {
                Some(acc) => acc * term,
                None => term,
            });
        }
        let r = r.unwrap_or_else(|| Tensor::ones([b, k, n], &device));
        let gate = (r * alpha.unsqueeze_dim::<3>(2))
            .sum_dim(1)
            .squeeze_dim::<2>(1); // [B, n]
        if n.is_power_of_two() {
            gate
        } else {
            let total = gate.clone().sum_dim(1).add_scalar(1e-12);
            gate / total
        }
    }
}

/// `⌈log₂ n⌉`.
fn bits(n: usize) -> usize {
    if n <= 1 {
        0
    } else {
        (usize::BITS - (n - 1).leading_zeros()) as usize
    }
}

impl<E: Encoder> MultiTaskModel for DSelectK<E> {
    fn n_tasks(&self) -> usize {
        self.towers.len()
    }
    fn forward(&self, x: Tensor<2>, rows: &[Option<Range<usize>>]) -> Vec<Option<Tensor<2>>> {
        forward_split(self, x, rows)
    }
    fn shared(&self, x: Tensor<2>) -> Option<Tensor<2>> {
        let outs = self.experts.iter().map(|e| e.forward(x.clone())).collect();
        Some(flatten(stack(outs)))
    }
    fn task_from_shared(&self, t: usize, z: Tensor<2>, x: Tensor<2>) -> Tensor<2> {
        let experts = unflatten(z, self.experts.len());
        let gate = self.gate(t, x); // [B, n]
        let mixed = (experts * gate.unsqueeze_dim::<3>(2))
            .sum_dim(1)
            .squeeze_dim::<2>(1);
        self.towers[t].forward(mixed)
    }
}

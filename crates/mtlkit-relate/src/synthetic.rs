//! Synthetic tasks with a planted group structure, to check that grouping and the
//! negative-transfer report find what was put in.
//!
//! Features are i.i.d. standard normal; task `t` has `y = X w_t + ε`, `ε ~ N(0, noise²)`.
//! Weights: a **common** part `c` (features `0..n_common`, shared by every normal task), a
//! **group** part `u_g` on a support of `group_support` features owned by group `g` (disjoint
//! across groups), and a small per-task perturbation (`task_jitter`) on the task's supports. The
//! **adversarial** task (last, if any) has `w = −(c + u_0)`: the opposite of group 0, so pooling
//! it with the others pulls it the wrong way. Its planted label is a group of its own.

use ndarray::{Array1, Array2};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use mtlkit_core::MultiTaskDataset;

use crate::Result;

/// Settings of [`planted_groups`].
#[derive(Debug, Clone, PartialEq)]
pub struct PlantedGroups {
    /// Number of groups of normal tasks.
    pub n_groups: usize,
    /// Tasks per group.
    pub tasks_per_group: usize,
    /// Add one adversarial task (last).
    pub adversarial: bool,
    /// Samples per task.
    pub n_samples: usize,
    /// Features shared by all normal tasks.
    pub n_common: usize,
    /// Features owned by each group.
    pub group_support: usize,
    /// Extra features used by no task.
    pub n_noise_features: usize,
    /// Size of the common weights.
    pub common_scale: f64,
    /// Size of the group weights.
    pub group_scale: f64,
    /// Size of the per-task perturbation.
    pub task_jitter: f64,
    /// Noise standard deviation.
    pub noise: f64,
}

impl Default for PlantedGroups {
    /// 3 groups × 3 tasks + 1 adversarial task, 60 samples per task, 6 common features, 4 per
    /// group, 4 unused (22 features), common scale 1.5, group scale 1, jitter 0.1, noise 2.
    fn default() -> Self {
        Self {
            n_groups: 3,
            tasks_per_group: 3,
            adversarial: true,
            n_samples: 60,
            n_common: 6,
            group_support: 4,
            n_noise_features: 4,
            common_scale: 1.5,
            group_scale: 1.0,
            task_jitter: 0.1,
            noise: 2.0,
        }
    }
}

/// A standard normal draw (Box–Muller).
pub(crate) fn normal(rng: &mut StdRng) -> f64 {
    let u1: f64 = rng.random::<f64>().max(1e-300);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// The planted data (one design per task, tasks `g{group}t{k}` and `adversarial`), the true
/// weights (`n_features × n_tasks`) and the planted labels (the adversarial task alone).
///
/// # Errors
/// Never for settings with at least one task and one feature (the data model's checks).
pub fn planted_groups(
    cfg: &PlantedGroups,
    seed: u64,
) -> Result<(MultiTaskDataset, Array2<f64>, Vec<usize>)> {
    let mut rng = StdRng::seed_from_u64(seed);
    let d = cfg.n_common + cfg.n_groups * cfg.group_support + cfg.n_noise_features;
    let c: Vec<f64> = (0..cfg.n_common)
        .map(|_| cfg.common_scale * sign_magnitude(&mut rng))
        .collect();
    let u: Vec<Vec<f64>> = (0..cfg.n_groups)
        .map(|_| {
            (0..cfg.group_support)
                .map(|_| cfg.group_scale * sign_magnitude(&mut rng))
                .collect()
        })
        .collect();
    let base = |g: usize| -> Array1<f64> {
        let mut w = Array1::<f64>::zeros(d);
        for (j, &v) in c.iter().enumerate() {
            w[j] = v;
        }
        for (j, &v) in u[g].iter().enumerate() {
            w[cfg.n_common + g * cfg.group_support + j] = v;
        }
        w
    };
    let mut weights: Vec<Array1<f64>> = Vec::new();
    let mut labels = Vec::new();
    let mut names = Vec::new();
    for g in 0..cfg.n_groups {
        for k in 0..cfg.tasks_per_group {
            let mut w = base(g);
            for v in w.iter_mut() {
                if *v != 0.0 {
                    *v += cfg.task_jitter * normal(&mut rng);
                }
            }
            weights.push(w);
            labels.push(g);
            names.push(format!("g{g}t{k}"));
        }
    }
    if cfg.adversarial && cfg.n_groups > 0 {
        weights.push(-base(0));
        labels.push(cfg.n_groups);
        names.push("adversarial".to_string());
    }
    let mut tasks = Vec::with_capacity(weights.len());
    for w in &weights {
        let x = Array2::from_shape_fn((cfg.n_samples, d), |_| normal(&mut rng));
        let y = x.dot(w) + Array1::from_shape_fn(cfg.n_samples, |_| cfg.noise * normal(&mut rng));
        tasks.push((x, y));
    }
    let data = MultiTaskDataset::per_task(tasks)?.with_task_names(names)?;
    let nt = weights.len();
    let w = Array2::from_shape_fn((d, nt), |(j, t)| weights[t][j]);
    Ok((data, w, labels))
}

/// `±(0.5 + U(0, 1))`: a weight away from zero.
fn sign_magnitude(rng: &mut StdRng) -> f64 {
    let m = 0.5 + rng.random::<f64>();
    if rng.random::<bool>() { m } else { -m }
}

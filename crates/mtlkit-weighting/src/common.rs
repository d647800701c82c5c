//! Shared pieces of the methods: a small Adam, seeded per-step randomness, the `update_every`
//! cache and the checkpoint envelope.

use ndarray::Array1;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{Result, WeightingError, check_nonneg, check_range};

/// Adam (Kingma & Ba 2015, PyTorch conventions, L2 `weight_decay` added to the gradient) for the
/// few scalar parameters some methods learn themselves (uncertainty weighting's `s_t`,
/// IMTL-L's scales, GradNorm's weights, FAMO's logits).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdamConfig {
    /// Learning rate.
    pub lr: f64,
    /// First-moment decay.
    pub beta1: f64,
    /// Second-moment decay.
    pub beta2: f64,
    /// Denominator epsilon.
    pub eps: f64,
    /// L2 penalty added to the gradient (PyTorch's `Adam(weight_decay=…)`).
    pub weight_decay: f64,
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
        }
    }
}

impl AdamConfig {
    /// PyTorch's defaults with another learning rate.
    pub fn with_lr(lr: f64) -> Self {
        Self {
            lr,
            ..Self::default()
        }
    }

    pub(crate) fn validate(&self) -> Result<()> {
        check_nonneg("lr", self.lr, true)?;
        check_range("beta1", self.beta1, 0.0, 0.999_999_999)?;
        check_range("beta2", self.beta2, 0.0, 0.999_999_999)?;
        check_nonneg("eps", self.eps, true)?;
        check_nonneg("weight_decay", self.weight_decay, false)
    }
}

/// Adam moments, one per parameter, with per-parameter step counts (so that parameters of
/// tasks absent from a step are left untouched).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct AdamState {
    pub m: Vec<f64>,
    pub v: Vec<f64>,
    pub t: Vec<u64>,
}

impl AdamState {
    pub fn new(n: usize) -> Self {
        Self {
            m: vec![0.0; n],
            v: vec![0.0; n],
            t: vec![0; n],
        }
    }

    pub fn len_ok(&self, n: usize) -> bool {
        self.m.len() == n && self.v.len() == n && self.t.len() == n
    }

    /// One Adam step on `params[idx[r]]` with gradient `grads[r]`.
    pub fn step(&mut self, cfg: &AdamConfig, params: &mut [f64], idx: &[usize], grads: &[f64]) {
        for (r, &i) in idx.iter().enumerate() {
            let mut g = grads[r] + cfg.weight_decay * params[i];
            if !g.is_finite() {
                g = 0.0;
            }
            self.t[i] += 1;
            self.m[i] = cfg.beta1 * self.m[i] + (1.0 - cfg.beta1) * g;
            self.v[i] = cfg.beta2 * self.v[i] + (1.0 - cfg.beta2) * g * g;
            let t = self.t[i].min(i32::MAX as u64) as i32;
            let mhat = self.m[i] / (1.0 - cfg.beta1.powi(t));
            let vhat = self.v[i] / (1.0 - cfg.beta2.powi(t));
            let upd = cfg.lr * mhat / (vhat.sqrt() + cfg.eps);
            if upd.is_finite() {
                params[i] -= upd;
            }
        }
    }
}

/// A generator seeded by `(seed, step, stream)` so that random methods are reproducible and
/// checkpoint with just their step counter.
pub(crate) fn step_rng(seed: u64, step: u64, stream: u64) -> StdRng {
    let mut x = seed ^ splitmix(step.wrapping_add(0x9E37_79B9_7F4A_7C15)) ^ splitmix(stream);
    x = splitmix(x);
    StdRng::seed_from_u64(x)
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The `update_every` cache: the last computed weights (per task id) and the call counter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Amortizer {
    pub calls: u64,
    pub cached: Vec<Option<f64>>,
}

impl Amortizer {
    pub fn new(num_tasks: usize) -> Self {
        Self {
            calls: 0,
            cached: vec![None; num_tasks],
        }
    }

    /// Whether the next call must compute (every `every` calls, and while nothing is cached).
    pub fn due(&self, every: usize) -> bool {
        let every = every.max(1) as u64;
        self.calls.is_multiple_of(every) || self.cached.iter().all(Option::is_none)
    }

    /// Cached weights for these tasks; a task never computed gets the mean of the others.
    pub fn reuse(&self, tasks: &[usize]) -> Option<Array1<f64>> {
        let known: Vec<f64> = tasks.iter().filter_map(|&t| self.cached[t]).collect();
        if known.is_empty() {
            return None;
        }
        let mean = known.iter().sum::<f64>() / known.len() as f64;
        Some(Array1::from_iter(
            tasks.iter().map(|&t| self.cached[t].unwrap_or(mean)),
        ))
    }

    pub fn store(&mut self, tasks: &[usize], w: &Array1<f64>) {
        for (r, &t) in tasks.iter().enumerate() {
            self.cached[t] = Some(w[r]);
        }
    }

    pub fn len_ok(&self, n: usize) -> bool {
        self.cached.len() == n
    }
}

#[derive(Serialize, Deserialize)]
struct Envelope<S> {
    method: String,
    num_tasks: usize,
    state: S,
}

/// Wraps a method's state with its name and task count.
pub(crate) fn save_state<S: Serialize>(
    method: &str,
    num_tasks: usize,
    state: &S,
) -> Result<serde_json::Value> {
    serde_json::to_value(Envelope {
        method: method.to_string(),
        num_tasks,
        state,
    })
    .map_err(|e| WeightingError::State(format!("cannot serialize the state of `{method}`: {e}")))
}

/// Unwraps and checks a state saved by [`save_state`].
pub(crate) fn load_state<S: DeserializeOwned>(
    method: &str,
    num_tasks: usize,
    value: &serde_json::Value,
) -> Result<S> {
    let env: Envelope<S> = serde_json::from_value(value.clone())
        .map_err(|e| WeightingError::State(format!("not a `{method}` state: {e}")))?;
    if env.method != method {
        return Err(WeightingError::State(format!(
            "state of `{}` given to `{method}`",
            env.method
        )));
    }
    if env.num_tasks != num_tasks {
        return Err(WeightingError::State(format!(
            "state for {} tasks given to a method over {num_tasks} tasks",
            env.num_tasks
        )));
    }
    Ok(env.state)
}

/// Error for a restored vector of the wrong length.
pub(crate) fn bad_len(method: &str) -> WeightingError {
    WeightingError::State(format!(
        "state of `{method}` has vectors of the wrong length"
    ))
}

/// A standard normal draw (Box–Muller; `rand_distr` is not a dependency).
pub(crate) fn std_normal(rng: &mut StdRng) -> f64 {
    use rand::Rng;
    let u1: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

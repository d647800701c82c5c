//! The MMoE paper's synthetic benchmark (Ma et al., KDD 2018, sections 3.2 and 4.4): two
//! regression tasks whose correlation is set through the cosine `p` of their weight vectors,
//!
//! `y_t = w_tᵀx + Σ_{i=1..m} sin(α_i w_tᵀx + β_i) + ε`, `w_1 = c·u_1`,
//! `w_2 = c·(p·u_1 + √(1−p²)·u_2)`, `u_1 ⊥ u_2` unit vectors,
//!
//! with `x ~ N(0, I_d)`, `α_i, β_i ~ N(0, 0.01)` (m = 10), `ε ~ N(0, 0.01)`, d = 100, c = 1.
//! The paper's finding is that MMoE's advantage over a shared bottom grows as the correlation
//! falls. Two protocols:
//!
//! * default (**converged**): shared-bottom and MMoE of similar size trained with early
//!   stopping on a validation split, test MSE at the selected epoch, over `--seeds` seeds;
//!   `cargo run --release -p mtlkit-deep --example mmoe_synthetic [-- --seeds 5 --json out.json]`
//! * `--curves` (**the paper's Figure 4**): for each `p`, `--runs` independent runs (fresh data
//!   and initialisation each run, seeded) of shared-bottom, OMoE (one gate shared by the tasks)
//!   and MMoE with the paper's sizes, trained with Adam for a fixed budget of `--steps` steps of
//!   `--batch` rows; the **training loss** (MSE mean over the two tasks, on the first
//!   `--n-eval` training rows) is recorded at checkpoints (every `--every` steps, ten times
//!   more often before that), and its mean ± standard error across runs is reported with the
//!   area under the curve, the loss at fixed budgets, the test MSE and the paired gaps
//!   MMoE − shared-bottom, OMoE − shared-bottom and MMoE − OMoE per `p`;
//!   `cargo run --release -p mtlkit-deep --example mmoe_synthetic -- --curves
//!   [--runs 40 --steps 3000 --every 100 --batch 100 --n-train 100000 --n-eval 5000
//!   --n-test 5000 --lrs 0.0001,0.001,0.01 --pilot-runs 3 --ps 1,0.9,0.5 --alpha-sd 0.1
//!   --ab normal --json curves.json --svg curves.svg]`.
//!   With several `--lrs`, a pilot (`--pilot-runs` runs per `p` on data of other seeds) picks
//!   each model's learning rate (lowest mean area under the training curve over all `p`), as
//!   the paper grid-searched it over {1e-4, 1e-3, 1e-2}. `--curves --verify` checks that the
//!   example's training loop reproduces `mtlkit_deep::train` exactly (the trainer records
//!   losses once per epoch only); `--curves --replot IN.json --svg OUT.svg` redraws a figure.
//!
//! `--alpha-sd` sets the standard deviation of `α_i` and `β_i` (default 0.1, the paper's
//! `N(0, 0.01)` read as a variance; the sine terms are then nearly linear in `w_tᵀx`).
//! `--curves --ab google` instead uses the deterministic `α_i = i`, `β_i = (i−1)²` of a public
//! Google Research generator for this benchmark ("Simple generator for synthetic multi-task
//! data", whose comment says the paper does not give these values), with its noise standard
//! deviation 0.01; it has the same `c = 1`, `x ~ N(0, I)` and random orthonormal `u_1`, `u_2`.
//! `--noise-sd` overrides the noise standard deviation (default 0.1, or 0.01 with `--ab google`).

use std::ops::Range;

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, activation};
use mtlkit_deep::loss::{task_loss, tensor2};
use mtlkit_deep::nn::{Encoder, Mlp, Tower};
use mtlkit_deep::{
    ArchConfig, DeepDataset, MultiTaskModel, RunFiles, Targets, TaskKind, TaskSpec, TrainerConfig,
    cpu_device, evaluate, seeded, train,
};
use ndarray::{Array1, Array2};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn normal(rng: &mut StdRng) -> f64 {
    // Box–Muller
    let (u1, u2): (f64, f64) = (rng.random::<f64>().max(1e-300), rng.random());
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// How the generator's `α_i`, `β_i` and noise are set.
#[derive(Clone, Copy, Debug)]
struct Gen {
    /// `Some(sd)`: `α_i, β_i ~ N(0, sd²)` (the paper's sd is 0.1); `None`: the Google Research
    /// generator's deterministic `α_i = i`, `β_i = (i−1)²` (i = 1..10).
    alpha_sd: Option<f64>,
    /// Standard deviation of the label noise `ε` (the paper's `N(0, 0.01)` read as a variance:
    /// 0.1; the Google Research generator's `noise_std`: 0.01).
    noise_sd: f64,
}

impl Gen {
    /// The paper's generator with `α_i, β_i ~ N(0, alpha_sd²)` and noise sd 0.1.
    const fn paper(alpha_sd: f64) -> Self {
        Self {
            alpha_sd: Some(alpha_sd),
            noise_sd: 0.1,
        }
    }
}

/// `n` rows of the paper's two tasks at correlation `p`, with `α`, `β` and noise set by `g`.
/// The draws of `u_1`, `u_2` and `x` do not depend on `g`: every generator sees the same inputs
/// for a seed.
fn synthetic(n: usize, p: f64, seed: u64, g: Gen) -> DeepDataset {
    let d = 100;
    let mut rng = StdRng::seed_from_u64(seed);
    // two orthogonal unit vectors (Gram–Schmidt)
    let mut u1: Vec<f64> = (0..d).map(|_| normal(&mut rng)).collect();
    let n1 = u1.iter().map(|v| v * v).sum::<f64>().sqrt();
    u1.iter_mut().for_each(|v| *v /= n1);
    let mut u2: Vec<f64> = (0..d).map(|_| normal(&mut rng)).collect();
    let dot: f64 = u1.iter().zip(&u2).map(|(a, b)| a * b).sum();
    u2.iter_mut().zip(&u1).for_each(|(v, a)| *v -= dot * a);
    let n2 = u2.iter().map(|v| v * v).sum::<f64>().sqrt();
    u2.iter_mut().for_each(|v| *v /= n2);
    let w1 = u1.clone();
    let w2: Vec<f64> = u1
        .iter()
        .zip(&u2)
        .map(|(a, b)| p * a + (1.0 - p * p).sqrt() * b)
        .collect();
    // the random α, β are drawn in every case, so that `x` is the same for every generator
    let random: Vec<(f64, f64)> = (0..10)
        .map(|_| (normal(&mut rng), normal(&mut rng)))
        .collect();
    #[allow(clippy::cast_precision_loss)]
    let ab: Vec<(f64, f64)> = match g.alpha_sd {
        Some(sd) => random.iter().map(|(a, b)| (sd * a, sd * b)).collect(),
        None => (1..=10usize)
            .map(|i| (i as f64, ((i - 1) * (i - 1)) as f64))
            .collect(),
    };
    let x = Array2::from_shape_fn((n, d), |_| normal(&mut rng));
    let target = |w: &[f64], rng: &mut StdRng| -> Array1<f64> {
        (0..n)
            .map(|i| {
                let s: f64 = x.row(i).iter().zip(w).map(|(a, b)| a * b).sum();
                s + ab.iter().map(|(a, b)| (a * s + b).sin()).sum::<f64>()
                    + g.noise_sd * normal(rng)
            })
            .collect()
    };
    let y1 = target(&w1, &mut rng);
    let y2 = target(&w2, &mut rng);
    let specs = vec![
        TaskSpec::new("task1", TaskKind::Regression),
        TaskSpec::new("task2", TaskKind::Regression),
    ];
    let t = vec![
        Targets::from_column(&specs[0], y1.view()).expect("finite"),
        Targets::from_column(&specs[1], y2.view()).expect("finite"),
    ];
    DeepDataset::shared(x.mapv(|v| v as f32), t, specs).expect("valid")
}

/// One-gate mixture of experts (the paper's OMoE baseline): MMoE's experts and towers, but a
/// single softmax gate shared by every task, so all tasks read the same mixture.
#[derive(Module, Debug)]
struct Omoe {
    experts: Vec<Mlp>,
    gate: Linear,
    towers: Vec<Tower>,
}

impl Omoe {
    fn new(d_in: usize, experts: Vec<Mlp>, tower: &[usize], out: &[usize], dev: &Device) -> Self {
        let d = experts.first().map_or(0, Encoder::out_dim);
        Self {
            gate: LinearConfig::new(d_in, experts.len()).init(dev),
            towers: Tower::per_task(d, tower, out, dev),
            experts,
        }
    }

    /// The gated mixture of the experts' outputs, `[B, D]`.
    fn mixture(&self, x: Tensor<2>) -> Tensor<2> {
        let outs: Vec<Tensor<2>> = self.experts.iter().map(|e| e.forward(x.clone())).collect();
        let stacked = Tensor::stack::<3>(outs, 1); // [B, E, D]
        let w = activation::softmax(self.gate.forward(x), 1); // [B, E]
        (stacked * w.unsqueeze_dim::<3>(2))
            .sum_dim(1)
            .squeeze_dim::<2>(1)
    }
}

impl MultiTaskModel for Omoe {
    fn n_tasks(&self) -> usize {
        self.towers.len()
    }
    fn forward(&self, x: Tensor<2>, rows: &[Option<Range<usize>>]) -> Vec<Option<Tensor<2>>> {
        let z = self.mixture(x);
        rows.iter()
            .enumerate()
            .map(|(t, r)| {
                r.as_ref()
                    .map(|r| self.towers[t].forward(z.clone().narrow(0, r.start, r.end - r.start)))
            })
            .collect()
    }
    fn shared(&self, x: Tensor<2>) -> Option<Tensor<2>> {
        Some(self.mixture(x))
    }
    fn task_from_shared(&self, t: usize, z: Tensor<2>, _x: Tensor<2>) -> Tensor<2> {
        self.towers[t].forward(z)
    }
}

type Args = Vec<String>;

fn get(args: &Args, flag: &str) -> Option<String> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn parse<T: std::str::FromStr>(args: &Args, flag: &str, default: T) -> T {
    get(args, flag).map_or(default, |v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{flag}: cannot parse {v:?}"))
    })
}

fn parse_list(args: &Args, flag: &str, default: &[f64]) -> Vec<f64> {
    get(args, flag).map_or_else(
        || default.to_vec(),
        |v| {
            v.split(',')
                .map(|s| {
                    s.trim()
                        .parse()
                        .unwrap_or_else(|_| panic!("{flag}: cannot parse {s:?}"))
                })
                .collect()
        },
    )
}

fn main() {
    let args: Args = std::env::args().collect();
    if args.iter().any(|a| a == "--curves") {
        curves(&args);
    } else {
        converged(&args);
    }
}

/// The converged protocol: test MSE after early stopping on validation.
fn converged(args: &Args) {
    let seeds: u64 = parse(args, "--seeds", 5);
    let device = cpu_device();
    let epochs: usize = parse(args, "--epochs", 40);
    let cfg = TrainerConfig {
        epochs,
        batch_size: 128,
        lr: 2e-3,
        patience: Some(8),
        progress: false,
        ..TrainerConfig::default()
    };
    // similar parameter counts: shared bottom 100→113 (as in the paper), MMoE 8 experts 100→16
    let archs = [
        (
            "shared-bottom",
            ArchConfig::HardSharing {
                hidden: vec![113],
                tower: vec![8],
                conv: None,
            },
        ),
        (
            "mmoe",
            ArchConfig::Mmoe {
                hidden: vec![16],
                experts: 8,
                tower: vec![8],
                conv: None,
            },
        ),
    ];
    let mut rows = Vec::new();
    println!(
        "| correlation p | shared-bottom val. MSE | MMoE val. MSE | MMoE advantage (SB − MMoE) |"
    );
    println!("|---|---|---|---|");
    for &p in &[1.0, 0.9, 0.5, 0.0] {
        let mut losses = [Vec::new(), Vec::new()];
        for seed in 0..seeds {
            let data = synthetic(6000, p, 1000 + seed, Gen::paper(0.1));
            let (tr, rest) = data.split(1.0 / 3.0, seed).expect("split");
            let (va, te) = rest.split(0.5, seed).expect("split");
            for (k, (_, arch)) in archs.iter().enumerate() {
                let m = seeded(&device, seed, |d| arch.build(100, &[1, 1], d));
                let run = TrainerConfig {
                    seed,
                    ..cfg.clone()
                };
                let out =
                    train(m, &tr, Some(&va), &run, &device, &RunFiles::default()).expect("train");
                let e = evaluate(&out.model, &te, &device, 4096).expect("evaluate");
                losses[k].push(e.score());
            }
        }
        let (sb, _) = mtlkit_deep::eval::mean_std(&losses[0]);
        let (mm, _) = mtlkit_deep::eval::mean_std(&losses[1]);
        let adv: Vec<f64> = losses[0]
            .iter()
            .zip(&losses[1])
            .map(|(a, b)| a - b)
            .collect();
        let (am, asd) = mtlkit_deep::eval::mean_std(&adv);
        println!("| {p} | {sb:.4} | {mm:.4} | {am:+.4} ± {asd:.4} |");
        rows.push(serde_json::json!({"p": p, "shared_bottom": losses[0], "mmoe": losses[1]}));
    }
    if let Some(path) = get(args, "--json") {
        let _ = std::fs::write(
            path,
            serde_json::to_string_pretty(&rows).unwrap_or_default(),
        );
    }
}

/// The models of the curves protocol, in table order.
const MODELS: [&str; 3] = ["shared-bottom", "omoe", "mmoe"];
/// The input width.
const D_IN: usize = 100;

/// One training run of the curves protocol.
struct Run {
    /// Steps at the checkpoints (see [`checkpoints`]).
    steps: Vec<usize>,
    /// Training-set MSE (mean over the tasks) at the checkpoints (on `--n-eval` training rows).
    train_loss: Vec<f64>,
    /// Mean minibatch loss (mean over the tasks) since the previous checkpoint.
    minibatch_loss: Vec<f64>,
    /// Training-set MSE of each task at the end.
    final_task_losses: Vec<f64>,
    /// Test MSE (mean over the tasks) at the end.
    test_mse: f64,
}

impl Run {
    /// Area under the training-loss curve over the whole budget, divided by the budget (the
    /// run's mean training loss; trapezoids between checkpoints).
    fn auc(&self) -> f64 {
        let total = *self.steps.last().unwrap_or(&1) as f64;
        let area: f64 = self
            .steps
            .windows(2)
            .zip(self.train_loss.windows(2))
            .map(|(s, l)| 0.5 * (l[0] + l[1]) * (s[1] - s[0]) as f64)
            .sum();
        area / total.max(1.0)
    }

    /// The run in JSON (the per-run minibatch losses are left out; their mean is kept).
    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "train_loss": round6(&self.train_loss),
            "final_task_losses": round6(&self.final_task_losses),
            "test_mse": round6(&[self.test_mse])[0],
            "auc": round6(&[self.auc()])[0],
        })
    }
}

/// Values rounded to 6 significant digits (a smaller JSON file).
fn round6(v: &[f64]) -> Vec<f64> {
    v.iter()
        .map(|x| format!("{x:.5e}").parse().unwrap_or(*x))
        .collect()
}

/// The checkpoints of a run of `steps` steps: every `every` steps, and ten times more often
/// within the first `every` steps (where the curves fall fastest).
fn checkpoints(steps: usize, every: usize) -> Vec<usize> {
    let fine = (every / 10).max(1);
    let mut c: Vec<usize> = (0..=every.min(steps)).step_by(fine).collect();
    c.extend((2 * every..=steps).step_by(every.max(1)));
    if c.last() != Some(&steps) {
        c.push(steps);
    }
    c.dedup();
    c
}

/// Train `model` for `steps` steps, recording the loss on `ev` (rows of the training set) at
/// the [`checkpoints`].
///
/// The step is the trainer's ([`mtlkit_deep::train`] with its default equal weighting): the
/// batches of the dataset's epoch plans in order ([`DeepDataset::epoch_plan`], seeded by
/// `cfg.seed`), the tasks' masked losses ([`task_loss`]), one backward pass of `Σ_t L_t`, one
/// step of `cfg`'s optimizer at `cfg.lr`. The trainer itself records losses once per epoch
/// only; this loop records them at any step (`--verify` checks the two agree).
#[allow(clippy::too_many_arguments)]
fn run_one<M: MultiTaskModel>(
    mut model: M,
    tr: &DeepDataset,
    ev: &DeepDataset,
    te: &DeepDataset,
    cfg: &TrainerConfig,
    steps: usize,
    every: usize,
    device: &Device,
) -> Run {
    let at = checkpoints(steps, every);
    let loss = |m: &M| evaluate(m, ev, device, 4096).expect("evaluate");
    let mut optim = cfg.build_optimizer();
    let mut train_loss = vec![loss(&model).score()];
    let mut minibatch_loss = Vec::new();
    let (mut acc, mut acc_n) = (0.0, 0usize);
    let (mut epoch, mut i) = (0, 0);
    let mut plan = tr.epoch_plan(epoch, cfg.seed, cfg.batch_size, &cfg.sampling);
    let mut last = None;
    for step in 1..=steps {
        if i == plan.len() {
            epoch += 1;
            i = 0;
            plan = tr.epoch_plan(epoch, cfg.seed, cfg.batch_size, &cfg.sampling);
        }
        let batch = tr.batch(&plan[i]).expect("a batch of the plan");
        i += 1;
        let rows: Vec<Option<Range<usize>>> = batch
            .tasks
            .iter()
            .map(|t| t.as_ref().map(|tb| tb.rows.clone()))
            .collect();
        let outs = model.forward(tensor2(&batch.x, device), &rows);
        let mut total: Option<Tensor<1>> = None;
        let mut values = Vec::new();
        for (t, (o, tb)) in outs.into_iter().zip(&batch.tasks).enumerate() {
            if let (Some(o), Some(tb)) = (o, tb) {
                let l = task_loss(&tr.specs()[t].loss(), o, tb, device);
                values.push(f64::from(l.clone().into_scalar::<f32>()));
                total = Some(match total {
                    Some(a) => a + l,
                    None => l,
                });
            }
        }
        let total = total.expect("every batch has both tasks");
        assert!(
            values.iter().all(|v| v.is_finite()),
            "training diverged at step {step} (lr {})",
            cfg.lr
        );
        acc += values.iter().sum::<f64>() / values.len() as f64;
        acc_n += 1;
        let grads = GradientsParams::from_grads(total.backward(), &model);
        model = optim.step(cfg.lr, model, grads);
        if at.binary_search(&step).is_ok() {
            let e = loss(&model);
            train_loss.push(e.score());
            minibatch_loss.push(acc / acc_n as f64);
            (acc, acc_n) = (0.0, 0);
            last = Some(e.losses);
        }
    }
    let test_mse = evaluate(&model, te, device, 4096)
        .expect("evaluate")
        .score();
    Run {
        steps: at,
        train_loss,
        minibatch_loss,
        final_task_losses: last.unwrap_or_default(),
        test_mse,
    }
}

/// The same curve through [`mtlkit_deep::train`] (validation set = the training set, no early
/// stopping; losses at the end of every epoch only).
fn run_trainer<M: MultiTaskModel>(
    model: M,
    tr: &DeepDataset,
    cfg: &TrainerConfig,
    device: &Device,
) -> Vec<f64> {
    let start = evaluate(&model, tr, device, 4096)
        .expect("evaluate")
        .score();
    let out = train(model, tr, Some(tr), cfg, device, &RunFiles::default()).expect("train");
    std::iter::once(start)
        .chain(
            out.history
                .iter()
                .map(|h| h.validation.as_ref().map_or(f64::NAN, |e| e.score())),
        )
        .collect()
}

/// Build model `k` of [`MODELS`] from `seed` as `$m` and evaluate `$body` with it. Sizes as in
/// the paper (section 4.4): shared bottom 100→113, 8 experts 100→16, towers 8.
macro_rules! with_model {
    ($k:expr, $seed:expr, $device:expr, $m:ident => $body:expr) => {{
        let out = [1, 1];
        match $k {
            0 => {
                let arch = ArchConfig::HardSharing {
                    hidden: vec![113],
                    tower: vec![8],
                    conv: None,
                };
                let $m = seeded($device, $seed, |d| arch.build(D_IN, &out, d));
                $body
            }
            1 => {
                let $m = seeded($device, $seed, |d| {
                    let experts = (0..8).map(|_| Mlp::new(&[D_IN, 16], d)).collect();
                    Omoe::new(D_IN, experts, &[8], &out, d)
                });
                $body
            }
            _ => {
                let arch = ArchConfig::Mmoe {
                    hidden: vec![16],
                    experts: 8,
                    tower: vec![8],
                    conv: None,
                };
                let $m = seeded($device, $seed, |d| arch.build(D_IN, &out, d));
                $body
            }
        }
    }};
}

/// Mean and standard error of the mean.
fn mean_se(v: &[f64]) -> (f64, f64) {
    let (m, sd) = mtlkit_deep::eval::mean_std(v);
    (m, sd / (v.len() as f64).sqrt())
}

fn fmt_ms((m, se): (f64, f64)) -> String {
    format!("{m:.4} ± {se:.4}")
}

fn fmt_gap((m, se): (f64, f64)) -> String {
    format!("{m:+.4} ± {se:.4}")
}

/// Settings of the curves protocol.
struct CurvesCfg {
    ps: Vec<f64>,
    runs: u64,
    steps: usize,
    every: usize,
    n_train: usize,
    n_eval: usize,
    n_test: usize,
    batch: usize,
    generator: Gen,
}

/// A run's data: training rows, the training rows the loss is recorded on, test rows.
struct Data {
    tr: DeepDataset,
    ev: DeepDataset,
    te: DeepDataset,
}

impl CurvesCfg {
    fn trainer(&self, lr: f64, seed: u64) -> TrainerConfig {
        TrainerConfig {
            epochs: self.steps.div_ceil(self.n_train.div_ceil(self.batch)),
            batch_size: self.batch,
            lr,
            patience: None,
            seed,
            progress: false,
            ..TrainerConfig::default()
        }
    }

    /// Run `seed`'s data at correlation `p` (the same `x`, `u_1`, `u_2`, `α`, `β` and noise
    /// draws for every `p`), split into training and test rows; the loss is recorded on the
    /// first `n_eval` training rows (all of them when `n_eval ≥ n_train`).
    fn data(&self, p: f64, seed: u64) -> Data {
        let n = self.n_train + self.n_test;
        let data = synthetic(n, p, seed, self.generator);
        let (tr, te) = data
            .split(self.n_test as f64 / n as f64, seed)
            .expect("split");
        let ev = if self.n_eval >= tr.n_rows(0) {
            tr.clone()
        } else {
            tr.select(&[(0..self.n_eval).collect()]).expect("rows")
        };
        Data { tr, ev, te }
    }

    /// Model `k` of [`MODELS`], initialised from `seed`, trained at `lr` on `data`.
    fn run(&self, k: usize, seed: u64, lr: f64, data: &Data, device: &Device) -> Run {
        let cfg = self.trainer(lr, seed);
        let Data { tr, ev, te } = data;
        with_model!(k, seed, device, m => run_one(m, tr, ev, te, &cfg, self.steps, self.every, device))
    }

    /// Check that [`run_one`] reproduces [`mtlkit_deep::train`]'s curve at every epoch end.
    fn verify(&self, device: &Device) {
        let data = self.data(0.5, 7);
        let per_epoch = self.n_train.div_ceil(self.batch);
        for (k, name) in MODELS.iter().enumerate() {
            let cfg = TrainerConfig {
                epochs: 3,
                ..self.trainer(1e-3, 7)
            };
            let via_trainer =
                with_model!(k, 7, device, m => run_trainer(m, &data.tr, &cfg, device));
            let run = with_model!(k, 7, device, m => run_one(
                m, &data.tr, &data.tr, &data.te, &cfg, 3 * per_epoch, per_epoch, device
            ));
            let via_loop: Vec<f64> = run
                .steps
                .iter()
                .zip(&run.train_loss)
                .filter(|(s, _)| *s % per_epoch == 0)
                .map(|(_, l)| *l)
                .collect();
            let diff = via_trainer
                .iter()
                .zip(&via_loop)
                .map(|(a, b)| (a - b).abs() / a.abs().max(1e-12))
                .fold(0.0, f64::max);
            println!(
                "verify {name}: trainer {via_trainer:.6?}\n       {:w$}  loop    {via_loop:.6?} (max relative difference {diff:.1e})",
                "",
                w = name.len()
            );
            assert!(
                via_trainer.len() == via_loop.len() && diff < 1e-5,
                "the loop does not reproduce the trainer"
            );
        }
    }
}

/// The paper's Figure 4 protocol: training-loss curves at a fixed step budget, averaged over
/// independent runs.
#[allow(clippy::too_many_lines)]
fn curves(args: &Args) {
    let cc = CurvesCfg {
        ps: parse_list(args, "--ps", &[1.0, 0.9, 0.5]),
        runs: parse(args, "--runs", 40),
        steps: parse(args, "--steps", 3000),
        every: parse(args, "--every", 100),
        n_train: parse(args, "--n-train", 100_000),
        n_eval: parse(args, "--n-eval", 5_000),
        n_test: parse(args, "--n-test", 5_000),
        batch: parse(args, "--batch", 100),
        generator: match get(args, "--ab").as_deref() {
            None | Some("normal") => Gen {
                alpha_sd: Some(parse(args, "--alpha-sd", 0.1)),
                noise_sd: parse(args, "--noise-sd", 0.1),
            },
            Some("google") => Gen {
                alpha_sd: None,
                noise_sd: parse(args, "--noise-sd", 0.01),
            },
            Some(other) => panic!("--ab {other}: expected normal or google"),
        },
    };
    let lrs = parse_list(args, "--lrs", &[1e-4, 1e-3, 1e-2]);
    let pilot_runs: u64 = parse(args, "--pilot-runs", 3);
    let device = cpu_device();
    let t0 = std::time::Instant::now();
    if args.iter().any(|a| a == "--verify") {
        cc.verify(&device);
        return;
    }
    if let Some(input) = get(args, "--replot") {
        replot(&input, &get(args, "--svg").expect("--replot needs --svg"));
        return;
    }

    // learning rate per model: the pilot's lowest mean area under the curve over every p
    let mut chosen = [lrs[0]; 3];
    let mut pilot = Vec::new();
    if lrs.len() > 1 {
        println!(
            "Learning-rate pilot ({pilot_runs} runs per p, data seeds 500000+): mean training loss over the run (AUC / steps), mean ± SE\n"
        );
        println!(
            "| model | {} |",
            lrs.iter()
                .map(|l| format!("lr {l}"))
                .collect::<Vec<_>>()
                .join(" | ")
        );
        println!("|---|{}", "---|".repeat(lrs.len()));
        let mut aucs = vec![vec![Vec::new(); lrs.len()]; MODELS.len()];
        for &p in &cc.ps {
            for r in 0..pilot_runs {
                let seed = 500_000 + r;
                let data = cc.data(p, seed);
                for (k, per_lr) in aucs.iter_mut().enumerate() {
                    for (j, &lr) in lrs.iter().enumerate() {
                        per_lr[j].push(cc.run(k, seed, lr, &data, &device).auc());
                    }
                }
            }
        }
        for (k, name) in MODELS.iter().enumerate() {
            let row: Vec<(f64, f64)> = aucs[k].iter().map(|v| mean_se(v)).collect();
            let best = row
                .iter()
                .enumerate()
                .min_by(|a, b| a.1.0.total_cmp(&b.1.0))
                .map_or(0, |(i, _)| i);
            chosen[k] = lrs[best];
            println!(
                "| {name} | {} |",
                row.iter()
                    .enumerate()
                    .map(|(i, &v)| if i == best {
                        format!("**{}**", fmt_ms(v))
                    } else {
                        fmt_ms(v)
                    })
                    .collect::<Vec<_>>()
                    .join(" | ")
            );
            pilot.push(serde_json::json!({
                "model": name,
                "lrs": lrs,
                "auc_mean_se": row,
                "chosen": lrs[best],
            }));
        }
        eprintln!("pilot done in {:.0} s", t0.elapsed().as_secs_f64());
        println!();
    }

    // main runs
    let mut results = Vec::new();
    // runs[p][model][run]
    let mut all: Vec<Vec<Vec<Run>>> = Vec::new();
    for &p in &cc.ps {
        let mut per_model: Vec<Vec<Run>> = (0..MODELS.len()).map(|_| Vec::new()).collect();
        for r in 0..cc.runs {
            let data = cc.data(p, 1000 + r);
            for (k, runs) in per_model.iter_mut().enumerate() {
                runs.push(cc.run(k, r, chosen[k], &data, &device));
            }
        }
        eprintln!("p = {p} done at {:.0} s", t0.elapsed().as_secs_f64());
        all.push(per_model);
    }
    let steps = all[0][0][0].steps.clone();
    let last = steps.len() - 1;
    // budgets: the checkpoints nearest a tenth, a third and all of the steps
    let nearest = |target: usize| {
        (0..steps.len())
            .min_by_key(|&i| steps[i].abs_diff(target))
            .unwrap_or(last)
    };
    let mut budgets: Vec<usize> = vec![
        nearest(cc.steps / 30),
        nearest(cc.steps / 10),
        nearest(cc.steps / 3),
        last,
    ];
    budgets.dedup();

    println!(
        "Training loss (training-set MSE, mean of the two tasks), mean ± SE over {} runs; \
         AUC = mean training loss over the {} steps; lr: {}\n",
        cc.runs,
        steps[last],
        MODELS
            .iter()
            .zip(chosen)
            .map(|(m, l)| format!("{m} {l}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    curve_table_header("model", &budgets, &steps);
    for (pi, &p) in cc.ps.iter().enumerate() {
        for (k, name) in MODELS.iter().enumerate() {
            let runs = &all[pi][k];
            let cells: Vec<String> = budgets
                .iter()
                .map(|&b| {
                    fmt_ms(mean_se(
                        &runs.iter().map(|r| r.train_loss[b]).collect::<Vec<_>>(),
                    ))
                })
                .collect();
            let auc = mean_se(&runs.iter().map(Run::auc).collect::<Vec<_>>());
            let test = mean_se(&runs.iter().map(|r| r.test_mse).collect::<Vec<_>>());
            println!(
                "| {p} | {name} | {} | {} | {} |",
                cells.join(" | "),
                fmt_ms(auc),
                fmt_ms(test)
            );
        }
    }

    println!(
        "\nPaired gaps (same data and run index; negative = first model lower), mean ± SE over runs:\n"
    );
    curve_table_header("gap", &budgets, &steps);
    let pairs = [
        (2, 0, "MMoE − SB"),
        (1, 0, "OMoE − SB"),
        (2, 1, "MMoE − OMoE"),
    ];
    for (pi, &p) in cc.ps.iter().enumerate() {
        let mut gaps_json = Vec::new();
        for &(a, b, label) in &pairs {
            let diff = |f: &dyn Fn(&Run) -> f64| -> (f64, f64) {
                let d: Vec<f64> = all[pi][a]
                    .iter()
                    .zip(&all[pi][b])
                    .map(|(x, y)| f(x) - f(y))
                    .collect();
                mean_se(&d)
            };
            let cells: Vec<(f64, f64)> = budgets
                .iter()
                .map(|&s| diff(&|r: &Run| r.train_loss[s]))
                .collect();
            let auc = diff(&Run::auc);
            let test = diff(&|r: &Run| r.test_mse);
            // the whole curve of the gap
            let curve: Vec<(f64, f64)> = (0..=last)
                .map(|s| diff(&|r: &Run| r.train_loss[s]))
                .collect();
            println!(
                "| {p} | {label} | {} | {} | {} |",
                cells
                    .iter()
                    .map(|&c| fmt_gap(c))
                    .collect::<Vec<_>>()
                    .join(" | "),
                fmt_gap(auc),
                fmt_gap(test)
            );
            gaps_json.push(serde_json::json!({
                "gap": label,
                "budgets": budgets.iter().zip(&cells).map(|(&s, c)| serde_json::json!({"step": steps[s], "mean": c.0, "se": c.1})).collect::<Vec<_>>(),
                "auc": {"mean": auc.0, "se": auc.1},
                "test_mse": {"mean": test.0, "se": test.1},
                "curve_mean": curve.iter().map(|c| c.0).collect::<Vec<_>>(),
                "curve_se": curve.iter().map(|c| c.1).collect::<Vec<_>>(),
            }));
        }
        let models: serde_json::Map<String, serde_json::Value> = MODELS
            .iter()
            .enumerate()
            .map(|(k, name)| {
                let runs = &all[pi][k];
                let curve: Vec<(f64, f64)> = (0..=last)
                    .map(|s| mean_se(&runs.iter().map(|r| r.train_loss[s]).collect::<Vec<_>>()))
                    .collect();
                let minibatch: Vec<f64> = (0..last)
                    .map(|s| {
                        runs.iter().map(|r| r.minibatch_loss[s]).sum::<f64>() / runs.len() as f64
                    })
                    .collect();
                let auc = mean_se(&runs.iter().map(Run::auc).collect::<Vec<_>>());
                let test = mean_se(&runs.iter().map(|r| r.test_mse).collect::<Vec<_>>());
                (
                    (*name).to_string(),
                    serde_json::json!({
                        "lr": chosen[k],
                        "train_loss_mean": curve.iter().map(|c| c.0).collect::<Vec<_>>(),
                        "train_loss_se": curve.iter().map(|c| c.1).collect::<Vec<_>>(),
                        "minibatch_loss_mean": minibatch,
                        "auc": {"mean": auc.0, "se": auc.1},
                        "test_mse": {"mean": test.0, "se": test.1},
                        "runs": runs.iter().map(Run::json).collect::<Vec<_>>(),
                    }),
                )
            })
            .collect();
        results.push(serde_json::json!({"p": p, "models": models, "gaps": gaps_json}));
    }
    eprintln!("total {:.0} s", t0.elapsed().as_secs_f64());

    if let Some(path) = get(args, "--json") {
        let doc = serde_json::json!({
            "protocol": "MMoE paper Figure 4: training loss over steps, mean over independent runs",
            "config": {
                "ps": cc.ps, "runs": cc.runs, "steps": cc.steps, "every": cc.every,
                "n_train": cc.n_train, "n_eval": cc.n_eval, "n_test": cc.n_test,
                "batch": cc.batch, "d": D_IN,
                "alpha_beta": cc.generator.alpha_sd.map_or_else(
                    || "google: alpha_i = i, beta_i = (i-1)^2".to_string(),
                    |sd| format!("normal: alpha_i, beta_i ~ N(0, {sd}^2)"),
                ),
                "alpha_sd": cc.generator.alpha_sd, "noise_sd": cc.generator.noise_sd,
                "optimizer": "adam", "lrs_grid": lrs, "pilot_runs": pilot_runs,
                "data_seeds": "1000 + run (same draws for every p); init and batch-order seed = run",
                "seconds": t0.elapsed().as_secs_f64(),
            },
            "steps": steps,
            "pilot": pilot,
            "results": results,
        });
        std::fs::write(
            &path,
            serde_json::to_string_pretty(&doc).unwrap_or_default(),
        )
        .unwrap_or_else(|e| panic!("writing {path}: {e}"));
    }
    if let Some(path) = get(args, "--svg") {
        let svg = plot(&cc.ps, &steps, &all, cc.every);
        std::fs::write(&path, svg).unwrap_or_else(|e| panic!("writing {path}: {e}"));
    }
}

/// Redraw the figure of a `--json` file of the curves protocol.
fn replot(input: &str, output: &str) {
    let text = std::fs::read_to_string(input).unwrap_or_else(|e| panic!("reading {input}: {e}"));
    let doc: serde_json::Value = serde_json::from_str(&text).expect("a JSON file");
    let nums = |v: &serde_json::Value| -> Vec<f64> {
        v.as_array()
            .map(|a| a.iter().filter_map(serde_json::Value::as_f64).collect())
            .unwrap_or_default()
    };
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let steps: Vec<usize> = nums(&doc["steps"]).iter().map(|&s| s as usize).collect();
    let mut ps = Vec::new();
    let mut all = Vec::new();
    for r in doc["results"].as_array().expect("results") {
        ps.push(r["p"].as_f64().expect("p"));
        all.push(
            MODELS
                .iter()
                .map(|m| {
                    r["models"][m]["runs"]
                        .as_array()
                        .expect("runs")
                        .iter()
                        .map(|run| Run {
                            steps: steps.clone(),
                            train_loss: nums(&run["train_loss"]),
                            minibatch_loss: Vec::new(),
                            final_task_losses: nums(&run["final_task_losses"]),
                            test_mse: run["test_mse"].as_f64().unwrap_or(f64::NAN),
                        })
                        .collect()
                })
                .collect(),
        );
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let every = doc["config"]["every"].as_f64().unwrap_or(100.0) as usize;
    std::fs::write(output, plot(&ps, &steps, &all, every))
        .unwrap_or_else(|e| panic!("writing {output}: {e}"));
}

/// A mean ± SE per checkpoint.
type Series = Vec<(f64, f64)>;

/// Tick values `m·10^k` (`m` ∈ {1, 2, 5}) within `[lo, hi]`.
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let mut t = Vec::new();
    let mut e = lo.log10().floor();
    while e <= hi.log10().ceil() {
        for m in [1.0, 2.0, 5.0] {
            let v = m * 10f64.powf(e);
            if v >= lo * (1.0 - 1e-9) && v <= hi * (1.0 + 1e-9) {
                t.push(v);
            }
        }
        e += 1.0;
    }
    t
}

/// An SVG figure, one column per `p`. Top row: mean training loss ± 1 SE against steps
/// (log–log, from the first checkpoint after 0). Bottom row: the paired gaps MMoE − shared
/// bottom and OMoE − shared bottom ± 1 SE from step `from` on (log steps, linear gap).
#[allow(clippy::too_many_lines)]
fn plot(ps: &[f64], steps: &[usize], all: &[Vec<Vec<Run>>], from: usize) -> String {
    use std::fmt::Write;
    const COLORS: [&str; 3] = ["#d62728", "#2ca02c", "#1f77b4"];
    let (pw, ph, ml, mr, mt, gap_v) = (330.0, 230.0, 62.0, 14.0, 30.0, 60.0);
    let col = pw + ml + mr;
    let width = ps.len() as f64 * col;
    let height = mt + 2.0 * ph + gap_v + 70.0;
    let series = |runs: &[Run], other: Option<&[Run]>| -> Vec<(f64, f64)> {
        (0..steps.len())
            .map(|s| {
                let v: Vec<f64> = match other {
                    None => runs.iter().map(|r| r.train_loss[s]).collect(),
                    Some(o) => runs
                        .iter()
                        .zip(o)
                        .map(|(a, b)| a.train_loss[s] - b.train_loss[s])
                        .collect(),
                };
                mean_se(&v)
            })
            .collect()
    };
    let curves: Vec<Vec<Vec<(f64, f64)>>> = all
        .iter()
        .map(|per| per.iter().map(|runs| series(runs, None)).collect())
        .collect();
    // gaps: MMoE − SB, OMoE − SB (colours of MMoE and OMoE)
    let gaps: Vec<Vec<(usize, Series)>> = all
        .iter()
        .map(|per| {
            vec![
                (2, series(&per[2], Some(&per[0]))),
                (1, series(&per[1], Some(&per[0]))),
            ]
        })
        .collect();
    let first = steps.iter().position(|&s| s > 0).unwrap_or(0);
    let g0 = steps.iter().position(|&s| s >= from).unwrap_or(first);
    let (xlo, xhi) = (steps[first] as f64, *steps.last().unwrap_or(&1) as f64);
    let (lo, hi) = curves
        .iter()
        .flatten()
        .flat_map(|c| c[first..].iter())
        .flat_map(|&(m, se)| [m - se, m + se])
        .filter(|v| *v > 0.0)
        .fold((f64::INFINITY, 0.0_f64), |(a, b), v| (a.min(v), b.max(v)));
    let (ylo, yhi) = (lo.log10() - 0.03, hi.log10() + 0.03);
    let gmax = gaps
        .iter()
        .flatten()
        .flat_map(|(_, g)| g[g0..].iter())
        .map(|&(m, se)| m.abs() + se)
        .fold(0.0_f64, f64::max);
    // gap axis: ticks every `gstep` (1, 2 or 5 × 10^k), symmetric about 0
    let gstep = {
        let raw = (gmax / 4.0).max(1e-12);
        let e = 10f64.powf(raw.log10().floor());
        [1.0, 2.0, 5.0, 10.0]
            .iter()
            .map(|m| m * e)
            .find(|&v| v >= raw)
            .unwrap_or(10.0 * e)
    };
    #[allow(clippy::cast_possible_truncation)]
    let gticks = (gmax / gstep).ceil().max(1.0) as i32;
    let gmax = gstep * f64::from(gticks);
    let xg = steps[g0] as f64;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11"><rect width="100%" height="100%" fill="white"/>"#
    );
    for (pi, &p) in ps.iter().enumerate() {
        let x0 = pi as f64 * col + ml;
        let px =
            |st: f64, lo: f64| x0 + pw * (st.log10() - lo.log10()) / (xhi.log10() - lo.log10());
        let y1 = mt;
        let y2 = mt + ph + gap_v;
        let py = |v: f64| y1 + ph * (yhi - v.max(1e-12).log10()) / (yhi - ylo);
        let pg = |v: f64| y2 + ph * (gmax - v) / (2.0 * gmax);
        for (y, title) in [
            (y1, format!("p = {p}: training loss")),
            (y2, format!("p = {p}: gap to shared bottom")),
        ] {
            let _ = write!(
                s,
                r##"<rect x="{x0}" y="{y}" width="{pw}" height="{ph}" fill="none" stroke="#444"/><text x="{}" y="{}" text-anchor="middle" font-size="13">{title}</text>"##,
                x0 + pw / 2.0,
                y - 8.0
            );
        }
        for v in log_ticks(10f64.powf(ylo), 10f64.powf(yhi)) {
            let y = py(v);
            let _ = write!(
                s,
                r##"<line x1="{x0}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{v}</text>"##,
                x0 + pw,
                x0 - 4.0,
                y + 4.0
            );
        }
        for k in -gticks..=gticks {
            let v = gstep * f64::from(k);
            let y = pg(v);
            let stroke = if k == 0 { "#888" } else { "#eee" };
            let _ = write!(
                s,
                r##"<line x1="{x0}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="{stroke}"/><text x="{}" y="{:.1}" text-anchor="end">{v:+.4}</text>"##,
                x0 + pw,
                x0 - 4.0,
                y + 4.0
            );
        }
        for (y, bottom, lo) in [(y1, y1 + ph, xlo), (y2, y2 + ph, xg)] {
            for v in log_ticks(lo, xhi) {
                let x = px(v, lo);
                let _ = write!(
                    s,
                    r##"<line x1="{x:.1}" x2="{x:.1}" y1="{y}" y2="{bottom}" stroke="#eee"/><text x="{x:.1}" y="{}" text-anchor="middle">{v}</text>"##,
                    bottom + 13.0
                );
            }
            let _ = write!(
                s,
                r##"<text x="{}" y="{}" text-anchor="middle">training step</text>"##,
                x0 + pw / 2.0,
                bottom + 27.0
            );
        }
        let mut draw = |v: &[(f64, f64)], from: usize, color: &str, f: &dyn Fn(f64) -> f64| {
            let lo = steps[from] as f64;
            let fwd: Vec<String> = (from..steps.len())
                .map(|i| format!("{:.1},{:.1}", px(steps[i] as f64, lo), f(v[i].0 + v[i].1)))
                .collect();
            let back: Vec<String> = (from..steps.len())
                .rev()
                .map(|i| format!("{:.1},{:.1}", px(steps[i] as f64, lo), f(v[i].0 - v[i].1)))
                .collect();
            let line: Vec<String> = (from..steps.len())
                .map(|i| format!("{:.1},{:.1}", px(steps[i] as f64, lo), f(v[i].0)))
                .collect();
            let _ = write!(
                s,
                r#"<polygon points="{} {}" fill="{color}" fill-opacity="0.2" stroke="none"/><polyline points="{}" fill="none" stroke="{color}" stroke-width="1.5"/>"#,
                fwd.join(" "),
                back.join(" "),
                line.join(" ")
            );
        };
        for (k, c) in curves[pi].iter().enumerate() {
            draw(c, first, COLORS[k], &py);
        }
        for (k, g) in &gaps[pi] {
            draw(g, g0, COLORS[*k], &pg);
        }
    }
    // legend
    let labels = [
        "shared-bottom",
        "OMoE (gap: OMoE − shared bottom)",
        "MMoE (gap: MMoE − shared bottom)",
    ];
    for (k, name) in labels.iter().enumerate() {
        let x = ml + k as f64 * 260.0;
        let y = height - 12.0;
        let _ = write!(
            s,
            r#"<line x1="{x}" x2="{}" y1="{}" y2="{}" stroke="{}" stroke-width="3"/><text x="{}" y="{y}">{name}</text>"#,
            x + 20.0,
            y - 4.0,
            y - 4.0,
            COLORS[k],
            x + 25.0
        );
    }
    s.push_str("</svg>\n");
    s
}

/// The header of a curve table: `p`, the row label, one column per step budget, AUC, test MSE.
fn curve_table_header(label: &str, budgets: &[usize], steps: &[usize]) {
    println!(
        "| p | {label} | {} | AUC | test MSE |",
        budgets
            .iter()
            .map(|&b| format!("step {}", steps[b]))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    println!("|---|---|{}---|---|", "---|".repeat(budgets.len()));
}

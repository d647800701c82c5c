//! Architectures: gradients against finite differences, label masks, representation splits;
//! the trainer: learning, early stopping on validation, resume after a kill.
#![allow(clippy::unwrap_used)]

use std::ops::Range;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};
use mtlkit_deep::loss::{task_loss, tensor2};
use mtlkit_deep::{
    BatchIndex, Cgc, ConvConfig, ConvNet, CrossStitch, DSelectK, DeepDataset, HardSharing, Mlp,
    Mmoe, MultiTaskModel, Ple, RunFiles, Targets, TaskKind, TaskSpec, TrainerConfig, cpu_device,
    seeded, train,
};
use ndarray::{Array1, Array2};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const D_IN: usize = 4;

fn specs() -> Vec<TaskSpec> {
    vec![
        TaskSpec::new("reg", TaskKind::Regression),
        TaskSpec::new("bin", TaskKind::Binary),
        TaskSpec::new("cls", TaskKind::Multiclass { classes: 3 }),
    ]
}

fn out_dims() -> Vec<usize> {
    specs().iter().map(|s| s.kind.output_dim()).collect()
}

/// A small shared-input dataset: regression target with missing labels, a binary and a
/// 3-class label depending on the inputs.
fn dataset(n: usize, seed: u64) -> DeepDataset {
    dataset_of_width(n, seed, D_IN)
}

/// [`dataset`] with `d_in ≥ 4` input columns (the labels read the first four).
fn dataset_of_width(n: usize, seed: u64, d_in: usize) -> DeepDataset {
    let mut rng = StdRng::seed_from_u64(seed);
    let x = Array2::from_shape_fn((n, d_in), |_| rng.random::<f32>() * 2.0 - 1.0);
    let s = specs();
    let reg = Array1::from_shape_fn(n, |i| {
        if i % 5 == 2 {
            f64::NAN
        } else {
            f64::from(x[[i, 0]] - 2.0 * x[[i, 1]] + 0.5 * x[[i, 2]] * x[[i, 3]])
        }
    });
    let bin = Array1::from_shape_fn(n, |i| f64::from(u8::from(x[[i, 0]] + x[[i, 2]] > 0.0)));
    let cls = Array1::from_shape_fn(n, |i| {
        let v = x[[i, 1]] + x[[i, 3]];
        if v < -0.4 {
            0.0
        } else if v < 0.4 {
            1.0
        } else {
            2.0
        }
    });
    let t = vec![
        Targets::from_column(&s[0], reg.view()).unwrap(),
        Targets::from_column(&s[1], bin.view()).unwrap(),
        Targets::from_column(&s[2], cls.view()).unwrap(),
    ];
    DeepDataset::shared(x, t, s).unwrap()
}

fn expert(d_in: usize, d: &Device) -> Mlp {
    Mlp::new(&[d_in, 6, 5], d)
}

/// Total loss of a batch (sum over present tasks).
fn batch_loss<M: MultiTaskModel>(
    m: &M,
    data: &DeepDataset,
    rows: &[usize],
    device: &Device,
) -> Tensor<1> {
    let batch = data
        .batch(&BatchIndex::Shared(rows.to_vec()))
        .expect("batch");
    let x = tensor2(&batch.x, device);
    let rr: Vec<Option<Range<usize>>> = batch
        .tasks
        .iter()
        .map(|t| t.as_ref().map(|tb| tb.rows.clone()))
        .collect();
    let outs = m.forward(x, &rr);
    outs.into_iter()
        .zip(&batch.tasks)
        .enumerate()
        .filter_map(|(t, (o, tb))| match (o, tb) {
            (Some(o), Some(tb)) => Some(task_loss(&data.specs()[t].loss(), o, tb, device)),
            _ => None,
        })
        .reduce(|a, b| a + b)
        .unwrap()
}

struct Shapes(Vec<Vec<usize>>);
impl ModuleVisitor for Shapes {
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
        self.0.push(p.val().dims().to_vec());
    }
}

struct GradsOf<'a>(&'a GradientsParams, Vec<Vec<f32>>);
impl ModuleVisitor for GradsOf<'_> {
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
        let n: usize = p.val().dims().iter().product();
        self.1.push(match self.0.get::<D>(p.id) {
            Some(g) => g.into_data().convert::<f32>().try_to_vec::<f32>().unwrap(),
            None => vec![0.0; n],
        });
    }
}

struct Shift<'a> {
    dirs: &'a [Vec<f32>],
    k: usize,
    h: f32,
}
impl ModuleMapper for Shift<'_> {
    fn map_float<const D: usize>(&mut self, p: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let v: Vec<f32> = self.dirs[self.k].iter().map(|x| x * self.h).collect();
        self.k += 1;
        p.map(|t| {
            let dims = t.dims();
            let dev = t.device();
            t + Tensor::<D>::from_data(TensorData::new(v, dims), &dev)
        })
    }
}

fn shifted<M: Module>(m: &M, dirs: &[Vec<f32>], h: f32) -> M {
    m.clone().map(&mut Shift { dirs, k: 0, h })
}

/// Directional derivatives of the batch loss along random directions: autodiff vs central
/// differences.
fn check_gradients<M: MultiTaskModel>(name: &str, m: M, device: &Device) {
    check_gradients_of_width(name, m, device, D_IN, 1e-3);
}

/// [`check_gradients`] on `d_in` inputs with step `h` (convolutions and max-pools have more
/// kinks within reach of a step: their differences need a smaller one; they approach autodiff
/// as `h` shrinks — 0.128, 0.120, 0.0997, 0.0811 for h = 1e-1 … 1e-4 against 0.0777 on one
/// direction)
fn check_gradients_of_width<M: MultiTaskModel>(
    name: &str,
    m: M,
    device: &Device,
    d_in: usize,
    h: f32,
) {
    let data = dataset_of_width(24, 3, d_in);
    let rows: Vec<usize> = (0..24).collect();
    let loss = batch_loss(&m, &data, &rows, device);
    let grads = GradientsParams::from_grads(loss.backward(), &m);
    let mut g = GradsOf(&grads, Vec::new());
    m.visit(&mut g);
    let mut shapes = Shapes(Vec::new());
    m.visit(&mut shapes);
    let mut rng = StdRng::seed_from_u64(11);
    for trial in 0..4 {
        let dirs: Vec<Vec<f32>> = shapes
            .0
            .iter()
            .map(|s| {
                (0..s.iter().product::<usize>())
                    .map(|_| rng.random::<f32>() * 2.0 - 1.0)
                    .collect()
            })
            .collect();
        let ad: f64 =
            g.1.iter()
                .zip(&dirs)
                .flat_map(|(a, b)| a.iter().zip(b))
                .map(|(a, b)| f64::from(a * b))
                .sum();
        let fd_at = |h: f32| {
            let lp = f64::from(
                batch_loss(&shifted(&m, &dirs, h), &data, &rows, device).into_scalar::<f32>(),
            );
            let lm = f64::from(
                batch_loss(&shifted(&m, &dirs, -h), &data, &rows, device).into_scalar::<f32>(),
            );
            (lp - lm) / (2.0 * f64::from(h))
        };
        let fd = fd_at(h);
        assert!(
            (fd - ad).abs() <= 2e-2 * ad.abs().max(1.0),
            "{name}, direction {trial}: autodiff {ad:.6} vs finite differences {fd:.6}"
        );
    }
}

#[test]
fn gradients_of_every_architecture_match_finite_differences() {
    let d = cpu_device();
    let od = out_dims();
    // convolutional trunk and experts: 2 × 9 × 9 images, two 2 × 2 convolutions, each followed
    // by a 2 × 2 max-pool (maps 9 → 4 → 1)
    let conv = ConvConfig {
        image: [2, 9, 9],
        channels: vec![3, 4],
        kernel: 2,
    };
    check_gradients_of_width(
        "hard sharing over a convolutional trunk",
        seeded(&d, 1, |d| {
            HardSharing::new(ConvNet::new(&conv, &[5], d).unwrap(), &[4], &od, d)
        }),
        &d,
        conv.input_width(),
        1e-4,
    );
    check_gradients_of_width(
        "mmoe over convolutional experts",
        seeded(&d, 1, |d| {
            Mmoe::new(
                conv.input_width(),
                (0..2)
                    .map(|_| ConvNet::new(&conv, &[5], d).unwrap())
                    .collect(),
                &[],
                &od,
                d,
            )
        }),
        &d,
        conv.input_width(),
        1e-4,
    );
    check_gradients(
        "hard sharing",
        seeded(&d, 1, |d| HardSharing::new(expert(D_IN, d), &[4], &od, d)),
        &d,
    );
    check_gradients(
        "mmoe",
        seeded(&d, 1, |d| {
            Mmoe::new(D_IN, (0..3).map(|_| expert(D_IN, d)).collect(), &[], &od, d)
        }),
        &d,
    );
    check_gradients(
        "cgc",
        seeded(&d, 1, |d| {
            Cgc::new(
                D_IN,
                (0..2).map(|_| expert(D_IN, d)).collect(),
                (0..3).map(|_| expert(D_IN, d)).collect(),
                &[],
                &od,
                d,
            )
        }),
        &d,
    );
    check_gradients(
        "ple",
        seeded(&d, 1, |d| {
            Ple::new(D_IN, 2, 2, 1, |_, i| Mlp::new(&[i, 5], d), &[], &od, d)
        }),
        &d,
    );
    check_gradients(
        "cross-stitch",
        seeded(&d, 1, |d| {
            CrossStitch::new(
                vec![
                    (0..3).map(|_| Mlp::new(&[D_IN, 5], d)).collect(),
                    (0..3).map(|_| Mlp::new(&[5, 5], d)).collect(),
                ],
                &[],
                &od,
                d,
            )
        }),
        &d,
    );
    // 3 experts (not a power of two: renormalised gate), γ large enough to stay smooth
    check_gradients(
        "dselect-k",
        seeded(&d, 1, |d| {
            DSelectK::new(
                D_IN,
                (0..3).map(|_| expert(D_IN, d)).collect(),
                2,
                4.0,
                &[],
                &od,
                d,
            )
        }),
        &d,
    );
}

#[test]
fn masked_targets_do_not_touch_the_gradients() {
    let d = cpu_device();
    let m = seeded(&d, 2, |d| {
        Mmoe::new(
            D_IN,
            (0..2).map(|_| expert(D_IN, d)).collect(),
            &[],
            &out_dims(),
            d,
        )
    });
    let data = dataset(20, 4);
    let rows: Vec<usize> = (0..20).collect();
    let grads_of = |data: &DeepDataset| {
        let loss = batch_loss(&m, data, &rows, &d);
        let g = GradientsParams::from_grads(loss.backward(), &m);
        let mut v = GradsOf(&g, Vec::new());
        m.visit(&mut v);
        v.1
    };
    let base = grads_of(&data);
    // garbage in the masked targets: bitwise the same gradients
    let (x, t0) = data.task(0);
    let mut y = t0.y.clone();
    for i in 0..y.nrows() {
        if t0.mask[[i, 0]] == 0.0 {
            y[[i, 0]] = 1e6;
        }
    }
    let poisoned = Targets {
        y,
        mask: t0.mask.clone(),
    };
    let mut targets = vec![poisoned];
    targets.extend((1..3).map(|t| data.task(t).1.clone()));
    let data2 = DeepDataset::shared(x.to_owned(), targets, specs()).unwrap();
    assert_eq!(
        grads_of(&data2),
        base,
        "masked targets changed the gradients"
    );
    // a task with every label of the batch masked is left out: its tower gets no gradient
    let only_missing: Vec<usize> = (0..20).filter(|i| i % 5 == 2).collect();
    let batch = data
        .batch(&BatchIndex::Shared(only_missing.clone()))
        .expect("batch");
    assert!(batch.tasks[0].is_none());
    let loss = batch_loss(&m, &data, &only_missing, &d);
    let g = GradientsParams::from_grads(loss.backward(), &m);
    let mut tower0 = GradsOf(&g, Vec::new());
    m.towers[0].visit(&mut tower0);
    assert!(tower0.1.iter().flatten().all(|&v| v == 0.0));
    let mut tower1 = GradsOf(&g, Vec::new());
    m.towers[1].visit(&mut tower1);
    assert!(tower1.1.iter().flatten().any(|&v| v != 0.0));
}

#[test]
fn representation_split_reproduces_the_forward_pass() {
    let d = cpu_device();
    let m = seeded(&d, 3, |d| {
        Cgc::new(
            D_IN,
            (0..2).map(|_| expert(D_IN, d)).collect(),
            (0..3).map(|_| expert(D_IN, d)).collect(),
            &[3],
            &out_dims(),
            d,
        )
    });
    let data = dataset(10, 5);
    let x = tensor2(&data.task(0).0.to_owned(), &d);
    let rows = vec![Some(0..10), Some(2..7), None];
    let outs = m.forward(x.clone(), &rows);
    assert!(outs[2].is_none());
    let z = m.shared(x.clone()).unwrap();
    let o1 = m.task_from_shared(1, z.narrow(0, 2, 5), x.narrow(0, 2, 5));
    let a = outs[1]
        .clone()
        .unwrap()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap();
    let b = o1.into_data().try_to_vec::<f32>().unwrap();
    assert_eq!(a, b);
}

fn flat<M: Module>(m: &M) -> Vec<f32> {
    struct F(Vec<f32>);
    impl ModuleVisitor for F {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            self.0.extend(
                p.val()
                    .into_data()
                    .convert::<f32>()
                    .try_to_vec::<f32>()
                    .unwrap(),
            );
        }
    }
    let mut f = F(Vec::new());
    m.visit(&mut f);
    f.0
}

fn model(d: &Device) -> HardSharing<Mlp> {
    seeded(d, 7, |d| {
        HardSharing::new(Mlp::new(&[D_IN, 16, 16], d), &[8], &out_dims(), d)
    })
}

#[test]
fn training_learns_and_selects_on_validation() {
    let d = cpu_device();
    let data = dataset(600, 8);
    let (tr, va) = data.split(0.25, 1).unwrap();
    let cfg = TrainerConfig {
        epochs: 40,
        batch_size: 32,
        lr: 1e-2,
        patience: Some(5),
        progress: false,
        ..TrainerConfig::default()
    };
    let m0 = model(&d);
    let before = mtlkit_deep::evaluate(&m0, &va, &d, 1024).unwrap();
    let out = train(m0, &tr, Some(&va), &cfg, &d, &RunFiles::default()).unwrap();
    let after = mtlkit_deep::evaluate(&out.model, &va, &d, 1024).unwrap();
    for t in 0..3 {
        assert!(
            after.losses[t] < 0.6 * before.losses[t],
            "task {t}: {} -> {}",
            before.losses[t],
            after.losses[t]
        );
    }
    // the returned model is the best validation epoch
    let best = out.best_epoch.unwrap();
    let scores: Vec<f64> = out
        .history
        .iter()
        .map(|h| h.validation.as_ref().unwrap().score())
        .collect();
    let min = scores.iter().copied().fold(f64::INFINITY, f64::min);
    assert_eq!(scores[best], min);
    assert!((after.score() - min).abs() < 1e-6 * min.max(1.0));
    if out.stopped_early {
        assert!(out.history.len() - 1 - best >= 5);
    }
}

#[test]
fn a_killed_run_resumes_to_the_same_weights() {
    let d = cpu_device();
    let data = dataset(200, 9);
    let (tr, va) = data.split(0.2, 2).unwrap();
    let cfg = TrainerConfig {
        epochs: 3,
        batch_size: 16,
        lr: 5e-3,
        patience: None,
        checkpoint_every: 4,
        progress: false,
        ..TrainerConfig::default()
    };
    let dir_a = tempfile::tempdir().unwrap();
    let full = train(
        model(&d),
        &tr,
        Some(&va),
        &cfg,
        &d,
        &RunFiles {
            checkpoint_dir: Some(dir_a.path().into()),
            ..Default::default()
        },
    )
    .unwrap();
    let dir_b = tempfile::tempdir().unwrap();
    let files = RunFiles {
        checkpoint_dir: Some(dir_b.path().into()),
        max_steps: Some(13),
        ..Default::default()
    };
    // "killed" after 13 steps (mid-epoch, one step after the checkpoint at step 12)
    let cut = train(model(&d), &tr, Some(&va), &cfg, &d, &files).unwrap();
    assert_eq!(cut.steps, 13);
    // a fresh process: a differently initialised model, resumed from the checkpoint
    let fresh = seeded(&d, 12345, |d| {
        HardSharing::new(Mlp::new(&[D_IN, 16, 16], d), &[8], &out_dims(), d)
    });
    let resumed = train(
        fresh,
        &tr,
        Some(&va),
        &cfg,
        &d,
        &RunFiles {
            checkpoint_dir: Some(dir_b.path().into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(resumed.steps, full.steps);
    assert_eq!(
        flat(&resumed.model),
        flat(&full.model),
        "resumed weights differ"
    );
    assert_eq!(resumed.best_epoch, full.best_epoch);
    let va_full: Vec<_> = full.history.iter().map(|h| h.validation.clone()).collect();
    let va_res: Vec<_> = resumed
        .history
        .iter()
        .map(|h| h.validation.clone())
        .collect();
    assert_eq!(va_full, va_res);
    // a corrupt checkpoint is a clear error
    let state = dir_b.path().join("state.json");
    std::fs::write(&state, b"{not json").unwrap();
    let e = train(
        model(&d),
        &tr,
        Some(&va),
        &cfg,
        &d,
        &RunFiles {
            checkpoint_dir: Some(dir_b.path().into()),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("state.json"), "{e}");
}

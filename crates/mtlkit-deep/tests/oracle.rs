//! Gradient oracles: with equal weights both reproduce the summed-loss gradient; training with
//! gradient-level methods runs, learns and logs gradient statistics.
#![allow(clippy::unwrap_used)]

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor};
use mtlkit_deep::oracle::{parameter_step, representation_step};
use mtlkit_deep::{
    ArchConfig, BatchIndex, DeepDataset, DeepModel, MultiTaskModel, RunFiles, Targets, TaskKind,
    TaskSpec, TrainerConfig, cpu_device, seeded, train,
};
use mtlkit_weighting::Method;
use ndarray::{Array1, Array2};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn dataset(n: usize, seed: u64) -> DeepDataset {
    let mut rng = StdRng::seed_from_u64(seed);
    let x = Array2::from_shape_fn((n, 5), |_| rng.random::<f32>() * 2.0 - 1.0);
    let s = vec![
        TaskSpec::new("a", TaskKind::Regression),
        TaskSpec::new("b", TaskKind::Regression),
        TaskSpec::new("c", TaskKind::Binary),
    ];
    let a = Array1::from_shape_fn(n, |i| f64::from(x[[i, 0]] + x[[i, 1]]));
    // b conflicts with a on the shared features
    let b = Array1::from_shape_fn(n, |i| {
        if i % 4 == 1 {
            f64::NAN
        } else {
            f64::from(-x[[i, 0]] + 0.5 * x[[i, 2]])
        }
    });
    let c = Array1::from_shape_fn(n, |i| f64::from(u8::from(x[[i, 3]] > 0.0)));
    let t = vec![
        Targets::from_column(&s[0], a.view()).unwrap(),
        Targets::from_column(&s[1], b.view()).unwrap(),
        Targets::from_column(&s[2], c.view()).unwrap(),
    ];
    DeepDataset::shared(x, t, s).unwrap()
}

fn flat_grads<M: Module>(m: &M, g: &GradientsParams) -> Vec<f64> {
    struct F<'a>(&'a GradientsParams, Vec<f64>);
    impl ModuleVisitor for F<'_> {
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            let n: usize = p.val().dims().iter().product();
            match self.0.get::<D>(p.id) {
                Some(t) => self.1.extend(
                    t.into_data()
                        .convert::<f32>()
                        .try_to_vec::<f32>()
                        .unwrap()
                        .into_iter()
                        .map(f64::from),
                ),
                None => self.1.extend(std::iter::repeat_n(0.0, n)),
            }
        }
    }
    let mut f = F(g, Vec::new());
    m.visit(&mut f);
    f.1
}

fn summed_loss_grads(m: &DeepModel, data: &DeepDataset, rows: &[usize], d: &Device) -> Vec<f64> {
    let batch = data
        .batch(&BatchIndex::Shared(rows.to_vec()))
        .expect("batch");
    let x = mtlkit_deep::loss::tensor2(&batch.x, d);
    let rr: Vec<_> = batch
        .tasks
        .iter()
        .map(|t| t.as_ref().map(|tb| tb.rows.clone()))
        .collect();
    let total = m
        .forward(x, &rr)
        .into_iter()
        .zip(&batch.tasks)
        .enumerate()
        .filter_map(|(t, (o, tb))| {
            Some(mtlkit_deep::loss::task_loss(
                &data.specs()[t].loss(),
                o?,
                tb.as_ref()?,
                d,
            ))
        })
        .reduce(|a, b| a + b)
        .unwrap();
    let g = GradientsParams::from_grads(total.backward(), m);
    flat_grads(m, &g)
}

fn archs() -> Vec<ArchConfig> {
    vec![
        ArchConfig::HardSharing {
            hidden: vec![8, 6],
            tower: vec![4],
            conv: None,
        },
        ArchConfig::Mmoe {
            hidden: vec![6],
            experts: 3,
            tower: vec![],
            conv: None,
        },
        ArchConfig::Cgc {
            hidden: vec![6],
            shared_experts: 2,
            task_experts: 1,
            tower: vec![],
        },
        ArchConfig::Ple {
            hidden: vec![6],
            levels: 2,
            shared_experts: 1,
            task_experts: 1,
            tower: vec![],
        },
        ArchConfig::CrossStitch {
            hidden: vec![6, 5],
            tower: vec![],
        },
        ArchConfig::DselectK {
            hidden: vec![6],
            experts: 4,
            k: 2,
            gamma: 1.0,
            tower: vec![],
        },
    ]
}

#[test]
fn equal_weights_reproduce_the_summed_loss_gradient() {
    let d = cpu_device();
    let data = dataset(40, 1);
    let rows: Vec<usize> = (0..40).collect();
    let batch = data
        .batch(&BatchIndex::Shared(rows.clone()))
        .expect("batch");
    for arch in archs() {
        let m = seeded(&d, 3, |d| arch.build(5, &[1, 1, 1], d));
        let reference = summed_loss_grads(&m, &data, &rows, &d);
        let scale = reference.iter().fold(0.0f64, |a, v| a.max(v.abs()));
        let mut sum = Method::Sum(Default::default()).build(3, 0).unwrap();
        let p = parameter_step(&m, &data, &batch, sum.as_mut(), &d).unwrap();
        let gp = flat_grads(&m, &p.grads);
        let err = gp
            .iter()
            .zip(&reference)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(
            err <= 1e-5 * scale,
            "{}: parameter oracle off by {err} (scale {scale})",
            arch.name()
        );
        match representation_step(&m, &data, &batch, sum.as_mut(), &d).unwrap() {
            Some(r) => {
                let gr = flat_grads(&m, &r.grads);
                let err = gr
                    .iter()
                    .zip(&reference)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f64::max);
                assert!(
                    err <= 1e-5 * scale,
                    "{}: representation oracle off by {err}",
                    arch.name()
                );
                assert_eq!(r.tasks, vec![0, 1, 2]);
                let stats = r.stats.unwrap();
                assert!(stats.conflict_ratio.unwrap() >= 0.0);
            }
            None => assert!(
                matches!(
                    arch,
                    ArchConfig::Ple { .. } | ArchConfig::CrossStitch { .. }
                ),
                "{}",
                arch.name()
            ),
        }
    }
}

#[test]
fn gradient_methods_train_and_log_conflicts() {
    let d = cpu_device();
    let data = dataset(400, 2);
    let (tr, va) = data.split(0.25, 0).unwrap();
    for method in [
        r#"{"method": "pcgrad"}"#,
        r#"{"method": "upgrad"}"#,
        r#"{"method": "mgda"}"#,
        r#"{"method": "cagrad"}"#,
        r#"{"method": "nash-mtl"}"#,
        r#"{"method": "famo"}"#,
        r#"{"method": "uncertainty"}"#,
    ] {
        let weighting: Method = serde_json::from_str(method).unwrap();
        for arch in [archs()[1].clone(), archs()[3].clone()] {
            let cfg = TrainerConfig {
                epochs: 6,
                batch_size: 32,
                lr: 1e-2,
                patience: None,
                progress: false,
                weighting: weighting.clone(),
                monitor_gradients: true,
                ..TrainerConfig::default()
            };
            let m = seeded(&d, 5, |d| arch.build(5, &[1, 1, 1], d));
            let before = mtlkit_deep::evaluate(&m, &va, &d, 1024).unwrap().score();
            let out = train(m, &tr, Some(&va), &cfg, &d, &RunFiles::default()).unwrap();
            let after = mtlkit_deep::evaluate(&out.model, &va, &d, 1024)
                .unwrap()
                .score();
            assert!(
                after < before,
                "{method} / {}: {before} -> {after}",
                arch.name()
            );
            let last = out.history.last().unwrap();
            assert!(
                last.conflict_ratio
                    .is_some_and(|r| (0.0..=1.0).contains(&r)),
                "{method}"
            );
            let cos = last.cosines.as_ref().unwrap();
            assert!(cos[0][0].is_some_and(|c| (c - 1.0).abs() < 1e-6));
            let expect = if matches!(arch, ArchConfig::Ple { .. }) {
                "parameters"
            } else {
                "representation"
            };
            assert_eq!(last.oracle, expect);
            assert!(last.weights.iter().all(|w| w.is_finite()));
        }
    }
}

//! Task affinity while training: the lookahead affinity obeys its first-order identity
//! `Z_{i→j} · L_j / η → ⟨∇L_i, ∇L_j⟩` (η → 0), and on a problem with two tasks that share
//! their target and a third that does not, the training-averaged affinities rank the pair of
//! related tasks above the unrelated pairs.
#![allow(clippy::unwrap_used, clippy::needless_range_loop)]

use mtlkit_deep::affinity::{AffinityConfig, TrainingAffinity, lookahead};
use mtlkit_deep::oracle::parameter_step;
use mtlkit_deep::{
    ArchConfig, BatchIndex, DeepDataset, DeepModel, RunFiles, Targets, TaskKind, TaskSpec,
    TrainerConfig, cpu_device, seeded, train,
};
use mtlkit_weighting::Method;
use ndarray::{Array1, Array2};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Tasks `a` and `b` predict the same function of x (independent noise), `c` an unrelated one;
/// `b` misses some labels.
fn dataset(n: usize, seed: u64) -> DeepDataset {
    let mut rng = StdRng::seed_from_u64(seed);
    let x = Array2::from_shape_fn((n, 6), |_| rng.random::<f32>() * 2.0 - 1.0);
    let s = vec![
        TaskSpec::new("a", TaskKind::Regression),
        TaskSpec::new("b", TaskKind::Regression),
        TaskSpec::new("c", TaskKind::Regression),
    ];
    let f = |i: usize| f64::from(x[[i, 0]] + x[[i, 1]] - 0.5 * x[[i, 2]]);
    let a = Array1::from_shape_fn(n, |i| f(i) + 0.1 * (rng.random::<f64>() - 0.5));
    let b = Array1::from_shape_fn(n, |i| {
        if i % 5 == 2 {
            f64::NAN
        } else {
            f(i) + 0.1 * (rng.random::<f64>() - 0.5)
        }
    });
    let c = Array1::from_shape_fn(n, |i| f64::from(x[[i, 3]] * x[[i, 4]] - x[[i, 5]]));
    let t = vec![
        Targets::from_column(&s[0], a.view()).unwrap(),
        Targets::from_column(&s[1], b.view()).unwrap(),
        Targets::from_column(&s[2], c.view()).unwrap(),
    ];
    DeepDataset::shared(x, t, s).unwrap()
}

fn model(data: &DeepDataset, seed: u64) -> DeepModel {
    let cfg: ArchConfig = serde_json::from_value(serde_json::json!({
        "architecture": "hard-sharing", "hidden": [16], "tower": [8]
    }))
    .unwrap();
    let dims = vec![1; data.n_tasks()];
    seeded(&cpu_device(), seed, |d| {
        cfg.build(data.n_features(), &dims, d)
    })
}

#[test]
fn lookahead_matches_the_gradient_inner_products_to_first_order() {
    let device = cpu_device();
    let data = dataset(200, 1);
    for seed in 0..3 {
        let m = model(&data, seed);
        let rows: Vec<usize> = (0..64).map(|i| (i * 3 + seed as usize) % 200).collect();
        let batch = data.batch(&BatchIndex::Shared(rows)).expect("batch");
        // the full-parameter Gramian of the task gradients, from the parameter-level oracle
        let mut w = Method::Sum(Default::default()).build(3, 0).unwrap();
        let step = parameter_step(&m, &data, &batch, w.as_mut(), &device).unwrap();
        let stats = step.stats.unwrap();
        let norms = stats.gradient_norms.unwrap();
        let cos = stats.cosines.unwrap();
        let g = |i: usize, j: usize| cos[i][j] * norms[i] * norms[j];
        // a step small enough for the first-order term to dominate (relative change ~1e-3)
        let l_min = step.losses.iter().cloned().fold(f64::INFINITY, f64::min);
        let g_max = (0..3).map(|i| g(i, i)).fold(0.0, f64::max);
        let eta = 1e-3 * l_min / g_max;
        let (ids, z) = lookahead(&m, &data, &batch, eta, &device).unwrap().unwrap();
        assert_eq!(ids, vec![0, 1, 2]);
        for i in 0..3 {
            for j in 0..3 {
                let first_order = z[i][j] * step.losses[j] / eta;
                let scale = (g(i, i) * g(j, j)).sqrt();
                assert!(
                    (first_order - g(i, j)).abs() <= 0.03 * scale,
                    "seed {seed}, Z[{i}→{j}] L_j / η = {first_order}, ⟨g_i, g_j⟩ = {} (scale {scale})",
                    g(i, j)
                );
            }
        }
    }
}

#[test]
fn training_affinity_ranks_related_tasks_first() {
    let device = cpu_device();
    let data = dataset(600, 2);
    let (tr, va) = data.split(0.2, 0).unwrap();
    let mut affs: Vec<TrainingAffinity> = Vec::new();
    for seed in 0..2 {
        let cfg = TrainerConfig {
            epochs: 15,
            batch_size: 64,
            lr: 0.01,
            patience: None,
            progress: false,
            seed,
            affinity: Some(AffinityConfig {
                every: 4,
                ..AffinityConfig::default()
            }),
            ..TrainerConfig::default()
        };
        let out = train(
            model(&tr, seed),
            &tr,
            Some(&va),
            &cfg,
            &device,
            &RunFiles::default(),
        )
        .unwrap();
        let aff = out.affinity.unwrap();
        assert_eq!(aff.lookahead_steps, out.steps.div_ceil(4));
        assert_eq!(aff.cosine_steps, out.steps);
        assert_eq!(aff.unmeasured(), 0);
        affs.push(aff);
    }
    let mean = TrainingAffinity::mean(&affs.iter().collect::<Vec<_>>()).unwrap();
    assert_eq!(mean.lookahead_steps, affs[0].lookahead_steps * 2);
    for m in [&mean.lookahead, mean.cosine.as_ref().unwrap()] {
        let v = |i: usize, j: usize| m[i][j].unwrap();
        let related = 0.5 * (v(0, 1) + v(1, 0));
        let unrelated = [v(0, 2), v(2, 0), v(1, 2), v(2, 1)];
        assert!(related > 0.0, "related pair {related}, matrix {m:?}");
        assert!(
            unrelated.iter().all(|&u| u < related),
            "related pair {related} vs unrelated {unrelated:?}"
        );
    }
    let mats = mean.matrices(&["a".into(), "b".into(), "c".into()]);
    assert_eq!(mats.len(), 2);
    assert_eq!(mats[0].kind, "lookahead");
    assert_eq!(mats[1].kind, "gradient-cosine");
    assert!(
        mats.iter()
            .all(|m| m.matrix.len() == 3 && m.tasks.len() == 3)
    );
}

#[test]
fn bad_affinity_settings_are_rejected() {
    for a in [
        AffinityConfig {
            every: 0,
            ..AffinityConfig::default()
        },
        AffinityConfig {
            lookahead_lr: Some(-1.0),
            ..AffinityConfig::default()
        },
        AffinityConfig {
            lookahead_lr: Some(f64::NAN),
            ..AffinityConfig::default()
        },
    ] {
        let cfg = TrainerConfig {
            affinity: Some(a),
            ..TrainerConfig::default()
        };
        let e = cfg.validate().unwrap_err().to_string();
        assert!(e.contains("affinity"), "{e}");
    }
}

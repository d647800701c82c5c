//! Data model, batch plans, samplers and evaluation summaries.
#![allow(clippy::unwrap_used)]

use mtlkit_deep::eval::{auc, mean_std};
use mtlkit_deep::{
    BatchIndex, DeepDataset, DeepError, LossKind, Metric, Sampling, Targets, TaskKind, TaskSpec,
    delta_m, delta_p, mean_rank, task_metrics,
};
use ndarray::{Array1, Array2, array};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn specs() -> Vec<TaskSpec> {
    vec![
        TaskSpec::new("reg", TaskKind::Regression),
        TaskSpec::new("bin", TaskKind::Binary),
        TaskSpec::new("cls", TaskKind::Multiclass { classes: 3 }),
    ]
}

fn shared(n: usize, seed: u64) -> DeepDataset {
    let mut rng = StdRng::seed_from_u64(seed);
    let x = Array2::from_shape_fn((n, 4), |_| rng.random::<f32>());
    let s = specs();
    let reg = Array1::from_shape_fn(n, |i| if i % 7 == 3 { f64::NAN } else { i as f64 });
    let bin = Array1::from_shape_fn(n, |i| (i % 2) as f64);
    let cls = Array1::from_shape_fn(n, |i| (i % 3) as f64);
    let t = vec![
        Targets::from_column(&s[0], reg.view()).unwrap(),
        Targets::from_column(&s[1], bin.view()).unwrap(),
        Targets::from_column(&s[2], cls.view()).unwrap(),
    ];
    DeepDataset::shared(x, t, s).unwrap()
}

#[test]
fn targets_are_checked_against_the_task_kind() {
    let s = specs();
    let e = Targets::from_column(&s[1], array![0.0, 1.0, 2.0].view()).unwrap_err();
    assert!(matches!(e, DeepError::BadTarget { row: 2, .. }), "{e}");
    let e = Targets::from_column(&s[2], array![0.0, 3.0].view()).unwrap_err();
    assert!(matches!(e, DeepError::BadTarget { row: 1, .. }), "{e}");
    let e = Targets::from_column(&s[2], array![0.5].view()).unwrap_err();
    assert!(e.to_string().contains("class index"), "{e}");
    let e = Targets::from_column(&s[0], array![1.0, f64::INFINITY].view()).unwrap_err();
    assert!(e.to_string().contains("non-finite"), "{e}");
    // a regression target that f32 cannot hold (it would train as inf)
    let e = Targets::from_column(&s[0], array![1.0, -1e300].view()).unwrap_err();
    assert!(matches!(e, DeepError::BadTarget { row: 1, .. }), "{e}");
    assert!(
        e.to_string().contains("-1e300 is beyond f32's range"),
        "{e}"
    );
    assert!(Targets::from_column(&s[0], array![3e38, -3e38].view()).is_ok());
    // NaN is a missing label: masked out
    let t = Targets::from_column(&s[0], array![1.0, f64::NAN, 3.0].view()).unwrap();
    assert_eq!(t.mask.column(0).to_vec(), vec![1.0, 0.0, 1.0]);
    assert_eq!(t.n_labelled(), 2);
    // multilabel: one column per label
    let ml = TaskSpec::new("ml", TaskKind::Multilabel { labels: 2 });
    assert!(Targets::from_column(&ml, array![1.0].view()).is_err());
    let t = Targets::new(&ml, array![[1.0, f64::NAN], [0.0, 1.0]].view()).unwrap();
    assert_eq!(t.n_labelled(), 3);
}

#[test]
fn bad_datasets_are_clear_errors() {
    let s = specs();
    let col = |spec: &TaskSpec, n: usize| {
        Targets::from_column(spec, Array1::from_elem(n, 1.0).view()).unwrap()
    };
    let targets = |n: usize| s.iter().map(|sp| col(sp, n)).collect::<Vec<_>>();
    // NaN in X
    let mut x = Array2::<f32>::zeros((5, 2));
    x[[3, 1]] = f32::NAN;
    let e = DeepDataset::shared(x, targets(5), s.clone()).unwrap_err();
    assert!(e.to_string().contains("row 3, column 1"), "{e}");
    // rows of the targets
    let e = DeepDataset::shared(Array2::zeros((5, 2)), targets(4), s.clone()).unwrap_err();
    assert!(e.to_string().contains("shape mismatch"), "{e}");
    // no rows, no features
    assert!(DeepDataset::shared(Array2::zeros((0, 2)), targets(0), s.clone()).is_err());
    assert!(DeepDataset::shared(Array2::zeros((5, 0)), targets(5), s.clone()).is_err());
    // a task without labels
    let mut t = targets(5);
    t[0] = Targets::from_column(&s[0], Array1::from_elem(5, f64::NAN).view()).unwrap();
    let e = DeepDataset::shared(Array2::zeros((5, 2)), t, s.clone()).unwrap_err();
    assert!(e.to_string().contains("no labelled sample"), "{e}");
    // duplicate names, loss that does not fit the kind, bad sizes
    let mut dup = s.clone();
    dup[1].name = "reg".into();
    assert!(DeepDataset::shared(Array2::zeros((5, 2)), targets(5), dup).is_err());
    let mut wrong = s.clone();
    wrong[0] = wrong[0].clone().with_loss(LossKind::CrossEntropy);
    let e = DeepDataset::shared(Array2::zeros((5, 2)), targets(5), wrong).unwrap_err();
    assert!(e.to_string().contains("does not fit"), "{e}");
    let huber = TaskSpec::new("h", TaskKind::Regression).with_loss(LossKind::Huber { delta: -1.0 });
    assert!(huber.validate().is_err());
    assert!(
        TaskSpec::new("c", TaskKind::Multiclass { classes: 1 })
            .validate()
            .is_err()
    );
    // per-task data with different feature counts
    let a = (Array2::<f32>::zeros((3, 2)), col(&s[0], 3));
    let b = (Array2::<f32>::zeros((4, 3)), col(&s[1], 4));
    let e = DeepDataset::per_task(vec![a, b], s[..2].to_vec()).unwrap_err();
    assert!(e.to_string().contains("features"), "{e}");
}

#[test]
fn shared_epoch_plans_are_deterministic_permutations() {
    let ds = shared(103, 1);
    let sampling = Sampling::default();
    let p1 = ds.epoch_plan(3, 42, 16, &sampling);
    let p2 = ds.epoch_plan(3, 42, 16, &sampling);
    assert_eq!(p1, p2, "same seed and epoch, same batches");
    assert_ne!(p1, ds.epoch_plan(4, 42, 16, &sampling), "epochs differ");
    assert_ne!(p1, ds.epoch_plan(3, 43, 16, &sampling), "seeds differ");
    assert_eq!(p1.len(), 7);
    let mut seen: Vec<usize> = p1
        .iter()
        .flat_map(|b| match b {
            BatchIndex::Shared(r) => r.clone(),
            BatchIndex::PerTask(_) => unreachable!(),
        })
        .collect();
    seen.sort_unstable();
    assert_eq!(
        seen,
        (0..103).collect::<Vec<_>>(),
        "each row once per epoch"
    );
}

#[test]
fn batches_carry_masks_and_leave_out_unlabelled_tasks() {
    let ds = shared(30, 2);
    // rows 3 and 10 are unlabelled for "reg" (i % 7 == 3)
    let b = ds.batch(&BatchIndex::Shared(vec![3, 10])).expect("batch");
    assert!(
        b.tasks[0].is_none(),
        "no label of task 0 in the batch: left out"
    );
    assert!(b.tasks[1].is_some() && b.tasks[2].is_some());
    assert_eq!(b.present(), vec![1, 2]);
    let b = ds.batch(&BatchIndex::Shared(vec![3, 4, 5])).expect("batch");
    let t0 = b.tasks[0].as_ref().unwrap();
    assert_eq!(t0.mask.column(0).to_vec(), vec![0.0, 1.0, 1.0]);
    assert_eq!(t0.y.column(0).to_vec(), vec![0.0, 4.0, 5.0]);
    assert_eq!(b.x.row(1), ds.task(0).0.row(4));
}

fn per_task(sizes: &[usize]) -> DeepDataset {
    let spec: Vec<TaskSpec> = (0..sizes.len())
        .map(|t| TaskSpec::new(format!("t{t}"), TaskKind::Regression))
        .collect();
    let data = sizes
        .iter()
        .enumerate()
        .map(|(t, &n)| {
            // the feature holds (task, row) so batches can be traced back
            let x =
                Array2::from_shape_fn((n, 2), |(i, j)| if j == 0 { t as f32 } else { i as f32 });
            let y = Array1::from_shape_fn(n, |i| i as f64);
            (x, Targets::from_column(&spec[t], y.view()).unwrap())
        })
        .collect();
    DeepDataset::per_task(data, spec).unwrap()
}

#[test]
fn per_task_batches_stack_each_tasks_rows() {
    let ds = per_task(&[5, 40, 12]);
    let plan = ds.epoch_plan(0, 7, 8, &Sampling::AllTasks);
    assert_eq!(plan.len(), 5, "the largest task needs 40 / 8 steps");
    // the largest task sees every row once per epoch; smaller ones cycle
    let mut big: Vec<usize> = Vec::new();
    for b in &plan {
        let BatchIndex::PerTask(per) = b else {
            unreachable!()
        };
        assert_eq!(per[0].len(), 5);
        assert_eq!(per[2].len(), 8);
        big.extend(&per[1]);
        let batch = ds.batch(b).expect("batch");
        for (t, tb) in batch.tasks.iter().enumerate() {
            let tb = tb.as_ref().unwrap();
            for (k, i) in tb.rows.clone().enumerate() {
                assert_eq!(batch.x[[i, 0]], t as f32, "row belongs to its task");
                assert_eq!(f64::from(batch.x[[i, 1]]), f64::from(tb.y[[k, 0]]));
            }
        }
    }
    big.sort_unstable();
    assert_eq!(big, (0..40).collect::<Vec<_>>());
}

#[test]
fn temperature_sampling_follows_its_probabilities() {
    let sizes = [100usize, 400, 1600];
    let ds = per_task(&sizes);
    for (sampling, expect) in [
        (
            Sampling::Proportional,
            vec![100.0 / 2100.0, 400.0 / 2100.0, 1600.0 / 2100.0],
        ),
        (Sampling::Uniform, vec![1.0 / 3.0; 3]),
        // τ = 2: ∝ √n = 10, 20, 40
        (
            Sampling::Temperature { tau: 2.0 },
            vec![10.0 / 70.0, 20.0 / 70.0, 40.0 / 70.0],
        ),
    ] {
        let p = sampling.probabilities(&sizes);
        for (a, b) in p.iter().zip(&expect) {
            assert!((a - b).abs() < 1e-12);
        }
        let mut counts = [0usize; 3];
        let mut steps = 0;
        for e in 0..40 {
            for b in ds.epoch_plan(e, 1, 21, &sampling) {
                let BatchIndex::PerTask(per) = b else {
                    unreachable!()
                };
                let present: Vec<usize> = (0..3).filter(|&t| !per[t].is_empty()).collect();
                assert_eq!(present.len(), 1, "one task per step");
                counts[present[0]] += 1;
                steps += 1;
            }
        }
        for t in 0..3 {
            let f = counts[t] as f64 / steps as f64;
            assert!(
                (f - expect[t]).abs() < 0.03,
                "{sampling:?}: task {t} frequency {f} vs {}",
                expect[t]
            );
        }
    }
    assert!(Sampling::Temperature { tau: 0.0 }.validate().is_err());
    assert!(Sampling::Temperature { tau: f64::NAN }.validate().is_err());
}

#[test]
fn validation_split_is_a_partition_within_each_task() {
    let ds = per_task(&[20, 50]);
    let (tr, va) = ds.split(0.2, 3).unwrap();
    for t in 0..2 {
        let mut rows: Vec<f32> = tr.task(t).0.column(1).to_vec();
        rows.extend(va.task(t).0.column(1).iter());
        rows.sort_by(f32::total_cmp);
        let n = ds.n_rows(t);
        assert_eq!(rows, (0..n).map(|i| i as f32).collect::<Vec<_>>());
        assert_eq!(va.n_rows(t), (n as f64 * 0.2).round() as usize);
    }
    assert_eq!(ds.split(0.2, 3).unwrap().1, va, "seeded");
    assert!(ds.split(1.0, 3).is_err() && ds.split(f64::NAN, 3).is_err());
}

#[test]
fn auc_matches_pairwise_counting() {
    let mut rng = StdRng::seed_from_u64(5);
    for _ in 0..50 {
        let n = rng.random_range(2..60);
        // few distinct scores so that ties occur
        let pairs: Vec<(f64, f64)> = (0..n)
            .map(|_| {
                (
                    f64::from(rng.random_range(0..6)),
                    f64::from(rng.random_range(0..2)),
                )
            })
            .collect();
        let (mut num, mut den) = (0.0, 0.0);
        for a in &pairs {
            for b in &pairs {
                if a.1 > 0.5 && b.1 < 0.5 {
                    den += 1.0;
                    num += if a.0 > b.0 {
                        1.0
                    } else if a.0 == b.0 {
                        0.5
                    } else {
                        0.0
                    };
                }
            }
        }
        let got = auc(&pairs);
        if den == 0.0 {
            assert!(got.is_nan());
        } else {
            assert!((got - num / den).abs() < 1e-12, "{got} vs {}", num / den);
        }
    }
}

#[test]
fn task_metrics_follow_their_definitions_on_labelled_entries() {
    let out = array![[1.0f32], [2.0], [10.0], [4.0]];
    let y = array![[1.5f32], [2.0], [0.0], [3.0]];
    let mask = array![[1.0f32], [1.0], [0.0], [1.0]];
    let m = task_metrics(&TaskKind::Regression, out.view(), y.view(), mask.view());
    // labelled rows 0, 1, 3: errors −0.5, 0, 1
    assert_eq!(m[0], (Metric::Mse, (0.25 + 0.0 + 1.0) / 3.0));
    assert_eq!(m[1], (Metric::Mae, 1.5 / 3.0));
    let mean = (1.5 + 2.0 + 3.0) / 3.0;
    let ss_tot: f64 = [1.5f64, 2.0, 3.0]
        .iter()
        .map(|v| (v - mean) * (v - mean))
        .sum();
    assert!((m[2].1 - (1.0 - 1.25 / ss_tot)).abs() < 1e-12);
    // multiclass accuracy and log-loss
    let logits = array![[2.0f32, 0.0, 0.0], [0.0, 0.0, 3.0]];
    let y = array![[0.0f32], [1.0]];
    let mask = array![[1.0f32], [1.0]];
    let m = task_metrics(
        &TaskKind::Multiclass { classes: 3 },
        logits.view(),
        y.view(),
        mask.view(),
    );
    assert_eq!(m[0], (Metric::Accuracy, 0.5));
    // macro-F1 over the 3 classes: class 0 TP 1 → 1; class 1 FN 1 → 0; class 2 FP 1 → 0
    assert_eq!(m[1], (Metric::MacroF1, 1.0 / 3.0));
    let lse = |v: &[f64]| v.iter().map(|x| x.exp()).sum::<f64>().ln();
    let expect = ((lse(&[2.0, 0.0, 0.0]) - 2.0) + (lse(&[0.0, 0.0, 3.0]) - 0.0)) / 2.0;
    assert!((m[2].1 - expect).abs() < 1e-6);
    // macro-F1 against scikit-learn's f1_score(average="macro", labels=range(4),
    // zero_division=0) on y = [0, 0, 1, 2, 2, 2], predictions [0, 1, 1, 2, 0, 2]:
    // class 0: 2·1/(2+1+1) = 0.5, class 1: 2/(2+1) = 2/3, class 2: 4/(4+0+1) = 0.8, class 3: 0
    let pred = [0usize, 1, 1, 2, 0, 2];
    let logits = ndarray::Array2::from_shape_fn((6, 4), |(i, k)| f32::from(u8::from(pred[i] == k)));
    let y = array![[0.0f32], [0.0], [1.0], [2.0], [2.0], [2.0]];
    let m = task_metrics(
        &TaskKind::Multiclass { classes: 4 },
        logits.view(),
        y.view(),
        ndarray::Array2::from_elem((6, 1), 1.0f32).view(),
    );
    assert!(
        (m[1].1 - (0.5 + 2.0 / 3.0 + 0.8) / 4.0).abs() < 1e-12,
        "{:?}",
        m[1]
    );
    // binary log-loss: −y log σ(z) − (1 − y) log(1 − σ(z))
    let z = array![[0.3f32], [-1.2]];
    let y = array![[1.0f32], [0.0]];
    let m = task_metrics(
        &TaskKind::Binary,
        z.view(),
        y.view(),
        array![[1.0f32], [1.0]].view(),
    );
    let s = |v: f64| 1.0 / (1.0 + (-v).exp());
    let ll = (-(s(0.3f32 as f64)).ln() - (1.0 - s(-1.2f32 as f64)).ln()) / 2.0;
    assert!((m[2].1 - ll).abs() < 1e-9, "{} vs {ll}", m[2].1);
    assert_eq!(m[0], (Metric::Auc, 1.0));
}

#[test]
fn delta_m_delta_p_and_ranks() {
    let higher = [true, false, false];
    let single = [0.8, 2.0, 4.0];
    assert_eq!(delta_m(&single, &single, &higher), 0.0);
    // +10 % accuracy, −10 % error (better), +50 % error (worse): (10 + 10 − 50) / 3
    let m = [0.88, 1.8, 6.0];
    assert!((delta_m(&m, &single, &higher) - (10.0 + 10.0 - 50.0) / 3.0).abs() < 1e-9);
    // tasks: metrics 0, 1 → task 0; metric 2 → task 1: ((10 + 10)/2 − 50)/2
    assert!((delta_p(&m, &single, &higher, &[0, 0, 1]) - (10.0 - 50.0) / 2.0).abs() < 1e-9);
    let table = array![[0.9, 1.0], [0.8, 1.0], [0.7, 3.0]];
    let r = mean_rank(table.view(), &[true, false]);
    assert_eq!(
        r,
        vec![(1.0 + 1.5) / 2.0, (2.0 + 1.5) / 2.0, (3.0 + 3.0) / 2.0]
    );
    let (m, s) = mean_std(&[1.0, 2.0, 3.0]);
    assert_eq!((m, s), (2.0, 1.0));
}

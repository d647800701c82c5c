//! Bad input to the library API gives errors, not panics or silent wrong answers (review of
//! December 2026): tables whose columns differ from the training table's, models that do not
//! fit their data, out-of-range batches, malformed targets, standardisers and samplings.
#![allow(clippy::unwrap_used)]

use mtlkit_deep::experiment::{ExperimentConfig, table};
use mtlkit_deep::persist::Standardizer;
use mtlkit_deep::{
    BatchIndex, DeepDataset, HardSharing, Mlp, Sampling, Targets, TaskKind, TaskSpec,
    check_model_fits, cpu_device, seeded,
};
use ndarray::{Array1, Array2, array};

fn config() -> ExperimentConfig {
    serde_json::from_value(serde_json::json!({
        "data": {"train": "train.csv"},
        "tasks": [{"name": "y", "column": "y", "kind": {"type": "regression"}}],
        "model": {"architecture": "hard-sharing", "hidden": [4]},
    }))
    .unwrap()
}

#[test]
fn other_tables_take_the_training_tables_inputs_by_name() {
    let cfg = config();
    let train = table(
        vec!["a".into(), "b".into(), "y".into()],
        array![[1.0, 10.0, 0.5], [2.0, 20.0, 1.5], [3.0, 30.0, 2.5]],
        None,
    );
    let (ds, names) = cfg.dataset(&train).unwrap();
    assert_eq!(names, vec!["a", "b"]);
    // the same rows with the columns in another order, and an extra column
    let other = table(
        vec!["id".into(), "b".into(), "y".into(), "a".into()],
        array![
            [7.0, 10.0, 0.5, 1.0],
            [8.0, 20.0, 1.5, 2.0],
            [9.0, 30.0, 2.5, 3.0]
        ],
        None,
    );
    let (like, _) = cfg.dataset_like(&other, &names).unwrap();
    assert_eq!(like.task(0).0, ds.task(0).0);
    // an input of the training table missing: an error naming it
    let missing = table(vec!["b".into(), "y".into()], array![[10.0, 0.5]], None);
    let err = cfg.dataset_like(&missing, &names).unwrap_err().to_string();
    assert!(err.contains("'a'"), "{err}");
    // names and values of different widths, keys and rows of different lengths
    let bad = table(
        vec!["a".into(), "b".into(), "y".into(), "z".into()],
        train.values.clone(),
        None,
    );
    assert!(
        cfg.dataset(&bad)
            .unwrap_err()
            .to_string()
            .contains("column names")
    );
}

#[test]
fn models_that_do_not_fit_the_data_are_errors() {
    let device = cpu_device();
    let specs = vec![
        TaskSpec::new("reg", TaskKind::Regression),
        TaskSpec::new("cls", TaskKind::Multiclass { classes: 3 }),
    ];
    let x = Array2::from_shape_fn((6, 4), |(i, j)| (i + j) as f32 / 10.0);
    let reg = Targets::from_column(&specs[0], Array1::linspace(0.0, 1.0, 6).view()).unwrap();
    let cls = Targets::from_column(&specs[1], array![0.0, 1.0, 2.0, 0.0, 1.0, 2.0].view()).unwrap();
    let data = DeepDataset::shared(x, vec![reg, cls], specs).unwrap();
    let model = |d_in: usize, out: &[usize]| {
        seeded(&device, 0, |d| {
            HardSharing::new(Mlp::new(&[d_in, 5], d), &[3], out, d)
        })
    };
    let plain = device.clone().without_autodiff();
    use burn::module::Module;
    assert!(check_model_fits(&model(4, &[1, 3]).valid(), &data, &plain).is_ok());
    for (d_in, out, why) in [
        (6, vec![1, 3], "input features"),
        (4, vec![3, 3], "task 0"),
        (4, vec![1, 1], "task 1"),
        (4, vec![1], "task heads"),
    ] {
        let err = check_model_fits(&model(d_in, &out).valid(), &data, &plain)
            .unwrap_err()
            .to_string();
        assert!(err.contains(why), "{d_in} {out:?}: {err}");
    }
}

#[test]
fn batches_targets_samplings_and_standardisers_are_checked() {
    let spec = TaskSpec::new("y", TaskKind::Regression);
    let x = Array2::<f32>::zeros((4, 2));
    let t = Targets::from_column(&spec, array![1.0, 2.0, f64::NAN, 4.0].view()).unwrap();
    let ds = DeepDataset::shared(x.clone(), vec![t.clone()], vec![spec.clone()]).unwrap();
    assert!(ds.batch(&BatchIndex::Shared(vec![0, 3])).is_ok());
    assert!(ds.batch(&BatchIndex::Shared(vec![4])).is_err());
    assert!(ds.batch(&BatchIndex::PerTask(vec![vec![0]])).is_err());
    // a mask that is not 0/1, a NaN under a 0 mask
    let mut odd = t.clone();
    odd.mask[[0, 0]] = 5.0;
    assert!(DeepDataset::shared(x.clone(), vec![odd], vec![spec.clone()]).is_err());
    let mut nan = t.clone();
    nan.y[[2, 0]] = f32::NAN;
    assert!(DeepDataset::shared(x.clone(), vec![nan], vec![spec.clone()]).is_err());
    // a patience of 0 epochs (it ran as 1)
    let zero = mtlkit_deep::TrainerConfig {
        patience: Some(0),
        ..Default::default()
    };
    assert!(zero.validate().is_err());
    // a small temperature goes to the largest task (n^(1/τ) overflows f64)
    let p = Sampling::Temperature { tau: 0.005 }.probabilities(&[200, 100]);
    assert!(p.iter().all(|v| v.is_finite()), "{p}");
    assert!((p[0] - 1.0).abs() < 1e-12 && p[1] < 1e-12, "{p}");
    // a split that leaves a task without labels says so
    let one =
        Targets::from_column(&spec, array![1.0, f64::NAN, f64::NAN, f64::NAN].view()).unwrap();
    let ds1 = DeepDataset::shared(x, vec![one], vec![spec.clone()]).unwrap();
    let err = ds1.split(0.5, 0).unwrap_err().to_string();
    assert!(err.contains("part of the split has no label"), "{err}");
    // a standardiser with a zero scale or a NaN mean is refused when saved
    let meta = |s: Standardizer| mtlkit_deep::persist::ModelMeta {
        format: mtlkit_deep::persist::FORMAT.into(),
        version: mtlkit_deep::persist::VERSION,
        architecture: config().model.clone(),
        tasks: vec![spec.clone()],
        feature_names: vec!["a".into(), "b".into()],
        standardizer: Some(s),
        info: serde_json::Value::Null,
    };
    let ok = Standardizer {
        mean: vec![0.0, 1.0],
        scale: vec![1.0, 2.0],
    };
    assert!(meta(ok).validate().is_ok());
    for s in [
        Standardizer {
            mean: vec![0.0, 0.0],
            scale: vec![0.0, -1.0],
        },
        Standardizer {
            mean: vec![f64::NAN, 0.0],
            scale: vec![1.0, 1.0],
        },
    ] {
        assert!(meta(s).validate().is_err());
    }
}

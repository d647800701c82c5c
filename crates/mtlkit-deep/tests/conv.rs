//! Convolutional trunks and experts: LeNet's map sizes, configuration errors, saved models
//! that reload with the same outputs, and a two-task image problem that they learn.
#![allow(clippy::unwrap_used)]

use std::ops::Range;

use burn::tensor::{Device, Tensor, TensorData};
use mtlkit_deep::persist::{ModelMeta, load_model, save_model};
use mtlkit_deep::{
    ArchConfig, ConvConfig, DeepDataset, MultiTaskModel, RunFiles, Targets, TaskKind, TaskSpec,
    TrainerConfig, cpu_device, evaluate, seeded, train,
};
use ndarray::{Array1, Array2};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn conv(image: [usize; 3], channels: Vec<usize>, kernel: usize) -> ConvConfig {
    ConvConfig {
        image,
        channels,
        kernel,
    }
}

#[test]
fn map_sizes_follow_lenet() {
    // LeNet on 28 × 28: 5 × 5 convolutions and 2 × 2 pools give 10 × 12 × 12, then 20 × 4 × 4
    let c = conv([1, 28, 28], vec![10, 20], 5);
    assert_eq!(
        c.shapes().unwrap(),
        vec![[1, 28, 28], [10, 12, 12], [20, 4, 4]]
    );
    assert_eq!(c.input_width(), 784);
    // 36 × 36 MultiMNIST canvases: 16 × 16, then 6 × 6
    let c = conv([1, 36, 36], vec![10, 20], 5);
    assert_eq!(c.shapes().unwrap().last(), Some(&[20, 6, 6]));
}

#[test]
fn bad_configurations_are_errors() {
    for (c, needle) in [
        (conv([1, 8, 8], vec![4, 4], 5), "too small"),
        (conv([0, 8, 8], vec![4], 3), "≥ 1"),
        (conv([1, 8, 8], vec![], 3), "channels"),
        (conv([1, 8, 8], vec![0], 3), "channels"),
    ] {
        let arch = ArchConfig::HardSharing {
            hidden: vec![4],
            tower: vec![],
            conv: Some(c),
        };
        let e = arch.validate().unwrap_err().to_string();
        assert!(e.contains(needle), "{e}");
    }
    let arch = ArchConfig::Mmoe {
        hidden: vec![4],
        experts: 2,
        tower: vec![],
        conv: Some(conv([1, 8, 8], vec![2], 3)),
    };
    arch.validate().unwrap();
    arch.check_inputs(64).unwrap();
    let e = arch.check_inputs(63).unwrap_err().to_string();
    assert!(e.contains("64") && e.contains("63"), "{e}");
}

fn outputs<M: MultiTaskModel>(m: &M, d_in: usize, device: &Device) -> Vec<Vec<f32>> {
    let x: Vec<f32> = (0..4 * d_in).map(|i| (i as f32 * 0.37).sin()).collect();
    let x = Tensor::<2>::from_data(TensorData::new(x, [4, d_in]), device);
    let rows: Vec<Option<Range<usize>>> = vec![Some(0..4), Some(1..3)];
    m.forward(x, &rows)
        .into_iter()
        .map(|o| {
            o.unwrap()
                .into_data()
                .convert::<f32>()
                .try_to_vec::<f32>()
                .unwrap()
        })
        .collect()
}

#[test]
fn convolutional_models_round_trip() {
    let d = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    let c = conv([2, 10, 10], vec![3, 4], 3);
    let d_in = c.input_width();
    for (i, arch) in [
        ArchConfig::HardSharing {
            hidden: vec![6],
            tower: vec![3],
            conv: Some(c.clone()),
        },
        ArchConfig::Mmoe {
            hidden: vec![5],
            experts: 2,
            tower: vec![],
            conv: Some(c.clone()),
        },
    ]
    .into_iter()
    .enumerate()
    {
        let meta = ModelMeta {
            format: "mtlkit-deep".into(),
            version: 1,
            architecture: arch.clone(),
            tasks: vec![
                TaskSpec::new("y", TaskKind::Regression),
                TaskSpec::new("c", TaskKind::Multiclass { classes: 3 }),
            ],
            feature_names: (0..d_in).map(|j| format!("p{j}")).collect(),
            standardizer: None,
            info: serde_json::Value::Null,
        };
        let m = seeded(&d, 7 + i as u64, |d| arch.build(d_in, &[1, 3], d));
        let path = dir.path().join(format!("conv{i}.safetensors"));
        save_model(&path, &m, &meta).unwrap();
        let (back, meta2) = load_model(&path, &d).unwrap();
        assert_eq!(meta2, meta);
        assert_eq!(outputs(&back, d_in, &d), outputs(&m, d_in, &d));
        // metadata whose feature count does not fit the image is refused
        let mut wrong = meta.clone();
        wrong.feature_names.pop();
        let p2 = dir.path().join(format!("wrong{i}.safetensors"));
        assert!(save_model(&p2, &m, &wrong).is_err());
    }
}

/// 1 × 12 × 12 images with a bar in the left half (horizontal, vertical or none: 3 classes)
/// and a bright spot in the right half or not (binary), plus noise.
fn images(n: usize, seed: u64) -> DeepDataset {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut x = Array2::<f32>::zeros((n, 144));
    let mut bar = Array1::<f64>::zeros(n);
    let mut spot = Array1::<f64>::zeros(n);
    for i in 0..n {
        for p in 0..144 {
            x[[i, p]] = 0.3 * rng.random::<f32>();
        }
        let kind = rng.random_range(0..3usize);
        let (r0, c0) = (rng.random_range(1..8usize), rng.random_range(1..3usize));
        match kind {
            0 => (0..4).for_each(|k| x[[i, r0 * 12 + c0 + k]] = 1.0),
            1 => (0..4).for_each(|k| x[[i, (r0.min(7) + k) * 12 + c0 + 1]] = 1.0),
            _ => {}
        }
        bar[i] = kind as f64;
        if rng.random::<bool>() {
            let (r, c) = (rng.random_range(2..10usize), rng.random_range(7..11usize));
            for (dr, dc) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                x[[i, (r + dr) * 12 + c + dc]] = 1.0;
            }
            spot[i] = 1.0;
        }
    }
    let s = vec![
        TaskSpec::new("bar", TaskKind::Multiclass { classes: 3 }),
        TaskSpec::new("spot", TaskKind::Binary),
    ];
    let t = vec![
        Targets::from_column(&s[0], bar.view()).unwrap(),
        Targets::from_column(&s[1], spot.view()).unwrap(),
    ];
    DeepDataset::shared(x, t, s).unwrap()
}

#[test]
fn a_convolutional_trunk_learns_two_image_tasks() {
    let device = cpu_device();
    let (train_set, valid) = (images(600, 1), images(200, 2));
    let arch = ArchConfig::HardSharing {
        hidden: vec![16],
        tower: vec![],
        conv: Some(conv([1, 12, 12], vec![6], 3)),
    };
    let m = seeded(&device, 0, |d| arch.build(144, &[3, 1], d));
    let cfg = TrainerConfig {
        epochs: 15,
        batch_size: 32,
        lr: 0.01,
        patience: None,
        progress: false,
        ..TrainerConfig::default()
    };
    let out = train(
        m,
        &train_set,
        Some(&valid),
        &cfg,
        &device,
        &RunFiles::default(),
    )
    .unwrap();
    let ev = evaluate(&out.model, &valid, &device, 256).unwrap();
    // accuracy of the 3-class task, AUC of the binary task (chance: 1/3 and 1/2)
    let acc = ev.metrics[0][0].1;
    let auc = ev.metrics[1][0].1;
    assert!(acc > 0.9, "bar accuracy {acc}, metrics {:?}", ev.metrics);
    assert!(auc > 0.95, "spot AUC {auc}, metrics {:?}", ev.metrics);
}

//! Saved models: every architecture round-trips through safetensors + metadata with the same
//! predictions; corrupt, truncated and foreign files are clear errors.
#![allow(clippy::unwrap_used)]

use std::ops::Range;

use burn::tensor::{Device, Tensor, TensorData};
use mtlkit_deep::persist::{ModelMeta, Standardizer, load_model, read_meta, save_model};
use mtlkit_deep::{ArchConfig, MultiTaskModel, TaskKind, TaskSpec, seeded};

fn tasks() -> Vec<TaskSpec> {
    vec![
        TaskSpec::new("y", TaskKind::Regression),
        TaskSpec::new("c", TaskKind::Multiclass { classes: 4 }),
    ]
}

fn outputs<M: MultiTaskModel>(m: &M, device: &Device) -> Vec<Vec<f32>> {
    let x: Vec<f32> = (0..30).map(|i| (i as f32 * 0.37).sin()).collect();
    let x = Tensor::<2>::from_data(TensorData::new(x, [6, 5]), device);
    let rows: Vec<Option<Range<usize>>> = vec![Some(0..6), Some(1..4)];
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
fn every_architecture_round_trips() {
    let d = Device::flex();
    let archs = vec![
        ArchConfig::HardSharing {
            hidden: vec![7, 6],
            tower: vec![3],
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
            task_experts: 2,
            tower: vec![4],
        },
        ArchConfig::CrossStitch {
            hidden: vec![6, 5],
            tower: vec![],
        },
        ArchConfig::DselectK {
            hidden: vec![6],
            experts: 5,
            k: 2,
            gamma: 1.0,
            tower: vec![],
        },
    ];
    let dir = tempfile::tempdir().unwrap();
    for (i, arch) in archs.into_iter().enumerate() {
        let meta = ModelMeta {
            format: "mtlkit-deep".into(),
            version: 1,
            architecture: arch.clone(),
            tasks: tasks(),
            feature_names: (0..5).map(|j| format!("f{j}")).collect(),
            standardizer: Some(Standardizer {
                mean: vec![0.5; 5],
                scale: vec![2.0; 5],
            }),
            info: serde_json::json!({"seed": 3}),
        };
        let m = seeded(&d, 100 + i as u64, |d| arch.build(5, &[1, 4], d));
        let path = dir.path().join(format!("m{i}.safetensors"));
        save_model(&path, &m, &meta).unwrap();
        let (back, meta2) = load_model(&path, &d).unwrap();
        assert_eq!(meta2, meta);
        assert_eq!(read_meta(&path).unwrap(), meta);
        assert_eq!(outputs(&back, &d), outputs(&m, &d), "{}", arch.name());
        // another seed gives other outputs (the comparison above can fail)
        let other = seeded(&d, 999, |d| arch.build(5, &[1, 4], d));
        assert_ne!(outputs(&other, &d), outputs(&m, &d));
    }
}

#[test]
fn bad_files_are_clear_errors() {
    let d = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    let arch = ArchConfig::Mmoe {
        hidden: vec![4],
        experts: 2,
        tower: vec![],
        conv: None,
    };
    let meta = ModelMeta {
        format: "mtlkit-deep".into(),
        version: 1,
        architecture: arch.clone(),
        tasks: tasks(),
        feature_names: (0..5).map(|j| format!("f{j}")).collect(),
        standardizer: None,
        info: serde_json::Value::Null,
    };
    let m = seeded(&d, 1, |d| arch.build(5, &[1, 4], d));
    let path = dir.path().join("m.safetensors");
    save_model(&path, &m, &meta).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    // truncated
    let p = dir.path().join("trunc.safetensors");
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    assert!(load_model(&p, &d).is_err());
    // garbage
    std::fs::write(&p, b"hello").unwrap();
    let e = load_model(&p, &d).unwrap_err().to_string();
    assert!(e.contains("trunc.safetensors"), "{e}");
    // missing file
    assert!(load_model(&dir.path().join("nope.safetensors"), &d).is_err());
    // a newer format version, a foreign format, an inconsistent standardiser: not saved
    let mut newer = meta.clone();
    newer.version = 99;
    assert!(save_model(&p, &m, &newer).is_err());
    let mut foreign = meta.clone();
    foreign.format = "other".into();
    assert!(save_model(&p, &m, &foreign).is_err());
    let mut bad_std = meta.clone();
    bad_std.standardizer = Some(Standardizer {
        mean: vec![0.0; 2],
        scale: vec![1.0; 2],
    });
    assert!(save_model(&p, &m, &bad_std).is_err());
    // weights that do not fit the recorded architecture
    let mut wrong = meta.clone();
    wrong.architecture = ArchConfig::Mmoe {
        hidden: vec![4],
        experts: 3,
        tower: vec![],
        conv: None,
    };
    let m2 = seeded(&d, 1, |d| arch.build(5, &[1, 4], d));
    let p2 = dir.path().join("wrong.safetensors");
    save_model(&p2, &m2, &wrong).unwrap();
    let e = load_model(&p2, &d).unwrap_err().to_string();
    assert!(e.contains("do not fit") || e.contains("cannot read"), "{e}");
    // a failed write (missing folder) leaves nothing behind
    assert!(save_model(&dir.path().join("no/such/dir/m.safetensors"), &m, &meta).is_err());
}

#[test]
fn a_saved_model_predicts_from_raw_rows() {
    use mtlkit_deep::persist::SavedModel;
    let d = Device::flex();
    let dir = tempfile::tempdir().unwrap();
    let arch = ArchConfig::HardSharing {
        hidden: vec![6],
        tower: vec![],
        conv: None,
    };
    let std = Standardizer {
        mean: vec![0.5, -1.0, 0.0, 2.0, 0.1],
        scale: vec![2.0, 0.5, 1.0, 3.0, 1.5],
    };
    let meta = ModelMeta {
        format: "mtlkit-deep".into(),
        version: 1,
        architecture: arch.clone(),
        tasks: tasks(),
        feature_names: (0..5).map(|j| format!("f{j}")).collect(),
        standardizer: Some(std.clone()),
        info: serde_json::Value::Null,
    };
    let m = seeded(&d, 5, |d| arch.build(5, &[1, 4], d));
    let path = dir.path().join("m.safetensors");
    save_model(&path, &m, &meta).unwrap();
    let saved = SavedModel::load(&path).unwrap();
    assert_eq!(saved.meta(), &meta);
    // raw rows: the model's outputs on the standardised rows
    let raw: Vec<f32> = (0..30).map(|i| (i as f32 * 0.37).sin() * 3.0).collect();
    let x = ndarray::Array2::from_shape_vec((6, 5), raw).unwrap();
    let mut xs = x.clone();
    std.apply(&mut xs);
    let expect = m.forward(
        mtlkit_deep::loss::tensor2(&xs, &d),
        &[Some(0..6), Some(0..6)],
    );
    let got = saved.predict_raw(x.view()).unwrap();
    for (g, e) in got.iter().zip(expect) {
        let e = e
            .unwrap()
            .into_data()
            .convert::<f32>()
            .try_to_vec::<f32>()
            .unwrap();
        let g: Vec<f32> = g.iter().copied().collect();
        for (a, b) in g.iter().zip(&e) {
            assert!((a - b).abs() <= 1e-5 * b.abs().max(1.0), "{g:?} vs {e:?}");
        }
    }
    // probabilities of the 4-class task: the softmax of the logits
    let p = saved.predict(x.view()).unwrap();
    assert_eq!(p[0], got[0]);
    for (prow, zrow) in p[1].rows().into_iter().zip(got[1].rows()) {
        assert!((prow.sum() - 1.0).abs() < 1e-5);
        let z0 = zrow.iter().map(|z| (z - zrow[0]).exp()).sum::<f32>();
        assert!((prow[0] - 1.0 / z0).abs() < 1e-5);
    }
    // wrong width, non-finite input
    let e = saved
        .predict(ndarray::Array2::zeros((2, 4)).view())
        .unwrap_err()
        .to_string();
    assert!(e.contains("5 features") && e.contains("4 columns"), "{e}");
    let mut bad = x.clone();
    bad[[3, 2]] = f32::NAN;
    let e = saved.predict(bad.view()).unwrap_err().to_string();
    assert!(e.contains("row 3") && e.contains("f2"), "{e}");
}

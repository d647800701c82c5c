//! End-to-end tests of the `mtlkit` binary (issue 2: fit / predict / export / demo and bad input).

#![allow(clippy::unwrap_used)]

use std::fs::File;
use std::path::{Path, PathBuf};

mod common;
use common::{assert_user_error, mtlkit, s};

use ndarray::{Array0, Array1, Array2, Ix0, OwnedRepr};
use ndarray_npy::{NpzReader, ReadNpyExt, WriteNpyExt};

fn write_npy<T: WriteNpyExt>(path: &Path, a: &T) {
    a.write_npy(File::create(path).expect("create"))
        .expect("write npy");
}

fn fixture(name: &str) -> (Array2<f64>, Array2<f64>, f64, Array2<f64>, Array1<f64>) {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("../mtlkit-linear/tests/fixtures/{name}.npz"));
    let mut z = NpzReader::new(File::open(p).expect("fixture")).expect("npz");
    let alpha: Array0<f64> = z.by_name::<OwnedRepr<f64>, Ix0>("alpha").expect("alpha");
    (
        z.by_name("X").expect("X"),
        z.by_name("Y").expect("Y"),
        alpha.into_scalar(),
        z.by_name("coef").expect("coef"),
        z.by_name("intercept").expect("intercept"),
    )
}

#[test]
fn fit_predict_export_roundtrip_matches_sklearn() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (x, y, alpha, coef, intercept) = fixture("tall_lasso_01");
    let (xp, yp, mp) = (
        dir.path().join("x.npy"),
        dir.path().join("y.npy"),
        dir.path().join("m.safetensors"),
    );
    write_npy(&xp, &x);
    write_npy(&yp, &y);
    let a = format!("{alpha:e}");
    let out = mtlkit(&[
        "fit",
        "--estimator",
        "multitask-lasso",
        "--alpha",
        &a,
        "--tol",
        "1e-12",
        "--max-iter",
        "100000",
        "--x",
        s(&xp),
        "--y",
        s(&yp),
        "--out",
        s(&mp),
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json summary");
    assert_eq!(summary["converged"], true);
    assert_eq!(summary["n_tasks"], 3);

    let npz = dir.path().join("params.npz");
    let out = mtlkit(&["export", s(&mp), "--out", s(&npz)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut z = NpzReader::new(File::open(&npz).expect("npz")).expect("npz");
    let c: Array2<f64> = z.by_name("coef").expect("coef");
    let b: Array1<f64> = z.by_name("intercept").expect("intercept");
    let gap: Array0<f64> = z.by_name("dual_gap").expect("dual_gap");
    let n_iter: Array0<i64> = z.by_name("n_iter").expect("n_iter");
    assert_eq!(c.dim(), (x.ncols(), 3));
    let err = (&c - &coef).mapv(|v| v * v).sum().sqrt() / coef.mapv(|v| v * v).sum().sqrt();
    assert!(err < 1e-6, "coef vs sklearn: {err:e}");
    assert!((&b - &intercept).iter().all(|v| v.abs() < 1e-6));
    assert!(gap.into_scalar() >= -1e-12);
    assert!(n_iter.into_scalar() > 0);

    let pp = dir.path().join("pred.npy");
    let out = mtlkit(&["predict", s(&mp), "--x", s(&xp), "--out", s(&pp)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pred = Array2::<f64>::read_npy(File::open(&pp).expect("pred")).expect("npy");
    let want = x.dot(&c) + b.view().insert_axis(ndarray::Axis(0));
    assert!((&pred - &want).iter().all(|v| v.abs() < 1e-9));
}

#[test]
fn csv_fit_and_predict_by_column_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = dir.path().join("d.csv");
    let mut text = String::from("a,b,t1,c,t2\n");
    for i in 0..40 {
        let (a, b, c) = (i as f64 * 0.1, ((i * 7) % 11) as f64, ((i * 3) % 5) as f64);
        text += &format!("{a},{b},{},{c},{}\n", 2.0 * a - b + 0.5, a + 3.0 * c);
    }
    std::fs::write(&csv, text).expect("write");
    let m = dir.path().join("m.safetensors");
    let out = mtlkit(&[
        "fit",
        "--estimator",
        "multitask-elasticnet",
        "--alpha",
        "0.01",
        "--l1-ratio",
        "0.7",
        "--data",
        s(&csv),
        "--targets",
        "t1,t2",
        "--out",
        s(&m),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // columns in another order are matched by name
    let xcsv = dir.path().join("x.csv");
    std::fs::write(&xcsv, "c,a,b\n1,0.5,3\n0,0,0\n").expect("write");
    let pred = dir.path().join("p.csv");
    let out = mtlkit(&["predict", s(&m), "--x", s(&xcsv), "--out", s(&pred)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let p = std::fs::read_to_string(&pred).expect("pred");
    let mut lines = p.lines();
    assert_eq!(lines.next(), Some("t1,t2"));
    let first: Vec<f64> = lines
        .next()
        .expect("row")
        .split(',')
        .map(|v| v.parse().expect("num"))
        .collect();
    // near the noiseless truth t1 = 2a - b + 0.5 = -1.5, t2 = a + 3c = 3.5
    assert!(
        (first[0] + 1.5).abs() < 0.2 && (first[1] - 3.5).abs() < 0.2,
        "{first:?}"
    );

    // an unknown column is refused
    std::fs::write(&xcsv, "c,a,b,zzz\n1,0.5,3,1\n").expect("write");
    assert_user_error(
        &mtlkit(&["predict", s(&m), "--x", s(&xcsv), "--out", s(&pred)]),
        "unknown column 'zzz'",
    );
    std::fs::write(&xcsv, "c,a\n1,0.5\n").expect("write");
    assert_user_error(
        &mtlkit(&["predict", s(&m), "--x", s(&xcsv), "--out", s(&pred)]),
        "'b'",
    );
    let fit_csv = |data: &str, targets: &str, out: &str| {
        mtlkit(&[
            "fit",
            "--estimator",
            "multitask-lasso",
            "--alpha",
            "0.1",
            "--data",
            data,
            "--targets",
            targets,
            "--out",
            out,
        ])
    };
    // unknown target column
    assert_user_error(
        &fit_csv(s(&csv), "t1,nope", s(&m)),
        "unknown target column 'nope'",
    );
    // a non-number in the CSV
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "a,t\n1,2\nx,3\n").expect("write");
    assert_user_error(&fit_csv(s(&bad), "t", s(&m)), "line 3, column 'a'");
}

#[test]
fn bad_input_gives_one_line_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let x = Array2::from_shape_fn((6, 3), |(i, j)| (i * 3 + j) as f64 % 5.0);
    let y = Array2::from_shape_fn((6, 2), |(i, j)| (i + j) as f64);
    let (xp, yp) = (dir.path().join("x.npy"), dir.path().join("y.npy"));
    write_npy(&xp, &x);
    write_npy(&yp, &y);
    let m = dir.path().join("m.safetensors");
    let fit = |extra: &[&str]| {
        let mut a = vec!["fit", "--x", s(&xp), "--y", s(&yp), "--out", s(&m)];
        a.extend_from_slice(extra);
        mtlkit(&a)
    };
    assert_user_error(
        &fit(&["--estimator", "multitask-lasso", "--alpha", "-1"]),
        "alpha",
    );
    assert_user_error(
        &fit(&["--estimator", "multitask-lasso", "--alpha", "NaN"]),
        "alpha",
    );
    assert_user_error(
        &fit(&[
            "--estimator",
            "multitask-lasso",
            "--alpha",
            "1",
            "--l1-ratio",
            "0.5",
        ]),
        "--l1-ratio",
    );
    assert_user_error(
        &fit(&[
            "--estimator",
            "multitask-elasticnet",
            "--alpha",
            "1",
            "--l1-ratio",
            "2",
        ]),
        "l1_ratio",
    );
    assert_user_error(
        &fit(&[
            "--estimator",
            "multitask-lasso",
            "--alpha",
            "1",
            "--tol",
            "-1",
        ]),
        "tol",
    );
    assert_user_error(
        &fit(&[
            "--estimator",
            "multitask-lasso",
            "--alpha",
            "1",
            "--max-iter",
            "0",
        ]),
        "max_iter",
    );
    assert!(!m.exists());
    let swp = dir.path().join("sw.npy");
    let lasso_sw = [
        "--estimator",
        "multitask-lasso",
        "--alpha",
        "0.1",
        "--sample-weight",
        s(&swp),
    ];
    // a negative weight, then a wrong length
    for bad in [vec![1.0, 2.0, -1.0, 1.0, 1.0, 1.0], vec![1.0, 2.0, 1.0]] {
        write_npy(&swp, &Array1::from(bad));
        assert_user_error(&fit(&lasso_sw), "sample_weight");
    }
    write_npy(&swp, &Array1::from(vec![1.0, 2.0, 1.0, 0.0, 1.0, 3.0]));
    let ok = fit(&lasso_sw);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    std::fs::remove_file(&m).unwrap();

    // NaN in X, rows mismatch, missing file, unsupported extension
    let fit_xy = |x: &str, y: &str, out: &str| {
        mtlkit(&[
            "fit",
            "--estimator",
            "multitask-lasso",
            "--alpha",
            "1",
            "--x",
            x,
            "--y",
            y,
            "--out",
            out,
        ])
    };
    let mut xn = x.clone();
    xn[[2, 1]] = f64::NAN;
    let xnp = dir.path().join("xn.npy");
    write_npy(&xnp, &xn);
    assert_user_error(&fit_xy(s(&xnp), s(&yp), s(&m)), "non-finite");
    let y5 = dir.path().join("y5.npy");
    write_npy(&y5, &Array2::<f64>::zeros((5, 2)));
    assert_user_error(&fit_xy(s(&xp), s(&y5), s(&m)), "rows");
    assert_user_error(
        &fit_xy("/nonexistent/x.npy", s(&yp), s(&m)),
        "/nonexistent/x.npy",
    );
    assert_user_error(&fit_xy("x.txt", s(&yp), s(&m)), "unsupported file type");
    // a write into a missing folder fails cleanly and leaves nothing
    let nowhere = dir.path().join("no/such/dir/m.safetensors");
    assert_user_error(
        &mtlkit(&[
            "fit",
            "--estimator",
            "multitask-lasso",
            "--alpha",
            "0.1",
            "--x",
            s(&xp),
            "--y",
            s(&yp),
            "--out",
            s(&nowhere),
        ]),
        "writing",
    );
    assert!(!nowhere.exists());

    // a good model, then corrupt and foreign model files
    let out = fit(&["--estimator", "multitask-lasso", "--alpha", "0.1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pred = dir.path().join("p.npy");
    let x4 = dir.path().join("x4.npy");
    write_npy(&x4, &Array2::<f64>::zeros((2, 4)));
    assert_user_error(
        &mtlkit(&["predict", s(&m), "--x", s(&x4), "--out", s(&pred)]),
        "n_features",
    );
    let bytes = std::fs::read(&m).expect("model");
    let trunc = dir.path().join("trunc.safetensors");
    std::fs::write(&trunc, &bytes[..bytes.len() / 2]).expect("write");
    assert_user_error(
        &mtlkit(&["predict", s(&trunc), "--x", s(&xp), "--out", s(&pred)]),
        "invalid model file",
    );
    let garbage = dir.path().join("garbage.safetensors");
    std::fs::write(&garbage, b"\xff\xff\xff\xff\xff\xff\xff\xffnot a model").expect("write");
    assert_user_error(
        &mtlkit(&["predict", s(&garbage), "--x", s(&xp), "--out", s(&pred)]),
        "invalid model file",
    );
    let foreign = dir.path().join("foreign.safetensors");
    let data = vec![0u8; 16];
    let tv = safetensors_view(&data);
    std::fs::write(&foreign, tv).expect("write");
    assert_user_error(
        &mtlkit(&["export", s(&foreign), "--out", s(&dir.path().join("e.npz"))]),
        "not an mtlkit model",
    );
    assert!(!pred.exists());
    // an .npy whose header claims far more values than the file holds: an error naming the
    // file, before any allocation of the claimed size
    let huge = dir.path().join("huge.npy");
    let mut header =
        b"{'descr': '<f8', 'fortran_order': False, 'shape': (3000000000, 3), }".to_vec();
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(b' ');
    }
    header.push(b'\n');
    let mut npy = b"\x93NUMPY\x01\x00".to_vec();
    npy.extend_from_slice(
        &u16::try_from(header.len())
            .expect("short header")
            .to_le_bytes(),
    );
    npy.extend_from_slice(&header);
    npy.extend_from_slice(&[0u8; 48]);
    std::fs::write(&huge, &npy).expect("write");
    assert_user_error(
        &mtlkit(&["predict", s(&m), "--x", s(&huge), "--out", s(&pred)]),
        "claims shape",
    );
    // a folder where the model should go is refused, not replaced
    let folder = dir.path().join("a-folder.safetensors");
    std::fs::create_dir(&folder).expect("mkdir");
    assert_user_error(
        &mtlkit(&[
            "fit",
            "--x",
            s(&xp),
            "--y",
            s(&yp),
            "--out",
            s(&folder),
            "--estimator",
            "multitask-lasso",
            "--alpha",
            "1",
        ]),
        "not a regular file",
    );
    assert!(folder.is_dir());
}

#[test]
fn a_repeated_column_name_is_an_error() {
    // predict (and fit) find columns by name: a header naming one twice is refused
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("d.csv");
    let mut text = String::from("x0,x1,t0\n");
    for i in 0..8 {
        text.push_str(&format!("{},{},{}\n", i % 3, (i * 7) % 5, i));
    }
    std::fs::write(&data, text).expect("write");
    let m = dir.path().join("m.safetensors");
    let out = mtlkit(&[
        "fit",
        "--data",
        s(&data),
        "--targets",
        "t0",
        "--estimator",
        "multitask-lasso",
        "--alpha",
        "0.1",
        "--out",
        s(&m),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dup = dir.path().join("dup.csv");
    std::fs::write(&dup, "x0,x0,x1\n100,1,2\n100,2,3\n").expect("write");
    assert_user_error(
        &mtlkit(&[
            "predict",
            s(&m),
            "--x",
            s(&dup),
            "--out",
            s(&dir.path().join("p.csv")),
        ]),
        "appears more than once",
    );
}

/// A valid safetensors file without mtlkit metadata (written by hand: header JSON + data).
fn safetensors_view(data: &[u8]) -> Vec<u8> {
    let header = format!(
        r#"{{"w":{{"dtype":"F64","shape":[2],"data_offsets":[0,{}]}}}}"#,
        data.len()
    );
    let mut h = header.into_bytes();
    while h.len() % 8 != 0 {
        h.push(b' ');
    }
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&h);
    out.extend_from_slice(data);
    out
}

#[test]
fn demo_prints_a_per_task_table() {
    let out = mtlkit(&["demo"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "motor_UPDRS",
        "total_UPDRS",
        "average",
        "R2 multi",
        "MSE single",
    ] {
        assert!(text.contains(needle), "missing {needle}: {text}");
    }
    let out = mtlkit(&["demo", "--json"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let tasks = v["tasks"].as_array().expect("tasks");
    assert_eq!(tasks.len(), 2);
    for t in tasks {
        let r2 = t["multitask"]["r2"].as_f64().expect("r2");
        assert!(r2 > 0.0 && r2 < 1.0, "{r2}");
    }
    assert_user_error(&mtlkit(&["demo", "--test-size", "1.5"]), "test_size");
}

#[test]
fn long_format_per_task_fit_with_mixed_losses_and_gz_input() {
    use std::io::Write;
    let dir = tempfile::tempdir().expect("tempdir");
    // two regression tasks of different sizes and one classification task (labels -1/1)
    let mut csv = String::from("school,f0,f1,score\n");
    for i in 0..30 {
        let (a, b) = ((i % 7) as f64, (i % 5) as f64 - 2.0);
        csv += &format!("alpha,{a},{b},{}\n", 1.5 * a - b + 0.1 * (i % 3) as f64);
        if i < 20 {
            csv += &format!("beta,{b},{a},{}\n", 0.5 * a + b);
        }
        let label = if a - b + 0.5 * ((i % 4) as f64 - 1.5) > 2.0 {
            1
        } else {
            -1
        };
        csv += &format!("gamma,{a},{b},{label}\n");
    }
    let plain = dir.path().join("long.csv");
    std::fs::write(&plain, &csv).unwrap();
    let gz = dir.path().join("long.csv.gz");
    let mut enc =
        flate2::write::GzEncoder::new(File::create(&gz).unwrap(), flate2::Compression::fast());
    enc.write_all(csv.as_bytes()).unwrap();
    enc.finish().unwrap();
    let model = dir.path().join("m.safetensors");
    let fit = |data: &Path| {
        mtlkit(&[
            "fit",
            "--estimator",
            "multitask-lasso",
            "--alpha",
            "0.01",
            "--data",
            s(data),
            "--task-col",
            "school",
            "--target",
            "score",
            "--loss",
            "squared,squared,logistic",
            "--tol",
            "1e-10",
            "--max-iter",
            "100000",
            "--out",
            s(&model),
            "--json",
        ])
    };
    let out = fit(&gz);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["n_tasks"], 3);
    assert_eq!(summary["converged"], true);
    assert_eq!(summary["losses"][2], "logistic");
    let gz_model = std::fs::read(&model).unwrap();
    // plain and compressed input give the same model
    assert!(fit(&plain).status.success());
    assert_eq!(std::fs::read(&model).unwrap(), gz_model);
    // long-format predict: one row per input row, its own task; labels in the task's encoding
    let pred = dir.path().join("pred.csv");
    let out = mtlkit(&[
        "predict",
        s(&model),
        "--data",
        s(&plain),
        "--task-col",
        "school",
        "--out",
        s(&pred),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&pred).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "school,prediction,probability");
    assert_eq!(lines.len(), 1 + 30 + 20 + 30);
    for l in &lines[1..] {
        let f: Vec<&str> = l.split(',').collect();
        if f[0] == "gamma" {
            assert!(f[1] == "1.0" || f[1] == "-1.0", "{l}");
            let p: f64 = f[2].parse().unwrap();
            assert_eq!(f[1] == "1.0", p > 0.5, "{l}");
        } else {
            assert!(f[2].is_empty(), "{l}");
        }
    }
    // errors: unknown task column, three classes for a logistic task, missing target column
    assert_user_error(
        &mtlkit(&[
            "fit",
            "--estimator",
            "multitask-lasso",
            "--alpha",
            "0.1",
            "--data",
            s(&plain),
            "--task-col",
            "nope",
            "--target",
            "score",
            "--out",
            s(&model),
        ]),
        "unknown task column 'nope'",
    );
    assert_user_error(
        &mtlkit(&[
            "fit",
            "--estimator",
            "multitask-lasso",
            "--alpha",
            "0.1",
            "--data",
            s(&plain),
            "--task-col",
            "school",
            "--target",
            "score",
            "--loss",
            "logistic",
            "--out",
            s(&model),
        ]),
        "logistic loss needs binary labels",
    );
    assert_user_error(
        &mtlkit(&[
            "fit",
            "--estimator",
            "multitask-lasso",
            "--alpha",
            "0.1",
            "--data",
            s(&plain),
            "--task-col",
            "school",
            "--out",
            s(&model),
        ]),
        "--task-col needs --target",
    );
}

#[test]
fn wide_csv_with_missing_targets_fits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut csv = String::from("f0,f1,y0,y1\n");
    for i in 0..25 {
        let (a, b) = ((i % 6) as f64, (i % 4) as f64);
        let y1 = if i % 5 == 0 {
            "NA".to_string()
        } else {
            format!("{}", a - b)
        };
        csv += &format!("{a},{b},{},{y1}\n", a + 2.0 * b);
    }
    let data = dir.path().join("wide.csv");
    std::fs::write(&data, csv).unwrap();
    let model = dir.path().join("m.safetensors");
    let out = mtlkit(&[
        "fit",
        "--estimator",
        "multitask-lasso",
        "--alpha",
        "0.01",
        "--data",
        s(&data),
        "--targets",
        "y0,y1",
        "--out",
        s(&model),
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["converged"], true);
}

#[test]
fn float32_npy_designs_are_fitted_in_single_precision() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (x, y, alpha, _, _) = fixture("tall_lasso_01");
    let x32 = x.mapv(|v| v as f32);
    let (p32, p64, py) = (
        dir.path().join("x32.npy"),
        dir.path().join("x64.npy"),
        dir.path().join("y.npy"),
    );
    write_npy(&p32, &x32);
    write_npy(&p64, &x32.mapv(f64::from));
    write_npy(&py, &y);
    let fit = |xp: &Path, out: &Path| {
        let o = mtlkit(&[
            "fit",
            "--estimator",
            "multitask-lasso",
            "--alpha",
            &alpha.to_string(),
            "--x",
            s(xp),
            "--y",
            s(&py),
            "--fit-intercept",
            "false",
            "--tol",
            "1e-12",
            "--out",
            s(out),
            "--json",
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["loss"], "squared");
        assert!(v.get("losses").is_none());
    };
    let (m32, m64) = (
        dir.path().join("m32.safetensors"),
        dir.path().join("m64.safetensors"),
    );
    fit(&p32, &m32);
    fit(&p64, &m64);
    let coef = |m: &Path| {
        let e = dir.path().join("e.npz");
        assert!(mtlkit(&["export", s(m), "--out", s(&e)]).status.success());
        let mut z = NpzReader::new(File::open(&e).unwrap()).unwrap();
        let c: Array2<f64> = z.by_name("coef").unwrap();
        c
    };
    let (a, b) = (coef(&m32), coef(&m64));
    let diff = (&a - &b).mapv(f64::abs).sum();
    assert!(diff <= 1e-8 * b.mapv(f64::abs).sum(), "{diff:e}");
}

#[test]
fn path_and_cv_print_save_and_draw() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (x, y, _, _, _) = fixture("tall_lasso_01");
    let (xp, yp) = (dir.path().join("x.npy"), dir.path().join("y.npy"));
    write_npy(&xp, &x);
    write_npy(&yp, &y);
    // `mtlkit path --estimator multitask-lasso --x … --y …` with more arguments
    let path = |extra: &[&str]| {
        let mut a = vec![
            "path",
            "--estimator",
            "multitask-lasso",
            "--x",
            s(&xp),
            "--y",
            s(&yp),
        ];
        a.extend_from_slice(extra);
        mtlkit(&a)
    };
    let figs = dir.path().join("figs");
    let out = path(&["--n-alphas", "12", "--figures", s(&figs), "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["alphas"].as_array().unwrap().len(), 12);
    // the path starts at alpha_max: every coefficient zero there
    assert_eq!(v["n_active_features"][0], 0);
    assert!(v["n_active_features"][11].as_u64().unwrap() > 0);
    for f in ["path.svg", "path.png"] {
        let bytes = std::fs::read(figs.join(f)).unwrap();
        assert!(bytes.len() > 1000, "{f}");
    }
    assert!(
        std::fs::read(figs.join("path.png"))
            .unwrap()
            .starts_with(b"\x89PNG")
    );
    let model = dir.path().join("cv.safetensors");
    let out = mtlkit(&[
        "cv",
        "--estimator",
        "multitask-elasticnet",
        "--l1-ratios",
        "0.5,1",
        "--x",
        s(&xp),
        "--y",
        s(&yp),
        "--n-alphas",
        "10",
        "--folds",
        "4",
        "--tol",
        "1e-8",
        "--out",
        s(&model),
        "--figures",
        s(&figs),
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["n_folds"], 4);
    assert_eq!(v["mean_score"].as_array().unwrap().len(), 2);
    let alpha = v["alpha"].as_f64().unwrap();
    assert!(
        v["alphas"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r.as_array().unwrap())
            .any(|a| a.as_f64() == Some(alpha))
    );
    assert!(std::fs::metadata(&model).unwrap().len() > 0);
    assert!(std::fs::read(figs.join("cv.svg")).unwrap().len() > 1000);
    // alphas no log axis can draw: a subnormal one is left off with a warning; 320 decades
    // or only zero are an error at once (the first two looped in plotters' tick code), and
    // no temporary is left in the folder
    let sub = dir.path().join("sub");
    let out = path(&["--alphas", "5e-324,0.1", "--figures", s(&sub)]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("left off the figure's log axis"));
    for alphas in ["1e-160,1e160", "0"] {
        let bad_figs = dir.path().join(format!("bad-{}", alphas.len()));
        let out = path(&["--alphas", alphas, "--figures", s(&bad_figs)]);
        assert!(!out.status.success(), "{alphas}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("decades") || err.contains("no positive alpha"),
            "{err}"
        );
        let left: Vec<_> = std::fs::read_dir(&bad_figs).map_or(Vec::new(), |d| d.collect());
        assert!(left.is_empty(), "{alphas}: {left:?}");
    }
    // --n-alphas with explicit --alphas would be ignored: refused
    let out = path(&["--alphas", "0.1,0.01", "--n-alphas", "5"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be used with"));
    // export: not over the model file itself, and only to an .npz
    for bad_out in [&model, &dir.path().join("plain")] {
        let out = mtlkit(&["export", s(&model), "--out", s(bad_out)]);
        assert!(!out.status.success());
    }
    assert!(std::fs::metadata(&model).unwrap().len() > 0);
    // bad flags are one-line errors
    assert_user_error(
        &mtlkit(&[
            "cv",
            "--estimator",
            "multitask-lasso",
            "--l1-ratios",
            "0.5",
            "--x",
            s(&xp),
            "--y",
            s(&yp),
            "--out",
            s(&model),
        ]),
        "--l1-ratios applies to multitask-elasticnet only",
    );
    assert_user_error(
        &mtlkit(&[
            "path",
            "--estimator",
            "multitask-lasso",
            "--x",
            s(&xp),
            "--y",
            s(&yp),
            "--eps",
            "2",
        ]),
        "--eps must be in (0, 1)",
    );
}

/// Issue 7: `fit --penalty` fits a structured model, saved in the same format and predicted by
/// `predict`; its `structure` names the regularizers; a bad spec is a one-line error.
#[test]
fn structured_penalties_fit_save_and_predict() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y, _, _, _) = fixture("tall_lasso_01");
    let (xp, yp) = (dir.path().join("x.npy"), dir.path().join("y.npy"));
    write_npy(&xp, &x);
    write_npy(&yp, &y);
    let model = dir.path().join("m.safetensors");
    let out = mtlkit(&[
        "fit",
        "--penalty",
        "l1-inf=0.05+lasso=0.05",
        "--graph-edges",
        "0-1,1-2",
        "--graph-alpha",
        "0.5",
        "--tol",
        "1e-8",
        "--max-iter",
        "100000",
        "--x",
        s(&xp),
        "--y",
        s(&yp),
        "--out",
        s(&model),
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["estimator"], "structured");
    assert_eq!(summary["converged"], true);
    assert_eq!(summary["structure"]["parts"][0]["kind"], "l1-inf");
    assert_eq!(summary["structure"]["parts"][1]["kind"], "lasso");
    let pred = dir.path().join("p.npy");
    let out = mtlkit(&["predict", s(&model), "--x", s(&xp), "--out", s(&pred)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let p = Array2::<f64>::read_npy(File::open(&pred).unwrap()).unwrap();
    assert_eq!(p.dim(), y.dim());
    // the same fit through the library gives the same predictions
    let m = mtlkit_linear::MultiTaskLinearModel::load(&model).unwrap();
    let lib = x.dot(&m.coef()) + m.intercept();
    assert!((&p - &lib).iter().all(|v| v.abs() < 1e-12));
    for (spec, needle) in [
        ("trace-norm", "KIND=ALPHA"),
        ("nonsense=1", "unknown regularizer"),
        ("lasso=abc", "not a number"),
        ("lasso=1:2", "takes no gamma"),
        ("lasso=-1", "alpha"),
    ] {
        let out = mtlkit(&[
            "fit",
            "--penalty",
            spec,
            "--x",
            s(&xp),
            "--y",
            s(&yp),
            "--out",
            s(&model),
        ]);
        assert_user_error(&out, needle);
    }
    let out = mtlkit(&["fit", "--x", s(&xp), "--y", s(&yp), "--out", s(&model)]);
    assert_user_error(&out, "--alpha is required");
    // the alternating models: the learned covariance lands in the model's metadata
    for (spec, kind, n) in [
        ("mtrl=0.01:0.1", "mtrl", y.ncols()),
        ("feature-learning=0.1", "feature-learning", x.ncols()),
        ("clustered=0.1:0.01:2", "clustered", y.ncols()),
    ] {
        let out = mtlkit(&[
            "fit",
            "--penalty",
            spec,
            "--x",
            s(&xp),
            "--y",
            s(&yp),
            "--out",
            s(&model),
            "--json",
        ]);
        assert!(
            out.status.success(),
            "{spec}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(summary["structure"]["model"], kind);
        let cov = summary["structure"]["covariance"].as_array().unwrap();
        assert_eq!(cov.len(), n, "{spec}");
        let out = mtlkit(&["predict", s(&model), "--x", s(&xp), "--out", s(&pred)]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = mtlkit(&[
        "fit",
        "--penalty",
        "clustered=0.1:0.01",
        "--x",
        s(&xp),
        "--y",
        s(&yp),
        "--out",
        s(&model),
    ]);
    assert_user_error(&out, "takes 3 value(s)");
}

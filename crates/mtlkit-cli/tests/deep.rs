//! `mtlkit train` / `mtlkit evaluate` end to end on small generated tables.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

mod common;
use common::mtlkit;

/// A seeded generator of uniform values in [−1, 1) (a linear congruential generator).
fn uniform(seed: u64) -> impl FnMut() -> f64 {
    let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) as f64) / f64::from(1u32 << 31) * 2.0 - 1.0
    }
}

/// A CSV with inputs a, b, c, a regression label (some missing) and a binary label.
fn write_table(path: &Path, n: usize, seed: u64) {
    let mut s = String::from("a,b,c,y,label\n");
    let mut next = uniform(seed);
    for i in 0..n {
        let (a, b, c) = (next(), next(), next());
        let y = if i % 7 == 3 {
            String::new()
        } else {
            format!("{:.5}", 2.0 * a - b + 0.5 * c)
        };
        let label = u8::from(a + c > 0.0);
        s.push_str(&format!("{a:.5},{b:.5},{c:.5},{y},{label}\n"));
    }
    std::fs::write(path, s).unwrap();
}

const CONFIG: &str = r#"
[data]
train = "train.csv"
test = "test.csv"

[[tasks]]
name = "y"
column = "y"
kind = { type = "regression" }

[[tasks]]
name = "label"
column = "label"
kind = { type = "binary" }

[model]
architecture = "ARCH"
hidden = [16]
EXTRA

[trainer]
epochs = 8
batch_size = 32
lr = 0.01
progress = false

[run]
seeds = [0, 1]
single_task = true
"#;

#[test]
fn train_then_evaluate_every_architecture() {
    let dir = tempfile::tempdir().unwrap();
    write_table(&dir.path().join("train.csv"), 300, 1);
    write_table(&dir.path().join("test.csv"), 100, 2);
    for (arch, extra) in [
        ("hard-sharing", ""),
        ("mmoe", "experts = 3"),
        ("cgc", "shared_experts = 2\ntask_experts = 1"),
        ("ple", "levels = 2\nshared_experts = 1\ntask_experts = 1"),
        ("cross-stitch", ""),
        ("dselect-k", "experts = 3\nk = 2"),
    ] {
        let cfg = dir.path().join(format!("{arch}.toml"));
        std::fs::write(&cfg, CONFIG.replace("ARCH", arch).replace("EXTRA", extra)).unwrap();
        let out = dir.path().join(arch);
        let o = mtlkit(&[
            "train",
            "--config",
            cfg.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--json",
        ]);
        assert!(
            o.status.success(),
            "{arch}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let r = &report["report"];
        assert_eq!(r["report_set"], "test");
        assert_eq!(r["multi_task"].as_array().unwrap().len(), 2);
        assert_eq!(r["single_task"].as_array().unwrap().len(), 4);
        assert!(r["delta_m"][0].as_f64().unwrap().is_finite());
        // the binary task learned something on the test set
        let auc = r["multi_task"][0]["report"]["metrics"][1][0][1]
            .as_f64()
            .unwrap();
        assert!(auc > 0.8, "{arch}: test AUC {auc}");
        // the saved model (the best validation seed) reproduces that run's test losses
        let model = out.join("model.safetensors");
        let e = mtlkit(&[
            "evaluate",
            model.to_str().unwrap(),
            "--data",
            dir.path().join("test.csv").to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
            "--json",
        ]);
        assert!(e.status.success(), "{}", String::from_utf8_lossy(&e.stderr));
        let ev: serde_json::Value = serde_json::from_slice(&e.stdout).unwrap();
        let losses = ev["evaluation"]["losses"].as_array().unwrap();
        let reported: Vec<Vec<f64>> = r["multi_task"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                m["report"]["losses"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_f64().unwrap())
                    .collect()
            })
            .collect();
        let got: Vec<f64> = losses.iter().map(|v| v.as_f64().unwrap()).collect();
        assert!(
            reported.iter().any(|rep| rep
                .iter()
                .zip(&got)
                .all(|(a, b)| (a - b).abs() <= 1e-5 * a.abs().max(1.0))),
            "{arch}: evaluate gives {got:?}, the runs reported {reported:?}"
        );
    }
}

#[test]
fn bad_configurations_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    write_table(&dir.path().join("train.csv"), 50, 1);
    write_table(&dir.path().join("test.csv"), 20, 2);
    let cases = [
        (
            CONFIG.replace("ARCH", "mmoe").replace("EXTRA", ""),
            "missing field `experts`",
        ),
        (
            CONFIG.replace("ARCH", "transformer").replace("EXTRA", ""),
            "transformer",
        ),
        (
            CONFIG
                .replace("ARCH", "hard-sharing")
                .replace("EXTRA", "")
                .replace("column = \"y\"", "column = \"nope\""),
            "unknown column 'nope'",
        ),
        (
            CONFIG
                .replace("ARCH", "hard-sharing")
                .replace("EXTRA", "")
                .replace("lr = 0.01", "lr = -1.0"),
            "lr must be positive",
        ),
        (
            CONFIG
                .replace("ARCH", "hard-sharing")
                .replace("EXTRA", "")
                .replace("epochs = 8", "epochs = 8\nbogus = 1"),
            "bogus",
        ),
        (
            CONFIG
                .replace("ARCH", "hard-sharing")
                .replace("EXTRA", "")
                .replace("seeds = [0, 1]", "seeds = [0, 0]"),
            "seed 0 twice",
        ),
        (
            CONFIG
                .replace("ARCH", "hard-sharing")
                .replace("EXTRA", "")
                .replace(
                    "test = \"test.csv\"",
                    "test = \"test.csv\"\nfeatures = [\"a\", \"y\"]",
                ),
            "the label column of task 'y'",
        ),
        (
            CONFIG
                .replace("ARCH", "hard-sharing")
                .replace("EXTRA", "")
                .replace(
                    "test = \"test.csv\"",
                    "test = \"test.csv\"\nfeatures = [\"a\", \"a\"]",
                ),
            "lists 'a' twice",
        ),
    ];
    for (i, (cfg, needle)) in cases.iter().enumerate() {
        let p = dir.path().join(format!("c{i}.toml"));
        std::fs::write(&p, cfg).unwrap();
        let o = mtlkit(&[
            "train",
            "--config",
            p.to_str().unwrap(),
            "--out",
            dir.path().join("o").to_str().unwrap(),
        ]);
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(needle), "case {i}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
    // a corrupt model file
    let bad = dir.path().join("bad.safetensors");
    std::fs::write(&bad, b"garbage").unwrap();
    let o = mtlkit(&[
        "evaluate",
        bad.to_str().unwrap(),
        "--data",
        dir.path().join("test.csv").to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("bad.safetensors"));
    // a linear model is named as such, not reported as corrupt metadata
    let lin = dir.path().join("lin.safetensors");
    let o = mtlkit(&[
        "fit",
        "--estimator",
        "multitask-lasso",
        "--alpha",
        "0.1",
        "--data",
        dir.path().join("test.csv").to_str().unwrap(),
        "--targets",
        "y,label",
        "--out",
        lin.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = mtlkit(&[
        "evaluate",
        lin.to_str().unwrap(),
        "--data",
        dir.path().join("test.csv").to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("a linear mtlkit model, not a deep one"),
        "{err}"
    );
}

/// [`CONFIG`] with a hard-sharing model, `epochs` epochs, one seed and no single-task runs.
fn one_seed_config(epochs: usize) -> String {
    CONFIG
        .replace("ARCH", "hard-sharing")
        .replace("EXTRA", "")
        .replace("epochs = 8", &format!("epochs = {epochs}"))
        .replace("seeds = [0, 1]", "seeds = [0]")
        .replace("single_task = true", "single_task = false")
}

#[test]
fn a_run_folder_is_not_resumed_on_other_data() {
    // the checkpoints of a finished run in `out`; the same configuration on other training
    // data pointed at the same folder must not pick up that run's weights
    let dir = tempfile::tempdir().unwrap();
    write_table(&dir.path().join("train.csv"), 60, 1);
    write_table(&dir.path().join("other.csv"), 60, 3);
    write_table(&dir.path().join("test.csv"), 20, 2);
    let base = one_seed_config(2);
    let (c1, c2) = (dir.path().join("c1.toml"), dir.path().join("c2.toml"));
    std::fs::write(&c1, &base).unwrap();
    std::fs::write(
        &c2,
        base.replace("train = \"train.csv\"", "train = \"other.csv\""),
    )
    .unwrap();
    let out = dir.path().join("run");
    let train = |cfg: &Path| {
        mtlkit(&[
            "train",
            "--config",
            cfg.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
    };
    let first = train(&c1);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    // the same run again resumes (nothing left to do) and succeeds
    let again = train(&c1);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let other = train(&c2);
    assert!(
        !other.status.success(),
        "a run on other data resumed another run's checkpoint"
    );
    let err = String::from_utf8_lossy(&other.stderr);
    assert!(err.contains("other data"), "{err}");
}

/// Six regression tasks in two planted groups: tasks a0..a2 are scaled copies of one function
/// of x0..x2, tasks b0..b2 of another function of x3..x5 (independent noise per task).
fn write_grouped_table(path: &Path, n: usize, seed: u64) {
    let mut s = String::from("x0,x1,x2,x3,x4,x5,a0,a1,a2,b0,b1,b2\n");
    let mut next = uniform(seed);
    for _ in 0..n {
        let x: Vec<f64> = (0..6).map(|_| next()).collect();
        let fa = x[0] + x[1] * x[2] - 0.5 * x[2];
        let fb = x[3] * x[4] - x[5] + 0.5 * x[3];
        let mut ys = Vec::with_capacity(6);
        for c in [1.0, 0.8, 1.2] {
            ys.push(c * fa + 0.05 * next());
        }
        for c in [1.0, 1.3, 0.7] {
            ys.push(c * fb + 0.05 * next());
        }
        let row: Vec<String> = x.iter().chain(&ys).map(|v| format!("{v:.5}")).collect();
        s.push_str(&row.join(","));
        s.push('\n');
    }
    std::fs::write(path, s).unwrap();
}

#[test]
fn deep_affinity_recovers_planted_task_groups_and_groups_train() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("train.csv");
    write_grouped_table(&data, 600, 4);
    let tasks: String = ["a0", "a1", "a2", "b0", "b1", "b2"]
        .iter()
        .map(|t| format!("[[tasks]]\nname = \"{t}\"\ncolumn = \"{t}\"\nkind = {{ type = \"regression\" }}\n\n"))
        .collect();
    let cfg = format!(
        "[data]\ntrain = \"train.csv\"\n\n{tasks}[model]\narchitecture = \"hard-sharing\"\nhidden = [32]\ntower = [8]\n\n[trainer]\nepochs = 12\nbatch_size = 64\nlr = 0.01\nprogress = false\naffinity = {{ every = 2 }}\n\n[run]\nseeds = [0, 1]\n"
    );
    let cfg_path = dir.path().join("exp.toml");
    std::fs::write(&cfg_path, &cfg).unwrap();
    let out = dir.path().join("run");
    let o = mtlkit(&[
        "train",
        "--config",
        cfg_path.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("lookahead affinity"), "{text}");
    let look: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("affinity_lookahead.json")).unwrap())
            .unwrap();
    assert_eq!(look["kind"], "lookahead");
    assert_eq!(look["tasks"].as_array().unwrap().len(), 6);
    assert!(out.join("affinity_gradient-cosine.json").is_file());
    // the measured affinity, grouped by `mtlkit relate`, recovers the planted groups
    for file in ["affinity_lookahead.json", "affinity_gradient-cosine.json"] {
        let r = mtlkit(&[
            "relate",
            "--data",
            data.to_str().unwrap(),
            "--targets",
            "a0,a1,a2,b0,b1,b2",
            "--from",
            out.join(file).to_str().unwrap(),
            "--symmetrize",
            "--groups",
            "2",
            "--folds",
            "3",
            "--json",
        ]);
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
        let labels: Vec<u64> = v["grouping"]["labels"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(serde_json::Value::as_u64)
            .collect();
        assert_eq!(labels.len(), 6, "{v}");
        assert!(
            labels[0] == labels[1] && labels[1] == labels[2] && labels[3] == labels[4],
            "{file}: groups {labels:?}"
        );
        assert!(
            labels[4] == labels[5] && labels[0] != labels[3],
            "{file}: groups {labels:?}"
        );
    }
    // one model per group, reported next to the multi-task and single-task models
    let grouped = cfg.replace(
        "[run]\nseeds = [0, 1]\n",
        "[run]\nseeds = [0]\nsingle_task = true\ngroups = [[\"a0\", \"a1\", \"a2\"], [\"b0\", \"b1\", \"b2\"]]\n",
    );
    std::fs::write(&cfg_path, grouped).unwrap();
    let o = mtlkit(&[
        "train",
        "--config",
        cfg_path.to_str().unwrap(),
        "--out",
        dir.path().join("grouped").to_str().unwrap(),
        "--epochs",
        "3",
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let g = r["report"]["grouped"].as_array().unwrap();
    assert_eq!(g.len(), 2);
    assert_eq!(g[1]["tasks"], serde_json::json!(["b0", "b1", "b2"]));
    assert!(
        r["report"]["delta_m_grouped"][0]
            .as_f64()
            .unwrap()
            .is_finite()
    );
    // a task in two groups, an unknown task: one-line errors
    for (bad, needle) in [
        ("groups = [[\"a0\"], [\"a0\", \"b0\"]]", "twice"),
        ("groups = [[\"zz\"]]", "unknown task 'zz'"),
    ] {
        std::fs::write(
            &cfg_path,
            cfg.replace("[run]\n", &format!("[run]\n{bad}\n")),
        )
        .unwrap();
        let o = mtlkit(&[
            "train",
            "--config",
            cfg_path.to_str().unwrap(),
            "--out",
            dir.path().join("bad").to_str().unwrap(),
        ]);
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(needle), "{err}");
    }
}

#[test]
fn inputs_beyond_f32_and_tiny_evaluation_sets_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    write_table(&dir.path().join("train.csv"), 60, 1);
    write_table(&dir.path().join("test.csv"), 20, 2);
    let base = one_seed_config(1);
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, &base).unwrap();
    let train = |out: &str| {
        mtlkit(&[
            "train",
            "--config",
            cfg.to_str().unwrap(),
            "--out",
            dir.path().join(out).to_str().unwrap(),
        ])
    };
    // a test set of one row trains, with a warning that its metrics mean little
    let one = std::fs::read_to_string(dir.path().join("test.csv")).unwrap();
    let lines: Vec<&str> = one.lines().take(2).collect();
    std::fs::write(dir.path().join("test.csv"), lines.join("\n") + "\n").unwrap();
    let o = train("run1");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("task 'label': the test set has 1 labelled row;"),
        "{err}"
    );
    // 1e300 in an input column: refused, with its row and column (not "inf" after rounding)
    let train_csv = std::fs::read_to_string(dir.path().join("train.csv")).unwrap();
    let mut rows: Vec<String> = train_csv.lines().map(str::to_string).collect();
    let cells: Vec<&str> = rows[3].split(',').collect();
    rows[3] = format!("{},1e300,{}", cells[0], cells[2..].join(","));
    std::fs::write(dir.path().join("train.csv"), rows.join("\n") + "\n").unwrap();
    let o = train("run2");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("row 3 column 'b': input 1e300 is beyond f32's range"),
        "{err}"
    );
}

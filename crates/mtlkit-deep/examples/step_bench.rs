//! Cost of one training step (forward, backward, optimizer) for equal weighting and for every
//! gradient-level weighting method through the representation-level oracle, on the issue's
//! shapes: a shared-bottom MLP 100→256→256 with 3 regression heads, and an MMoE (8 experts
//! 100→64, towers 32, 2 tasks), batch 256, single thread, Adam.
//!
//! `cargo run --release -p mtlkit-deep --example step_bench [-- --steps 50 --json out.json]`;
//! `-- --census` times only the equal-weight step of the census MMoE of
//! `examples/adult_mmoe.toml` (95 inputs, 8 experts 95→32, towers 16, 2 binary tasks).
//! prints a table (median and interquartile range of the step's wall time, which on one
//! thread equals its CPU time) and, with `--json`, writes the raw figures.

use std::time::Instant;

use burn::optim::GradientsParams;
use mtlkit_deep::oracle::{parameter_step, representation_step};
use mtlkit_deep::{
    ArchConfig, BatchIndex, DeepDataset, DeepModel, MultiTaskModel, Targets, TaskKind, TaskSpec,
    TrainerConfig, cpu_device, seeded,
};
use mtlkit_weighting::Method;
use ndarray::{Array1, Array2};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn data(n: usize, d: usize, t: usize, kind: TaskKind) -> DeepDataset {
    let mut rng = StdRng::seed_from_u64(0);
    let x = Array2::from_shape_fn((n, d), |_| rng.random::<f32>() * 2.0 - 1.0);
    let specs: Vec<TaskSpec> = (0..t)
        .map(|k| TaskSpec::new(format!("t{k}"), kind.clone()))
        .collect();
    let binary = matches!(kind, TaskKind::Binary);
    let targets = specs
        .iter()
        .map(|s| {
            let y: Array1<f64> = (0..n)
                .map(|_| {
                    let u = rng.random::<f64>();
                    if binary {
                        f64::from(u8::from(u < 0.3))
                    } else {
                        u
                    }
                })
                .collect();
            Targets::from_column(s, y.view()).expect("finite targets")
        })
        .collect();
    DeepDataset::shared(x, targets, specs).expect("valid data")
}

/// One mode's model, optimizer, method and step times.
type ModeState = (
    DeepModel,
    burn::optim::ModuleOptimizer,
    Box<dyn mtlkit_weighting::Weighting>,
    Vec<f64>,
);

fn quantiles(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
    (q(0.5), q(0.25), q(0.75))
}

fn main() {
    let mut steps = 50usize;
    let mut json_out: Option<String> = None;
    // --census: only the equal-weight step of the MMoE of `examples/adult_mmoe.toml` (the MMoE
    // paper's census tasks on UCI Adult: 95 inputs, 8 experts 95→32, towers 16, 2 binary tasks
    // with BCE); the cost of a step does not depend on the values, so the inputs are random
    let mut census = false;
    let args: Vec<String> = std::env::args().collect();
    let mut i = 1;
    while i < args.len() {
        match args[i].as_str() {
            "--steps" => {
                steps = args
                    .get(i + 1)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(steps);
                i += 1;
            }
            "--json" => {
                json_out = args.get(i + 1).cloned();
                i += 1;
            }
            "--census" => census = true,
            _ => {}
        }
        i += 1;
    }
    let device = cpu_device();
    let methods = [
        "sum",
        "pcgrad",
        "upgrad",
        "mgda",
        "cagrad",
        "nash-mtl",
        "imtl-g",
        "aligned-mtl",
        "dualproj",
        "gradvac",
        "fairgrad",
        "graddrop",
    ];
    let all_cases: [(&str, ArchConfig, usize, usize, TaskKind); 3] = [
        (
            "shared-bottom 100-256-256, 3 heads",
            ArchConfig::HardSharing {
                hidden: vec![256, 256],
                tower: vec![],
                conv: None,
            },
            100,
            3,
            TaskKind::Regression,
        ),
        (
            "MMoE 8 experts 100-64, towers 32, 2 tasks",
            ArchConfig::Mmoe {
                hidden: vec![64],
                experts: 8,
                tower: vec![32],
                conv: None,
            },
            100,
            2,
            TaskKind::Regression,
        ),
        (
            "MMoE on Adult/census: 8 experts 95-32, towers 16, 2 binary tasks",
            ArchConfig::Mmoe {
                hidden: vec![32],
                experts: 8,
                tower: vec![16],
                conv: None,
            },
            95,
            2,
            TaskKind::Binary,
        ),
    ];
    let cases: Vec<_> = all_cases
        .into_iter()
        .enumerate()
        .filter(|(k, _)| (*k == 2) == census)
        .map(|(_, c)| c)
        .collect();
    let methods: &[&str] = if census { &[] } else { &methods };
    let mut rows = Vec::new();
    for (label, arch, d_in, t, kind) in cases {
        let ds = data(256, d_in, t, kind);
        let batch = ds
            .batch(&BatchIndex::Shared((0..256).collect()))
            .expect("rows of the data");
        let base = seeded(&device, 0, |d| arch.build(d_in, &vec![1; t], d));
        // every mode keeps its own model, optimizer and method; the modes take turns, one step
        // each per round (after 5 warm-up rounds), so drifts of the machine hit all alike
        let mut modes: Vec<String> = vec!["losses".into()];
        modes.extend(methods.iter().map(|m| (*m).to_string()));
        if !census {
            modes.push("parameters:pcgrad".into());
        }
        let mut state: Vec<ModeState> = modes
            .iter()
            .map(|mode| {
                let name = if mode == "losses" || mode == "parameters:pcgrad" {
                    "pcgrad"
                } else {
                    mode.as_str()
                };
                let m: Method =
                    serde_json::from_str(&format!(r#"{{"method":"{name}"}}"#)).expect("method");
                (
                    base.clone(),
                    TrainerConfig::default().build_optimizer(),
                    m.build(t, 0).expect("build"),
                    Vec::new(),
                )
            })
            .collect();
        for round in 0..steps + 5 {
            for (mode, (model, opt, w, times)) in modes.iter().zip(state.iter_mut()) {
                let t0 = Instant::now();
                let grads = if mode == "losses" {
                    let x = mtlkit_deep::loss::tensor2(&batch.x, &device);
                    let rr: Vec<_> = batch
                        .tasks
                        .iter()
                        .map(|t| t.as_ref().map(|tb| tb.rows.clone()))
                        .collect();
                    let total = model
                        .forward(x, &rr)
                        .into_iter()
                        .zip(&batch.tasks)
                        .enumerate()
                        .filter_map(|(i, (o, tb))| {
                            Some(mtlkit_deep::loss::task_loss(
                                &ds.specs()[i].loss(),
                                o?,
                                tb.as_ref()?,
                                &device,
                            ))
                        })
                        .reduce(|a, b| a + b)
                        .expect("tasks");
                    GradientsParams::from_grads(total.backward(), &*model)
                } else if mode == "parameters:pcgrad" {
                    parameter_step(&*model, &ds, &batch, w.as_mut(), &device)
                        .expect("step")
                        .grads
                } else {
                    representation_step(&*model, &ds, &batch, w.as_mut(), &device)
                        .expect("step")
                        .expect("split")
                        .grads
                };
                let m = std::mem::replace(model, base.clone());
                *model = opt.step(1e-3, m, grads);
                let _ = device.sync();
                if round >= 5 {
                    times.push(t0.elapsed().as_secs_f64() * 1e3);
                }
            }
        }
        let label_of = |mode: &str| match mode {
            "losses" => "equal weights (one backward of Σ L_t)".to_string(),
            "parameters:pcgrad" => "pcgrad (parameter oracle)".to_string(),
            m => format!("{m} (representation oracle)"),
        };
        let all: Vec<(String, Vec<f64>)> = modes
            .iter()
            .zip(state)
            .map(|(m, s)| (label_of(m), s.3))
            .collect();
        let (eq_med, _, _) = quantiles(all[0].1.clone());
        println!("\n{label}, batch 256, {steps} steps, single thread");
        println!("| method | median ms | IQR ms | ratio to equal |");
        println!("|---|---|---|---|");
        for (name, v) in &all {
            let (m, lo, hi) = quantiles(v.clone());
            println!("| {name} | {m:.2} | {lo:.2}–{hi:.2} | {:.2} |", m / eq_med);
            rows.push(serde_json::json!({"case": label, "method": name, "median_ms": m, "q25_ms": lo, "q75_ms": hi, "ratio": m / eq_med}));
        }
    }
    if let Some(p) = json_out {
        let _ = std::fs::write(&p, serde_json::to_string_pretty(&rows).unwrap_or_default());
    }
}

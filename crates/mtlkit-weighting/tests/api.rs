//! Checkpointing, errors, task subsets, `update_every`, configs and monitoring.

mod common;
use common::*;
use mtlkit_weighting::monitor::{Monitor, StepStats, conflict_ratio, cosines};
use mtlkit_weighting::{Method, Need, StepInput, Weighting, WeightingError};
use ndarray::{Array1, Array2, array};
use rand::Rng;

fn step(
    m: &mut dyn Weighting,
    j: &Array2<f64>,
    l: &Array1<f64>,
    tasks: Option<&[usize]>,
) -> (Array1<f64>, Option<Array1<f64>>) {
    let mut input = StepInput::new(l.view());
    if m.need_now() >= Need::Gramian {
        input = input.with_jacobian(j.view());
    }
    if let Some(t) = tasks {
        input = input.with_tasks(t);
    }
    let out = m.aggregate(&input).expect("aggregate");
    if m.wants_losses_after_step() {
        m.observe_losses_after_step((l * 0.95).view(), tasks)
            .expect("observe");
    }
    (out.weights, out.direction)
}

#[test]
fn checkpoint_round_trip_continues_identically() {
    let t = 4;
    let mut r = rng(40);
    let inputs: Vec<(Array2<f64>, Array1<f64>)> = (0..30)
        .map(|_| {
            let j = random_j(&mut r, t, 7);
            let l = Array1::from_shape_fn(t, |_| 0.1 + r.random::<f64>());
            (j, l)
        })
        .collect();
    let mut all = Method::all_defaults(t);
    all.push(method(r#"{"method":"upgrad","update_every":3}"#));
    all.push(method(r#"{"method":"nash-mtl","update_every":2}"#));
    all.push(method(r#"{"method":"stch","warmup_epochs":0}"#));
    for m in all {
        let mut a = m.build(t, 9).unwrap();
        for (s, (j, l)) in inputs.iter().take(17).enumerate() {
            step(a.as_mut(), j, l, None);
            if s % 5 == 4 {
                a.end_epoch();
            }
        }
        let saved = serde_json::to_string(&a.state().unwrap()).unwrap();
        let mut b = m.build(t, 9).unwrap();
        b.load_state(&serde_json::from_str(&saved).unwrap())
            .unwrap();
        for (s, (j, l)) in inputs.iter().enumerate().skip(17) {
            let (wa, da) = step(a.as_mut(), j, l, None);
            let (wb, db) = step(b.as_mut(), j, l, None);
            assert_eq!(wa, wb, "{m:?}: step {s}");
            assert_eq!(da, db, "{m:?}: step {s}");
            if s % 5 == 4 {
                a.end_epoch();
                b.end_epoch();
            }
        }
        assert_eq!(a.state().unwrap(), b.state().unwrap(), "{m:?}");
    }
}

#[test]
fn restoring_a_foreign_state_is_an_error() {
    let a = build(r#"{"method":"uncertainty"}"#, 3);
    let st = a.state().unwrap();
    let mut other = build(r#"{"method":"imtl-l"}"#, 3);
    assert!(matches!(
        other.load_state(&st),
        Err(WeightingError::State(_))
    ));
    let mut fewer = build(r#"{"method":"uncertainty"}"#, 2);
    assert!(matches!(
        fewer.load_state(&st),
        Err(WeightingError::State(_))
    ));
    let mut same = build(r#"{"method":"uncertainty"}"#, 3);
    assert!(same.load_state(&serde_json::json!({"garbage": 1})).is_err());
    same.load_state(&st).unwrap();
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let j = torchjd_j();
    let l = array![1.0, 1.0];
    let mut m = build(r#"{"method":"upgrad"}"#, 2);
    // Missing Gramian/Jacobian.
    assert!(matches!(
        m.aggregate(&StepInput::new(l.view())),
        Err(WeightingError::MissingInput {
            need: Need::Gramian,
            ..
        })
    ));
    // Wrong shapes.
    let g3 = Array2::<f64>::eye(3);
    assert!(matches!(
        m.aggregate(&StepInput::new(l.view()).with_gramian(g3.view())),
        Err(WeightingError::Shape { .. })
    ));
    let l3 = array![1.0, 1.0, 1.0];
    assert!(matches!(
        m.aggregate(&StepInput::new(l3.view()).with_jacobian(j.view())),
        Err(WeightingError::Shape { .. })
    ));
    // NaN / inf.
    let mut jn = j.clone();
    jn[[0, 1]] = f64::NAN;
    assert!(matches!(
        m.aggregate(&StepInput::new(l.view()).with_jacobian(jn.view())),
        Err(WeightingError::NonFinite { .. })
    ));
    let mut gi = gram(&j);
    gi[[1, 1]] = f64::INFINITY;
    assert!(matches!(
        m.aggregate(&StepInput::new(l.view()).with_gramian(gi.view())),
        Err(WeightingError::NonFinite { .. })
    ));
    assert!(matches!(
        m.aggregate(&StepInput::new(array![f64::NAN, 1.0].view()).with_jacobian(j.view())),
        Err(WeightingError::NonFinite { .. })
    ));
    // Not a Gramian: a negative diagonal, asymmetric, a zero diagonal with a non-zero
    // off-diagonal, indefinite (|G_01| > sqrt(G_00 G_11)); each is an error for every
    // Gramian-level method, and J Jᵀ itself (symmetric up to rounding) is accepted
    for bad in [
        array![[-1.0, 0.0], [0.0, 1.0]],
        array![[1.0, 5.0], [-5.0, 1.0]],
        array![[0.0, 1.0], [1.0, 0.0]],
        array![[1.0, 2.0], [2.0, 1.0]],
        array![[1.0, 0.0], [1e-4, 1.0]],
    ] {
        for method in [
            r#"{"method":"mgda"}"#,
            r#"{"method":"upgrad"}"#,
            r#"{"method":"cagrad"}"#,
        ] {
            let mut mm = build(method, 2);
            assert!(
                matches!(
                    mm.aggregate(&StepInput::new(l.view()).with_gramian(bad.view())),
                    Err(WeightingError::InvalidInput(_))
                ),
                "{method} accepted {bad}"
            );
        }
    }
    let jj = array![[0.1, 3.0, -2.0], [1e-3, 7.0, 0.5]];
    let mut g_ok = jj.dot(&jj.t());
    g_ok[[0, 1]] *= 1.0 + 1e-12;
    assert!(
        m.aggregate(&StepInput::new(l.view()).with_gramian(g_ok.view()))
            .is_ok()
    );
    // Jacobian-level methods need J, not G.
    let mut gd = build(r#"{"method":"graddrop"}"#, 2);
    let g = gram(&j);
    assert!(matches!(
        gd.aggregate(&StepInput::new(l.view()).with_gramian(g.view())),
        Err(WeightingError::MissingInput {
            need: Need::Jacobian,
            ..
        })
    ));
    // Negative losses for log-based methods.
    let mut ls = build(r#"{"method":"log-sum"}"#, 2);
    assert!(matches!(
        ls.aggregate(&StepInput::new(array![-1.0, 1.0].view())),
        Err(WeightingError::InvalidInput(_))
    ));
    // Jacobian width must stay constant for methods with buffers.
    let mut db = build(r#"{"method":"db-mtl"}"#, 2);
    db.aggregate(&StepInput::new(l.view()).with_jacobian(j.view()))
        .unwrap();
    let j4 = Array2::<f64>::ones((2, 4));
    assert!(
        db.aggregate(&StepInput::new(l.view()).with_jacobian(j4.view()))
            .is_err()
    );
    // Bad task subsets.
    let mut mean = build(r#"{"method":"mean"}"#, 3);
    assert!(matches!(
        mean.aggregate(&StepInput::new(l.view()).with_tasks(&[0, 0])),
        Err(WeightingError::InvalidTasks(_))
    ));
    assert!(matches!(
        mean.aggregate(&StepInput::new(l.view()).with_tasks(&[0, 5])),
        Err(WeightingError::InvalidTasks(_))
    ));
    assert!(matches!(
        mean.aggregate(&StepInput::new(l.view()).with_tasks(&[0])),
        Err(WeightingError::InvalidTasks(_))
    ));
    assert!(matches!(
        mean.aggregate(&StepInput::new(l.view())),
        Err(WeightingError::Shape { .. })
    ));
}

#[test]
fn invalid_hyperparameters_are_errors() {
    for json in [
        r#"{"method":"cagrad","c":-0.5}"#,
        r#"{"method":"dwa","temperature":0.0}"#,
        r#"{"method":"stch","mu":-1.0}"#,
        r#"{"method":"fairgrad","alpha":0.0}"#,
        r#"{"method":"upgrad","reg_eps":-1e-4}"#,
        r#"{"method":"upgrad","update_every":0}"#,
        r#"{"method":"gradvac","beta":1.5}"#,
        r#"{"method":"graddrop","leak":2.0}"#,
        r#"{"method":"famo","w_lr":0.0}"#,
        r#"{"method":"uncertainty","optimizer":{"lr":-1.0}}"#,
        r#"{"method":"uncertainty","init":-1000.0}"#,
        r#"{"method":"fixed","weights":[1.0]}"#,
        r#"{"method":"fixed","weights":[1.0,-2.0,1.0]}"#,
        r#"{"method":"mgda","max_iters":0}"#,
        r#"{"method":"nash-mtl","max_norm":-1.0}"#,
        r#"{"method":"db-mtl","beta":-0.1}"#,
        r#"{"method":"moco","gamma":-0.1}"#,
        r#"{"method":"excess-mtl","robust_step_size":-1.0}"#,
        r#"{"method":"gradnorm","alpha":-1.0}"#,
    ] {
        assert!(
            matches!(
                method(json).build(3, 0),
                Err(WeightingError::InvalidParameter { .. })
            ),
            "{json} should be rejected"
        );
    }
    // NaN cannot be written in JSON; through the typed config it is rejected as well.
    let cfg = mtlkit_weighting::methods::CaGradConfig {
        c: f64::NAN,
        ..Default::default()
    };
    assert!(Method::CaGrad(cfg).build(2, 0).is_err());
    assert!(method(r#"{"method":"mean"}"#).build(0, 0).is_err());
    // Unknown fields and methods are serde errors.
    assert!(serde_json::from_str::<Method>(r#"{"method":"cagrad","cc":1}"#).is_err());
    assert!(serde_json::from_str::<Method>(r#"{"method":"nope"}"#).is_err());
}

#[test]
fn configs_round_trip_through_json_with_paper_defaults() {
    for m in Method::all_defaults(3) {
        let s = serde_json::to_string(&m).unwrap();
        let back: Method = serde_json::from_str(&s).unwrap();
        assert_eq!(back, m, "{s}");
        let w = m.build(3, 0).unwrap();
        assert!(s.contains(&format!(r#""method":"{}""#, w.name())), "{s}");
    }
    match method(r#"{"method":"cagrad"}"#) {
        Method::CaGrad(c) => assert_eq!((c.c, c.norm_eps), (0.5, 1e-4)),
        other => panic!("{other:?}"),
    }
    match method(r#"{"method":"famo"}"#) {
        Method::Famo(c) => assert_eq!((c.w_lr, c.gamma), (0.025, 1e-3)),
        other => panic!("{other:?}"),
    }
    match method(r#"{"method":"nash-mtl"}"#) {
        Method::NashMtl(c) => assert_eq!((c.max_norm, c.update_every), (1.0, 1)),
        other => panic!("{other:?}"),
    }
    match method(r#"{"method":"dwa"}"#) {
        Method::Dwa(c) => assert_eq!(c.temperature, 2.0),
        other => panic!("{other:?}"),
    }
}

#[test]
fn needs_are_declared() {
    let t = 3;
    for m in Method::all_defaults(t) {
        let w = m.build(t, 0).unwrap();
        let want = match w.name() {
            "mean" | "sum" | "fixed" | "log-sum" | "uncertainty" | "dwa" | "gls" | "rlw"
            | "stch" | "famo" | "imtl-l" => Need::Losses,
            "excess-mtl" | "db-mtl" | "moco" | "graddrop" => Need::Jacobian,
            _ => Need::Gramian,
        };
        assert_eq!(w.need(), want, "{}", w.name());
        // Losses-level methods accept a bare step.
        if want == Need::Losses {
            let mut w = m.build(t, 0).unwrap();
            w.aggregate(&StepInput::new(Array1::ones(t).view()))
                .unwrap();
        }
    }
}

#[test]
fn update_every_reuses_weights_and_needs_only_losses_in_between() {
    let mut r = rng(41);
    let mut m = build(r#"{"method":"upgrad","update_every":3}"#, 3);
    let mut computed = Vec::new();
    for s in 0..9 {
        let j = random_j(&mut r, 3, 5);
        let l = Array1::ones(3);
        let due = m.need_now() == Need::Gramian;
        assert_eq!(due, s % 3 == 0, "step {s}");
        let input = if due {
            StepInput::new(l.view()).with_jacobian(j.view())
        } else {
            StepInput::new(l.view())
        };
        let out = m.aggregate(&input).unwrap();
        assert_eq!(out.updated, due);
        if due {
            computed.push(out.weights.clone());
            let mut fresh = build(r#"{"method":"upgrad"}"#, 3);
            assert_eq!(fresh.aggregate(&input).unwrap().weights, out.weights);
        } else {
            assert_eq!(&out.weights, computed.last().unwrap());
        }
    }
}

#[test]
fn task_subsets_map_back_to_task_ids() {
    let mut r = rng(42);
    // Stateless methods on a subset equal the method on the sub-problem.
    let j = random_j(&mut r, 4, 6);
    let sub = [3usize, 1];
    let js = Array2::from_shape_fn((2, 6), |(a, b)| j[[sub[a], b]]);
    let l = array![0.7, 1.3];
    for json in [
        r#"{"method":"upgrad"}"#,
        r#"{"method":"mgda"}"#,
        r#"{"method":"cagrad"}"#,
        r#"{"method":"imtl-g"}"#,
        r#"{"method":"gls"}"#,
    ] {
        let mut full = build(json, 4);
        let a = full
            .aggregate(
                &StepInput::new(l.view())
                    .with_jacobian(js.view())
                    .with_tasks(&sub),
            )
            .unwrap();
        let mut two = build(json, 2);
        let b = two
            .aggregate(&StepInput::new(l.view()).with_jacobian(js.view()))
            .unwrap();
        assert_eq!(a.weights, b.weights, "{json}");
    }
    // Fixed weights are picked by task id.
    let mut f = build(r#"{"method":"fixed","weights":[1,2,3,4]}"#, 4);
    let w = f
        .aggregate(&StepInput::new(l.view()).with_tasks(&sub))
        .unwrap()
        .weights;
    assert_eq!(w, array![4.0, 2.0]);
    // Stateful: only the present tasks' state moves.
    let mut u = mtlkit_weighting::methods::Uncertainty::new(4, Default::default()).unwrap();
    u.aggregate(&StepInput::new(l.view()).with_tasks(&sub))
        .unwrap();
    let s = u.log_variances();
    assert_eq!((s[0], s[2]), (-0.5, -0.5));
    assert!(s[1] != -0.5 && s[3] != -0.5);
    // Every method accepts subsets and returns one weight per row.
    for m in Method::all_defaults(4) {
        let mut w = m.build(4, 0).unwrap();
        for _ in 0..3 {
            let (wt, d) = step(w.as_mut(), &js, &l, Some(&sub));
            assert_eq!(wt.len(), 2, "{m:?}");
            assert!(wt.iter().all(|x| x.is_finite()));
            if let Some(d) = d {
                assert_eq!(d.len(), 6);
            }
            let (wt, _) = step(w.as_mut(), &j, &array![1.0, 1.0, 1.0, 1.0], None);
            assert_eq!(wt.len(), 4, "{m:?}");
        }
    }
}

#[test]
fn combine_returns_the_update_direction() {
    let j = torchjd_j();
    let mut m = build(r#"{"method":"sum"}"#, 2);
    let (out, d) = run_j(m.as_mut(), &j);
    assert_eq!(d, array![2.0, 2.0, 2.0]);
    assert!(out.combine(Array2::<f64>::zeros((3, 3)).view()).is_err());
}

#[test]
fn monitor_reports_cosines_and_conflicts() {
    let j = torchjd_j();
    let g = gram(&j);
    let c = cosines(g.view()).unwrap();
    let want = -22.0 / (18.0f64 * 38.0).sqrt();
    assert!((c[[0, 1]] - want).abs() < 1e-15 && c[[0, 0]] == 1.0);
    assert_eq!(conflict_ratio(c.view()), 1.0);
    let three = array![[1.0, 0.0], [0.0, 1.0], [-1.0, 0.1]];
    let c3 = cosines(gram(&three).view()).unwrap();
    assert!((conflict_ratio(c3.view()) - 1.0 / 3.0).abs() < 1e-15);

    let mut m = build(r#"{"method":"upgrad"}"#, 2);
    let l = array![1.0, 2.0];
    let input = StepInput::new(l.view()).with_jacobian(j.view());
    let out = m.aggregate(&input).unwrap();
    let stats = StepStats::new(&input, &out).unwrap();
    assert_eq!(stats.conflict_ratio, Some(1.0));
    assert_eq!(stats.weights, out.weights.to_vec());
    assert!((stats.gradient_norms.as_ref().unwrap()[0] - 18f64.sqrt()).abs() < 1e-12);
    let line = serde_json::to_string(&stats).unwrap();
    assert!(line.contains("conflict_ratio"));

    let mut mon = Monitor::new();
    mon.record(&stats);
    let stats2 = StepStats::new(&StepInput::new(l.view()), &out).unwrap();
    assert_eq!(stats2.cosines, None);
    mon.record(&stats2);
    assert_eq!(mon.steps(), 2);
    assert_eq!(mon.mean_conflict_ratio(), Some(1.0));
    let mw = mon.mean_weights();
    assert!((mw[0].unwrap() - out.weights[0]).abs() < 1e-15);
    mon.reset();
    assert_eq!(mon.steps(), 0);
    // huge gradients: the same cosines and conflicts, norms scaled (no overflowing Gramian)
    let big = &j * 1e160;
    let input = StepInput::new(l.view()).with_jacobian(big.view());
    let out = m.aggregate(&input).unwrap();
    let s = StepStats::new(&input, &out).unwrap();
    assert_eq!(s.conflict_ratio, Some(1.0));
    let n0 = s.gradient_norms.as_ref().unwrap()[0];
    assert!((n0 / (18f64.sqrt() * 1e160) - 1.0).abs() < 1e-12, "{n0}");
    // a Gramian of another size than the step's tasks is an error, not stats of other tasks
    let g3 = gram(&three);
    let wrong = StepInput::new(l.view()).with_gramian(g3.view());
    assert!(StepStats::new(&wrong, &out).is_err());
}

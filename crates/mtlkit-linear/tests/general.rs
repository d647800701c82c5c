//! The general formulation (one design per task, squared and logistic losses, loss scalings,
//! missing targets) against identities and independent oracles, on many random problems.
#![allow(clippy::unwrap_used)]

use mtlkit_core::{Fit, MultiTaskDataset, Predict};
use mtlkit_linear::{
    L21Ridge, LinearError, Loss, LossScaling, MultiTaskElasticNet, MultiTaskLasso,
    MultiTaskLinearModel,
};
use ndarray::{Array1, Array2, Axis, s};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn normal(rng: &mut StdRng) -> f64 {
    // Box–Muller
    let (u, v): (f64, f64) = (rng.random::<f64>().max(1e-300), rng.random());
    (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
}

/// Random per-task regression data: `T` tasks of different sizes over `d` features sharing a
/// row-sparse `W`.
fn regression_tasks(
    rng: &mut StdRng,
    sizes: &[usize],
    d: usize,
) -> Vec<(Array2<f64>, Array1<f64>)> {
    let k = (d / 3).max(1);
    let w: Array2<f64> =
        Array2::from_shape_fn(
            (d, sizes.len()),
            |(j, _)| {
                if j < k { normal(rng) } else { 0.0 }
            },
        );
    sizes
        .iter()
        .enumerate()
        .map(|(t, &n)| {
            let scale = 0.5 + t as f64; // tasks on different scales
            let x = Array2::from_shape_fn((n, d), |_| normal(rng) * scale + 0.3);
            let y = x.dot(&w.column(t)) + Array1::from_shape_fn(n, |_| 0.5 * normal(rng) + 1.0);
            (x, y)
        })
        .collect()
}

fn rel(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
    let diff = (a - b).mapv(|v| v * v).sum().sqrt();
    diff / b.mapv(|v| v * v).sum().sqrt().max(1e-300)
}

#[test]
fn identical_designs_per_task_give_the_shared_answer() {
    let mut rng = StdRng::seed_from_u64(1);
    for case in 0..12 {
        let (n, d, t) = (20 + case * 3, 5 + case % 6, 1 + case % 4);
        let x = Array2::from_shape_fn((n, d), |_| normal(&mut rng) + 0.5);
        let y = Array2::from_shape_fn((n, t), |_| normal(&mut rng) * 2.0 + 1.0);
        let shared = MultiTaskDataset::shared(x.clone(), y.clone()).unwrap();
        let per_task = MultiTaskDataset::per_task(
            (0..t)
                .map(|k| (x.clone(), y.column(k).to_owned()))
                .collect(),
        )
        .unwrap();
        let fit_intercept = case % 2 == 0;
        let l1_ratio = if case % 3 == 0 { 1.0 } else { 0.6 };
        let amax = MultiTaskElasticNet::new(1.0, l1_ratio)
            .fit_intercept(fit_intercept)
            .check()
            .unwrap()
            .alpha_max(&shared)
            .unwrap();
        let p = MultiTaskElasticNet::new(amax * 0.1, l1_ratio)
            .fit_intercept(fit_intercept)
            .tol(1e-13)
            .max_iter(100_000);
        let a = p.fit(&shared).unwrap();
        let b = p.fit(&per_task).unwrap();
        assert!(a.info().converged && b.info().converged, "case {case}");
        assert!(
            rel(&b.coef().to_owned(), &a.coef().to_owned()) < 1e-6,
            "case {case}"
        );
        let di = (b.intercept() - a.intercept()).mapv(f64::abs).sum();
        assert!(
            di < 1e-6 * (1.0 + a.intercept().mapv(f64::abs).sum()),
            "case {case}"
        );
        // both objectives agree, and alpha_max agrees between layouts
        let pv = p.check().unwrap();
        let (oa, ob) = (
            pv.objective(&shared, &a).unwrap(),
            pv.objective(&per_task, &b).unwrap(),
        );
        assert!((oa - ob).abs() <= 1e-10 * oa, "case {case}: {oa} vs {ob}");
        let amax2 = MultiTaskElasticNet::new(1.0, l1_ratio)
            .fit_intercept(fit_intercept)
            .check()
            .unwrap()
            .alpha_max(&per_task)
            .unwrap();
        assert!((amax - amax2).abs() <= 1e-12 * amax, "case {case}");
    }
}

/// FISTA on the block-diagonal group lasso `Σ_t c_t ½‖y_t − X_t w_t‖² + a Σ_j ‖W_j‖ + (b/2)‖W‖²`
/// (no intercept): an independent oracle for the per-task solver.
fn fista(tasks: &[(Array2<f64>, Array1<f64>)], c: &[f64], a: f64, b: f64) -> Array2<f64> {
    let d = tasks[0].0.ncols();
    let nt = tasks.len();
    // Lipschitz constant of the smooth part: max_t c_t ‖X_t‖₂² + b (power iteration)
    let mut lip = 0.0f64;
    for ((x, _), &ct) in tasks.iter().zip(c) {
        let g = x.t().dot(x);
        let mut v = Array1::from_elem(d, 1.0);
        let mut lam = 0.0;
        for _ in 0..500 {
            let u = g.dot(&v);
            lam = u.dot(&u).sqrt();
            v = u / lam;
        }
        lip = lip.max(ct * lam);
    }
    let lip = lip + b;
    let grad = |w: &Array2<f64>| -> Array2<f64> {
        let mut g = Array2::zeros((d, nt));
        for (t, ((x, y), &ct)) in tasks.iter().zip(c).enumerate() {
            let r = y - &x.dot(&w.column(t));
            g.column_mut(t).assign(&(x.t().dot(&r) * -ct));
        }
        g + w * b
    };
    let prox = |v: Array2<f64>| -> Array2<f64> {
        let mut out = v;
        for mut row in out.rows_mut() {
            let nrm = row.dot(&row).sqrt();
            let scale = if nrm > a / lip {
                1.0 - a / lip / nrm
            } else {
                0.0
            };
            row.mapv_inplace(|x| x * scale);
        }
        out
    };
    let mut w = Array2::<f64>::zeros((d, nt));
    let mut z = w.clone();
    let mut tk = 1.0f64;
    for _ in 0..30_000 {
        let w_next = prox(&z - &(grad(&z) / lip));
        let t_next = (1.0 + (1.0 + 4.0 * tk * tk).sqrt()) / 2.0;
        z = &w_next + &((&w_next - &w) * ((tk - 1.0) / t_next));
        w = w_next;
        tk = t_next;
    }
    w
}

#[test]
fn per_task_fits_match_the_block_diagonal_group_lasso() {
    let mut rng = StdRng::seed_from_u64(2);
    for case in 0..8 {
        let sizes: Vec<usize> = (0..2 + case % 3).map(|t| 15 + 7 * t + case).collect();
        let d = 4 + case % 5;
        let tasks = regression_tasks(&mut rng, &sizes, d);
        let data = MultiTaskDataset::per_task(tasks.clone()).unwrap();
        let scaling = [
            LossScaling::TaskMean,
            LossScaling::AllSamples,
            LossScaling::Sum,
        ][case % 3];
        let n_total: usize = sizes.iter().sum();
        let c: Vec<f64> = sizes.iter().map(|&n| scaling.factor(n, n_total)).collect();
        let l1_ratio = if case % 2 == 0 { 1.0 } else { 0.7 };
        let amax = MultiTaskElasticNet::new(1.0, l1_ratio)
            .fit_intercept(false)
            .scaling(scaling)
            .check()
            .unwrap()
            .alpha_max(&data)
            .unwrap();
        let alpha = amax * 0.05;
        let p = MultiTaskElasticNet::new(alpha, l1_ratio)
            .fit_intercept(false)
            .scaling(scaling)
            .tol(1e-14)
            .max_iter(1_000_000);
        let m = p.fit(&data).unwrap();
        assert!(m.info().converged, "case {case}");
        let oracle = fista(&tasks, &c, alpha * l1_ratio, alpha * (1.0 - l1_ratio));
        assert!(
            rel(&m.coef().to_owned(), &oracle) < 1e-6,
            "case {case}: {:e}",
            rel(&m.coef().to_owned(), &oracle)
        );
        assert!(m.intercept().iter().all(|&b| b == 0.0));
        // the certified gap bounds the distance to the oracle's objective
        let pv = p.check().unwrap();
        let obj = pv.objective(&data, &m).unwrap();
        let oracle_model_obj = {
            let mut o = 0.0;
            for (t, ((x, y), &ct)) in tasks.iter().zip(&c).enumerate() {
                let r = y - &x.dot(&oracle.column(t));
                o += 0.5 * ct * r.dot(&r);
            }
            o + L21Ridge { alpha, l1_ratio }.value_of(&oracle)
        };
        assert!(obj <= oracle_model_obj + 1e-12 * obj.abs(), "case {case}");
        assert!(obj - m.info().dual_gap <= oracle_model_obj + 1e-12 * obj.abs());
    }
}

/// `R(W)` of an elastic-net penalty (test helper).
trait PenaltyValue {
    fn value_of(&self, w: &Array2<f64>) -> f64;
}
impl PenaltyValue for L21Ridge {
    fn value_of(&self, w: &Array2<f64>) -> f64 {
        use mtlkit_linear::Penalty;
        self.value(w.view())
    }
}

/// Gradient of the data term with respect to `W` and `b` on raw per-task data.
fn logistic_grad(
    tasks: &[(Array2<f64>, Array1<f64>)],
    c: &[f64],
    w: &Array2<f64>,
    b: &Array1<f64>,
) -> (Array2<f64>, Array1<f64>) {
    let (d, nt) = w.dim();
    let mut gw = Array2::zeros((d, nt));
    let mut gb = Array1::zeros(nt);
    for (t, (x, y)) in tasks.iter().enumerate() {
        let z = x.dot(&w.column(t)) + b[t];
        let u = Array1::from_shape_fn(z.len(), |i| c[t] * (1.0 / (1.0 + (-z[i]).exp()) - y[i]));
        gw.column_mut(t).assign(&x.t().dot(&u));
        gb[t] = u.sum();
    }
    (gw, gb)
}

/// Largest KKT violation of `a Σ‖W_j‖ + (b/2)‖W‖²`: distance of `−∇_j` to the subdifferential.
fn kkt_violation(gw: &Array2<f64>, w: &Array2<f64>, a: f64, b: f64) -> f64 {
    let mut worst = 0.0f64;
    for (g, wj) in gw.rows().into_iter().zip(w.rows()) {
        let v = &g + &(&wj * b);
        let nw = wj.dot(&wj).sqrt();
        let viol = if nw > 0.0 {
            let r = &v + &(&wj * (a / nw));
            r.dot(&r).sqrt()
        } else {
            (v.dot(&v).sqrt() - a).max(0.0)
        };
        worst = worst.max(viol);
    }
    worst
}

fn classification_tasks(
    rng: &mut StdRng,
    sizes: &[usize],
    d: usize,
    pm1: bool,
) -> Vec<(Array2<f64>, Array1<f64>)> {
    let w: Array2<f64> = Array2::from_shape_fn((d, sizes.len()), |(j, _)| {
        if j < d / 2 + 1 { normal(rng) } else { 0.0 }
    });
    sizes
        .iter()
        .enumerate()
        .map(|(t, &n)| {
            let x = Array2::from_shape_fn((n, d), |_| normal(rng));
            let z = x.dot(&w.column(t));
            let neg = if pm1 { -1.0 } else { 0.0 };
            let mut y = Array1::from_shape_fn(n, |i| {
                let p = 1.0 / (1.0 + (-(z[i] - 0.5)).exp());
                if rng.random::<f64>() < p { 1.0 } else { neg }
            });
            // both classes present
            y[0] = 1.0;
            y[1] = neg;
            (x, y)
        })
        .collect()
}

#[test]
fn logistic_solutions_satisfy_the_kkt_conditions() {
    let mut rng = StdRng::seed_from_u64(3);
    for case in 0..10 {
        let sizes: Vec<usize> = (0..2 + case % 3).map(|t| 30 + 11 * t).collect();
        let d = 3 + case % 6;
        let pm1 = case % 2 == 1;
        let tasks = classification_tasks(&mut rng, &sizes, d, pm1);
        let data = MultiTaskDataset::per_task(tasks.clone()).unwrap();
        let fit_intercept = case % 3 != 2;
        let l1_ratio = if case % 4 == 0 { 0.5 } else { 1.0 };
        let base = MultiTaskElasticNet::new(1.0, l1_ratio)
            .loss(Loss::Logistic)
            .fit_intercept(fit_intercept);
        let amax = base.check().unwrap().alpha_max(&data).unwrap();
        let alpha = amax * 0.1;
        let m = base
            .clone()
            .alpha(alpha)
            .tol(1e-15)
            .max_iter(1_000_000)
            .fit(&data)
            .unwrap();
        assert!(m.info().converged, "case {case}");
        let n_total: usize = sizes.iter().sum();
        let c: Vec<f64> = sizes
            .iter()
            .map(|&n| LossScaling::TaskMean.factor(n, n_total))
            .collect();
        let tasks01: Vec<(Array2<f64>, Array1<f64>)> = tasks
            .iter()
            .map(|(x, y)| (x.clone(), y.mapv(|v| if v == 1.0 { 1.0 } else { 0.0 })))
            .collect();
        let (gw, gb) = logistic_grad(&tasks01, &c, &m.coef().to_owned(), m.intercept());
        let viol = kkt_violation(
            &gw,
            &m.coef().to_owned(),
            alpha * l1_ratio,
            alpha * (1.0 - l1_ratio),
        );
        assert!(viol < 1e-8, "case {case}: KKT violation {viol:e}");
        if fit_intercept {
            assert!(gb.iter().all(|g| g.abs() < 1e-8), "case {case}: {gb}");
        } else {
            assert!(m.intercept().iter().all(|&b| b == 0.0));
        }
        assert!(m.coef().iter().any(|&v| v != 0.0));
        // probabilities and labels in the user's encoding
        let (x0, _) = &tasks[0];
        let proba = m.predict_proba(x0.view()).unwrap();
        assert_eq!(proba.dim(), (x0.nrows(), sizes.len()));
        assert!(proba.iter().all(|&p| (0.0..=1.0).contains(&p)));
        let labels = m.predict(&x0.view()).unwrap();
        let neg = if pm1 { -1.0 } else { 0.0 };
        for (l, p) in labels.column(0).iter().zip(proba.column(0)) {
            assert_eq!(*l, if *p > 0.5 { 1.0 } else { neg });
        }
    }
}

#[test]
fn separable_logistic_data_gives_a_finite_solution() {
    // perfectly separable tasks: unpenalised logistic regression diverges; the L2,1 penalty
    // keeps W finite and the intercept stays bounded
    let x = Array2::from_shape_fn((40, 2), |(i, j)| (i as f64 - 19.5) * (1.0 + j as f64));
    let y = Array1::from_shape_fn(40, |i| if i >= 20 { 1.0 } else { 0.0 });
    let data = MultiTaskDataset::per_task(vec![(x.clone(), y.clone()), (x, y)]).unwrap();
    let m = MultiTaskLasso::new(0.01)
        .loss(Loss::Logistic)
        .tol(1e-10)
        .max_iter(1_000_000)
        .fit(&data)
        .unwrap();
    assert!(m.info().converged);
    assert!(m.coef().iter().all(|v| v.is_finite() && v.abs() < 1e3));
    assert!(m.intercept().iter().all(|v| v.is_finite() && v.abs() < 1e3));
}

#[test]
fn one_loss_for_all_equals_the_same_loss_per_task_and_mixed_models_satisfy_kkt() {
    let mut rng = StdRng::seed_from_u64(4);
    let reg = regression_tasks(&mut rng, &[40, 30], 5);
    let cls = classification_tasks(&mut rng, &[50, 35], 5, false);
    let data_cls = MultiTaskDataset::per_task(cls.clone()).unwrap();
    let a = MultiTaskLasso::new(0.02)
        .loss(Loss::Logistic)
        .tol(1e-12)
        .max_iter(100_000)
        .fit(&data_cls)
        .unwrap();
    let b = MultiTaskLasso::new(0.02)
        .task_losses([Loss::Logistic, Loss::Logistic])
        .tol(1e-12)
        .max_iter(100_000)
        .fit(&data_cls)
        .unwrap();
    assert_eq!(a.coef(), b.coef());
    assert_eq!(a.intercept(), b.intercept());
    // mixed: two regression and two classification tasks sharing the penalty
    let mut all = reg.clone();
    all.extend(cls.iter().cloned());
    let data = MultiTaskDataset::per_task(all).unwrap();
    let losses = [Loss::Squared, Loss::Squared, Loss::Logistic, Loss::Logistic];
    let alpha = 0.05;
    let m = MultiTaskLasso::new(alpha)
        .task_losses(losses)
        .fit_intercept(false)
        .tol(1e-13)
        .max_iter(1_000_000)
        .fit(&data)
        .unwrap();
    assert!(m.info().converged);
    assert_eq!(m.classification_tasks(), vec![2, 3]);
    assert_eq!(m.predict_proba(reg[0].0.view()).unwrap().ncols(), 2);
    let sizes = [40.0, 30.0, 50.0, 35.0];
    let w = m.coef().to_owned();
    let mut g = Array2::zeros(w.dim());
    for t in 0..4 {
        let (x, y) = if t < 2 { &reg[t] } else { &cls[t - 2] };
        let z = x.dot(&w.column(t));
        let u: Array1<f64> = if t < 2 {
            (&z - y) / sizes[t]
        } else {
            Array1::from_shape_fn(z.len(), |i| (1.0 / (1.0 + (-z[i]).exp()) - y[i]) / sizes[t])
        };
        g.column_mut(t).assign(&x.t().dot(&u));
    }
    let viol = kkt_violation(&g, &w, alpha, 0.0);
    assert!(viol < 1e-8, "mixed KKT violation {viol:e}");
    // a regression-only model has no probabilities
    let r = MultiTaskLasso::new(0.1)
        .fit(&MultiTaskDataset::per_task(reg).unwrap())
        .unwrap();
    assert!(matches!(
        r.predict_proba(Array2::zeros((1, 5)).view()),
        Err(LinearError::NoClassificationTask { .. })
    ));
}

#[test]
fn a_missing_target_leaves_the_sample_out_of_that_task_only() {
    let mut rng = StdRng::seed_from_u64(5);
    for case in 0..6 {
        let (n, d, t) = (30 + case, 6, 3);
        let x = Array2::from_shape_fn((n, d), |_| normal(&mut rng));
        let mut y = Array2::from_shape_fn((n, t), |_| normal(&mut rng));
        // knock out a few labels of task 1 (and one of task 2)
        let missing1 = [2usize, 7, 11 + case];
        for &i in &missing1 {
            y[[i, 1]] = f64::NAN;
        }
        y[[5, 2]] = f64::NAN;
        let shared = MultiTaskDataset::shared(x.clone(), y.clone()).unwrap();
        assert!(shared.has_missing_targets());
        // the same problem with each task's labelled rows only
        let per_task = MultiTaskDataset::per_task(
            (0..t)
                .map(|k| {
                    let rows: Vec<usize> = (0..n).filter(|&i| !y[[i, k]].is_nan()).collect();
                    (x.select(Axis(0), &rows), y.column(k).select(Axis(0), &rows))
                })
                .collect(),
        )
        .unwrap();
        let p = MultiTaskLasso::new(0.05)
            .fit_intercept(case % 2 == 0)
            .tol(1e-13)
            .max_iter(100_000);
        let a = p.fit(&shared).unwrap();
        let b = p.fit(&per_task).unwrap();
        assert!(a.info().converged);
        assert!(
            rel(&a.coef().to_owned(), &b.coef().to_owned()) < 1e-9,
            "case {case}"
        );
        assert!((a.intercept() - b.intercept()).mapv(f64::abs).sum() < 1e-9);
        // a label that is missing does not influence the fit: changing X on a row that is
        // unlabelled for every task changes nothing
        let mut y2 = y.clone();
        y2.row_mut(0).fill(f64::NAN);
        let mut x2 = x.clone();
        let fit_on = |x: Array2<f64>| {
            p.fit(&MultiTaskDataset::shared(x, y2.clone()).unwrap())
                .unwrap()
        };
        let base = fit_on(x.clone());
        x2.row_mut(0).fill(1e3);
        let moved = fit_on(x2);
        assert_eq!(base.coef(), moved.coef());
    }
    // a task with no label at all is an error naming it
    let y = Array2::from_shape_fn((5, 2), |(_, k)| if k == 1 { f64::NAN } else { 1.0 });
    let err = MultiTaskDataset::shared(Array2::ones((5, 2)), y).unwrap_err();
    assert!(err.to_string().contains("task1"), "{err}");
    // infinite targets stay errors
    let mut y = Array2::<f64>::ones((5, 2));
    y[[3, 0]] = f64::INFINITY;
    assert!(MultiTaskDataset::shared(Array2::ones((5, 2)), y).is_err());
}

#[test]
fn bad_labels_and_loss_counts_are_clear_errors() {
    let x = Array2::from_shape_fn((6, 2), |(i, j)| (i + j) as f64);
    let three = Array1::from(vec![0.0, 1.0, 2.0, 0.0, 1.0, 2.0]);
    let one = Array1::from(vec![1.0; 6]);
    for (y, want) in [(three, "labels 0, 1, 2"), (one, "only the label 1")] {
        let data = MultiTaskDataset::per_task(vec![(x.clone(), y)]).unwrap();
        let err = MultiTaskLasso::new(0.1)
            .loss(Loss::Logistic)
            .fit(&data)
            .unwrap_err();
        assert!(matches!(err, LinearError::InvalidLabels { .. }));
        assert!(err.to_string().contains(want), "{err}");
    }
    let data =
        MultiTaskDataset::per_task(vec![(x.clone(), Array1::zeros(6)), (x, Array1::zeros(6))])
            .unwrap();
    let err = MultiTaskLasso::new(0.1)
        .task_losses([Loss::Squared; 3])
        .fit(&data)
        .unwrap_err();
    assert!(
        matches!(
            err,
            LinearError::LossCount {
                expected: 2,
                found: 3
            }
        ),
        "{err}"
    );
}

#[test]
fn general_models_survive_a_save_and_load() {
    let mut rng = StdRng::seed_from_u64(6);
    let mut tasks = regression_tasks(&mut rng, &[25], 4);
    tasks.extend(classification_tasks(&mut rng, &[30], 4, true));
    let data = MultiTaskDataset::per_task(tasks.clone()).unwrap();
    let m = MultiTaskLasso::new(0.01)
        .task_losses([Loss::Squared, Loss::Logistic])
        .scaling(LossScaling::Sum)
        .fit(&data)
        .unwrap();
    let back = MultiTaskLinearModel::from_bytes(&m.to_bytes().unwrap()).unwrap();
    assert_eq!(back, m);
    assert_eq!(back.classes()[1], Some([-1.0, 1.0]));
    assert_eq!(back.hyperparameters().scaling, LossScaling::Sum);
    let x = tasks[1].0.slice(s![..5, ..]).to_owned();
    assert_eq!(
        back.predict(&x.view()).unwrap(),
        m.predict(&x.view()).unwrap()
    );
}

//! Defining properties of the loss-level methods (and of GradNorm, DB-MTL, MoCo, ExcessMTL,
//! GradDrop, which also use the losses or keep state).

mod common;
use common::*;
use mtlkit_weighting::methods::{Uncertainty, UncertaintyConfig};
use mtlkit_weighting::{AdamConfig, StepInput, Weighting};
use ndarray::{Array1, Array2, array};

fn losses_only(m: &mut dyn Weighting, l: &Array1<f64>) -> Array1<f64> {
    m.aggregate(&StepInput::new(l.view()))
        .expect("aggregate")
        .weights
}

#[test]
fn mean_and_sum_and_fixed() {
    let l = array![3.0, 0.5, 7.0];
    assert_close(
        &losses_only(build(r#"{"method":"mean"}"#, 3).as_mut(), &l),
        &[1.0 / 3.0; 3],
        1e-15,
        "mean",
    );
    assert_close(
        &losses_only(build(r#"{"method":"equal"}"#, 3).as_mut(), &l),
        &[1.0; 3],
        0.0,
        "equal",
    );
    assert_close(
        &losses_only(
            build(r#"{"method":"fixed","weights":[0.5,2,1]}"#, 3).as_mut(),
            &l,
        ),
        &[0.5, 2.0, 1.0],
        0.0,
        "fixed",
    );
}

#[test]
fn log_sum_is_scale_invariant() {
    // Weights 1/L: the direction Σ ∇L_t / L_t is unchanged when a loss is multiplied by c
    // (its gradient is too).
    let mut r = rng(30);
    let j = random_j(&mut r, 3, 5);
    let l = array![2.0, 0.3, 5.0];
    let mut m = build(r#"{"method":"log-sum","eps":0.0}"#, 3);
    let w = losses_only(m.as_mut(), &l);
    let d1 = j.t().dot(&w);
    let mut j2 = j.clone();
    j2.row_mut(1).mapv_inplace(|x| x * 1000.0);
    let l2 = array![2.0, 300.0, 5.0];
    let w2 = losses_only(m.as_mut(), &l2);
    let d2 = j2.t().dot(&w2);
    for k in 0..5 {
        assert!((d1[k] - d2[k]).abs() < 1e-12 * (1.0 + d1[k].abs()));
    }
}

#[test]
fn dwa_equal_loss_ratios_give_equal_weights_summing_to_t() {
    let mut m = build(r#"{"method":"dwa"}"#, 4);
    let base = array![1.0, 2.0, 5.0, 0.1];
    // Epochs 0 and 1: weights 1.
    for e in 0..2 {
        for _ in 0..3 {
            let w = losses_only(m.as_mut(), &(&base * (0.8f64).powi(e)));
            assert_close(&w, &[1.0; 4], 0.0, "first epochs");
        }
        m.end_epoch();
    }
    // Every task's loss fell by the same ratio: equal weights, sum T.
    let w = losses_only(m.as_mut(), &base);
    assert_close(&w, &[1.0; 4], 1e-12, "equal ratios");
    assert!((w.sum() - 4.0).abs() < 1e-12);
}

#[test]
fn dwa_favours_the_task_whose_loss_decreases_slowest() {
    let mut m = build(r#"{"method":"dwa","temperature":2.0}"#, 2);
    losses_only(m.as_mut(), &array![1.0, 1.0]);
    m.end_epoch();
    losses_only(m.as_mut(), &array![1.0, 0.5]); // task 0 stalls, task 1 halves
    m.end_epoch();
    let w = losses_only(m.as_mut(), &array![1.0, 0.5]);
    // r = (1, 0.5): w = 2 softmax(r / 2).
    let e0 = (0.5f64).exp();
    let e1 = (0.25f64).exp();
    assert_close(
        &w,
        &[2.0 * e0 / (e0 + e1), 2.0 * e1 / (e0 + e1)],
        1e-12,
        "dwa",
    );
    assert!((w.sum() - 2.0).abs() < 1e-12);
}

#[test]
fn dwa_at_a_tiny_temperature_is_the_argmax() {
    // r / T overflows for T = 1e-310: the limit puts all the weight (k = 2) on the task whose
    // loss decreased slowest, as T = 1e-3 already does
    for t in [1e-3, 1e-310] {
        let mut m = build(&format!(r#"{{"method":"dwa","temperature":{t:e}}}"#), 2);
        losses_only(m.as_mut(), &array![1.0, 1.0]);
        m.end_epoch();
        losses_only(m.as_mut(), &array![1.0, 0.5]);
        m.end_epoch();
        let w = losses_only(m.as_mut(), &array![1.0, 0.5]);
        assert_close(&w, &[2.0, 0.0], 1e-12, "argmax");
    }
}

#[test]
fn uncertainty_log_variances_converge_to_log_losses() {
    let mut m = Uncertainty::new(
        3,
        UncertaintyConfig {
            optimizer: AdamConfig::with_lr(0.05),
            init: -0.5,
        },
    )
    .unwrap();
    let l = array![0.2, 1.0, 7.5];
    let mut w = Array1::zeros(3);
    for _ in 0..3000 {
        w = losses_only(&mut m, &l);
    }
    for t in 0..3 {
        assert!(
            (m.log_variances()[t] - l[t].ln()).abs() < 1e-3,
            "s = {:?}",
            m.log_variances()
        );
        // At the fixed point the weight is 1 / (2 L_t).
        assert!((w[t] - 0.5 / l[t]).abs() < 1e-3 / l[t]);
    }
}

#[test]
fn imtl_l_scales_make_every_scaled_loss_one() {
    let mut m = build(r#"{"method":"imtl-l","optimizer":{"lr":0.05}}"#, 3);
    let l = array![0.2, 1.0, 7.5];
    let mut w = Array1::zeros(3);
    for _ in 0..3000 {
        w = losses_only(m.as_mut(), &l);
    }
    for t in 0..3 {
        assert!((w[t] * l[t] - 1.0).abs() < 1e-3, "{w}");
    }
}

#[test]
fn gls_weights_are_the_gradient_of_the_geometric_mean() {
    let mut r = rng(31);
    for t in [2usize, 3, 5] {
        let l = Array1::from_shape_fn(t, |_| 0.05 + normal(&mut r).abs() * 3.0);
        let mut m = build(r#"{"method":"gls"}"#, t);
        let w = losses_only(m.as_mut(), &l);
        let gm = |x: &Array1<f64>| x.iter().product::<f64>().powf(1.0 / t as f64);
        for i in 0..t {
            let h = 1e-6 * l[i];
            let mut lp = l.clone();
            lp[i] += h;
            let mut lm = l.clone();
            lm[i] -= h;
            let fd = (gm(&lp) - gm(&lm)) / (2.0 * h);
            assert!(
                (w[i] - fd).abs() < 1e-7 * (1.0 + fd.abs()),
                "t {t}, task {i}: {} vs {fd}",
                w[i]
            );
        }
    }
}

#[test]
fn rlw_is_reproducible_and_on_the_simplex() {
    for dist in ["normal", "uniform", "dirichlet"] {
        let json = format!(r#"{{"method":"rlw","distribution":"{dist}"}}"#);
        let m = method(&json);
        let mut a = m.build(4, 42).unwrap();
        let mut b = m.build(4, 42).unwrap();
        let mut c = m.build(4, 43).unwrap();
        let l = array![1.0, 1.0, 1.0, 1.0];
        let mut differs = false;
        let mut prev: Option<Array1<f64>> = None;
        for _ in 0..20 {
            let wa = losses_only(a.as_mut(), &l);
            let wb = losses_only(b.as_mut(), &l);
            let wc = losses_only(c.as_mut(), &l);
            assert_eq!(wa, wb, "{dist}: same seed, same draws");
            differs |= wa != wc;
            assert!(
                (wa.sum() - 1.0).abs() < 1e-12 && wa.iter().all(|&x| x > 0.0),
                "{dist}: {wa}"
            );
            if let Some(p) = &prev {
                assert_ne!(p, &wa, "{dist}: fresh draw every step");
            }
            prev = Some(wa);
        }
        assert!(differs, "{dist}: another seed gives other draws");
    }
    let mut m = build(
        r#"{"method":"rlw","distribution":"constrained-bernoulli"}"#,
        5,
    );
    for _ in 0..20 {
        let w = losses_only(m.as_mut(), &Array1::ones(5));
        assert_eq!(w.sum(), 1.0);
        assert!(w.iter().all(|&x| x == 0.0 || x == 1.0));
    }
    let mut m = build(r#"{"method":"rlw","distribution":"bernoulli"}"#, 3);
    for _ in 0..50 {
        let w = losses_only(m.as_mut(), &Array1::ones(3));
        assert!(w.sum() >= 1.0 && w.iter().all(|&x| x == 0.0 || x == 1.0));
    }
}

#[test]
fn stch_warms_up_then_differentiates_the_smooth_tchebycheff_function() {
    let mut m = build(r#"{"method":"stch","mu":0.5,"warmup_epochs":1}"#, 3);
    // Epoch 0: log losses.
    let w = losses_only(m.as_mut(), &array![2.0, 4.0, 8.0]);
    assert_close(&w, &[0.5, 0.25, 0.125], 1e-15, "warm-up");
    m.end_epoch();
    // Epoch 1 (= warmup_epochs): log losses, averaged into the nadir.
    losses_only(m.as_mut(), &array![1.0, 2.0, 4.0]);
    losses_only(m.as_mut(), &array![3.0, 2.0, 2.0]);
    m.end_epoch();
    let l = array![1.5, 1.0, 4.0];
    let w = losses_only(m.as_mut(), &l);
    let z = [2.0, 2.0, 3.0];
    let f = |x: &Array1<f64>| {
        let s: f64 = (0..3).map(|i| ((x[i] / z[i]).ln() / 0.5).exp()).sum();
        3.0 * 0.5 * s.ln()
    };
    for i in 0..3 {
        let h = 1e-6;
        let mut lp = l.clone();
        lp[i] += h;
        let mut lm = l.clone();
        lm[i] -= h;
        let fd = (f(&lp) - f(&lm)) / (2.0 * h);
        assert!((w[i] - fd).abs() < 1e-6, "task {i}: {} vs {fd}", w[i]);
    }
    // The task furthest above its nadir (task 2: 4/3) gets the largest softmax share.
    let share: Vec<f64> = (0..3).map(|i| w[i] * l[i]).collect();
    assert!(share[2] > share[0] && share[2] > share[1]);
}

#[test]
fn famo_weights_sum_to_one_and_shift_to_the_slow_task() {
    let mut m = build(r#"{"method":"famo"}"#, 2);
    assert!(m.wants_losses_after_step());
    let mut l = array![1.0, 1.0];
    let w0 = losses_only(m.as_mut(), &l);
    assert_close(&w0, &[0.5, 0.5], 1e-12, "uniform logits, equal losses");
    for _ in 0..50 {
        let w = losses_only(m.as_mut(), &l);
        assert!((w.sum() - 1.0).abs() < 1e-12);
        // Task 0 does not improve, task 1 improves by 10% each step.
        let after = array![l[0], l[1] * 0.9];
        m.observe_losses_after_step(after.view(), None).unwrap();
        l = after;
    }
    // FAMO's weights λ_t = z_t / (c L_t): compare the logits' softmax z = λ L / Σ λ L.
    let w = losses_only(m.as_mut(), &l);
    let z0 = w[0] * l[0] / (w[0] * l[0] + w[1] * l[1]);
    assert!(
        z0 > 0.6,
        "the stalled task should get more of the budget: z0 = {z0}"
    );
    // Protocol errors are reported.
    let mut m = build(r#"{"method":"famo"}"#, 2);
    assert!(
        m.observe_losses_after_step(array![1.0, 1.0].view(), None)
            .is_err()
    );
}

#[test]
fn gradnorm_equalizes_weighted_gradient_norms() {
    // Norms 1 and 2, equal training rates: the balanced weights are w = (4/3, 2/3).
    let g = array![[1.0, 0.0], [0.0, 4.0]];
    let mut m = build(r#"{"method":"gradnorm","optimizer":{"lr":0.01}}"#, 2);
    let l = array![1.0, 1.0];
    let mut w = Array1::zeros(2);
    for _ in 0..3000 {
        w = m
            .aggregate(&StepInput::new(l.view()).with_gramian(g.view()))
            .unwrap()
            .weights;
    }
    assert!((w.sum() - 2.0).abs() < 1e-12);
    assert!(
        (w[0] - 4.0 / 3.0).abs() < 0.05 && (w[1] - 2.0 / 3.0).abs() < 0.05,
        "{w}"
    );
    // A task training slower (higher relative loss) gets a larger target norm.
    let mut m = build(
        r#"{"method":"gradnorm","optimizer":{"lr":0.01},"alpha":1.5}"#,
        2,
    );
    let g1 = array![[1.0, 0.0], [0.0, 1.0]];
    m.aggregate(&StepInput::new(array![1.0, 1.0].view()).with_gramian(g1.view()))
        .unwrap();
    for _ in 0..3000 {
        w = m
            .aggregate(&StepInput::new(array![1.0, 0.25].view()).with_gramian(g1.view()))
            .unwrap()
            .weights;
    }
    // r = (1.6, 0.4): targets ∝ r^1.5 → w0/w1 = (1.6/0.4)^1.5 = 8.
    assert!((w[0] / w[1] - 8.0).abs() < 0.8, "{w}");
}

#[test]
fn db_mtl_balances_log_gradient_norms() {
    let mut r = rng(32);
    let j = random_j(&mut r, 3, 6);
    let l = array![0.5, 2.0, 10.0];
    let mut m = build(r#"{"method":"db-mtl","beta":0.0}"#, 3);
    let out = m
        .aggregate(&StepInput::new(l.view()).with_jacobian(j.view()))
        .unwrap();
    let d = out.direction.clone().expect("db-mtl gives a direction");
    // With β = 0 the direction is Jᵀλ, and every scaled term λ_t g_t has the same norm.
    let d2 = j.t().dot(&out.weights);
    for k in 0..6 {
        assert!((d[k] - d2[k]).abs() < 1e-12 * (1.0 + d[k].abs()));
    }
    let norms: Vec<f64> = (0..3)
        .map(|t| out.weights[t] * j.row(t).dot(&j.row(t)).sqrt())
        .collect();
    for n in &norms {
        assert!((n - norms[0]).abs() < 1e-6 * norms[0], "{norms:?}");
    }
}

#[test]
fn moco_tracks_the_min_norm_weights_for_constant_gradients() {
    // Constant J and losses: y → L_t g_t / ‖g_t‖ and λ descends ½ λᵀYYᵀλ on the simplex.
    let j = array![[1.0, 0.2], [-0.5, 1.0]];
    let l = array![1.0, 1.0];
    let mut m = build(r#"{"method":"moco","gamma":1.0}"#, 2);
    let mut out = None;
    for _ in 0..5000 {
        out = Some(
            m.aggregate(&StepInput::new(l.view()).with_jacobian(j.view()))
                .unwrap(),
        );
    }
    let out = out.unwrap();
    assert!((out.weights.sum() - 1.0).abs() < 1e-12);
    let y = Array2::from_shape_fn((2, 2), |(a, b)| j[[a, b]] / j.row(a).dot(&j.row(a)).sqrt());
    let g = y.dot(&y.t());
    let gamma =
        ((g[[1, 1]] - g[[0, 1]]) / (g[[0, 0]] + g[[1, 1]] - 2.0 * g[[0, 1]])).clamp(0.0, 1.0);
    assert!(
        (out.weights[0] - gamma).abs() < 0.05,
        "{} vs {gamma}",
        out.weights
    );
}

#[test]
fn excess_mtl_upweights_the_task_with_persistent_gradients() {
    let mut m = build(r#"{"method":"excess-mtl","robust_step_size":0.1}"#, 2);
    let mut w = Array1::zeros(2);
    for s in 0..50 {
        // Task 0's gradient stays, task 1's vanishes (its excess risk shrinks).
        let j = array![
            [1.0, 1.0, 0.0],
            [0.0, 1.0 / (1.0 + s as f64), 1.0 / (1.0 + s as f64)]
        ];
        w = m
            .aggregate(&StepInput::new(array![1.0, 1.0].view()).with_jacobian(j.view()))
            .unwrap()
            .weights;
        assert!((w.sum() - 2.0).abs() < 1e-12);
    }
    assert!(w[0] > w[1], "{w}");
}

#[test]
fn graddrop_keeps_one_sign_per_coordinate() {
    let mut r = rng(33);
    let j = random_j(&mut r, 4, 40);
    let mut m = build(r#"{"method":"graddrop"}"#, 4);
    let out = m
        .aggregate(&StepInput::new(Array1::ones(4).view()).with_jacobian(j.view()))
        .unwrap();
    let d = out.direction.expect("graddrop gives a direction");
    for c in 0..40 {
        let pos: f64 = j.column(c).iter().filter(|&&x| x > 0.0).sum();
        let neg: f64 = j.column(c).iter().filter(|&&x| x < 0.0).sum();
        assert!(
            d[c] == pos || d[c] == neg,
            "coordinate {c}: {} not in {{{pos}, {neg}}}",
            d[c]
        );
        if neg == 0.0 {
            assert_eq!(d[c], pos, "all-positive coordinates are kept");
        }
    }
    // leak = 1 keeps everything: the plain sum.
    let mut m = build(r#"{"method":"graddrop","leak":1.0}"#, 4);
    let out = m
        .aggregate(&StepInput::new(Array1::ones(4).view()).with_jacobian(j.view()))
        .unwrap();
    let d = out.direction.unwrap();
    let s = j.sum_axis(ndarray::Axis(0));
    for c in 0..40 {
        assert!((d[c] - s[c]).abs() < 1e-12);
    }
}

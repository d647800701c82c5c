//! Property tests of the gradient-level methods on many seeded random inputs.

mod common;
use common::*;
use mtlkit_weighting::methods::pcgrad_projections;
use mtlkit_weighting::{Method, StepInput};
use ndarray::{Array1, Array2, array};
use rand::seq::SliceRandom;

#[test]
fn mgda_is_the_two_task_closed_form() {
    for (c, j) in random_cases(11).iter().enumerate() {
        if j.nrows() != 2 {
            continue;
        }
        let g = gram(j);
        let mut m = build(r#"{"method":"mgda"}"#, 2);
        let out = run_g(m.as_mut(), &g);
        let gamma =
            ((g[[1, 1]] - g[[0, 1]]) / (g[[0, 0]] + g[[1, 1]] - 2.0 * g[[0, 1]])).clamp(0.0, 1.0);
        assert_close(
            &out.weights,
            &[gamma, 1.0 - gamma],
            1e-9,
            &format!("case {c}"),
        );
    }
}

#[test]
fn mgda_exact_is_the_min_norm_point_of_the_hull() {
    for (c, j) in random_cases(12).iter().enumerate() {
        let g = gram(j);
        let mut m = build(r#"{"method":"mgda","solver":"exact"}"#, j.nrows());
        let (out, d) = run_j(m.as_mut(), j);
        let l = &out.weights;
        assert!(
            (l.sum() - 1.0).abs() < 1e-10 && l.iter().all(|&x| x >= 0.0),
            "case {c}"
        );
        // Optimality: ⟨d, g_i⟩ ≥ ‖d‖² for every task (d is the min-norm point), equality on
        // the support.
        let dd = d.dot(&d);
        let s = g.diag().iter().fold(0.0_f64, |a, &b| a.max(b));
        let gd = j.dot(&d);
        for i in 0..l.len() {
            assert!(gd[i] >= dd - 1e-9 * s, "case {c}: task {i}");
            if l[i] > 1e-9 {
                assert!((gd[i] - dd).abs() <= 1e-9 * s, "case {c}: support {i}");
            }
        }
        // No other hull point (random simplex points, vertices) is shorter.
        let mut r = rng(c as u64);
        for _ in 0..50 {
            let x = Array1::from_shape_fn(l.len(), |_| normal(&mut r).abs());
            let x = &x / x.sum();
            let p = j.t().dot(&x);
            assert!(p.dot(&p) >= dd - 1e-12 * s, "case {c}");
        }
    }
}

#[test]
fn mgda_frank_wolfe_default_is_close_to_exact() {
    for (c, j) in random_cases(13).iter().enumerate() {
        let mut fw = build(r#"{"method":"mgda"}"#, j.nrows());
        let mut ex = build(r#"{"method":"mgda","solver":"exact"}"#, j.nrows());
        let (_, d_fw) = run_j(fw.as_mut(), j);
        let (_, d_ex) = run_j(ex.as_mut(), j);
        let s = gram(j).diag().iter().fold(0.0_f64, |a, &b| a.max(b));
        // Frank–Wolfe stops when its step is below 1e-3: its squared norm is near the optimum.
        assert!(d_fw.dot(&d_fw) - d_ex.dot(&d_ex) <= 2e-2 * s, "case {c}");
        assert!(d_fw.dot(&d_fw) >= d_ex.dot(&d_ex) - 1e-12 * s, "case {c}");
    }
}

#[test]
fn mgda_l2_normalization_treats_gradients_by_direction() {
    // Scaling one task's gradient by 1000 does not change the l2-normalized direction
    // (it changes the raw weight by 1/1000).
    let mut r = rng(14);
    for _ in 0..30 {
        let j = random_j(&mut r, 3, 6);
        let mut j2 = j.clone();
        j2.row_mut(1).mapv_inplace(|x| x * 1000.0);
        let mut a = build(
            r#"{"method":"mgda","normalization":"l2","solver":"exact"}"#,
            3,
        );
        let mut b = build(
            r#"{"method":"mgda","normalization":"l2","solver":"exact"}"#,
            3,
        );
        let (wa, da) = run_j(a.as_mut(), &j);
        let (wb, db) = run_j(b.as_mut(), &j2);
        for k in 0..6 {
            assert!((da[k] - db[k]).abs() < 1e-9 * (1.0 + da[k].abs()));
        }
        assert!(
            (wa.weights[1] / 1000.0 - wb.weights[1]).abs() < 1e-9 * wa.weights[1].abs().max(1e-12)
        );
    }
}

#[test]
fn pcgrad_two_tasks_leaves_no_conflict() {
    for (c, j) in random_cases(15).iter().enumerate() {
        if j.nrows() != 2 {
            continue;
        }
        let g = gram(j);
        let proj = pcgrad_projections(g.view(), &[vec![1], vec![0]]);
        let s = g.diag().iter().fold(0.0_f64, |a, &b| a.max(b));
        // Each projected gradient has ⟨g_i^PC, g_j⟩ ≥ 0 with the other task.
        for (i, jj) in [(0usize, 1usize), (1, 0)] {
            let ip = proj.row(i).dot(&g.row(jj));
            assert!(ip >= -1e-12 * s, "case {c}: ⟨g{i}^PC, g{jj}⟩ = {ip}");
        }
        // And the aggregated direction conflicts with neither task.
        let mut m = build(r#"{"method":"pcgrad"}"#, 2);
        let (_, d) = run_j(m.as_mut(), j);
        let gd = j.dot(&d);
        assert!(gd.iter().all(|&x| x >= -1e-12 * s), "case {c}: {gd}");
    }
}

#[test]
fn pcgrad_projected_gradient_never_conflicts_with_the_last_task_it_was_projected_on() {
    for (c, j) in random_cases(16).iter().enumerate() {
        let g = gram(j);
        let t = g.nrows();
        let mut r = rng(c as u64);
        let orders: Vec<Vec<usize>> = (0..t)
            .map(|i| {
                let mut o: Vec<usize> = (0..t).filter(|&k| k != i).collect();
                o.shuffle(&mut r);
                o
            })
            .collect();
        let proj = pcgrad_projections(g.view(), &orders);
        let s = g.diag().iter().fold(0.0_f64, |a, &b| a.max(b));
        for i in 0..t {
            let last = *orders[i].last().expect("t >= 2");
            let ip = proj.row(i).dot(&g.row(last));
            assert!(ip >= -1e-10 * s, "case {c}: task {i} vs {last}: {ip}");
            // Only the task's own gradient and conflicting ones enter, with coefficient ≥ 0.
            assert_eq!(proj[[i, i]], 1.0);
            assert!(proj.row(i).iter().all(|&x| x >= 0.0));
        }
    }
}

#[test]
fn upgrad_direction_does_not_conflict_with_any_task() {
    for (c, j) in random_cases(17).iter().enumerate() {
        let g = gram(j);
        let tr: f64 = g.diag().sum();
        let mut m = build(r#"{"method":"upgrad"}"#, j.nrows());
        let (out, d) = run_j(m.as_mut(), j);
        assert!(out.report.converged, "case {c}: {:?}", out.report);
        // With the default ridge reg_eps = 1e-4 on G/tr(G), the KKT conditions give
        // ⟨d, g_i⟩ ≥ −reg_eps · tr(G) · λ_i.
        let gd = j.dot(&d);
        for i in 0..gd.len() {
            assert!(
                gd[i] >= -1e-4 * tr * out.weights[i] - 1e-10 * tr,
                "case {c}: task {i}: {}",
                gd[i]
            );
        }
        // Without the ridge, exactly non-negative.
        let mut m0 = build(r#"{"method":"upgrad","reg_eps":0.0}"#, j.nrows());
        let (out0, d0) = run_j(m0.as_mut(), j);
        let gd0 = j.dot(&d0);
        assert!(
            gd0.iter().all(|&x| x >= -1e-9 * tr),
            "case {c} (no ridge): {gd0}, {:?}",
            out0.report
        );
        // Weights are at least the preference 1/k.
        assert!(
            out0.weights
                .iter()
                .all(|&w| w >= 1.0 / j.nrows() as f64 - 1e-12)
        );
    }
}

#[test]
fn dualproj_direction_does_not_conflict_and_is_closest_to_the_mean() {
    for (c, j) in random_cases(18).iter().enumerate() {
        let g = gram(j);
        let tr: f64 = g.diag().sum();
        let mut m = build(r#"{"method":"dualproj","reg_eps":0.0}"#, j.nrows());
        let (out, d) = run_j(m.as_mut(), j);
        let gd = j.dot(&d);
        assert!(gd.iter().all(|&x| x >= -1e-9 * tr), "case {c}: {gd}");
        assert!(
            out.weights
                .iter()
                .all(|&w| w >= 1.0 / j.nrows() as f64 - 1e-12)
        );
        // If the mean already conflicts with no task, it is returned unchanged.
        let mean = j
            .t()
            .dot(&Array1::from_elem(j.nrows(), 1.0 / j.nrows() as f64));
        if j.dot(&mean).iter().all(|&x| x > 0.0) {
            for k in 0..d.len() {
                assert!(
                    (d[k] - mean[k]).abs() <= 1e-9 * (1.0 + mean[k].abs()),
                    "case {c}"
                );
            }
        }
    }
}

#[test]
fn imtl_g_direction_has_equal_projections_on_unit_gradients() {
    for (c, j) in random_cases(19).iter().enumerate() {
        if j.ncols() < j.nrows() {
            continue; // needs linearly independent gradients
        }
        let mut m = build(r#"{"method":"imtl-g"}"#, j.nrows());
        let (out, d) = run_j(m.as_mut(), j);
        assert!((out.weights.sum() - 1.0).abs() < 1e-9, "case {c}");
        let proj: Vec<f64> = (0..j.nrows())
            .map(|i| j.row(i).dot(&d) / j.row(i).dot(&j.row(i)).sqrt())
            .collect();
        for p in &proj {
            assert!(
                (p - proj[0]).abs() <= 1e-7 * proj[0].abs().max(1e-300),
                "case {c}: {proj:?}"
            );
        }
    }
}

#[test]
fn cagrad_with_c_zero_is_the_mean() {
    for j in random_cases(20).iter() {
        let t = j.nrows();
        let mut m = build(r#"{"method":"cagrad","c":0.0}"#, t);
        let (out, _) = run_j(m.as_mut(), j);
        assert_close(&out.weights, &vec![1.0 / t as f64; t], 1e-15, "cagrad c=0");
    }
}

#[test]
fn cagrad_solves_its_problem() {
    // The direction d maximizes the worst improvement min_i ⟨d, g_i⟩ over the ball
    // ‖d − g0‖ ≤ c‖g0‖ (paper Eq. 2): check d is on the ball and beats random ball points.
    for (c, j) in random_cases(21).iter().enumerate().take(60) {
        let t = j.nrows();
        let tr: f64 = gram(j).diag().sum();
        let jn = j / tr.sqrt();
        let mut m = build(r#"{"method":"cagrad","c":0.5}"#, t);
        let (out, d) = run_j(m.as_mut(), &jn);
        assert!(out.report.converged, "case {c}: {:?}", out.report);
        let g0 = jn.t().dot(&Array1::from_elem(t, 1.0 / t as f64));
        let radius = 0.5 * g0.dot(&g0).sqrt();
        let dist = (&d - &g0).dot(&(&d - &g0)).sqrt();
        if out.weights.iter().any(|&w| w != 0.0) {
            assert!(
                (dist - radius).abs() <= 1e-6 * (1.0 + radius),
                "case {c}: {dist} vs {radius}"
            );
            let worst = jn.dot(&d).iter().fold(f64::INFINITY, |a, &b| a.min(b));
            let mut r = rng(c as u64);
            for _ in 0..200 {
                let u = Array1::from_shape_fn(d.len(), |_| normal(&mut r));
                let p = &g0 + &(&u * (radius / u.dot(&u).sqrt()));
                let w = jn.dot(&p).iter().fold(f64::INFINITY, |a, &b| a.min(b));
                assert!(
                    w <= worst + 1e-7,
                    "case {c}: random ball point beats CAGrad: {w} > {worst}"
                );
            }
        }
    }
}

#[test]
fn nash_mtl_solves_the_bargaining_system() {
    for (c, j) in random_cases(22).iter().enumerate() {
        if j.ncols() < j.nrows() {
            continue;
        }
        let g = gram(j);
        let mut m = build(r#"{"method":"nash-mtl","max_norm":0.0}"#, j.nrows());
        let out = run_g(m.as_mut(), &g);
        assert!(out.report.converged, "case {c}: {:?}", out.report);
        // α_i (Gα)_i is the same for every task (= ‖G‖_F with the solver's normalization).
        let ga = g.dot(&out.weights);
        let prod: Vec<f64> = (0..ga.len()).map(|i| out.weights[i] * ga[i]).collect();
        for p in &prod {
            assert!((p - prod[0]).abs() <= 1e-6 * prod[0], "case {c}: {prod:?}");
        }
        // With clipping: ‖Jᵀλ‖ ≤ max_norm.
        let mut m = build(r#"{"method":"nash-mtl","max_norm":0.5}"#, j.nrows());
        let (_, d) = run_j(m.as_mut(), j);
        assert!(d.dot(&d).sqrt() <= 0.5 + 1e-9);
    }
}

#[test]
fn fairgrad_solves_its_system_on_the_raw_gramian() {
    for (c, j) in random_cases(23).iter().enumerate() {
        if j.ncols() < j.nrows() {
            continue;
        }
        let g = gram(j);
        for alpha in [1.0, 2.0] {
            let mut m = build(
                &format!(r#"{{"method":"fairgrad","alpha":{alpha}}}"#),
                j.nrows(),
            );
            let out = run_g(m.as_mut(), &g);
            assert!(out.report.converged, "case {c}");
            let gw = g.dot(&out.weights);
            for i in 0..gw.len() {
                let rhs = out.weights[i].powf(-1.0 / alpha);
                assert!(
                    (gw[i] - rhs).abs() <= 1e-5 * rhs,
                    "case {c}, alpha {alpha}: {} vs {rhs}",
                    gw[i]
                );
            }
        }
    }
}

#[test]
fn aligned_mtl_balances_the_gradient_matrix() {
    use mtlkit_weighting::methods::aligned_mtl_balance;
    for (c, j) in random_cases(24).iter().enumerate() {
        let g = gram(j);
        let (b, _) = aligned_mtl_balance(g.view()).unwrap();
        // B G B = λ_min · P_r: on the span of the gradients, the transformed gradients B J
        // are orthogonal with equal norms (condition number 1).
        let bgb = b.dot(&g).dot(&b);
        let e = mtlkit_weighting::solvers::sym_eig(bgb.view()).unwrap();
        let top = e.values[e.values.len() - 1];
        let tol = 1e-7 * top;
        for &v in e.values.iter() {
            assert!(
                v.abs() <= tol || (v - top).abs() <= tol,
                "case {c}: eigenvalues {}",
                e.values
            );
        }
        let ge = mtlkit_weighting::solvers::sym_eig(g.view()).unwrap();
        let full_rank = ge.values[0]
            > ge.values[ge.values.len() - 1] * j.nrows() as f64 * f64::from(f32::EPSILON);
        if full_rank {
            let t = j.nrows();
            for a in 0..t {
                for bb in 0..t {
                    let want = if a == bb { top } else { 0.0 };
                    assert!((bgb[[a, bb]] - want).abs() <= 1e-7 * top, "case {c}");
                }
            }
        }
        // The method's weights are B · 1/k (scale-invariant).
        let mut m = build(r#"{"method":"aligned-mtl"}"#, j.nrows());
        let out = run_g(m.as_mut(), &(&g * 1e6));
        let want = b.dot(&Array1::from_elem(j.nrows(), 1.0 / j.nrows() as f64));
        assert_close(
            &out.weights,
            want.as_slice().expect("contiguous"),
            1e-8 * want.iter().fold(0.0_f64, |a, &x| a.max(x.abs())),
            "aligned weights",
        );
    }
}

#[test]
fn gradvac_reaches_the_similarity_target() {
    // T = 2, first step: target 0, so a conflicting pair is made exactly orthogonal-ish:
    // cos(g_i', g_j) = 0.
    for (c, j) in random_cases(25).iter().enumerate() {
        if j.nrows() != 2 {
            continue;
        }
        let g = gram(j);
        let cos01 = g[[0, 1]] / (g[[0, 0]] * g[[1, 1]]).sqrt();
        let mut m = build(r#"{"method":"gradvac"}"#, 2);
        let (out, d) = run_j(m.as_mut(), j);
        if cos01 >= 0.0 {
            assert_close(&out.weights, &[1.0, 1.0], 1e-12, "no conflict: plain sum");
        } else {
            // d = g0' + g1' with g0' = g0 + a g1 ⊥ g1 and g1' = g1 + b g0 ⊥ g0.
            let a = out.weights[1] - 1.0;
            let b = out.weights[0] - 1.0;
            let g0p = &j.row(0) + &(&j.row(1) * a);
            let g1p = &j.row(1) + &(&j.row(0) * b);
            let s = g[[0, 0]].max(g[[1, 1]]);
            assert!(g0p.dot(&j.row(1)).abs() <= 1e-6 * s, "case {c}");
            assert!(g1p.dot(&j.row(0)).abs() <= 1e-6 * s, "case {c}");
            let _ = d;
        }
    }
}

#[test]
fn gradvac_gives_a_zero_gradient_no_weight() {
    // step 1 raises the similarity target (cos 0.707 between the tasks); at step 2 task 1's
    // gradient is zero: no direction to align, so its weight stays 1 (not ~1e8 from the
    // reference's 1e-8 guard), and task 0 keeps its own gradient
    let mut m = build(r#"{"method":"gradvac","beta":0.5}"#, 2);
    run_j(m.as_mut(), &array![[1.0, 0.0], [1.0, 1.0]]);
    let (out, d) = run_j(m.as_mut(), &array![[1.0, 0.0], [0.0, 0.0]]);
    assert_close(&out.weights, &[1.0, 1.0], 1e-12, "zero gradient");
    assert_close(&d, &[1.0, 0.0], 1e-12, "direction");
}

#[test]
fn permutation_of_tasks_permutes_the_weights() {
    let methods = [
        r#"{"method":"mean"}"#,
        r#"{"method":"sum"}"#,
        r#"{"method":"mgda","solver":"exact"}"#,
        r#"{"method":"mgda","normalization":"l2","solver":"exact"}"#,
        r#"{"method":"upgrad"}"#,
        r#"{"method":"dualproj"}"#,
        r#"{"method":"imtl-g"}"#,
        r#"{"method":"cagrad"}"#,
        r#"{"method":"nash-mtl"}"#,
        r#"{"method":"aligned-mtl"}"#,
        r#"{"method":"fairgrad"}"#,
        r#"{"method":"log-sum"}"#,
        r#"{"method":"gls"}"#,
        r#"{"method":"stch","warmup_epochs":0}"#,
    ];
    let mut r = rng(26);
    for (c, j) in random_cases(27).iter().enumerate().take(40) {
        let t = j.nrows();
        let losses = Array1::from_shape_fn(t, |_| 0.1 + normal(&mut r).abs());
        let mut perm: Vec<usize> = (0..t).collect();
        perm.shuffle(&mut r);
        let jp = Array2::from_shape_fn(j.dim(), |(a, b)| j[[perm[a], b]]);
        let lp = Array1::from_shape_fn(t, |a| losses[perm[a]]);
        for json in methods {
            if (json.contains("nash") || json.contains("fairgrad")) && j.ncols() < t {
                // With more tasks than parameters the bargaining system has no solution and the
                // weights are set by the tiny ridge (condition number ~1e12): skip.
                continue;
            }
            let mut m1 = build(json, t);
            let mut m2 = build(json, t);
            let o1 = m1
                .aggregate(&StepInput::new(losses.view()).with_jacobian(j.view()))
                .unwrap();
            let o2 = m2
                .aggregate(&StepInput::new(lp.view()).with_jacobian(jp.view()))
                .unwrap();
            let scale = o1
                .weights
                .iter()
                .fold(0.0_f64, |a, &b| a.max(b.abs()))
                .max(1e-300);
            for (a, &pa) in perm.iter().enumerate() {
                assert!(
                    (o2.weights[a] - o1.weights[pa]).abs() <= 1e-6 * scale,
                    "case {c}, {json}: {} vs {}",
                    o2.weights,
                    o1.weights
                );
            }
        }
    }
}

fn hard_inputs() -> Vec<(&'static str, Array2<f64>)> {
    let mut r = rng(28);
    let base = random_j(&mut r, 4, 6);
    let mut colinear = Array2::zeros((4, 6));
    for i in 0..4 {
        let f = [1.0, -2.0, 0.5, 3.0][i];
        colinear.row_mut(i).assign(&(&base.row(0) * f));
    }
    let mut parallel = colinear.clone();
    parallel.mapv_inplace(f64::abs);
    let mut one_zero = base.clone();
    one_zero.row_mut(2).fill(0.0);
    vec![
        ("zero", Array2::zeros((4, 6))),
        ("one zero row", one_zero),
        ("colinear, opposite", colinear),
        ("colinear, same direction", parallel),
        ("huge 1e150", &base * 1e150),
        ("tiny 1e-150", &base * 1e-150),
        ("mixed scales", {
            let mut m = base.clone();
            m.row_mut(0).mapv_inplace(|x| x * 1e100);
            m.row_mut(1).mapv_inplace(|x| x * 1e-100);
            m
        }),
        ("duplicated", {
            let mut m = base.clone();
            let r0 = m.row(0).to_owned();
            m.row_mut(3).assign(&r0);
            m
        }),
        ("more tasks than params", random_j(&mut r, 4, 2)),
    ]
}

#[test]
fn every_method_gives_finite_weights_on_hard_inputs() {
    for (what, j) in hard_inputs() {
        let t = j.nrows();
        let g = mtlkit_weighting::gramian(j.view());
        let losses = Array1::from_vec(vec![0.5, 1.0, 2.0, 4.0]);
        for method in Method::all_defaults(t) {
            for with_gramian in [false, true] {
                let mut m = method.build(t, 3).unwrap();
                for step in 0..3 {
                    let mut input = StepInput::new(losses.view()).with_jacobian(j.view());
                    if with_gramian {
                        input = input.with_gramian(g.view());
                    }
                    let out = m
                        .aggregate(&input)
                        .unwrap_or_else(|e| panic!("{method:?} on {what}: {e}"));
                    assert!(
                        out.weights.iter().all(|w| w.is_finite()),
                        "{method:?} on {what}, step {step}: {}",
                        out.weights
                    );
                    let d = out.combine(j.view()).unwrap();
                    assert!(
                        d.iter().all(|x| x.is_finite()),
                        "{method:?} on {what}: direction {d}"
                    );
                    if m.wants_losses_after_step() {
                        m.observe_losses_after_step((&losses * 0.9).view(), None)
                            .unwrap();
                    }
                }
            }
        }
    }
}

#[test]
fn gramian_helper_handles_huge_values() {
    let j = array![[1e150, 2e150], [-1e150, 1e150]];
    let g = mtlkit_weighting::gramian(j.view());
    assert!((g[[0, 0]] - 5e300).abs() < 1e286);
    assert!((g[[0, 1]] - 1e300).abs() < 1e286);
}

#[test]
fn bargaining_methods_leave_zero_gradient_tasks_out() {
    // A task with an exactly zero gradient would need an infinite Nash/FairGrad weight; it gets
    // the mean weight of the others, and the others get the weights of the reduced problem.
    let mut r = rng(29);
    let j3 = random_j(&mut r, 3, 5);
    let mut j = Array2::zeros((4, 5));
    for (a, src) in [(0usize, 0usize), (1, 1), (3, 2)] {
        j.row_mut(a).assign(&j3.row(src));
    }
    for json in [
        r#"{"method":"nash-mtl","max_norm":0.0}"#,
        r#"{"method":"fairgrad"}"#,
    ] {
        let mut full = build(json, 4);
        let (w4, _) = run_j(full.as_mut(), &j);
        let mut three = build(json, 3);
        let (w3, _) = run_j(three.as_mut(), &j3);
        for (a, src) in [(0usize, 0usize), (1, 1), (3, 2)] {
            assert!(
                (w4.weights[a] - w3.weights[src]).abs() <= 1e-9 * w3.weights[src],
                "{json}"
            );
        }
        assert!(
            (w4.weights[2] - w3.weights.mean().unwrap()).abs() <= 1e-9 * w4.weights[2],
            "{json}"
        );
    }
}

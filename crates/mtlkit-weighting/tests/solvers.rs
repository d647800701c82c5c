//! Each solver on its own: optimality (KKT) conditions on random problems.

mod common;
use common::*;
use mtlkit_weighting::solvers::*;
use ndarray::{Array1, Array2, array};
use rand::Rng;

#[test]
fn simplex_projection_kkt() {
    let mut r = rng(1);
    for case in 0..200 {
        let n = 1 + case % 9;
        let y = Array1::from_shape_fn(n, |_| 3.0 * normal(&mut r));
        let x = project_simplex(y.view()).unwrap();
        assert!((x.sum() - 1.0).abs() < 1e-12, "sum {}", x.sum());
        assert!(x.iter().all(|&v| v >= 0.0));
        // KKT: y_i - x_i = θ on the support, y_i <= θ off it.
        let support: Vec<usize> = (0..n).filter(|&i| x[i] > 0.0).collect();
        let theta = y[support[0]] - x[support[0]];
        for i in 0..n {
            if x[i] > 0.0 {
                assert!((y[i] - x[i] - theta).abs() < 1e-12);
            } else {
                assert!(y[i] <= theta + 1e-12);
            }
        }
    }
    // A point already on the simplex is its own projection.
    let p = array![0.2, 0.3, 0.5];
    assert_close(
        &project_simplex(p.view()).unwrap(),
        &[0.2, 0.3, 0.5],
        1e-15,
        "fixed point",
    );
    assert!(project_simplex(array![f64::NAN, 1.0].view()).is_err());
}

fn min_norm_kkt(g: &Array2<f64>, l: &Array1<f64>) -> f64 {
    let gl = g.dot(l);
    let xx = l.dot(&gl);
    let scale = g.diag().iter().fold(0.0_f64, |m, &x| m.max(x));
    let mut r = 0.0_f64;
    for i in 0..l.len() {
        r = r.max(xx - gl[i]);
        if l[i] > 1e-9 {
            r = r.max((gl[i] - xx).abs());
        }
    }
    r / scale
}

#[test]
fn min_norm_point_kkt_on_random_problems() {
    for (c, j) in random_cases(2).iter().enumerate() {
        let g = gram(j);
        let (l, rep) = min_norm_point(g.view(), 1e-13, 1000).unwrap();
        assert!((l.sum() - 1.0).abs() < 1e-10, "case {c}: sum {}", l.sum());
        assert!(l.iter().all(|&v| v >= 0.0), "case {c}");
        let kkt = min_norm_kkt(&g, &l);
        assert!(
            kkt < 1e-9,
            "case {c} ({}x{}): KKT {kkt}, {rep:?}",
            j.nrows(),
            j.ncols()
        );
        assert!(rep.converged, "case {c}: {rep:?}");
    }
}

#[test]
fn min_norm_point_two_task_closed_form() {
    let mut r = rng(3);
    for _ in 0..100 {
        let j = random_j(&mut r, 2, 4);
        let g = gram(&j);
        let (l, _) = min_norm_point(g.view(), 1e-13, 100).unwrap();
        // γ = clip(⟨g2, g2 − g1⟩ / ‖g1 − g2‖², 0, 1) on g1.
        let gamma =
            ((g[[1, 1]] - g[[0, 1]]) / (g[[0, 0]] + g[[1, 1]] - 2.0 * g[[0, 1]])).clamp(0.0, 1.0);
        assert_close(&l, &[gamma, 1.0 - gamma], 1e-9, "two-task min norm");
    }
}

#[test]
fn min_norm_point_degenerate_inputs() {
    // Duplicated and colinear gradients, and zero gradients.
    let j = array![[1.0, 2.0], [1.0, 2.0], [-2.0, -4.0], [0.5, 1.0]];
    let (l, rep) = min_norm_point(gram(&j).view(), 1e-13, 100).unwrap();
    let x = j.t().dot(&l);
    assert!(x.dot(&x) < 1e-20, "origin is in the hull: {x}, {rep:?}");
    let z = Array2::<f64>::zeros((3, 3));
    let (l, _) = min_norm_point(z.view(), 1e-13, 100).unwrap();
    assert!(l.iter().all(|v| v.is_finite()));
}

#[test]
fn frank_wolfe_matches_exact_for_two_tasks_and_approaches_it_otherwise() {
    for (c, j) in random_cases(4).iter().enumerate() {
        let g = gram(j);
        let (exact, _) = min_norm_point(g.view(), 1e-13, 1000).unwrap();
        let (fw, rep) = frank_wolfe_min_norm(g.view(), 1e-3, 100).unwrap();
        let f_exact = exact.dot(&g.dot(&exact));
        let f_fw = fw.dot(&g.dot(&fw));
        let scale = g.diag().iter().fold(0.0_f64, |m, &x| m.max(x));
        assert!(f_fw >= f_exact - 1e-12 * scale, "case {c}");
        if j.nrows() == 2 {
            assert!(
                (f_fw - f_exact).abs() <= 1e-12 * scale,
                "case {c}: {f_fw} vs {f_exact}"
            );
        } else {
            // Tight FW settings converge to the same value.
            let (fw2, _) = frank_wolfe_min_norm(g.view(), 1e-12, 100_000).unwrap();
            let f2 = fw2.dot(&g.dot(&fw2));
            assert!(
                f2 - f_exact <= 1e-4 * scale,
                "case {c}: {f2} vs {f_exact}, {rep:?}"
            );
        }
    }
}

#[test]
fn frank_wolfe_reports_convergence_at_a_vertex() {
    // one task, identical gradients, one gradient dominating (its vertex is the solution):
    // every step is γ = 1, never below epsilon; the solution is reached and reported so
    for (g, want) in [
        (array![[2.0]], array![1.0]),
        (array![[1.0, 1.0], [1.0, 1.0]], array![0.0, 1.0]),
        (array![[1.0, 1.0], [1.0, 9.0]], array![1.0, 0.0]),
    ] {
        for eps in [1e-3, 0.0] {
            let (a, rep) = frank_wolfe_min_norm(g.view(), eps, 250).unwrap();
            assert!(rep.converged && rep.residual <= 1e-12, "{g} {rep:?}");
            let f = a.dot(&g.dot(&a));
            assert!((f - want.dot(&g.dot(&want))).abs() < 1e-12, "{g}: {a}");
        }
    }
}

fn qp_check(g: &Array2<f64>, u: &Array1<f64>, v: &Array1<f64>, tol: f64, what: &str) {
    let gv = g.dot(v);
    let scale = g.diag().iter().fold(0.0_f64, |m, &x| m.max(x))
        * (1.0 + u.iter().fold(0.0_f64, |m, &x| m.max(x.abs())));
    for i in 0..v.len() {
        assert!(v[i] >= u[i] - 1e-15, "{what}: feasibility {i}");
        assert!(
            gv[i] >= -tol * scale,
            "{what}: dual feasibility {i}: {}",
            gv[i]
        );
        assert!(
            ((v[i] - u[i]) * gv[i]).abs() <= tol * scale * (1.0 + v[i].abs()),
            "{what}: complementarity {i}"
        );
    }
}

#[test]
fn dual_cone_qp_kkt_on_random_problems() {
    let mut r = rng(5);
    for (c, j) in random_cases(6).iter().enumerate() {
        let mut g = gram(j);
        let tr: f64 = g.diag().sum();
        g.mapv_inplace(|x| x / tr);
        if c % 2 == 0 {
            for i in 0..g.nrows() {
                g[[i, i]] += 1e-4;
            }
        }
        let t = g.nrows();
        let u = Array1::from_shape_fn(t, |_| r.random_range(-1.0..1.0));
        let (v, rep) = dual_cone_qp(g.view(), u.view(), 1e-12, 1000).unwrap();
        qp_check(&g, &u, &v, 1e-9, &format!("case {c} ({}x{})", t, j.ncols()));
        assert!(rep.residual < 1e-9, "case {c}: {rep:?}");
    }
}

#[test]
fn dual_cone_qp_is_a_projection() {
    // The projection of a vector already in the dual cone is itself: u ≥ 0 with G u ≥ 0.
    let g = array![[2.0, 1.0], [1.0, 2.0]];
    let u = array![0.3, 0.7];
    let (v, _) = dual_cone_qp(g.view(), u.view(), 1e-12, 100).unwrap();
    assert_close(&v, &[0.3, 0.7], 1e-14, "fixed point");
}

#[test]
fn jacobi_eigendecomposition_at_extreme_scales() {
    // the same matrix times 1e-200 or 1e200: eigenvalues scale with it, vectors do not (the
    // Frobenius norm of the unscaled matrix under- or overflows)
    let a = array![[2.0, 1.0, 0.5], [1.0, 3.0, 0.7], [0.5, 0.7, 4.0]];
    let base = sym_eig(a.view()).unwrap();
    for scale in [1e-200, 1e-300, 1e200, 1e300] {
        let e = sym_eig((&a * scale).view()).unwrap();
        assert!(e.report.converged);
        for k in 0..3 {
            let rel = (e.values[k] / scale - base.values[k]).abs() / base.values[k];
            assert!(
                rel < 1e-13,
                "scale {scale}: {} vs {}",
                e.values[k],
                base.values[k]
            );
            let dot: f64 = (0..3)
                .map(|i| e.vectors[[i, k]] * base.vectors[[i, k]])
                .sum();
            assert!((dot.abs() - 1.0).abs() < 1e-12, "scale {scale}");
        }
        let (p, _) = pinv_sym((&a * scale).view()).unwrap();
        let id = p.dot(&(&a * scale));
        for i in 0..3 {
            for j in 0..3 {
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((id[[i, j]] - want).abs() < 1e-12, "scale {scale}");
            }
        }
    }
}

#[test]
fn jacobi_eigendecomposition() {
    let mut r = rng(7);
    for case in 0..60 {
        let t = 1 + case % 12;
        let a0 = Array2::from_shape_fn((t, t), |_| normal(&mut r));
        let a = &a0 + &a0.t();
        let e = sym_eig(a.view()).unwrap();
        assert!(e.report.converged);
        let v = &e.vectors;
        let vtv = v.t().dot(v);
        for i in 0..t {
            for jx in 0..t {
                let want = if i == jx { 1.0 } else { 0.0 };
                assert!((vtv[[i, jx]] - want).abs() < 1e-12);
            }
        }
        let av = a.dot(v);
        for k in 0..t {
            for i in 0..t {
                assert!(
                    (av[[i, k]] - e.values[k] * v[[i, k]]).abs()
                        < 1e-11 * (1.0 + e.values[k].abs())
                );
            }
            if k > 0 {
                assert!(e.values[k] >= e.values[k - 1]);
            }
        }
        // Trace is preserved.
        let tr: f64 = a.diag().sum();
        assert!((tr - e.values.sum()).abs() < 1e-10 * (1.0 + tr.abs()));
    }
}

#[test]
fn pseudo_inverse_penrose_conditions() {
    for (c, j) in random_cases(8).iter().enumerate() {
        let g = gram(j);
        let (p, _) = pinv_sym(g.view()).unwrap();
        let s = g.iter().fold(0.0_f64, |m, &x| m.max(x.abs()));
        let gpg = g.dot(&p).dot(&g);
        let d = (&gpg - &g).iter().fold(0.0_f64, |m, &x| m.max(x.abs()));
        assert!(d < 1e-8 * s, "case {c}: GPG != G ({d})");
        let pgp = p.dot(&g).dot(&p);
        let ps = p.iter().fold(0.0_f64, |m, &x| m.max(x.abs()));
        let d2 = (&pgp - &p).iter().fold(0.0_f64, |m, &x| m.max(x.abs()));
        assert!(d2 < 1e-6 * ps, "case {c}: PGP != P ({d2} vs {ps})");
    }
}

#[test]
fn nash_bargaining_solves_its_system() {
    for (c, j) in random_cases(9).iter().enumerate() {
        if j.ncols() < j.nrows() {
            continue; // singular: needs a ridge, tested through the method
        }
        let g = gram(j);
        let (a, rep) = nash_bargaining(g.view(), None, 1e-10, 100).unwrap();
        assert!(rep.converged, "case {c}: {rep:?}");
        let ga = g.dot(&a);
        for i in 0..a.len() {
            assert!(a[i] > 0.0);
            assert!(
                (a[i] * ga[i] - 1.0).abs() < 1e-9,
                "case {c}: {}",
                a[i] * ga[i]
            );
        }
    }
}

#[test]
fn alpha_fair_solves_its_system_for_several_alphas() {
    for (c, j) in random_cases(10).iter().enumerate().take(40) {
        if j.ncols() < j.nrows() {
            continue;
        }
        let mut g = gram(j);
        let s = g.iter().map(|x| x * x).sum::<f64>().sqrt();
        g.mapv_inplace(|x| x / s);
        for p in [0.5, 1.0, 2.0, 5.0] {
            let (a, rep) = alpha_fair(g.view(), p, None, 1e-10, 200).unwrap();
            assert!(rep.converged, "case {c}, p {p}: {rep:?}");
            let ga = g.dot(&a);
            for i in 0..a.len() {
                assert!((ga[i] - a[i].powf(-1.0 / p)).abs() <= 1e-8 * a[i].powf(-1.0 / p));
            }
        }
    }
    assert!(alpha_fair(array![[1.0]].view(), 0.0, None, 1e-10, 10).is_err());
}

#[test]
fn solvers_reject_bad_shapes_and_nan() {
    let bad = array![[1.0, 2.0, 3.0]];
    assert!(min_norm_point(bad.view(), 1e-12, 10).is_err());
    assert!(sym_eig(array![[f64::NAN]].view()).is_err());
    assert!(dual_cone_qp(array![[1.0]].view(), array![1.0, 2.0].view(), 1e-12, 10).is_err());
}

//! Golden values published by torchjd for J = [[-4, 1, 1], [6, 1, 1]] (atol 1e-4).

mod common;
use common::*;

const ATOL: f64 = 1e-4;

fn golden(json: &str, want: [f64; 3]) {
    let j = torchjd_j();
    let mut m = build(json, 2);
    let (_, d) = run_j(m.as_mut(), &j);
    assert_close(&d, &want, ATOL, json);
    // The same from the Gramian alone.
    let mut m = build(json, 2);
    let out = run_g(m.as_mut(), &gram(&j));
    let d2 = out.combine(j.view()).expect("combine");
    assert_close(&d2, &want, ATOL, json);
}

#[test]
fn mean() {
    golden(r#"{"method":"mean"}"#, [1.0, 1.0, 1.0]);
}

#[test]
fn sum() {
    golden(r#"{"method":"sum"}"#, [2.0, 2.0, 2.0]);
}

#[test]
fn mgda() {
    golden(r#"{"method":"mgda"}"#, [0.0, 1.0, 1.0]);
}

#[test]
fn mgda_exact_solver() {
    golden(r#"{"method":"mgda","solver":"exact"}"#, [0.0, 1.0, 1.0]);
}

#[test]
fn pcgrad() {
    golden(r#"{"method":"pcgrad"}"#, [0.5848, 3.8012, 3.8012]);
}

#[test]
fn upgrad() {
    golden(r#"{"method":"upgrad"}"#, [0.2929, 1.9004, 1.9004]);
}

#[test]
fn imtl_g() {
    golden(r#"{"method":"imtl-g"}"#, [0.0767, 1.0, 1.0]);
}

#[test]
fn dualproj() {
    golden(r#"{"method":"dualproj"}"#, [0.5563, 1.1109, 1.1109]);
}

#[test]
fn aligned_mtl() {
    golden(r#"{"method":"aligned-mtl"}"#, [0.2133, 0.9673, 0.9673]);
}

#[test]
fn cagrad_c_half() {
    golden(r#"{"method":"cagrad","c":0.5}"#, [0.1835, 1.2041, 1.2041]);
}

#[test]
fn nash_mtl() {
    golden(r#"{"method":"nash-mtl"}"#, [0.0542, 0.7061, 0.7061]);
}

#[test]
fn mgda_weights_on_gramian() {
    let g = gram(&torchjd_j());
    let mut m = build(r#"{"method":"mgda"}"#, 2);
    let out = run_g(m.as_mut(), &g);
    assert_close(&out.weights, &[0.6, 0.4], ATOL, "mgda weights");
}

#[test]
fn upgrad_weights_on_gramian() {
    let g = gram(&torchjd_j());
    let mut m = build(r#"{"method":"upgrad"}"#, 2);
    let out = run_g(m.as_mut(), &g);
    assert_close(&out.weights, &[1.1109, 0.7894], ATOL, "upgrad weights");
    assert!(out.report.converged, "{:?}", out.report);
}

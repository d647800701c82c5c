//! Shared helpers of the integration tests.
#![allow(dead_code)]

use mtlkit_weighting::{Aggregation, Method, StepInput, Weighting};
use ndarray::{Array1, Array2, array};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The torchjd example Jacobian.
pub fn torchjd_j() -> Array2<f64> {
    array![[-4.0, 1.0, 1.0], [6.0, 1.0, 1.0]]
}

pub fn gram(j: &Array2<f64>) -> Array2<f64> {
    j.dot(&j.t())
}

pub fn method(json: &str) -> Method {
    serde_json::from_str(json).expect("valid method json")
}

pub fn build(json: &str, t: usize) -> Box<dyn Weighting> {
    method(json).build(t, 7).expect("valid config")
}

/// Aggregates the Jacobian with unit losses, returns (aggregation, direction).
pub fn run_j(m: &mut dyn Weighting, j: &Array2<f64>) -> (Aggregation, Array1<f64>) {
    let losses = Array1::ones(j.nrows());
    let out = m
        .aggregate(&StepInput::new(losses.view()).with_jacobian(j.view()))
        .expect("aggregate");
    let d = out.combine(j.view()).expect("combine");
    (out, d)
}

pub fn run_g(m: &mut dyn Weighting, g: &Array2<f64>) -> Aggregation {
    let losses = Array1::ones(g.nrows());
    m.aggregate(&StepInput::new(losses.view()).with_gramian(g.view()))
        .expect("aggregate")
}

pub fn assert_close(got: &Array1<f64>, want: &[f64], atol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= atol,
            "{what}: entry {i}: got {g}, want {w} (atol {atol}); full: {got}"
        );
    }
}

pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

pub fn normal(r: &mut StdRng) -> f64 {
    let u1: f64 = 1.0 - r.random::<f64>();
    let u2: f64 = r.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

pub fn random_j(r: &mut StdRng, t: usize, p: usize) -> Array2<f64> {
    Array2::from_shape_fn((t, p), |_| normal(r))
}

/// 100 random Jacobians over T ∈ {2,3,5,8}, P ∈ {3,10,50}, with per-row scales spanning
/// several orders of magnitude.
pub fn random_cases(seed: u64) -> Vec<Array2<f64>> {
    let mut r = rng(seed);
    let ts = [2, 3, 5, 8];
    let ps = [3, 10, 50];
    (0..100)
        .map(|c| {
            let t = ts[c % 4];
            let p = ps[(c / 4) % 3];
            let mut j = random_j(&mut r, t, p);
            for mut row in j.outer_iter_mut() {
                let s = 10f64.powf(r.random_range(-2.0..2.0));
                row.mapv_inplace(|x| x * s);
            }
            j
        })
        .collect()
}

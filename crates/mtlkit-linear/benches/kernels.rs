//! Criterion micro-benchmarks of the kernels behind block coordinate descent, and one whole fit.
//!
//! `cargo bench -p mtlkit-linear --bench kernels` (single thread; shapes of the `small` problem
//! of the peer benchmark: n = 500, d = 2000, T = 20).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mtlkit_core::{Fit, MultiTaskDataset};
use mtlkit_linear::MultiTaskLasso;
use mtlkit_linear::design::{DenseDesign, Design};
use ndarray::{Array2, ShapeBuilder};

fn data(n: usize, d: usize, t: usize) -> (Array2<f64>, Array2<f64>) {
    // deterministic pseudo-random values (no RNG dependency): a cheap LCG
    let mut s = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        s = s
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((s >> 11) as f64 / (1u64 << 53) as f64) - 0.5
    };
    let mut x = Array2::zeros((n, d).f());
    x.iter_mut().for_each(|v| *v = next());
    let w = Array2::from_shape_fn((d, t), |(j, _)| if j % 50 == 0 { 1.0 } else { 0.0 });
    let y = x.dot(&w) + Array2::from_shape_fn((n, t), |_| 0.1 * next());
    (x, y)
}

fn kernels(c: &mut Criterion) {
    let (n, d, t) = (500, 2000, 20);
    let (x, y) = data(n, d, t);
    let design = DenseDesign::new(x.view(), None);
    let r: Vec<f64> = y.t().iter().copied().collect();
    let mut g = c.benchmark_group("kernels");
    g.bench_function("col_dot n=500", |b| {
        b.iter(|| black_box(design.col_dot(black_box(7), &r[..n])))
    });
    let mut v = r[..n].to_vec();
    g.bench_function("col_axpy n=500", |b| {
        b.iter(|| design.col_axpy(black_box(7), 1e-3, &mut v))
    });
    let mut out = vec![0.0; d * t];
    g.bench_function("xt_r 500x2000x20 (GEMM floor of one gradient)", |b| {
        b.iter(|| design.xt_r(black_box(&r), t, &mut out))
    });
    let (xt, _) = data(2000, 200, 1);
    let tall = DenseDesign::new(xt.view(), None);
    let mut gram = vec![0.0; 200 * 200];
    g.bench_function("gram 2000x200", |b| b.iter(|| tall.gram(&mut gram)));
    g.finish();

    let ds = MultiTaskDataset::shared(x, y).unwrap_or_else(|e| panic!("{e}"));
    let mut f = c.benchmark_group("fit");
    f.sample_size(10);
    f.bench_function("MultiTaskLasso 500x2000x20 alpha=0.05 tol=1e-6", |b| {
        b.iter(|| {
            MultiTaskLasso::new(0.05)
                .fit_intercept(false)
                .tol(1e-6)
                .fit(&ds)
        })
    });
    f.finish();
}

criterion_group!(benches, kernels);
criterion_main!(benches);

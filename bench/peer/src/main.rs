//! Benchmark peer for mtlkit, with the interface of the shared harness's `linfa_peer`
//! (`../shared/bench/`), so `bench/mtl.py` can time mtlkit side by side with the peers.
//!
//! * `fit --data P.npz --alpha A [--l1-ratio R] [--tol T] [--max-iter N] [--working-set true|false] [--threads K]
//!   [--out W.npy]`: one fit without intercept; reports fit wall and thread-CPU seconds (data
//!   loading excluded), passes, mtlkit's duality gap and the primal objective.
//! * `path --data P.npz --alphas A.npy ...`: one warm-started path (`ValidMultiTaskParams::path`,
//!   the solver state kept along it); `fit_s`/`cpu_s` hold the whole path's time; `--out` gets a
//!   `(n_alphas, d, T)` array.
//!
//! Output: one JSON object on stdout.

use std::collections::HashMap;
use std::fs::File;
use std::time::Instant;

use anyhow::{Context, Result, anyhow};
use mtlkit_core::{Fit, MultiTaskDataset};
use mtlkit_linear::{MultiTaskElasticNet, MultiTaskLinearModel};
use ndarray::{Array1, Array2, Array3, Axis, ShapeBuilder};
use ndarray_npy::{NpzReader, read_npy, write_npy};

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    if let Err(e) = run() {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let mut it = std::env::args().skip(1);
    let cmd = it
        .next()
        .ok_or_else(|| anyhow!("usage: mtlkit_peer fit|path --data P.npz ..."))?;
    let mut a = HashMap::new();
    while let Some(k) = it.next() {
        let key = k
            .strip_prefix("--")
            .ok_or_else(|| anyhow!("bad flag {k}"))?
            .to_string();
        a.insert(
            key,
            it.next().ok_or_else(|| anyhow!("--{k} needs a value"))?,
        );
    }
    let num = |k: &str, default: Option<f64>| -> Result<f64> {
        match a.get(k) {
            Some(v) => v.parse().with_context(|| format!("--{k}")),
            None => default.ok_or_else(|| anyhow!("--{k} is required")),
        }
    };
    let data = a.get("data").ok_or_else(|| anyhow!("--data is required"))?;
    let l1_ratio = num("l1-ratio", Some(1.0))?;
    let tol = num("tol", Some(1e-4))?;
    let max_iter = num("max-iter", Some(100_000.0))? as usize;
    let working_set = a.get("working-set").is_none_or(|v| v == "true");
    let threads = num("threads", Some(1.0))? as usize;
    // --f32 true: X in single precision (fit_f32; fit only, not path)
    let single = a.get("f32").is_some_and(|v| v == "true");
    // --repeat K: fit K times (for profiling; `fit_s`/`cpu_s` list every repeat)
    let repeat = (num("repeat", Some(1.0))? as usize).max(1);
    let alphas: Array1<f64> = match cmd.as_str() {
        "fit" => Array1::from(vec![num("alpha", None)?]),
        "path" => read_npy(
            a.get("alphas")
                .ok_or_else(|| anyhow!("--alphas is required"))?,
        )?,
        other => return Err(anyhow!("unknown command {other}")),
    };
    let t_load = Instant::now();
    let mut npz = NpzReader::new(File::open(data)?)?;
    let x_c: Array2<f64> = npz.by_name("X")?;
    // column-major, as the harness hands X to every Python peer (prepared outside the timing)
    let mut x = Array2::<f64>::zeros(x_c.raw_dim().f());
    x.assign(&x_c);
    drop(x_c);
    let y: Array2<f64> = npz.by_name("Y")?;
    let ds = MultiTaskDataset::shared(x, y)?;
    // the single-precision copy of X, column-major (made before the timing, like the f64 one)
    let (x32, y_view) = {
        let (xv, yv) = ds.require_shared("fit")?;
        let mut x32 = Array2::<f32>::zeros(if single { xv.raw_dim().f() } else { (0, 0).f() });
        if single {
            #[allow(clippy::cast_possible_truncation)]
            x32.zip_mut_with(&xv, |o, &v| *o = v as f32);
        }
        (x32, yv)
    };
    let load_s = t_load.elapsed().as_secs_f64();
    let (d, t) = (ds.n_features(), ds.n_tasks());

    let mut ws = Array3::<f64>::zeros((alphas.len(), d, t));
    let (mut fit_s, mut cpu_s, mut steps, mut gaps, mut objs) =
        (vec![], vec![], vec![], vec![], vec![]);
    let p = MultiTaskElasticNet::new(alphas[0], l1_ratio)
        .fit_intercept(false)
        .tol(tol)
        .max_iter(max_iter)
        .working_set(working_set)
        .n_threads(threads)
        .check()?;
    // untimed warm-up on a tiny problem, as the harness does for every Python peer
    // (`Solver.warmup`: a 30 × 40 × 3 fit at alpha 0.01, tol 1e-6): code paged in, allocator
    // and CPU-feature detection warm, nothing of the real problem cached
    {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let xw = Array2::from_shape_fn((30, 40).f(), |_| next());
        let yw = Array2::from_shape_fn((30, 3), |_| next());
        let tiny = MultiTaskDataset::shared(xw, yw)?;
        MultiTaskElasticNet::new(0.01, l1_ratio)
            .fit_intercept(false)
            .tol(1e-6)
            .working_set(working_set)
            .n_threads(threads)
            .check()?
            .fit(&tiny)?;
    }
    // resident memory: reset the peak (Linux: `5` > /proc/self/clear_refs) so that the fit's own
    // peak is measured, not the loading of the data
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let rss_before = proc_status_kib("VmRSS");
    let mut models: Vec<MultiTaskLinearModel> = Vec::new();
    for _ in 0..repeat {
        let t_all = Instant::now();
        let c0 = thread_cpu_s();
        // one warm-started path (the solver state is kept along it); a single alpha is a plain fit
        models = if cmd == "path" {
            p.path(
                &ds,
                alphas
                    .as_slice()
                    .ok_or_else(|| anyhow!("alphas not contiguous"))?,
            )?
        } else if single {
            vec![p.fit_f32(x32.view(), y_view)?]
        } else {
            vec![p.fit(&ds)?]
        };
        fit_s.push(t_all.elapsed().as_secs_f64());
        cpu_s.push(thread_cpu_s() - c0);
    }
    let fit_extra_rss_kib = match (rss_before, proc_status_kib("VmHWM")) {
        (Some(a), Some(b)) => b.saturating_sub(a) as i64,
        _ => -1,
    };
    let x_kib = 8 * ds.n_features() * ds.n_samples(mtlkit_core::TaskId(0)) / 1024;
    for (k, (m, &alpha)) in models.iter().zip(alphas.iter()).enumerate() {
        steps.push(m.info().n_iter);
        gaps.push(m.info().dual_gap);
        let pk = MultiTaskElasticNet::new(alpha, l1_ratio)
            .fit_intercept(false)
            .check()?;
        objs.push(pk.objective(&ds, m)?);
        ws.index_axis_mut(Axis(0), k).assign(&m.coef());
    }
    let total_s = fit_s[0];
    if let Some(out) = a.get("out") {
        if cmd == "path" {
            write_npy(out, &ws)?;
        } else {
            write_npy(out, &ws.index_axis(Axis(0), 0).to_owned())?;
        }
    }
    let list = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:e}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    println!(
        "{{\"solver\":\"mtlkit\",\"working_set\":{working_set},\"load_s\":{load_s:.6},\"fit_s\":[{}],\"total_fit_s\":{total_s:.6},\"cpu_s\":[{}],\"n_steps\":{steps:?},\"dual_gap\":[{}],\"objective\":[{}],\"fit_extra_rss_kib\":{fit_extra_rss_kib},\"x_kib\":{x_kib}}}",
        list(&fit_s),
        list(&cpu_s),
        list(&gaps),
        list(&objs)
    );
    Ok(())
}

/// A `kB` field of `/proc/self/status` (`VmRSS`, `VmHWM`), if readable.
fn proc_status_kib(field: &str) -> Option<usize> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// CPU time of the calling thread (the fit is single-threaded).
fn thread_cpu_s() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, exclusively borrowed timespec for the duration of the call.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

"""A/B runs of `mtlkit_peer` builds on one problem of the shared harness, side by side.

Two measures, both with the harness's objective (`mtl_bench.objective.primal`) against its
reference `P*` (`<problem>.ref.npz`, written by `python bench/mtl.py ref ...`):

* `ladder`: every variant at every tolerance of a ladder, in a random order per (repeat,
  tolerance), fresh processes; prints each rung's median thread-CPU time, its epochs and the
  suboptimality it reached, then the time to a target suboptimality (the smallest median over
  the rungs that reach it: the harness's rule);
* `trajectory`: the suboptimality after k epochs (`--max-iter k` at a tolerance no fit meets),
  which shows how fast a variant converges, independently of where its checks fall.

A variant is a binary, optionally with environment variables: `PATH[:NAME=VALUE...]`.

    cargo build --release -p mtlkit-bench-peer && cp target/release/mtlkit_peer /tmp/peer_a
    python bench/ab.py ladder mtl_n500_d2000_t20_rho50 --alpha-ratio 10 --l1-ratio 0.5 \\
        --tols 1e-4,1e-5,1e-6 --repeats 7 /tmp/peer_a /tmp/peer_b
    python bench/ab.py trajectory mtl_n500_d2000_t20_rho50 --alpha-ratio 10 --l1-ratio 0.5 \\
        --epochs 15,16,17,18,19,20 /tmp/peer_a /tmp/peer_b

Problems are read from $MTL_BENCH_DATA (default: <system temp dir>/mtl_bench_data); the
harness from $MTL_BENCH_HARNESS (default ../shared/bench next to the repository). Every run is
pinned to one thread.
"""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
HARNESS = os.environ.get("MTL_BENCH_HARNESS") or os.path.join(HERE, "..", "..", "shared", "bench")
sys.path.insert(0, os.path.abspath(HARNESS))

from mtl_bench.objective import primal  # noqa: E402

DATA = os.environ.get("MTL_BENCH_DATA") or os.path.join(tempfile.gettempdir(), "mtl_bench_data")
THREADS = {k: "1" for k in ("RAYON_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}


def load(problem, alpha_ratio, l1_ratio):
    """X, Y, alpha and P* of one case of a problem with references."""
    path = os.path.join(DATA, problem + ".npz")
    if not os.path.exists(path):
        sys.exit(f"no problem {path}: run `python bench/mtl.py gen` first")
    with np.load(path) as z:
        x, y = z["X"], z["Y"]
    ref_path = os.path.join(DATA, problem + ".ref.npz")
    if not os.path.exists(ref_path):
        sys.exit(f"no reference for {problem}: run `python bench/mtl.py ref` first")
    with np.load(ref_path) as r:
        hits = [i for i in range(len(r["alphas"]))
                if r["alpha_ratios"][i] == alpha_ratio and r["l1_ratios"][i] == l1_ratio]
        if not hits:
            sys.exit(f"{problem} has no reference for alpha_max/{alpha_ratio:g}, "
                     f"l1_ratio {l1_ratio:g}")
        return x, y, float(r["alphas"][hits[0]]), float(r["obj"][hits[0]])


def run(variant, problem, alpha, l1_ratio, tol, max_iter=None):
    """One fit in a fresh process: (thread CPU seconds, epochs, coefficients)."""
    binary, *envs = variant.split(":")
    env = dict(os.environ, **THREADS)
    for e in envs:
        name, _, value = e.partition("=")
        env[name] = value
    with tempfile.TemporaryDirectory() as td:
        out = os.path.join(td, "w.npy")
        cmd = [binary, "fit", "--data", os.path.join(DATA, problem + ".npz"), "--alpha",
               repr(alpha), "--l1-ratio", repr(l1_ratio), "--tol", repr(tol), "--out", out]
        if max_iter is not None:
            cmd += ["--max-iter", str(max_iter)]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            sys.exit(f"{variant} failed: {done.stderr.strip()}")
        rec = json.loads(done.stdout)
        w = np.load(out)
    return rec["cpu_s"][0], rec["n_steps"][0], w.reshape(w.shape[-2], w.shape[-1])


def ladder(args):
    x, y, alpha, p_star = load(args.problem, args.alpha_ratio, args.l1_ratio)
    times = {(v, t): [] for v in args.variants for t in args.tols}
    last = {}
    for _ in range(args.repeats):
        for tol in args.tols:
            order = list(args.variants)
            random.shuffle(order)
            for v in order:
                cpu, epochs, w = run(v, args.problem, alpha, args.l1_ratio, tol)
                times[(v, tol)].append(cpu)
                last[(v, tol)] = (epochs, (primal(x, y, w, alpha, args.l1_ratio) - p_star) / p_star)
    for v in args.variants:
        best = None
        for tol in args.tols:
            ts = np.array(times[(v, tol)]) * 1e3
            med = float(np.median(ts))
            epochs, subopt = last[(v, tol)]
            print(f"{v:50s} tol {tol:.0e}: {med:8.2f} ms (min {ts.min():.2f}, max {ts.max():.2f}) "
                  f"epochs {epochs} suboptimality {subopt:.1e}")
            if subopt <= args.target and (best is None or med < best[0]):
                best = (med, tol)
        reached = f"{best[0]:.2f} ms (tol {best[1]:.0e})" if best else "not reached"
        print(f"== {v}: time to {args.target:.0e}: {reached}")


def trajectory(args):
    x, y, alpha, p_star = load(args.problem, args.alpha_ratio, args.l1_ratio)
    for v in args.variants:
        cells = []
        for k in args.epochs:
            _, _, w = run(v, args.problem, alpha, args.l1_ratio, 1e-14, max_iter=k)
            cells.append(f"{k}: {(primal(x, y, w, alpha, args.l1_ratio) - p_star) / p_star:.1e}")
        print(f"{v:50s} " + "  ".join(cells))


def floats(text):
    return [float(v) for v in text.split(",")]


def ints(text):
    return [int(v) for v in text.split(",")]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for name in ("ladder", "trajectory"):
        p = sub.add_parser(name)
        p.add_argument("problem", help="problem name, e.g. mtl_n500_d2000_t20_rho50")
        p.add_argument("variants", nargs="+", help="PATH[:NAME=VALUE...] of mtlkit_peer builds")
        p.add_argument("--alpha-ratio", type=float, default=10.0)
        p.add_argument("--l1-ratio", type=float, default=1.0)
        if name == "ladder":
            p.add_argument("--tols", type=floats, default=[1e-4, 1e-5, 1e-6],
                           help="comma-separated, e.g. 1e-4,1e-5,1e-6")
            p.add_argument("--repeats", type=int, default=5)
            p.add_argument("--target", type=float, default=1e-8)
        else:
            p.add_argument("--epochs", type=ints, default=[10, 15, 20],
                           help="comma-separated, e.g. 15,16,17")
    args = ap.parse_args()
    (ladder if args.cmd == "ladder" else trajectory)(args)


if __name__ == "__main__":
    main()

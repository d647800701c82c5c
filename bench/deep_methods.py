"""Every task-weighting method of mtlkit-weighting on a deep multi-task example, through the
CLI (`mtlkit train --json`): Δm against single-task models of the same architecture, over
several seeds, model selection on validation only. Equal weighting (`sum`) and random
weighting (`rlw`) are the honest baselines and always included.

    python bench/deep_methods.py --mtlkit target/release/mtlkit --config examples/parkinsons.toml \
        --seeds 0,1,2 --out bench/results/deep_methods_parkinsons.json

The single-task baselines are trained once (with `sum`) and reused for every method (they do
not depend on the weighting). Prints a markdown table.
"""
import argparse
import json
import os
import statistics
import subprocess
import tempfile

METHODS = [
    "sum", "rlw", "mean", "log-sum", "uncertainty", "dwa", "gls", "stch", "famo", "imtl-l",
    "mgda", "pcgrad", "gradvac", "imtl-g", "cagrad", "nash-mtl", "aligned-mtl", "upgrad",
    "dualproj", "fairgrad", "excess-mtl", "gradnorm", "db-mtl", "moco", "graddrop",
]


def run(mtlkit, config_text, base_dir, seeds, single_task, epochs=None):
    with tempfile.TemporaryDirectory() as d:
        cfg = os.path.join(base_dir, ".bench_method.toml")
        with open(cfg, "w") as f:
            f.write(config_text.replace("single_task = true", f"single_task = {'true' if single_task else 'false'}"))
        try:
            out = subprocess.run(
                [mtlkit, "train", "--config", cfg, "--out", d, "--seeds", seeds, "--json"]
                + (["--epochs", str(epochs)] if epochs else []),
                capture_output=True, text=True, env={**os.environ, "RAYON_NUM_THREADS": "1"},
            )
        finally:
            os.remove(cfg)
        if out.returncode != 0:
            return None, out.stderr.strip()
        return json.loads(out.stdout)["report"], None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mtlkit", required=True)
    ap.add_argument("--config", required=True)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--out")
    ap.add_argument("--methods", help="comma-separated subset (default: all)")
    ap.add_argument("--epochs", type=int, help="override the configuration's epochs")
    a = ap.parse_args()
    text = open(a.config).read()
    base_dir = os.path.dirname(os.path.abspath(a.config))
    base, err = run(a.mtlkit, text, base_dir, a.seeds, True, a.epochs)
    if base is None:
        raise SystemExit(err)
    single = base["single_task"]
    rows = []
    methods = a.methods.split(",") if a.methods else METHODS
    for m in methods:
        t = text.replace("[trainer]", f'[trainer]\nweighting = {{ method = "{m}" }}', 1)
        rep, err = run(a.mtlkit, t, base_dir, a.seeds, False, a.epochs)
        if rep is None:
            rows.append({"method": m, "error": err})
            print(f"| {m} | error: {err} |")
            continue
        dms = []
        for mt in rep["multi_task"]:
            num, n = 0.0, 0
            for ti, name in enumerate(rep["tasks"]):
                st = next(s for s in single if s["seed"] == mt["seed"] and s["tasks"] == [name])
                for (metric, a_), (_, b_) in zip(mt["report"]["metrics"][ti], st["report"]["metrics"][0]):
                    if a_ is None or b_ is None or b_ == 0:
                        continue
                    sign = 1 if metric in ("r2", "accuracy", "auc", "macro-f1") else -1
                    num += 100 * sign * (a_ - b_) / abs(b_)
                    n += 1
            dms.append(num / n)
        mean = statistics.mean(dms)
        sd = statistics.stdev(dms) if len(dms) > 1 else 0.0
        rows.append({"method": m, "delta_m": dms, "mean": mean, "sd": sd})
        print(f"| {m} | {mean:+.2f} ± {sd:.2f} |", flush=True)
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"config": a.config, "seeds": a.seeds, "rows": rows, "single_task": single}, f, indent=2)


if __name__ == "__main__":
    main()

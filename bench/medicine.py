"""Medicine examples of issue 11, end to end: several outcomes per patient, multi-task against
single-task, deep (mtlkit train) and linear (mtlkit fit / path / predict), on

- parkinsons_patients: Parkinson's telemonitoring, motor and total UPDRS (regression), split by
  patient (test patients never seen in training);
- cardiotocography: 10-class FHR pattern + 3-class fetal state;
- cervical_cancer: Hinselmann, Schiller, cytology, biopsy (binary, missing inputs).

    python examples/prepare_parkinsons.py crates/mtlkit-datasets/data examples/data
    python examples/prepare_cardiotocography.py ../shared/data/cardiotocography examples/data
    python examples/prepare_cervical.py ../shared/data/cervical_cancer_risk examples/data
    RAYON_NUM_THREADS=1 OMP_NUM_THREADS=1 \\
    $HOME/.cache/mtlkit-bench-venv/bin/python bench/medicine.py --mtlkit target/release/mtlkit \\
        --raw ../shared/data --notes bench/medicine_notes.json

Writes examples/<name>/RESULTS.md and bench/results/medicine_<name>.json for each example
(`--only NAME,...` to run some; `--data DIR` for tables elsewhere; `--no-write` to only print;
`--splits 1,2,3,4` (default) adds four more seeded splits prepared from `--raw` (the shared data
folder) and a table over the five splits; `--render --notes notes.json` rewrites RESULTS.md from
the saved JSON with a hand-written reading). The "Reading" paragraphs of the committed RESULTS.md
files come from bench/medicine_notes.json, written from the 2026-11-29 numbers: revise them when
the numbers change.

Protocol (the same for every model): train on the training table, choose everything (deep: the
epoch, by early stopping on the mean validation loss; linear: alpha, on the mean validation
loss of a 20-value grid from alpha_max down to 1e-3 alpha_max) on the validation table only,
report once on the test table. Deep: `mtlkit train --json` runs the multi-task model and
single-task models of the same architecture for each seed (initialisation and batch order).
Linear (one thread, deterministic, so one run): the multi-task model is L2,1-regularised over
all outcomes (`--estimator multitask-lasso`: rows of W shared across outcomes), the single-task
model the same estimator on one outcome alone. Regression outcomes use the squared loss; binary
outcomes the logistic loss; a K-class outcome is K one-vs-rest logistic columns (the class is
the argmax of their probabilities; for the single-task model the K columns of that outcome
share the L2,1 penalty among themselves, for the multi-task model with the other outcome's
columns too). Inputs are standardised with the training rows' mean and deviation (deep: by the
config; linear: here).

Needs numpy and scikit-learn (metrics only): the bench venv has both.
"""

import argparse
import csv
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
from sklearn.metrics import f1_score, mean_absolute_error, r2_score, roc_auc_score

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# name -> (config, table prefix, outcomes [(task name, kind, classes)], excluded columns)
EXAMPLES = {
    "parkinsons_patients": dict(
        config="examples/parkinsons_patients.toml", prefix="parkinsons",
        outcomes=[("motor_UPDRS", "regression", 0), ("total_UPDRS", "regression", 0)],
        exclude=["subject"], title="Parkinson's telemonitoring: motor and total UPDRS, patients as groups"),
    "cardiotocography": dict(
        config="examples/cardiotocography.toml", prefix="ctg",
        outcomes=[("pattern", "multiclass", 10), ("fetal_state", "multiclass", 3)],
        exclude=[], title="Cardiotocography: 10-class FHR pattern and 3-class fetal state"),
    "cervical_cancer": dict(
        config="examples/cervical_cancer.toml", prefix="cervical",
        outcomes=[("hinselmann", "binary", 0), ("schiller", "binary", 0),
                  ("cytology", "binary", 0), ("biopsy", "binary", 0)],
        exclude=[], title="Cervical cancer risk factors: four binary diagnostic outcomes"),
}

# What the tables report per kind (name, higher is better).
REPORTED = {
    "regression": [("r2", True), ("mae", False)],
    "multiclass": [("accuracy", True), ("macro_f1", True)],
    "binary": [("auc", True)],
}

DATA_NOTES = {
    "parkinsons_patients": (
        "**Data and split.** UCI Parkinson's telemonitoring (Tsanas et al. 2009, CC BY 4.0; the "
        "copy bundled in `crates/mtlkit-datasets`): 5875 voice recordings of 42 patients, "
        "inputs age, sex and 16 voice measures (`test_time` dropped), outcomes motor and total "
        "UPDRS. `examples/prepare_parkinsons.py` splits the *patients* (seed 0): 26 train "
        "(3644 recordings), 8 validation (1109), 8 test (1122); a test patient is never seen in "
        "training nor used for selection.\n\n"
        "**Missing values.** None (the script fails on an empty cell rather than imputing)."),
    "cardiotocography": (
        "**Data and split.** UCI Cardiotocography (Ayres de Campos et al. 2000, CC BY 4.0): 2126 "
        "records, 21 features (the six counts divided by the segment length, as in UCI's `Data` "
        "sheet), outcomes the 10-class FHR pattern (`CLASS`) and the 3-class fetal state (`NSP`). "
        "`examples/prepare_cardiotocography.py`: split stratified on the (CLASS, NSP) pair, "
        "seed 0, 60/20/20 (1278 / 424 / 424 records).\n\n"
        "**Missing values.** None (the script fails on an empty cell rather than imputing)."),
    "cervical_cancer": (
        "**Data and split.** UCI Cervical cancer (Risk Factors) (Fernandes et al. 2017, CC BY 4.0): "
        "858 patients, 32 risk factors, outcomes Hinselmann, Schiller, cytology (UCI: Citology) "
        "and biopsy, 4-9 % positive. `examples/prepare_cervical.py`: split stratified on "
        "(number of positive outcomes, biopsy), seed 0, 60/20/20 (514 / 172 / 172 patients; "
        "test positives: Hinselmann 6, Schiller 16, cytology 10, biopsy 11, so test AUCs move "
        "by several points with a single patient).\n\n"
        "**Missing values.** 3622 input cells are `?` (799 patients have one; the two "
        "'time since STD diagnosis' columns are missing for 92 % of patients). Each feature "
        "missing on some training rows gets a 0/1 indicator, one per questionnaire block (features "
        "missing on exactly the same training rows share it: 8 indicators); the cells are then "
        "filled with the training rows' median (validation and test use the training medians). "
        "Features constant on the training rows are dropped (4 STD columns), leaving 28 features "
        "+ 8 indicators. The labels have no missing values here; an empty label cell would be "
        "masked out of that outcome's loss and metrics by both the deep trainer and the linear CLI."),
}


# ---------------------------------------------------------------------------------------- data

def read_table(path):
    with open(path, newline="") as f:
        r = csv.reader(f)
        header = next(r)
        rows = [[float(v) if v.strip() not in ("", "NA", "nan") else np.nan for v in row] for row in r]
    return header, np.array(rows, float)


def load_example(ex, data_dir):
    parts = {}
    for part in ("train", "valid", "test"):
        header, values = read_table(os.path.join(data_dir, f"{ex['prefix']}_{part}.csv"))
        parts[part] = (header, values)
    header = parts["train"][0]
    tcols = [o[0] for o in ex["outcomes"]]
    feats = [c for c in header if c not in tcols and c not in ex["exclude"]]
    out = {}
    for part, (h, v) in parts.items():
        X = v[:, [h.index(c) for c in feats]]
        Y = v[:, [h.index(c) for c in tcols]]
        out[part] = (X, Y)
    return feats, out


# ---------------------------------------------------------------------------------------- metrics

def outcome_metrics(kind, y, pred):
    """pred: regression -> values; binary -> P(y=1); multiclass -> n x K probabilities."""
    m = ~np.isnan(y)
    y, pred = y[m], pred[m]
    if kind == "regression":
        return {"r2": float(r2_score(y, pred)), "mae": float(mean_absolute_error(y, pred)),
                "mse": float(np.mean((y - pred) ** 2))}
    if kind == "binary":
        p = np.clip(pred, 1e-12, 1 - 1e-12)
        auc = float(roc_auc_score(y, pred)) if len(np.unique(y)) == 2 else float("nan")
        return {"auc": auc, "accuracy": float(np.mean((pred > 0.5) == (y == 1))),
                "logloss": float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))}
    k = pred.shape[1]
    yi = y.astype(int)
    lab = pred.argmax(1)
    return {"accuracy": float(np.mean(lab == yi)),
            "macro_f1": float(f1_score(yi, lab, average="macro", labels=list(range(k)), zero_division=0)),
            "logloss": float(-np.mean(np.log(np.clip(pred[np.arange(len(yi)), yi], 1e-12, 1))))}


def selection_loss(kind, y, pred):
    """The validation loss used to choose alpha (the deep trainer's early-stopping loss)."""
    m = ~np.isnan(y)
    if kind == "regression":
        return float(np.mean((y[m] - pred[m]) ** 2))
    return outcome_metrics(kind, y, pred)["logloss"]


def constant_baseline(outcomes, data):
    """Test metrics of the input-free predictor fitted on the training labels (training mean,
    class frequencies, prevalence): the floor every model should beat."""
    Ytr, Yte = data["train"][1], data["test"][1]
    out = {}
    for j, (name, kind, k) in enumerate(outcomes):
        y = Ytr[~np.isnan(Ytr[:, j]), j]
        n = Yte.shape[0]
        if kind == "regression":
            pred = np.full(n, y.mean())
        elif kind == "binary":
            pred = np.full(n, y.mean())
        else:
            freq = np.bincount(y.astype(int), minlength=k) / len(y)
            pred = np.tile(freq, (n, 1))
        out[name] = outcome_metrics(kind, Yte[:, j], pred)
        if kind == "binary":
            out[name]["auc"] = 0.5
    return out


# ---------------------------------------------------------------------------------------- linear

def lin_columns(outcomes, Y):
    """Linear target columns: one per regression / binary outcome, K one-vs-rest per K-class."""
    names, cols, loss, owner = [], [], [], []
    for j, (name, kind, k) in enumerate(outcomes):
        y = Y[:, j]
        if kind == "multiclass":
            for c in range(k):
                col = np.where(np.isnan(y), np.nan, (y == c).astype(float))
                names.append(f"{name}__c{c}")
                cols.append(col)
                loss.append("logistic")
                owner.append(j)
        else:
            names.append(name)
            cols.append(y)
            loss.append("squared" if kind == "regression" else "logistic")
            owner.append(j)
    return names, np.column_stack(cols), loss, owner


def write_csv(path, header, M):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for row in M:
            w.writerow(["" if np.isnan(v) else repr(float(v)) for v in row])


def write_long(path, feats, X, tasks):
    """Every row once per task (for `mtlkit predict --data --task-col`)."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["task"] + feats)
        for t in tasks:
            for row in X:
                w.writerow([t] + [repr(float(v)) for v in row])


def run(cmd, env):
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}\n{p.stderr}")
    return p.stdout


def linear_model(binary, env, tmp, feats, data, outcomes, which, n_alphas):
    """Fit the L2,1 model on the outcomes `which` (indices), choose alpha on validation,
    return per-outcome test metrics, the validation curve and times."""
    t_start = time.perf_counter()
    sub = [outcomes[j] for j in which]
    cols = {}
    for part, (X, Y) in data.items():
        cols[part] = lin_columns(sub, Y[:, which])
    names, Ytr, loss, owner = cols["train"]
    Xtr = data["train"][0]
    tag = "_".join(o[0] for o in sub)
    trp = os.path.join(tmp, f"lin_{tag}_train.csv")
    write_csv(trp, feats + names, np.column_stack([Xtr, Ytr]))
    longp = {}
    for part in ("valid", "test"):
        longp[part] = os.path.join(tmp, f"lin_{tag}_{part}_long.csv")
        write_long(longp[part], feats, data[part][0], names)
    common = ["--estimator", "multitask-lasso", "--data", trp, "--targets", ",".join(names),
              "--loss", ",".join(loss), "--tol", "1e-6", "--max-iter", "5000"]
    path = json.loads(run([binary, "path"] + common + ["--n-alphas", str(n_alphas), "--eps", "1e-3",
                                                     "--json"], env))
    alphas = path["alphas"]

    def fit_predict(alpha, part, model):
        info = json.loads(run([binary, "fit"] + common + ["--alpha", repr(alpha), "--out", model,
                                                        "--json"], env))
        pp = os.path.join(tmp, "pred.csv")
        run([binary, "predict", model, "--data", longp[part], "--task-col", "task", "--out", pp], env)
        with open(pp) as f:
            rows = list(csv.reader(f))[1:]
        n = data[part][0].shape[0]
        col = [2 if l == "logistic" else 1 for l in loss]
        P = np.empty((n, len(names)))
        for t in range(len(names)):
            P[:, t] = [float(r[col[t]]) for r in rows[t * n:(t + 1) * n]]
        return P, info

    def per_outcome(P, Y):
        out = []
        for jj, (name, kind, k) in enumerate(sub):
            c = [t for t in range(len(names)) if owner[t] == jj]
            if kind == "multiclass":
                pr = P[:, c] / np.clip(P[:, c].sum(1, keepdims=True), 1e-12, None)
            else:
                pr = P[:, c[0]]
            out.append((kind, Y[:, jj], pr))
        return out

    curve = []
    best = None
    for a in alphas:
        model = os.path.join(tmp, f"m_{len(curve)}.safetensors")
        P, info = fit_predict(a, "valid", model)
        vloss = float(np.mean([selection_loss(kind, y, pr) for kind, y, pr in
                               per_outcome(P, data["valid"][1][:, which])]))
        curve.append({"alpha": a, "valid_loss": vloss, "converged": info.get("converged"),
                      "n_iter": info.get("n_iter")})
        if best is None or vloss < best[1]:
            best = (a, vloss, model)
    t_sel = time.perf_counter() - t_start
    t0 = time.perf_counter()
    final = os.path.join(tmp, "final.safetensors")
    P, info = fit_predict(best[0], "test", final)
    t_final = time.perf_counter() - t0
    metrics = {}
    for (name, _, _), (kind, y, pr) in zip(sub, per_outcome(P, data["test"][1][:, which])):
        metrics[name] = outcome_metrics(kind, y, pr)
    return {"outcomes": [o[0] for o in sub], "alpha": best[0], "alpha_max": alphas[0],
            "valid_loss": best[1], "curve": curve, "test": metrics,
            "seconds_selection": t_sel, "seconds_final_fit": t_final, "fit_info": info}


def linear(binary, env, feats, data, outcomes, n_alphas):
    mu = data["train"][0].mean(0)
    sd = data["train"][0].std(0)
    sd[sd < 1e-12] = 1.0
    std = {p: ((X - mu) / sd, Y) for p, (X, Y) in data.items()}
    safe = [f"x{j}" for j in range(len(feats))]  # plain column names for the temporary CSVs
    with tempfile.TemporaryDirectory() as tmp:
        mtl = linear_model(binary, env, tmp, safe, std, outcomes, list(range(len(outcomes))), n_alphas)
        print(f"  linear multi-task: alpha {mtl['alpha']:.4g} ({mtl['seconds_selection']:.1f} s)",
              flush=True)
        stl = []
        for j in range(len(outcomes)):
            r = linear_model(binary, env, tmp, safe, std, outcomes, [j], n_alphas)
            print(f"  linear single-task {outcomes[j][0]}: alpha {r['alpha']:.4g} "
                  f"({r['seconds_selection']:.1f} s)", flush=True)
            stl.append(r)
    return {"multi_task": mtl, "single_task": stl}


# ---------------------------------------------------------------------------------------- deep

def deep(binary, env, config, data_dir, seeds, epochs, workdir):
    cfg = open(os.path.join(ROOT, config)).read()
    abs_data = os.path.abspath(data_dir)
    cfg = cfg.replace('= "data/', f'= "{abs_data}/')
    cpath = os.path.join(workdir, os.path.basename(config))
    with open(cpath, "w") as f:
        f.write(cfg)
    out = os.path.join(workdir, "run")
    shutil.rmtree(out, ignore_errors=True)  # no resuming from an earlier run's checkpoints
    cmd = [binary, "train", "--config", cpath, "--out", out, "--json"]
    if seeds:
        cmd += ["--seeds", seeds]
    if epochs:
        cmd += ["--epochs", str(epochs)]
    t0 = time.perf_counter()
    rep = json.loads(run(cmd, env))
    rep["wall_seconds"] = time.perf_counter() - t0
    return rep


def deep_metric_values(run_result, t):
    """{metric: value} of task t of one RunResult (tolerates [name, value] pairs or dicts)."""
    out = {}
    for item in run_result["report"]["metrics"][t]:
        if isinstance(item, dict):
            (k, v), = item.items()
        else:
            k, v = item
        out[str(k).lower().replace("-", "_")] = float("nan") if v is None else float(v)
    return out


def deep_summary(rep, outcomes):
    r = rep["report"]
    res = {"architecture": r["architecture"], "report_set": r["report_set"], "outcomes": {},
           "delta_m": r["delta_m"], "delta_p": r["delta_p"],
           "seconds_multi_task": [x["seconds"] for x in r["multi_task"]],
           "seconds_single_task": [x["seconds"] for x in r["single_task"]],
           "epochs_multi_task": [x["epochs"] for x in r["multi_task"]],
           "best_epoch_multi_task": [x["best_epoch"] for x in r["multi_task"]],
           "wall_seconds": rep["wall_seconds"]}
    for t, (name, kind, _) in enumerate(outcomes):
        mt = [deep_metric_values(x, t) for x in r["multi_task"]]
        st = [deep_metric_values(x, 0) for x in r["single_task"] if x["tasks"] == [name]]
        res["outcomes"][name] = {"multi_task": mt, "single_task": st}
    return res


# ---------------------------------------------------------------------------------------- report

def ms(v):
    v = [x for x in v if x is not None and np.isfinite(x)]
    if not v:
        return "—"
    return f"{np.mean(v):.3f} ± {np.std(v):.3f}"


def verdict(mt, st, hib):
    """'MTL better' / 'STL better' / 'tie' (difference within the larger sd, or < 0.001)."""
    if not mt or not st:
        return ""
    d = np.mean(mt) - np.mean(st)
    spread = max(np.std(mt), np.std(st), 1e-3)
    if abs(d) <= spread:
        return "tie"
    return "MTL better" if (d > 0) == hib else "STL better"


def deep_means(dp, oname, metric):
    """Mean over seeds of the MTL and STL values of one metric (None when not reported)."""
    o = dp["outcomes"][oname]
    mt = [m.get(metric) for m in o["multi_task"]]
    st = [m.get(metric) for m in o["single_task"]]
    if any(v is None for v in mt + st):
        return None, None
    return float(np.mean(mt)), float(np.mean(st))


def splits_table(ex, res):
    sp = res["splits"]
    lines = [f"**Over {len(sp)} splits** (split seeds {', '.join(str(s['split_seed']) for s in sp)} of the "
             "same preparation script; per split the deep value is the mean over the "
             f"{len(sp[0].get('deep', {}).get('seconds_multi_task', [])) or 'n/a'} training "
             "seeds; mean ± sd over the splits, and on how many splits the multi-task model is "
             "ahead). This is the comparison to trust: the fixed-split table above moves with the "
             "split.", "",
             "| outcome | metric | deep MTL | deep STL | MTL ahead | linear MTL | linear STL | MTL ahead | constant |",
             "|---|---|---|---|---|---|---|---|---|"]
    for j, (oname, kind, _) in enumerate(ex["outcomes"]):
        for metric, hib in REPORTED[kind]:
            dm, ds, lm, ls, cs = [], [], [], [], []
            for s in sp:
                a, b = deep_means(s["deep"], oname, metric) if "deep" in s else (None, None)
                if a is not None:
                    dm.append(a)
                    ds.append(b)
                if "linear" in s:
                    lm.append(s["linear"]["multi_task"]["test"][oname][metric])
                    ls.append(s["linear"]["single_task"][j]["test"][oname][metric])
                cs.append(s["constant"][oname][metric])

            def ahead(x, y):
                if not x:
                    return "—"
                return f"{sum(1 for p, q in zip(x, y) if (p > q) == hib and p != q)}/{len(x)}"
            lines.append(f"| {oname} | {metric}{'' if hib else ' ↓'} | {ms(dm) if dm else 'n/a¹'} | "
                         f"{ms(ds) if ds else 'n/a¹'} | {ahead(dm, ds)} | {ms(lm)} | {ms(ls)} | "
                         f"{ahead(lm, ls)} | {ms(cs)} |")
    dms = [float(np.mean(s["deep"]["delta_m"])) for s in sp if "deep" in s]
    if dms:
        lines += ["", f"Deep Δm per split (mean over seeds): {', '.join(f'{v:+.2f} %' for v in dms)}; "
                  f"mean {np.mean(dms):+.2f} % ± {np.std(dms):.2f}."]
    return lines + [""]


def results_md(name, ex, res, args):
    lines = [f"# {ex['title']}", "",
             f"Generated by `bench/medicine.py` ({time.strftime('%Y-%m-%d')}); raw numbers: "
             f"`bench/results/medicine_{name}.json`. Configuration: `{ex['config']}`.", "",
             DATA_NOTES[name], ""]
    dp = res.get("deep")
    lp = res.get("linear")
    lines += ["**Protocol.** Train on the training table; select on the validation table only "
              "(deep: best epoch by the mean validation loss, early stopping; linear: alpha on a "
              f"{args.n_alphas}-value grid by the mean validation loss); report once on the test table. "
              "Deep: multi-task (MTL) and single-task (STL) models of the same architecture, "
              f"seeds {args.seeds or '0,1,2'} (initialisation and batch order), "
              "mean ± sd over seeds (sd: population, ddof 0, here and below). Linear: L2,1-regularised multi-task model over all outcomes "
              "(`mtlkit fit --estimator multitask-lasso`, squared / logistic loss) against the same "
              "estimator fitted on each outcome alone; a K-class outcome is K one-vs-rest logistic "
              "columns (class = argmax). Linear fits are convex and deterministic: one value per "
              "split. `constant`: the input-free prediction from the training labels (mean, class "
              "frequencies, prevalence), the floor to beat. ↓ = lower is better.", ""]
    if dp:
        lines += [f"Deep architecture: `{dp['architecture']}`, settings in the config (chosen on "
                  "the validation loss only).", ""]
    lines += ["**The configuration as given** (split seed 0):", ""]
    head, sep = "| outcome | metric |", "|---|---|"
    if dp:
        head += " deep MTL | deep STL | deep verdict² |"
        sep += "---|---|---|"
    if lp:
        head += " linear MTL | linear STL |"
        sep += "---|---|"
    head += " constant |"
    sep += "---|"
    lines += [head, sep]
    for j, (oname, kind, _) in enumerate(ex["outcomes"]):
        for metric, hib in REPORTED[kind]:
            row = f"| {oname} | {metric}{'' if hib else ' ↓'} |"
            if dp:
                o = dp["outcomes"][oname]
                mt = [m.get(metric) for m in o["multi_task"]]
                st = [m.get(metric) for m in o["single_task"]]
                if any(v is None for v in mt):
                    row += " n/a¹ | n/a¹ | |"
                else:
                    row += f" {ms(mt)} | {ms(st)} | {verdict(mt, st, hib)} |"
            if lp:
                a = lp["multi_task"]["test"][oname].get(metric)
                b = lp["single_task"][j]["test"][oname].get(metric)
                row += f" {a:.3f} | {b:.3f} |"
            row += f" {res['constant'][oname][metric]:.3f} |"
            lines.append(row)
    lines.append("")
    notes = []
    if dp and any(k == "multiclass" for _, k, _ in ex["outcomes"]):
        notes.append("¹ The deep report has accuracy and log-loss for multi-class tasks, no macro-F1 "
                     "(no per-class predictions come out of `mtlkit train` / `evaluate`); "
                     "log-loss below.")
    if dp:
        notes.append("² `tie`: the MTL − STL difference is within the larger of the two seed "
                     "deviations (or below 0.001).")
    lines += [" ".join(notes), ""] if notes else []
    if dp:
        extra = []
        for oname, kind, _ in ex["outcomes"]:
            if kind in ("multiclass", "binary"):
                o = dp["outcomes"][oname]
                extra.append(f"{oname}: MTL {ms([m.get('log_loss') for m in o['multi_task']])}, "
                             f"STL {ms([m.get('log_loss') for m in o['single_task']])}")
        if extra:
            lines += ["Deep test log-loss (↓): " + "; ".join(extra) + ".", ""]
        dm = dp["delta_m"]
        lines += [f"Deep Δm (mean relative gain of MTL over STL over every metric of the "
                  f"`mtlkit train` table, positive = MTL better): {np.mean(dm):+.2f} % ± "
                  f"{np.std(dm):.2f} (per seed: {', '.join(f'{v:+.2f}' for v in dm)}).", ""]
    if res.get("splits"):
        lines += splits_table(ex, res)
    lines += ["**Run time, one thread** (`RAYON_NUM_THREADS=1 OMP_NUM_THREADS=1`, "
              f"{platform.machine()}, a 2-core machine shared with other jobs; split seed 0):", ""]
    if dp:
        smt, sst = dp["seconds_multi_task"], dp["seconds_single_task"]
        lines.append(f"- deep: one multi-task run {np.mean(smt):.1f} s (± {np.std(smt):.1f}; "
                     f"{np.mean(dp['epochs_multi_task']):.0f} epochs on average with early stopping), "
                     f"one single-task run {np.mean(sst):.1f} s; the whole `mtlkit train` "
                     f"({len(smt)} seeds × (1 + {len(ex['outcomes'])}) models) {dp['wall_seconds']:.0f} s.")
    if lp:
        m = lp["multi_task"]
        s_sel = sum(r["seconds_selection"] for r in lp["single_task"])
        lines.append(f"- linear (CLI start-up included): multi-task, {len(m['curve'])} alphas fitted "
                     f"and predicted on validation {m['seconds_selection']:.1f} s, the selected fit "
                     f"{m['seconds_final_fit']:.2f} s; all single-task models {s_sel:.1f} s. "
                     f"Selected alpha / alpha_max: multi-task {m['alpha'] / m['alpha_max']:.3g}, "
                     "single-task " + ", ".join(
                         f"{r['outcomes'][0]} {r['alpha'] / r['alpha_max']:.3g}" for r in lp["single_task"]) + ".")
    lines.append("")
    if res.get("notes"):
        lines += ["**Reading.** " + res["notes"], ""]
    return "\n".join(lines)


def evaluate(name, ex, data_dir, args, env):
    feats, data = load_example(ex, data_dir)
    res = {"rows": {p: int(d[0].shape[0]) for p, d in data.items()}, "features": feats,
           "constant": constant_baseline(ex["outcomes"], data)}
    if not args.skip_deep:
        with tempfile.TemporaryDirectory() as work:
            rep = deep(args.mtlkit, env, ex["config"], data_dir, args.seeds, args.epochs, work)
        res["deep"] = deep_summary(rep, ex["outcomes"])
        res["deep_raw"] = rep["report"]
        print(f"  deep: {rep['wall_seconds']:.1f} s, Δm {np.mean(rep['report']['delta_m']):+.2f} %",
              flush=True)
    if not args.skip_linear:
        res["linear"] = linear(args.mtlkit, env, feats, data, ex["outcomes"], args.n_alphas)
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mtlkit", default=os.path.expanduser("~/.cache/mtlkit-target/release/mtlkit"))
    ap.add_argument("--data", default=os.path.join(ROOT, "examples", "data"),
                    help="the prepared tables (split seed 0)")
    ap.add_argument("--raw", default=os.environ.get("MTLKIT_SHARED_DATA", os.path.join(ROOT, "..", "shared", "data")),
                    help="the raw data (for --splits)")
    ap.add_argument("--only", default=",".join(EXAMPLES))
    ap.add_argument("--seeds", default=None, help="override the configs' seeds (e.g. 0,1,2)")
    ap.add_argument("--epochs", type=int, default=None, help="override the configs' epochs")
    ap.add_argument("--n-alphas", type=int, default=20)
    ap.add_argument("--splits", default="1,2,3,4",
                    help="further split seeds, prepared from --raw (with the tables of --data as "
                         "split 0); '' for none")
    ap.add_argument("--skip-deep", action="store_true")
    ap.add_argument("--skip-linear", action="store_true")
    ap.add_argument("--no-write", action="store_true", help="print only; write no RESULTS.md / JSON")
    ap.add_argument("--notes", default=None, help="JSON file {name: text} appended as 'Reading.'")
    ap.add_argument("--render", action="store_true",
                    help="run nothing: rewrite RESULTS.md from bench/results/medicine_<name>.json "
                         "(with --notes)")
    args = ap.parse_args()
    env = dict(os.environ, RAYON_NUM_THREADS="1", OMP_NUM_THREADS="1")
    notes = json.load(open(args.notes)) if args.notes else {}
    raw_src = {
        "parkinsons_patients": ("prepare_parkinsons.py",
                                os.path.join(ROOT, "crates", "mtlkit-datasets", "data")),
        "cardiotocography": ("prepare_cardiotocography.py", os.path.join(args.raw, "cardiotocography")),
        "cervical_cancer": ("prepare_cervical.py", os.path.join(args.raw, "cervical_cancer_risk")),
    }
    for name in args.only.split(","):
        ex = EXAMPLES[name]
        print(f"== {name}", flush=True)
        if args.render:
            with open(os.path.join(HERE, "results", f"medicine_{name}.json")) as f:
                res = json.load(f)
            if name in notes:
                res["notes"] = notes[name]
            with open(os.path.join(ROOT, "examples", name, "RESULTS.md"), "w") as f:
                f.write(results_md(name, ex, res, args))
            with open(os.path.join(HERE, "results", f"medicine_{name}.json"), "w") as f:
                json.dump(res, f, indent=1, default=float)
            continue
        res = {"example": name, "config": ex["config"],
               "machine": {"platform": platform.platform(), "python": sys.version.split()[0],
                           "threads": 1, "cpus": os.cpu_count()},
               "date": time.strftime("%Y-%m-%d %H:%M")}
        res.update(evaluate(name, ex, args.data, args, env))
        splits = [int(s) for s in args.splits.split(",") if s.strip()]
        if splits:
            res["splits"] = [dict(split_seed=0, **{k: res[k] for k in ("deep", "linear", "constant")
                                                    if k in res})]
            for s in splits:
                print(f"  split seed {s}", flush=True)
                with tempfile.TemporaryDirectory() as tmp:
                    script, src = raw_src[name]
                    subprocess.run([sys.executable, os.path.join(ROOT, "examples", script), src, tmp,
                                    "--seed", str(s)], check=True, capture_output=True)
                    r = evaluate(name, ex, tmp, args, env)
                r.pop("deep_raw", None)
                res["splits"].append(dict(split_seed=s, **r))
        if name in notes:
            res["notes"] = notes[name]
        md = results_md(name, ex, res, args)
        print(md)
        if not args.no_write:
            os.makedirs(os.path.join(ROOT, "examples", name), exist_ok=True)
            with open(os.path.join(ROOT, "examples", name, "RESULTS.md"), "w") as f:
                f.write(md)
            os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
            with open(os.path.join(HERE, "results", f"medicine_{name}.json"), "w") as f:
                json.dump(res, f, indent=1, default=float)


if __name__ == "__main__":
    main()

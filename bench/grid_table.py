"""Print the time-to-target table of the benchmark grid from the harness's result files
(`bench/results/tts*.jsonl`, written by `bench/run.sh`).

For each case and solver: the median CPU seconds of the cheapest tolerance of the ladder whose
every repeat reaches relative suboptimality (P(W) − P*)/P* ≤ 1e-8, and that run's epochs. A
results file accumulates runs (each starts with an `env` record); only the last run of each file
is read; a case run again in a later file of `FILES` (e.g. `tts_xwide09.jsonl`, the ρ = 0.9 half
of xwide rerun alone) is taken from that file.

    python bench/grid_table.py            # markdown table on stdout
    python bench/grid_table.py --json     # the same rows as JSON
    python bench/grid_table.py --files tts_recheck.jsonl --spread   # one file; with the spread
"""

import argparse
import json
import os
import statistics

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
# (file, penalty filter): Lasso rows from the Lasso files, ElasticNet rows from the ENet files
FILES = ["tts.jsonl", "tts_enet.jsonl", "tts_rho09.jsonl", "tts_tall09.jsonl", "tts_enet09.jsonl",
         "tts_wide.jsonl", "tts_wide_enet.jsonl", "tts_wide09.jsonl",
         "tts_wide09_enet.jsonl", "tts_xwide.jsonl", "tts_xwide_enet.jsonl", "tts_xwide09.jsonl",
         "tts_xwide09_enet.jsonl", "tts_xwide05.jsonl", "tts_xwide05_enet.jsonl",
         # xwide on session 13's machine (and mtlkit's ρ = 0.5 α_max/100 ElasticNet after the
         # fix of that session's regression there)
         "tts_xwide_s13.jsonl", "tts_xwide_enet_s13.jsonl", "tts_xwide_enet_s13_mtlkit.jsonl",
         # mtlkit alone on xwide after session 14's kernels (the peers' times: session 13's)
         "tts_xwide_s14_mtlkit.jsonl", "tts_xwide_enet_s14_mtlkit.jsonl",
         # interleaved reruns (`bench/run.sh recheck`, `recheck-small09`, `recheck-wide`)
         "tts_recheck.jsonl", "tts_small09_recheck.jsonl", "tts_wide_recheck.jsonl",
         "tts_wide100_mtlkit.jsonl"]
SHAPES = {(500, 2000, 20): "small 500×2000×20", (10000, 500, 10): "tall 10000×500×10",
          (2000, 10000, 50): "wide 2000×10000×50", (1000, 50000, 10): "xwide 1000×50000×10"}
PEERS = ["sklearn", "skglm", "celer", "mtlkit"]
TARGET = 1e-8


def last_run(path):
    lines = [json.loads(line) for line in open(path)]
    starts = [i for i, r in enumerate(lines) if r.get("kind") == "env"] or [0]
    return [r for r in lines[starts[-1]:] if r.get("kind") == "tts"]


def parse(problem):
    # mtl_n500_d2000_t20_rho50
    parts = problem.split("_")
    n, d, t = (int(p[1:]) for p in parts[1:4])
    return SHAPES.get((n, d, t), problem), int(parts[4][3:]) / 100


def best(recs):
    by_tol = {}
    for r in recs:
        by_tol.setdefault(r["tol"], []).append(r)
    out = None
    for tol, rs in by_tol.items():
        if all(r["rel_subopt"] <= TARGET for r in rs):
            cpu = [r["cpu_seconds"] for r in rs]
            m = statistics.median(cpu)
            if out is None or m < out["cpu"]:
                out = {"cpu": m, "tol": tol, "n_iter": rs[0].get("n_iter"), "repeats": len(rs),
                       "spread": (max(cpu) - min(cpu)) / m if m > 0 else 0.0}
    return out


def rows(files=FILES):
    cases = {}
    for f in files:
        path = os.path.join(RESULTS, f)
        if not os.path.exists(path):
            continue
        # a later file's run of a case (and solver) replaces an earlier file's
        found = {}
        for r in last_run(path):
            key = (r["problem"], r["alpha_ratio"], r["l1_ratio"])
            found.setdefault(key, {}).setdefault(r["solver"], []).append(r)
        for key, by_solver in found.items():
            cases.setdefault(key, {}).update(by_solver)
    out = []
    for (problem, ar, l1), by_solver in sorted(cases.items(), key=lambda kv: (
            list(SHAPES.values()).index(parse(kv[0][0])[0]) if parse(kv[0][0])[0] in SHAPES.values()
            else 9, parse(kv[0][0])[1], kv[0][1], -kv[0][2])):
        shape, rho = parse(problem)
        res = {s: best(by_solver[s]) if s in by_solver else None for s in PEERS}
        out.append({"problem": shape, "rho": rho, "alpha_ratio": ar, "l1_ratio": l1,
                    "ran": sorted(by_solver), **res})
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--files", nargs="+", default=FILES, help="results files (in bench/results)")
    ap.add_argument("--spread", action="store_true",
                    help="add the repeats and the spread (max − min) / median at the rung taken")
    a = ap.parse_args()
    rs = rows(a.files)
    if a.json:
        print(json.dumps(rs, indent=1))
        return
    extra = " repeats | spread sklearn / mtlkit |" if a.spread else ""
    print("| problem n×d×T | ρ | α | penalty | sklearn | skglm | celer | **mtlkit** | "
          "speed-up vs sklearn | epochs sklearn / mtlkit |" + extra)
    print("|---|---|---|---|---|---|---|---|---|---|" + ("---|---|" if a.spread else ""))
    for r in rs:
        def cell(s):
            v = r[s]
            if v is None:
                return "not run" if s not in r["ran"] else "> cap"
            return f"{v['cpu']:.3g} s"
        sk, mk = r["sklearn"], r["mtlkit"]
        if sk and mk:
            x = sk["cpu"] / mk["cpu"]
            speed = f"**{x:.1f}×**" if x >= 5 else f"{x:.1f}×"
        elif mk:
            speed = "sklearn over the cap"
        else:
            speed = "—"
        pen = "Lasso" if r["l1_ratio"] == 1.0 else f"ENet {r['l1_ratio']}"
        epochs = f"{sk['n_iter'] if sk else '—'} / {mk['n_iter'] if mk else '—'}"
        more = ""
        if a.spread:
            reps = mk["repeats"] if mk else (sk["repeats"] if sk else "—")
            sp = " / ".join(f"{v['spread']:.0%}" if v else "—" for v in (sk, mk))
            more = f" {reps} | {sp} |"
        print(f"| {r['problem']} | {r['rho']} | α_max/{r['alpha_ratio']:.0f} | {pen} | "
              f"{cell('sklearn')} | {cell('skglm') if r['l1_ratio'] == 1.0 else '—'} | "
              f"{cell('celer') if r['l1_ratio'] == 1.0 else '—'} | **{cell('mtlkit')}** | "
              f"{speed} | {epochs} |{more}")


if __name__ == "__main__":
    main()

"""Time for a warm-started path to have every alpha at relative duality gap ≤ 1e-6 (the issue's
criterion: the harness's `gap / P` of each alpha), per problem and solver, from a `path` run over
a tolerance ladder (`bench/run.sh pathgap`, `results/path_gap.jsonl`): the smallest median CPU
time over the ladder's tolerances whose every repeat meets it.

    python bench/path_table.py [--file path_gap.jsonl] [--target 1e-6]
"""

import argparse
import json
import os
import statistics

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
PEERS = ["sklearn", "skglm", "celer", "mtlkit"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--file", default="path_gap.jsonl")
    ap.add_argument("--target", type=float, default=1e-6)
    a = ap.parse_args()
    lines = [json.loads(line) for line in open(os.path.join(RESULTS, a.file))]
    starts = [i for i, r in enumerate(lines) if r.get("kind") == "env"] or [0]
    recs = [r for r in lines[starts[-1]:] if r.get("kind") != "env"]
    by = {}
    for r in recs:
        by.setdefault(r["problem"], {}).setdefault(r["solver"], {}).setdefault(r["tol"], []).append(r)
    print("| problem | " + " | ".join(PEERS) + " | speed-up vs sklearn |")
    print("|---|" + "---|" * (len(PEERS) + 1))
    for problem, solvers in by.items():
        best = {}
        for s, tols in solvers.items():
            for tol, rs in tols.items():
                if all(r["max_rel_gap"] <= a.target for r in rs):
                    m = statistics.median(r["cpu_seconds"] for r in rs)
                    if s not in best or m < best[s][0]:
                        best[s] = (m, tol)
        cells = [f"{best[s][0]:.3g} s (tol {best[s][1]:.0e})" if s in best else "not reached"
                 for s in PEERS]
        speed = (f"{best['sklearn'][0] / best['mtlkit'][0]:.1f}×"
                 if "sklearn" in best and "mtlkit" in best else "—")
        print(f"| {problem} | " + " | ".join(cells) + f" | {speed} |")


if __name__ == "__main__":
    main()

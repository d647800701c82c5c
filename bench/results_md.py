"""Render the report of a deep experiment (`mtlkit train --out DIR` writes DIR/report.json) as a
markdown results table: per task and metric, the multi-task model against single-task models
of the same architecture (and grouped models when configured), mean ± sd over the seeds, Δm and
Δp, and the run time of each run.

    python bench/results_md.py DIR/report.json --title "MultiMNIST" [--notes notes.md] > RESULTS.md
"""
import argparse
import json
import statistics


def mean_sd(v):
    v = [x for x in v if x is not None]
    if not v:
        return "—"
    sd = statistics.stdev(v) if len(v) > 1 else 0.0
    return f"{statistics.mean(v):.4f} ± {sd:.4f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("report")
    ap.add_argument("--title", required=True)
    ap.add_argument("--notes", help="markdown inserted after the title (protocol, reading)")
    ap.add_argument("--command", help="the command that produced the report")
    a = ap.parse_args()
    doc = json.load(open(a.report))
    r = doc["report"]
    tasks = r["tasks"]
    multi, single, grouped = r["multi_task"], r["single_task"], r.get("grouped", [])
    print(f"# {a.title}\n")
    if a.command:
        print(f"```sh\n{a.command}\n```\n")
    if a.notes:
        print(open(a.notes).read().strip() + "\n")
    seeds = [m["seed"] for m in multi]
    print(f"{r['architecture']}, metrics on the **{r['report_set']}** set, seeds {seeds}, "
          f"mean ± sd over seeds; model selection (early stopping, best epoch) on validation only.\n")
    head = "| task | metric | multi-task | single-task |" + (" grouped |" if grouped else "")
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for t, name in enumerate(tasks):
        for k, (metric, _) in enumerate(multi[0]["report"]["metrics"][t]):
            mt = [m["report"]["metrics"][t][k][1] for m in multi]
            st = [s["report"]["metrics"][0][k][1] for s in single if s["tasks"] == [name]]
            row = f"| {name} | {metric} | {mean_sd(mt)} | {mean_sd(st)} |"
            if grouped:
                gv = []
                for g in grouped:
                    if name in g["tasks"]:
                        gv.append(g["report"]["metrics"][g["tasks"].index(name)][k][1])
                row += f" {mean_sd(gv)} |"
            print(row)
    print()
    if r["delta_m"]:
        print(f"Δm = {statistics.mean(r['delta_m']):+.2f} % ± "
              f"{statistics.stdev(r['delta_m']) if len(r['delta_m']) > 1 else 0:.2f} "
              f"(per seed: {', '.join(f'{v:+.2f}' for v in r['delta_m'])}); "
              f"Δp = {statistics.mean(r['delta_p']):+.2f} % (positive: better than single-task; "
              "over every metric of every task, sign-corrected).\n")
    if r.get("delta_m_grouped"):
        print(f"Δm of the grouped models = {statistics.mean(r['delta_m_grouped']):+.2f} %.\n")
    mt_s = [m["seconds"] for m in multi]
    st_s = [s["seconds"] for s in single]
    line = f"Run time (wall, one thread): multi-task run {statistics.mean(mt_s):.1f} s (mean of {len(mt_s)})"
    if st_s:
        line += f", single-task run {statistics.mean(st_s):.1f} s (mean of {len(st_s)})"
    if "seconds" in doc:
        line += f"; whole configuration {doc['seconds']:.0f} s"
    print(line + ".")


if __name__ == "__main__":
    main()

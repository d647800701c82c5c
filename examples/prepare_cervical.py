"""Build the cervical cancer risk tables used by examples/cervical_cancer.toml: four binary
diagnostic outcomes per patient (Hinselmann colposcopy, Schiller test, cytology, biopsy) from
32 risk factors with many missing values (`?`).

    python examples/prepare_cervical.py /work/shared/data/cervical_cancer_risk examples/data
    python examples/prepare_cervical.py SRC examples/data/ci --subset 300   # CI-size tables

SRC holds `risk_factors_cervical_cancer.csv` (UCI "Cervical cancer (Risk Factors)",
Fernandes, Cardoso & Fernandes 2017, CC BY 4.0; this copy spells the third outcome `Cytology`,
UCI's attribute list `Citology`). The data is not part of this repository.

Writes `cervical_train.csv`, `cervical_valid.csv`, `cervical_test.csv`: the risk factors with
snake_case names (`stds_hiv`, `hormonal_contraceptives_years`, ...), missing-indicator columns
`missing_*`, and the labels `hinselmann`, `schiller`, `cytology`, `biopsy` (0/1).

Split: stratified on the number of positive outcomes (0..4) and the biopsy label, seeded
(`--seed`, default 0): within each stratum the patients are shuffled and 20 % go to test, 20 %
to validation, the rest to training (rounded per stratum). `--subset N` first keeps a
stratified random N patients.

Missing values (inputs; 3622 cells, 799 of 858 patients have one):
- every feature with a missing value among the training rows gets a 0/1 indicator column
  (1 = missing); features that are missing on exactly the same training rows share one
  indicator (the questionnaire blocks: smoking, hormonal contraceptives, IUD, STDs, ...), named
  `missing_<first feature of the block>`;
- the missing cells are then replaced by the median of that feature over the TRAINING rows
  (validation and test rows use the training medians; no statistic is taken from them);
- features constant on the training rows (e.g. `stds_aids`, `stds_cervical_condylomatosis`:
  all 0) are dropped.
So the inputs are complete, as the deep trainer requires. The outcome labels have no missing
values in this data set; a missing label (empty / `?`) would be written as an empty cell, which
the trainer masks out of that outcome's loss and metrics (and the linear CLI out of that task).

Standard library only.
"""
import argparse
import csv
import os
import re

from _split import stratified, stratified_subset

TARGETS = [("Hinselmann", "hinselmann"), ("Schiller", "schiller"), ("Cytology", "cytology"),
           ("Biopsy", "biopsy")]


def snake(name):
    s = name.replace("(", " ").replace(")", " ").replace("/", " per ")
    return re.sub(r"[^0-9a-zA-Z]+", "_", s).strip("_").lower()


def parse(v):
    v = v.strip()
    return None if v in ("", "?", "NA", "nan") else float(v)


def median(vals):
    s = sorted(vals)
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


def fmt(v):
    return repr(v) if v != int(v) else str(int(v))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("src", help="folder with risk_factors_cervical_cancer.csv")
    ap.add_argument("out", help="output folder (created)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--subset", type=int, default=None, help="keep a stratified random N patients")
    ap.add_argument("--fractions", default="0.6,0.2,0.2", help="train,valid,test fractions")
    a = ap.parse_args()
    path = a.src if os.path.isfile(a.src) else os.path.join(a.src, "risk_factors_cervical_cancer.csv")
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = [h.strip() for h in next(reader)]
        raw = [r for r in reader if r]
    tcols = [header.index(t) for t, _ in TARGETS]
    fcols = [j for j in range(len(header)) if j not in tcols]
    X = [[parse(r[j]) for j in fcols] for r in raw]
    Y = [[parse(r[j]) for j in tcols] for r in raw]
    names = [snake(header[j]) for j in fcols]
    # strata: number of positive outcomes, and biopsy (missing labels count as negative here)
    keys = [(sum(1 for v in y if v == 1), y[3] == 1) for y in Y]
    if a.subset is not None and a.subset < len(X):
        keep = stratified_subset(keys, a.subset, a.seed)
        X, Y, keys = [X[i] for i in keep], [Y[i] for i in keep], [keys[i] for i in keep]
    parts = stratified(keys, [float(x) for x in a.fractions.split(",")], a.seed)
    tr = parts["train"]
    d = len(names)
    # missing indicators: one per distinct missing pattern on the training rows
    indicators = []  # (name, feature index whose missingness it marks)
    seen = {}
    for j in range(d):
        pattern = tuple(X[i][j] is None for i in tr)
        if not any(pattern) or pattern in seen:
            continue
        seen[pattern] = j
        indicators.append((f"missing_{names[j]}", j))
    med = []
    for j in range(d):
        obs = [X[i][j] for i in tr if X[i][j] is not None]
        if not obs:
            raise SystemExit(f"feature {names[j]}: no observed value on the training rows")
        med.append(median(obs))
    keep_cols = [j for j in range(d)
                 if len({X[i][j] if X[i][j] is not None else med[j] for i in tr}) > 1]
    dropped = [names[j] for j in range(d) if j not in keep_cols]
    out_header = [names[j] for j in keep_cols] + [n for n, _ in indicators] + [n for _, n in TARGETS]
    os.makedirs(a.out, exist_ok=True)
    for part, idx in parts.items():
        n_missing = 0
        with open(os.path.join(a.out, f"cervical_{part}.csv"), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(out_header)
            for i in idx:
                row = []
                for j in keep_cols:
                    v = X[i][j]
                    if v is None:
                        n_missing += 1
                        v = med[j]
                    row.append(fmt(v))
                row += ["1" if X[i][j] is None else "0" for _, j in indicators]
                row += ["" if v is None else fmt(v) for v in Y[i]]
                w.writerow(row)
        pos = [sum(1 for i in idx if Y[i][t] == 1) for t in range(len(TARGETS))]
        print(f"cervical_{part}.csv: {len(idx)} patients, {n_missing} imputed cells, positives "
              + ", ".join(f"{n} {p}" for (_, n), p in zip(TARGETS, pos)))
    print(f"{len(keep_cols)} features + {len(indicators)} missing indicators "
          f"({', '.join(n for n, _ in indicators)}); dropped as constant: {', '.join(dropped) or 'none'}")


if __name__ == "__main__":
    main()

"""Build the cardiotocography tables used by examples/cardiotocography.toml: two classification
outcomes per CTG record, the 10-class FHR pattern (`CLASS`) and the 3-class fetal state (`NSP`:
normal / suspect / pathologic), on the 21 standard features.

    python examples/prepare_cardiotocography.py /work/shared/data/cardiotocography examples/data
    python examples/prepare_cardiotocography.py SRC examples/data/ci --subset 300   # CI-size tables

SRC holds `ctg.csv` (sheet `Raw Data` of UCI's CTG.xls as CSV; UCI, Ayres de Campos et al.
2000, CC BY 4.0). The data is not part of this repository.

Writes `ctg_train.csv`, `ctg_valid.csv`, `ctg_test.csv` with the 21 features of UCI's
description (LB, AC, FM, UC, DL, DS, DP, ASTV, MSTV, ALTV, MLTV, Width, Min, Max, Nmax, Nzeros,
Mode, Mean, Median, Variance, Tendency; the counts AC, FM, UC, DL, DS, DP divided by the
segment length e - b in seconds, as in sheet `Data`) and two labels: `pattern` = CLASS - 1
(0..9: A, B, C, D, E, AD, DE, LD, FS, SUSP) and `fetal_state` = NSP - 1 (0 normal, 1 suspect,
2 pathologic). The one-hot pattern columns A..SUSP encode CLASS and are not used; nor are the
file names, date, `LBE` (LB as given by the expert, duplicating LB) and `DR` (always 0).

Split: stratified on the (CLASS, NSP) pair, seeded (`--seed`, default 0): within each stratum
the records are shuffled and 20 % go to test, 20 % to validation, the rest to training
(rounded per stratum). `--subset N` first keeps a stratified random N records.

Missing values: none in this data set (every cell present); the script fails on an empty
cell instead of imputing it.

Standard library only.
"""
import argparse
import csv
import os

from _split import stratified, stratified_subset

FEATURES = ["LB", "AC", "FM", "UC", "DL", "DS", "DP", "ASTV", "MSTV", "ALTV", "MLTV", "Width",
            "Min", "Max", "Nmax", "Nzeros", "Mode", "Mean", "Median", "Variance", "Tendency"]
PER_SECOND = {"AC", "FM", "UC", "DL", "DS", "DP"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("src", help="folder with ctg.csv")
    ap.add_argument("out", help="output folder (created)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--subset", type=int, default=None, help="keep a stratified random N records")
    ap.add_argument("--fractions", default="0.6,0.2,0.2", help="train,valid,test fractions")
    a = ap.parse_args()
    path = a.src if os.path.isfile(a.src) else os.path.join(a.src, "ctg.csv")
    with open(path, newline="") as f:
        rows = [r for r in csv.DictReader(f)]
    out_rows, keys = [], []
    for i, r in enumerate(rows):
        for c in FEATURES + ["b", "e", "CLASS", "NSP"]:
            if r[c].strip() == "":
                raise SystemExit(f"{path} line {i + 2}: empty {c}")
        dur = float(r["e"]) - float(r["b"])
        if dur <= 0:
            raise SystemExit(f"{path} line {i + 2}: segment length e - b = {dur}")
        feats = []
        for c in FEATURES:
            v = float(r[c])
            feats.append(repr(v / dur) if c in PER_SECOND else r[c].strip())
        cls, nsp = int(float(r["CLASS"])), int(float(r["NSP"]))
        if not (1 <= cls <= 10 and 1 <= nsp <= 3):
            raise SystemExit(f"{path} line {i + 2}: CLASS {cls} / NSP {nsp} out of range")
        out_rows.append(feats + [str(cls - 1), str(nsp - 1)])
        keys.append((cls, nsp))
    if a.subset is not None and a.subset < len(out_rows):
        keep = stratified_subset(keys, a.subset, a.seed)
        out_rows = [out_rows[i] for i in keep]
        keys = [keys[i] for i in keep]
    parts = stratified(keys, [float(x) for x in a.fractions.split(",")], a.seed)
    os.makedirs(a.out, exist_ok=True)
    for part, idx in parts.items():
        with open(os.path.join(a.out, f"ctg_{part}.csv"), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(FEATURES + ["pattern", "fetal_state"])
            for i in idx:
                w.writerow(out_rows[i])
        nsp = [sum(1 for i in idx if keys[i][1] == k) for k in (1, 2, 3)]
        print(f"ctg_{part}.csv: {len(idx)} records, {len(FEATURES)} features, "
              f"NSP normal/suspect/pathologic {nsp[0]}/{nsp[1]}/{nsp[2]}")


if __name__ == "__main__":
    main()

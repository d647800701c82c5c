"""Build the patient-grouped Parkinson's telemonitoring tables used by
examples/parkinsons_patients.toml: two regression outcomes per voice recording (motor UPDRS and
total UPDRS), with the patients split into train / validation / test groups, so the test
patients are never seen in training (nor used for model selection).

    python examples/prepare_parkinsons.py crates/mtlkit-datasets/data examples/data
    python examples/prepare_parkinsons.py /work/shared/data/parkinsons_telemonitoring examples/data
    python examples/prepare_parkinsons.py SRC examples/data/ci --subset 300    # CI-size tables

SRC is a folder holding UCI's `parkinsons_updrs.data` (the copy bundled with mtlkit-datasets
is the same file; UCI, Tsanas, Little, McSharry & Ramig 2009, CC BY 4.0) or that file itself.

Writes `parkinsons_train.csv`, `parkinsons_valid.csv`, `parkinsons_test.csv`. Columns: `subject`
(the patient, excluded from the inputs by the config), `age`, `sex`, the 16 voice measures,
`motor_UPDRS`, `total_UPDRS`. `test_time` (days since recruitment) is dropped.

Split: the 42 patients are shuffled with `--seed` (default 0) and cut into 60 % / 20 % / 20 %
of the patients (26 / 8 / 8); every recording of a patient goes where the patient goes.
`--subset N` keeps N recordings drawn at random (seeded) from all patients before the split.

Missing values: none in this data set (all 5875 x 22 cells are present); the script fails on
an empty or non-numeric cell instead of imputing it.

Standard library only.
"""
import argparse
import csv
import os
import random

FEATURES_DROP = {"subject#", "test_time", "motor_UPDRS", "total_UPDRS"}
TARGETS = ["motor_UPDRS", "total_UPDRS"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("src", help="folder with parkinsons_updrs.data, or the file")
    ap.add_argument("out", help="output folder (created)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the patient split")
    ap.add_argument("--subset", type=int, default=None, help="keep N random recordings")
    ap.add_argument("--fractions", default="0.6,0.2,0.2", help="train,valid,test patient fractions")
    a = ap.parse_args()
    path = a.src if os.path.isfile(a.src) else os.path.join(a.src, "parkinsons_updrs.data")
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = [h.strip() for h in next(reader)]
        rows = [r for r in reader if r]
    for i, r in enumerate(rows):
        for j, v in enumerate(r):
            try:
                float(v)
            except ValueError:
                raise SystemExit(f"{path} line {i + 2} column {header[j]}: not a number: {v!r}")
    rng = random.Random(a.seed)
    if a.subset is not None and a.subset < len(rows):
        rows = [rows[i] for i in sorted(rng.sample(range(len(rows)), a.subset))]
    sid = header.index("subject#")
    patients = sorted({int(float(r[sid])) for r in rows})
    rng.shuffle(patients)
    fr = [float(x) for x in a.fractions.split(",")]
    n = len(patients)
    n_test = max(1, round(fr[2] * n))
    n_valid = max(1, round(fr[1] * n))
    groups = {
        "test": set(patients[:n_test]),
        "valid": set(patients[n_test:n_test + n_valid]),
        "train": set(patients[n_test + n_valid:]),
    }
    feats = [h for h in header if h not in FEATURES_DROP]
    out_header = ["subject"] + feats + TARGETS
    idx = [sid] + [header.index(h) for h in feats + TARGETS]
    os.makedirs(a.out, exist_ok=True)
    for part in ["train", "valid", "test"]:
        sel = [r for r in rows if int(float(r[sid])) in groups[part]]
        with open(os.path.join(a.out, f"parkinsons_{part}.csv"), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(out_header)
            for r in sel:
                w.writerow([str(int(float(r[idx[0]])))] + [r[j].strip() for j in idx[1:]])
        print(f"parkinsons_{part}.csv: {len(sel)} recordings of {len(groups[part])} patients "
              f"({', '.join(str(p) for p in sorted(groups[part]))}), {len(feats)} features")


if __name__ == "__main__":
    main()

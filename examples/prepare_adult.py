"""Build the two-task Adult tables used by examples/adult_mmoe.toml (the MMoE paper's census
setup on UCI Adult: task 1 income > 50K, task 2 never married) from the raw UCI files, which are
not part of this repository (../shared/data/adult/, CC BY 4.0).

    python examples/prepare_adult.py ../shared/data/adult examples/data

Writes `adult_train.csv` (adult.data) and `adult_test.csv` (adult.test) with numeric features
(age, fnlwgt, education-num, capital-gain, capital-loss, hours-per-week) and one-hot columns for
workclass, education, occupation, race, sex and native-country (the training file's categories;
`?` is its own category). `marital-status` is the second target, not a feature, and
`relationship` is left out too (husband / wife / own-child would give marital status away).
Standard library only.
"""
import csv
import gzip
import os
import sys

COLS = ["age", "workclass", "fnlwgt", "education", "education-num", "marital-status", "occupation",
        "relationship", "race", "sex", "capital-gain", "capital-loss", "hours-per-week",
        "native-country", "income"]
NUMERIC = ["age", "fnlwgt", "education-num", "capital-gain", "capital-loss", "hours-per-week"]
CATEGORICAL = ["workclass", "education", "occupation", "race", "sex", "native-country"]


def rows(path):
    with gzip.open(path, "rt") as f:
        for line in f:
            parts = [p.strip() for p in line.strip().split(",")]
            if len(parts) != len(COLS):
                continue  # blank lines and adult.test's "|1x3 Cross validator" header
            yield dict(zip(COLS, parts))


def main():
    src, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    train = list(rows(os.path.join(src, "adult.data.gz")))
    test = list(rows(os.path.join(src, "adult.test.gz")))
    cats = {c: sorted({r[c] for r in train}) for c in CATEGORICAL}
    header = NUMERIC + [f"{c}={v}" for c in CATEGORICAL for v in cats[c]] + ["income", "never_married"]
    for name, data in [("adult_train.csv", train), ("adult_test.csv", test)]:
        with open(os.path.join(out, name), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(header)
            for r in data:
                feats = [r[c] for c in NUMERIC]
                for c in CATEGORICAL:
                    feats += ["1" if r[c] == v else "0" for v in cats[c]]
                income = "1" if r["income"].rstrip(".") == ">50K" else "0"
                never = "1" if r["marital-status"] == "Never-married" else "0"
                w.writerow(feats + [income, never])
        print(f"{name}: {len(data)} rows, {len(header) - 2} features")


if __name__ == "__main__":
    main()

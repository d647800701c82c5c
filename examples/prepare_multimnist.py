"""Build MultiMNIST-style two-task image tables (Sener & Koltun 2018: two digits on one canvas,
task L = the top-left digit, task R = the bottom-right one) from the digit sets in
../shared/data, which are not part of this repository:

    python examples/prepare_multimnist.py ../shared/data examples/data [--kind mnist|fashion|mixed]
        [--train 10000] [--test 2000] [--seed 0]

kinds: `mnist` (MultiMNIST, from mnist_5k: 5000 digits, CC BY-SA 3.0), `fashion` (Multi-Fashion,
from the Fashion-MNIST test set: 10000 images, MIT), `mixed` (Multi-(Fashion+MNIST): a digit top
left, a garment bottom right).

Each image is a 36 × 36 canvas: the first 28 × 28 image at offset (0, 0), the second at (8, 8),
overlapping pixels take the maximum (the paper then resizes to 28 × 28; we keep 36 × 36, so no
interpolation is involved). Pixels are scaled to [0, 1]. The source images are split *before*
composing — within each class, the first 80 % of a source's images feed the training canvases,
the last 20 % the test canvases — so no source image appears in both. Writes `multi<kind>_train.csv` and
`multi<kind>_test.csv` with columns p0..p1295, `left`, `right`.
Standard library only.
"""
import argparse
import csv
import gzip
import os
import random
import struct


def mnist_5k(root):
    path = os.path.join(root, "mnist_5k", "mnist_5k.csv.gz")
    images, labels = [], []
    with gzip.open(path, "rt") as f:
        for line in f:
            v = [int(t) for t in line.strip().split(",") if t != ""]
            if len(v) != 785:
                raise SystemExit(f"{path}: expected 785 values per line, got {len(v)}")
            images.append(v[:784])
            labels.append(v[784])
    return images, labels


def fashion(root):
    d = os.path.join(root, "fashion_mnist")
    with gzip.open(os.path.join(d, "t10k-images-idx3-ubyte.gz"), "rb") as f:
        magic, n, rows, cols = struct.unpack(">IIII", f.read(16))
        if magic != 0x803 or rows != 28 or cols != 28:
            raise SystemExit("fashion_mnist: unexpected IDX image header")
        raw = f.read(n * 784)
    with gzip.open(os.path.join(d, "t10k-labels-idx1-ubyte.gz"), "rb") as f:
        magic, m = struct.unpack(">II", f.read(8))
        if magic != 0x801 or m != n:
            raise SystemExit("fashion_mnist: unexpected IDX label header")
        labels = list(f.read(m))
    images = [list(raw[i * 784:(i + 1) * 784]) for i in range(n)]
    return images, labels


def compose(a, b):
    canvas = [0] * (36 * 36)
    for r in range(28):
        for c in range(28):
            canvas[r * 36 + c] = a[r * 28 + c]
    for r in range(28):
        for c in range(28):
            k = (r + 8) * 36 + c + 8
            canvas[k] = max(canvas[k], b[r * 28 + c])
    return canvas


def split(images, labels):
    """80 / 20 within each class (the source files may be sorted by class: mnist_5k is)."""
    by_class = {}
    for i, l in enumerate(labels):
        by_class.setdefault(l, []).append(i)
    tr, te = [], []
    for idx in by_class.values():
        cut = int(0.8 * len(idx))
        tr += idx[:cut]
        te += idx[cut:]
    tr.sort()
    te.sort()
    return ([images[i] for i in tr], [labels[i] for i in tr]), ([images[i] for i in te], [labels[i] for i in te])


def write(path, left_src, right_src, n, rng):
    (li, ll), (ri, rl) = left_src, right_src
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([f"p{j}" for j in range(36 * 36)] + ["left", "right"])
        for _ in range(n):
            i, j = rng.randrange(len(li)), rng.randrange(len(ri))
            canvas = compose(li[i], ri[j])
            w.writerow([("0" if v == 0 else f"{v / 255:.3f}") for v in canvas] + [ll[i], rl[j]])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("shared_data")
    ap.add_argument("out")
    ap.add_argument("--kind", choices=["mnist", "fashion", "mixed"], default="mnist")
    ap.add_argument("--train", type=int, default=10000)
    ap.add_argument("--test", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--name", help="file name stem (default multi<kind>)")
    ap.add_argument("--subset", type=int, help="CI-size tables: this many training canvases, half as many test ones")
    a = ap.parse_args()
    if a.subset:
        a.train, a.test = a.subset, max(a.subset // 2, 1)
    os.makedirs(a.out, exist_ok=True)
    if a.kind == "mnist":
        left = right = mnist_5k(a.shared_data)
    elif a.kind == "fashion":
        left = right = fashion(a.shared_data)
    else:
        left, right = mnist_5k(a.shared_data), fashion(a.shared_data)
    (l_tr, l_te), (r_tr, r_te) = split(*left), split(*right)
    rng = random.Random(a.seed)
    stem = a.name or f"multi{a.kind}"
    write(os.path.join(a.out, f"{stem}_train.csv"), l_tr, r_tr, a.train, rng)
    write(os.path.join(a.out, f"{stem}_test.csv"), l_te, r_te, a.test, rng)
    print(f"wrote {a.train} training and {a.test} test canvases to {a.out}/{stem}_*.csv")


if __name__ == "__main__":
    main()

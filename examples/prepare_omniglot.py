"""Build the Omniglot multi-task tables used by examples/omniglot.toml from the "background
small" zips in ../shared/data/omniglot_small (MIT, Brenden Lake; not part of this repository):

    python examples/prepare_omniglot.py ../shared/data/omniglot_small examples/data [--size 35]
        [--subset N]

The known MTL setup: one classification task per alphabet (which character of that alphabet an
image shows). The two zips hold 8 distinct alphabets (Greek and Latin are in both, identical),
242 characters, 20 drawers per character. Images (105 × 105, 1 bit, stroke = 0) are inverted
(stroke = 1) and average-pooled to `size × size` (105 / size must be a whole number: 35 → 3 × 3
blocks, 21 → 5 × 5). Split by drawer, the same for every character: drawers 1–12 train, 13–16
validation, 17–20 test — no drawing of a test drawer is seen in training.

Writes `omniglot_{train,valid,test}.csv` (long format: `alphabet` names the task, `character`
is the class index within the alphabet, `drawer` is kept for reference, then p0..p{size²−1}) and
prints the number of characters per alphabet (the `classes` of each task in the config).
Standard library only (the PNG decoder handles the 1-bit greyscale files of this set).
"""
import argparse
import os
import struct
import zipfile
import zlib


def decode_png(data):
    """1-bit greyscale, non-interlaced PNG → list of rows of 0/1 values."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    pos, idat, width = 8, [], None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 1 or color != 0 or interlace != 0:
                raise ValueError(f"unsupported PNG (bit depth {depth}, colour type {color}, interlace {interlace})")
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    raw = zlib.decompress(b"".join(idat))
    stride = (width + 7) // 8
    rows, prev = [], bytearray(stride)
    for r in range(height):
        f = raw[r * (stride + 1)]
        line = bytearray(raw[r * (stride + 1) + 1:(r + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - 1] if i > 0 else 0
            b = prev[i]
            c = prev[i - 1] if i > 0 else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 255
            elif f != 0:
                raise ValueError(f"bad PNG filter type {f}")
        rows.append([(line[x // 8] >> (7 - x % 8)) & 1 for x in range(width)])
        prev = line
    return rows


def pool(rows, size):
    n = len(rows)
    if n % size:
        raise SystemExit(f"--size {size} does not divide the image size {n}")
    k = n // size
    out = []
    for i in range(size):
        for j in range(size):
            s = sum(1 - rows[i * k + a][j * k + b] for a in range(k) for b in range(k))
            out.append(s / (k * k))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("src")
    ap.add_argument("out")
    ap.add_argument("--size", type=int, default=35)
    ap.add_argument("--subset", type=int, help="CI-size tables: only the first N characters' drawings over all alphabets")
    a = ap.parse_args()
    images = {}  # (alphabet, character dir, drawer) -> pixels
    for name in ("images_background_small1.zip", "images_background_small2.zip"):
        with zipfile.ZipFile(os.path.join(a.src, name)) as z:
            for member in z.namelist():
                if not member.endswith(".png"):
                    continue
                parts = member.split("/")
                alphabet, character, file = parts[-3], parts[-2], parts[-1]
                drawer = int(file.rsplit("_", 1)[1].split(".")[0])
                key = (alphabet, character, drawer)
                if key not in images:
                    images[key] = pool(decode_png(z.read(member)), a.size)
    alphabets = sorted({k[0] for k in images})
    chars = {al: sorted({k[1] for k in images if k[0] == al}) for al in alphabets}
    keys = sorted(images)
    if a.subset:
        keep = set()
        per_alpha = max(2, a.subset // (20 * len(alphabets)))
        for al in alphabets:
            keep |= {(al, c) for c in chars[al][:per_alpha]}
        keys = [k for k in keys if (k[0], k[1]) in keep]
        chars = {al: [c for c in chars[al] if (al, c) in keep] for al in alphabets}
    os.makedirs(a.out, exist_ok=True)
    header = ["alphabet", "character", "drawer"] + [f"p{j}" for j in range(a.size * a.size)]
    files = {s: open(os.path.join(a.out, f"omniglot_{s}.csv"), "w") for s in ("train", "valid", "test")}
    for f in files.values():
        f.write(",".join(header) + "\n")
    for al, ch, dr in keys:
        split = "train" if dr <= 12 else ("valid" if dr <= 16 else "test")
        px = ",".join("0" if v == 0 else f"{v:.3f}".rstrip("0") for v in images[(al, ch, dr)])
        files[split].write(f"{al},{chars[al].index(ch)},{dr},{px}\n")
    for f in files.values():
        f.close()
    print(f"{len(keys)} images, {len(alphabets)} alphabets; characters per alphabet:")
    for al in alphabets:
        print(f"  {al}: {len(chars[al])}")


if __name__ == "__main__":
    main()

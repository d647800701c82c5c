"""Shared by the preparation scripts: a seeded split stratified on a key per row."""
import random
from collections import defaultdict


def stratified(keys, fractions, seed):
    """Row indices per part ('train', 'valid', 'test'), stratified on keys[i]: within each key,
    a seeded shuffle, then round(fractions[2]·n) test rows, round(fractions[1]·n) validation
    rows and the rest for training."""
    rng = random.Random(seed)
    by = defaultdict(list)
    for i, k in enumerate(keys):
        by[k].append(i)
    parts = {"train": [], "valid": [], "test": []}
    for k in sorted(by):
        idx = by[k]
        rng.shuffle(idx)
        n_test = round(fractions[2] * len(idx))
        n_valid = round(fractions[1] * len(idx))
        parts["test"] += idx[:n_test]
        parts["valid"] += idx[n_test:n_test + n_valid]
        parts["train"] += idx[n_test + n_valid:]
    return {p: sorted(v) for p, v in parts.items()}


def stratified_subset(keys, n, seed):
    """A stratified random sample of n row indices (proportional per key, at least one per key;
    seeded with seed + 1000), sorted."""
    rng = random.Random(seed + 1000)
    by = defaultdict(list)
    for i, k in enumerate(keys):
        by[k].append(i)
    keep = []
    for k in sorted(by):
        idx = by[k]
        rng.shuffle(idx)
        keep += idx[:max(1, round(n * len(idx) / len(keys)))]
    return sorted(keep)

"""Deep models trained by the CLI (`mtlkit train`) load in Python and predict what the CLI
evaluates: the same losses on the same table."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import mtlkit.deep

from test_linear_model import cli

CONFIG = """
[data]
train = "train.csv"
test = "test.csv"

[[tasks]]
name = "y"
column = "y"
kind = { type = "regression" }

[[tasks]]
name = "label"
column = "label"
kind = { type = "binary" }

[[tasks]]
name = "cls"
column = "cls"
kind = { type = "multiclass", classes = 3 }

[model]
architecture = "mmoe"
hidden = [8]
experts = 2
tower = [4]

[trainer]
epochs = 5
batch_size = 32
lr = 0.01
progress = false

[run]
seeds = [0]
"""


def table(path, n, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(n, 3)) * [1.0, 10.0, 0.1] + [0.0, 50.0, 0.0]
    y = 2 * x[:, 0] - 0.1 * x[:, 1] + 5 * x[:, 2] + 0.1 * rng.normal(size=n)
    label = (x[:, 0] + 10 * x[:, 2] > 0).astype(int)
    cls = np.digitize(x[:, 0], [-0.3, 0.3])
    with open(path, "w") as f:
        f.write("a,b,c,y,label,cls\n")
        for i in range(n):
            yv = "" if i % 7 == 3 else f"{y[i]:.6f}"
            f.write(f"{x[i,0]:.6f},{x[i,1]:.6f},{x[i,2]:.6f},{yv},{label[i]},{cls[i]}\n")
    return x, y, label, cls


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    exe = cli()
    if exe is None:
        pytest.skip("the mtlkit CLI is not built")
    d = tmp_path_factory.mktemp("deep")
    table(d / "train.csv", 300, 1)
    data = table(d / "test.csv", 120, 2)
    (d / "exp.toml").write_text(CONFIG)
    out = subprocess.run(
        [exe, "train", "--config", str(d / "exp.toml"), "--out", str(d / "run"), "--json"],
        capture_output=True, text=True, env={**os.environ, "RAYON_NUM_THREADS": "1"},
    )
    assert out.returncode == 0, out.stderr
    return exe, d, data


def test_python_predictions_reproduce_the_cli_losses(trained):
    exe, d, (x, y, label, cls) = trained
    m = mtlkit.deep.load(d / "run" / "model.safetensors")
    assert m.tasks == ["y", "label", "cls"]
    assert m.feature_names == ["a", "b", "c"]
    assert m.task_kinds == ["regression", "binary", "multiclass"]
    ev = subprocess.run(
        [exe, "evaluate", str(d / "run" / "model.safetensors"), "--data", str(d / "test.csv"),
         "--config", str(d / "exp.toml"), "--json"],
        capture_output=True, text=True,
    )
    assert ev.returncode == 0, ev.stderr
    losses = json.loads(ev.stdout)["evaluation"]["losses"]
    p = m.predict(x.astype(np.float32))
    assert p["y"].shape == (120,) and p["label"].shape == (120,) and p["cls"].shape == (120, 3)
    # mse over the labelled rows (every 7th row, from the 4th, has no label)
    lab = np.arange(120) % 7 != 3
    y32 = y.astype(np.float32)
    y_csv = np.round(y32[lab].astype(np.float64), 6)
    mse = np.mean((p["y"][lab] - y_csv) ** 2)
    assert abs(mse - losses[0]) <= 1e-4 * max(1.0, losses[0])
    pl = np.clip(p["label"].astype(np.float64), 1e-12, 1 - 1e-12)
    bce = -np.mean(label * np.log(pl) + (1 - label) * np.log(1 - pl))
    assert abs(bce - losses[1]) <= 1e-4
    np.testing.assert_allclose(p["cls"].sum(1), 1.0, rtol=1e-5)
    ce = -np.mean(np.log(p["cls"][np.arange(120), cls].astype(np.float64)))
    assert abs(ce - losses[2]) <= 1e-4
    # raw outputs: logits whose logistic / softmax are the probabilities
    r = m.predict_raw(x)
    np.testing.assert_allclose(1 / (1 + np.exp(-r["label"])), p["label"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(r["y"], p["y"])


def test_dataframes_and_bad_inputs(trained):
    pd = pytest.importorskip("pandas")
    _, d, (x, _, _, _) = trained
    m = mtlkit.deep.load(d / "run" / "model.safetensors")
    df = pd.DataFrame(x[:, ::-1], columns=["c", "b", "a"]).assign(extra=1.0)
    np.testing.assert_allclose(m.predict(df)["y"], m.predict(x)["y"], rtol=1e-6)
    with pytest.raises(ValueError, match="feature columns"):
        m.predict(df.drop(columns=["b"]))
    with pytest.raises(ValueError, match="3 features"):
        m.predict(x[:, :2])
    bad = x.copy()
    bad[5, 1] = np.nan
    with pytest.raises(ValueError, match="row 5"):
        m.predict(bad)
    with pytest.raises(ValueError, match="2-D"):
        m.predict(x[:, 0])
    corrupt = d / "corrupt.safetensors"
    corrupt.write_bytes((d / "run" / "model.safetensors").read_bytes()[:100])
    with pytest.raises(ValueError):
        mtlkit.deep.load(corrupt)
    with pytest.raises(OSError):
        mtlkit.deep.load(d / "missing.safetensors")

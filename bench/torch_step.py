"""PyTorch side of the deep training-step benchmark (issue 8): the same models as
`cargo run --release -p mtlkit-deep --example step_bench` — a shared-bottom MLP 100→256→256
(ReLU) with 3 linear regression heads, and an MMoE (8 experts 100→64 ReLU, softmax gates,
towers 64→32→1, 2 tasks) — batch 256, MSE per task summed, Adam lr 1e-3, one thread.
Prints median and interquartile range of the per-step CPU time (forward + backward + step).

    OMP_NUM_THREADS=1 python bench/torch_step.py [--steps 50] [--json out.json]
"""
import argparse
import json
import time

import torch
import torch.nn as nn

torch.set_num_threads(1)
torch.manual_seed(0)


class SharedBottom(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(100, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU())
        self.heads = nn.ModuleList([nn.Linear(256, 1) for _ in range(3)])

    def forward(self, x):
        z = self.trunk(x)
        return [h(z) for h in self.heads]


class MMoE(nn.Module):
    def __init__(self, d=100, e=8, width=64, t=2, tower=32):
        super().__init__()
        self.experts = nn.ModuleList([nn.Sequential(nn.Linear(d, width), nn.ReLU()) for _ in range(e)])
        self.gates = nn.ModuleList([nn.Linear(d, e) for _ in range(t)])
        self.towers = nn.ModuleList(
            [nn.Sequential(nn.Linear(width, tower), nn.ReLU(), nn.Linear(tower, 1)) for _ in range(t)]
        )

    def forward(self, x):
        ex = torch.stack([e(x) for e in self.experts], 1)  # B, E, D
        outs = []
        for g, tw in zip(self.gates, self.towers):
            w = torch.softmax(g(x), 1).unsqueeze(2)
            outs.append(tw((ex * w).sum(1)))
        return outs


def bench(model, t, steps, d=100, binary=False):
    x = torch.rand(256, d) * 2 - 1
    if binary:
        ys = [(torch.rand(256, 1) < 0.3).float() for _ in range(t)]
        lossf = nn.BCEWithLogitsLoss()
    else:
        ys = [torch.rand(256, 1) for _ in range(t)]
        lossf = nn.MSELoss()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    out = []
    for k in range(steps + 5):
        c0 = time.process_time()
        opt.zero_grad(set_to_none=True)
        preds = model(x)
        loss = sum(lossf(p, y) for p, y in zip(preds, ys))
        loss.backward()
        opt.step()
        if k >= 5:
            out.append((time.process_time() - c0) * 1e3)
    out.sort()
    q = lambda p: out[round((len(out) - 1) * p)]
    return q(0.5), q(0.25), q(0.75)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--json")
    ap.add_argument("--census", action="store_true",
                    help="only the census MMoE of examples/adult_mmoe.toml (95 inputs, 8 experts "
                         "95-32, towers 16, 2 binary tasks, BCE)")
    a = ap.parse_args()
    rows = []
    cases = [
        ("shared-bottom 100-256-256, 3 heads", SharedBottom(), 3, 100, False),
        ("MMoE 8 experts 100-64, towers 32, 2 tasks", MMoE(), 2, 100, False),
    ]
    if a.census:
        cases = [("MMoE on Adult/census: 8 experts 95-32, towers 16, 2 binary tasks",
                  MMoE(d=95, width=32, tower=16), 2, 95, True)]
    for label, model, t, d, binary in cases:
        m, lo, hi = bench(model, t, a.steps, d, binary)
        print(f"{label}: PyTorch {torch.__version__} median {m:.2f} ms (IQR {lo:.2f}-{hi:.2f})")
        rows.append({"case": label, "median_ms": m, "q25_ms": lo, "q75_ms": hi, "torch": torch.__version__})
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()

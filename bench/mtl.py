"""Run the shared peer-benchmark harness (../shared/bench, `mtl_bench`) with mtlkit added.

mtlkit is timed through `bench/peer` (binary `mtlkit_peer`, the same interface as the
harness's `linfa_peer`): the fit alone, measured inside the Rust process (wall and thread CPU
time), on the same .npz problems, with the objective and gap computed by the harness.

    cargo build --release -p mtlkit-bench-peer
    export MTLKIT_PEER_BIN=$PWD/target/release/mtlkit_peer
    python bench/mtl.py tts --shapes small --rhos 0.5 --alpha-ratios 10 100 \
        --tols 1e-4 1e-6 1e-8 --solvers sklearn skglm celer mtlkit --out bench/results/tts.jsonl

Solvers added: `mtlkit` (working sets + Anderson + Gram mode, the defaults) and `mtlkit-plain`
(scikit-learn's plain cyclic passes, for reference). Any harness command works (`tts`, `path`,
`report`, ...). The harness is found at $MTL_BENCH_HARNESS, default ../shared/bench next to the
repository.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
HARNESS = os.environ.get("MTL_BENCH_HARNESS") or os.path.join(HERE, "..", "..", "shared", "bench")
sys.path.insert(0, os.path.abspath(HARNESS))

from mtl_bench import solvers  # noqa: E402
from mtl_bench.__main__ import main  # noqa: E402


class MtlkitPeer(solvers.LinfaPeer):
    """mtlkit through `mtlkit_peer` (same JSON protocol as linfa_peer)."""

    supports_enet = True
    has_warm_start = True
    epoch_based = False

    def __init__(self, working_set=True):
        self.working_set = working_set
        self.layout = "f"
        self.name = "mtlkit" if working_set else "mtlkit-plain"
        self.epoch_based = not working_set
        self.bin = os.environ.get("MTLKIT_PEER_BIN") or os.path.join(
            HERE, "..", "target", "release", "mtlkit_peer")

    def _run(self, args):
        # linfa_peer's --layout flag has no meaning here; pass the solver choice instead
        args = [a for a in args]
        if "--layout" in args:
            i = args.index("--layout")
            del args[i:i + 2]
        args += ["--working-set", "true" if self.working_set else "false"]
        return super()._run(args)


solvers.ALL["mtlkit"] = lambda: MtlkitPeer(True)
solvers.ALL["mtlkit-plain"] = lambda: MtlkitPeer(False)

if __name__ == "__main__":
    main()

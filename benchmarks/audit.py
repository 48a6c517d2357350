"""The audit's speed, measured as a user runs it (the ``firenets`` command in a subprocess).

    python benchmarks/audit.py [--parts one,dataset,torchrun] [--size 64] [--steps 100] [--torchrun-images 8]
                               [--out DIR]

one: ``firenets audit`` of one 256x256 image (the default images and stages) for the shipped U-Net,
     wall time against the 5-minute goal, and the seconds of every stage and of every map in it (the
     reference FIRENET's beside the U-Net's).
dataset: a folder of 1, 4 and 16 phantoms (SIZE x SIZE, stages accuracy, perturbation and
     hallucination-attack, the budget's step cap --steps): wall seconds per image, which should not
     grow with the number of images, and the median of the rows' own seconds.
torchrun: --torchrun-images phantoms (8) audited by one process (2 threads) and by ``torchrun --nproc-per-node 2`` (1
     thread each) on the same 2 cores, run interleaved, twice each: the ratio of their wall times.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FACTORY = '''
from firenets.nets import training


def unet():
    net, _ = training.load(training.shipped("unet"))
    return net
'''

STAGES = "accuracy,perturbation,hallucination-attack"


def _firenets() -> str:
    return str(Path(sys.executable).with_name("firenets"))


def _run(cmd: list[str], cwd: Path, env: dict | None = None) -> float:
    t0 = time.perf_counter()
    path = os.pathsep.join(p for p in (str(cwd), os.environ.get("PYTHONPATH", "")) if p)
    done = subprocess.run(cmd, cwd=cwd, env={**os.environ, "PYTHONPATH": path, **(env or {})},
                          capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr[-1500:]}")
    return seconds


def one(work: Path) -> list[tuple[str, str]]:
    out = work / "one"
    wall = _run([_firenets(), "audit", "--model", "shipped:unet", "--out", str(out), "--force"], work)
    res = json.loads((out / "results.json").read_text())
    rows = [("audit, 256x256, default stages, shipped U-Net: wall seconds", f"{wall:.0f} (goal 300: "
             f"{wall / 300:.2f}x)")]
    for stage, s in res["seconds"].items():
        rows.append((f"  stage {stage}", f"{s:.1f} s"))
    for stage, per in res["record"].get("map_seconds", {}).items():
        for label, s in per.items():
            rows.append((f"  {stage}: {label}", f"{s:.1f} s"))
    return rows


def _folder(work: Path, n: int, size: int) -> Path:
    import numpy as np

    import firenets

    folder = work / f"images-{n}"
    folder.mkdir(exist_ok=True)
    for i in range(n):
        np.save(folder / f"ellipses-{30_000 + i}.npy", firenets.data.ellipses(size, seed=30_000 + i).numpy())
    return folder


def dataset(work: Path, size: int, steps: int) -> list[tuple[str, str]]:
    rows = []
    for n in (1, 4, 16):
        folder = _folder(work, n, size)
        out = work / f"dataset-{n}"
        wall = _run([_firenets(), "audit", "--model", "shipped:unet", str(folder), "--stages", STAGES,
                     "--steps", str(steps), "--out", str(out), "--force"], work)
        own = [json.loads(line)["wall_seconds"] for line in (out / "results.jsonl").read_text().splitlines()[1:]]
        rows.append((f"dataset of {n:2d} images ({size}x{size}, {STAGES}, steps {steps})",
                     f"{wall / n:.1f} s per image (wall {wall:.0f} s; rows' median {statistics.median(own):.1f} s)"))
    return rows


def torchrun(work: Path, size: int, steps: int, n: int = 8) -> list[tuple[str, str]]:
    folder = _folder(work, n, size)
    exe = Path(sys.executable).with_name("torchrun")
    if not exe.exists():
        return [("torchrun", "not installed")]
    common = ["audit", "--model", "shipped:unet", str(folder), "--stages", STAGES, "--steps", str(steps), "--force"]
    single, double = [], []
    for k in range(2):  # interleaved
        single.append(_run([_firenets(), *common, "--out", str(work / f"single-{k}")], work,
                           {"OMP_NUM_THREADS": "2"}))
        double.append(_run([str(exe), "--nproc-per-node", "2", "--no-python", _firenets(), *common, "--out",
                            str(work / f"double-{k}")], work, {"OMP_NUM_THREADS": "1"}))
    a, b = statistics.median(single), statistics.median(double)
    return [(f"{n} images ({size}x{size}), one process, 2 threads", f"{a:.0f} s (runs {', '.join(f'{s:.0f}' for s in single)})"),
            ("  torchrun, 2 processes, 1 thread each", f"{b:.0f} s (runs {', '.join(f'{s:.0f}' for s in double)}): "
             f"{a / b:.2f}x faster" if b < a else f"{b:.0f} s: {b / a:.2f}x slower")]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--parts", default="one,dataset,torchrun")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--torchrun-images", type=int, default=8)
    p.add_argument("--out", default=None, help="keep the runs' directories here (default: a temporary one)")
    args = p.parse_args()
    work = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="firenets-audit-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    (work / "shipped.py").write_text(FACTORY)
    rows: list[tuple[str, str]] = []
    try:
        for part in args.parts.split(","):
            if part == "one":
                rows += one(work)
            elif part == "dataset":
                rows += dataset(work, args.size, args.steps)
            elif part == "torchrun":
                rows += torchrun(work, args.size, args.steps, args.torchrun_images)
            else:
                raise SystemExit(f"unknown part {part!r}")
            for name, value in rows:
                print(f"{name:70s} {value}", flush=True)
            rows = []
    finally:
        if not args.out:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

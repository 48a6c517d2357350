"""The two commands the attack-speed goals are about, before and after, in one run: wall seconds and the
worst-case ratios they found.

    python benchmarks/speed.py [--before REV] [--parts attack,audit] [--threads 2]

before: the project at git revision REV (default bdd13a4, the last commit before the search of
docs/stability.md "The search"), checked out into a temporary worktree and run from there; after:
this tree. Each command runs as a user runs it (``python -m firenets`` in a subprocess), before and
after interleaved:

attack: ``firenets attack shepp-logan --method firenet`` (256x256, Gaussian 25%, the default budget;
        goal 80 s);
audit:  ``firenets audit --model shipped:unet`` (one 256x256 image, every default stage; goal 120 s).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


# the shipped U-Net as a user's model (as benchmarks/audit.py): a module in the run's folder
FACTORY = """
from firenets.nets import training


def unet():
    net, _ = training.load(training.shipped("unet"))
    return net
"""


def _run(src: Path, args: list[str], out: Path, threads: int) -> float:
    (out.parent / "shipped.py").write_text(FACTORY)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(src), str(out.parent)]), "OMP_NUM_THREADS": str(threads)}
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "firenets", *args, "--out", str(out)], env=env, cwd=out.parent,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"firenets {' '.join(args)} failed ({done.returncode}): {done.stderr[-1500:]}")
    return seconds


def _attack_ratios(out: Path) -> dict[str, list[float]]:
    rec = json.loads((out / "attack.json").read_text())
    return {"FIRENET (reference)": [s["ratio"] for s in rec["stages"]]}


def _audit_ratios(out: Path) -> dict[str, list[float]]:
    rec = json.loads((out / "results.json").read_text())
    maps = rec["record"]["perturbation"]["maps"]  # the page's record: the perturbation section's maps
    return {label: [s["ratio"] for s in p["stages"]] for label, p in maps.items()}


COMMANDS = {
    "attack": (["attack", "shepp-logan", "--method", "firenet", "--no-progress"], _attack_ratios, 80),
    "audit": (["audit", "--model", "shipped:unet", "--force"], _audit_ratios, 120),
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="bdd13a4")
    parser.add_argument("--parts", default="attack,audit")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "before"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), args.before], check=True,
                       capture_output=True)
        try:
            for part in args.parts.split(","):
                cmd, ratios, goal = COMMANDS[part]
                seconds, found = {}, {}
                for which, src in (("before", tree / "src"), ("after", ROOT / "src")):  # interleaved per part
                    out = Path(tmp) / f"{part}-{which}"
                    seconds[which] = _run(src, cmd, out, args.threads)
                    found[which] = ratios(out)
                print(f"firenets {' '.join(cmd)}: before {seconds['before']:.0f} s, after {seconds['after']:.0f} s "
                      f"(after / before {seconds['after'] / seconds['before']:.2f}; goal {goal} s: "
                      f"{seconds['after'] / goal:.2f}x the goal)")
                for label in found["after"]:
                    b, a = found["before"].get(label, []), found["after"][label]
                    print(f"  {label:24} ratios per sphere before {', '.join(f'{v:.4f}' for v in b)}; after "
                          f"{', '.join(f'{v:.4f}' for v in a)}; largest after / before "
                          f"{max(a) / max(b) if b else float('nan'):.4f}")
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], capture_output=True)


if __name__ == "__main__":
    main()

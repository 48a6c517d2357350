"""Seconds per stage of a multi-coil audit, measured where the CPU allows and extrapolated where not.

    python benchmarks/coils.py [--model varnet|none] [--measure 256x256x1] [--steps 100] [--configs 256x256x1,320x320x8,640x368x15]

1. One audit (``fn.audit``, every stage but the positive control, which is single-coil and the same for
   every acquisition; the default threats, image and kspace) of an H x W complex phantom with C simulated
   coils (--measure HxWxC; one coil: single-coil sampling), a cartesian mask at 25%: the seconds of every
   stage and of every map in it, with the budget's step cap --steps; or (--from-audit) the seconds an
   audit page already records, at its size and coil count.
2. For every configuration HxWxC: the seconds of one forward + backward pass of every map (the user's
   model, the reference FIRENET, zero-filling) through SENSE with C birdcage coils (one coil: Fourier2D),
   the median of 3 (1 where a pass exceeds 20 s).
3. The extrapolation: a stage's seconds per map at H x W x C = its seconds in (1) x the ratio of that map's
   pass at H x W x C to its pass in (1), i.e. the same number of passes (the attacks' stopping rule does not
   depend on the size; a stage's passes are what (1) measured). The configuration (1) ran at is measured,
   the others extrapolated; the table says which.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

import firenets as fn
from firenets import coils, data
from firenets.acquisition import acquire
from firenets.experiments.maps import REFERENCE, ZERO_FILLED, reference_makers
from firenets.nets.adapter import NetworkMap
from firenets.operators import Fourier2D, MultiCoilFourier

STAGES = ("accuracy", "perturbation", "hallucination-attack", "structural", "more-samples", "generalisation",
          "hallucination")


def model(kind: str):
    """(label, module, input) of the user's model, or None."""
    if kind == "none":
        return None
    from fastmri.models import VarNet

    torch.manual_seed(0)
    return "VarNet", VarNet(num_cascades=4, sens_chans=4, sens_pools=2, chans=8, pools=2), "fastmri"


def operator(H: int, W: int, C: int):
    x = data.ellipses((H, W), seed=1).to(torch.complex128) * data.smooth_phase((H, W), seed=2)
    mask = acquire(x, mask="cartesian", rate=0.25, seed=0).mask
    A = Fourier2D(mask) if C == 1 else MultiCoilFourier(coils.birdcage(C, (H, W)), mask)
    return A, x


def pass_seconds(f, A, x, repeat: int = 3) -> float:
    """Median seconds of f(A x + e) and the gradient of ||f|| with respect to e."""
    y = A(x)
    times = []
    for _ in range(repeat):
        e = torch.zeros_like(y, requires_grad=True)
        t0 = time.perf_counter()
        out = f(y + e)
        torch.autograd.grad(torch.linalg.vector_norm(out), e)
        times.append(time.perf_counter() - t0)
        if times[-1] > 20:
            break
    return statistics.median(times)


def maps_for(A, user):
    ref = reference_makers()
    out = {REFERENCE: ref[REFERENCE](A), ZERO_FILLED: ref[ZERO_FILLED](A)}
    if user is not None:
        label, net, input = user
        out = {label: NetworkMap(net, A, input, dtype=torch.float32), **out}
    return out


def from_audit(path: str, user) -> tuple[tuple[int, int, int], dict, dict, str]:
    """(H, W, coils), stage seconds, map seconds (the page's user map relabelled as --model's) and a line
    saying where they come from, read from an audit page's results.json."""
    page = json.loads(Path(path).read_text())
    st = page["record"]["settings"]
    theirs = next(m for m in st["maps"] if m not in (REFERENCE, ZERO_FILLED))
    label = user[0] if user else "identity"
    map_seconds = {s: {(label if m == theirs else m): t for m, t in per.items()}
                   for s, per in page["record"].get("map_seconds", {}).items()}
    H, W = st["shape"]
    note = (f"the audit recorded in {path}: {theirs} on {H}x{W} with {st.get('coils') or 1} coils, "
            f"{st['mask']} mask at {st['rate']:.0%}, step cap {st['budget']['steps']}, threats "
            f"{', '.join(st['threats'])}: {sum(page['seconds'].values()):.0f} s; failures {page['record']['failures'] or 'none'}")
    return (H, W, st.get("coils") or 1), page["seconds"], map_seconds, note


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=["varnet", "none"], default="varnet")
    p.add_argument("--measure", default="256x256x1", help="HxWxC of the audit that is run (C = 1: one coil)")
    p.add_argument("--from-audit", default=None,
                   help="instead of (1), the stage and map seconds an audit page records (its results.json; one "
                        "image, a VarNet like --model's): its size and coils are the measured configuration")
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--configs", default="256x256x1,320x320x8,640x368x15")
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    user = model(args.model)
    configs = [tuple(int(v) for v in c.split("x")) for c in args.configs.split(",")]

    if args.from_audit:
        measured, stage_seconds, map_seconds, note = from_audit(args.from_audit, user)
        A, x = operator(*measured)
        args.measure = "x".join(str(v) for v in measured)
        print(f"(1) {note}")
    else:
        measured = tuple(int(v) for v in args.measure.split("x"))
        A, x = operator(*measured)
        t0 = time.perf_counter()
        res = fn.audit(user[1] if user else torch.nn.Identity(), {"x": x}, name=user[0] if user else "identity",
                       input=user[2] if user else "adjoint",
                       acquisition=dict(mask="cartesian", rate=0.25,
                                        **({"coils": measured[2]} if measured[2] > 1 else {})),
                       stages=STAGES, budget=fn.stability.Budget(steps=args.steps))
        wall = time.perf_counter() - t0
        stage_seconds, map_seconds = res.seconds, res.map_seconds
        print(f"(1) audit of {args.measure} (H x W x coils), step cap {args.steps}: {wall:.0f} s; failures "
              f"{res.failures or 'none'}; every attack converged: "
              f"{all(r['maps'][m]['converged'] is not False for r in res.rows() for m in r['maps'])}")
    labels = list(maps_for(A, user))
    small = {label: pass_seconds(f, A, x) for label, f in maps_for(A, user).items()}
    per_map = {s: map_seconds.get(s) for s in STAGES}
    print("| stage | " + " | ".join(labels) + " | stage seconds |")
    print("|---|" + "---|" * (len(labels) + 1))
    for s in STAGES:
        cells = [f"{per_map[s][m]:.1f}" if per_map[s] and m in per_map[s] else "-" for m in labels]
        print(f"| {s} | " + " | ".join(cells) + f" | {stage_seconds.get(s, float('nan')):.1f} |")
    print("\n(2) one forward + backward pass, seconds (median):")
    print("| H x W x coils | " + " | ".join(labels) + " |")
    print("|---|" + "---|" * len(labels))
    costs = {}
    for H, W, C in configs:
        A_c, x_c = operator(H, W, C)
        costs[(H, W, C)] = {label: pass_seconds(f, A_c, x_c) for label, f in maps_for(A_c, user).items()}
        print(f"| {H} x {W} x {C} | " + " | ".join(f"{costs[(H, W, C)][m]:.3g}" for m in labels) + " |")
        sys.stdout.flush()
    print(f"\n(3) seconds per stage, measured at {args.measure} and extrapolated to the others from (1) by the pass "
          f"ratios of (2) (pass counts as measured; stages without per-map seconds scaled by the reference FIRENET's "
          f"ratio):")
    print("| stage | " + " | ".join(f"{H} x {W} x {C}" + (" (measured)" if (H, W, C) == measured else "")
                                    for H, W, C in configs) + " |")
    print("|---|" + "---|" * len(configs))
    totals = dict.fromkeys(configs, 0.0)
    for s in STAGES:
        cells = []
        for c in configs:
            if c == measured:
                sec = stage_seconds.get(s, 0.0)
            elif per_map[s]:
                sec = sum(per_map[s][m] * costs[c][m] / small[m] for m in labels if m in per_map[s])
            else:
                sec = stage_seconds.get(s, 0.0) * costs[c][REFERENCE] / small[REFERENCE]
            totals[c] += sec
            cells.append(f"{sec:.0f}")
        print(f"| {s} | " + " | ".join(cells) + " |")
    print("| total | " + " | ".join(f"{totals[c]:.0f}" for c in configs) + " |")


if __name__ == "__main__":
    main()

"""FIRENET against the compressed-sensing MRI tools: BART ``pics`` and SigPy, on the same samples.

    python benchmarks/vs_cs.py [--images shepp-logan,camera,ellipses:10000,ellipses:10001]
                               [--size 256] [--rate 0.25] [--repeats 3] [--sections quality,shared,layers]

Every tool gets the same k-space samples y = P_M F_c x of a 25% Gaussian mask (seed 0),
noiseless, and runs on 2 threads (BART with OMP_WAIT_POLICY=PASSIVE, set by benchmarks/cs_bart).

quality: each tool's best PSNR/SSIM, with lam tuned on the very image (best of a lam grid,
    refined, never at an edge; benchmarks/cs_search.best_of_lambda) at the iteration count where its
    PSNR settles (< 0.01 dB on doubling): BART pics -l1 (its default Daubechies-2 with random shifts)
    and pics -R T (isotropic TV), SigPy L1WaveletRecon (db4) and TotalVariationRecon. FIRENET runs
    with its defaults (reconstruction.FIRENET_DEFAULTS: lam from the calibration, never tuned on
    these images, and the depth its certificate chooses), and also with its oracle lam (tuned like
    the others) to show how far the default is from it. Times: the median of ``--repeats`` runs,
    interleaved over the tools; "time to X" is the time of the first restart (FIRENET) or of the
    shortest run (BART, SigPy: each iteration count a separate run, startup included) whose PSNR
    reaches X. Goals (printed as ratios): FIRENET's default PSNR >= BART's best - 0.3 dB and above
    SigPy's best; FIRENET's time to that PSNR <= BART's time to its own best.
shared: time to relative suboptimality 1e-3 .. 1e-7 on objectives two tools share exactly:
    1/2 ||P F_c x - y||^2 + lambda R(x) with R the orthonormal Haar l1 at BART's levels (BART pics
    --wavelet haar -n: FISTA), at SigPy's (full depth: L1WaveletRecon haar), isotropic TV (BART,
    ADMM) and anisotropic TV (SigPy, PDHG); FIRENET solves the same problem as its (P2)
    (lam = 2 lambda). F* is bracketed by a long float64 FIRENET run and its duality-gap certificate.
layers: one FIRENET layer against one application each of A, A^*, B, B^* (the floor), per
    regulariser, in complex128 and complex64; beside it, the time of the three elementwise passes
    over B's coefficients that a step must make besides B and B^* (forming v + sigma B(.),
    projecting it, adding it to the block's sum), to show how much of the excess they are.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cs_bart  # noqa: E402
import cs_objectives  # noqa: E402
import cs_search  # noqa: E402
import cs_sigpy  # noqa: E402

MARGIN_DB = 0.3


# --------------------------------------------------------------------------- FIRENET runs
def firenet_trace(acq, **options) -> dict:
    """MRIFirenet on acq.y: the output, seconds, layers run, and (seconds, image) after each restart."""
    from firenets.reconstruction import MRIFirenet

    f = MRIFirenet(acq.operator, **options)
    net = f.firenet
    y = acq.y.to(f.dtype)
    stamps: list[tuple[float, torch.Tensor]] = []
    t0 = time.perf_counter()

    def trace(k, x):
        stamps.append((time.perf_counter() - t0, x.clone()))

    with torch.no_grad():
        x, _ = net._run(y, None, net.restarts, net.inner, trace=trace)
    seconds = time.perf_counter() - t0
    images = [(t, f._image(c).to(torch.complex128).numpy()) for t, c in stamps]
    return {"image": f._image(x).to(torch.complex128).numpy(), "seconds": seconds, "layers": net.last_layers,
            "trace": images, "config": f.config}


def firenet_seconds(acq, **options) -> tuple[float, np.ndarray]:
    """Wall seconds of the whole default reconstruction (set-up included) and its image."""
    from firenets.reconstruction import MRIFirenet

    t0 = time.perf_counter()
    f = MRIFirenet(acq.operator, **options)
    with torch.no_grad():
        x = f(acq.y)
    return time.perf_counter() - t0, x.numpy()


def first_time(trace, metric, target: float) -> float | None:
    """The first (seconds, image) of a trace whose metric reaches target (None if none does)."""
    for seconds, image in trace:
        if metric(image) >= target:
            return seconds
    return None


def runs_time(run, counts, metric, target: float) -> float | None:
    """The seconds of the shortest run (iteration counts tried in order) reaching target."""
    for n in counts:
        image, seconds = run(n)
        if metric(image) >= target:
            return seconds
    return None


# --------------------------------------------------------------------------- quality
def test_image(name: str, size: int) -> torch.Tensor:
    """shepp-logan, camera or ellipses:SEED at size x size (the held-out phantoms: seeds 10000..)."""
    import firenets as fn

    if name == "shepp-logan":
        return fn.data.shepp_logan(size)
    if name == "camera":
        return fn.data.camera(size)
    if name.startswith("ellipses:"):
        return fn.data.ellipses(size, seed=int(name.split(":")[1]))
    raise ValueError(f"unknown image {name!r}")


def quality(names: list[str], size: int, rate: float, repeats: int, max_iters: int) -> list[dict]:
    """The quality rows of every image (``_quality_one``)."""
    rows = []
    for name in names:
        rows += _quality_one(name, size, rate, repeats, max_iters)
    return rows


def _quality_one(name: str, size: int, rate: float, repeats: int, max_iters: int) -> list[dict]:
    """The quality rows of one image (every tool tuned on it, FIRENET at its defaults)."""
    from firenets.metrics import psnr, ssim
    from firenets.reconstruction import FIRENET_DEFAULTS, acquire, default_lam

    rows = []
    x = test_image(name, size)
    acq = acquire(x, mask="gaussian", rate=rate, seed=0)
    target = acq.target.numpy()
    mask = acq.mask.numpy()
    y = acq.y.numpy()

    def metric(im, target=target):
        return psnr(target, np.abs(im))

    print(f"\n== {name} {size}x{size}, Gaussian {acq.rate:.3f}", flush=True)
    tools = {}
    if cs_bart.bart_available():
        tools["BART pics -l1 (dau2, random shifts)"] = (lambda lam, n: cs_bart.bart_pics(y, mask, lam=lam, iters=n),
                                                        2e-3, 50)
        tools["BART pics -R T (isotropic TV)"] = (
            lambda lam, n: cs_bart.bart_pics(y, mask, lam=lam, iters=n, regulariser="tv"), 2e-3, 100)
    tools["SigPy L1WaveletRecon db4"] = (lambda lam, n: cs_sigpy.sigpy_l1wavelet(y, mask, lam=lam, iters=n), 2e-3, 50)
    tools["SigPy TotalVariationRecon"] = (lambda lam, n: cs_sigpy.sigpy_tv(y, mask, lam=lam, iters=n), 2e-3, 100)
    results = {}
    for label, (run, lam0, n0) in tools.items():
        t0 = time.perf_counter()
        if "random shifts" in label:
            # random shifts never settle run to run: tuned at the iteration count the unshifted
            # transform needs (cs_tools.measure does the same)
            def fixed(lam, n):
                return cs_bart.bart_pics(y, mask, lam=lam, iters=n, shifts=False)
            lam_n, conv_n = cs_search.tune(fixed, lam0, n0, metric, max_iters=max_iters)
            search = cs_search.best_of_lambda(lambda v, n=conv_n.iters, run=run: run(v, n),
                                              [lam_n * 2.0**k for k in (-2, -1, 0, 1, 2)], metric)
            lam, iters, image, settled = search.lam, conv_n.iters, search.image, conv_n.settled
        else:
            lam, conv = cs_search.tune(run, lam0, n0, metric, max_iters=max_iters)
            lam, iters, image, settled = lam, conv.iters, conv.image, conv.settled
        results[label] = {"lam": lam, "iters": iters, "psnr": metric(image), "ssim": ssim(target, np.abs(image)),
                          "settled": settled, "run": run}
        print(f"  {label}: lam {lam:.3g}, {iters} iterations{'' if settled else ' (not settled)'}, "
              f"PSNR {results[label]['psnr']:.2f} ({time.perf_counter() - t0:.0f} s to tune)", flush=True)
    # FIRENET: the defaults, and the oracle lam of the default regulariser
    reg = FIRENET_DEFAULTS["regulariser"]
    default = firenet_trace(acq)
    lam_default = default_lam(reg, acq.operator.in_shape)
    oracle = cs_search.best_of_lambda(lambda v: firenet_trace(acq, lam=v)["image"],
                                      [lam_default * 2.0**k for k in (-2, -1, 0, 1, 2)], metric)
    results["FIRENET (defaults)"] = {"lam": lam_default, "iters": default["layers"], "psnr": metric(default["image"]),
                                     "ssim": ssim(target, np.abs(default["image"])), "settled": True}
    results["FIRENET (oracle lam)"] = {"lam": oracle.lam, "iters": default["layers"], "psnr": oracle.score,
                                       "ssim": ssim(target, np.abs(oracle.image)), "settled": True}
    bart_best = max((r["psnr"] for k, r in results.items() if k.startswith("BART")), default=None)
    # timings, interleaved
    times: dict[str, list[float]] = {k: [] for k in results if not k.startswith("FIRENET (oracle")}
    for _ in range(repeats):
        for label in times:
            if label.startswith("FIRENET"):
                times[label].append(firenet_seconds(acq)[0])
            else:
                r = results[label]
                times[label].append(r["run"](r["lam"], r["iters"])[1])
    for label, ts in times.items():
        results[label]["seconds"] = statistics.median(ts)
    targets = {}
    if bart_best is not None:
        targets = {"95%": 0.95 * bart_best, "99%": 0.99 * bart_best, f"-{MARGIN_DB}": bart_best - MARGIN_DB}
    for label, r in results.items():
        if label.startswith("FIRENET (oracle"):
            continue
        r["time_to"] = {}
        for key, value in targets.items():
            if label.startswith("FIRENET"):
                r["time_to"][key] = first_time(default["trace"], metric, value)
            else:
                counts = [c for c in (5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560) if c <= r["iters"]] + [r["iters"]]
                r["time_to"][key] = runs_time(lambda n, r=r: r["run"](r["lam"], n), counts, metric, value)
    for label, r in results.items():
        r.pop("run", None)
        rows.append({"image": name, "method": label, **r})
    _print_quality(name, results, bart_best)
    return rows


def _print_quality(name: str, results: dict, bart_best: float | None) -> None:
    print(f"\n{'method':38s} {'lam':>9s} {'iters':>6s} {'PSNR':>7s} {'SSIM':>6s} {'s':>7s} "
          f"{'t(95%)':>7s} {'t(99%)':>7s} {'t(-0.3)':>7s}")
    for label, r in results.items():
        tt = r.get("time_to", {})

        def fmt(v):
            return f"{v:7.2f}" if isinstance(v, float) else f"{'-':>7s}"
        print(f"{label:38s} {r['lam']:9.3g} {str(r['iters']) + ('' if r['settled'] else '+'):>6s} {r['psnr']:7.2f} "
              f"{r['ssim']:6.3f} {fmt(r.get('seconds'))} {fmt(tt.get('95%'))} {fmt(tt.get('99%'))} "
              f"{fmt(tt.get(f'-{MARGIN_DB}'))}")
    fire = results["FIRENET (defaults)"]
    sig = max(r["psnr"] for k, r in results.items() if k.startswith("SigPy"))
    print(f"goal: FIRENET default PSNR - (SigPy best) = {fire['psnr'] - sig:+.2f} dB (> 0)")
    if bart_best is not None:
        bart_label = max((k for k in results if k.startswith("BART")), key=lambda k: results[k]["psnr"])
        print(f"goal: FIRENET default PSNR - (BART best - {MARGIN_DB}) = {fire['psnr'] - bart_best + MARGIN_DB:+.2f} dB (>= 0)")
        t_fire = fire["time_to"].get(f"-{MARGIN_DB}")
        t_bart = results[bart_label]["seconds"]
        if t_fire is not None:
            print(f"goal: FIRENET time to BART best - {MARGIN_DB} dB / BART's time to its best ({bart_label}) = "
                  f"{t_fire:.2f} / {t_bart:.2f} = {t_fire / t_bart:.2f} (<= 1)")
        else:
            print("goal: FIRENET did not reach BART's best - 0.3 dB")
    print(f"lam rule: default lam {fire['lam']:.3g} gives {fire['psnr']:.2f} dB; the oracle lam "
          f"{results['FIRENET (oracle lam)']['lam']:.3g} gives {results['FIRENET (oracle lam)']['psnr']:.2f} dB "
          f"({fire['psnr'] - results['FIRENET (oracle lam)']['psnr']:+.2f} dB)", flush=True)


# --------------------------------------------------------------------------- shared objectives
def shared(size: int, rate: float, name: str = "shepp-logan", lam: float = 1e-3) -> list[dict]:
    import firenets as fn
    from firenets.operators import Gradient2D, Wavelet2D
    from firenets.reconstruction import acquire

    x = fn.data.shepp_logan(size) if name == "shepp-logan" else fn.data.camera(size)
    acq = acquire(x, mask="gaussian", rate=rate, seed=0)
    F, y = acq.operator, acq.y
    mask, yn = acq.mask.numpy(), y.numpy()
    cases = []
    if cs_bart.bart_available():
        levels = cs_objectives.bart_haar_levels((size, size))
        assert levels[0] == levels[1], levels
        cases.append(("Haar l1, BART's levels", Wavelet2D((size, size), wavelet="haar", levels=levels[0]), None,
                      "bart-haar", lambda n: cs_bart.bart_pics(yn, mask, lam=lam, iters=n, wavelet="haar", shifts=False)))
        cases.append(("isotropic TV (BART's backward differences)", None, Gradient2D((size, size), difference="backward"),
                      "bart-tv",
                      lambda n: cs_bart.bart_pics(yn, mask, lam=lam, iters=n, regulariser="tv")))
    sl = cs_objectives.sigpy_haar_levels((size, size))
    cases.append(("Haar l1, SigPy's levels", Wavelet2D((size, size), wavelet="haar", levels=sl[0]), None, "sigpy-haar",
                  lambda n: cs_sigpy.sigpy_l1wavelet(yn, mask, lam=lam, iters=n, wave_name="haar", dtype=np.complex128)))
    cases.append(("anisotropic TV", None, Gradient2D((size, size), isotropic=False), "sigpy-tv",
                  lambda n: cs_sigpy.sigpy_tv(yn, mask, lam=lam, iters=n, dtype=np.complex128)))
    return [_shared_one(F, y, mask, yn, lam, *case) for case in cases]


def _shared_one(F, y, mask, yn, lam, label, W, B, term, tool) -> dict:
    """Time to relative suboptimality on one shared objective, for FIRENET and for the tool."""
    import firenets as fn
    from firenets import Lasso

    A = F if W is None else F @ W.H

    def objective(image, term=term):
        return cs_objectives.objective(image, yn, mask, lam, term)

    # F*: a long float64 run, bracketed by its certificate (P2 here is 2 x the tools' objective)
    ref = fn.FIRENET(A, lam=2 * lam, problem="lasso", analysis=B, restarts=200, inner=50, delta=0.0,
                     schedule="adaptive", L_A=1.0 if W is not None else None)
    with torch.no_grad():
        xr, cert = ref(y, return_certificate=True)
    f_ref = float(cert.objective) / 2
    f_low = f_ref - float(cert.gap) / 2
    # FIRENET trace (float64, adaptive, 25 layers per restart)
    net = fn.FIRENET(A, lam=2 * lam, problem="lasso", analysis=B, restarts=120, inner=25, delta=0.0,
                     schedule="adaptive", L_A=1.0 if W is not None else None)
    stamps = []
    t0 = time.perf_counter()
    with torch.no_grad():
        net._run(y, None, net.restarts, net.inner, trace=lambda k, c: stamps.append((time.perf_counter() - t0, c.clone())))
    fire = [(t, objective((c if W is None else W.H(c)).numpy())) for t, c in stamps]
    tool_runs = [(n, *tool(n)) for n in (10, 20, 40, 80, 160, 320, 640, 1280, 2560)]
    if term == "bart-haar":  # pics' FISTA writes z = v + s A^*(y - A v); v is the iterate
        tool_runs = [(n, cs_bart.bart_undo_gradient_step(im, yn, mask), sec) for n, im, sec in tool_runs]
    tool_trace = [(sec, objective(im)) for n, im, sec in tool_runs]
    best = min(f_ref, min(v for _, v in fire), min(v for _, v in tool_trace))
    assert f_low <= best * (1 + 1e-9), (f_low, best)
    row = {"objective": label, "F*": best, "certified_lower": f_low, "problem": Lasso.__name__}
    for who, tr in (("FIRENET", fire), ("tool", tool_trace)):
        row[who] = {}
        for tol in (1e-3, 1e-4, 1e-5, 1e-6, 1e-7):
            hit = next((t for t, v in tr if (v - best) / best <= tol), None)
            row[who][f"{tol:.0e}"] = hit
        row[who + "_final"] = (tr[-1][1] - best) / best
    print(f"\n{label}: F* = {best:.10g} (certified lower bound {f_low:.10g}); time to relative suboptimality")
    print(f"{'':10s}" + "".join(f"{k:>9s}" for k in row["FIRENET"]) + "   final")
    for who in ("FIRENET", "tool"):
        name_ = "FIRENET" if who == "FIRENET" else ("BART" if term in ("bart-haar", "bart-tv") else "SigPy")
        print(f"{name_:10s}" + "".join(f"{v:9.2f}" if v is not None else f"{'-':>9s}" for v in row[who].values())
              + f"   {row[who + '_final']:.1e}", flush=True)
    return row


# --------------------------------------------------------------------------- per-layer cost
def layers(size: int, rate: float, repeats: int = 5) -> list[dict]:
    import firenets as fn
    from firenets.operators import Fourier2D
    from firenets.reconstruction import REGULARISERS

    def med(fn_, n=7):
        fn_()
        ts = []
        for _ in range(n):
            t0 = time.perf_counter()
            fn_()
            ts.append(time.perf_counter() - t0)
        return statistics.median(ts)

    x = fn.data.shepp_logan(size)
    mask = fn.masks.gaussian((size, size), rate, seed=0).mask
    rows = []
    print(f"\nper layer, {size}x{size}: one layer / (one A + one A^* + one B + one B^*), medians of "
          f"{repeats} interleaved rounds")
    for dtype in (torch.complex128, torch.complex64):
        F = Fourier2D(mask, dtype=dtype)
        y = F(x.to(dtype))
        for reg in REGULARISERS:
            rows.append(_layer_one(F, y, reg, dtype, repeats, med))
    return rows


def _layer_one(F, y, reg: str, dtype, repeats: int, med) -> dict:
    """Per-layer cost of one regulariser and precision against its floor."""
    from firenets.reconstruction import MRIFirenet

    f = MRIFirenet(F, regulariser=reg, restarts=1, inner=40, schedule="paper", dtype=dtype)
    A, B = f.firenet.A, f.firenet.B
    xi = torch.zeros(A.in_shape, dtype=dtype)
    xi.real.copy_(torch.randn(A.in_shape))
    ya = A(xi)
    vb = B(xi) if B is not None else None
    net = f.firenet
    floors, layer, passes = [], [], []
    if B is not None:
        from firenets.solvers.prox import project_groups

        sp = net.saddle_point(y)
        w, acc = torch.empty_like(vb), torch.zeros_like(vb)

        def coefficient_passes():
            # the three passes a step makes over B's coefficients besides B and B^*: v + sigma B(.),
            # the projection onto the dual balls (in place) and the running sum of the average
            torch.add(vb, vb, alpha=0.5, out=w)
            project_groups(w, sp.thresholds, sp.segments, inplace=True)
            acc.add_(w)
    with torch.no_grad():
        for _ in range(repeats):
            # the floor's applications without the public calls' argument checks (shape, NaN), which a
            # layer does not make either
            if B is None:
                floors.append(med(lambda: (A._inner(xi, False), A._inner(ya, True))))
            else:
                floors.append(med(lambda: (A._inner(xi, False), A._inner(ya, True), B._inner(xi, False),
                                           B._inner(vb, True))))
                passes.append(med(coefficient_passes))
            layer.append(med(lambda: net(y), n=3) / net.num_layers)
    fl, la = statistics.median(floors), statistics.median(layer)
    pa = statistics.median(passes) if passes else 0.0
    print(f"  {reg:15s} {str(dtype).replace('torch.', ''):10s} floor {fl * 1e3:7.2f} ms  layer "
          f"{la * 1e3:7.2f} ms  ratio {la / fl:5.2f}  (goal 1.3); coefficient passes {pa * 1e3:6.2f} ms, "
          f"(floor + passes) / floor {(fl + pa) / fl:5.2f}", flush=True)
    return {"regulariser": reg, "dtype": str(dtype), "floor_ms": fl * 1e3, "layer_ms": la * 1e3,
            "ratio": la / fl, "coefficient_passes_ms": pa * 1e3}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", default="shepp-logan,camera,ellipses:10000,ellipses:10001")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--rate", type=float, default=0.25)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-iters", type=int, default=3200)
    parser.add_argument("--sections", default="quality,shared,layers")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", default=None, help="write every number here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; BART "
          f"{'on PATH' if cs_bart.bart_available() else 'not installed: its rows are skipped'}")
    out = {}
    sections = args.sections.split(",")
    if "quality" in sections:
        out["quality"] = quality(args.images.split(","), args.size, args.rate, args.repeats, args.max_iters)
    if "shared" in sections:
        out["shared"] = shared(args.size, args.rate)
    if "layers" in sections:
        out["layers"] = layers(args.size, args.rate)
    if args.json:
        import json

        def clean(v):
            if isinstance(v, dict):
                return {k: clean(w) for k, w in v.items() if k not in ("image", "trace")}
            if isinstance(v, (list, tuple)):
                return [clean(w) for w in v]
            if isinstance(v, (np.floating, np.integer)):
                return v.item()
            return v
        Path(args.json).write_text(json.dumps(clean(out), indent=1, default=str))


if __name__ == "__main__":
    main()

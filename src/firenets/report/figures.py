"""PNG images and figures (matplotlib, Agg), written atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_write


def _array(name: str, image: Any) -> np.ndarray:
    """A 2-D float64 NumPy array of |image| (complex images show their magnitude)."""
    if hasattr(image, "detach"):
        image = image.detach().cpu().numpy()
    a = np.asarray(image)
    if a.ndim != 2:
        raise ValueError(f"{name} must be a 2-D image; got shape {a.shape}")
    a = np.abs(a) if np.iscomplexobj(a) else a.astype(np.float64)
    if not np.isfinite(a).all():
        raise ValueError(f"{name} holds NaN or Inf values")
    return a


def save_image(path: str | Path, image: Any, *, vmin: float = 0.0, vmax: float | None = None) -> Path:
    """8-bit grayscale PNG of |image| on [vmin, vmax] (default [0, max]) with values clipped."""
    from PIL import Image

    a = _array("image", image)
    top = float(a.max()) if vmax is None else float(vmax)
    scale = top - vmin if top > vmin else 1.0
    pixels = np.clip(np.rint((a - vmin) / scale * 255), 0, 255).astype(np.uint8)

    def write(tmp: str) -> None:
        Image.fromarray(pixels, mode="L").save(tmp, format="PNG")

    return atomic_write(path, write)


def _figure(ncols: int, nrows: int = 1, size: float = 3.2):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.4), squeeze=False)
    return fig, axes


def _save_figure(path: str | Path, fig) -> Path:
    import matplotlib.pyplot as plt

    def write(tmp: str) -> None:
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")

    try:
        return atomic_write(path, write)
    finally:
        plt.close(fig)


def reconstruction_figure(
    path: str | Path,
    target: Any,
    recon: Any,
    *,
    zero_filled: Any = None,
    title: str = "reconstruction",
    metrics: dict[str, float] | None = None,
    zero_filled_metrics: dict[str, float] | None = None,
) -> Path:
    """[ground truth | zero-filled | reconstruction | error map |recon - truth|], one row."""
    t = _array("target", target)
    r = _array("recon", recon)
    if r.shape != t.shape:
        raise ValueError(f"recon has shape {r.shape} but target has {t.shape}")
    panels: list[tuple[str, np.ndarray, dict]] = [("ground truth", t, {"cmap": "gray", "vmin": 0, "vmax": t.max()})]
    if zero_filled is not None:
        z = _array("zero_filled", zero_filled)
        panels.append((_label("zero-filled", zero_filled_metrics), z, {"cmap": "gray", "vmin": 0, "vmax": t.max()}))
    panels.append((_label(title, metrics), r, {"cmap": "gray", "vmin": 0, "vmax": t.max()}))
    err = np.abs(r - t)
    panels.append((f"error |x^ - x| (max {err.max():.3f})", err, {"cmap": "inferno", "vmin": 0}))
    fig, axes = _figure(len(panels))
    for ax, (label, img, opts) in zip(axes[0], panels, strict=True):
        im = ax.imshow(img, **opts)
        ax.set_title(label, fontsize=9)
        ax.axis("off")
    fig.colorbar(im, ax=axes[0][-1], fraction=0.046, pad=0.02)
    return _save_figure(path, fig)


def _label(name: str, metrics: dict[str, float] | None) -> str:
    if not metrics:
        return name
    return f"{name}\nPSNR {metrics['psnr']:.2f} dB, SSIM {metrics['ssim']:.3f}"


def attack_figure(
    path: str | Path,
    x: Any,
    recon: Any,
    perturbed: list[tuple[Any, Any, Any, dict[str, float]]],
    *,
    method: str = "network",
) -> Path:
    """The layout of Antun et al. (PNAS 2020): [x | x + r_1 | ... ; f(Ax) | f(A(x + r_1)) | ...].

    ``perturbed`` holds (x + r_j, f(A(x + r_j)), r_j, numbers of stage j) for each stage; a third
    row shows |r_j| on its own scale.
    """
    t = _array("x", x)
    top = float(t.max())
    cols = 1 + len(perturbed)
    fig, axes = _figure(cols, 3, size=2.8)
    gray = {"cmap": "gray", "vmin": 0, "vmax": top}
    axes[0][0].imshow(t, **gray)
    axes[0][0].set_title("original x", fontsize=8)
    axes[1][0].imshow(_array("recon", recon), **gray)
    axes[1][0].set_title(f"{method}: f(Ax)", fontsize=8)
    axes[2][0].axis("off")
    axes[2][0].text(0.5, 0.5, "|r_j|\n(own scale)", ha="center", va="center", fontsize=9)
    for j, (xr, fr, r, numbers) in enumerate(perturbed, start=1):
        xr_a = _array(f"perturbed[{j}]", xr)
        axes[0][j].imshow(xr_a, **gray)
        axes[0][j].set_title(f"x + r_{j}  (||r||/||x|| = {numbers['r_rel']:.3g})", fontsize=8)
        axes[1][j].imshow(_array(f"reconstruction[{j}]", fr), **gray)
        axes[1][j].set_title(f"f(A(x + r_{j}))  ratio {numbers['ratio']:.3g}", fontsize=8)
        r_a = _array(f"r[{j}]", r)
        im = axes[2][j].imshow(r_a, cmap="magma", vmin=0)
        axes[2][j].set_title(f"|r_{j}| (max {r_a.max():.3g})", fontsize=8)
        fig.colorbar(im, ax=axes[2][j], fraction=0.046, pad=0.02)
    for row in axes:
        for ax in row:
            ax.set_xticks([])
            ax.set_yticks([])
    return _save_figure(path, fig)


def maps_figure(path: str | Path, maps: dict[str, Any], *, title: str = "") -> Path:
    """One panel per named map (error, measurement-space, null-space ...), each on its own scale."""
    if not maps:
        raise ValueError("maps is empty")
    fig, axes = _figure(len(maps))
    for ax, (name, m) in zip(axes[0], maps.items(), strict=True):
        a = _array(name, m)
        im = ax.imshow(a, cmap="inferno", vmin=0)
        ax.set_title(f"{name}\n(max {a.max():.3g})", fontsize=9)
        ax.axis("off")
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02)
    if title:
        fig.suptitle(title, fontsize=10)
    return _save_figure(path, fig)


def grid_figure(
    path: str | Path,
    rows: list[tuple[str, list[tuple[str, Any]]]],
    *,
    shared_scale: bool = True,
    cmap: str = "gray",
    colorbar: bool = False,
) -> Path:
    """Panels in rows: rows = [(row label, [(panel title, image), ...]), ...], magnitudes shown.

    With ``shared_scale`` every panel of a row uses [0, max of the row's first panel]; with
    ``colorbar`` every panel gets its colour bar.
    """
    if not rows or not all(panels for _, panels in rows):
        raise ValueError("rows must hold at least one non-empty row of panels")
    ncols = max(len(panels) for _, panels in rows)
    fig, axes = _figure(ncols, len(rows), size=2.6)
    for r, (label, panels) in enumerate(rows):
        top = float(_array(panels[0][0], panels[0][1]).max()) if shared_scale else None
        for c in range(ncols):
            ax = axes[r][c]
            ax.set_xticks([])
            ax.set_yticks([])
            if c >= len(panels):
                ax.axis("off")
                continue
            title, img = panels[c]
            a = _array(title, img)
            im = ax.imshow(a, cmap=cmap, vmin=0, vmax=top if shared_scale else float(a.max()) or 1.0)
            ax.set_title(title, fontsize=8)
            if colorbar:
                fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02)
            if c == 0:
                ax.set_ylabel(label, fontsize=9)
    return _save_figure(path, fig)


def hallucination_attack_figure(path: str | Path, rows: list[tuple[str, Any, Any, Any, Any, dict]]) -> Path:
    """Per map: x + r, f(A(x + r)), the output's gain |f(A(x + r))| - |f(A x)| (the region outlined)
    and |r|. rows = [(label, x + r, f(A(x + r)), gain, r, numbers), ...], numbers holding
    "rho_rel", "contrast", "region" and optionally "threat" ("kspace": r is A^* e for e on the samples, the
    panels titled so); each gain and |r| panel on its own scale with a colour bar."""
    if not rows:
        raise ValueError("rows is empty")
    fig, axes = _figure(4, len(rows), size=2.8)
    for i, (label, xr, out, gain, r, numbers) in enumerate(rows):
        xr_a, out_a = _array("x + r", xr), _array("f(A(x + r))", out)
        top = float(xr_a.max()) or 1.0
        kspace = numbers.get("threat") == "kspace"
        axes[i][0].imshow(xr_a, cmap="gray", vmin=0, vmax=top)
        axes[i][0].set_title(f"x + A^*e  (||e||/||Ax|| = {numbers['rho_rel']:.3g})" if kspace
                             else f"x + r  (||r||/||x|| = {numbers['rho_rel']:.3g})", fontsize=8)
        axes[i][0].set_ylabel(label, fontsize=9)
        axes[i][1].imshow(out_a, cmap="gray", vmin=0, vmax=top)
        axes[i][1].set_title(f"{label}: f(Ax + e)" if kspace else f"{label}: f(A(x + r))", fontsize=8)
        g = np.asarray(gain, dtype=np.float64)
        lim = float(np.abs(g).max()) or 1.0
        im = axes[i][2].imshow(g, cmap="RdBu_r", vmin=-lim, vmax=lim)
        axes[i][2].contour(np.asarray(numbers["region"], dtype=np.float64), levels=[0.5], colors="k", linewidths=0.8)
        axes[i][2].set_title(f"output gain (contrast {numbers['contrast']:.3g} in the disc)", fontsize=8)
        fig.colorbar(im, ax=axes[i][2], fraction=0.046, pad=0.02)
        r_a = _array("r", r)
        im = axes[i][3].imshow(r_a, cmap="magma", vmin=0)
        axes[i][3].set_title("|A^*e|" if kspace else "|r|", fontsize=8)
        fig.colorbar(im, ax=axes[i][3], fraction=0.046, pad=0.02)
        for ax in axes[i]:
            ax.set_xticks([])
            ax.set_yticks([])
    return _save_figure(path, fig)


def frontier_figure(path: str | Path, rows: list[dict[str, Any]]) -> Path:
    """PSNR against the worst-case ratio and against the hallucination contrast, one point per map
    (rows as ``benchmarks/frontier.py`` writes them: map, psnr, ratio, contrast, converged, mask);
    FIRENET settings as circles, networks as squares, zero-filling as a cross, one colour per mask;
    a point whose attack hit its cap (a weaker lower bound) is hollow."""
    if not rows:
        raise ValueError("rows is empty")
    fig, axes = _figure(2, 1, size=4.6)
    masks = sorted({r.get("mask", "gaussian") for r in rows})
    colours = dict(zip(masks, ("tab:blue", "tab:orange", "tab:green", "tab:red"), strict=False))
    for ax, key, xlabel in ((axes[0][0], "ratio", "worst-case ratio at ||r|| = 1% ||x|| (lower bound)"),
                            (axes[0][1], "contrast", "hallucination contrast created in a disc")):
        for r in rows:
            name = r["map"]
            marker = "x" if name == "zero-filled" else "o" if name.startswith("FIRENET") else "s"
            c = colours[r.get("mask", "gaussian")]
            done = r["converged"] if key == "ratio" else r.get("contrast_converged", True)
            if marker == "x":
                ax.scatter(r[key], r["psnr"], marker="x", s=36, color=c)
            else:
                ax.scatter(r[key], r["psnr"], marker=marker, s=36, facecolors=c if done else "none", edgecolors=c)
            ax.annotate(name.replace("FIRENET ", "").replace(" (reference)", " (ref)"), (r[key], r["psnr"]),
                        fontsize=6, xytext=(3, 2), textcoords="offset points")
        ax.set_xlabel(xlabel, fontsize=9)
        ax.set_ylabel("PSNR (dB)", fontsize=9)
        ax.grid(alpha=0.3)
    for m, c in colours.items():
        axes[0][1].scatter([], [], marker="o", color=c, label=f"{m} mask")
    axes[0][1].legend(fontsize=7, loc="lower right")
    return _save_figure(path, fig)


def box_figure(path: str | Path, panels: dict[str, dict[str, list[float]]], *, title: str = "") -> Path:
    """One box plot per panel (a measurement): a box per map of its values over the images (median,
    quartiles, whiskers at 1.5 IQR, every image drawn as a dot)."""
    panels = {k: {m: [float(v) for v in vals if v is not None and np.isfinite(v)] for m, vals in per.items()}
              for k, per in panels.items()}
    panels = {k: {m: v for m, v in per.items() if v} for k, per in panels.items()}
    panels = {k: per for k, per in panels.items() if per}
    if not panels:
        raise ValueError("box_figure needs at least one panel with finite values")
    fig, axes = _figure(len(panels), size=3.6)
    for ax, (name, per) in zip(axes[0], panels.items(), strict=True):
        labels = list(per)
        ax.boxplot([per[m] for m in labels], showfliers=False)
        for j, m in enumerate(labels, start=1):
            jitter = np.linspace(-0.12, 0.12, len(per[m])) if len(per[m]) > 1 else np.zeros(1)
            ax.plot(j + jitter, per[m], ".", color="k", alpha=0.6, markersize=4)
        ax.set_xticks(range(1, len(labels) + 1), [m if len(m) < 16 else m[:14] + ".." for m in labels],
                      rotation=30, ha="right", fontsize=8)
        ax.set_title(name, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    return _save_figure(path, fig)


def faithfulness_figure(path: str | Path, recon: Any, bounds: Any, *, title: str = "") -> Path:
    """The reconstruction with the region (red); the certified interval [m_-, m_+] of the region's mean
    beside the reconstruction's value and the background, with the verdict; and, around the region,
    the images z_- and z_+ the data and the prior allow in its place (the solves' iterates at the two
    ends). ``bounds``: a ``stability.RegionBounds``."""
    rec = _array("recon", recon)
    region = np.asarray(bounds.region)
    ends = [b for b in (bounds.lower, bounds.upper) if b is not None]
    fig, axes = _figure(2 + len(ends))
    top = float(rec.max()) or 1.0
    ax = axes[0, 0]
    ax.imshow(rec, cmap="gray", vmin=0, vmax=top)
    ax.contour(region, levels=[0.5], colors="red", linewidths=0.8)
    ax.set_title(title or "reconstruction and region", fontsize=9)
    ax = axes[0, 1]
    lo, hi = bounds.interval
    finite = [v for v in (lo, hi, bounds.value, bounds.background) if np.isfinite(v)]
    span = (max(finite) - min(finite)) or 1.0
    left, right = min(finite) - 0.2 * span, max(finite) + 0.2 * span
    ax.plot([max(lo, left), min(hi, right)], [1, 1], color="black", linewidth=6, solid_capstyle="butt",
            label="certified interval" + ("" if np.isfinite(lo) and np.isfinite(hi) else " (unbounded)"))
    ax.plot([bounds.value], [1], "o", color="red", label=f"reconstruction {bounds.value:.4g}")
    ax.plot([bounds.background], [1], "s", color="tab:blue", label=f"background {bounds.background:.4g}")
    ax.set_xlim(left, right)
    ax.set_yticks([])
    ax.set_xlabel(f"region mean of {bounds.measure}")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.25))
    ax.set_title(bounds.verdict, fontsize=9)
    rows, cols = np.nonzero(region)
    pad = max(8, 2 * int(max(np.ptp(rows), np.ptp(cols)) + 1))  # a window of a few region sizes around it
    r0, r1 = max(0, rows.min() - pad), min(region.shape[0], rows.max() + pad + 1)
    c0, c1 = max(0, cols.min() - pad), min(region.shape[1], cols.max() + pad + 1)
    for ax, b, name in zip(axes[0, 2:], ends, ("z_- (least the data allow)", "z_+ (most the data allow)"),
                           strict=False):
        z = np.abs(np.asarray(b.z))[r0:r1, c0:c1]
        ax.imshow(z, cmap="gray", vmin=0, vmax=top)
        ax.contour(region[r0:r1, c0:c1], levels=[0.5], colors="red", linewidths=0.8)
        ax.set_title(f"{name}\nregion mean {b.value:.4g}", fontsize=9)
    for ax in axes[0, [0, *range(2, 2 + len(ends))]]:
        ax.set_xticks([])
        ax.set_yticks([])
    return _save_figure(path, fig)


def staircase_figure(path: str | Path, result: Any) -> Path:
    """Correct digits against training samples read (``barriers.samples.BarrierResult``): the worst case
    over the class of the algorithm that reads q samples, K - 2 until the revealing sample M, K - 1
    from there, and the line K that no algorithm reaches; the float64 networks as points where they
    ran; beside it, the success probability of reading q samples at random, exact and simulated."""
    fig, axes = _figure(2, 1, size=4.4)
    ax = axes[0][0]
    K, M = result.K, result.staircase_M
    qs = [q for q, _ in result.staircase]
    ds = [d for _, d in result.staircase]
    ax.step(qs, ds, where="post", color="black", linewidth=1.5, label="reading network, worst over the class")
    ax.axhline(K, color="tab:red", linestyle="--", linewidth=1, label=f"K = {K} digits: no algorithm")
    ax.axvline(M, color="tab:blue", linestyle=":", linewidth=1, label=f"the revealing sample M = {M}")
    ax.axvspan(0, result.L, color="tab:green", alpha=0.15, label=f"at most L = {result.L} samples")
    for r in result.rows.get(M, []):
        if not r.exact and r.digits is not None:
            marker = "o" if r.algorithm.startswith("FIRENET") else "s"
            ax.scatter([r.read], [r.digits], marker=marker, s=40, facecolors="none", edgecolors="tab:purple",
                       label=f"{r.algorithm}: {r.digits} digits")
    ax.set_xlabel("training samples read", fontsize=9)
    ax.set_ylabel("correct digits (worst case over the class)", fontsize=9)
    ax.set_ylim(min([0, *[d for d in ds if d is not None]]) - 0.5, K + 0.8)
    ax.set_yticks(range(0, K + 1))
    ax.set_title(f"K = {K}, R = {result.R}, M = {M}", fontsize=9)
    ax.legend(fontsize=6, loc="lower right")
    ax.grid(alpha=0.3)
    ax = axes[0][1]
    q = [p[0] for p in result.probabilities]
    ax.plot(q, [float(p[1]) for p in result.probabilities], color="black", label="(1 + q / R) / 2, exact")
    ax.plot(q, [p[2] for p in result.probabilities], "o", color="tab:orange",
            label=f"simulated ({result.trials} runs each)")
    ax.set_xlabel("samples read at random (q)", fontsize=9)
    ax.set_ylabel(f"probability of {K - 1} correct digits", fontsize=9)
    ax.set_title("M uniform on 1..R, the coarse branch uniform", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3)
    return _save_figure(path, fig)

"""Any network as a reconstruction map y -> complex image: the one adapter that hands a network what
its input convention names, for the operator's own mask (and coil maps), and checks what comes back.

Conventions (``INPUTS``): ``adjoint`` net(A^* y); ``magnitude`` net(|A^* y|); ``channels`` net of A^* y's
real and imaginary parts as 2 channels (fastMRI's ``Unet(in_chans=2, out_chans=2)``, deepinv's layout);
``kspace`` net(P_M^* y, mask[, maps]); ``fastmri`` net(masked_kspace, mask, num_low_frequencies) in
fastMRI's layout (``fastmri.models.VarNet``); ``deepinv`` net(y, physics) with deepinv's ``MRI`` or
``MultiCoilMRI`` physics of the operator's mask (and maps) and y its zero-filled k-space, real and imaginary
parts first: (B, 2, H, W) or (B, 2, C, H, W) (deepinv's MoDL, VarNet; its FFT is the same centred
orthonormal one). A network may return a real or complex image, (B, H, W) or
(B, 1, H, W), or real and imaginary parts as 2 channels (B, 2, H, W). The built-in U-Net and deep cascade are ``adjoint`` networks; zero-filling
is the identity on A^* y. docs/audit.md describes the shapes.
"""

from __future__ import annotations

from typing import Any

import torch

from .._validation import ArgumentError

INPUTS = ("adjoint", "magnitude", "channels", "kspace", "fastmri", "deepinv")
OUTPUTS = ("auto", "magnitude", "complex")
INPUT_HELP = {
    "adjoint": "the zero-filled image A^* y, complex (B, H, W)",
    "magnitude": "its magnitude |A^* y|, real (B, 1, H, W)",
    "channels": "its real and imaginary parts as 2 channels, real (B, 2, H, W)",
    "kspace": "the zero-filled k-space P_M^* y, complex (B, H, W) or (B, coils, H, W), and the mask (H, W) "
              "(and the maps (coils, H, W) with coils)",
    "fastmri": "fastMRI's layout: masked_kspace (B, coils, H, W, 2) real, mask (1, 1, H or 1, W, 1) bool and "
               "num_low_frequencies",
    "deepinv": "deepinv's call model(y, physics): y the zero-filled k-space as real and imaginary parts (B, 2, H, W) "
               "or (B, 2, coils, H, W), physics deepinv.physics.MRI or MultiCoilMRI of the same mask and maps",
}

__all__ = ["INPUTS", "INPUT_HELP", "OUTPUTS", "NetworkMap", "deepinv_physics", "low_frequencies", "parameter_dtype",
           "truth_for", "zero_filled"]


def truth_for(f: Any, x: torch.Tensor) -> torch.Tensor:
    """The image f's output is compared with: x, or |x| where f returned a magnitude
    (``NetworkMap.returned_complex`` False, known once f has run) of a complex x, whose phase it cannot give
    (fastMRI's VarNet returns the root-sum-of-squares)."""
    if x.is_complex() and getattr(f, "returned_complex", None) is False:
        return x.abs().to(x.dtype)
    return x


def low_frequencies(mask: torch.Tensor) -> int:
    """The number of k-space columns around W // 2 sampled in every row (fastMRI's fully sampled centre);
    for a mask without such columns (a 2-D pattern), the sampled run around the centre of the middle row."""
    H, W = mask.shape
    full = mask.all(0)
    row = full if bool(full[W // 2]) else mask[H // 2]
    if not bool(row[W // 2]):
        return 0
    lo = W // 2
    while lo > 0 and bool(row[lo - 1]):
        lo -= 1
    hi = W // 2
    while hi < W - 1 and bool(row[hi + 1]):
        hi += 1
    return hi - lo + 1


def parameter_dtype(net: Any) -> torch.dtype:
    """The real floating dtype of a network's first floating (or complex) parameter or buffer; float64
    for a network (or a plain callable) without any."""
    tensors = [*net.parameters(), *net.buffers()] if isinstance(net, torch.nn.Module) else []
    for p in tensors:
        if p.is_floating_point():
            return p.dtype
        if p.is_complex():
            return torch.float32 if p.dtype == torch.complex64 else torch.float64
    return torch.float64


class NetworkMap(torch.nn.Module):
    """f(y) = net(inputs(y)): a network as a reconstruction map y -> complex image for the operator A
    (``Fourier2D`` or ``MultiCoilFourier``), handed what ``input`` names (``INPUT_HELP``) for A's own mask
    and maps, so a stage that changes the acquisition changes what the network sees.

    The network runs on ``device`` (default A's) and is handed its inputs in ``dtype`` (float32 or
    float64, default its parameters', ``parameter_dtype``; complex inputs in the matching complex type);
    its output comes back as complex128 on A's device, so the attacks around it keep float64.
    ``output``: "magnitude" refuses a complex output, "complex" a real one, "auto" takes both (a real
    output is an image with zero imaginary part). Outputs of the wrong shape, NaN or Inf, and a
    network that changes its input in place are refused with the reason.
    """

    def __init__(self, net: Any, A: Any, input: str = "adjoint", *, output: str = "auto",
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None):
        super().__init__()
        if not callable(net):
            raise ArgumentError("net", f"must be a torch.nn.Module or a callable; got {type(net).__name__}")
        if input not in INPUTS:
            raise ArgumentError("input", f"must be one of {', '.join(INPUTS)}; got {input!r}")
        if output not in OUTPUTS:
            raise ArgumentError("output", f"must be one of {', '.join(OUTPUTS)}; got {output!r}")
        dtype = parameter_dtype(net) if dtype is None else dtype
        if dtype not in (torch.float32, torch.float64):
            raise ArgumentError("dtype", f"must be torch.float32 or torch.float64; got {dtype}")
        self.net, self.A, self.input, self.output = net, A, input, output
        self.device = torch.device(device) if device is not None else A.device
        self.dtype = dtype
        self.cdtype = torch.complex64 if dtype == torch.float32 else torch.complex128
        self.coils = getattr(A, "coils", None)  # None: single-coil Fourier2D
        mask = A.mask.to(self.device)
        self.mask = mask
        self.maps = A.maps.to(device=self.device, dtype=self.cdtype) if self.coils is not None else None
        W = mask.shape[1]
        columns = bool((mask == mask[:1]).all())  # every row alike: fastMRI's column mask
        self.fastmri_mask = (mask[:1] if columns else mask).reshape(1, 1, -1, W, 1)
        self.num_low_frequencies = low_frequencies(mask.cpu())
        self.returned_complex: bool | None = None  # whether the last output had a phase (complex or 2 channels)
        self.physics = deepinv_physics(mask, self.maps, self.dtype) if input == "deepinv" else None

    def _kspace(self, y: torch.Tensor) -> torch.Tensor:
        """P_M^* y: the samples in the k-space grid, zeros elsewhere, (B, H, W) or (B, C, H, W)."""
        F = self.A.single if self.coils is not None else self.A
        return F._zero_fill(y)

    def inputs(self, yb: torch.Tensor) -> tuple:
        """What the network is called with for the samples yb (B, m) or (B, C, m)."""
        if self.input in ("adjoint", "magnitude", "channels"):
            x0 = self.A.adjoint(yb).to(device=self.device, dtype=self.cdtype)
            if self.input == "channels":
                return (torch.view_as_real(x0).permute(0, 3, 1, 2).contiguous(),)
            return (x0,) if self.input == "adjoint" else (x0.abs()[:, None],)
        k = self._kspace(yb).to(device=self.device, dtype=self.cdtype)
        if self.input == "deepinv":  # real and imaginary parts before the coils: (B, 2[, C], H, W)
            return (torch.view_as_real(k).movedim(-1, 1).contiguous(), self.physics)
        if self.input == "kspace":
            return (k, self.mask) if self.coils is None else (k, self.mask, self.maps)
        k = k[:, None] if self.coils is None else k
        return (torch.view_as_real(k), self.fastmri_mask, self.num_low_frequencies)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """The complex128 image (H, W) or (B, H, W) the network returns for the samples y."""
        single = y.ndim == len(self.A.out_shape)
        yb = y[None] if single else y
        args = self.inputs(yb)
        kept = [a.detach().clone() if isinstance(a, torch.Tensor) else a for a in args]
        out = self.net(*args)
        for a, b in zip(args, kept, strict=True):
            if isinstance(a, torch.Tensor) and not torch.equal(a.detach(), b):
                raise ValueError("the model changed its input in place; it must leave the tensors it is given "
                                 "unchanged (the attacks reuse them)")
        out = self._image(out, yb.shape[0])
        return out[0] if single else out

    def _image(self, out: Any, batch: int) -> torch.Tensor:
        if not isinstance(out, torch.Tensor):
            raise TypeError(f"the model returned {type(out).__name__}, not a torch.Tensor")
        H, W = self.A.in_shape
        self.returned_complex = out.is_complex() or (out.ndim == 4 and out.shape[1] == 2)
        if out.ndim == 4 and out.shape[1] == 2 and not out.is_complex():  # real and imaginary parts
            out = torch.complex(out[:, 0], out[:, 1])
        if out.ndim == 4 and out.shape[1] == 1:
            out = out[:, 0]
        if tuple(out.shape) != (batch, H, W):
            raise ValueError(f"the model returned shape {tuple(out.shape)}; expected ({batch}, {H}, {W}), "
                             f"({batch}, 1, {H}, {W}) or 2 channels ({batch}, 2, {H}, {W}) for the input "
                             f"convention {self.input!r}")
        if out.is_complex() and self.output == "magnitude":
            raise ValueError(f"the model returned a complex image ({out.dtype}) but output 'magnitude' expects "
                             "a real one")
        if not out.is_complex() and self.output == "complex":
            raise ValueError(f"the model returned a real image ({out.dtype}) but output 'complex' expects a "
                             "complex one")
        if not (out.is_complex() or out.is_floating_point()):
            raise TypeError(f"the model returned dtype {out.dtype}; expected a floating or complex image")
        if not bool(torch.isfinite(out).all()):
            raise ValueError("the model returned NaN or Inf values")
        return out.to(device=self.A.device, dtype=torch.complex128)  # real: zero imaginary part


def deepinv_physics(mask: torch.Tensor, maps: torch.Tensor | None, dtype: torch.dtype) -> Any:
    """deepinv's ``MRI(mask)`` or ``MultiCoilMRI(mask, coil_maps=maps)`` for the boolean mask (centred, as
    ours: deepinv's FFT is fftshift(fft2(ifftshift(x), norm="ortho")) too), maps in the complex type of
    ``dtype`` so that a float32 model's data stay float32, and the conjugate-gradient tolerance of its
    multi-coil data consistency set to 1e-8 (its default, 1e-4, is visible in a float64 attack)."""
    try:
        from deepinv.physics import MRI, MultiCoilMRI
    except ImportError as exc:
        raise ImportError("input 'deepinv' needs deepinv: pip install torch==2.14.1 torchvision==0.29.1, then "
                          "pip install -e \".[deepinv]\"") from exc
    H, W = mask.shape
    if maps is None:
        return MRI(mask=mask, img_size=(H, W), device=mask.device)
    cdtype = torch.complex64 if dtype == torch.float32 else torch.complex128
    return MultiCoilMRI(mask=mask, coil_maps=maps.to(cdtype), img_size=(H, W), device=mask.device, tol=1e-8,
                        max_iter=200)


def zero_filled(A: Any) -> NetworkMap:
    """f(y) = A^* y: the zero-filled inverse FFT (for SENSE, the coil-combined adjoint), the baseline
    every method must beat and the negative control of the attacks (an orthogonal projection: worst case 1)."""
    return NetworkMap(torch.nn.Identity(), A)

"""Learned reconstruction networks for Fourier imaging: a post-processing U-Net and a deep cascade.

Both map the zero-filled image x0 = A^* y (complex, (H, W) or (B, H, W)) to a complex image of
the same shape and dtype. Inside, the complex image is read as 2 real channels (real, imaginary)
and the convolutions run in the dtype of the parameters (float32 by default, float64 after
``.double()``). Both are fully convolutional and differentiable end to end in x0, so the same
weights apply to other image sizes and attacks can run through autograd.

- ``UNet``: x = x0 + U(x0) (Jin, McCann, Froustey, Unser, "Deep convolutional neural network
  for inverse problems in imaging", IEEE TIP 26(9), 2017).
- ``DeepCascade``: alternating residual CNNs and k-space data consistency (Schlemper, Caballero,
  Hajnal, Price, Rueckert, "A deep cascade of convolutional neural networks for dynamic MR image
  reconstruction", IEEE TMI 37(2), 2018), D5-C5 by default.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .._validation import check_int, check_scalar, check_seed, complex_dtype
from ..operators.fourier import Fourier2D, _as_mask, fft2c, ifft2c

__all__ = ["UNet", "DeepCascade", "count_parameters"]


def count_parameters(module: nn.Module) -> int:
    """Number of trainable scalars of ``module`` (sum of p.numel() over parameters that need grad)."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch.nn.Module; got {type(module).__name__}")
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def _check_image(name: str, x: Any) -> tuple[torch.Tensor, bool]:
    """x as (B, H, W) complex, and whether it was given without a batch axis."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a complex torch.Tensor; got {type(x).__name__}")
    if x.dtype not in (torch.complex64, torch.complex128):
        raise TypeError(
            f"{name} must be complex (complex64 or complex128), e.g. the zero-filled image A^* y; "
            f"got dtype {x.dtype}"
        )
    if x.ndim not in (2, 3):
        raise ValueError(f"{name} must have shape (H, W) or (B, H, W); got shape {tuple(x.shape)}")
    if not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x)).sum())
        raise ValueError(f"{name} must be finite; it holds {bad} NaN/Inf entries")
    single = x.ndim == 2
    return (x[None] if single else x), single


def _to_channels(x: torch.Tensor) -> torch.Tensor:
    """(B, H, W) complex -> (B, 2, H, W) real: channel 0 the real part, channel 1 the imaginary part."""
    return torch.view_as_real(x.resolve_conj()).permute(0, 3, 1, 2)


def _to_complex(z: torch.Tensor) -> torch.Tensor:
    """(B, 2, H, W) real -> (B, H, W) complex (inverse of _to_channels)."""
    return torch.complex(z[:, 0], z[:, 1])


class _Module(nn.Module):
    """Shared by the two networks: compute dtype from the parameters, the config dict."""

    _config: dict[str, Any]

    @property
    def config(self) -> dict[str, Any]:
        """The constructor arguments (JSON-serialisable), so that ``type(net)(**net.config)`` rebuilds it."""
        return dict(self._config)

    def _compute_dtype(self) -> torch.dtype:
        return complex_dtype(next(self.parameters()).dtype)

    def _seeded(self, seed: int | None, build) -> None:
        if seed is None:
            build()
            return
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(check_seed("seed", seed))
            build()


def _conv_block(c_in: int, c_out: int, batchnorm: bool) -> nn.Sequential:
    """Two (3x3 conv [+ BatchNorm] + ReLU); the conv bias is dropped when BatchNorm follows."""
    layers: list[nn.Module] = []
    for c in (c_in, c_out):
        layers.append(nn.Conv2d(c, c_out, 3, padding=1, bias=not batchnorm))
        if batchnorm:
            layers.append(nn.BatchNorm2d(c_out))
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class UNet(_Module):
    """Post-processing U-Net on 2 channels (real, imaginary): f(x0) = x0 + U(x0) (or U(x0)).

    Encoder level l = 0..levels-1: two 3x3 conv (+ BatchNorm) + ReLU with features 2^l channels,
    then 2x2 max pooling; a bottleneck of two such convs with features 2^levels channels; decoder
    level l: 2x2 transposed conv (stride 2) halving the channels, concatenation with the encoder
    output of level l, two 3x3 conv (+ BatchNorm) + ReLU; a final 1x1 conv to 2 channels
    (``final``). With ``residual`` the input is added to the output (in the dtype of the input).
    Fully convolutional: image sides must be multiples of 2^levels (``multiple``).
    Reference: Jin, McCann, Froustey, Unser, IEEE TIP 26(9), 2017 (FBPConvNet).
    """

    def __init__(
        self,
        levels: int = 4,
        features: int = 32,
        batchnorm: bool = True,
        residual: bool = True,
        *,
        seed: int | None = None,
    ):
        super().__init__()
        levels = check_int("levels", levels, minimum=1)
        features = check_int("features", features, minimum=1)
        for name, flag in (("batchnorm", batchnorm), ("residual", residual)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be a bool; got {type(flag).__name__} {flag!r}")
        if seed is not None:
            check_seed("seed", seed)
        self._config = {"levels": levels, "features": features, "batchnorm": batchnorm,
                        "residual": residual, "seed": seed}
        self.levels = levels
        self.residual = residual

        def build() -> None:
            widths = [features * 2**level for level in range(levels + 1)]
            self.down = nn.ModuleList()
            c = 2
            for level in range(levels):
                self.down.append(_conv_block(c, widths[level], batchnorm))
                c = widths[level]
            self.pool = nn.MaxPool2d(2)
            self.bottleneck = _conv_block(c, widths[levels], batchnorm)
            self.up = nn.ModuleList()
            self.merge = nn.ModuleList()
            for level in reversed(range(levels)):
                self.up.append(nn.ConvTranspose2d(widths[level + 1], widths[level], 2, stride=2))
                self.merge.append(_conv_block(2 * widths[level], widths[level], batchnorm))
            self.final = nn.Conv2d(widths[0], 2, 1)

        self._seeded(seed, build)

    @property
    def multiple(self) -> int:
        """Image sides must be multiples of this number, 2^levels."""
        return 2**self.levels

    def forward(self, x0: torch.Tensor) -> torch.Tensor:
        """The reconstruction of the zero-filled image x0 (H, W) or (B, H, W), same shape and dtype."""
        x, single = _check_image("x0", x0)
        H, W = x.shape[-2:]
        q = self.multiple
        if H % q or W % q:
            raise ValueError(
                f"x0: image sides must be multiples of {q}; got {(H, W)} (levels={self.levels} halves "
                f"them {self.levels} times; crop or pad the image)"
            )
        z = _to_channels(x.to(self._compute_dtype()))
        skips = []
        for block in self.down:
            z = block(z)
            skips.append(z)
            z = self.pool(z)
        z = self.bottleneck(z)
        for up, merge in zip(self.up, self.merge, strict=True):
            z = merge(torch.cat([skips.pop(), up(z)], dim=1))
        out = _to_complex(self.final(z)).to(x.dtype)
        if self.residual:
            out = x + out
        return out[0] if single else out


class _CascadeCNN(nn.Module):
    """x + cnn(x): ``layers`` 3x3 convs 2 -> features -> ... -> features -> 2, ReLU between."""

    def __init__(self, layers: int, features: int):
        super().__init__()
        chans = [2] + [features] * (layers - 1) + [2]
        mods: list[nn.Module] = []
        for i in range(layers):
            mods.append(nn.Conv2d(chans[i], chans[i + 1], 3, padding=1))
            if i < layers - 1:
                mods.append(nn.ReLU(inplace=True))
        self.cnn = nn.Sequential(*mods)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z + self.cnn(z)


class DeepCascade(_Module):
    """Deep cascade: ``cascades`` times x <- DC(x + cnn(x)), starting from x = x0 = A^* y.

    cnn: ``layers`` 3x3 convs (2 -> features -> ... -> features -> 2) with ReLU between and no
    activation after the last. Data consistency in centred k-space, with k = F_c x,
    k0 = F_c x0 (= the measured samples on the mask M, 0 elsewhere, since A A^* = I) and
    F_c x = fftshift(fft2(ifftshift(x), norm="ortho")) (``operators.fft2c``):
      noiseless (noise_level None or 0):  k_dc = (1 - M) k + M k0,
      noisy (noise_level = s > 0):        k_dc = (1 - M) k + M (s k + k0) / (1 + s),
    and x <- F_c^* k_dc. The noisy rule is Schlemper's k_dc(j) = (k(j) + nu k0(j)) / (1 + nu) on
    the sampled j with nu = 1 / s, written so that s -> 0 gives the noiseless rule continuously.
    The mask is a non-persistent buffer: the state_dict holds only the CNN weights, which load
    into a DeepCascade built with any other mask or image size (``multiple`` is 1), but x0 must
    have the shape of this instance's mask.
    Reference: Schlemper, Caballero, Hajnal, Price, Rueckert, IEEE TMI 37(2), 2018 (D5-C5).
    """

    mask: torch.Tensor

    def __init__(
        self,
        mask: Any,
        cascades: int = 5,
        layers: int = 5,
        features: int = 64,
        noise_level: float | None = None,
        *,
        seed: int | None = None,
    ):
        super().__init__()
        if isinstance(mask, Fourier2D):
            mask = mask.mask
        mask = _as_mask(mask)
        cascades = check_int("cascades", cascades, minimum=1)
        layers = check_int("layers", layers, minimum=2)
        features = check_int("features", features, minimum=1)
        if noise_level is not None:
            noise_level = check_scalar("noise_level", noise_level, nonnegative=True)
        if seed is not None:
            check_seed("seed", seed)
        self._config = {"cascades": cascades, "layers": layers, "features": features,
                        "noise_level": noise_level, "seed": seed}
        self.noise_level = noise_level
        self.register_buffer("mask", mask.clone(), persistent=False)

        def build() -> None:
            self.blocks = nn.ModuleList(_CascadeCNN(layers, features) for _ in range(cascades))

        self._seeded(seed, build)

    @property
    def multiple(self) -> int:
        """Any image size works (1); x0 must still have the shape of the mask."""
        return 1

    def data_consistency(self, k: torch.Tensor, k0: torch.Tensor) -> torch.Tensor:
        """k_dc = (1 - M) k + M k0, or (1 - M) k + M (s k + k0) / (1 + s) with s = noise_level > 0."""
        s = self.noise_level
        on_mask = k0 if not s else (s * k + k0) / (1 + s)
        return torch.where(self.mask, on_mask, k)

    def forward(self, x0: torch.Tensor) -> torch.Tensor:
        """The reconstruction of the zero-filled image x0 (H, W) or (B, H, W), same shape and dtype."""
        x, single = _check_image("x0", x0)
        if tuple(x.shape[-2:]) != tuple(self.mask.shape):
            raise ValueError(
                f"x0 must have the shape of the mask {tuple(self.mask.shape)} (optionally with a batch "
                f"axis); got shape {tuple(x0.shape)}"
            )
        xc = x.to(self._compute_dtype())
        k0 = fft2c(xc)
        for block in self.blocks:
            xc = _to_complex(block(_to_channels(xc)))
            xc = ifft2c(self.data_consistency(fft2c(xc), k0))
        out = xc.to(x.dtype)
        return out[0] if single else out

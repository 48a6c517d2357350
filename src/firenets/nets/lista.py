"""LISTA, as trained in the impossibility experiment, for several networks at once.

Layer k of network g: x_{k+1} = S_{theta_k}(x_k + W_k^T (y - A x_k / (10 ||A||_2))), x_0 = 0,
S_theta(u) = ReLU(u - theta) - ReLU(-u - theta), with trainable W_k (the shape of A) and
theta_k >= 0. Initialisation W ~ N(0, 0.05^2) / (10 ||A||), theta ~ U[0, 1e-7]; Adam with
lr = 2e-4 10^(-K/3), batches of 1000, MSE loss, float64, and the epoch with the best validation
relative error kept (Colbrook, Antun, Hansen, PNAS 2022, and the project reference). The
networks of one experiment (one per (K, n)) are trained together as one batched computation,
each with its own matrix and learning rate. Reference for LISTA: Gregor, LeCun, ICML 2010.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .._io import atomic_write
from .._progress import epoch_bar
from .._validation import as_tensor, check_int, check_scalar
from ..solvers.prox import soft_threshold


class LISTA(torch.nn.Module):
    """G LISTA networks of ``layers`` layers for matrices A (G, m, N) (or one matrix (m, N))."""

    def __init__(self, A: torch.Tensor, *, layers: int = 10, seed: int = 0):
        super().__init__()
        A = as_tensor("A", A)
        if A.is_complex():
            raise TypeError("LISTA here is real: A must be real")
        if A.ndim == 2:
            A = A[None]
        if A.ndim != 3:
            raise ValueError(f"A must have shape (m, N) or (G, m, N); got {tuple(A.shape)}")
        A = A.to(torch.float64)
        layers = check_int("layers", layers, minimum=1)
        G, m, N = A.shape
        norms = torch.linalg.matrix_norm(A, ord=2)
        if bool((norms == 0).any()):
            raise ValueError("A has zero norm")
        self.register_buffer("A", A)
        self.register_buffer("scale", 1.0 / (10 * norms))  # 1 / (10 ||A||_2) per network
        gen = torch.Generator().manual_seed(check_int("seed", seed, minimum=0))
        W = torch.randn(G, layers, m, N, generator=gen, dtype=torch.float64) * 0.05
        self.W = torch.nn.Parameter(W * self.scale.reshape(G, 1, 1, 1))
        self.theta = torch.nn.Parameter(torch.rand(G, layers, N, generator=gen, dtype=torch.float64) * 1e-7)

    @property
    def networks(self) -> int:
        return self.A.shape[0]

    @property
    def layers(self) -> int:
        return self.W.shape[1]

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """x for y (G, B, m), or (B, m) / (m,) when there is one network."""
        G, L, m, N = self.W.shape
        squeeze = None
        if y.ndim == 1 and G == 1:
            y, squeeze = y[None, None], (0, 0)
        elif y.ndim == 2 and G == 1:
            y, squeeze = y[None], (0,)
        if y.ndim != 3 or y.shape[0] != G or y.shape[-1] != m:
            raise ValueError(f"y must have shape ({G}, B, {m}); got {tuple(y.shape)}")
        # W_k^T (y - c A x) = W_k^T y - c (W_k^T A) x: all W_k^T y in one product
        # x + W_k^T (y - c A x) = W_k^T y + (I - c W_k^T A) x; as row vectors,
        # u = Wy_k + x M_k with M_k = I - c A^T W_k, one fused product per layer.
        # (unbind rather than indexing per layer: its backward is one stack, not L zero fills)
        Wy = (y @ self.W.permute(0, 2, 1, 3).reshape(G, m, L * N)).reshape(G, -1, L, N).unbind(2)
        eye = torch.eye(N, dtype=self.A.dtype, device=self.A.device)
        M = (eye - self.scale.reshape(G, 1, 1, 1) * (self.A.transpose(-1, -2)[:, None] @ self.W)).unbind(1)
        thetas = self.theta[:, :, None].unbind(1)
        x = torch.zeros(G, y.shape[1], N, dtype=y.dtype, device=y.device)
        for k in range(L):
            u = torch.baddbmm(Wy[k], x, M[k])
            # S_theta(u) = ReLU(u - theta) - ReLU(-u - theta), as ReLUs: the same values as
            # u - clip(u, -theta, theta), but clip's derivative in theta is wrong where theta = 0
            # (clip with min = max), which the projection theta >= 0 makes common in training
            x = torch.relu(u - thetas[k]) - torch.relu(-u - thetas[k])
        if squeeze is not None:
            for d in squeeze:
                x = x.squeeze(d)
        return x

    def reference_forward(self, y: torch.Tensor) -> torch.Tensor:
        """The layer formula written out literally (for tests)."""
        G, L, m, N = self.W.shape
        x = torch.zeros(G, y.shape[1], N, dtype=y.dtype)
        for k in range(L):
            r = y - (x @ self.A.transpose(-1, -2)) * self.scale.reshape(G, 1, 1)
            u = x + r @ self.W[:, k]
            t = self.theta[:, k][:, None]
            x = torch.relu(u - t) - torch.relu(-u - t)
        return x


def loss_and_gradients(
    W: torch.Tensor, theta: torch.Tensor, A: torch.Tensor, scale: torch.Tensor, yT: torch.Tensor, xT: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-network MSE loss and its gradients in W and theta, by a hand-written backward pass.

    The same numbers as autograd on ``LISTA.forward`` (tested), at a fraction of the cost: the
    iterates are kept as columns, x_k of shape (G, N, B), so every layer is one batched product
    M_k^T x_k with M_k^T = I - c W_k^T A; all W_k^T y come from one product; and since
    x_{k+1} = S_theta(u_k) vanishes exactly where |u_k| <= theta, sign(x_{k+1}) gives both the
    derivative mask and d x_{k+1} / d theta = -sign(u_k), so u_k is never stored.
    W (G, L, m, N), theta (G, L, N), A (G, m, N), scale (G,) = 1 / (10 ||A||_2), yT (G, m, B),
    xT (G, N, B). Returns loss (G,), dW (G, L, m, N), dtheta (G, L, N).
    """
    G, L, m, N = W.shape
    B = yT.shape[-1]
    c = scale.reshape(G, 1, 1, 1)
    WT = W.transpose(2, 3)  # (G, L, N, m)
    Wy = torch.bmm(WT.reshape(G, L * N, m), yT).reshape(G, L, N, B)
    MT = torch.eye(N, dtype=W.dtype, device=W.device) - c * (WT @ A[:, None])  # (G, L, N, N)
    th = theta[..., None]
    xs = []  # x_1 .. x_L
    x = None
    for k in range(L):
        u = Wy[:, k] if k == 0 else torch.baddbmm(Wy[:, k], MT[:, k], x)
        x = soft_threshold(u, th[:, k])
        xs.append(x)
    r = x - xT
    loss = torch.linalg.vecdot(r, r, dim=-1).sum(-1) / (N * B)
    g = r * (2.0 / (N * B))  # d loss / d x_L
    dWy = torch.empty(G, L, N, B, dtype=W.dtype, device=W.device)
    dMT = torch.zeros_like(MT)
    dtheta = torch.empty_like(theta)
    for k in range(L - 1, -1, -1):
        s = torch.sign(xs[k])  # sign(u_k) where |u_k| > theta_k, 0 elsewhere
        gs = g * s
        dtheta[:, k] = -gs.sum(-1)
        gu = torch.mul(gs, s, out=dWy[:, k])  # g * 1{|u_k| > theta_k}
        if k:
            dMT[:, k] = torch.bmm(gu, xs[k - 1].transpose(1, 2))
            g = torch.bmm(MT[:, k].transpose(1, 2), gu)
    dWT = torch.bmm(dWy.reshape(G, L * N, B), yT.transpose(1, 2)).reshape(G, L, N, m)
    dWT -= c * (dMT @ A.transpose(1, 2)[:, None])
    return loss, dWT.transpose(2, 3), dtheta


@dataclass
class TrainingResult:
    """Validation relative errors per epoch (G, epochs), the best epoch and error per network."""

    validation: torch.Tensor
    best_epoch: torch.Tensor
    best_error: torch.Tensor
    epochs_run: int
    history: list = field(default_factory=list)


def relative_error(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Mean over samples of ||x_hat - x|| / ||x||, per network: (G,)."""
    return (torch.linalg.vector_norm(x_hat - x, dim=-1) / torch.linalg.vector_norm(x, dim=-1)).mean(dim=-1)


def train(
    net: LISTA,
    x: torch.Tensor,
    y: torch.Tensor,
    x_val: torch.Tensor,
    y_val: torch.Tensor,
    *,
    lr: torch.Tensor | float,
    epochs: int = 4000,
    batch: int = 1000,
    seed: int = 0,
    checkpoint: str | Path | None = None,
    checkpoint_every: int = 100,
    progress: bool = True,
    betas: tuple[float, float] = (0.9, 0.999),
    adam_eps: float = 1e-8,
) -> TrainingResult:
    """Train the G networks together: Adam with one learning rate per network, MSE loss.

    Gradients come from ``loss_and_gradients`` (autograd's numbers, about twice as fast).
    x, y: (G, R, N), (G, R, m) training pairs; x_val, y_val: validation pairs. After every
    epoch each network's validation relative error is measured and its best parameters kept;
    at the end the best ones are loaded. theta is projected onto theta >= 0 after each step.
    With ``checkpoint`` the state is saved atomically every ``checkpoint_every`` epochs and at
    the end, and training resumes from it when the file exists (loaded with weights_only=True).
    """
    G = net.networks
    for name, t, last in (("x", x, net.A.shape[2]), ("y", y, net.A.shape[1]),
                          ("x_val", x_val, net.A.shape[2]), ("y_val", y_val, net.A.shape[1])):
        as_tensor(name, t)
        if t.ndim != 3 or t.shape[0] != G or t.shape[-1] != last:
            raise ValueError(f"{name} must have shape ({G}, R, {last}); got {tuple(t.shape)}")
    if x.shape[1] != y.shape[1] or x_val.shape[1] != y_val.shape[1]:
        raise ValueError("x and y (and x_val and y_val) must hold the same number of samples")
    epochs = check_int("epochs", epochs, minimum=1)
    batch = check_int("batch", batch, minimum=1)
    lr = torch.as_tensor(lr, dtype=torch.float64).expand(G).clone()
    if bool((lr <= 0).any()) or not bool(torch.isfinite(lr).all()):
        raise ValueError(f"lr must be finite and > 0; got {lr.tolist()}")
    b1, b2 = (check_scalar("betas[0]", betas[0]), check_scalar("betas[1]", betas[1]))
    params = [net.W, net.theta]
    state = {
        "epoch": 0, "step": 0,
        "m": [torch.zeros_like(p) for p in params], "v": [torch.zeros_like(p) for p in params],
        "best": [p.detach().clone() for p in params],
        "best_error": torch.full((G,), math.inf, dtype=torch.float64),
        "best_epoch": torch.zeros(G, dtype=torch.long),
        "validation": torch.zeros(G, 0, dtype=torch.float64),
        "rng": torch.Generator().manual_seed(check_int("seed", seed, minimum=0)).get_state(),
    }
    path = Path(checkpoint) if checkpoint is not None else None
    if path is not None and path.exists():
        state = _load(path, net, state)
    gen = torch.Generator()
    gen.set_state(state["rng"])
    R = x.shape[1]
    yT_all, xT_all = y.transpose(1, 2), x.transpose(1, 2)  # samples as columns, as the gradient wants
    lr_shapes = [lr.reshape(G, *([1] * (p.ndim - 1))) for p in params]
    bar = epoch_bar(epochs, state["epoch"], progress, "training LISTA")
    for epoch in range(state["epoch"], epochs):
        perm = torch.randperm(R, generator=gen)
        for start in range(0, R, batch):
            idx = perm[start : start + batch]
            _, *grads = loss_and_gradients(net.W.detach(), net.theta.detach(), net.A, net.scale,
                                           yT_all.index_select(2, idx), xT_all.index_select(2, idx))
            state["step"] += 1
            t = state["step"]
            with torch.no_grad():
                for p, g, m, v, lr_p in zip(params, grads, state["m"], state["v"], lr_shapes, strict=True):
                    m.mul_(b1).add_(g, alpha=1 - b1)
                    v.mul_(b2).addcmul_(g, g, value=1 - b2)
                    step = (m / (1 - b1**t)) / (torch.sqrt(v / (1 - b2**t)) + adam_eps)
                    p.sub_(lr_p * step)
                net.theta.clamp_(min=0.0)
        with torch.no_grad():
            err = relative_error(net(y_val), x_val)
            better = err < state["best_error"]
            for p, best in zip(params, state["best"], strict=True):
                sel = better.reshape(G, *([1] * (p.ndim - 1)))
                best.copy_(torch.where(sel, p, best))
            state["best_error"] = torch.where(better, err, state["best_error"])
            state["best_epoch"] = torch.where(better, torch.full_like(state["best_epoch"], epoch), state["best_epoch"])
            state["validation"] = torch.cat([state["validation"], err[:, None]], dim=1)
        state["epoch"] = epoch + 1
        state["rng"] = gen.get_state()
        if bar is not None:
            bar.update(1)
            bar.set_postfix(best=f"{state['best_error'].max().item():.2e}")
        if path is not None and (state["epoch"] % checkpoint_every == 0 or state["epoch"] == epochs):
            _save(path, net, state)
    if bar is not None:
        bar.close()
    with torch.no_grad():
        for p, best in zip(params, state["best"], strict=True):
            p.copy_(best)
    return TrainingResult(state["validation"], state["best_epoch"], state["best_error"], state["epoch"])


def _save(path: Path, net: LISTA, state: dict) -> None:
    payload = {
        "W": net.W.detach(), "theta": net.theta.detach(), "A": net.A,
        "epoch": torch.tensor(state["epoch"]), "step": torch.tensor(state["step"]),
        "m": state["m"], "v": state["v"], "best": state["best"],
        "best_error": state["best_error"], "best_epoch": state["best_epoch"],
        "validation": state["validation"], "rng": state["rng"],
    }
    atomic_write(path, lambda tmp: torch.save(payload, tmp))


def _load(path: Path, net: LISTA, state: dict) -> dict:
    try:
        payload = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as exc:  # a corrupt or foreign file
        raise ValueError(f"checkpoint {path} cannot be read: {exc}") from exc
    if not isinstance(payload, dict) or not {"W", "theta", "A", "epoch"} <= set(payload):
        raise ValueError(f"checkpoint {path} is not a LISTA training checkpoint")
    if payload["W"].shape != net.W.shape or not torch.equal(payload["A"], net.A):
        raise ValueError(f"checkpoint {path} belongs to other networks (shape or matrix differs)")
    with torch.no_grad():
        net.W.copy_(payload["W"])
        net.theta.copy_(payload["theta"])
    return {
        "epoch": int(payload["epoch"]), "step": int(payload["step"]),
        "m": list(payload["m"]), "v": list(payload["v"]), "best": list(payload["best"]),
        "best_error": payload["best_error"], "best_epoch": payload["best_epoch"],
        "validation": payload["validation"], "rng": payload["rng"],
    }

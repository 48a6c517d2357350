"""LISTA's trainer for the impossibility experiment: the networks of one table trained together.

Adam with lr = 2e-4 10^(-K/3) per network, batches of 1000, MSE loss (1/(N B)) sum ||x_L - x||^2,
float64, theta projected onto theta >= 0 after each step, and the epoch with the best validation
relative error mean ||x_hat - x|| / ||x|| kept (Colbrook, Antun, Hansen, PNAS 2022, and the project
reference). The networks of one experiment (one per (K, n)) are trained as one batched computation,
each with its own matrix and learning rate; gradients come from a hand-written backward pass.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .. import _progress
from .._io import atomic_write, load_tensors
from .._validation import as_tensor, check_int, check_scalar, check_seed
from ..nets.lista import LISTA


class _Buffers:
    """Work buffers of the hand-written pass for G networks of L layers, A (m, N), B samples."""

    def __init__(self, G: int, L: int, m: int, N: int, B: int, dtype: torch.dtype, device: torch.device):
        def empty(*shape):
            return torch.empty(*shape, dtype=dtype, device=device)

        self.shape = (G, L, m, N, B)
        self.WT = empty(G, L, N, m)  # W_k^T, one (L N, m) matrix per network
        self.MT = empty(G, L, N, N)  # M_k^T = I - c W_k^T A
        self.M = empty(G, L, N, N)  # M_k, for the backward pass
        self.nth = empty(G, L, N, 1)  # -theta
        self.Wy = empty(G, L, N, B)  # W_k^T y, then d loss / d u_k
        self.XS = torch.zeros(G, L, N, B, dtype=dtype, device=device)  # layer inputs x_0 = 0, x_1 .. x_{L-1}
        self.xL = empty(G, N, B)  # the output x_L
        self.tmp = empty(G, N, B)
        self.ub = empty(G, N, B)
        self.sgn = empty(G, N, B)
        self.g = empty(G, N, B)  # d loss / d x_k
        self.dMT = empty(G, L, N, N)
        self.D = empty(G, N, L * N)  # dMT_k^T side by side
        self.corr = empty(G, m, L * N)
        self.dth = empty(G, L, N)
        self.eye = torch.eye(N, dtype=dtype, device=device)
        # per-layer views, made once (the loops below run every step)
        self.u, self.x_in, self.MT_k, self.M_k, self.nth_k, self.dth_k = (
            t.unbind(1) for t in (self.Wy, self.XS, self.MT, self.M, self.nth, self.dth))
        self.x_out = (*self.x_in[1:], self.xL)  # x_{k+1}

    def prepare(self, WT: torch.Tensor, theta: torch.Tensor, A: torch.Tensor, scale: torch.Tensor) -> None:
        """W_k^T (WT (G, L, N, m), any strides), M_k^T = I - c W_k^T A, M_k and -theta, for one step."""
        G, L, m, N, _ = self.shape
        self.WT.copy_(WT)
        MT3 = self.MT.view(G, L * N, N)
        torch.bmm(self.WT.view(G, L * N, m), A, out=MT3)
        MT3.mul_(-scale.reshape(G, 1, 1))
        self.MT.add_(self.eye)
        self.M.copy_(self.MT.transpose(2, 3))
        torch.neg(theta[..., None], out=self.nth)

    def forward(self, theta: torch.Tensor, yT: torch.Tensor) -> torch.Tensor:
        """x_L (G, N, B) for the columns yT (G, m, B); keeps every x_k in XS (after ``prepare``)."""
        G, L, m, N, B = self.shape
        th = theta[..., None].unbind(1)
        torch.bmm(self.WT.view(G, L * N, m), yT, out=self.Wy.view(G, L * N, B))  # all W_k^T y at once
        tmp = self.tmp
        for k in range(L):
            u = self.u[k]
            if k:  # u_k = W_k^T y + M_k^T x_k, into a contiguous buffer: one batched BLAS call, where
                # baddbmm_ in place on the strided slot loops over the G matrices
                u = torch.baddbmm(u, self.MT_k[k], self.x_in[k], out=self.ub)
            # S_theta(u) = u - clip(u, -theta, theta), the clip as max then min (faster than clamp)
            torch.maximum(u, self.nth_k[k], out=tmp)
            torch.minimum(tmp, th[k], out=tmp)
            torch.sub(u, tmp, out=self.x_out[k])
        return self.xL

    def gradients(self, A: torch.Tensor, scale: torch.Tensor, yT: torch.Tensor, xT: torch.Tensor,
                  dWt: torch.Tensor, dtheta: torch.Tensor) -> torch.Tensor:
        """The loss (G,), and its gradients written into dWt (G, m, L N) = dW permuted and dtheta (G, L, N)."""
        G, L, m, N, B = self.shape
        r = torch.sub(self.xL, xT, out=self.g)
        loss = torch.linalg.vecdot(r, r, dim=-1).sum(-1) / (N * B)
        g = r.mul_(2.0 / (N * B))  # d loss / d x_L
        s, gs = self.sgn, self.tmp
        for k in range(L - 1, -1, -1):
            # x_{k+1} = S(u_k) vanishes exactly where |u_k| <= theta_k, so s = sign(x_{k+1}) is the
            # derivative mask and d x_{k+1} / d theta_k = -s: u_k itself is not needed
            torch.sign(self.x_out[k], out=s)
            torch.mul(g, s, out=gs)
            torch.sum(gs, -1, out=self.dth_k[k])
            gu = torch.mul(gs, s, out=self.u[k])  # d loss / d u_k = g 1{|u_k| > theta_k}
            if k:
                torch.bmm(self.M_k[k], gu, out=g)  # d loss / d x_k = M_k gu
        GU = self.Wy
        # d loss / d M_k^T = gu_k x_k^T, all layers in one product (x_0 = 0 gives 0)
        torch.bmm(GU.view(G * L, N, B), self.XS.view(G * L, N, B).transpose(1, 2), out=self.dMT.view(G * L, N, N))
        # dW_k = y gu_k^T - c A dMT_k^T: the first term for all layers as one (m, L N) product
        torch.bmm(yT, GU.view(G, L * N, B).transpose(1, 2), out=dWt)
        self.D.view(G, N, L, N).copy_(self.dMT.permute(0, 3, 1, 2))
        torch.bmm(A, self.D, out=self.corr)
        self.corr.mul_(scale.reshape(G, 1, 1))
        dWt.sub_(self.corr)
        torch.neg(self.dth, out=dtheta)
        return loss


def loss_and_gradients(
    W: torch.Tensor, theta: torch.Tensor, A: torch.Tensor, scale: torch.Tensor, yT: torch.Tensor, xT: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-network MSE loss and its gradients in W and theta, by a hand-written backward pass.

    The same numbers as autograd on ``LISTA.forward`` (tested), at a fraction of the cost: the
    iterates are kept as columns, x_k of shape (G, N, B), so every layer is one batched product
    M_k^T x_k with M_k^T = I - c W_k^T A; all W_k^T y come from one product; the backward pass
    reuses preallocated buffers, and gathers d loss / d M_k^T of all layers into one product.
    W (G, L, m, N), theta (G, L, N), A (G, m, N), scale (G,) = 1 / (10 ||A||_2), yT (G, m, B),
    xT (G, N, B). Returns loss (G,), dW (G, L, m, N), dtheta (G, L, N).
    """
    G, L, m, N = W.shape
    buf = _Buffers(G, L, m, N, yT.shape[-1], W.dtype, W.device)
    dWt = torch.empty(G, m, L * N, dtype=W.dtype, device=W.device)
    dtheta = torch.empty_like(theta)
    buf.prepare(W.transpose(2, 3), theta, A, scale)
    buf.forward(theta, yT)
    loss = buf.gradients(A, scale, yT, xT, dWt, dtheta)
    return loss, dWt.view(G, m, L, N).permute(0, 2, 1, 3).contiguous(), dtheta


@dataclass
class TrainingResult:
    """Validation errors per epoch (G, epochs), best epoch and error per network, seconds per epoch run."""

    validation: torch.Tensor
    best_epoch: torch.Tensor
    best_error: torch.Tensor
    epochs_run: int
    history: list = field(default_factory=list)
    epoch_seconds: list = field(default_factory=list)


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
    progress: bool | _progress.Progress | None = True,
    betas: tuple[float, float] = (0.9, 0.999),
    adam_eps: float = 1e-8,
    workers: int | None = None,
) -> TrainingResult:
    """Train the G networks together: Adam with one learning rate per network, MSE loss.

    Gradients come from the hand-written pass of ``loss_and_gradients`` (autograd's numbers).
    x, y: (G, R, N), (G, R, m) training pairs; x_val, y_val: validation pairs. After every
    epoch each network's validation relative error is measured and its best parameters kept;
    at the end the best ones are loaded. theta is projected onto theta >= 0 after each step.
    With ``checkpoint`` the state is saved atomically every ``checkpoint_every`` epochs and at
    the end, and training resumes from it when the file exists (loaded with weights_only=True).
    Internally W and theta live in one flat buffer (W as (G, m, L, N), the layout its gradient
    comes in), so Adam is a few operations on one tensor; the work buffers are reused.

    The networks do not interact (every batch holds the same sample indices for each), so on the
    CPU they are split into ``workers`` groups (default: one per torch thread, at most G), each
    trained by its own thread with one BLAS thread: the products are too small for two threads to
    share one, and the arithmetic of every network is the same as in one group. ``progress``: True
    (a bar on the terminal), False/None, or a callable given ``Status("training LISTA", epochs done,
    epochs)`` (with several groups, the epochs of the slowest).
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
    checkpoint_every = check_int("checkpoint_every", checkpoint_every, minimum=1)
    lr = torch.as_tensor(lr, dtype=torch.float64).expand(G).clone()
    if bool((lr <= 0).any()) or not bool(torch.isfinite(lr).all()):
        raise ValueError(f"lr must be finite and > 0; got {lr.tolist()}")
    betas = (check_scalar("betas[0]", betas[0]), check_scalar("betas[1]", betas[1]))
    if workers is None:
        workers = 1 if net.W.device.type != "cpu" else torch.get_num_threads()
    workers = min(check_int("workers", workers, minimum=1), G)
    report = _progress.callback(progress)
    state = {
        "epoch": 0, "step": 0,
        "m": [torch.zeros_like(net.W), torch.zeros_like(net.theta)],
        "v": [torch.zeros_like(net.W), torch.zeros_like(net.theta)],
        "best": [net.W.detach().clone(), net.theta.detach().clone()],
        "best_error": torch.full((G,), math.inf, dtype=torch.float64),
        "best_epoch": torch.zeros(G, dtype=torch.long),
        "validation": torch.zeros(G, 0, dtype=torch.float64),
        "rng": torch.Generator().manual_seed(check_seed("seed", seed)).get_state(),
    }
    path = Path(checkpoint) if checkpoint is not None else None
    if path is not None and path.exists():
        state = _load(path, net, state)
    # contiguous groups of networks, as even as G allows
    bounds = [round(i * G / workers) for i in range(workers + 1)]
    groups = [torch.arange(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    trainers = [_Trainer(net, idx, state, x, y, x_val, y_val, lr, batch, betas, adam_eps) for idx in groups]
    if state["epoch"]:
        _progress.count(report, "training LISTA", state["epoch"], epochs, "epoch")
    on_epoch = _Slowest(report, trainers, epochs) if report is not None else None
    epoch_seconds: list[float] = []
    epoch = state["epoch"]
    while epoch < epochs:
        until = min(epochs, (epoch // checkpoint_every + 1) * checkpoint_every) if path is not None else epochs
        if len(trainers) == 1:
            epoch_seconds += trainers[0].run(until, on_epoch)
        else:
            epoch_seconds += _run_parallel(trainers, until, on_epoch)
        epoch = until
        if path is not None:
            _save(path, net, _gather(trainers, net, state, final=False))
    state = _gather(trainers, net, state, final=True)
    return TrainingResult(state["validation"], state["best_epoch"], state["best_error"], state["epoch"],
                          epoch_seconds=epoch_seconds)


class _Slowest:
    """Reports ``Status("training LISTA", e, epochs)`` for e the epochs of the slowest of several
    trainers, each time it grows (called by the trainers after each of their epochs; thread-safe)."""

    def __init__(self, report: _progress.Progress, trainers: list[_Trainer], epochs: int):
        self.report, self.trainers, self.epochs, self.lock = report, trainers, epochs, threading.Lock()
        self.done = min(t.epoch for t in trainers)

    def __call__(self) -> None:
        with self.lock:
            done = min(t.epoch for t in self.trainers)
            if done > self.done:
                self.done = done
                _progress.count(self.report, "training LISTA", done, self.epochs, "epoch")


def _run_parallel(trainers: list[_Trainer], until: int, on_epoch: Callable[[], None] | None) -> list[float]:
    """Run every trainer to epoch ``until``, each in its own thread with one torch thread; the
    seconds of each epoch (wall clock, as the slowest group, the last, sees them)."""
    threads_before = torch.get_num_threads()
    results: list = [None] * len(trainers)

    def work(i: int) -> None:
        try:
            results[i] = trainers[i].run(until, on_epoch)
        except BaseException as exc:  # re-raised in the calling thread
            results[i] = exc

    torch.set_num_threads(1)
    try:
        threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(len(trainers))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        torch.set_num_threads(threads_before)
    for r in results:
        if isinstance(r, BaseException):
            raise r
    return max(results, key=sum)


def _gather(trainers: list[_Trainer], net: LISTA, state: dict, *, final: bool) -> dict:
    """The state of all G networks from the groups'; with ``final`` the best parameters are loaded
    into ``net``, otherwise its current ones (for a checkpoint)."""
    parts = [t.state() for t in trainers]

    def cat(key, i=None):
        return torch.cat([p[key] if i is None else p[key][i] for p in parts])

    out = {
        "epoch": parts[0]["epoch"], "step": parts[0]["step"], "rng": parts[0]["rng"],
        "m": [cat("m", 0), cat("m", 1)], "v": [cat("v", 0), cat("v", 1)], "best": [cat("best", 0), cat("best", 1)],
        "best_error": cat("best_error"), "best_epoch": cat("best_epoch"), "validation": cat("validation"),
    }
    with torch.no_grad():
        if final:
            net.W.copy_(out["best"][0])
            net.theta.copy_(out["best"][1])
        else:
            net.W.copy_(cat("W"))
            net.theta.copy_(cat("theta"))
    return out


class _Trainer:
    """Adam on the networks ``idx`` of ``net``: their flat parameters, moments, best parameters,
    validation history, work buffers and their own copy of the sample-order generator."""

    def __init__(self, net: LISTA, idx: torch.Tensor, state: dict, x, y, x_val, y_val, lr: torch.Tensor,
                 batch: int, betas: tuple[float, float], adam_eps: float):
        _, L, m, N = net.W.shape
        G = idx.numel()
        self.shape, self.batch, self.betas, self.adam_eps = (G, L, m, N), batch, betas, adam_eps
        self.A, self.scale = net.A[idx], net.scale[idx]
        dtype, device = net.W.dtype, net.W.device
        self.flat = flat = _Flat(G, L, m, N)
        self.P = flat.pack(net.W.detach()[idx], net.theta.detach()[idx])  # [W (G, m, L, N) | theta]
        self.mom, self.vel, self.best = (flat.pack(state[k][0][idx], state[k][1][idx]) for k in ("m", "v", "best"))
        self.grad, self.t1, self.t2 = torch.empty_like(self.P), torch.empty_like(self.P), torch.empty_like(self.P)
        self.net_of = flat.network_index()
        self.lr_flat = lr[idx].to(dtype)[self.net_of]
        self.best_error = state["best_error"][idx].clone()
        self.best_epoch = state["best_epoch"][idx].clone()
        self.validation = state["validation"][idx].clone()
        self.epoch, self.step = state["epoch"], state["step"]
        self.gen = torch.Generator()
        self.gen.set_state(state["rng"])
        # one row per sample, its y and x side by side: a batch is gathered as whole rows (several times
        # faster than gathering columns), then turned into columns, as the gradient wants, by one copy
        self.yx = torch.cat([y[idx], x[idx]], dim=2).to(dtype)
        self.val = _Buffers(G, L, m, N, y_val.shape[1], dtype, device)
        self.yvT, self.xvT = (t[idx].transpose(1, 2).to(dtype).contiguous() for t in (y_val, x_val))
        self.xv_norm = torch.linalg.vector_norm(self.xvT, dim=1)
        self.bufs: dict[int, tuple[_Buffers, torch.Tensor, torch.Tensor]] = {}

    def run(self, until: int, on_epoch: Callable[[], None] | None) -> list[float]:
        """Epochs up to ``until``, calling ``on_epoch`` after each; the seconds of each."""
        G, L, m, N = self.shape
        flat, P, mom, vel, best, grad, t1, t2 = (self.flat, self.P, self.mom, self.vel, self.best, self.grad,
                                                 self.t1, self.t2)
        Wp, theta = flat.W(P), flat.theta(P)
        dWt, dtheta = flat.W(grad).view(G, m, L * N), flat.theta(grad)
        A, scale, b1, b2 = self.A, self.scale, *self.betas
        R = self.yx.shape[1]
        seconds = []
        for epoch in range(self.epoch, until):
            t_epoch = time.perf_counter()
            perm = torch.randperm(R, generator=self.gen)
            for start in range(0, R, self.batch):
                idx = perm[start : start + self.batch]
                B = idx.shape[0]
                if B not in self.bufs:
                    self.bufs[B] = (_Buffers(G, L, m, N, B, P.dtype, P.device),
                                    torch.empty(G, B, m + N, dtype=P.dtype, device=P.device),
                                    torch.empty(G, m + N, B, dtype=P.dtype, device=P.device))
                buf, rows, cols = self.bufs[B]
                torch.index_select(self.yx, 1, idx, out=rows)
                cols.copy_(rows.transpose(1, 2))
                yT, xT = cols[:, :m], cols[:, m:]
                buf.prepare(Wp.permute(0, 2, 3, 1), theta, A, scale)
                buf.forward(theta, yT)
                buf.gradients(A, scale, yT, xT, dWt, dtheta)
                self.step += 1
                t = self.step
                # Adam, on the flat buffer: the same operations, in the same order, as per tensor
                mom.mul_(b1).add_(grad, alpha=1 - b1)
                vel.mul_(b2).addcmul_(grad, grad, value=1 - b2)
                torch.div(mom, 1 - b1**t, out=t1)
                torch.div(vel, 1 - b2**t, out=t2)
                t2.sqrt_().add_(self.adam_eps)
                t1.div_(t2).mul_(self.lr_flat)
                P.sub_(t1)
                theta.clamp_(min=0.0)
            # validation: the same forward pass on the validation columns
            self.val.prepare(Wp.permute(0, 2, 3, 1), theta, A, scale)
            xv = self.val.forward(theta, self.yvT)
            err = (torch.linalg.vector_norm(xv - self.xvT, dim=1) / self.xv_norm).mean(dim=-1)
            better = err < self.best_error
            torch.where(better[self.net_of], P, best, out=best)
            self.best_error = torch.where(better, err, self.best_error)
            self.best_epoch = torch.where(better, torch.full_like(self.best_epoch, epoch), self.best_epoch)
            self.validation = torch.cat([self.validation, err[:, None]], dim=1)
            self.epoch = epoch + 1
            seconds.append(time.perf_counter() - t_epoch)
            if on_epoch is not None:
                on_epoch()
        return seconds

    def state(self) -> dict:
        W, theta = self.flat.unpack(self.P)
        return {"epoch": self.epoch, "step": self.step, "rng": self.gen.get_state(), "W": W, "theta": theta,
                "m": self.flat.unpack(self.mom), "v": self.flat.unpack(self.vel), "best": self.flat.unpack(self.best),
                "best_error": self.best_error, "best_epoch": self.best_epoch, "validation": self.validation}


class _Flat:
    """W (G, L, m, N) and theta (G, L, N) in one flat buffer: [W as (G, m, L, N) | theta]."""

    def __init__(self, G: int, L: int, m: int, N: int):
        self.G, self.L, self.m, self.N = G, L, m, N
        self.split = G * m * L * N

    def W(self, P: torch.Tensor) -> torch.Tensor:
        return P[: self.split].view(self.G, self.m, self.L, self.N)

    def theta(self, P: torch.Tensor) -> torch.Tensor:
        return P[self.split :].view(self.G, self.L, self.N)

    def pack(self, W: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        P = torch.empty(self.split + theta.numel(), dtype=W.dtype, device=W.device)
        self.W(P).copy_(W.permute(0, 2, 1, 3))
        self.theta(P).copy_(theta)
        return P

    def unpack(self, P: torch.Tensor, W: torch.Tensor | None = None, theta: torch.Tensor | None = None):
        """[W (G, L, m, N), theta], copied into W and theta when given."""
        if W is None:
            return [self.W(P).permute(0, 2, 1, 3).contiguous(), self.theta(P).clone()]
        W.copy_(self.W(P).permute(0, 2, 1, 3))
        theta.copy_(self.theta(P))
        return [W, theta]

    def network_index(self) -> torch.Tensor:
        """The network of every entry of the flat buffer."""
        g = torch.arange(self.G)
        return torch.cat([g.repeat_interleave(self.m * self.L * self.N), g.repeat_interleave(self.L * self.N)])


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
        payload = load_tensors(path)
    except ValueError as exc:  # a corrupt or foreign file
        raise ValueError(f"checkpoint {path} cannot be read: {exc}") from None
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


__all__ = ["TrainingResult", "loss_and_gradients", "relative_error", "train"]

"""LISTA and its batched training: the literal formula, Adam, best epochs, checkpoints."""

from __future__ import annotations

import math

import pytest
import torch

from firenets.barriers import omega
from firenets.barriers.lista_training import loss_and_gradients, relative_error, train
from firenets.nets import LISTA


def _data(G=2, seed=0):
    insts = [omega.instance(1, 10), omega.instance(3, 20), omega.instance(6, 30)][:G]
    sets = [omega.training_set(i, size=64, validation=16, seed=seed) for i in insts]
    A = torch.stack([i.A_n.M for i in insts])
    stack = lambda name: torch.stack([getattr(s, name) for s in sets])  # noqa: E731
    return A, stack("x"), stack("y"), stack("x_val"), stack("y_val")


def test_forward_equals_the_layer_formula():
    A, x, y, *_ = _data()
    net = LISTA(A, seed=1)
    with torch.no_grad():
        net.theta.uniform_(0, 0.05)
    torch.testing.assert_close(net(y), net.reference_forward(y), rtol=0, atol=1e-14)
    assert net.layers == 10 and net.networks == 2
    # initialisation as specified: W ~ N(0, 0.05^2) / (10 ||A||), theta in [0, 1e-7]
    norms = torch.linalg.matrix_norm(A, ord=2)
    std = (net.W.std(dim=(1, 2, 3)) * 10 * norms)
    assert torch.allclose(std, torch.full_like(std, 0.05), rtol=0.05)
    assert float(LISTA(A).theta.detach().max()) <= 1e-7


def test_hand_written_gradients_equal_autograd_on_the_relu_formula():
    A, x, y, *_ = _data()
    net = LISTA(A, seed=3)
    with torch.no_grad():
        net.theta.zero_()
        size = net(y).abs().mean(dim=(1, 2))  # each network's output scale
        net.theta.uniform_(0, 2).mul_(size[:, None, None])
        net.theta[..., ::3] = 0  # theta = 0 (the projection's boundary) included
    loss = ((net.reference_forward(y) - x) ** 2).mean(dim=(1, 2))
    gW, gt = torch.autograd.grad(loss.sum(), [net.W, net.theta])
    value, dW, dt = loss_and_gradients(net.W.detach(), net.theta.detach(), net.A, net.scale,
                                       y.transpose(1, 2), x.transpose(1, 2))
    assert float((net.reference_forward(y) == 0).double().mean()) > 0.1  # thresholds active
    torch.testing.assert_close(value, loss.detach(), rtol=1e-13, atol=0)
    torch.testing.assert_close(dW, gW, rtol=0, atol=1e-13 * float(gW.abs().max()))
    torch.testing.assert_close(dt, gt, rtol=0, atol=1e-13 * float(gt.abs().max()))
    for g in range(2):  # each network on its own scale (K = 1 and K = 3 differ by orders of magnitude)
        torch.testing.assert_close(dW[g], gW[g], rtol=0, atol=1e-13 * float(gW[g].abs().max()))
        torch.testing.assert_close(dt[g], gt[g], rtol=0, atol=1e-13 * float(gt[g].abs().max()))
    # and the fast forward's autograd agrees with the formula's, theta = 0 included
    gW2, gt2 = torch.autograd.grad(((net(y) - x) ** 2).mean(dim=(1, 2)).sum(), [net.W, net.theta])
    torch.testing.assert_close(gt2, gt, rtol=0, atol=1e-13 * float(gt.abs().max()))
    torch.testing.assert_close(gW2, gW, rtol=0, atol=1e-13 * float(gW.abs().max()))


def test_batched_adam_equals_torch_adam_for_one_network():
    A, x, y, xv, yv = _data(G=1)
    net = LISTA(A, seed=2)
    ref = LISTA(A, seed=2)
    train(net, x, y, xv, yv, lr=1e-3, epochs=3, batch=16, seed=5, progress=False)
    # the same steps with torch.optim.Adam, the same batches, and theta projected onto >= 0
    opt = torch.optim.Adam([ref.W, ref.theta], lr=1e-3)
    gen = torch.Generator().manual_seed(5)
    best, best_err = None, math.inf
    for _ in range(3):
        perm = torch.randperm(x.shape[1], generator=gen)
        for start in range(0, x.shape[1], 16):
            idx = perm[start : start + 16]
            opt.zero_grad()
            ((ref(y[:, idx]) - x[:, idx]) ** 2).mean(dim=(1, 2)).sum().backward()
            opt.step()
            with torch.no_grad():
                ref.theta.clamp_(min=0)
        with torch.no_grad():
            err = relative_error(ref(yv), xv).item()
        if err < best_err:
            best_err, best = err, (ref.W.detach().clone(), ref.theta.detach().clone())
    torch.testing.assert_close(net.W, best[0], rtol=0, atol=1e-12)
    torch.testing.assert_close(net.theta, best[1], rtol=0, atol=1e-12)


def _reference_training(A, W0, theta0, x, y, xv, yv, *, lr, epochs, batch, seed):
    """Plain training of one network: autograd on the ReLU formula and torch.optim.Adam."""
    ref = LISTA(A)
    with torch.no_grad():
        ref.W.copy_(W0)
        ref.theta.copy_(theta0)
    opt = torch.optim.Adam([ref.W, ref.theta], lr=lr)
    gen = torch.Generator().manual_seed(seed)
    best, best_err, errs = None, math.inf, []
    for _ in range(epochs):
        perm = torch.randperm(x.shape[1], generator=gen)
        for start in range(0, x.shape[1], batch):
            idx = perm[start : start + batch]
            opt.zero_grad()
            ((ref.reference_forward(y[:, idx]) - x[:, idx]) ** 2).mean(dim=(1, 2)).sum().backward()
            opt.step()
            with torch.no_grad():
                ref.theta.clamp_(min=0)
        with torch.no_grad():
            err = relative_error(ref.reference_forward(yv), xv).item()
        errs.append(err)
        if err < best_err:
            best_err, best = err, (ref.W.detach().clone(), ref.theta.detach().clone())
    return best, errs


def test_batched_training_equals_per_network_reference_with_own_learning_rates():
    # two networks with different learning rates and a last batch of another size (64 = 24 + 24 + 16):
    # each must follow its own plain autograd + torch.optim.Adam run, on the same batches
    A, x, y, xv, yv = _data(G=2)
    lr = torch.tensor([3e-3, 1e-3], dtype=torch.float64)
    net = LISTA(A, seed=4)
    W0, theta0 = net.W.detach().clone(), net.theta.detach().clone()
    res = train(net, x, y, xv, yv, lr=lr, epochs=4, batch=24, seed=7, progress=False)
    for g in range(2):
        (W, theta), errs = _reference_training(A[g], W0[g : g + 1], theta0[g : g + 1], x[g : g + 1], y[g : g + 1],
                                               xv[g : g + 1], yv[g : g + 1], lr=float(lr[g]), epochs=4,
                                               batch=24, seed=7)
        torch.testing.assert_close(net.W[g : g + 1].detach(), W, rtol=0, atol=1e-12 * float(W.abs().max()))
        torch.testing.assert_close(net.theta[g : g + 1].detach(), theta, rtol=0, atol=1e-12 * float(theta.abs().max()))
        torch.testing.assert_close(res.validation[g], torch.tensor(errs, dtype=torch.float64), rtol=1e-12, atol=0)
    assert not torch.equal(net.W[0], net.W[1])


def test_one_call_of_loss_and_gradients_repeats_exactly():
    # the work buffers are fresh per call: the same inputs give the same numbers twice
    A, x, y, *_ = _data()
    net = LISTA(A, seed=5)
    args = (net.W.detach(), net.theta.detach(), net.A, net.scale, y.transpose(1, 2), x.transpose(1, 2))
    first, second = loss_and_gradients(*args), loss_and_gradients(*args)
    for a, b in zip(first, second, strict=True):
        assert torch.equal(a, b)
    assert first[1].shape == net.W.shape and first[2].shape == net.theta.shape


def test_training_lowers_validation_error_and_keeps_best_epoch():
    A, x, y, xv, yv = _data()
    net = LISTA(A, seed=0)
    with torch.no_grad():
        before = relative_error(net(yv), xv)
    lr = torch.tensor([2e-4 * 10 ** (-1 / 3), 2e-4 * 10 ** (-3 / 3)])  # 2e-4 10^(-K/3)
    res = train(net, x, y, xv, yv, lr=lr, epochs=60, batch=32, progress=False)
    with torch.no_grad():
        after = relative_error(net(yv), xv)
    assert (after < 0.5 * before).all()
    assert res.validation.shape == (2, 60)
    torch.testing.assert_close(after, res.validation.min(dim=1).values, rtol=0, atol=1e-12)
    assert torch.equal(res.best_epoch, res.validation.argmin(dim=1))
    assert float(net.theta.detach().min()) >= 0


def test_checkpoint_resume_equals_uninterrupted(tmp_path):
    A, x, y, xv, yv = _data()
    full = LISTA(A, seed=3)
    train(full, x, y, xv, yv, lr=1e-3, epochs=6, batch=32, seed=1, progress=False)
    ckpt = tmp_path / "lista.pt"
    part = LISTA(A, seed=3)
    train(part, x, y, xv, yv, lr=1e-3, epochs=3, batch=32, seed=1, progress=False, checkpoint=ckpt,
          checkpoint_every=1)
    resumed = LISTA(A, seed=3)
    res = train(resumed, x, y, xv, yv, lr=1e-3, epochs=6, batch=32, seed=1, progress=False, checkpoint=ckpt)
    assert res.epochs_run == 6 and res.validation.shape == (2, 6)
    torch.testing.assert_close(resumed.W, full.W, rtol=0, atol=0)
    torch.testing.assert_close(resumed.theta, full.theta, rtol=0, atol=0)
    assert not list(tmp_path.glob("*.tmp"))


def test_training_in_parallel_groups_equals_one_group(tmp_path):
    # three networks in 1, 2 (of 1 and 2 networks) and 3 threads: the same numbers, checkpoints included
    A, x, y, xv, yv = _data(G=3)
    lr = torch.tensor([3e-3, 1e-3, 1e-4], dtype=torch.float64)
    runs = []
    for workers in (1, 2, 3):
        net = LISTA(A, seed=2)
        res = train(net, x, y, xv, yv, lr=lr, epochs=5, batch=24, seed=3, progress=False, workers=workers)
        runs.append((net, res))
    net1, res1 = runs[0]
    for net, res in runs[1:]:
        for g in range(3):
            torch.testing.assert_close(net.W[g].detach(), net1.W[g].detach(), rtol=0,
                                       atol=1e-13 * float(net1.W[g].detach().abs().max()))
        torch.testing.assert_close(res.validation, res1.validation, rtol=1e-12, atol=0)
        assert torch.equal(res.best_epoch, res1.best_epoch)
    # interrupted with 2 workers after 2 epochs, resumed with 3: the uninterrupted single group's numbers
    ckpt = tmp_path / "lista.pt"
    threads = torch.get_num_threads()
    train(LISTA(A, seed=2), x, y, xv, yv, lr=lr, epochs=2, batch=24, seed=3, progress=False, workers=2,
          checkpoint=ckpt, checkpoint_every=1)
    assert torch.get_num_threads() == threads
    resumed = LISTA(A, seed=2)
    res = train(resumed, x, y, xv, yv, lr=lr, epochs=5, batch=24, seed=3, progress=False, workers=3, checkpoint=ckpt)
    for g in range(3):
        torch.testing.assert_close(resumed.W[g].detach(), net1.W[g].detach(), rtol=0,
                                   atol=1e-13 * float(net1.W[g].detach().abs().max()))
    torch.testing.assert_close(res.validation, res1.validation, rtol=1e-12, atol=0)
    with pytest.raises(ValueError, match="workers"):
        train(LISTA(A), x, y, xv, yv, lr=1e-3, epochs=1, progress=False, workers=0)


def test_bad_checkpoint_and_arguments(tmp_path):
    A, x, y, xv, yv = _data()
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="cannot be read"):
        train(LISTA(A), x, y, xv, yv, lr=1e-3, epochs=1, checkpoint=bad, progress=False)
    other = tmp_path / "other.pt"
    train(LISTA(A[:1]), x[:1], y[:1], xv[:1], yv[:1], lr=1e-3, epochs=1, checkpoint=other, progress=False)
    with pytest.raises(ValueError, match="other networks"):
        train(LISTA(A), x, y, xv, yv, lr=1e-3, epochs=1, checkpoint=other, progress=False)
    with pytest.raises(ValueError, match="lr must be finite and > 0"):
        train(LISTA(A), x, y, xv, yv, lr=-1.0, epochs=1, progress=False)
    with pytest.raises(ValueError, match="x must have shape"):
        train(LISTA(A), x[:1], y, xv, yv, lr=1e-3, epochs=1, progress=False)
    with pytest.raises(ValueError, match="y must have shape"):
        LISTA(A)(torch.ones(3, 5, dtype=torch.float64))
    with pytest.raises(TypeError, match="LISTA here is real"):
        LISTA(A.to(torch.complex128))


def test_progress_reports_the_epochs_done(tmp_path):
    # one Status per epoch (the slowest group's, with several threads); a resumed run reports its start first
    A, x, y, xv, yv = _data(G=3)
    for workers in (1, 3):
        seen = []
        train(LISTA(A, seed=2), x, y, xv, yv, lr=1e-3, epochs=3, batch=32, progress=seen.append, workers=workers)
        assert [(s.task, s.done, s.total, s.unit) for s in seen] == [("training LISTA", e, 3, "epoch")
                                                                     for e in (1, 2, 3)]
    ckpt = tmp_path / "lista.pt"
    train(LISTA(A, seed=2), x, y, xv, yv, lr=1e-3, epochs=2, batch=32, progress=False, checkpoint=ckpt)
    seen = []
    train(LISTA(A, seed=2), x, y, xv, yv, lr=1e-3, epochs=4, batch=32, progress=seen.append, checkpoint=ckpt)
    assert [s.done for s in seen] == [2, 3, 4]
    with pytest.raises(TypeError, match="progress"):
        train(LISTA(A), x, y, xv, yv, lr=1e-3, epochs=1, progress="yes")

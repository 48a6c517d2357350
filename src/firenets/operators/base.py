"""LinearOperator: the abstraction every measurement model and transform in firenets shares.

An operator A maps tensors of trailing shape ``in_shape`` to tensors of trailing shape
``out_shape``; any leading dimensions are a batch. ``A(x)`` applies it, ``A.adjoint(y)`` applies
A^* (so that Re<A x, y> = Re<x, A^* y>), ``A.H`` is the adjoint operator, ``A @ B`` composes,
``c * A`` scales and ``A + B`` adds. All of it is plain torch, so it runs on any device and
autograd differentiates through it: an application to a tensor that requires grad is one
autograd node whose backward is the adjoint (unless the operator's own tensors require grad,
when autograd records the application itself).
"""

from __future__ import annotations

import copy
import math
import numbers
from typing import Any

import torch

from .._validation import (
    check_finite,
    check_float_dtype,
    check_int,
    check_scalar,
    complex_dtype,
    real_dtype,
    split_batch,
)


class _Application(torch.autograd.Function):
    """A x (or A^* x) as one autograd node whose backward applies the other map.

    For a linear A the vector-Jacobian product is A^* g (PyTorch's convention for complex
    tensors), so the backward pass stores nothing of A's own computation and costs one
    application of the adjoint; it is itself an application, so higher derivatives work too.
    Used only when the operator's own tensors need no gradient (see ``_apply``).
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(x, op, adjoint):
        out = op._adjoint(x) if adjoint else op._forward(x)
        # an output sharing x's memory (the identity, a reshape) is copied: autograd would
        # otherwise see a view of the input coming out of a custom function
        if (out if out._base is None else out._base) is (x if x._base is None else x._base):
            out = out.clone()
        return out

    @staticmethod
    def setup_context(ctx, inputs, output):
        _, ctx.op, ctx.adjoint = inputs

    @staticmethod
    def backward(ctx, g):
        return _Application.apply(g, ctx.op, not ctx.adjoint), None, None


def _has_trainable_tensors(value: Any) -> bool:
    """Whether an operator (or a value inside one) holds a tensor that requires grad."""
    if isinstance(value, torch.Tensor):
        return value.requires_grad
    if isinstance(value, LinearOperator):
        return any(_has_trainable_tensors(v) for v in vars(value).values())
    if isinstance(value, dict):
        return any(_has_trainable_tensors(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_trainable_tensors(v) for v in value)
    return False


def _apply(op: LinearOperator, x: torch.Tensor, adjoint: bool) -> torch.Tensor:
    # one node with the adjoint as its backward; but when the operator's own tensors require
    # grad (a learned matrix, say), plain autograd through the application also gives theirs
    if torch.is_grad_enabled() and x.requires_grad and not _has_trainable_tensors(op):
        return _Application.apply(x, op, adjoint)
    return op._adjoint(x) if adjoint else op._forward(x)


class LinearOperator:
    """A linear map A: C^{in_shape} -> C^{out_shape}, batched over leading dimensions.

    Subclasses set ``in_shape``, ``out_shape``, ``dtype`` (the dtype of the operator's entries:
    real or complex, float64 unless asked otherwise) and ``device``, and implement ``_forward``
    and ``_adjoint`` on tensors whose trailing shape has been checked. A real operator applied to
    a complex tensor acts on real and imaginary parts (its C-linear extension); a complex
    operator applied to a real tensor sees it as a complex one with zero imaginary part.
    Precision is never changed silently: a float32 tensor given to a float64 operator is an error.
    """

    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    dtype: torch.dtype
    device: torch.device
    unitary: bool = False  # A^* A = A A^* = I (so ||A @ B|| = ||B|| and ||B @ A|| = ||B||)
    # how an l1 norm of the output groups its entries (problems.py): None, every entry alone; for
    # outputs (C, H, W), a tuple of channel counts summing to C, each run of channels one group
    # per pixel (isotropic total variation: the 2 finite differences of a pixel form one group)
    groups: tuple[int, ...] | None = None
    # the public application (A(x), A.adjoint(y), residual, adjoint_subtract) refuses NaN/Inf input;
    # True skips that check (the solvers' inner loops never make it: they check their input once)
    assume_finite: bool = False

    # ----------------------------------------------------------------- interface
    def _forward(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _adjoint(self, y: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _exact_norm(self) -> float | None:
        """The operator norm when it is known in closed form, else None."""
        symbol = self.gram_symbol()
        return None if symbol is None else math.sqrt(float(symbol.max()))

    def gram_symbol(self) -> torch.Tensor | None:
        """s with A^* A = F^{-1} diag(s) F on images (F the 2-D DFT), when A^* A is circulant; else None.

        For a tight frame s = 1; for periodic finite differences s = 4 sin^2(pi k / H) + 4 sin^2(pi l / W).
        Then ||A||^2 = max s and (A^* A)^+ is a Fourier multiplier (used by the analysis certificate).
        """
        if self.unitary and len(self.in_shape) == 2:
            return torch.ones(self.in_shape, dtype=real_dtype(self.dtype), device=self.device)
        return None

    # ----------------------------------------------------------------- application
    @property
    def is_complex(self) -> bool:
        """True when the operator's entries are complex."""
        return self.dtype.is_complex

    @property
    def shape(self) -> tuple[int, int]:
        """(m, N): the size of the matrix this operator represents."""
        return (math.prod(self.out_shape), math.prod(self.in_shape))

    def _check(self, name: str, t: torch.Tensor, shape: tuple[int, ...], *, finite: bool = True) -> torch.Tensor:
        if not isinstance(t, torch.Tensor):
            raise TypeError(
                f"{name} must be a torch.Tensor; got {type(t).__name__} "
                "(convert with torch.as_tensor(..., dtype=torch.float64))"
            )
        if t.dtype not in (torch.float64, torch.float32, torch.complex128, torch.complex64):
            raise TypeError(f"{name} must be floating-point or complex; got {t.dtype}")
        if real_dtype(t.dtype) != real_dtype(self.dtype):
            raise TypeError(
                f"{name} has dtype {t.dtype} but {type(self).__name__} works in "
                f"{real_dtype(self.dtype)} precision; convert it explicitly"
            )
        if t.device != self.device:
            raise ValueError(
                f"{name} is on {t.device} but {type(self).__name__} is on {self.device}; "
                "move one with .to(device)"
            )
        split_batch(name, t, shape)
        if finite and not self.assume_finite:  # finite=False: the caller has just checked t itself
            check_finite(name, t)
        if self.is_complex and not t.is_complex():
            t = t.to(self.dtype)
        return t

    def _inner(self, t: torch.Tensor, adjoint: bool) -> torch.Tensor:
        """A t (or A^* t) inside another operator's application: its input was checked once at the
        public entry, so only the promotion of a real t to a complex operator's dtype is done here."""
        if self.is_complex and not t.is_complex():
            t = t.to(self.dtype)
        return _apply(self, t, adjoint)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """A x, for x of shape (*batch, *in_shape)."""
        return _apply(self, self._check("x", x, self.in_shape), False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """A x (same as calling the operator)."""
        return self(x)

    def adjoint(self, y: torch.Tensor) -> torch.Tensor:
        """A^* y, for y of shape (*batch, *out_shape)."""
        return _apply(self, self._check("y", y, self.out_shape), True)

    def adjoint_subtract(self, x: torch.Tensor, y: torch.Tensor, alpha: float | torch.Tensor = 1.0) -> torch.Tensor:
        """x - alpha A^* y, in one fused product where the operator has one (a dense matrix)."""
        return self._fused_adjoint_subtract(*self._check_pair(x, y), alpha)

    def residual(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """A x - y, in one fused product where the operator has one (a dense matrix)."""
        return self._fused_residual(*self._check_pair(x, y))

    def _check_pair(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x in the domain and y in the range, with the same batch shape."""
        x = self._check("x", x, self.in_shape)
        y = self._check("y", y, self.out_shape)
        if x.shape[: x.ndim - len(self.in_shape)] != y.shape[: y.ndim - len(self.out_shape)]:
            raise ValueError(f"x and y must have the same batch shape; got {tuple(x.shape)} and {tuple(y.shape)}")
        return x, y

    def _differentiated(self, *tensors: torch.Tensor) -> bool:
        return torch.is_grad_enabled() and (
            any(t.requires_grad for t in tensors) or _has_trainable_tensors(self)
        )

    # the solvers' inner loops call these two on tensors they have checked once, up front
    def _fused_adjoint_subtract(self, x: torch.Tensor, y: torch.Tensor, alpha: float | torch.Tensor) -> torch.Tensor:
        if isinstance(alpha, torch.Tensor):
            return x - alpha * _apply(self, y, True)
        if self._differentiated(x, y):
            return torch.sub(x, _apply(self, y, True), alpha=alpha)  # one node for x - alpha A^* y
        return self._adjoint_subtract(x, y, alpha)

    def _fused_residual(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self._differentiated(x, y):
            return _apply(self, x, False) - y
        return self._residual(x, y)

    def _adjoint_subtract(self, x: torch.Tensor, y: torch.Tensor, alpha: float) -> torch.Tensor:
        return torch.add(x, self._adjoint(y), alpha=-alpha)

    def _residual(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self._forward(x) - y

    @property
    def H(self) -> LinearOperator:
        """The adjoint operator A^*."""
        return _Adjoint(self)

    # ----------------------------------------------------------------- algebra
    def __matmul__(self, other: LinearOperator) -> LinearOperator:
        if not isinstance(other, LinearOperator):
            return NotImplemented
        return _Composition(self, other)

    def __mul__(self, c: Any) -> LinearOperator:
        if isinstance(c, LinearOperator):
            raise TypeError("use A @ B to compose operators; * is scaling by a number")
        if not isinstance(c, numbers.Number) or isinstance(c, bool):
            return NotImplemented
        return _Scaled(self, c)

    __rmul__ = __mul__

    def __truediv__(self, c: Any) -> LinearOperator:
        if not isinstance(c, numbers.Number) or isinstance(c, bool):
            return NotImplemented
        if c == 0:
            raise ZeroDivisionError("cannot divide an operator by 0")
        return _Scaled(self, 1 / c)

    def __neg__(self) -> LinearOperator:
        return _Scaled(self, -1.0)

    def __add__(self, other: LinearOperator) -> LinearOperator:
        if not isinstance(other, LinearOperator):
            return NotImplemented
        return _Sum(self, other)

    def __sub__(self, other: LinearOperator) -> LinearOperator:
        if not isinstance(other, LinearOperator):
            return NotImplemented
        return _Sum(self, _Scaled(other, -1.0))

    # ----------------------------------------------------------------- utilities
    def to(self, device: torch.device | str) -> LinearOperator:
        """A copy of the operator whose tensors live on ``device``."""
        device = torch.device(device)
        new = copy.copy(self)
        for key, value in vars(self).items():
            if isinstance(value, torch.Tensor):
                setattr(new, key, value.to(device))
            elif isinstance(value, LinearOperator):
                setattr(new, key, value.to(device))
            elif isinstance(value, dict) and any(isinstance(v, torch.Tensor) for v in value.values()):
                setattr(new, key, {k: v.to(device) for k, v in value.items()})
        new.device = device
        new._norm_cache = {}
        return new

    def to_dense(self, *, max_entries: int = 50_000_000) -> torch.Tensor:
        """The (m, N) matrix of the operator, by applying it to the standard basis."""
        m, n = self.shape
        if m * n > max_entries:
            raise ValueError(
                f"{type(self).__name__} is {m} x {n} = {m * n} entries, more than "
                f"max_entries={max_entries}; refusing to build it densely"
            )
        eye = torch.eye(n, dtype=self.dtype, device=self.device).reshape(n, *self.in_shape)
        cols = self(eye).reshape(n, m)
        return cols.transpose(0, 1).contiguous()

    def norm(self, *, tol: float = 1e-10, max_iter: int = 10_000, seed: int = 0) -> float:
        """||A||_2: closed form where known, else power iteration on A^*A to relative tol.

        Power iteration approaches ||A|| from below; it stops when the estimate changes by less
        than tol (relative) between iterations, or after max_iter iterations.
        """
        tol = check_scalar("tol", tol, positive=True)
        max_iter = check_int("max_iter", max_iter, minimum=1)
        key = (tol, max_iter, seed)
        cache = self.__dict__.setdefault("_norm_cache", {})
        if key in cache:
            return cache[key]
        exact = self._exact_norm()
        value = exact if exact is not None else power_iteration(self, tol=tol, max_iter=max_iter, seed=seed)
        cache[key] = value
        return value

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(in_shape={self.in_shape}, out_shape={self.out_shape}, "
            f"dtype={self.dtype})"
        )


def power_iteration(*operators: LinearOperator, tol: float = 1e-10, max_iter: int = 10_000, seed: int = 0) -> float:
    """||[A_1; ...; A_k]||_2 = lambda_max(A_1^* A_1 + ... + A_k^* A_k)^(1/2) by the power method.

    v_0 Gaussian (``seed``; complex, with Gaussian real and imaginary parts, when an A_i is),
    v_{j+1} = G v_j / ||G v_j|| with G = sum_i A_i^* A_i, estimate ||G v_j||^(1/2): it approaches
    the norm from below and stops when it changes by at most tol (relative) or after max_iter
    steps (Golub and Van Loan, Matrix Computations, 4th ed., section 7.3.1).
    """
    if not operators or not all(isinstance(op, LinearOperator) for op in operators):
        raise TypeError("power_iteration needs one or more LinearOperators")
    first = operators[0]
    for i, op in enumerate(operators[1:], 1):
        if tuple(op.in_shape) != tuple(first.in_shape):
            raise ValueError(f"operators[{i}] acts on shape {op.in_shape}, operators[0] on {first.in_shape}")
    gen = torch.Generator(device="cpu").manual_seed(seed)
    rdt = real_dtype(first.dtype)
    v = torch.randn(first.in_shape, generator=gen, dtype=rdt)
    if any(op.is_complex for op in operators):
        v = torch.complex(v, torch.randn(first.in_shape, generator=gen, dtype=rdt))
    v = v.to(first.device)
    v = v / torch.linalg.vector_norm(v)
    estimate = 0.0
    with torch.no_grad():
        for _ in range(max_iter):
            w = first.adjoint(first(v))
            for op in operators[1:]:
                w = w + op.adjoint(op(v))
            lam = torch.linalg.vector_norm(w).item()
            if lam == 0.0:
                return 0.0
            v = w / lam
            new = math.sqrt(lam)
            if abs(new - estimate) <= tol * new:
                return new
            estimate = new
    return estimate


def _promote(a: torch.dtype, b: torch.dtype) -> torch.dtype:
    if real_dtype(a) != real_dtype(b):
        raise TypeError(f"operators of different precision cannot be combined: {a} and {b}")
    return complex_dtype(a) if (a.is_complex or b.is_complex) else a


class _Adjoint(LinearOperator):
    def __init__(self, op: LinearOperator):
        self.op = op
        self.in_shape, self.out_shape = op.out_shape, op.in_shape
        self.dtype, self.device = op.dtype, op.device
        self.unitary = op.unitary

    def _forward(self, x):
        return self.op._adjoint(x)

    def _adjoint(self, y):
        return self.op._forward(y)

    @property
    def H(self):
        return self.op

    def _exact_norm(self):
        return self.op.norm()

    def __repr__(self):
        return f"{self.op!r}.H"


class _Pair(LinearOperator):
    """An operator made of two, a and b (a composition, a sum): on their common device, in their
    promoted dtype; ``what`` names the combination in the error for operators on two devices."""

    def __init__(self, a: LinearOperator, b: LinearOperator, in_shape: tuple[int, ...],
                 out_shape: tuple[int, ...], what: str):
        if a.device != b.device:
            raise ValueError(f"cannot {what} operators on {a.device} and {b.device}")
        self.a, self.b = a, b
        self.in_shape, self.out_shape = in_shape, out_shape
        self.dtype, self.device = _promote(a.dtype, b.dtype), a.device


class _Composition(_Pair):
    def __init__(self, a: LinearOperator, b: LinearOperator):
        if tuple(b.out_shape) != tuple(a.in_shape):
            raise ValueError(
                f"cannot compose: the right operator's out_shape {b.out_shape} differs from the "
                f"left operator's in_shape {a.in_shape}"
            )
        super().__init__(a, b, b.in_shape, a.out_shape, "compose")
        self.unitary = a.unitary and b.unitary

    def _forward(self, x):
        return self.a._inner(self.b._inner(x, False), False)

    def _adjoint(self, y):
        return self.b._inner(self.a._inner(y, True), True)

    def _exact_norm(self):
        if self.a.unitary:
            return self.b.norm()
        if self.b.unitary:
            return self.a.norm()
        return None

    def __repr__(self):
        return f"({self.a!r} @ {self.b!r})"


class _Scaled(LinearOperator):
    def __init__(self, op: LinearOperator, c: numbers.Number):
        if isinstance(c, complex) or (isinstance(c, numbers.Complex) and not isinstance(c, numbers.Real)):
            c = complex(c)
            if not (math.isfinite(c.real) and math.isfinite(c.imag)):
                raise ValueError(f"scale must be finite; got {c}")
            if c.imag == 0:
                c = c.real
        else:
            c = check_scalar("scale", c)
        self.op, self.c = op, c
        self.in_shape, self.out_shape = op.in_shape, op.out_shape
        self.groups = op.groups
        self.device = op.device
        self.dtype = complex_dtype(op.dtype) if isinstance(c, complex) else op.dtype

    def _forward(self, x):
        return self.c * self.op._inner(x, False)

    def _adjoint(self, y):
        c = self.c.conjugate() if isinstance(self.c, complex) else self.c
        return c * self.op._inner(y, True)

    def _exact_norm(self):
        return abs(self.c) * self.op.norm()

    def gram_symbol(self):
        symbol = self.op.gram_symbol()
        return None if symbol is None else abs(self.c) ** 2 * symbol

    def __repr__(self):
        return f"{self.c!r} * {self.op!r}"


class _Sum(_Pair):
    def __init__(self, a: LinearOperator, b: LinearOperator):
        if tuple(a.in_shape) != tuple(b.in_shape) or tuple(a.out_shape) != tuple(b.out_shape):
            raise ValueError(
                f"cannot add operators of shapes {a.in_shape}->{a.out_shape} and "
                f"{b.in_shape}->{b.out_shape}"
            )
        super().__init__(a, b, a.in_shape, a.out_shape, "add")

    def _forward(self, x):
        return self.a._inner(x, False) + self.b._inner(x, False)

    def _adjoint(self, y):
        return self.a._inner(y, True) + self.b._inner(y, True)

    def __repr__(self):
        return f"({self.a!r} + {self.b!r})"


def dottest(
    op: LinearOperator,
    *,
    batch: tuple[int, ...] = (),
    tol: float | None = None,
    seed: int = 0,
    raise_error: bool = True,
) -> float:
    """Adjointness check: |<A x, y> - <x, A^* y>| / (||A x|| ||y||) for random x, y.

    x and y are complex (Gaussian real and imaginary parts), which also exercises the C-linear
    extension of real operators. Returns the relative mismatch; with ``raise_error`` an
    AssertionError is raised when it exceeds tol (1e-12 in float64, 1e-5 in float32).
    """
    if not isinstance(op, LinearOperator):
        raise TypeError(f"op must be a LinearOperator; got {type(op).__name__}")
    check_float_dtype("op.dtype", op.dtype)
    rdt = real_dtype(op.dtype)
    if tol is None:
        tol = 1e-12 if rdt == torch.float64 else 1e-5
    gen = torch.Generator(device="cpu").manual_seed(seed)

    def rand(shape):
        re = torch.randn(*batch, *shape, generator=gen, dtype=rdt)
        im = torch.randn(*batch, *shape, generator=gen, dtype=rdt)
        return torch.complex(re, im).to(op.device)

    x, y = rand(op.in_shape), rand(op.out_shape)
    ax, aty = op(x), op.adjoint(y)
    lhs = torch.sum(torch.conj(y) * ax)
    rhs = torch.sum(torch.conj(aty) * x)
    scale = max(
        (torch.linalg.vector_norm(ax) * torch.linalg.vector_norm(y)).item(),
        (torch.linalg.vector_norm(x) * torch.linalg.vector_norm(aty)).item(),
        torch.finfo(rdt).tiny,
    )
    err = abs((lhs - rhs).item()) / scale
    if raise_error and err > tol:
        raise AssertionError(f"dottest failed for {op!r}: relative mismatch {err:.3e} > tol {tol:.1e}")
    return err

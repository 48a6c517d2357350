"""Vertical stacks of image operators: B = [B_1; ...; B_k], outputs concatenated along channels."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .base import LinearOperator, _promote


class Stack(LinearOperator):
    """B x = [B_1 x; ...; B_k x]: images (*, H, W) -> (*, C_1 + ... + C_k, H, W).

    Each B_i maps images of one shape (H, W) to channels (C_i, H, W), or to (H, W) (one channel).
    ||B x||^2 = sum_i ||B_i x||^2, so B^* B = sum_i B_i^* B_i; with weights inside (``mu * TV``)
    a stack is the combined regulariser sum_i ||B_i x||_1. Groups of the l1 norm are each
    operator's own (``LinearOperator.groups``), one channel per group where it has none.
    """

    def __init__(self, operators: Sequence[LinearOperator]):
        ops = list(operators) if isinstance(operators, (list, tuple)) else None
        if not ops:
            raise ValueError("operators must be a non-empty list of LinearOperators")
        for i, op in enumerate(ops):
            if not isinstance(op, LinearOperator):
                raise TypeError(f"operators[{i}] must be a LinearOperator; got {type(op).__name__}")
            if len(op.in_shape) != 2:
                raise ValueError(f"operators[{i}] must act on images (H, W); its in_shape is {op.in_shape}")
            if tuple(op.in_shape) != tuple(ops[0].in_shape):
                raise ValueError(
                    f"operators[{i}] acts on images of shape {op.in_shape}, operators[0] on {ops[0].in_shape}"
                )
            if tuple(op.out_shape) != tuple(op.in_shape) and (
                len(op.out_shape) != 3 or tuple(op.out_shape[1:]) != tuple(op.in_shape)
            ):
                raise ValueError(
                    f"operators[{i}] must map (H, W) to (C, H, W) or (H, W); its out_shape is {op.out_shape}"
                )
            if op.device != ops[0].device:
                raise ValueError(f"operators[{i}] is on {op.device}, operators[0] on {ops[0].device}")
        self.operators = ops
        self.channels = [op.out_shape[0] if len(op.out_shape) == 3 else 1 for op in ops]
        self.in_shape = tuple(ops[0].in_shape)
        self.out_shape = (sum(self.channels), *self.in_shape)
        dtype = ops[0].dtype
        for op in ops[1:]:
            dtype = _promote(dtype, op.dtype)
        self.dtype, self.device = dtype, ops[0].device
        groups: list[int] = []
        for op, c in zip(ops, self.channels, strict=True):
            groups.extend(op.groups if op.groups is not None else (1,) * c)
        self.groups = tuple(groups)

    def _forward(self, x):
        out = torch.empty(*x.shape[:-2], *self.out_shape, dtype=torch.promote_types(x.dtype, self.dtype),
                          device=x.device)
        start = 0
        for op, c in zip(self.operators, self.channels, strict=True):
            part = op._inner(x, False)
            out[..., start : start + c, :, :] = part if part.ndim == out.ndim else part.unsqueeze(-3)
            start += c
        return out

    def _adjoint(self, y):
        total, start = None, 0
        for op, c in zip(self.operators, self.channels, strict=True):
            block = y[..., start : start + c, :, :]
            part = op._inner(block if len(op.out_shape) == 3 else block.squeeze(-3), True)
            total = part if total is None else total + part
            start += c
        return total

    def gram_symbol(self) -> torch.Tensor | None:
        """sum_i s_i when every B_i^* B_i is a Fourier multiplier s_i, else None."""
        symbols = [op.gram_symbol() for op in self.operators]
        if any(s is None for s in symbols):
            return None
        return sum(symbols[1:], symbols[0])

    def __repr__(self) -> str:
        return "Stack([" + ", ".join(repr(op) for op in self.operators) + "])"

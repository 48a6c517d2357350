"""Maps whose worst case is known, shared by the attack tests (a module, not a test file)."""

from __future__ import annotations

import torch


class Switch(torch.nn.Module):
    """f(y) = A^* y + L sigmoid((Re <p, A^* y> - t) / w): a lesion L (in ker A, invisible to the
    samples) that switches on once the measured pattern p (a unit image in range(A^*)) rises by
    about t - Re <p, x> along p."""

    def __init__(self, A, p, L, t, w):
        super().__init__()
        self.A, self.p, self.L, self.t, self.w = A, p, L, t, w

    def forward(self, y):
        z = self.A.adjoint(y)
        s = torch.sigmoid(((self.p.conj() * z).sum(dim=(-2, -1)).real - self.t) / self.w)
        return z + s[..., None, None] * self.L

"""The training-data part of the barrier: K - 1 digits need arbitrarily many training samples, K - 2
need none beyond L (Colbrook, Antun, Hansen, PNAS 2022, Theorem 1 (ii), (iii)), shown on a class
built for it and certified in exact rational arithmetic.

A member of the class is a (P3) problem min lam ||x||_1 + ||A x - y||_2 (lam = 1) with x = (u_f, u_c, v),
u_f, u_c in Q^2, v in Q^N2, and

    A x = (a_f . u_f,  a_c . u_c,  nu v),

a fine row a_f = alpha_K (1, 1) + 2^-(n+1) e_f and a coarse row a_c = alpha_{K-1} (1, 1) + 2^-(n+1) e_c
(alpha_K = r 10^K / 3 with r = 99/70 in place of Omega_K's sqrt 2; nu = 10), and R training samples
(y_k, x_k) with y_k = (0, 0, nu e_p(k)), x_k their minimisers. On the test datum y = (1, 1, 0) the
minimiser is (e_f / a_f[f], e_c / a_c[c], 0): the fine branch f moves it by about 3 10^-K, the coarse
branch c by about 3 10^-(K-1), and neither is visible in A read to precision 2^-n. Every sample but the
M-th is the same for both coarse branches; the M-th has its tail at position N2 - 3 + c, counting from 0
(it reveals c).
The coupling of the coarse branch with one sample is constructed for the demonstration, not found in
natural data; the block that no sample reveals is Omega_K's (part (i)).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cache
from typing import Any

from .._validation import check_int

Q = Fraction
R2 = Q(99, 70)  # Omega_K's sqrt 2, rational: |99/70 - sqrt 2| < 7.3e-5
LAM = Q(1)
NU = Q(10)  # the tail's scale: the tail samples' certificates need nu >= lam sqrt(sparsity)
N2 = 6  # tail dimension: positions 0..N2-3 for the common samples, N2-2 and N2-1 for the revealing one
PRECISIONS = (10, 30, 60, 120)  # input precisions 2^-n of the class's worst cases (float64 resolves n <= ~40)


@cache
def alpha(K: int) -> Fraction:
    """A block's common entry r 10^K / 3 (Omega_K's gamma_1 lam / (1 - delta) with r for sqrt 2)."""
    return R2 * Q(10) ** K / 3


@cache
def bump(n: int) -> Fraction:
    """2^-(n+1): what separates a block's two branches in A, within 2^-n of each other."""
    return Q(1, 2 ** (n + 1))


@dataclass(frozen=True)
class Member:
    """One member of the class: K digits, precision n, fine branch f, coarse branch c (1 or 2), the
    revealing sample's position M among R (1-based)."""

    K: int
    n: int
    f: int
    c: int
    M: int
    R: int

    @property
    def fine(self) -> tuple[Fraction, Fraction]:
        a = alpha(self.K)
        return (a + bump(self.n), a) if self.f == 1 else (a, a + bump(self.n))

    @property
    def coarse(self) -> tuple[Fraction, Fraction]:
        a = alpha(self.K - 1)
        return (a + bump(self.n), a) if self.c == 1 else (a, a + bump(self.n))

    @property
    def N(self) -> int:
        return 4 + N2

    def matrix(self) -> list[list[Fraction]]:
        """A as a dense (2 + N2) x (4 + N2) rational matrix."""
        rows = [[Q(0)] * self.N for _ in range(2 + N2)]
        rows[0][0], rows[0][1] = self.fine
        rows[1][2], rows[1][3] = self.coarse
        for i in range(N2):
            rows[2 + i][4 + i] = NU
        return rows

    def test_datum(self) -> list[Fraction]:
        return [Q(1), Q(1)] + [Q(0)] * N2

    def minimiser(self) -> list[Fraction]:
        """(e_f / a_f[f], e_c / a_c[c], 0): the minimiser of (P3) on the test datum (``certificate``)."""
        x = [Q(0)] * self.N
        x[self.f - 1] = 1 / self.fine[self.f - 1]
        x[2 + self.c - 1] = 1 / self.coarse[self.c - 1]
        return x

    def position(self, k: int) -> int:
        """The tail position of sample k (1-based): N2 - 2 + c - 1 for the revealing one, else cyclic
        over 0..N2-3, the same for both branches."""
        return N2 - 3 + self.c if k == self.M else (k - 1) % (N2 - 2)

    def sample(self, k: int) -> tuple[list[Fraction], list[Fraction]]:
        """Training sample k: y_k = (0, 0, nu e_p) and its minimiser x_k = (0, 0, e_p)."""
        p = self.position(k)
        y: list[Fraction] = [Q(0)] * (2 + N2)
        y[2 + p] = NU
        x: list[Fraction] = [Q(0)] * self.N
        x[4 + p] = Q(1)
        return y, x


def member(K: int, n: int, *, f: int = 1, c: int = 1, M: int = 1, R: int = 64) -> Member:
    """A member of the class, checked: K >= 3 (K - 2 >= 1 digits), n >= 1, branches 1 or 2, 1 <= M <= R."""
    K = check_int("K", K, minimum=3)
    n = check_int("n", n, minimum=1)
    R = check_int("R", R, minimum=1)
    M = check_int("M", M, minimum=1)
    if M > R:
        raise ValueError(f"M must be at most R = {R}; got {M}")
    for name, b in (("f", f), ("c", c)):
        if b not in (1, 2):
            raise ValueError(f"{name} must be 1 or 2 (a branch); got {b!r}")
    return Member(K, n, f, c, M, R)


# ------------------------------------------------------------------ exact certificates


def _matvec(A: list[list[Fraction]], x: list[Fraction]) -> list[Fraction]:
    return [sum((a * b for a, b in zip(row, x, strict=True)), Q(0)) for row in A]


def _rmatvec(A: list[list[Fraction]], w: list[Fraction]) -> list[Fraction]:
    return [sum((A[i][j] * w[i] for i in range(len(A))), Q(0)) for j in range(len(A[0]))]


def _sign(v: Fraction) -> int:
    return (v > 0) - (v < 0)


@dataclass(frozen=True)
class Certificate:
    """A dual certificate that x minimises lam ||x||_1 + ||A x - y||_2 with A x = y exactly: a w with
    ||w||_2 <= 1 and A^T w = -lam g, g_j = sign(x_j) on the support and |g_j| <= 1 off it. ``unique``:
    ||w||_2 < 1, |g_j| < 1 off the support and A injective on it (each support column the only one in
    its row)."""

    w: list[Fraction] = field(repr=False)
    norm2: Fraction  # ||w||^2
    fits: bool  # A x = y exactly
    optimal: bool
    unique: bool


def certificate(A: list[list[Fraction]], x: list[Fraction], y: list[Fraction], lam: Fraction = LAM) -> Certificate:
    """The exact-fit certificate w_r = -lam sign(x_j) / A[r][j] for each support column j, r its one
    nonzero row (0 elsewhere), verified entry by entry in rational arithmetic."""
    support = [j for j, v in enumerate(x) if v != 0]
    w = [Q(0)] * len(A)
    rows_used = set()
    separable = True
    for j in support:
        rows = [r for r in range(len(A)) if A[r][j] != 0]
        if len(rows) != 1 or rows[0] in rows_used:
            separable = False
            continue
        rows_used.add(rows[0])
        w[rows[0]] = -lam * _sign(x[j]) / A[rows[0]][j]
    fits = _matvec(A, x) == list(y)
    g = [-v / lam for v in _rmatvec(A, w)]
    norm2 = sum((v * v for v in w), Q(0))
    on = all(g[j] == _sign(x[j]) for j in support)
    off = [abs(g[j]) for j in range(len(x)) if j not in support]
    optimal = separable and fits and norm2 <= 1 and on and all(v <= 1 for v in off)
    return Certificate(w, norm2, fits, optimal, optimal and norm2 < 1 and all(v < 1 for v in off))


def digits(err2: Fraction) -> int | None:
    """Correct digits of an output whose squared error is err2: the largest k with err <= 10^-k
    (None for err = 0), compared exactly as err2 <= 10^-2k."""
    if err2 == 0:
        return None
    k = 0
    while err2 > Q(10) ** (-2 * k):
        k -= 1
    while err2 <= Q(10) ** (-2 * (k + 1)):
        k += 1
    return k


def squared_distance(a: list[Fraction], b: list[Fraction]) -> Fraction:
    return sum(((p - q) ** 2 for p, q in zip(a, b, strict=True)), Q(0))


# ------------------------------------------------------------------ the algorithms


def _midpoint_block(a: Fraction) -> tuple[Fraction, Fraction]:
    """The midpoint of a block's two candidates e_1 / a and e_2 / a, from its entry a read to 2^-n."""
    return 1 / (2 * a), 1 / (2 * a)


def reading_network(m: Member, budget: int, order: list[int] | None = None) -> tuple[list[Fraction], int]:
    """The network computed by the algorithm that reads training samples (in ``order``, default
    1, 2, ...) until the revealing one or ``budget`` of them, and A to precision 2^-n (its common
    entries: the bumps lie below that precision): the fine block's midpoint, and the coarse block's
    candidate e_c / (alpha + 2^-(n+1)) once a sample's tail shows c, its midpoint otherwise. Returns its
    output on the test datum and the samples it read. ``budget`` 0 is the midpoint network."""
    order = list(range(1, m.R + 1)) if order is None else order
    x = [Q(0)] * m.N
    x[0], x[1] = _midpoint_block(alpha(m.K))
    x[2], x[3] = _midpoint_block(alpha(m.K - 1))
    read = 0
    for k in order[:budget]:
        read += 1
        y, _ = m.sample(k)
        tail = next(i for i, v in enumerate(y[2:]) if v != 0)
        if tail >= N2 - 2:  # the revealing sample: the coarse branch is tail - (N2 - 3)
            c = tail - (N2 - 3)
            x[2], x[3] = Q(0), Q(0)
            x[2 + c - 1] = 1 / (alpha(m.K - 1) + bump(m.n))
            break
    return x, read


@dataclass(frozen=True)
class AlgorithmRow:
    """One algorithm on the class with fixed K, R, M: samples read, the worst error over the members
    (both branches of both blocks, every precision in ``precisions``) and its correct digits."""

    algorithm: str
    read: int
    worst_error: float
    worst_err2: Fraction = field(repr=False)
    digits: int | None
    exact: bool  # evaluated in rational arithmetic (False: a float64 network, its error measured in float64)
    note: str = ""


def worst_case(K: int, M: int, R: int, budget: int, precisions=PRECISIONS) -> tuple[Fraction, int]:
    """The reading network with ``budget`` samples: its worst squared error over the members and the
    most samples it read."""
    worst, most = Q(0), 0
    for n in precisions:
        for f in (1, 2):
            for c in (1, 2):
                m = member(K, n, f=f, c=c, M=M, R=R)
                x, read = reading_network(m, budget)
                worst = max(worst, squared_distance(x, m.minimiser()))
                most = max(most, read)
    return worst, most


# ------------------------------------------------------------------ the lower bounds


@dataclass(frozen=True)
class Pair:
    """Two members that no algorithm reading A to 2^-n tells apart without reading sample M (the coarse
    block; the fine one with no sample at all): ``same_samples`` leading samples equal (M - 1; all R for
    the fine block), ``differing`` the samples that differ, ``max_entry`` = max |A - A'|,
    the squared distance of their minimisers and whether it exceeds (2 10^-k)^2 (k = K - 1 for the
    coarse block, K for the fine one): an output within 10^-k of one is farther than 10^-k from the other."""

    block: str
    K: int
    n: int
    M: int
    same_samples: int
    differing: tuple[int, ...]  # the samples (1-based) that differ between the two: (M,) or none
    max_entry: Fraction
    distance2: Fraction
    separated: bool
    certified: bool  # both minimisers certified by ``certificate``

    @property
    def distance(self) -> float:
        return float(self.distance2) ** 0.5


def indistinguishable(K: int, n: int, M: int, R: int, block: str = "coarse") -> Pair:
    """The coarse pair (c = 1, 2) for the lower bound of (ii), or the fine pair (f = 1, 2) for (i)."""
    if block not in ("coarse", "fine"):
        raise ValueError(f"block must be 'coarse' or 'fine'; got {block!r}")
    if block == "coarse":
        one, two = member(K, n, f=1, c=1, M=M, R=R), member(K, n, f=1, c=2, M=M, R=R)
    else:
        one, two = member(K, n, f=1, c=1, M=M, R=R), member(K, n, f=2, c=1, M=M, R=R)
    differing = tuple(k for k in range(1, R + 1) if one.sample(k) != two.sample(k))
    same = differing[0] - 1 if differing else R
    A1, A2 = one.matrix(), two.matrix()
    gap = max(abs(p - q) for r1, r2 in zip(A1, A2, strict=True) for p, q in zip(r1, r2, strict=True))
    d2 = squared_distance(one.minimiser(), two.minimiser())
    k = K - 1 if block == "coarse" else K
    certified = all(certificate(m.matrix(), m.minimiser(), m.test_datum()).unique for m in (one, two))
    return Pair(block, K, n, M, same, differing, gap, d2, d2 > 4 * Q(1, 10 ** (2 * k)), certified)


def success_probability(q: int, R: int) -> Fraction:
    """The most any algorithm reading q of the R samples can succeed (K - 1 digits) with, M uniform
    on 1..R and the coarse branch uniform: it reads the revealing sample with probability q / R and
    otherwise faces two members it cannot tell apart, (1 + q / R) / 2."""
    return (1 + Q(q, R)) / 2


def simulate(K: int, q: int, R: int, *, trials: int = 4000, seed: int = 0, n: int = 30) -> float:
    """The reading network with q samples read in a random order, on members with M and c drawn
    uniformly; where it has not read the revealing sample it guesses a branch at random and gives
    its candidate. The fraction of trials with K - 1 correct digits (by the exact error)."""
    rng = random.Random(seed)
    wins = 0
    judged: dict[tuple, bool] = {}  # (f, c, the output's blocks) -> K - 1 digits, decided exactly once
    for _ in range(trials):
        m = member(K, n, f=rng.choice((1, 2)), c=rng.choice((1, 2)), M=rng.randint(1, R), R=R)
        order = rng.sample(range(1, R + 1), q)
        x, _ = reading_network(m, q, order)
        if x[2] == x[3]:  # not revealed: a guess between the two candidates
            g = rng.choice((1, 2))
            x[2], x[3] = Q(0), Q(0)
            x[2 + g - 1] = 1 / (alpha(K - 1) + bump(n))
        key = (m.f, m.c, *x[:4])
        if key not in judged:
            d = digits(squared_distance(x, m.minimiser()))
            judged[key] = d is None or d >= K - 1
        wins += judged[key]
    return wins / trials


# ------------------------------------------------------------------ float64 networks beside them


def _float_matrix(m: Member):
    import torch

    return torch.tensor([[float(v) for v in row] for row in m.matrix()], dtype=torch.float64)


def _firenet_error(m: Member, given: Member, outputs: dict | None = None) -> tuple[float, bool]:
    """FIRENET run on ``given``'s matrix (within 2^-n of m's) in float64, its error to m's minimiser;
    and whether float64 tells the two matrices apart. ``outputs`` caches the output per float64
    matrix (beyond float64's resolution the members' matrices coincide)."""
    import torch

    from ..nets import FIRENET
    from ..operators import Matrix

    A, B = _float_matrix(m), _float_matrix(given)
    key = B.numpy().tobytes()
    if outputs is None or key not in outputs:
        net = FIRENET(Matrix(B), lam=float(LAM), L_A=float(torch.linalg.matrix_norm(B, ord=2)), restarts=30,
                      inner=50, delta=1e-6)
        with torch.no_grad():
            out = net(torch.tensor([float(v) for v in m.test_datum()], dtype=torch.float64))
        if outputs is None:
            outputs = {}
        outputs[key] = out
    truth = torch.tensor([float(v) for v in m.minimiser()], dtype=torch.float64)
    return float(torch.linalg.vector_norm(outputs[key] - truth)), not torch.equal(A, B)


def firenet_row(K: int, M: int, R: int, precisions=PRECISIONS) -> AlgorithmRow:
    """FIRENET (30 restarts x 50 layers), which reads no sample: given, for each member, the matrix of
    the member with both branches swapped (within 2^-n of it), the worst error over the class."""
    worst, unresolved, outputs = 0.0, [], {}
    for n in precisions:
        for f in (1, 2):
            for c in (1, 2):
                m = member(K, n, f=f, c=c, M=M, R=R)
                err, resolved = _firenet_error(m, member(K, n, f=3 - f, c=3 - c, M=M, R=R), outputs)
                worst = max(worst, err)
                if not resolved and n not in unresolved:
                    unresolved.append(n)
    note = (f"at n = {', '.join(map(str, unresolved))} the bump lies below float64's resolution of the entries: "
            "the true and the swapped member round to the same matrix, the one without the bump" if unresolved else "")
    e2 = Q(worst) ** 2
    return AlgorithmRow("FIRENET (float64)", 0, worst, e2, digits(e2), False, note)


def lista_row(K: int, M: int, R: int, *, n: int = 30, epochs: int = 300, seed: int = 0) -> AlgorithmRow:
    """LISTA (10 layers) trained in float64 on all R training pairs of each member (n = ``n``), on the
    test datum: it reads every sample, yet what the samples teach is the tail block; the worst error
    over the four branch members."""
    import torch

    from ..nets import LISTA
    from .lista_training import train

    worst = 0.0
    for f in (1, 2):
        for c in (1, 2):
            m = member(K, n, f=f, c=c, M=M, R=R)
            xs, ys = zip(*(m.sample(k)[::-1] for k in range(1, R + 1)), strict=True)
            X = torch.tensor([[float(v) for v in x] for x in xs], dtype=torch.float64)[None]
            Y = torch.tensor([[float(v) for v in y] for y in ys], dtype=torch.float64)[None]
            net = LISTA(_float_matrix(m)[None], seed=seed)
            train(net, X, Y, X, Y, lr=1e-3, epochs=epochs, batch=R, seed=seed, progress=False)
            with torch.no_grad():
                out = net(torch.tensor([[[float(v) for v in m.test_datum()]]], dtype=torch.float64))[0, 0]
            truth = torch.tensor([float(v) for v in m.minimiser()], dtype=torch.float64)
            worst = max(worst, float(torch.linalg.vector_norm(out - truth)))
    e2 = Q(worst) ** 2
    return AlgorithmRow("LISTA trained on the R samples (float64)", R, worst, e2, digits(e2), False,
                        f"n = {n}, {epochs} epochs, Adam lr 1e-3")


# ------------------------------------------------------------------ the experiment


@dataclass
class BarrierResult:
    """``run``'s result: per M the algorithms' rows and the coarse pair, the fine pair, the staircase
    (digits against samples read for M = ``staircase_M``), the success probabilities against their
    simulation, and the claims they support."""

    K: int
    L: int
    R: int
    precisions: tuple[int, ...]
    rows: dict[int, list[AlgorithmRow]]
    pairs: dict[int, Pair]
    fine_pair: Pair
    staircase_M: int
    staircase: list[tuple[int, int | None]]
    probabilities: list[tuple[int, Fraction, float]]
    trials: int
    seconds: float = 0.0

    def claims(self) -> dict[str, bool]:
        """The theorem's structure, each as measured: (i) no network here reaches K digits and the
        fine pair (all samples equal, A within 2^-n) is certified apart; (ii) the reading network reaches
        K - 1 with M samples, and each coarse pair differs only in sample M, with A within 2^-n, and is
        certified apart, so an algorithm that does not read sample M fails on one of the two (with M
        chosen against it, or M uniform: ``success_probability``); (iii) the midpoint network reaches
        K - 2 within L; the staircase; the simulated success rates lie within 4 standard errors of
        (1 + q / R) / 2."""
        K = self.K
        exact = [r for rows in self.rows.values() for r in rows if r.exact]
        mid = [r for rows in self.rows.values() for r in rows if r.algorithm.startswith("midpoint")]
        reading = [r for rows in self.rows.values() for r in rows if r.algorithm == "reading network"]
        std = [(float(p) * (1 - float(p)) / self.trials) ** 0.5 for _, p, _ in self.probabilities]
        fine = self.fine_pair
        return {
            "(i) no algorithm reaches K digits": all(r.digits is not None and r.digits < K for r in exact)
            and fine.separated and fine.certified and not fine.differing and fine.max_entry < Q(1, 2**fine.n),
            "(ii) K - 1 digits with M samples": all(r.digits == K - 1 and r.read == M
                                                    for M, rows in self.rows.items() for r in rows
                                                    if r.algorithm == "reading network") and bool(reading),
            "(ii) without sample M, K - 1 digits fail on one of a pair": all(
                p.separated and p.certified and p.differing == (p.M,) and p.max_entry < Q(1, 2**p.n)
                for p in self.pairs.values()),
            "(iii) K - 2 digits within L samples": all(r.digits == K - 2 and r.read <= self.L for r in mid),
            "staircase": all(d == (K - 1 if q >= self.staircase_M else K - 2) for q, d in self.staircase),
            "success probability": all(abs(s - float(p)) <= 4 * e + 1e-12
                                       for (_, p, s), e in zip(self.probabilities, std, strict=True)),
        }

    def summary(self) -> dict[str, Any]:
        def row(r: AlgorithmRow) -> dict:
            return {"algorithm": r.algorithm, "read": r.read, "worst_error": r.worst_error, "digits": r.digits,
                    "exact": r.exact, "note": r.note}

        def pair(p: Pair) -> dict:
            return {"block": p.block, "n": p.n, "M": p.M, "same_samples": p.same_samples, "differing": list(p.differing),
                    "max_entry_difference": str(p.max_entry), "distance": p.distance, "distance2": str(p.distance2),
                    "separated": p.separated, "certified": p.certified}

        return {"K": self.K, "L": self.L, "R": self.R, "precisions": list(self.precisions),
                "rows": {str(M): [row(r) for r in rs] for M, rs in self.rows.items()},
                "pairs": {str(M): pair(p) for M, p in self.pairs.items()}, "fine_pair": pair(self.fine_pair),
                "staircase": {"M": self.staircase_M, "points": [[q, d] for q, d in self.staircase]},
                "success": [{"read": q, "exact": str(p), "exact_value": float(p), "simulated": s}
                            for q, p, s in self.probabilities],
                "trials": self.trials, "claims": self.claims(), "seconds": self.seconds}


def run(*, K: int = 3, L: int = 2, R: int = 64, Ms: tuple[int, ...] | None = None, precisions=PRECISIONS,
        networks: bool = True, trials: int = 4000, seed: int = 0) -> BarrierResult:
    """The demonstration for K digits, L samples, R training samples: for each M in ``Ms`` (default
    L + 1, R / 2, R) the midpoint network (reads none of the samples: at most L), the reading network
    (M), the reading network one sample short (M - 1); with ``networks``, FIRENET and trained LISTA at
    M = max(L + 1, R / 2); the coarse pair per M and the fine pair; the staircase at that M; the
    success probability of reading q samples at random against ``trials`` simulated runs."""
    import time

    t0 = time.perf_counter()
    K = check_int("K", K, minimum=3)
    L = check_int("L", L, minimum=0)
    R = check_int("R", R, minimum=1)
    if L >= R:
        raise ValueError(f"L must be below R = {R} (the revealing sample lies beyond the first L); got {L}")
    trials = check_int("trials", trials, minimum=1)
    precisions = tuple(check_int("n", n, minimum=1) for n in precisions)
    if Ms is None:
        Ms = tuple(sorted({L + 1, max(L + 1, R // 2), R}))
    Ms = tuple(check_int("M", M, minimum=1) for M in Ms)
    for M in Ms:
        if not L < M <= R:
            raise ValueError(f"every M must satisfy L < M <= R ({L} < M <= {R}); got {M}")
    rows: dict[int, list[AlgorithmRow]] = {}
    pairs: dict[int, Pair] = {}
    S = max(L + 1, R // 2)  # the staircase's M, and where the float64 networks run
    if networks and S not in Ms:
        Ms = tuple(sorted({*Ms, S}))
    for M in Ms:
        out = []
        for name, budget in (("midpoint network", 0), ("reading network", M), ("reading network, one short", M - 1)):
            e2, read = worst_case(K, M, R, budget, precisions)
            out.append(AlgorithmRow(name, read, float(e2) ** 0.5, e2, digits(e2), True))
        if networks and M == S:  # the float64 networks beside them, at one M (FIRENET reads no sample)
            out.append(firenet_row(K, M, R, precisions))
            out.append(lista_row(K, M, R, seed=seed))
        rows[M] = out
        pairs[M] = indistinguishable(K, max(precisions), M, R)
    fine = indistinguishable(K, max(precisions), Ms[0], R, block="fine")
    stair = [(q, digits(worst_case(K, S, R, q, precisions)[0])) for q in range(0, R + 1)]
    qs = sorted({0, L, R // 4, R // 2, 3 * R // 4, R})
    probs = [(q, success_probability(q, R), simulate(K, q, R, trials=trials, seed=seed + q)) for q in qs]
    return BarrierResult(K, L, R, precisions, rows, pairs, fine, S, stair, probs, trials,
                         time.perf_counter() - t0)


def text(result: BarrierResult) -> str:
    """The table (K, R, M, algorithm, samples read, worst error over the class, correct digits), the
    pairs, the success probabilities and the claims, as plain text."""
    K, R = result.K, result.R
    lines = [f"K = {K}, L = {result.L}, R = {R}; worst error over the class: both branches of both blocks, "
             f"n in {', '.join(map(str, result.precisions))}",
             f"{'K':>2} {'R':>4} {'M':>4}  {'algorithm':42} {'read':>5} {'worst error':>12} {'digits':>6}"]
    for M, rs in result.rows.items():
        for r in rs:
            lines.append(f"{K:>2} {R:>4} {M:>4}  {r.algorithm:42} {r.read:>5} {r.worst_error:12.4e} "
                         f"{'exact' if r.digits is None else r.digits:>6}" + (f"  ({r.note})" if r.note else ""))
    lines.append("")
    lines.append("pairs no algorithm tells apart without reading the sample that differs (A within 2^-(n+1) entrywise):")
    for p in [*result.pairs.values(), result.fine_pair]:
        k = K - 1 if p.block == "coarse" else K
        gap = f"2^-{p.n + 1}" if p.max_entry == bump(p.n) else f"{float(p.max_entry):.3g}"
        differ = f"only sample {p.differing[0]} differs" if p.differing else "every sample equal"
        lines.append(f"  {p.block:6} M = {p.M:>3}: {differ}, max |A - A'| = {gap}, "
                     f"minimisers {p.distance:.6e} apart ({'>' if p.separated else '<='} 2 10^-{k}), "
                     f"{'certified' if p.certified else 'NOT certified'}")
    lines.append("")
    lines.append(f"success (K - 1 digits) reading q of {R} samples at random, M uniform: exact (1 + q/R)/2 "
                 f"against {result.trials} simulated runs")
    for q, p, s in result.probabilities:
        lines.append(f"  q = {q:>3}: exact {float(p):.4f}  simulated {s:.4f}")
    lines.append("")
    for claim, ok in result.claims().items():
        lines.append(f"  {'holds' if ok else 'FAILS'}: {claim}")
    return "\n".join(lines)

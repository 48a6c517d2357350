"""The training-data barrier (barriers.samples): the class's minimisers certified and checked by a
second, independent argument; every distance recomputed in mpmath from its closed form; the
staircase for K = 3, 4, 6 and L = 1, 2; the success probability against its formula; the command."""

from __future__ import annotations

import json
import random
from fractions import Fraction as Q

import pytest

from firenets.barriers import samples as S
from firenets.cli import main


def _objective_gap(m: S.Member, x, d) -> bool:
    """lam ||x + d||_1 + ||A (x + d) - y|| >= lam ||x||_1 + ||A x - y|| for x with A x = y, decided
    exactly: ||A d|| >= lam (||x||_1 - ||x + d||_1), by squares where the right side is positive."""
    A = m.matrix()
    Ad = [sum((a * b for a, b in zip(row, d, strict=True)), Q(0)) for row in A]
    drop = S.LAM * (sum(abs(v) for v in x) - sum(abs(p + q) for p, q in zip(x, d, strict=True)))
    return drop <= 0 or sum(v * v for v in Ad) >= drop * drop


@pytest.mark.parametrize("K", [3, 6])
def test_minimisers_are_certified_and_no_perturbation_does_better(K):
    """The exact-fit dual certificate (||w|| <= 1, A^T w = -lam g) holds, strictly off the support; a
    second argument: no random rational perturbation lowers the objective (decided exactly); the
    other branch's candidate fits the data too but fails the certificate."""
    rng = random.Random(K)
    for n in (10, 60):
        for f in (1, 2):
            for c in (1, 2):
                m = S.member(K, n, f=f, c=c, M=3, R=8)
                x = m.minimiser()
                cert = S.certificate(m.matrix(), x, m.test_datum())
                assert cert.fits and cert.optimal and cert.unique and cert.norm2 <= 1
                for _ in range(40):
                    scale = Q(1, 10 ** rng.randint(K + 2, K + 12))
                    d = [scale * Q(rng.randint(-1000, 1000), 1000) for _ in x]
                    assert _objective_gap(m, x, d)
                wrong = [Q(0)] * m.N
                wrong[2 - f] = 1 / m.fine[2 - f]  # the other fine branch's candidate
                wrong[2 + c - 1] = x[2 + c - 1]
                other = S.certificate(m.matrix(), wrong, m.test_datum())
                assert other.fits and not other.optimal
                # and it is strictly worse: a perturbation towards the certified minimiser lowers it
                assert not _objective_gap(m, wrong, [p - q for p, q in zip(x, wrong, strict=True)])
    for k in range(1, 9):  # every training sample's minimiser, certified
        m = S.member(K, 30, c=2, M=5, R=8)
        y, xk = m.sample(k)
        assert S.certificate(m.matrix(), xk, y).unique


@pytest.mark.parametrize("K", [3, 4, 6])
def test_pair_distances_agree_with_mpmath_closed_forms(K):
    """The coarse pair's squared distance is 2 / (alpha_{K-1} + b)^2 and the fine pair's 2 / (alpha_K + b)^2
    (b = 2^-(n+1)); recomputed in mpmath at 80 digits from those closed forms they agree with the
    rational values to 1e-70, and both exceed (2 10^-k)^2."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 80
    for n in (10, 120):
        b = mpmath.mpf(2) ** (-(n + 1))
        for block, k, a in (("coarse", K - 1, K - 1), ("fine", K, K)):
            p = S.indistinguishable(K, n, 5, 16, block=block)
            alpha = mpmath.mpf(99) / 70 * mpmath.mpf(10) ** a / 3
            closed = 2 / (alpha + b) ** 2
            assert abs(mpmath.mpf(p.distance2.numerator) / p.distance2.denominator - closed) < mpmath.mpf(10) ** -70 * closed
            assert p.separated and p.certified and closed > 4 * mpmath.mpf(10) ** (-2 * k)
            assert p.max_entry == Q(1, 2 ** (n + 1))
            assert p.same_samples == (4 if block == "coarse" else 16)
            assert p.differing == ((5,) if block == "coarse" else ())  # every other sample equal


def test_digits_decided_exactly():
    assert S.digits(Q(1, 100)) == 1  # error 0.1 <= 10^-1
    assert S.digits(Q(1, 100) + Q(1, 10**30)) == 0
    assert S.digits(Q(1, 10**6)) == 3
    assert S.digits(Q(4)) == -1  # error 2 <= 10
    assert S.digits(Q(0)) is None


@pytest.mark.parametrize("K", [3, 4, 6])
@pytest.mark.parametrize("L", [1, 2])
def test_staircase_and_every_claim(K, L):
    """K - 2 digits until the revealing sample, K - 1 from it, never K; the midpoint network within L;
    the worst errors equal their closed forms (half the pair distances, combined)."""
    res = S.run(K=K, L=L, R=16, networks=False, trials=400)
    assert all(res.claims().values()), res.claims()
    M = res.staircase_M
    assert [d for q, d in res.staircase] == [K - 2] * M + [K - 1] * (16 - M + 1)
    for M_, rows in res.rows.items():
        by = {r.algorithm: r for r in rows}
        assert by["reading network"].read == M_ and by["reading network"].digits == K - 1
        assert by["reading network, one short"].digits == K - 2 and by["midpoint network"].read == 0
    mpmath = pytest.importorskip("mpmath")  # a dependency of torch (through sympy)
    mpmath.mp.dps = 50
    aK, aK1 = (mpmath.mpf(99) / 70 * mpmath.mpf(10) ** k / 3 for k in (K, K - 1))
    b = mpmath.mpf(2) ** (-(max(res.precisions) + 1))
    # the midpoint misses e_1 / (a + b) by (1/(2a) - 1/(a + b), 1/(2a)) in each block: worst at the smallest n
    block = lambda a: (1 / (2 * a) - 1 / (a + b)) ** 2 + 1 / (4 * a * a)  # noqa: E731
    mid = res.rows[M][0]
    assert float(mid.worst_err2) == pytest.approx(float(block(aK) + block(aK1)), rel=1e-12)
    assert float(res.rows[M][1].worst_err2) == pytest.approx(float(block(aK)), rel=1e-12)


def test_success_probability_formula_and_simulation():
    assert S.success_probability(0, 64) == Q(1, 2) and S.success_probability(64, 64) == 1
    assert S.success_probability(16, 64) == Q(5, 8)
    for q in (0, 8, 24, 32):
        p = float(S.success_probability(q, 32))
        s = S.simulate(3, q, 32, trials=3000, seed=q)
        assert abs(s - p) <= 4 * (p * (1 - p) / 3000) ** 0.5 + 1e-12


def test_bad_arguments():
    with pytest.raises(ValueError, match="K"):
        S.member(2, 10)
    with pytest.raises(ValueError, match="M"):
        S.member(3, 10, M=9, R=8)
    with pytest.raises(ValueError, match="c"):
        S.member(3, 10, c=3)
    with pytest.raises(ValueError, match="L"):
        S.run(K=3, L=8, R=8, networks=False)
    with pytest.raises(ValueError, match="M"):
        S.run(K=3, L=2, R=8, Ms=(2,), networks=False)


def test_barrier_command(tmp_path, capsys):
    out = tmp_path / "bar"
    assert main(["barrier", "--K", "4", "--L", "1", "--R", "12", "--trials", "300", "--no-networks",
                 "--out", str(out)]) == 0
    record = json.loads((out / "barrier.json").read_text())
    assert record["K"] == 4 and all(record["claims"].values())
    assert (out / "barrier.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "holds: staircase" in (out / "barrier.txt").read_text()
    assert "holds: (ii) without sample M, K - 1 digits fail on one of a pair" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        main(["barrier", "--K", "2", "--out", str(tmp_path / "x")])
    assert e.value.code == 2
    assert "--K" in capsys.readouterr().err


def test_float64_networks_beside_them():
    """FIRENET (given the swapped member's matrix) and LISTA (trained on the samples) on the class:
    neither reaches K - 1 digits without the revealing sample's use, and float64's limit is named."""
    res = S.run(K=3, L=2, R=8, networks=True, trials=100)
    rows = {r.algorithm: r for r in res.rows[res.staircase_M]}
    fire = rows["FIRENET (float64)"]
    assert fire.read == 0 and fire.digits is not None and fire.digits <= 1
    assert "below float64" in fire.note and "60" in fire.note
    lista = next(r for name, r in rows.items() if name.startswith("LISTA"))
    assert lista.read == 8 and lista.digits is not None and lista.digits < 3

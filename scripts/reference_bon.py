#!/usr/bin/env python3
"""High-precision reference values for the exact best-of-N and quantilizer solvers.

Writes tests/fixtures/bon_reference.json. Every number is computed with mpmath at 60 significant
digits from the f64 inputs taken exactly (mpf(float) is exact), directly from the definitions:

  best-of-N:   P_N(C) = F(C)^N - F(C-)^N,  P_N(x) = pi0(x)/pi0(C) P_N(C)
               KL = sum_C P_N(C) log(P_N(C)/pi0(C))
               half-tie win rate = sum_C P_N(C) (F(C-) + pi0(C)/2), strict = sum_C P_N(C) F(C-)
  quantilizer: top-q mass by reward, boundary class kept in proportion (q - M)/pi0(b).

F^N is evaluated as exp(N log F) in 60-digit arithmetic, so N = 10^12 and 10^15 lose nothing.
Run: python3 scripts/reference_bon.py  (needs mpmath).
"""
import json
from pathlib import Path

import mpmath as mp

mp.mp.dps = 60


def classes(base, reward):
    """Support grouped by reward, increasing: list of (reward, [indices], mass)."""
    groups = {}
    for i, (p, r) in enumerate(zip(base, reward)):
        if p > 0:
            groups.setdefault(r + 0.0, []).append(i)
    total = mp.fsum(mp.mpf(p) for p in base)
    out = []
    for r in sorted(groups):
        idx = groups[r]
        out.append((r, idx, mp.fsum(mp.mpf(base[i]) for i in idx) / total))
    return out, total


def best_of_n(base, reward, n):
    cls, total = classes(base, reward)
    n = mp.mpf(n)
    policy = [mp.mpf(0)] * len(base)
    below = mp.mpf(0)
    e = kl = win = strict = mp.mpf(0)
    for r, idx, m in cls:
        hi = below + m
        pc = mp.exp(n * mp.log(hi)) - (mp.exp(n * mp.log(below)) if below > 0 else 0)
        for i in idx:
            policy[i] = mp.mpf(base[i]) / total / m * pc
        if pc > 0:
            e += pc * r
            kl += pc * mp.log(pc / m)
            win += pc * (below + m / 2)
            strict += pc * below
        below = hi
    bound = mp.log(n) - (n - 1) / n
    return {
        "solver": "best_of_n", "base": base, "reward": reward, "n": int(n),
        "policy": [float(p) for p in policy], "expected_reward": float(e), "kl": float(kl),
        "kl_bound": float(bound), "win_rate_half_ties": float(win),
        "win_rate_strict": float(strict),
    }


def quantilize(base, reward, q):
    cls, total = classes(base, reward)
    qm = mp.mpf(q)
    policy = [mp.mpf(0)] * len(base)
    above = mp.mpf(0)
    e = kl = mp.mpf(0)
    for r, idx, m in reversed(cls):
        keep = min(m, qm - above)
        if keep <= 0:
            break
        frac = keep / m
        for i in idx:
            policy[i] = mp.mpf(base[i]) / total * frac / qm
        e += keep * r / qm
        kl += keep / qm * mp.log(frac / qm)
        above += m
    return {
        "solver": "quantilizer", "base": base, "reward": reward, "q": q,
        "policy": [float(p) for p in policy], "expected_reward": float(e), "kl": float(kl),
    }


BON_CASES = [
    ([0.5, 0.5], [0.0, 1.0], [1, 2, 3, 10, 10**6, 10**12, 10**15]),
    ([0.1, 0.2, 0.3, 0.4], [0.0, 1.0, 1.0, 2.0], [1, 2, 7, 1000, 10**12]),   # a tie class
    ([0.5, 0.0, 0.5], [1.0, 5.0, 0.0], [1, 2, 3, 10**12]),                    # a zero in the base
    ([0.25, 0.25, 0.25, 0.25], [3.0, 3.0, 3.0, 3.0], [1, 5, 10**15]),         # constant reward
    # Near-degenerate bases use dyadic masses (2^-43 ~ 1.1e-13), so that the f64 inputs sum to 1
    # exactly and the problem is well defined to all digits (a mass like 1 - 1e-13 is itself
    # rounded at 1e-16 absolute, which moves a KL of size 1e-13 at the third digit).
    ([1.0 - 2.0**-43, 2.0**-43], [0.0, 1.0], [1, 2, 10**12, 10**13, 10**15]),  # rare top outcome
    ([2.0**-43, 1.0 - 2.0**-43], [0.0, 1.0], [2, 3, 10**12, 10**15]),          # rare bottom outcome
    ([0.25, 0.75 - 2.0**-40, 2.0**-40], [-2.0, 0.5, 0.5], [2, 10**12, 10**15]),  # tiny tie partner
    ([0.1] * 10, [float(k) for k in range(10)], [1, 2, 64, 2**40, 10**15]),
    ([0.05, 0.15, 0.2, 0.25, 0.35], [1e5, -1e-5, 3.0, -7.5, 0.25], [3, 1000, 10**12]),
]

Q_CASES = [
    ([0.5, 0.25, 0.25], [0.0, 1.0, 2.0], [1.0, 0.5, 0.375, 0.25, 0.1, 1e-10]),
    ([0.1, 0.2, 0.3, 0.4], [0.0, 1.0, 1.0, 2.0], [1.0, 0.9, 0.5, 0.45, 0.4, 1e-300]),
    ([0.5, 0.0, 0.5], [1.0, 5.0, 0.0], [1.0, 0.75, 0.5, 0.2]),
    ([1.0 - 2.0**-43, 2.0**-43], [0.0, 1.0], [1.0, 0.5, 2.0**-43, 1e-14, 1.0 - 2.0**-45]),
    ([2.0**-43, 1.0 - 2.0**-43], [0.0, 1.0], [1e-200, 0.5, 1.0 - 2.0**-44]),   # heavy top class
]


def main():
    cases = []
    for base, reward, ns in BON_CASES:
        for n in ns:
            cases.append(best_of_n(base, reward, n))
    for base, reward, qs in Q_CASES:
        for q in qs:
            cases.append(quantilize(base, reward, q))
    out = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "bon_reference.json"
    out.write_text(json.dumps({"digits": mp.mp.dps, "cases": cases}, indent=1) + "\n")
    print(f"wrote {len(cases)} cases to {out}")


if __name__ == "__main__":
    main()

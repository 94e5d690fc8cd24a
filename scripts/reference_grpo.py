#!/usr/bin/env python3
"""High-precision reference values of P_G, GRPO's conditional expected advantage.

Writes tests/fixtures/grpo_reference.json. Every number is computed with mpmath at 50 significant
digits from the f64 inputs taken exactly (mpf(float) is exact), from the definition

    P_G(c) = sum over the counts n of the other G - 1 outputs (multinomial law M(G - 1; x))
             of (v_c - mean) / std over the group n + e_c   (population std; 0 if std = 0),

with no pruning:
  - binary rewards (0, 1), success mass p: with S ~ Bin(G - 1, p) successes among the others,
    A(1) = sqrt((G - 1 - S)/(S + 1)) and A(0) = -sqrt(S/(G - S)); every S is summed, the
    binomial pmf evaluated as exp(log C(G-1, S) + S log p + (G-1-S) log(1-p)) with mpmath's
    loggamma at 50 digits, so G = 10^6 loses nothing;
  - three classes: every composition of G - 1 into three counts is summed.
Run: python3 scripts/reference_grpo.py  (needs mpmath).
"""
import json
from pathlib import Path

import mpmath as mp

mp.mp.dps = 50


def log_binom(n, k):
    return mp.loggamma(n + 1) - mp.loggamma(k + 1) - mp.loggamma(n - k + 1)


def binary(p, g):
    p = mp.mpf(p)
    lp, lq = mp.log(p), mp.log(1 - p)
    up = mp.mpf(0)
    down = mp.mpf(0)
    for s in range(g):
        w = mp.exp(log_binom(g - 1, s) + s * lp + (g - 1 - s) * lq)
        up += w * mp.sqrt(mp.mpf(g - 1 - s) / (s + 1))
        down -= w * mp.sqrt(mp.mpf(s) / (g - s))
    return [down, up]


def three(values, mass, g):
    v = [mp.mpf(x) for x in values]
    x = [mp.mpf(m) for m in mass]
    out = [mp.mpf(0)] * 3
    n = g - 1
    for a in range(n + 1):
        for b in range(n - a + 1):
            c = n - a - b
            w = mp.exp(
                mp.loggamma(n + 1) - mp.loggamma(a + 1) - mp.loggamma(b + 1) - mp.loggamma(c + 1)
            ) * x[0] ** a * x[1] ** b * x[2] ** c
            for cls in range(3):
                counts = [a, b, c]
                counts[cls] += 1
                if counts[cls] == g:
                    continue
                mean = sum(k * vv for k, vv in zip(counts, v)) / g
                var = sum(k * (vv - mean) ** 2 for k, vv in zip(counts, v)) / g
                out[cls] += w * (v[cls] - mean) / mp.sqrt(var)
    return out


def main():
    cases = []
    for p, g in [(0.5, 3), (0.3, 64), (0.5, 1100), (0.05, 5000), (0.7, 100000), (0.5, 1000000)]:
        cases.append({"values": [0.0, 1.0], "mass": [1 - p, p], "group_size": g,
                      "advantage": [mp.nstr(a, 20) for a in binary(p, g)]})
    for values, mass, g in [([-1.0, 0.5, 2.0], [0.2, 0.5, 0.3], 5),
                            ([0.0, 1.0, 10.0], [0.6, 0.35, 0.05], 150),
                            ([-3.0, 0.0, 0.25], [0.01, 0.9, 0.09], 400)]:
        cases.append({"values": values, "mass": mass, "group_size": g,
                      "advantage": [mp.nstr(a, 20) for a in three(values, mass, g)]})
    out = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "grpo_reference.json"
    out.write_text(json.dumps({"digits": 50, "cases": cases}, indent=1) + "\n")


if __name__ == "__main__":
    main()

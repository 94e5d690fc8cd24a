#!/usr/bin/env python3
"""50-digit references for `solve::chipo`: W(e^y) (principal Lambert branch) over the whole
f64 range of y, and a few chiPO optima pi = pi0 W(exp((r - lambda)/beta)).

Writes tests/fixtures/lambert_w_exp_reference.json. Requires mpmath (`pip install mpmath`).
W(e^y) is computed as the root of w + ln w = y (Newton in mpmath at 60 digits, started from
mpmath's lambertw where e^y is representable and from y - ln y beyond), so huge y needs no
exponential; every value is checked against its equation before it is written.
"""
import json
import os
from mpmath import mp, mpf, log, exp, lambertw, findroot, fsum

mp.dps = 60


def w_exp(y):
    y = mpf(y)
    if y < 700:
        w = lambertw(exp(y)).real
    else:
        w = y - log(y)
    for _ in range(100):
        step = (w + log(w) - y) * w / (1 + w)
        w -= step
        if abs(step) <= abs(w) * mpf(10) ** (-58):
            break
    assert abs(w + log(w) - y) <= mpf(10) ** (-50) * max(abs(y), 1)
    return w


YS = [-745.0, -700.0, -100.0, -40.000001, -40.0, -39.99, -20.0, -5.0, -1.0, -0.5, -1e-8, 0.0,
      1e-8, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 29.9, 30.1, 50.0, 100.0, 709.0, 710.0, 1000.0,
      9999.0, 10001.0, 1e5, 1e10, 1e15, 1e50, 1e100, 1e150, 1e200, 1e250, 1e300,
      1.7976931348623157e308]

# chiPO optima: base weights, reward, beta.
CASES = [
    ("two-outcomes", [0.3, 0.7], [2.0, -1.0], 0.5),
    ("uniform-four", [1, 1, 1, 1], [0.0, 1.0, 2.0, 3.0], 0.1),
    ("small-beta", [0.4, 0.3, 0.2, 0.1], [0.0, 1.0, 2.0, 3.0], 1e-3),
    ("large-beta", [0.4, 0.3, 0.2, 0.1], [0.0, 1.0, 2.0, 3.0], 100.0),
    ("rare-argmax", [1.0, 1.0, 1e-9], [0.0, 0.5, 10.0], 0.01),
    ("ties", [0.25, 0.25, 0.5], [1.0, 1.0, 0.0], 0.3),
    ("zero-in-base", [0.5, 0.0, 0.5], [0.0, 5.0, 1.0], 0.2),
]


def chipo(weights, reward, beta):
    total = fsum(mpf(w) for w in weights)
    base = [mpf(w) / total for w in weights]
    beta = mpf(beta)
    sup = [i for i, p in enumerate(base) if p > 0]
    rmax = max(mpf(reward[i]) for i in sup)
    d = {i: (rmax - mpf(reward[i])) / beta for i in sup}
    f = lambda u: fsum(base[i] * w_exp(u - d[i]) for i in sup) - 1
    p_top = fsum(base[i] for i in sup if mpf(reward[i]) == rmax)
    lo, hi = mpf(1) - mpf(10) ** -30, 1 / p_top + log(1 / p_top) + 1
    for _ in range(400):
        mid = (lo + hi) / 2
        if f(mid) < 0:
            lo = mid
        else:
            hi = mid
    u = (lo + hi) / 2
    t = {i: w_exp(u - d[i]) for i in sup}
    pol = [base[i] * t[i] if i in t else mpf(0) for i in range(len(base))]
    er = fsum(pol[i] * mpf(reward[i]) for i in sup)
    kl = fsum(pol[i] * log(t[i]) for i in sup)
    return {
        "base": [float(p) for p in base],
        "policy": [float(p) for p in pol],
        "lambda": float(rmax - beta * u),
        "expected_reward": float(er),
        "kl": float(kl),
    }


def main():
    out = {
        "note": "W(e^y) and chiPO optima at 60 digits (scripts/reference_lambert_w.py), rounded to double",
        "lambert_w_exp": [{"y": y, "w": float(w_exp(y))} for y in YS],
        "chipo": [],
    }
    for name, w, r, beta in CASES:
        c = chipo(w, r, beta)
        c.update({"name": name, "reward": r, "beta": beta})
        out["chipo"].append(c)
    path = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures",
                        "lambert_w_exp_reference.json")
    with open(path, "w") as fh:
        json.dump(out, fh, indent=1)
        fh.write("\n")


if __name__ == "__main__":
    main()

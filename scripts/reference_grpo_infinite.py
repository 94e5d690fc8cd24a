#!/usr/bin/env python3
"""High-precision references for GRPO's fixed points at G = infinity, at the extremes.

Writes tests/fixtures/grpo_infinite_reference.json. Every input number is an f64 taken exactly
(mpf(float) is exact; a base given as logits is exponentiated in mpmath), at 1600 bits, so
that rewards of 1e308 next to masses of 1e-300 lose nothing.

- k3 loss: pi = pi0 / (lambda - r) / Z with lambda > max r the unique root of
  sum q (v - mu0)/(lambda - v) = 1/beta^2 over the classes of supp pi0 (q, v: class masses and
  rewards, mu0 = sum q v); the root is bisected in ln(lambda - max r), where the left side
  decreases, to far below an f64 ulp. Each policy entry is rounded once to an f64 (0 where
  it underflows).
- k3 ratio: the temperatures tau with sigma_tau(r)/tau = 1/beta (the tilt pi0 e^{r/tau} at
  temperature tau), found as sign changes of ln(beta sigma_tau/tau) on a grid of 2000 points
  of ln tau over each case's window (`grid`, chosen around the roots; two roots of one case lie
  0.25 apart in ln tau) and bisected; the fixture keeps their number and the first.

The problems are inputs on which the solver once missed (fuzz cases, seeds 0 and 1).
Usage: python3 scripts/reference_grpo_infinite.py   (needs mpmath; deterministic, a few minutes)
"""
import json
import math
from pathlib import Path

import mpmath as mp

mp.mp.prec = 1600
OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "grpo_infinite_reference.json"

LOSS = [
    # pi0 = (1 - 4.6e-15, 4.6e-15): the heavy class's deviation from mu0 is 2e-11.
    {"base": [0.9999999999999954, 4.566937428843691e-15], "beta": 1.0,
     "reward": [1.0, -4605.494685501359], "std": "population"},
    # beta = 1e15: the light mass moves by 3e-8 relative (the cancelling form moved it 6%).
    {"base": [1.2945870316897392e-15, 0.9999999999999987, 0.0], "beta": 1e15,
     "reward": [-7969.16041458829, -71644.71740348364, 0.0], "std": "sample"},
    # beta = 1e-97: a ratio of 1e-223 (u = ln s near -480; s from u alone is 1e-13 off).
    {"base": [0.9999999999999964, 3.5250231551819126e-15], "beta": 9.854508043539532e-98,
     "reward": [64.57086519814945, -4.559605407724662], "std": "sample"},
    {"base": [5.153526316866965e-20, 5.153526316866966e-15, 0.9999999999999949], "beta": 1.0,
     "reward": [-61921.568326731416, -1.0, 0.003039177987218227], "std": "population"},
    {"base": [0.9999999999999986, 1.409162074000091e-15, 1.409162074000091e-100,
              1.4091620740000908e-20, 1.409162074000091e-100], "beta": 1.0,
     "reward": [3711.725410818658, -0.004237937196401127, 80.54939378725369,
                0.00009610496201236221, 80.54939378725369], "std": "population"},
    # A subnormal mass at a reward of -1e308 dominates g (its weight q h^2 must not underflow).
    {"base": [0.6300647628467779, 0.3699352374607875, 6.6380802806787e-311, 6.6380802806787e-311],
     "beta": 1.0777565325723566e256,
     "reward": [0.8255867139431932, 0.8255867139431932, -1e308, -0.10363654001740974],
     "std": "population"},
    {"base_logits": [-189.55835510477982, 40.70015419462476, 40.70015419462476, 499.6632811570348,
                     -212.5842060347203, 498.7478532814315, 270.95866349402934], "beta": 1e-15,
     "reward": [178.79015716246948, 0.6126443739609491, -1e308, -0.0700851495087235,
                -20975.96092461631, -0.5361692919377106, -0.34860193559340935], "std": "sample"},
    {"base": [1.0, 3.2484198142199346e-304], "beta": 1e300,
     "reward": [4.232816899957759e227, -3.896727445337531], "std": "sample"},
    {"base_logits": [-1190.2919950738992, -500.0], "beta": 1.7976931348623157e308,
     "reward": [49.52542640628352, 1.0], "std": "sample"},
    # The top reward f64::MAX on a subnormal mass: lambda - v_max is subnormal in the unit of
    # the spread, and ln of it carries 8 digits (the ratios must come from ln s itself).
    {"base": [6.2486639788394884e-220, -0.0, 1.31716368773633e-310, 0.288794712381554,
              1.3171636877363345e-15, 0.23046527593119748, 0.4807400116872471], "beta": 0.001,
     "reward": [-8007.422073682888, 2.0970398437837284e199, 1.7976931348623157e308, 3.0, 3.0,
                -0.07704849927951325, 818.0569583038946], "std": "population"},
]

RATIO = [
    # Two roots, the second beyond f64::MAX (tau = 1.9e377); the tilt's masses of 3e-245 must
    # not be formed as subnormal products.
    {"base": [2.294278669025028e-100, 2.2942786690250282e-200, 0.28906637926882184,
              2.2942786690250282e-200, 0.7109336207311782], "beta": 1.2485935099852542e119,
     "reward": [1e308, -1e308, -1.0, -0.772595563518117, 0.09133277093271092], "std": "sample",
     "grid": [600, 900]},
    # Two roots below the old grid's floor (the top's base mass is 1e-300).
    {"base": [1.0432335415303456e-300, 1.0], "beta": 1e15,
     "reward": [7.517280052795801e127, -7.572457833833995e248], "std": "population",
     "grid": [555, 575]},
    # None: at most 115 = ln(1/1e-100)/2 of sigma/tau against 1/beta = 1000.
    {"base": [8.871389330470523e-101, 0.11029867009701852, 0.4206171855008679,
              8.871389330470523e-101, 0.46908414440211366], "beta": 0.001,
     "reward": [-2.0, 8152.230094879884, 8152.230094879884, 6.8227255501632045e193,
                -0.049604012150926274], "std": "population", "grid": [-800, 1600]},
]


def base_of(p):
    if "base" in p:
        b = [mp.mpf(x) for x in p["base"]]
    else:
        b = [mp.e ** mp.mpf(x) if x is not None else mp.mpf(0) for x in p["base_logits"]]
    total = sum(b)
    return [x / total for x in b]


def k3_loss(p):
    base, r, beta = base_of(p), [mp.mpf(x) for x in p["reward"]], mp.mpf(p["beta"])
    classes = {}
    for b, v in zip(base, r):
        if b > 0:
            classes[v] = classes.get(v, 0) + b
    vs = sorted(classes)
    vmax, mu0 = vs[-1], sum(classes[v] * v for v in vs)

    def g(log_s):
        s = mp.e ** log_s
        return sum(classes[v] * (v - mu0) / (vmax - v + s) for v in vs) - 1 / beta ** 2

    lo, hi = mp.mpf(-5000), mp.mpf(5000)
    for _ in range(3000):
        mid = (lo + hi) / 2
        if g(mid) > 0:
            lo = mid
        else:
            hi = mid
    s = mp.e ** ((lo + hi) / 2)
    w = [b / (vmax - v + s) if b > 0 else mp.mpf(0) for b, v in zip(base, r)]
    z = sum(w)
    return [float(x / z) for x in w]


def k3_ratio_roots(p):
    base, r, beta = base_of(p), [mp.mpf(x) for x in p["reward"]], mp.mpf(p["beta"])
    vmax = max(v for b, v in zip(base, r) if b > 0)

    def gap(log_tau):
        tau = mp.e ** log_tau
        w = [b * mp.e ** ((v - vmax) / tau) for b, v in zip(base, r)]
        z = sum(w)
        q = [x / z for x in w]
        mu = sum(a * v for a, v in zip(q, r))
        var = sum(a * (v - mu) ** 2 for a, v in zip(q, r))
        return mp.log(beta * mp.sqrt(var) / tau) if var > 0 else mp.mpf(-10) ** 9

    roots, n = [], 2000
    lo, hi = (mp.mpf(x) for x in p["grid"])
    prev = None
    for i in range(n + 1):
        x = lo + (hi - lo) * i / n
        fx = gap(x)
        if prev is not None and (fx < 0) != (prev[1] < 0):
            a, b = prev[0], x
            for _ in range(120):
                m = (a + b) / 2
                if (gap(m) < 0) == (prev[1] < 0):
                    a = m
                else:
                    b = m
            roots.append(a)
        prev = (x, fx)
    return roots


def main():
    cases = []
    for p in LOSS:
        problem = dict(p, solver="grpo", group_size="infinite", kl="k3_loss")
        cases.append({"problem": problem, "policy": k3_loss(p)})
    for p in RATIO:
        problem = {k: v for k, v in p.items() if k != "grid"}
        problem.update(solver="grpo", group_size="infinite", kl="k3_ratio")
        roots = k3_ratio_roots(p)
        first = float(mp.e ** roots[0]) if roots else None
        cases.append({"problem": problem, "roots": len(roots),
                      "first_temperature": first if first is None or math.isfinite(first) else None})
    OUT.write_text(json.dumps(cases, indent=1) + "\n")
    print(f"wrote {len(cases)} cases to {OUT}")


if __name__ == "__main__":
    main()

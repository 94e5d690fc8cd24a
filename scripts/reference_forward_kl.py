"""High-precision reference values for the pretraining-mix (forward-KL) optimum.

Maximizing E_pi[r] - gamma KL(pi0||pi) over policies on supp pi0 gives
pi(x) = gamma pi0(x) / (lambda - r(x)) with lambda > max r the root of sum pi = 1.
This script solves for lambda by bisection in 80-digit arithmetic (mpmath) in
log((lambda - max r)/gamma), independently of the Rust solver (safeguarded Newton in double
precision), and writes
tests/fixtures/forward_kl_reference.json: for each case the inputs and policy, expected_reward,
kl = KL(pi||pi0), lambda, rounded to the nearest double.

Run from the crate root: python3 scripts/reference_forward_kl.py
"""
import json
from mpmath import mp, mpf, log

mp.dps = 80

CASES = [
    {"name": "two_outcomes", "base": [0.5, 0.5], "reward": [0.0, 1.0], "gamma": 1.0},
    {"name": "four_outcomes", "base": [0.4, 0.3, 0.2, 0.1], "reward": [0.0, 1.0, 2.0, 3.0], "gamma": 0.5},
    {"name": "ties_and_negatives", "base": [0.1, 0.2, 0.3, 0.4], "reward": [-2.0, 3.0, 3.0, -7.5], "gamma": 2.0},
    {"name": "small_gamma", "base": [0.25, 0.25, 0.25, 0.25], "reward": [0.0, 1.0, 2.0, 3.0], "gamma": 1e-4},
    {"name": "large_gamma", "base": [0.6, 0.3, 0.1], "reward": [1.0, 0.0, -1.0], "gamma": 1e6},
    {"name": "rare_argmax", "base": [1e-12, 0.5, 0.5 - 1e-12], "reward": [10.0, 1.0, 0.0], "gamma": 0.01},
    {"name": "huge_rewards", "base": [0.3, 0.7], "reward": [1e10, 1e10 + 1.0], "gamma": 0.3},
    {"name": "tiny_mass", "base": [1e-300, 0.25, 0.75], "reward": [5.0, 2.0, 1.0], "gamma": 1.0},
]


def solve(base, reward, gamma):
    p = [mpf(x) for x in base]
    total = sum(p)
    p = [x / total for x in p]
    r = [mpf(x) for x in reward]
    g = mpf(gamma)
    rmax = max(r)

    # Write lambda = rmax + gamma s, so pi = pi0/(s + d) with d = (rmax - r)/gamma >= 0
    # (exact in mpmath); the mass sum pi0/(s + d) is decreasing in s, >= 1 at s = pi0(argmax)
    # and <= 1 at s = 1. Bisect in log s (s can be as small as 1e-300).
    d = [(rmax - ri) / g for ri in r]

    def mass(s):
        return sum(pi / (s + di) for pi, di in zip(p, d))

    top = sum(pi for pi, ri in zip(p, r) if ri == rmax)
    lo, hi = log(top), mpf(0)
    for _ in range(400):
        mid = (lo + hi) / 2
        if mass(mp.exp(mid)) > 1:
            lo = mid
        else:
            hi = mid
    s_root = mp.exp((lo + hi) / 2)
    lam = rmax + g * s_root
    pol = [pi / (s_root + di) for pi, di in zip(p, d)]
    s = sum(pol)
    pol = [x / s for x in pol]
    er = sum(x * ri for x, ri in zip(pol, r))
    kl = sum(x * log(x / pi) for x, pi in zip(pol, p) if x > 0)
    return pol, er, kl, lam


def main():
    out = []
    for c in CASES:
        pol, er, kl, lam = solve(c["base"], c["reward"], c["gamma"])
        out.append(dict(c, policy=[float(x) for x in pol], expected_reward=float(er),
                        kl=float(kl), **{"lambda": float(lam)}))
    with open("tests/fixtures/forward_kl_reference.json", "w") as f:
        json.dump({"generator": "scripts/reference_forward_kl.py", "digits": mp.dps,
                   "cases": out}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()

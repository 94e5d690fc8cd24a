"""A trainer's KL estimators measured against the exact KL.

Trainers estimate KL(pi || pi0) from samples x ~ pi with l = log(pi0(x)/pi(x)):
k1 = -l, k2 = l^2/2, k3 = e^l - 1 - l. k1 and k3 are unbiased, k2 is not. The policy is the exact
tilt from `rlhf_claims.tilt`, whose `kl` is the exact value.

Test: with M draws, the Monte Carlo mean of each estimator is compared with its exact
expectation by a z-test at |z| <= 5 (two-sided false-alarm rate 5.7e-7 per comparison, the
normal approximation being excellent at M = 2e5 for these bounded estimators):
- k1, k3: exact expectation KL, so |mean - KL| <= 5 se;
- k2: its exact expectation E_pi[l^2/2] (computed in NumPy from the policy) passes the same
  test, and the measured bias mean(k2) - KL must be detected (z > 5 against KL) -- the
  bias at this beta is about 380 standard errors;
- negative control: the same test of k1 against KL x 1.05 must reject (about 30 standard
  errors away), so the test can fail.
"""

import sys

import numpy as np

import rlhf_claims as rc

Z = 5.0
M = 200_000


def z_score(samples, target):
    se = samples.std(ddof=1) / np.sqrt(len(samples))
    return (samples.mean() - target) / se


def main():
    base = np.array([0.3, 0.3, 0.2, 0.1, 0.1])
    reward = np.array([0.0, 0.5, 1.0, 1.5, 3.0])
    t = rc.tilt(base, reward, 0.5)
    pi, kl = t.policy, t.kl
    rng = np.random.default_rng(0)
    x = rng.choice(len(pi), size=M, p=pi)
    l = np.log(base[x] / pi[x])
    k = {"k1": -l, "k2": 0.5 * l**2, "k3": np.expm1(l) - l}
    exact_k2 = float(pi @ (0.5 * np.log(base / pi) ** 2))
    checks = [
        ("k1 unbiased", abs(z_score(k["k1"], kl)) <= Z),
        ("k3 unbiased", abs(z_score(k["k3"], kl)) <= Z),
        ("k2 mean = E[l^2/2]", abs(z_score(k["k2"], exact_k2)) <= Z),
        ("k2 bias detected", abs(z_score(k["k2"], kl)) > Z),
        ("control: k1 vs 1.05 KL rejected", abs(z_score(k["k1"], 1.05 * kl)) > Z),
    ]
    print(f"exact KL = {kl:.6f}")
    for name, s in k.items():
        print(f"{name}: mean {s.mean():.6f}  bias {s.mean() - kl:+.6f}  z vs KL {z_score(s, kl):+.1f}")
    print(f"exact E[k2] - KL = {exact_k2 - kl:+.6f}")
    for name, ok in checks:
        print(f"{'ok  ' if ok else 'FAIL'} {name}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Independent high-precision answers for `rlhf-claims solve`.

Writes tests/fixtures/solve_reference.json: a list of problems (random and extreme) for the
solvers tilt, kl_budget, reward_target, condition and maxent, each with its exact answer
computed in mpmath and rounded once to the nearest f64.

Every input number is an f64 (written with repr, which round-trips), and the reference treats
it as that exact binary value. The base is normalized by its exact sum, as the solver's
validation does. Arithmetic runs at 100 significant digits, so that cancellation inside the
formulas (KL near the base is a sum of terms of size 1/beta cancelling to 1/beta^2) still
leaves far more than the 50 digits that are kept; the rounding to f64 is the only error in
the fixture.

The inverse problems are solved by bisection on u = ln(1/beta) to 1e-60 relative (monotone:
KL and E[r] increase strictly in 1/beta when r is not constant on the support), independently
of the solver's Newton iteration.

Usage: python3 scripts/reference_solve.py   (needs mpmath; deterministic)
"""

import json
import math
import random
from pathlib import Path

import mpmath as mpm
from mpmath import mp, mpf

mp.dps = 100
KEEP_DIGITS = 50

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "solve_reference.json"


def f64(x):
    """Nearest f64 to an mpf; None outside the f64 range (the CLI writes null there)."""
    v = float(x)
    return v if math.isfinite(v) else None


def normalized(base):
    ps = [mpf(p) for p in base]
    s = mp.fsum(ps)
    return [p / s for p in ps]


def tilt_exact(base, reward, beta):
    """pi = p e^{r/beta} / Z with the moments; returns a dict of mpf values.

    For large beta, KL = sum pi (w - log Z) cancels terms of size 1/beta down to 1/beta^2, so
    2 log10(beta) extra digits are carried.
    """
    extra = max(0, 2 * int(mp.log10(mpf(beta)))) if beta > 1 else 0
    with mp.workdps(mp.dps + extra):
        t = _tilt_exact(base, reward, beta)
    return t


def _tilt_exact(base, reward, beta):
    p = normalized(base)
    r = [mpf(x) for x in reward]
    beta = mpf(beta)
    supp = [i for i, pi in enumerate(p) if pi > 0]
    r_star = max(r[i] for i in supp)
    w = [(r[i] - r_star) / beta for i in range(len(r))]
    q = [p[i] * mp.exp(w[i]) if p[i] > 0 else mpf(0) for i in range(len(r))]
    z = mp.fsum(q)
    log_z = mp.log(z)
    pol = [qi / z for qi in q]
    e_r = mp.fsum(pol[i] * r[i] for i in supp)
    kl = mp.fsum(pol[i] * (w[i] - log_z) for i in supp)
    var = mp.fsum(pol[i] * (r[i] - e_r) ** 2 for i in supp)
    return {
        "policy": pol,
        "expected_reward": e_r,
        "kl": kl,
        "log_partition": r_star / beta + log_z,
        "variance": var,
        "r_star": r_star,
        "beta": beta,
    }


def bisect_in_u(g, u0):
    """Root of an increasing g(u) by bracketing from u0 and bisection to 1e-60.

    g is evaluated with |u| / 2 extra digits: near the base (u very negative, beta = e^-u
    huge) KL and E - E0 are sums of terms of size 1/beta that cancel down to 1/beta^2, which
    costs log10(beta) digits.
    """

    def g(u, g=g):
        with mp.workdps(mp.dps + int(abs(u))):
            return g(u)

    lo = hi = mpf(u0)
    step = mpf(1)
    while g(lo) > 0:
        lo -= step
        step *= 2
    step = mpf(1)
    while g(hi) < 0:
        hi += step
        step *= 2
    while hi - lo > mpf(10) ** -60 * max(1, abs(lo)):
        mid = (lo + hi) / 2
        if g(mid) < 0:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def argmax_exact(base, reward):
    p = normalized(base)
    r_star = max(reward[i] for i, pi in enumerate(p) if pi > 0)
    return [i for i, pi in enumerate(p) if pi > 0 and reward[i] == r_star]


def conditioned(base, reward, event):
    p = normalized(base)
    mass = mp.fsum(p[i] for i in event)
    pol = [p[i] / mass if i in event else mpf(0) for i in range(len(p))]
    e_r = mp.fsum(pol[i] * mpf(reward[i]) for i in event)
    return {"policy": pol, "expected_reward": e_r, "kl": -mp.log(mass)}


def base_answer(base, reward):
    p = normalized(base)
    return {
        "policy": p,
        "expected_reward": mp.fsum(p[i] * mpf(reward[i]) for i in range(len(p))),
        "kl": mpf(0),
    }


def kl_budget_exact(base, reward, eps):
    a = argmax_exact(base, reward)
    kl_max = -mp.log(mp.fsum(normalized(base)[i] for i in a))
    if mpf(eps) >= kl_max:
        return dict(conditioned(base, reward, set(a)), beta=None, regime="slack")
    if eps == 0:
        return dict(base_answer(base, reward), beta=None, regime="zero")
    target = mp.log(mpf(eps))
    var0 = base_answer(base, [mpf(x) ** 2 for x in reward])["expected_reward"] - base_answer(
        base, reward)["expected_reward"] ** 2
    # Near the base KL ~ Var0 / (2 beta^2): start there.
    u0 = (target - mp.log(var0 / 2)) / 2
    u = bisect_in_u(lambda u: mp.log(tilt_exact(base, reward, mp.exp(-u))["kl"]) - target, u0)
    t = tilt_exact(base, reward, mp.exp(-u))
    # Condition number of beta as a function of the budget: |d ln beta / d ln KL| =
    # KL / (dKL/du) with u = ln(1/beta) and dKL/du = Var_beta(r) / beta^2.
    t["beta_condition"] = t["kl"] * t["beta"] ** 2 / t["variance"]
    t["regime"] = "binding"
    return t


def reward_target_exact(base, reward, c):
    r_star = max(reward[i] for i, pi in enumerate(normalized(base)) if pi > 0)
    b = base_answer(base, reward)
    if mpf(c) <= b["expected_reward"]:
        return dict(b, beta=None, regime="unconstrained")
    if c == r_star:
        return dict(conditioned(base, reward, set(argmax_exact(base, reward))), beta=None,
                    regime="boundary")
    gap = mp.log(mpf(r_star) - mpf(c))
    u = bisect_in_u(
        lambda u: gap - mp.log(mpf(r_star) - tilt_exact(base, reward, mp.exp(-u))["expected_reward"]),
        0,
    )
    t = tilt_exact(base, reward, mp.exp(-u))
    # Any f64 evaluation of E_beta[r] = sum pi r carries an absolute error of order
    # eps * E_beta|r|; since dE/d ln beta = -Var_beta(r) / beta, that moves ln beta by
    # eps * beta E_beta|r| / Var_beta(r). This factor is the condition number of beta.
    abs_mean = mp.fsum(abs(pi * mpf(r)) for pi, r in zip(t["policy"], reward))
    t["beta_condition"] = t["beta"] * abs_mean / t["variance"]
    # |dE / d ln beta| = Var_beta(r) / beta (finite where Var itself would over/underflow).
    t["reward_slope"] = t["variance"] / t["beta"]
    t["regime"] = "interior"
    return t


def condition_exact(base, reward, threshold):
    event = {i for i in range(len(base)) if reward[i] >= threshold}
    return conditioned(base, reward, event)


def maxent_exact(reward, alpha):
    n = len(reward)
    t = tilt_exact([1.0] * n, reward, alpha)
    t["entropy"] = mp.log(n) - t["kl"]
    t["value"] = t["expected_reward"] + mpf(alpha) * t["entropy"]
    return t


SOLVERS = {
    "tilt": lambda pr: tilt_exact(pr["base"], pr["reward"], pr["beta"]),
    "kl_budget": lambda pr: kl_budget_exact(pr["base"], pr["reward"], pr["kl_budget"]),
    "reward_target": lambda pr: reward_target_exact(pr["base"], pr["reward"], pr["target"]),
    "condition": lambda pr: condition_exact(pr["base"], pr["reward"], pr["threshold"]),
    "maxent": lambda pr: maxent_exact(pr["reward"], pr["alpha"]),
}

SCALARS = ["expected_reward", "kl", "log_partition", "beta", "beta_condition", "reward_slope",
           "entropy", "value"]


def answer(problem):
    exact = SOLVERS[problem["solver"]](problem)
    out = {"policy": [f64(x) for x in exact["policy"]]}
    for k in SCALARS:
        if k in exact:
            out[k] = None if exact[k] is None else f64(exact[k])
    if "regime" in exact:
        out["regime"] = exact["regime"]
    return out


def random_base(rng, n, zeros=0):
    w = [rng.expovariate(1.0) for _ in range(n)]
    for i in rng.sample(range(n), zeros):
        w[i] = 0.0
    s = sum(w)
    return [x / s for x in w]


def random_reward(rng, n, scale=1.0):
    return [rng.gauss(0.0, scale) for _ in range(n)]


def exact_kl_max(base, reward):
    a = argmax_exact(base, reward)
    return -mp.log(mp.fsum(normalized(base)[i] for i in a))


def problems():
    rng = random.Random(20261126)
    out = []

    def add(name, **pr):
        out.append({"name": name, "problem": pr})

    # ---- tilt
    for k in range(6):
        n = rng.choice([3, 5, 13, 40])
        add(f"tilt random {k}", solver="tilt", base=random_base(rng, n, zeros=k % 2),
            reward=random_reward(rng, n), beta=10 ** rng.uniform(-2, 2))
    add("tilt random n=300", solver="tilt", base=random_base(rng, 300, 20),
        reward=random_reward(rng, 300, 3.0), beta=0.7)
    add("tilt r/beta = 1e5", solver="tilt", base=[0.25, 0.5, 0.25], reward=[0.0, 1e5, 2e5 - 3],
        beta=1.0)
    add("tilt r/beta = 1e5 with ties", solver="tilt", base=[0.2, 0.3, 0.5],
        reward=[1e5, 1e5, -1e5], beta=1.0)
    add("tilt r/beta = 1e300", solver="tilt", base=[0.5, 0.5], reward=[0.0, 1e300], beta=1.0)
    add("tilt beta = 1e-300, r/beta = O(1)", solver="tilt", base=[0.25, 0.25, 0.5],
        reward=[0.0, 1e-300, 2e-300], beta=1e-300)
    add("tilt beta = 1e-300, r/beta = 2e300", solver="tilt", base=[0.5, 0.5], reward=[1.0, 2.0],
        beta=1e-300)
    add("tilt beta = 1e-300, r/beta beyond f64", solver="tilt", base=[0.5, 0.5],
        reward=[1e300, -1e300], beta=1e-300)
    add("tilt mixed sign and scale", solver="tilt", base=[0.1, 0.2, 0.3, 0.15, 0.05, 0.2],
        reward=[-1e6, 3.5, -2e-8, 7e3, 1e-300, 0.0], beta=1e3)
    add("tilt zeros in the base, argmax off the support", solver="tilt",
        base=[0.5, 0.0, 0.25, 0.25, 0.0], reward=[1.0, 100.0, -2.0, 0.5, 50.0], beta=0.8)
    add("tilt base 1-1e-15 near the argmax limit", solver="tilt", base=[1 - 1e-15, 1e-15],
        reward=[1.0, 0.0], beta=1e-3)
    add("tilt rare argmax 1e-300, normal tail", solver="tilt", base=[1 - 1e-15, 1e-15, 1e-300],
        reward=[0.0, 0.5, 1.0], beta=1 / 700)
    add("tilt rare argmax 1e-300, subnormal tail", solver="tilt",
        base=[1 - 1e-15, 1e-15, 1e-300], reward=[0.0, 0.5, 1.0], beta=1 / 720)
    add("tilt near base beta 1e8", solver="tilt", base=[0.5, 0.5], reward=[0.0, 1.0], beta=1e8)
    add("tilt near base beta 1e8 random", solver="tilt", base=random_base(rng, 10),
        reward=random_reward(rng, 10), beta=1e8)
    add("tilt beta 1e150 (KL ~ 1e-300)", solver="tilt", base=[0.5, 0.25, 0.25],
        reward=[0.0, 1.0, -1.0], beta=1e150)
    add("tilt single outcome", solver="tilt", base=[1.0], reward=[3.7], beta=0.3)
    add("tilt constant reward on the support", solver="tilt", base=[0.3, 0.0, 0.7],
        reward=[2.0, 9.0, 2.0], beta=0.01)
    # ---- kl_budget
    for k in range(4):
        n = rng.choice([3, 8, 25])
        base, reward = random_base(rng, n, zeros=k % 2), random_reward(rng, n)
        frac = [0.05, 0.3, 0.6, 0.9][k]
        add(f"kl_budget random {k}", solver="kl_budget", base=base, reward=reward,
            kl_budget=float(frac * exact_kl_max(base, reward)))
    base, reward = random_base(rng, 12), random_reward(rng, 12)
    kmax = exact_kl_max(base, reward)
    add("kl_budget 1 - 1e-6 of the maximum", solver="kl_budget", base=base, reward=reward,
        kl_budget=float(kmax * (1 - mpf("1e-6"))))
    add("kl_budget 1 - 1e-10 of the maximum", solver="kl_budget", base=base, reward=reward,
        kl_budget=float(kmax * (1 - mpf("1e-10"))))
    add("kl_budget slack (twice the maximum)", solver="kl_budget", base=base, reward=reward,
        kl_budget=float(2 * kmax))
    add("kl_budget zero", solver="kl_budget", base=base, reward=reward, kl_budget=0.0)
    add("kl_budget tiny 1e-17 (beta ~ 1e8)", solver="kl_budget", base=[0.5, 0.5],
        reward=[0.0, 1.0], kl_budget=1e-17)
    add("kl_budget rewards of scale 1e300", solver="kl_budget", base=[0.3, 0.3, 0.4],
        reward=[0.0, 1e300, -1e300], kl_budget=0.5)
    add("kl_budget rewards of scale 1e-300", solver="kl_budget", base=[0.3, 0.3, 0.4],
        reward=[0.0, 1e-300, -2e-300], kl_budget=0.5)
    add("kl_budget rare argmax 1e-300", solver="kl_budget", base=[0.5, 0.5 - 1e-300, 1e-300],
        reward=[0.0, 0.5, 1.0], kl_budget=100.0)
    add("kl_budget heavy argmax 1-1e-15", solver="kl_budget", base=[1 - 1e-15, 1e-15],
        reward=[1.0, 0.0], kl_budget=5e-16)
    add("kl_budget mixed sign and scale", solver="kl_budget",
        base=[0.1, 0.2, 0.3, 0.15, 0.05, 0.2], reward=[-1e6, 3.5, -2e-8, 7e3, 1e-300, 0.0],
        kl_budget=1.0)
    add("kl_budget single outcome", solver="kl_budget", base=[1.0], reward=[2.0], kl_budget=0.3)
    # ---- reward_target
    for k in range(4):
        n = rng.choice([3, 8, 25])
        base, reward = random_base(rng, n, zeros=k % 2), random_reward(rng, n)
        b = base_answer(base, reward)["expected_reward"]
        frac = [0.05, 0.3, 0.6, 0.9][k]
        add(f"reward_target random {k}", solver="reward_target", base=base, reward=reward,
            target=float(b + frac * (max(reward[i] for i in range(n) if base[i] > 0) - b)))
    base, reward = [0.2, 0.3, 0.5], [1.0, -0.5, 0.25]
    add("reward_target close to max r (1e-10)", solver="reward_target", base=base,
        reward=reward, target=1.0 - 1e-10)
    add("reward_target close to max r (1e-14)", solver="reward_target", base=base,
        reward=reward, target=1.0 - 1e-14)
    add("reward_target equal to max r", solver="reward_target", base=base, reward=reward,
        target=1.0)
    add("reward_target below the base mean", solver="reward_target", base=base, reward=reward,
        target=0.0)
    add("reward_target just above the base mean", solver="reward_target", base=[0.5, 0.5],
        reward=[0.0, 1.0], target=0.5 + 1e-12)
    add("reward_target rewards of scale 1e300", solver="reward_target", base=[0.3, 0.3, 0.4],
        reward=[0.0, 1e300, -1e300], target=5e299)
    add("reward_target rewards of scale 1e-300", solver="reward_target", base=[0.3, 0.3, 0.4],
        reward=[0.0, 1e-300, -2e-300], target=5e-301)
    add("reward_target rare argmax 1e-300", solver="reward_target",
        base=[0.5, 0.5 - 1e-300, 1e-300], reward=[0.0, 0.5, 1.0], target=0.75)
    # ---- condition
    base, reward = random_base(rng, 9, zeros=2), random_reward(rng, 9)
    add("condition random", solver="condition", base=base, reward=reward,
        threshold=sorted(reward)[4])
    add("condition threshold below all", solver="condition", base=base, reward=reward,
        threshold=-1e300)
    add("condition on a 1e-300 event", solver="condition", base=[0.5, 0.5 - 1e-300, 1e-300],
        reward=[0.0, 0.5, 1.0], threshold=0.75)
    add("condition on a 1-1e-15 event", solver="condition", base=[1 - 1e-15, 1e-15],
        reward=[1.0, 0.0], threshold=0.5)
    add("condition single outcome", solver="condition", base=[1.0], reward=[-4.0],
        threshold=-4.0)
    # ---- maxent
    add("maxent random", solver="maxent", reward=random_reward(rng, 7), alpha=0.4)
    add("maxent alpha 1e8 (near uniform, n = 3)", solver="maxent", reward=[0.0, 1.0, 2.0],
        alpha=1e8)
    add("maxent alpha 1e-300", solver="maxent", reward=[0.0, 1e-300, 3e-300], alpha=1e-300)
    add("maxent r/alpha = 1e300", solver="maxent", reward=[1e300, -1e300, 0.0], alpha=1.0)
    add("maxent single outcome", solver="maxent", reward=[5.0], alpha=2.0)
    return out


def main():
    cases = []
    for case in problems():
        case["expected"] = answer(case["problem"])
        cases.append(case)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "generator": "scripts/reference_solve.py",
        "precision_digits": KEEP_DIGITS,
        "working_digits": mp.dps,
        "cases": cases,
    }
    OUT.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {len(cases)} cases to {OUT}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The obvious NumPy/SciPy implementation of the tilt and the KL-budget solver, timed on the
instance that `benches/solvers.rs` uses.

Reads target/bench-data/{n}.{base,reward}.f64 (written by `cargo bench --bench solvers`), so
both sides run on the same bytes. Prints, per size, the median wall time of `tilt` (logsumexp)
and `kl_budget` (brentq on beta), each over several repetitions, and the solutions' KL and
expected reward so that they can be compared with the Rust solver's.

The log of the base is computed once outside the timed region (the Rust `Dist` also stores it),
which favours NumPy.

Usage:
    cargo bench --bench solvers          # writes the data (and times the Rust side)
    unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE; python3 scripts/bench_numpy.py [--reps K] [n ...]
"""

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
from scipy.optimize import brentq
from scipy.special import logsumexp

BETA = 1.0
KL_BUDGET = 1.0
DATA = Path(__file__).resolve().parent.parent / "target" / "bench-data"


def load(n):
    base = np.fromfile(DATA / f"{n}.base.f64", dtype="<f8")
    reward = np.fromfile(DATA / f"{n}.reward.f64", dtype="<f8")
    return base, reward


def tilt(log_base, reward, beta):
    """pi ∝ pi0 exp(r / beta): policy, E[r], KL(pi || pi0), log Z."""
    logits = log_base + reward / beta
    log_z = logsumexp(logits)
    log_pi = logits - log_z
    pi = np.exp(log_pi)
    return pi, pi @ reward, pi @ (log_pi - log_base), log_z


def kl_budget(log_base, reward, eps):
    """max E[r] s.t. KL <= eps: brentq on beta for KL(pi_beta || pi0) = eps."""

    def gap(beta):
        return tilt(log_base, reward, beta)[2] - eps

    beta = brentq(gap, 1e-3, 1e3, xtol=1e-12, rtol=4 * np.finfo(float).eps)
    pi, e, kl, _ = tilt(log_base, reward, beta)
    return pi, e, kl, beta


def median_time(f, reps):
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("sizes", nargs="*", type=int, default=[1_000, 100_000, 10_000_000])
    ap.add_argument("--reps", type=int, default=7)
    args = ap.parse_args()
    print(f"numpy {np.__version__}")
    for n in args.sizes:
        base, reward = load(n)
        log_base = np.log(base)
        reps = args.reps if n >= 1_000_000 else 10 * args.reps
        t_tilt, (_, e, kl, _) = median_time(lambda: tilt(log_base, reward, BETA), reps)
        print(f"n={n} tilt      median {t_tilt * 1e3:10.3f} ms  E={e!r} KL={kl!r}")
        t_kl, (_, e, kl, beta) = median_time(lambda: kl_budget(log_base, reward, KL_BUDGET), reps)
        print(f"n={n} kl_budget median {t_kl * 1e3:10.3f} ms  E={e!r} KL={kl!r} beta={beta!r}")


if __name__ == "__main__":
    main()

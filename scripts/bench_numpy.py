#!/usr/bin/env python3
"""The obvious NumPy/SciPy implementation of the tilt and the KL-budget solver, timed on the
instance that `benches/solvers.rs` uses.

Reads target/bench-data/{n}.{base,reward}.f64 (written by `cargo bench --bench solvers`), so
both sides run on the same bytes. Prints, per size, the median wall time of `tilt` (logsumexp)
and `kl_budget` (brentq on beta), each over several repetitions, and the solutions' KL and
expected reward so that they can be compared with the Rust solver's.

The log of the base is computed once outside the timed region (the Rust `Dist` also stores it),
which favours NumPy.

With --batch, times the batch of `benches/batch.rs` (256 rows x 131072 outcomes, read from
target/bench-data/batch.{logits,reward}.f64): the row-vectorized tilt (logsumexp over axis 1)
with fresh outputs and into preallocated arrays (`out=`), kl_budget by brentq row after row
(timed on the first --brentq-rows rows and scaled to the batch), and kl_budget by a vectorized
Newton iteration on all rows at once.

Usage:
    cargo bench --bench solvers          # writes the data (and times the Rust side)
    unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE; python3 scripts/bench_numpy.py [--reps K] [n ...]
    cargo bench --bench batch            # writes the batch
    python3 scripts/bench_numpy.py --batch [--reps K] [--brentq-rows R]
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


ROWS, COLS = 256, 131072


def softmax_rows(logits):
    """log pi0 for each row of a B x V array of logits (outside the timers, as the Rust side
    builds its bases outside its timers too)."""
    return logits - logsumexp(logits, axis=1, keepdims=True)


def tilt_rows(log_base, reward, beta):
    """The tilt of every row at once: logsumexp over axis 1. Returns policy, log-policy, E[r],
    KL (fresh arrays)."""
    logits = log_base + reward / beta
    log_pi = logits - logsumexp(logits, axis=1, keepdims=True)
    pi = np.exp(log_pi)
    e = np.einsum("ij,ij->i", pi, reward)
    kl = np.einsum("ij,ij->i", pi, log_pi - log_base)
    return pi, log_pi, e, kl


class TiltBuffers:
    """Preallocated B x V arrays for tilt_rows_into."""

    def __init__(self, shape):
        self.pi = np.empty(shape)
        self.log_pi = np.empty(shape)
        self.tmp = np.empty(shape)


def tilt_rows_into(log_base, reward, beta, buf):
    """tilt_rows with every B x V temporary written into reused arrays (out=)."""
    np.multiply(reward, 1.0 / beta, out=buf.log_pi)
    np.add(buf.log_pi, log_base, out=buf.log_pi)
    m = buf.log_pi.max(axis=1, keepdims=True)
    np.subtract(buf.log_pi, m, out=buf.log_pi)
    np.exp(buf.log_pi, out=buf.pi)
    s = buf.pi.sum(axis=1, keepdims=True)
    np.divide(buf.pi, s, out=buf.pi)
    np.subtract(buf.log_pi, np.log(s), out=buf.log_pi)
    e = np.einsum("ij,ij->i", buf.pi, reward)
    np.subtract(buf.log_pi, log_base, out=buf.tmp)
    kl = np.einsum("ij,ij->i", buf.pi, buf.tmp)
    return e, kl


def kl_budget_newton_rows(log_base, reward, eps, iters=60):
    """max E[r] s.t. KL <= eps on every row at once: Newton on ln KL as a function of
    u = ln(1/beta), with dKL/du = Var_beta(r)/beta^2, safeguarded by a bracket per row
    (bisection in u when Newton leaves it), until every row's |ln KL - ln eps| <= 4e-15.
    Rows whose budget is slack (eps >= -log pi0(argmax)) are not handled (none are here)."""
    b = reward.shape[0]
    var0 = np.einsum("ij,ij->i", np.exp(log_base), reward**2) - np.einsum(
        "ij,ij->i", np.exp(log_base), reward
    ) ** 2
    u = 0.5 * np.log(2 * eps / var0)  # KL ~ Var0 / (2 beta^2)
    lo, hi = np.full(b, -50.0), np.full(b, 50.0)
    for _ in range(iters):
        lam = np.exp(u)[:, None]
        logits = log_base + reward * lam
        log_pi = logits - logsumexp(logits, axis=1, keepdims=True)
        pi = np.exp(log_pi)
        kl = np.einsum("ij,ij->i", pi, log_pi - log_base)
        mean = np.einsum("ij,ij->i", pi, reward)
        var = np.einsum("ij,ij->i", pi, reward**2) - mean**2
        g = np.log(kl) - np.log(eps)
        if np.all(np.abs(g) <= 4e-15):
            break
        lo = np.where(g < 0, u, lo)
        hi = np.where(g > 0, u, hi)
        step = g / (var * np.exp(2 * u) / kl)
        nxt = u - step
        u = np.where((nxt > lo) & (nxt < hi), nxt, 0.5 * (lo + hi))
    return pi, mean, kl, 1.0 / np.exp(u)


def bench_batch(reps, brentq_rows):
    logits = np.fromfile(DATA / "batch.logits.f64", dtype="<f8").reshape(ROWS, COLS)
    reward = np.fromfile(DATA / "batch.reward.f64", dtype="<f8").reshape(ROWS, COLS)
    log_base = softmax_rows(logits)
    t, (_, _, e, kl) = median_time(lambda: tilt_rows(log_base, reward, BETA), reps)
    print(f"batch {ROWS}x{COLS} tilt fresh    median {t * 1e3:10.3f} ms  E[0]={e[0]!r} KL[0]={kl[0]!r}")
    buf = TiltBuffers(logits.shape)
    t, (e, kl) = median_time(lambda: tilt_rows_into(log_base, reward, BETA, buf), reps)
    print(f"batch {ROWS}x{COLS} tilt into     median {t * 1e3:10.3f} ms  E[0]={e[0]!r} KL[0]={kl[0]!r}")
    t, (_, e, kl, beta) = median_time(lambda: kl_budget_newton_rows(log_base, reward, KL_BUDGET), reps)
    print(f"batch {ROWS}x{COLS} kl_budget Newton (all rows) median {t * 1e3:10.3f} ms  beta[0]={beta[0]!r} KL[0]={kl[0]!r}")
    def brentq_rows_run():
        return [kl_budget(log_base[i], reward[i], KL_BUDGET) for i in range(brentq_rows)]
    t, out = median_time(brentq_rows_run, max(1, reps // 2))
    print(f"batch {ROWS}x{COLS} kl_budget brentq per row: {brentq_rows} rows median {t * 1e3:10.3f} ms, "
          f"scaled to {ROWS} rows {t * ROWS / brentq_rows * 1e3:10.1f} ms  beta[0]={out[0][3]!r}")


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
    ap.add_argument("--batch", action="store_true")
    ap.add_argument("--brentq-rows", type=int, default=8)
    args = ap.parse_args()
    print(f"numpy {np.__version__}")
    if args.batch:
        bench_batch(args.reps, args.brentq_rows)
        return
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

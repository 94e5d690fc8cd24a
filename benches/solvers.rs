//! Throughput of the exact solvers at 10^3, 10^5 and 10^7 outcomes, against the floor of one
//! fused pass (max, then a sum of exp) over the same arrays; and the GRPO stationary point at
//! 10^6 outcomes.
//!
//! The instance is fixed: SplitMix64 from seed 2026; base `pi0 ∝ -ln u` (exponential weights),
//! reward `ln(u / (1 - u))` (standard logistic). It is also written to
//! `target/bench-data/{n}.{base,reward}.f64` (little-endian f64) so that
//! `scripts/bench_numpy.py` times the NumPy/SciPy implementation on exactly the same data.
//! See `benches/RESULTS.md` for the measured numbers and the commands.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion};
use rlhf_claims::{buffer, solve, Dist};
use std::time::Duration;

mod common;
use common::{instance, write_f64s};

const SIZES: [usize; 3] = [1_000, 100_000, 10_000_000];
const BETA: f64 = 1.0;
const KL_BUDGET: f64 = 1.0;

fn export(n: usize, base: &[f64], reward: &[f64]) {
    write_f64s(&format!("{n}.base.f64"), base);
    write_f64s(&format!("{n}.reward.f64"), reward);
}

/// The floor: one pass for `m = max r`, one pass for `sum pi0 exp((r - m)/beta)`.
fn fused_pass(base: &[f64], reward: &[f64], beta: f64) -> f64 {
    let m = reward.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let inv = 1.0 / beta;
    let s: f64 = base
        .iter()
        .zip(reward)
        .map(|(p, r)| p * ((r - m) * inv).exp())
        .sum();
    m * inv + s.ln()
}

fn bench(c: &mut Criterion) {
    for n in SIZES {
        let (p, r) = instance(n);
        export(n, &p, &r);
        let base = Dist::new(p.clone()).expect("valid base");
        let mut g = c.benchmark_group(format!("n={n}"));
        if n >= 1_000_000 {
            g.sample_size(10)
                .warm_up_time(Duration::from_secs(1))
                .measurement_time(Duration::from_secs(8));
        }
        g.bench_function(BenchmarkId::new("fused_pass", n), |b| {
            b.iter(|| fused_pass(black_box(&p), black_box(&r), BETA))
        });
        // What returning two fresh n-vectors costs by itself (the tilt returns the policy and
        // the log-policy): allocate with the huge-page advice, write once.
        g.bench_function(BenchmarkId::new("two_fresh_outputs", n), |b| {
            b.iter(|| {
                let (mut x, mut y) = (buffer::zeroed::<f64>(n), buffer::zeroed::<f64>(n));
                x.iter_mut().zip(&r).for_each(|(x, r)| *x = *r);
                y.iter_mut().zip(&p).for_each(|(y, p)| *y = *p);
                black_box((x, y))
            })
        });
        g.bench_function(BenchmarkId::new("tilt", n), |b| {
            b.iter(|| solve::tilt(black_box(&base), black_box(&r), BETA))
        });
        g.bench_function(BenchmarkId::new("kl_budget", n), |b| {
            b.iter(|| solve::kl_budget(black_box(&base), black_box(&r), KL_BUDGET))
        });
        // The win-rate optimum: the mid-rank w (a radix sort and a class walk), then the same
        // budget solver on w.
        g.bench_function(BenchmarkId::new("winrate_optimal", n), |b| {
            b.iter(|| solve::winrate_optimal(black_box(&base), black_box(&r), KL_BUDGET))
        });
        // chiPO: the root of sum pi0 W(e^{u - d}) = 1 by Newton's method, each step one pass.
        g.bench_function(BenchmarkId::new("chipo", n), |b| {
            b.iter(|| solve::chipo(black_box(&base), black_box(&r), BETA))
        });
        g.finish();
    }
}

/// The exact GRPO stationary point (k3 as a loss, sample std) at `G = 2` (closed form on the
/// sorted reward classes) and `G = inf` (a monotone root for `lambda`) on 10^6 outcomes, the
/// size at which the solver is to take well under a second.
fn bench_grpo(c: &mut Criterion) {
    use solve::grpo::{GroupSize, GroupStd, GrpoConfig, KlPlacement};
    let n = 1_000_000;
    let (p, r) = instance(n);
    let base = Dist::new(p).expect("valid base");
    let mut g = c.benchmark_group(format!("grpo n={n}"));
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8));
    for (label, group_size) in [
        ("G=2", GroupSize::Finite(2)),
        ("G=inf", GroupSize::Infinite),
    ] {
        let config = GrpoConfig {
            beta: BETA,
            group_size,
            std: GroupStd::Sample,
            kl: KlPlacement::K3Loss,
        };
        g.bench_function(BenchmarkId::new("grpo_k3_loss", label), |b| {
            b.iter(|| solve::grpo_stationary(black_box(&base), black_box(&r), &config))
        });
    }
    g.finish();
}

criterion_group!(benches, bench, bench_grpo);
criterion_main!(benches);

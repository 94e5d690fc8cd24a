//! Exact best-of-N on large supports: 10^7 outcomes with distinct random rewards, and 10^7
//! outcomes with heavy ties (100 reward levels), at N = 10^12 and N = 2. The target is well
//! under a second per solve.

use criterion::{criterion_group, criterion_main, Criterion};
use rand::Rng;
use rlhf_claims::sample::seeded_rng;
use rlhf_claims::solve::best_of_n;
use rlhf_claims::Dist;
use std::hint::black_box;

const OUTCOMES: usize = 10_000_000;

fn problem(levels: Option<u32>) -> (Dist, Vec<f64>) {
    let mut rng = seeded_rng(7);
    let weights: Vec<f64> = (0..OUTCOMES).map(|_| rng.gen::<f64>()).collect();
    let reward = (0..OUTCOMES)
        .map(|_| match levels {
            Some(l) => f64::from(rng.gen_range(0..l)),
            None => rng.gen::<f64>() * 2.0 - 1.0,
        })
        .collect();
    match Dist::from_weights(weights) {
        Ok(d) => (d, reward),
        Err(e) => panic!("benchmark base: {e}"),
    }
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("best_of_n_1e7");
    group.sample_size(10);
    for (name, levels) in [("distinct", None), ("100_levels", Some(100))] {
        let (base, reward) = problem(levels);
        // N = 10^12 (most classes underflow to probability 0) and N = 2 (none does, so every
        // outcome's probability is formed and written).
        for n in [1_000_000_000_000u64, 2] {
            group.bench_function(format!("{name}/N={n}"), |b| {
                b.iter(|| best_of_n(black_box(&base), black_box(&reward), n))
            });
        }
    }
    group.finish();
}

/// Soft best-of-N (`solve::soft_best_of_n`) on 10^6 outcomes with distinct random rewards in
/// `[-1, 1)`, at N = 10^12 and temperature 1. The target is under a second per solve.
fn bench_soft(c: &mut Criterion) {
    let mut group = c.benchmark_group("soft_best_of_n_1e6");
    group.sample_size(10);
    let mut rng = seeded_rng(7);
    let weights: Vec<f64> = (0..1_000_000).map(|_| rng.gen::<f64>()).collect();
    let reward: Vec<f64> = (0..1_000_000)
        .map(|_| rng.gen::<f64>() * 2.0 - 1.0)
        .collect();
    let base = match Dist::from_weights(weights) {
        Ok(d) => d,
        Err(e) => panic!("benchmark base: {e}"),
    };
    group.bench_function("distinct/N=1e12/lambda=1", |b| {
        b.iter(|| {
            rlhf_claims::solve::soft_best_of_n(
                black_box(&base),
                black_box(&reward),
                1_000_000_000_000,
                1.0,
            )
        })
    });
    group.finish();
}

criterion_group!(benches, bench, bench_soft);
criterion_main!(benches);

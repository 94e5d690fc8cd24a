//! The into-buffer solvers at 10^3, 10^5 and 10^7 outcomes, and a batch of 256 rows x 131072
//! outcomes (f64), against a STREAM-like floor (one read of the rewards and the base's two
//! views, one write of two outputs) in the same run.
//!
//! Instances: SplitMix64 (as in `benches/solvers.rs`). Single rows: the instance of
//! `benches/solvers.rs` (same seed, same data, written there). The batch: logits `-ln(-ln u)`
//! (standard Gumbel, the logits of a random softmax) and logistic rewards `ln(u/(1-u))`, row
//! after row from seed 2027, written to `target/bench-data/batch.{logits,reward}.f64` for
//! `scripts/bench_numpy.py --batch`. See `benches/RESULTS.md`.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion};
use rlhf_claims::solve::batch::{self, Bases, Param, Rows};
use rlhf_claims::solve::{self, PolicyBuffers};
use rlhf_claims::Dist;
use std::time::Duration;

mod common;
use common::{instance, write_f64s, SplitMix64};

const SIZES: [usize; 3] = [1_000, 100_000, 10_000_000];
const ROWS: usize = 256;
const COLS: usize = 131_072;
const BETA: f64 = 1.0;
const KL_BUDGET: f64 = 1.0;

/// The floor: read three arrays of `n` (reward, base, log-base), write two (a fused
/// multiply-add per element, so the compiler cannot skip the reads).
fn stream_pass(p: &[f64], lp: &[f64], r: &[f64], (pi, log_pi): (&mut [f64], &mut [f64])) {
    for ((((a, b), x), y), z) in pi.iter_mut().zip(log_pi.iter_mut()).zip(p).zip(lp).zip(r) {
        *a = x * z;
        *b = y + z;
    }
}

fn bench_into(c: &mut Criterion) {
    for n in SIZES {
        let (p, r) = instance(n);
        let base = Dist::new(p).expect("valid base");
        let mut g = c.benchmark_group(format!("into n={n}"));
        if n >= 1_000_000 {
            g.sample_size(10);
        }
        let mut out = PolicyBuffers::with_len(n);
        g.bench_function(BenchmarkId::new("stream_floor", n), |b| {
            b.iter(|| {
                let out = (&mut out.policy[..], &mut out.log_policy[..]);
                stream_pass(base.probs(), base.log_probs(), &r, out)
            })
        });
        g.bench_function(BenchmarkId::new("tilt_into", n), |b| {
            b.iter(|| solve::tilt_into(black_box(&base), black_box(&r), BETA, &mut out))
        });
        g.bench_function(BenchmarkId::new("kl_budget_into", n), |b| {
            b.iter(|| solve::kl_budget_into(black_box(&base), black_box(&r), KL_BUDGET, &mut out))
        });
        g.finish();
    }
}

fn bench_batch(c: &mut Criterion) {
    let mut rng = SplitMix64(2027);
    let logits: Vec<f64> = (0..ROWS * COLS)
        .map(|_| -(-rng.next_unit().ln()).ln())
        .collect();
    let rewards: Vec<f64> = (0..ROWS * COLS).map(|_| rng.logistic()).collect();
    write_f64s("batch.logits.f64", &logits);
    write_f64s("batch.reward.f64", &rewards);
    let rows = Rows::new(&logits, COLS).expect("shape");
    let bases = batch::dists_from_logits(rows).expect("valid logits");
    let r = Rows::new(&rewards, COLS).expect("shape");
    let mut g = c.benchmark_group(format!("batch {ROWS}x{COLS}"));
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8));
    let mut out = PolicyBuffers::with_len(ROWS * COLS);
    g.bench_function("stream_floor", |b| {
        b.iter(|| {
            for (i, d) in bases.iter().enumerate() {
                let span = i * COLS..(i + 1) * COLS;
                let out = (&mut out.policy[span.clone()], &mut out.log_policy[span]);
                stream_pass(d.probs(), d.log_probs(), r.row(i), out);
            }
        })
    });
    g.bench_function("from_logits", |b| {
        b.iter(|| batch::dists_from_logits(black_box(rows)))
    });
    let bases = Bases::PerRow(&bases);
    g.bench_function("tilt_fresh", |b| {
        b.iter(|| batch::tilt(bases, r, Param::Shared(BETA)))
    });
    g.bench_function("tilt_into", |b| {
        b.iter(|| batch::tilt_into(bases, r, Param::Shared(BETA), &mut out))
    });
    g.bench_function("kl_budget_fresh", |b| {
        b.iter(|| batch::kl_budget(bases, r, Param::Shared(KL_BUDGET)))
    });
    g.bench_function("kl_budget_into", |b| {
        b.iter(|| batch::kl_budget_into(bases, r, Param::Shared(KL_BUDGET), &mut out))
    });
    g.finish();
}

criterion_group!(benches, bench_into, bench_batch);
criterion_main!(benches);

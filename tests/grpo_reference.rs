//! `P_G` (GRPO's conditional expected advantage) at finite `G` against 50-digit references
//! (`scripts/reference_grpo.py`, mpmath, every composition summed with no pruning), fixture
//! `tests/fixtures/grpo_reference.json`: binary rewards up to `G = 10^6` and three reward classes
//! up to `G = 400`.
//!
//! Tolerance: the solver's own `truncation_bound` (the pruning, bounded rigorously) plus the
//! crate's accuracy target for rounding, `1e-12 max(1, |P_G|)`. (The worst-case rounding estimate
//! of the module docs, `2 (K - 1) G eps`, is far looser; the errors observed on these cases are
//! at most `7e-14`, at `G = 400` with three classes, and 0 at `G = 10^6`.)
//!
//! Negative control: the same comparison, with the solver run at `G + 1` instead of `G`, must
//! fail on every case with `G <= 5000` (so the tolerance is tight enough to tell neighbouring
//! group sizes apart).

use rlhf_claims::solve::grpo::{
    group_advantage_bounded, GroupSize, GroupStd, GrpoConfig, KlPlacement,
};
use rlhf_claims::{Dist, Result};
use serde_json::Value;

struct Case {
    values: Vec<f64>,
    mass: Vec<f64>,
    g: usize,
    reference: Vec<f64>,
}

fn cases() -> Vec<Case> {
    let v: Value =
        serde_json::from_str(include_str!("fixtures/grpo_reference.json")).unwrap_or(Value::Null);
    let nums = |x: &Value| -> Vec<f64> {
        x.as_array()
            .map(|a| {
                a.iter()
                    .map(|y| {
                        y.as_f64()
                            .or_else(|| y.as_str().and_then(|s| s.parse().ok()))
                            .unwrap_or(f64::NAN)
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    v["cases"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| Case {
                    values: nums(&c["values"]),
                    mass: nums(&c["mass"]),
                    g: c["group_size"].as_u64().unwrap_or(0) as usize,
                    reference: nums(&c["advantage"]),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The largest error over the classes minus its allowance (`<= 0` when within tolerance; NaN
/// maps to +inf).
fn excess(case: &Case, g: usize) -> Result<f64> {
    let config = GrpoConfig {
        beta: 1.0,
        group_size: GroupSize::Finite(g),
        std: GroupStd::Population,
        kl: KlPlacement::K3Loss,
    };
    let pi = Dist::new(case.mass.clone())?;
    let got = group_advantage_bounded(&pi, &case.values, &config)?;
    let mut worst = f64::NEG_INFINITY;
    for (a, r) in got.advantage.iter().zip(&case.reference) {
        let allowance = got.truncation_bound + 1e-12 * r.abs().max(1.0);
        let e = (a - r).abs() - allowance;
        worst = if e.is_nan() {
            f64::INFINITY
        } else {
            worst.max(e)
        };
    }
    Ok(worst)
}

#[test]
fn the_pruned_walk_matches_the_references() -> Result<()> {
    let cases = cases();
    assert_eq!(cases.len(), 9, "the fixture's cases");
    for c in &cases {
        let e = excess(c, c.g)?;
        assert!(
            e <= 0.0,
            "G {} classes {:?}: error exceeds its allowance by {e:e}",
            c.g,
            c.values
        );
    }
    Ok(())
}

#[test]
fn the_comparison_rejects_a_neighbouring_group_size() -> Result<()> {
    let small: Vec<Case> = cases().into_iter().filter(|c| c.g <= 5000).collect();
    assert!(small.len() >= 6);
    for c in &small {
        let e = excess(c, c.g + 1)?;
        assert!(e > 0.0, "G {} run at G + 1 passed the comparison", c.g);
    }
    Ok(())
}

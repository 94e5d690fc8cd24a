//! Snapshot of the table `grpo-vs-tilt` (rounded to 9 significant digits), plus the identities
//! its rows must satisfy whatever the snapshot says.

use rlhf_claims::solve::grpo::{group_advantage, GroupSize, GroupStd, GrpoConfig, KlPlacement};
use rlhf_claims::tables::grpo_vs_tilt::{BASE, BETA, REWARD};
use rlhf_claims::tables::{self, Cell};
use rlhf_claims::Dist;

fn num(c: &Cell) -> f64 {
    match c {
        Cell::Num(x) => *x,
        _ => f64::NAN,
    }
}

fn text(c: &Cell) -> String {
    match c {
        Cell::Text(s) => s.clone(),
        _ => String::new(),
    }
}

#[test]
fn grpo_vs_tilt_table() -> rlhf_claims::Result<()> {
    let t = tables::build("grpo-vs-tilt")?;
    assert_eq!(t.rows.len(), 2 * 2 * 5 + 1);
    let base = Dist::new(BASE.to_vec())?;
    let find = |kl: &str, std: &str, g: &str| {
        t.rows
            .iter()
            .find(|r| text(&r[0]) == kl && text(&r[1]) == std && text(&r[2]) == g)
            .cloned()
    };
    for row in &t.rows[..20] {
        if text(&row[3]) != "stationary" {
            // Only the ratio placement at G = inf lacks a unique stationary point.
            assert_eq!(
                (text(&row[0]).as_str(), text(&row[2]).as_str()),
                ("k3ratio", "inf"),
                "{row:?}"
            );
            continue;
        }
        let pi = Dist::new((4..8).map(|i| num(&row[i])).collect())?;
        let g = match text(&row[2]).as_str() {
            "inf" => GroupSize::Infinite,
            n => GroupSize::Finite(
                n.parse()
                    .map_err(|_| rlhf_claims::Error::InvalidInput(n.into()))?,
            ),
        };
        let std = if text(&row[1]) == "sample" {
            GroupStd::Sample
        } else {
            GroupStd::Population
        };
        let kl = if text(&row[0]) == "k3loss" {
            KlPlacement::K3Loss
        } else {
            KlPlacement::K3Ratio
        };
        let config = GrpoConfig {
            beta: BETA,
            group_size: g,
            std,
            kl,
        };
        let p = group_advantage(&pi, &REWARD, &config)?;
        // The fixed-point identities, to 1e-12 (the table keeps full precision).
        for o in 0..4 {
            match kl {
                KlPlacement::K3Loss => {
                    let lhs = pi.prob(o) * (1.0 - p[o] / BETA);
                    assert!((lhs - BASE[o]).abs() < 1e-12, "{row:?}");
                }
                KlPlacement::K3Ratio => {
                    let level = |x: usize| pi.log_prob(x) - base.log_prob(x) - p[x] / BETA;
                    assert!((level(o) - level(0)).abs() < 1e-10, "{row:?}");
                }
            }
        }
        // No GRPO point is the tilt.
        assert!(num(&row[11]) > 1e-3, "{row:?}");
        // E[r] between the base's (1.0) and the maximum.
        assert!(num(&row[8]) > 1.0 && num(&row[8]) < 3.0, "{row:?}");
    }
    // At G = inf the two stds coincide; at G = 2 the sample std is the population std at
    // beta sqrt 2, which for the k3 loss moves less mass: E[r] is lower.
    let (a, b) = (
        find("k3loss", "sample", "inf"),
        find("k3loss", "population", "inf"),
    );
    if let (Some(a), Some(b)) = (a, b) {
        for i in 4..11 {
            assert!((num(&a[i]) - num(&b[i])).abs() < 1e-15, "{a:?} {b:?}");
        }
    }
    for kl in ["k3loss", "k3ratio"] {
        if let (Some(s), Some(p)) = (find(kl, "sample", "2"), find(kl, "population", "2")) {
            assert!(num(&s[8]) < num(&p[8]), "{s:?} {p:?}");
        }
    }
    insta::assert_snapshot!(t.snapshot());
    Ok(())
}

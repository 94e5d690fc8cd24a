//! Every registered claim passes its check at the default case count (`PROPTEST_CASES` or 256),
//! with its control rejected and its sampled witnesses (seed 0) passing, as `check --witnesses`
//! runs them: one test per family so the families run in parallel. And the registry itself is
//! consistent with the catalog conventions (unique ids, a proof file per id, sources and
//! statements present).

use rlhf_claims::claims::{self, CheckConfig, Status};
use std::collections::HashSet;
use std::path::Path;

fn check_family(family: &str) {
    let config = CheckConfig::default();
    let mut failures = Vec::new();
    for claim in claims::all().into_iter().filter(|c| c.family() == family) {
        let v = claim.run_with_witnesses(&config);
        if !v.passed {
            failures.push(format!("{}: {:?}", claim.id, v));
        }
    }
    assert!(
        failures.is_empty(),
        "failing claims:\n{}",
        failures.join("\n")
    );
}

macro_rules! family_tests {
    ($($name:ident => $family:literal),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                check_family($family);
            }
        )*
        /// The families the tests above check.
        const CHECKED_FAMILIES: &[&str] = &[$($family),*];
    };
}

family_tests! {
    kl_family_passes => "kl",
    lagrange_family_passes => "lagrange",
    bon_family_passes => "bon",
    quantilizer_family_passes => "quantilizer",
    conditioning_family_passes => "conditioning",
    pref_family_passes => "pref",
    goodhart_family_passes => "goodhart",
    estimator_family_passes => "estimator",
    grpo_family_passes => "grpo",
}

/// Every family of the registry has its test above: a family left out of the list (as `grpo`
/// once was, so that a planted bug in its finite-`G` solver passed this file) fails here.
#[test]
fn every_family_of_the_registry_is_checked() {
    let families: HashSet<&str> = claims::all().iter().map(|c| c.family()).collect();
    let checked: HashSet<&str> = CHECKED_FAMILIES.iter().copied().collect();
    assert_eq!(families, checked);
}

#[test]
fn registry_ids_are_unique_and_documented() {
    let all = claims::all();
    assert!(!all.is_empty());
    let mut seen = HashSet::new();
    for c in &all {
        assert!(seen.insert(c.id), "duplicate id {}", c.id);
        assert!(c.id.contains('.'), "id {} has no family prefix", c.id);
        assert!(
            !c.title.is_empty() && !c.statement.is_empty(),
            "{} lacks text",
            c.id
        );
        assert!(!c.sources.is_empty(), "{} cites no source", c.id);
        let proof = Path::new(env!("CARGO_MANIFEST_DIR")).join(c.proof_path());
        assert!(
            proof.is_file(),
            "{} has no proof file {}",
            c.id,
            proof.display()
        );
        if c.status == Status::Conjecture {
            assert!(
                c.settled.is_some(),
                "{} is open but says nothing of the search",
                c.id
            );
        }
    }
}

#[test]
fn a_broken_check_is_reported_as_failing() {
    // Negative control for the registry runner: a theorem whose property is false must fail
    // and report a shrunk counterexample, so a passing suite is evidence and not a tautology.
    let v = claims::check_theorem(&CheckConfig::new(64, 1), 0u32..1000, |x| {
        Ok(claims::Deviation::exact(*x < 500))
    });
    assert!(!v.passed);
    assert_eq!(v.counterexample.as_deref(), Some("500"));
}

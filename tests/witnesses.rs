//! Every registered sampled witness passes and rejects its negative control at seeds 1 and 2
//! (seed 0 runs with its claim in the registry test, `tests/claims.rs`), and the witness table
//! names only registered claims.

use rlhf_claims::claims::witnesses::TABLE;
use rlhf_claims::claims::{find, CheckConfig};
use rlhf_claims::Result;

#[test]
fn every_witness_passes_and_rejects_its_control_at_two_seeds() -> Result<()> {
    for (id, witnesses) in TABLE {
        assert!(!witnesses.is_empty(), "{id}: empty witness list");
        for w in *witnesses {
            for seed in [1, 2] {
                let o = (w.run)(seed)?;
                eprintln!("{id} seed {seed}: {o:?}");
                assert_eq!(o.name, w.name, "{id}: the outcome's name");
                assert!(o.passed, "{id} seed {seed}: {o:?}");
                assert!(o.control_rejected, "{id} seed {seed}: {o:?}");
                assert!(o.false_alarm_rate > 0.0 && o.false_alarm_rate <= 1e-6);
            }
        }
    }
    Ok(())
}

#[test]
fn every_witness_table_id_is_a_registered_claim_and_appears_once() {
    for (k, (id, _)) in TABLE.iter().enumerate() {
        assert!(find(id).is_some(), "{id} is not a registered claim");
        assert!(
            TABLE[..k].iter().all(|(other, _)| other != id),
            "{id} appears twice"
        );
    }
}

/// `Claim::run` (the default check) runs no witness; `run_with_witnesses` runs the table's.
#[test]
fn witnesses_run_only_when_asked() -> Result<()> {
    let claim = find("bon.exact").ok_or(rlhf_claims::Error::InvalidInput("bon.exact".into()))?;
    let config = CheckConfig::new(8, 0);
    assert!(claim.run(&config).witnesses.is_empty());
    let v = claim.run_with_witnesses(&config);
    assert_eq!(v.witnesses.len(), 1);
    assert!(v.witnesses[0].passed && v.witnesses[0].control_rejected);
    Ok(())
}

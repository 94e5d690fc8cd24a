//! Claims with machine-checked proofs: the Coq theorems (under `proofs/coq/theories/`) that
//! state each claim's finite statement.
//!
//! A theorem is named by its qualified Coq name `RLHF.<File>.<theorem>`, the file being
//! `proofs/coq/theories/<File>.v`. `scripts/check_coq.sh` builds the proofs and audits every
//! theorem listed here with `Print Assumptions` (only the standard library's classical-reals
//! axioms are allowed, no `Admitted`); its list of cited theorems and this table must agree
//! (checked by a test). Each claim's proof file quotes the formal statement next to the
//! informal one.

/// Every machine-checked claim and its Coq theorems.
pub const TABLE: &[(&str, &[&str])] = &[
    ("kl.tilt", &["RLHF.Tilt.kl_tilt"]),
    ("kl.gap", &["RLHF.Tilt.kl_gap"]),
    (
        "kl.support",
        &["RLHF.Tilt.kl_support", "RLHF.Tilt.kl_support_finite"],
    ),
    ("kl.odds", &["RLHF.Odds.kl_odds"]),
    ("kl.maxent", &["RLHF.Tilt.kl_maxent"]),
    (
        "kl.monotone",
        &[
            "RLHF.Monotone.kl_monotone",
            "RLHF.Budget.kl_monotone_ranges",
        ],
    ),
    ("lagrange.kl-budget", &["RLHF.Budget.lagrange_kl_budget"]),
    (
        "lagrange.reward-target",
        &["RLHF.Budget.lagrange_reward_target"],
    ),
    ("lagrange.threshold", &["RLHF.Threshold.lagrange_threshold"]),
    ("lagrange.duality", &["RLHF.Corollaries.lagrange_duality"]),
    (
        "quantilizer.cost",
        &[
            "RLHF.Quantilizer.quantilizer_cost",
            "RLHF.Quantilizer.quant_dist",
        ],
    ),
    (
        "quantilizer.kl",
        &[
            "RLHF.Quantilizer.quantilizer_kl",
            "RLHF.Quantilizer.quantilizer_kl_value",
        ],
    ),
    (
        "estimator.unbiased",
        &[
            "RLHF.Estimator.estimator_unbiased",
            "RLHF.Estimator.estimator_var_k1",
        ],
    ),
    (
        "estimator.sign",
        &["RLHF.Estimator.k3_nonneg", "RLHF.Estimator.estimator_sign"],
    ),
    (
        "goodhart.reweighting",
        &[
            "RLHF.Odds.goodhart_reweighting",
            "RLHF.Odds.optimizers_are_reweightings",
        ],
    ),
    (
        "conditioning.tilt-closest",
        &[
            "RLHF.Corollaries.conditioning_tilt_closest",
            "RLHF.Corollaries.reweighting_supp",
        ],
    ),
    (
        "conditioning.uniform-maxent",
        &["RLHF.Corollaries.conditioning_uniform_maxent"],
    ),
    ("bon.kl-bound", &["RLHF.BonBound.bon_kl_bound"]),
    (
        "grpo.stationary",
        &[
            "RLHF.Grpo.grpo_update_sum",
            "RLHF.Grpo.grpo_stationary",
            "RLHF.Grpo.grpo_stationary_supp",
        ],
    ),
];

/// The Coq theorems of claim `id` (empty when it is not machine-checked).
pub fn for_claim(id: &str) -> &'static [&'static str] {
    TABLE
        .iter()
        .find(|(claim, _)| *claim == id)
        .map_or(&[], |(_, t)| *t)
}

/// The short name `<File>.<theorem>` of a qualified theorem name (the `RLHF.` prefix dropped).
pub fn short_name(theorem: &str) -> &str {
    theorem.strip_prefix("RLHF.").unwrap_or(theorem)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use std::path::Path;

    fn read(path: &Path) -> Result<String, String> {
        std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// `(file, theorem)` of a qualified name `RLHF.<File>.<theorem>`.
    fn split(theorem: &str) -> Result<(&str, &str), String> {
        short_name(theorem)
            .split_once('.')
            .ok_or_else(|| format!("{theorem} is not RLHF.<File>.<theorem>"))
    }

    #[test]
    fn every_claim_in_the_table_is_registered_once() -> Result<(), String> {
        let ids: BTreeSet<&str> = crate::claims::all().iter().map(|c| c.id).collect();
        let mut seen = BTreeSet::new();
        for (claim, theorems) in TABLE {
            if !ids.contains(claim) {
                return Err(format!("{claim} is not a registered claim"));
            }
            if !seen.insert(*claim) || theorems.is_empty() {
                return Err(format!("{claim}: duplicated or without theorems"));
            }
        }
        Ok(())
    }

    /// Every theorem exists in its Coq file (as `Theorem`/`Lemma <name>`) and is named, with
    /// its file, in the claim's proof file.
    #[test]
    fn every_theorem_exists_and_is_cited_by_its_proof_file() -> Result<(), String> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for (claim, theorems) in TABLE {
            let proof = read(&root.join(format!("proofs/{claim}.md")))?;
            for theorem in *theorems {
                let (file, name) = split(theorem)?;
                let source = read(&root.join(format!("proofs/coq/theories/{file}.v")))?;
                let declared = source.lines().any(|l| {
                    let mut words = l.split_whitespace();
                    matches!(words.next(), Some("Theorem" | "Lemma"))
                        && words.next().map(|w| w.trim_end_matches(':')) == Some(name)
                });
                if !declared {
                    return Err(format!(
                        "{theorem}: not declared in proofs/coq/theories/{file}.v"
                    ));
                }
                let file_path = format!("proofs/coq/theories/{file}.v");
                if !proof.contains(name) || !proof.contains(&file_path) {
                    return Err(format!(
                        "proofs/{claim}.md does not cite {name} in {file_path}"
                    ));
                }
            }
        }
        Ok(())
    }

    /// The audit list of `scripts/check_coq.sh` (`claim theorem` lines of its `CITED` block)
    /// is this table.
    #[test]
    fn the_check_script_audits_exactly_the_table() -> Result<(), String> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let script = read(&root.join("scripts/check_coq.sh"))?;
        let block = script
            .split_once("CITED=\"")
            .and_then(|(_, rest)| rest.split_once('"'))
            .map(|(block, _)| block)
            .ok_or("scripts/check_coq.sh lacks its CITED block")?;
        let listed: BTreeSet<(String, String)> = block
            .lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(c, t)| (c.trim().to_string(), t.trim().to_string()))
            .collect();
        let table: BTreeSet<(String, String)> = TABLE
            .iter()
            .flat_map(|(c, ts)| ts.iter().map(|t| (c.to_string(), t.to_string())))
            .collect();
        if listed == table {
            Ok(())
        } else {
            Err(format!(
                "script and table differ: only in the script {:?}, only in the table {:?}",
                listed.difference(&table).collect::<Vec<_>>(),
                table.difference(&listed).collect::<Vec<_>>()
            ))
        }
    }

    /// `list` shows the theorems: a JSON field (empty when none), a Markdown and a text column.
    #[test]
    fn list_shows_the_machine_checked_claims() -> Result<(), String> {
        use crate::report::{list, Format};
        let claims = crate::claims::all();
        let json: serde_json::Value =
            serde_json::from_str(&list(&claims, Format::Json)).map_err(|e| e.to_string())?;
        for c in json["claims"].as_array().into_iter().flatten() {
            let id = c["id"].as_str().unwrap_or_default();
            let listed: Vec<&str> = c["machine_checked"]
                .as_array()
                .ok_or(format!("{id}: no machine_checked array"))?
                .iter()
                .filter_map(|t| t.as_str())
                .collect();
            if listed != for_claim(id) {
                return Err(format!("{id}: JSON lists {listed:?}"));
            }
        }
        let md = list(&claims, Format::Markdown);
        let text = list(&claims, Format::Text);
        let row = |s: &str, key: &str| s.lines().find(|l| l.contains(key)).map(str::to_string);
        let tilt_md = row(&md, "| `kl.tilt` |").ok_or("no kl.tilt row")?;
        let tilt_text = row(&text, "kl.tilt ").ok_or("no kl.tilt line")?;
        if !tilt_md.ends_with("| Tilt.kl_tilt |") || !tilt_text.contains(" coq ") {
            return Err(format!("kl.tilt rows: {tilt_md} / {tilt_text}"));
        }
        Ok(())
    }

    #[test]
    fn unlisted_claims_have_no_theorems() {
        assert!(for_claim("no.such-claim").is_empty());
        assert_eq!(for_claim("kl.tilt"), &["RLHF.Tilt.kl_tilt"]);
        assert_eq!(short_name("RLHF.Tilt.kl_tilt"), "Tilt.kl_tilt");
    }
}

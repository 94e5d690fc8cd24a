//! The claim statements as a section of each family module's rustdoc page: `docs/claims/<module>.md`
//! is generated from the registry (`tests/claim_docs.rs` checks it is current; rewrite with
//! `UPDATE_CLAIM_DOCS=1 cargo test --test claim_docs`) and appended to the module's docs in
//! `src/claims/mod.rs`. The math renders with KaTeX through `docs/katex-header.html`.

use super::{bibliography, proof_url};
use crate::claims::{self, Claim};

/// The modules of [`crate::claims`] that register claims, with their claims.
pub fn modules() -> Vec<(&'static str, Vec<Claim>)> {
    vec![
        ("kl", claims::kl::claims()),
        ("lagrange", claims::lagrange::claims()),
        ("best_of_n", claims::best_of_n::claims()),
        ("quantilizer", claims::quantilizer::claims()),
        ("conditioning", claims::conditioning::claims()),
        ("pref", claims::pref::claims()),
        ("goodhart", claims::goodhart::claims()),
        ("estimator", claims::estimator::claims()),
        ("grpo", claims::grpo::claims()),
        ("winrate", claims::winrate::claims()),
        ("best_of_n_variants", claims::best_of_n_variants::claims()),
        ("pref_failures", claims::pref_failures::claims()),
    ]
}

/// Markdown with `$...$` math made safe for rustdoc: outside code spans, a backslash before
/// punctuation is doubled (so `\|` reaches KaTeX), brackets and `*` are escaped (no links or
/// emphasis), `<` and `>` become entities.
pub fn rustdoc_math(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for (k, part) in s.split('`').enumerate() {
        if k > 0 {
            out.push('`');
        }
        if k % 2 == 1 {
            out.push_str(part);
            continue;
        }
        let chars: Vec<char> = part.chars().collect();
        for (i, &c) in chars.iter().enumerate() {
            match c {
                '\\' if chars.get(i + 1).is_some_and(char::is_ascii_punctuation) => {
                    out.push_str("\\\\")
                }
                '[' | ']' | '*' => {
                    out.push('\\');
                    out.push(c);
                }
                '<' => out.push_str("&lt;"),
                '>' => out.push_str("&gt;"),
                _ => out.push(c),
            }
        }
    }
    out
}

/// The section appended to a family module's docs.
pub fn module_doc(claims: &[Claim]) -> String {
    let mut s = String::from(
        "\n# Claims registered here\n\n(Generated from the registry by `tests/claim_docs.rs`.)\n",
    );
    for c in claims {
        s.push_str(&format!(
            "\n## `{}`: {} ({})\n\n{}\n\nSources: ",
            c.id,
            rustdoc_math(c.title),
            c.status.as_str(),
            rustdoc_math(c.statement)
        ));
        let refs: Vec<String> = c
            .sources
            .iter()
            .map(|src| {
                let links: Vec<String> = bibliography::references_for(&[src])
                    .iter()
                    .filter_map(|r| Some(format!("[{}]({})", r.identifier()?, r.link()?)))
                    .collect();
                if links.is_empty() {
                    rustdoc_math(src)
                } else {
                    format!("{} ({})", rustdoc_math(src), links.join(", "))
                }
            })
            .collect();
        s.push_str(&refs.join("; "));
        s.push_str(&format!(
            ".\n\nControl: {}. Proof: [`proofs/{}.md`]({}).\n",
            rustdoc_math(c.control.description),
            c.id,
            proof_url(c.id)
        ));
    }
    s
}

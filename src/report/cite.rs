//! A citation of one claim's verdict: the crate and version, the claim id, status and statement
//! title, the seed and budget of the check and what it found, the proof's stable URL, and the
//! claim's sources with their identifiers (as text, Markdown, or BibTeX).
//!
//! The output depends only on the claim, the verdict's counts and numbers, the seed and the
//! crate version: no time, no date beyond the release date, no machine.

use super::bibliography::{self, bibtex_entry, Reference};
use super::{proof_url, sci, verdict_word, RELEASE_DATE, REPOSITORY, VERSION};
use crate::claims::{Claim, Verdict};

/// Output format of `cite`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CiteFormat {
    /// Plain text.
    Text,
    /// Markdown, with links.
    Markdown,
    /// BibTeX: an entry for the verdict, then one per source.
    Bibtex,
}

/// The one-sentence account of what the check found: verdict, cases, seed, worst error and
/// tolerance, and the control's outcome.
pub fn verdict_sentence(c: &Claim, v: &Verdict, seed: u64) -> String {
    let control = match &v.control {
        Some(o) if o.rejected => "control rejected",
        Some(_) => "control SURVIVED",
        None => "no control run",
    };
    format!(
        "{} on {} cases at seed {seed} (worst error {}, tolerance {}; {control})",
        verdict_word(c, v),
        v.cases,
        sci(v.worst_error),
        sci(v.tolerance)
    )
}

/// The citation key of claim `id`'s verdict entry (`rlhf-claims:kl.tilt`).
pub fn key(id: &str) -> String {
    format!("rlhf-claims:{id}")
}

/// Year of [`RELEASE_DATE`].
fn year() -> &'static str {
    RELEASE_DATE.split('-').next().unwrap_or(RELEASE_DATE)
}

/// The citation of claim `c`'s verdict `v` at `seed`.
pub fn cite(c: &Claim, v: &Verdict, seed: u64, format: CiteFormat) -> String {
    let refs = bibliography::references_for(c.sources);
    let found = verdict_sentence(c, v, seed);
    match format {
        CiteFormat::Bibtex => {
            let fields = [
                ("author", "{The rlhf-claims developers}".to_string()),
                (
                    "title",
                    format!(
                        "{{rlhf-claims {VERSION}: claim {}}} ({})",
                        c.id,
                        c.status.as_str()
                    ),
                ),
                ("year", year().to_string()),
                ("version", VERSION.to_string()),
                (
                    "howpublished",
                    format!("Rust crate rlhf-claims, version {VERSION}"),
                ),
                ("url", REPOSITORY.to_string()),
                (
                    "note",
                    format!(
                        "Claim {}: {}. Verdict: {found}. Proof: \\url{{{}}}",
                        c.id,
                        latex_text(c.title),
                        proof_url(c.id)
                    ),
                ),
            ];
            let mut fields = fields.to_vec();
            if let Some(cx) = &v.counterexample {
                fields.push(("annote", format!("Counterexample: {}", latex_text(cx))));
            }
            let mut s = bibtex_entry("misc", &key(c.id), &fields);
            for r in &refs {
                s.push('\n');
                s.push_str(&r.bibtex());
            }
            s
        }
        CiteFormat::Text => {
            let mut s = format!(
                "rlhf-claims {VERSION}, claim {} ({}): {}.\nVerdict: {found}.\n",
                c.id,
                c.status.as_str(),
                c.title,
            );
            if let Some(cx) = &v.counterexample {
                s.push_str(&format!("Counterexample: {cx}\n"));
            }
            s.push_str(&format!(
                "Proof: {}\nSoftware: {REPOSITORY}\n",
                proof_url(c.id)
            ));
            s.push_str(&sources_block(c, &refs, |r| r.text()));
            s
        }
        CiteFormat::Markdown => {
            let mut s = format!(
                "[rlhf-claims]({REPOSITORY}) {VERSION}, claim `{}` ({}): {}.\n\n\
                 Verdict: {found}. [Proof]({}).\n\n",
                c.id,
                c.status.as_str(),
                c.title,
                proof_url(c.id)
            );
            if let Some(cx) = &v.counterexample {
                s.push_str(&format!("Counterexample: `{cx}`\n\n"));
            }
            s.push_str(&sources_block(c, &refs, markdown_reference));
            s
        }
    }
}

/// The claim's sources: each reference once, then the sources that are not publications.
fn sources_block(c: &Claim, refs: &[&Reference], line: impl Fn(&Reference) -> String) -> String {
    let mut s = String::from("Sources:\n");
    for r in refs {
        s.push_str(&format!("- {}\n", line(r)));
    }
    for src in c.sources {
        if let Some(res) = bibliography::resolve(src) {
            if res.keys.is_empty() {
                s.push_str(&format!("- {src} ({})\n", res.note.unwrap_or("")));
            }
        }
    }
    s
}

/// One reference in Markdown, its identifier linked.
pub fn markdown_reference(r: &Reference) -> String {
    match (r.identifier(), r.link(), r.note) {
        (Some(id), Some(link), _) if id != link => format!("{} [{id}]({link})", r.head()),
        (_, Some(link), _) => format!("{} <{link}>", r.head()),
        _ => r.text(),
    }
}

/// Plain text made safe for LaTeX and BibTeX: the special characters escaped.
pub fn latex_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '\\' => out.push_str("\\textbackslash{}"),
            // Brace commands, not `\{`: BibTeX counts escaped braces too.
            '{' => out.push_str("\\textbraceleft{}"),
            '}' => out.push_str("\\textbraceright{}"),
            '%' | '&' | '#' | '_' | '$' => {
                out.push('\\');
                out.push(ch);
            }
            '~' => out.push_str("\\textasciitilde{}"),
            '^' => out.push_str("\\textasciicircum{}"),
            _ => out.push(ch),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claims::CheckConfig;
    use crate::report::bibtex_check;

    fn kl_tilt() -> Result<Claim, String> {
        crate::claims::all()
            .into_iter()
            .find(|c| c.id == "kl.tilt")
            .ok_or_else(|| "kl.tilt is not registered".to_string())
    }

    #[test]
    fn bibtex_citation_parses_and_names_the_verdict() -> Result<(), String> {
        let c = kl_tilt()?;
        let v = c.run(&CheckConfig::new(16, 3));
        let b = cite(&c, &v, 3, CiteFormat::Bibtex);
        let entries = bibtex_check::parse(&b)?;
        assert_eq!(entries[0].key, "rlhf-claims:kl.tilt");
        let note = entries[0].field("note").unwrap_or_default();
        assert!(
            note.contains("at seed 3") && note.contains("16 cases"),
            "{note}"
        );
        assert_eq!(entries[0].field("version"), Some(VERSION));
        let keys: Vec<&str> = entries[1..].iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["shlegeris2022disambiguate", "korbak2022rl"]);
        assert!(b.is_ascii());
        Ok(())
    }

    #[test]
    fn every_claims_citation_parses() -> Result<(), String> {
        // A verdict with awkward numbers (NaN, infinity) must still give valid BibTeX.
        for c in crate::claims::all() {
            let v = Verdict {
                passed: false,
                cases: 0,
                worst_error: f64::NAN,
                tolerance: f64::INFINITY,
                counterexample: Some("{unbalanced \\ % & # _ ~ ^ $".into()),
                note: None,
                seconds: 0.0,
                tightness: None,
                control: None,
                witnesses: Vec::new(),
            };
            bibtex_check::parse(&cite(&c, &v, u64::MAX, CiteFormat::Bibtex))
                .map_err(|e| format!("{}: {e}", c.id))?;
        }
        Ok(())
    }

    #[test]
    fn text_and_markdown_carry_version_seed_and_identifiers() -> Result<(), String> {
        let c = kl_tilt()?;
        let v = c.run(&CheckConfig::new(8, 0));
        for f in [CiteFormat::Text, CiteFormat::Markdown] {
            let s = cite(&c, &v, 0, f);
            for needle in [
                VERSION,
                "kl.tilt",
                "theorem",
                "seed 0",
                "2205.11275",
                "proofs/kl.tilt.md",
            ] {
                assert!(s.contains(needle), "{f:?} lacks {needle}:\n{s}");
            }
        }
        Ok(())
    }

    #[test]
    fn latex_text_escapes_specials() {
        assert_eq!(
            latex_text("a_b 50% & #1 {x}"),
            "a\\_b 50\\% \\& \\#1 \\textbraceleft{}x\\textbraceright{}"
        );
    }
}

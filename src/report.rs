//! Formatting claim listings and check results as text, Markdown or JSON (used by the CLI).

use crate::claims::{Claim, Verdict};
use serde_json::{json, Value};

/// Output format of `list` and `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned plain text.
    Text,
    /// A Markdown table.
    Markdown,
    /// JSON.
    Json,
}

fn verdict_word(c: &Claim, v: &Verdict) -> &'static str {
    match (v.passed, c.status) {
        (true, crate::claims::Status::Refuted) => "refuted",
        (true, crate::claims::Status::Conjecture) => "no-counterexample",
        (true, _) => "pass",
        (false, _) => "FAIL",
    }
}

fn sci(x: f64) -> String {
    if x == 0.0 {
        "0".into()
    } else {
        format!("{x:.2e}")
    }
}

/// The claim list: id, title, status, sources.
pub fn list(claims: &[Claim], format: Format) -> String {
    match format {
        Format::Json => {
            let v: Vec<Value> = claims
                .iter()
                .map(|c| {
                    json!({"id": c.id, "title": c.title, "status": c.status.as_str(),
                           "sources": c.sources, "statement": c.statement, "proof": c.proof_path(),
                           "settled": c.settled})
                })
                .collect();
            format!("{}\n", json!({ "claims": v }))
        }
        Format::Markdown => {
            let mut s =
                String::from("| id | title | status | sources |\n| --- | --- | --- | --- |\n");
            for c in claims {
                s.push_str(&format!(
                    "| `{}` | {} | {} | {} |\n",
                    c.id,
                    c.title,
                    c.status.as_str(),
                    c.sources.join("; ")
                ));
            }
            s
        }
        Format::Text => {
            let w = claims.iter().map(|c| c.id.len()).max().unwrap_or(0);
            claims
                .iter()
                .map(|c| format!("{:w$}  {:10}  {}\n", c.id, c.status.as_str(), c.title))
                .collect()
        }
    }
}

/// The check report: one row per claim.
pub fn check(results: &[(Claim, Verdict)], format: Format) -> String {
    match format {
        Format::Json => {
            let v: Vec<Value> = results
                .iter()
                .map(|(c, v)| {
                    json!({"id": c.id, "status": c.status.as_str(), "passed": v.passed,
                           "cases": v.cases,
                           "worst_error": if v.worst_error.is_finite() { json!(v.worst_error) } else { Value::Null },
                           "tolerance": if v.tolerance.is_finite() { json!(v.tolerance) } else { Value::Null },
                           "counterexample": v.counterexample, "note": v.note,
                           "seconds": v.seconds})
                })
                .collect();
            format!("{}\n", json!({ "claims": v }))
        }
        Format::Markdown => {
            let mut s = String::from(
                "| id | status | verdict | cases | worst error | tolerance | time (s) | counterexample |\n\
                 | --- | --- | --- | --- | --- | --- | --- | --- |\n",
            );
            for (c, v) in results {
                s.push_str(&format!(
                    "| `{}` | {} | {} | {} | {} | {} | {:.2} | {} |\n",
                    c.id,
                    c.status.as_str(),
                    verdict_word(c, v),
                    v.cases,
                    sci(v.worst_error),
                    sci(v.tolerance),
                    v.seconds,
                    v.counterexample
                        .as_deref()
                        .map(|s| format!("`{s}`"))
                        .unwrap_or_default()
                ));
            }
            s
        }
        Format::Text => {
            let w = results
                .iter()
                .map(|(c, _)| c.id.len())
                .max()
                .unwrap_or(2)
                .max(2);
            let mut s = format!(
                "{:w$}  {:10}  {:17}  {:>6}  {:>9}  {:>9}  {:>7}  counterexample / note\n",
                "id", "status", "verdict", "cases", "worst", "tol", "time"
            );
            for (c, v) in results {
                let extra = v
                    .counterexample
                    .clone()
                    .or_else(|| v.note.clone())
                    .unwrap_or_default();
                s.push_str(&format!(
                    "{:w$}  {:10}  {:17}  {:>6}  {:>9}  {:>9}  {:>6.2}s  {}\n",
                    c.id,
                    c.status.as_str(),
                    verdict_word(c, v),
                    v.cases,
                    sci(v.worst_error),
                    sci(v.tolerance),
                    v.seconds,
                    extra
                ));
            }
            let failed = results.iter().filter(|(_, v)| !v.passed).count();
            s.push_str(&format!(
                "\n{} claims: {} passed, {} failed\n",
                results.len(),
                results.len() - failed,
                failed
            ));
            s
        }
    }
}

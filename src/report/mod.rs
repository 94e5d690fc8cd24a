//! Formatting claim listings and check results as text, Markdown or JSON (used by the CLI), the
//! bibliography of the claims' sources ([`bibliography`]), citations of one claim's verdict
//! ([`cite`]), and the full report ([`document`]).

use crate::claims::{Claim, Verdict};
use serde_json::{json, Value};

pub mod bibliography;
pub mod bibtex_check;
pub mod cite;
pub mod claim_docs;
pub mod document;

/// The crate's version, as in `Cargo.toml`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The crate's repository, as in `Cargo.toml`.
pub const REPOSITORY: &str = env!("CARGO_PKG_REPOSITORY");

/// The release date of this version (as in `CITATION.cff`), used as the citation's year.
pub const RELEASE_DATE: &str = "2026-11-26";

/// A stable URL of the proof file of claim `id`: the file at this version's tag.
pub fn proof_url(id: &str) -> String {
    format!("{REPOSITORY}/blob/v{VERSION}/proofs/{id}.md")
}

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

pub(crate) fn verdict_word(c: &Claim, v: &Verdict) -> &'static str {
    if v.control.as_ref().is_some_and(|o| !o.rejected) {
        return "FAIL (control survived)";
    }
    match (v.passed, c.status) {
        (true, crate::claims::Status::Refuted) => "refuted",
        (true, crate::claims::Status::Conjecture) => "no-counterexample",
        (true, _) => "pass",
        (false, _) => "FAIL",
    }
}

pub(crate) fn sci(x: f64) -> String {
    if x == 0.0 {
        "0".into()
    } else {
        format!("{x:.2e}")
    }
}

/// The machine-checked column: the Coq theorems' short names, or `-` when none.
fn machine_checked_word(c: &Claim) -> String {
    let theorems = crate::claims::machine_checked::for_claim(c.id);
    if theorems.is_empty() {
        "-".into()
    } else {
        theorems
            .iter()
            .map(|t| crate::claims::machine_checked::short_name(t))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The claim list: id, title, status, sources, and the Coq theorems of machine-checked claims.
pub fn list(claims: &[Claim], format: Format) -> String {
    match format {
        Format::Json => {
            let v: Vec<Value> = claims
                .iter()
                .map(|c| {
                    json!({"id": c.id, "title": c.title, "status": c.status.as_str(),
                           "sources": c.sources, "statement": c.statement, "proof": c.proof_path(),
                           "settled": c.settled,
                           "control": c.control.description,
                           "witnesses": crate::claims::witnesses::for_claim(c.id)
                               .iter().map(|w| w.name).collect::<Vec<_>>(),
                           "machine_checked": crate::claims::machine_checked::for_claim(c.id)})
                })
                .collect();
            format!("{}\n", json!({ "claims": v }))
        }
        Format::Markdown => {
            let mut s = String::from(
                "| id | title | status | sources | machine-checked (Coq) |\n\
                 | --- | --- | --- | --- | --- |\n",
            );
            for c in claims {
                s.push_str(&format!(
                    "| `{}` | {} | {} | {} | {} |\n",
                    c.id,
                    c.title,
                    c.status.as_str(),
                    c.sources.join("; "),
                    machine_checked_word(c)
                ));
            }
            s
        }
        Format::Text => {
            let w = claims.iter().map(|c| c.id.len()).max().unwrap_or(0);
            claims
                .iter()
                .map(|c| {
                    let coq = if crate::claims::machine_checked::for_claim(c.id).is_empty() {
                        "-"
                    } else {
                        "coq"
                    };
                    format!(
                        "{:w$}  {:10}  {coq:3}  {}\n",
                        c.id,
                        c.status.as_str(),
                        c.title
                    )
                })
                .collect()
        }
    }
}

/// Number of columns of the check report.
const NCOLS: usize = 11;

/// Column names of the check report.
const CHECK_COLUMNS: [&str; NCOLS] = [
    "id",
    "status",
    "verdict",
    "cases",
    "worst error",
    "tolerance",
    "tightness",
    "control",
    "witnesses",
    "time (s)",
    "counterexample / note",
];

/// The control column: `rejected`, `SURVIVED`, or `-` when none was run.
fn control_word(v: &Verdict) -> &'static str {
    match &v.control {
        Some(o) if o.rejected => "rejected",
        Some(_) => "SURVIVED",
        None => "-",
    }
}

/// The witness column: `passed/total`, or `-` when none was run.
fn witness_word(v: &Verdict) -> String {
    if v.witnesses.is_empty() {
        "-".into()
    } else {
        let ok = v
            .witnesses
            .iter()
            .filter(|w| w.passed && w.control_rejected)
            .count();
        format!("{ok}/{}", v.witnesses.len())
    }
}

/// A finite number as JSON, anything else as `null`.
fn finite_json(x: f64) -> Value {
    if x.is_finite() {
        json!(x)
    } else {
        Value::Null
    }
}

/// The cells of one check-report row, as text.
fn check_cells(c: &Claim, v: &Verdict) -> [String; NCOLS] {
    [
        c.id.to_string(),
        c.status.as_str().to_string(),
        verdict_word(c, v).to_string(),
        v.cases.to_string(),
        sci(v.worst_error),
        sci(v.tolerance),
        v.tightness
            .map_or_else(|| "-".into(), |t| format!("{t:.6}")),
        control_word(v).to_string(),
        witness_word(v),
        format!("{:.2}", v.seconds),
        v.counterexample
            .clone()
            .or_else(|| v.note.clone())
            .unwrap_or_default(),
    ]
}

/// The check report: one row per claim.
pub fn check(results: &[(Claim, Verdict)], format: Format) -> String {
    match format {
        Format::Json => {
            let v: Vec<Value> = results
                .iter()
                .map(|(c, v)| {
                    let mut row = json!({"id": c.id, "status": c.status.as_str(), "passed": v.passed,
                           "cases": v.cases,
                           "worst_error": finite_json(v.worst_error),
                           "tolerance": finite_json(v.tolerance),
                           "counterexample": v.counterexample, "note": v.note,
                           "control": v.control.as_ref().map(|o| json!({
                               "description": o.description, "rejected": o.rejected,
                               "evidence": o.evidence})),
                           "seconds": v.seconds});
                    if let Some(t) = v.tightness {
                        row["tightness"] = finite_json(t);
                    }
                    if !v.witnesses.is_empty() {
                        row["witnesses"] = v.witnesses.iter().map(|w| json!({
                            "name": w.name, "statistic": finite_json(w.statistic),
                            "p_value": finite_json(w.p_value),
                            "false_alarm_rate": w.false_alarm_rate, "passed": w.passed,
                            "control_rejected": w.control_rejected})).collect();
                    }
                    row
                })
                .collect();
            format!("{}\n", json!({ "claims": v }))
        }
        Format::Markdown => {
            let mut s = format!(
                "| {} |\n|{}\n",
                CHECK_COLUMNS.join(" | "),
                " --- |".repeat(NCOLS)
            );
            for (c, v) in results {
                let mut cells = check_cells(c, v);
                cells[0] = format!("`{}`", cells[0]);
                let last = NCOLS - 1;
                if !cells[last].is_empty() {
                    cells[last] = format!("`{}`", cells[last]);
                }
                s.push_str(&format!("| {} |\n", cells.join(" | ")));
            }
            s
        }
        Format::Text => {
            let rows: Vec<[String; NCOLS]> =
                results.iter().map(|(c, v)| check_cells(c, v)).collect();
            let mut widths = CHECK_COLUMNS.map(str::len);
            for row in &rows {
                for (w, cell) in widths.iter_mut().zip(row).take(NCOLS - 1) {
                    *w = (*w).max(cell.len());
                }
            }
            let pad = |cells: &[String]| {
                let mut line: Vec<String> = cells
                    .iter()
                    .zip(widths)
                    .take(NCOLS - 1)
                    .map(|(c, w)| format!("{c:w$}"))
                    .collect();
                line.push(cells[NCOLS - 1].clone());
                format!("{}\n", line.join("  ").trim_end())
            };
            let mut s = pad(&CHECK_COLUMNS.map(String::from));
            for row in &rows {
                s.push_str(&pad(row));
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

//! Numeric tables: the crate's printable results, shared by the CLI (`rlhf-claims table NAME`)
//! and the `insta` snapshots in `tests/`.
//!
//! A [`Table`] holds exact `f64` values; [`Table::rounded`] rounds every number to
//! [`SNAPSHOT_DIGITS`] significant digits so that snapshots are stable across platforms and libm
//! versions (the solvers agree with high-precision references to ~1e-12 relative, far inside
//! 9 digits).

use crate::error::{Error, Result};
use serde::Serialize;

pub mod bon_kl;
pub mod bon_vs_tilt;
pub mod estimator_bias;
pub mod estimator_placement;
pub mod goodhart_frontier;
pub mod goodhart_gaussian;
pub mod goodhart_heavy_tail;
pub mod goodhart_outlier;
pub mod goodhart_submodules;
pub mod grpo_vs_tilt;
pub mod lagrange_map;
pub mod outlier_regularizers;
pub mod passk;
pub mod pref_regularizers;
pub mod soft_bon;
pub mod winrate_frontier;

/// Significant digits kept by [`Table::rounded`].
pub const SNAPSHOT_DIGITS: usize = 9;

/// One cell: a number or a label.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Cell {
    /// A number (may be non-finite; JSON writes non-finite numbers as strings).
    Num(f64),
    /// A label.
    Text(String),
    /// No value (`null` in JSON, empty in CSV).
    Empty,
}

impl From<f64> for Cell {
    fn from(x: f64) -> Self {
        Cell::Num(x)
    }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::Text(s.to_string())
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Self {
        Cell::Text(s)
    }
}

impl From<Option<f64>> for Cell {
    fn from(x: Option<f64>) -> Self {
        x.map_or(Cell::Empty, Cell::Num)
    }
}

/// A titled table with named columns.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Table {
    /// What the table shows, one line.
    #[serde(skip)]
    pub title: String,
    /// Column names.
    pub columns: Vec<String>,
    /// Rows, each as long as `columns`.
    pub rows: Vec<Vec<Cell>>,
}

/// Rounds `x` to `digits` significant digits (exactly representable results are unchanged).
pub fn round_sig(x: f64, digits: usize) -> f64 {
    if !x.is_finite() || x == 0.0 {
        return x;
    }
    let s = format!("{:.*e}", digits.saturating_sub(1), x);
    s.parse().unwrap_or(x)
}

fn format_num(x: f64) -> String {
    if x.is_nan() {
        "NaN".into()
    } else if x.is_infinite() {
        if x > 0.0 { "inf" } else { "-inf" }.into()
    } else {
        format!("{x}")
    }
}

impl Table {
    /// A table with a title and columns and no rows.
    pub fn new(title: impl Into<String>, columns: &[&str]) -> Self {
        Self {
            title: title.into(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row; errors if its length differs from the number of columns.
    pub fn push(&mut self, row: Vec<Cell>) -> Result<()> {
        crate::error::require_same_len("row", row.len(), "columns", self.columns.len())?;
        self.rows.push(row);
        Ok(())
    }

    /// A copy with every number rounded to [`SNAPSHOT_DIGITS`] significant digits.
    pub fn rounded(&self) -> Self {
        let mut t = self.clone();
        for row in &mut t.rows {
            for c in row {
                if let Cell::Num(x) = c {
                    *x = round_sig(*x, SNAPSHOT_DIGITS);
                }
            }
        }
        t
    }

    /// The reviewable snapshot text: a comment line with the title and the rounding rule, then
    /// the table [`Table::rounded`] as CSV, one row per line (what `tests/snapshots/*.snap` hold).
    pub fn snapshot(&self) -> String {
        format!(
            "# {}\n# numbers rounded to {SNAPSHOT_DIGITS} significant digits (Table::rounded)\n{}",
            self.title,
            self.rounded().to_csv()
        )
    }

    fn cell_text(c: &Cell) -> String {
        match c {
            Cell::Num(x) => format_num(*x),
            Cell::Text(s) => s.clone(),
            Cell::Empty => String::new(),
        }
    }

    /// Markdown: a title line and a pipe table.
    pub fn to_markdown(&self) -> String {
        let mut s = format!("**{}**\n\n| {} |\n|", self.title, self.columns.join(" | "));
        s.push_str(&" --- |".repeat(self.columns.len()));
        s.push('\n');
        for row in &self.rows {
            let cells: Vec<String> = row.iter().map(Self::cell_text).collect();
            s.push_str(&format!("| {} |\n", cells.join(" | ")));
        }
        s
    }

    /// CSV with a header row (labels containing commas or quotes are quoted).
    pub fn to_csv(&self) -> String {
        let quote = |s: String| {
            if s.contains([',', '"', '\n']) {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s
            }
        };
        let mut out = self
            .columns
            .iter()
            .cloned()
            .map(quote)
            .collect::<Vec<_>>()
            .join(",");
        out.push('\n');
        for row in &self.rows {
            out.push_str(
                &row.iter()
                    .map(|c| quote(Self::cell_text(c)))
                    .collect::<Vec<_>>()
                    .join(","),
            );
            out.push('\n');
        }
        out
    }

    /// JSON `{"columns": [..], "rows": [[..]]}`; non-finite numbers are written as the strings
    /// `"inf"`, `"-inf"`, `"NaN"` (JSON has no such numbers).
    pub fn to_json(&self) -> serde_json::Value {
        let rows: Vec<serde_json::Value> = self
            .rows
            .iter()
            .map(|row| {
                serde_json::Value::Array(
                    row.iter()
                        .map(|c| match c {
                            Cell::Num(x) if x.is_finite() => serde_json::json!(x),
                            Cell::Num(x) => serde_json::json!(format_num(*x)),
                            Cell::Text(s) => serde_json::json!(s),
                            Cell::Empty => serde_json::Value::Null,
                        })
                        .collect(),
                )
            })
            .collect();
        serde_json::json!({ "columns": self.columns, "rows": rows })
    }
}

/// A named table generator.
#[derive(Debug, Clone, Copy)]
pub struct TableSpec {
    /// The name used on the command line (`lagrange-map`).
    pub name: &'static str,
    /// What it shows.
    pub description: &'static str,
    /// Computes it.
    pub build: fn() -> Result<Table>,
}

/// Every table the crate can print.
pub fn all() -> Vec<TableSpec> {
    vec![
        lagrange_map::SPEC,
        goodhart_gaussian::SPEC,
        goodhart_outlier::SPEC,
        goodhart_submodules::SPEC,
        goodhart_heavy_tail::SPEC,
        goodhart_frontier::SPEC,
        bon_kl::SPEC,
        bon_vs_tilt::SPEC,
        pref_regularizers::SPEC,
        estimator_bias::SPEC,
        estimator_placement::SPEC,
        grpo_vs_tilt::SPEC,
        winrate_frontier::SPEC,
        soft_bon::SPEC,
        passk::SPEC,
        outlier_regularizers::SPEC,
    ]
}

/// Builds the table called `name`.
pub fn build(name: &str) -> Result<Table> {
    let spec = all().into_iter().find(|t| t.name == name).ok_or_else(|| {
        let names: Vec<&str> = all().iter().map(|t| t.name).collect();
        Error::InvalidInput(format!(
            "unknown table {name:?}; known tables: {}",
            names.join(", ")
        ))
    })?;
    (spec.build)()
}
